"""Corruptions of single lines: bytes, JSON syntax, and the event schema.

A line the validator cannot read as an event takes its event with it, so these
operators break a *quiet* line (a protocol event: nothing refers to it, no
reducer reads it), drop the payload files only it pointed to (they would be
orphans) and, when the broken line no longer yields a ``seq``, renumber the
lines after it so the log stays contiguous.
"""

from __future__ import annotations

import copy

import orjson

from ..model.common import EnvelopeKey as E
from ..validate import Options
from ._edit import Editor
from ._ops_common import kill_line, pick, quiet_line, result, unparseable
from .corruptions import corruption

TOO_LONG_BYTES = Options.max_line_bytes  # the validator's default --max-line-bytes


@corruption("LINE.UTF8", "A line holds a byte sequence that is not UTF-8.")
def _not_utf8(bundle, dialect, rnd):
    ed = Editor(bundle, dialect)
    i = quiet_line(ed, rnd)
    if i is None:
        return None
    line = ed.raw[i]
    at = line.index(b'"event_type":"') + len(b'"event_type":"')
    bad = rnd.choice([b"\xff", b"\xc3\x28", b"\xed\xa0\x80"])  # invalid byte, bad continuation, surrogate
    unparseable(ed, i, line[:at] + bad + line[at:])
    return result(ed, "LINE.UTF8", i, seq=None)


@corruption("LINE.JSON", "A line is not JSON (cut short, trailing garbage, a byte order mark, NaN).")
def _not_json(bundle, dialect, rnd):
    ed = Editor(bundle, dialect)
    i = quiet_line(ed, rnd)
    if i is None:
        return None
    line = ed.raw[i]
    how = rnd.choice(["cut", "garbage", "bom", "nan", "single_quotes"])
    data = {
        "cut": line[: rnd.randrange(1, len(line) - 1)],
        "garbage": line + b" }",
        "bom": "\ufeff".encode() + line,
        "nan": line.replace(b'"wall_time_unix_ms":', b'"wall_time_unix_ms":NaN,"x":', 1),
        "single_quotes": line.replace(b'"event_type"', b"'event_type'", 1),
    }[how]
    unparseable(ed, i, data)
    return result(ed, "LINE.JSON", i, seq=None, note=how)


@corruption(
    "LINE.DUPLICATE_KEY",
    "An object in a line repeats a key, the last value being the right one. Both reducers reject a "
    "repeated key the model defines there (reducer level); a repeated unknown key is only a writer "
    "fault, and an unknown key (EVENT.UNKNOWN_KEY) too.",
    edits_store=None,
)
def _duplicate_key(bundle, dialect, rnd):
    ed = Editor(bundle, dialect)
    i = quiet_line(ed, rnd)
    if i is None:
        return None
    seq = ed.event(i)[E.SEQ]
    line = ed.raw[i]
    how = rnd.choice(["envelope", "payload", "unknown"])
    if how == "envelope":
        key = b'"seq":%d,' % seq
        ed.replace_raw(i, line.replace(key, b'"seq":0,' + key, 1))
    elif how == "payload":
        ed.replace_raw(i, line.replace(b'"event_type":', b'"event_type":"x","event_type":', 1))
    else:
        ed.replace_raw(i, line.replace(b'"event_type":', b'"note":1,"note":2,"event_type":', 1))
        return result(ed, "LINE.DUPLICATE_KEY", i, seq=seq, also=["EVENT.UNKNOWN_KEY"], note="unknown key twice")
    return result(ed, "LINE.DUPLICATE_KEY", i, seq=seq, reducer_level=["LINE.DUPLICATE_KEY"], note=f"{how} key twice")


def _unreadable_with(ed, i: int, key: str, value) -> None:
    """Line ``i`` becomes its event with one more payload key, which the validator cannot read."""
    e = copy.deepcopy(ed.event(i))
    e[E.PAYLOAD][key] = value
    unparseable(ed, i, orjson.dumps(e))


@corruption(
    "LINE.NESTING",
    "A line's payload nests arrays deeper than serde_json's recursion limit (the reducers fail on it).",
)
def _too_deep(bundle, dialect, rnd):
    ed = Editor(bundle, dialect)
    i = quiet_line(ed, rnd)
    if i is None:
        return None
    depth = rnd.randint(130, 200)
    _unreadable_with(ed, i, "detail", orjson.Fragment(b"[" * depth + b"]" * depth))
    return result(ed, "LINE.NESTING", i, seq=None, reducer_level=["LINE.NESTING"], note=f"depth {depth}")


@corruption(
    "LINE.TOO_LONG",
    f"A line is longer than the validator's {TOO_LONG_BYTES >> 20} MiB line limit (a kit limit: the reference "
    "reducers accept it).",
)
def _too_long(bundle, dialect, rnd):
    ed = Editor(bundle, dialect)
    i = quiet_line(ed, rnd)
    if i is None:
        return None
    _unreadable_with(ed, i, "padding", "x" * (TOO_LONG_BYTES + rnd.randint(1, 1000)))
    return result(ed, "LINE.TOO_LONG", i, seq=None)


@corruption(
    "LINE.TRUNCATED",
    "The last line has no final newline: either only the newline is missing, or the line is cut "
    "short (then it is not JSON, which the reducer rejects, and the terminal event is gone: "
    "ORDER.TERMINAL_PRESENT too).",
    edits_store=None,
)
def _truncated(bundle, dialect, rnd):
    ed = Editor(bundle, dialect)
    last = len(ed.events) - 1
    if last < 1 or ed.events[last] is None:
        return None
    if rnd.random() < 0.5:
        ed.bundle.trailing_newline = False
        return result(ed, "LINE.TRUNCATED", last, note="final newline missing")
    line = ed.raw[last]
    ed.replace_raw(last, line[: rnd.randrange(1, len(line) - 1)])
    ed.bundle.trailing_newline = False
    return result(ed, "LINE.TRUNCATED", last, seq=None, also=["ORDER.TERMINAL_PRESENT"],
                  reducer_level=["LINE.TRUNCATED"], note="last line cut short")


@corruption("LINE.BLANK", "An empty or whitespace-only line sits between two events.", edits_store=None)
def _blank(bundle, dialect, rnd):
    ed = Editor(bundle, dialect)
    if len(ed.events) < 2:
        return None
    i = rnd.randrange(1, len(ed.events))
    ed.events.insert(i, None)
    ed.raw.insert(i, rnd.choice([b"", b"  ", b"\t"]))
    ed.dirty = {j + 1 if j >= i else j for j in ed.dirty}
    return result(ed, "LINE.BLANK", i, seq=None)


@corruption("LINE.CRLF", 'A line ends with "\\r\\n" instead of "\\n".', edits_store=None)
def _crlf(bundle, dialect, rnd):
    ed = Editor(bundle, dialect)
    i = pick(rnd, [j for j, e in enumerate(ed.events) if e is not None])
    if i is None:
        return None
    seq = ed.event(i)[E.SEQ]
    ed.replace_raw(i, ed.raw[i] + b"\r")
    return result(ed, "LINE.CRLF", i, seq=seq)


# -- the event schema ----------------------------------------------------------------------------
@corruption("EVENT.UNKNOWN_TYPE", "An event's payload type is not a variant of the dialect.")
def _unknown_type(bundle, dialect, rnd):
    ed = Editor(bundle, dialect)
    i = quiet_line(ed, rnd)
    if i is None:
        return None
    others = [t for t in ("history_item_accepted", "thread_resumed", "recording_completed") if t not in dialect.tags]
    tag = rnd.choice(others + ["turn_diff_observed", "ProtocolEventObserved", "run_started"])
    kill_line(ed, i)
    ed.touch_payload(i)["type"] = tag
    return result(ed, "EVENT.UNKNOWN_TYPE", i, note=tag)


@corruption("EVENT.SCHEMA", "An event lacks a required field or has a value of the wrong type.")
def _schema(bundle, dialect, rnd):
    ed = Editor(bundle, dialect)
    i = quiet_line(ed, rnd)
    if i is None:
        return None
    kill_line(ed, i)
    e = ed.touch(i)
    how = rnd.choice(["missing", "type", "envelope"])
    if how == "missing":
        del e[E.PAYLOAD]["event_type"]
    elif how == "type":
        e[E.PAYLOAD]["event_type"] = rnd.choice([42, None, ["turn_started"]])
    else:
        e[E.ROLLOUT_ID] = None
    return result(ed, "EVENT.SCHEMA", i, note=how)


@corruption("EVENT.INTEGER_FORM", "An integer field is written as a float literal (1.0), which serde rejects.")
def _float_int(bundle, dialect, rnd):
    ed = Editor(bundle, dialect)
    i = quiet_line(ed, rnd)
    if i is None:
        return None
    kill_line(ed, i)
    seq = ed.event(i)[E.SEQ]
    line = ed.raw[i]
    t = ed.event(i)[E.WALL_TIME]
    form = rnd.choice([b"%d.0", b"%de0"]) % t
    data = line.replace(b'"wall_time_unix_ms":%d' % t, b'"wall_time_unix_ms":' + form, 1)
    ed.replace_raw(i, data)
    return result(ed, "EVENT.INTEGER_FORM", i, seq=seq)


@corruption("EVENT.VARIANT_INDEX", "A tool call's kind is written as its serde variant index (`{\"type\": 0}`), which readers "
            "take as the variant of that index and no writer writes.")
def _variant_index(bundle, dialect, rnd):
    from ..model.facts import TOOL_KIND_TYPE
    from ..model.types import TaggedUnion

    ed = Editor(bundle, dialect)
    order = ed.dialect.type_as(TOOL_KIND_TYPE, TaggedUnion).index_order
    i = pick(rnd, [j for j in ed.lines_of("tool_call_started")
                   if isinstance(ed.payload(j).get("kind"), dict) and ed.payload(j)["kind"].get("type") in order])
    if i is None:
        return None
    kind = ed.touch_payload(i)["kind"]
    kind["type"] = order.index(kind["type"])
    return result(ed, "EVENT.VARIANT_INDEX", i)


@corruption("EVENT.SEQUENCE_FORM", "An event line is written as the array of the envelope's values (serde's sequence "
            "form), which readers take as the event and no writer writes.")
def _line_sequence_form(bundle, dialect, rnd):
    ed = Editor(bundle, dialect)
    i = quiet_line(ed, rnd)
    if i is None:
        return None
    event = ed.event(i)
    ed.replace_raw(i, orjson.dumps([event[f.name] for f in ed.dialect.envelope.fields]))
    return result(ed, "EVENT.SEQUENCE_FORM", i, seq=event[E.SEQ])


@corruption("KIT.SEQUENCE_FORM", "An event's payload is written in serde's sequence form (the array of its values, "
            "the tag first), which the reducers read and the kit declines to judge.")
def _sequence_form(bundle, dialect, rnd):
    ed = Editor(bundle, dialect)
    i = quiet_line(ed, rnd)
    if i is None:
        return None
    event = dict(ed.event(i))
    seq = event[E.SEQ]
    event[E.PAYLOAD] = list(event[E.PAYLOAD].values())
    ed.replace_raw(i, orjson.dumps(event))
    # the kit reads nothing of a declined line: the payload its ref named is left unreferenced
    return result(ed, "KIT.SEQUENCE_FORM", i, seq=seq, also=("REF.ORPHAN",))


@corruption("EVENT.UNKNOWN_KEY", "An event carries a key its dialect does not define (serde ignores it).", edits_store=None)
def _unknown_key(bundle, dialect, rnd):
    ed = Editor(bundle, dialect)
    i = pick(rnd, [j for j, e in enumerate(ed.events) if e is not None])
    if i is None:
        return None
    e = ed.touch(i)
    where = e if rnd.random() < 0.3 else e[E.PAYLOAD]
    where[rnd.choice(["extra", "debug_note", "x_codex_internal"])] = rnd.choice([1, "yes", None, {"k": [1]}])
    return result(ed, "EVENT.UNKNOWN_KEY", i)
