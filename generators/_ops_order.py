"""Corruptions of the envelope and of the order of events."""

from __future__ import annotations

from ..model.common import EnvelopeKey as E
from ._edit import Editor
from ._ops_common import fresh, pick, quiet_line, result
from .corruptions import corruption

TURN_SCOPED_ONLY_PAYLOAD = ("tool_call_ended", "stdin_target_resolved", "history_item_accepted")


def _events(ed: Editor) -> list[int]:
    return [i for i, e in enumerate(ed.events) if e is not None]


@corruption("ENVELOPE.SCHEMA_VERSION", "One event's schema_version is not the dialect's.", edits_store=None)
def _schema_version(bundle, dialect, rnd):
    ed = Editor(bundle, dialect)
    i = pick(rnd, _events(ed))
    if i is None:
        return None
    version = rnd.choice([v for v in (0, 1, 2, 3, 7) if v != dialect.schema_version])
    ed.touch(i)[E.SCHEMA_VERSION] = version
    return result(ed, "ENVELOPE.SCHEMA_VERSION", i, note=f"schema_version {version}")


@corruption("ENVELOPE.ROLLOUT_ID", "One event's rollout_id is not the manifest's.", edits_store=None)
def _rollout_id(bundle, dialect, rnd):
    ed = Editor(bundle, dialect)
    i = pick(rnd, _events(ed))
    if i is None:
        return None
    ed.touch(i)[E.ROLLOUT_ID] = fresh(rnd)
    return result(ed, "ENVELOPE.ROLLOUT_ID", i)


@corruption("SEQ.STARTS_AT_ONE", "seq starts at 0 or above 1 (and stays contiguous).", edits_store=None)
def _seq_start(bundle, dialect, rnd):
    ed = Editor(bundle, dialect)
    if not ed.events or not ed.editable():
        return None
    delta = rnd.choice([-1, 1, 2, 100])
    ed.shift(0, delta)
    return result(ed, "SEQ.STARTS_AT_ONE", 0, note=f"every seq {delta:+d}")


@corruption("SEQ.NO_GAP", "seq jumps ahead: an event is missing (removed, or the rest renumbered upwards).")
def _seq_gap(bundle, dialect, rnd):
    ed = Editor(bundle, dialect)
    if len(ed.events) < 3 or not ed.editable():
        return None
    if rnd.random() < 0.5:
        q = quiet_line(ed, rnd)
        if q is not None:
            ed.delete(q, renumber=False)
            return result(ed, "SEQ.NO_GAP", q, note="an event removed")
    i = rnd.randrange(1, len(ed.events))
    ed.shift(i, rnd.randint(1, 5))
    return result(ed, "SEQ.NO_GAP", i, note="seq jumps")


@corruption("SEQ.INCREASING", "An event repeats the seq of the one before it (the rest stays contiguous).", edits_store=None)
def _seq_repeat(bundle, dialect, rnd):
    ed = Editor(bundle, dialect)
    if len(ed.events) < 2 or not ed.editable():
        return None
    i = rnd.randrange(1, len(ed.events))
    ed.shift(i, -1)
    return result(ed, "SEQ.INCREASING", i)


@corruption("ROLLOUT.STARTED_FIRST", "rollout_started is missing from the start, or appears again later.", edits_store=None)
def _started_first(bundle, dialect, rnd):
    ed = Editor(bundle, dialect)
    if len(ed.events) < 3 or not ed.editable() or ed.tag(0) != "rollout_started":
        return None
    if rnd.random() < 0.5:
        ed.delete(0)
        return result(ed, "ROLLOUT.STARTED_FIRST", 0, note="rollout_started removed")
    i = rnd.randrange(1, len(ed.events))
    ed.insert(i, ed.clone(0))
    return result(ed, "ROLLOUT.STARTED_FIRST", i, note="second rollout_started")


@corruption("ROLLOUT.IDENTITY", "rollout_started names another trace_id or root_thread_id than the manifest.", edits_store=None)
def _identity(bundle, dialect, rnd):
    ed = Editor(bundle, dialect)
    if not ed.events or ed.tag(0) != "rollout_started":
        return None
    key = rnd.choice(["trace_id", "root_thread_id"])
    ed.touch_payload(0)[key] = fresh(rnd)
    return result(ed, "ROLLOUT.IDENTITY", 0, note=key)


def _append_after_terminal(ed: Editor, rnd) -> int | None:
    """Append a copy of a protocol event after the last line (the terminal event)."""
    q = quiet_line(ed, rnd)
    if q is None or not ed.editable():
        return None
    ed.insert(len(ed.events), ed.clone(q))
    return len(ed.events) - 1


def _event_after(invariant: str, terminal: str) -> None:
    """Register the operator for ``invariant``: an event follows ``terminal``, the log's last."""

    @corruption(invariant, f"An event follows {terminal}.")
    def operator(bundle, dialect, rnd):
        ed = Editor(bundle, dialect)
        if not ed.events or ed.tag(len(ed.events) - 1) != terminal:
            return None
        i = _append_after_terminal(ed, rnd)
        return None if i is None else result(ed, invariant, i)


_event_after("ORDER.AFTER_ROLLOUT_ENDED", "rollout_ended")
_event_after("ORDER.AFTER_RECORDING_COMPLETED", "recording_completed")


@corruption("ORDER.TERMINAL_PRESENT", "The log stops before its terminal event (rollout_ended / recording_completed).", edits_store=None)
def _no_terminal(bundle, dialect, rnd):
    ed = Editor(bundle, dialect)
    last = len(ed.events) - 1
    if last < 1 or ed.tag(last) != dialect.terminal_variants[-1]:
        return None
    ed.delete(last)
    return result(ed, "ORDER.TERMINAL_PRESENT", None)


@corruption(
    "ENVELOPE.CONTEXT_MATCHES_PAYLOAD",
    "A turn start, inference start or compaction request start has an envelope thread or turn "
    "other than the one its payload names.",
    edits_store=None,
)
def _context_mismatch(bundle, dialect, rnd):
    ed = Editor(bundle, dialect)
    i = pick(rnd, ed.lines_of("codex_turn_started", "inference_started", "compaction_request_started"))
    if i is None:
        return None
    key = rnd.choice(["thread_id", "codex_turn_id"])
    ed.touch(i)[key] = fresh(rnd)
    return result(ed, "ENVELOPE.CONTEXT_MATCHES_PAYLOAD", i, note=f"envelope {key}")


@corruption(
    "ENVELOPE.CONTEXT_CONVENTION",
    "A protocol event carries an envelope thread and turn (writers leave them null), or a "
    "turn-scoped event that reads only its payload lacks its envelope turn.",
    edits_store=None,
)
def _context_convention(bundle, dialect, rnd):
    ed = Editor(bundle, dialect)
    variants = [_context_on_protocol, _no_envelope_turn]
    rnd.shuffle(variants)
    for variant in variants:
        got = variant(ed, rnd)
        if got is not None:
            return got
    return None


def _context_on_protocol(ed: Editor, rnd):
    turn_starts = ed.lines_of("codex_turn_started")
    q = quiet_line(ed, rnd)
    if q is None or not turn_starts:
        return None
    start = ed.event(turn_starts[0])
    e = ed.touch(q)
    e[E.THREAD_ID], e[E.TURN_ID] = start[E.THREAD_ID], start[E.TURN_ID]
    return result(ed, "ENVELOPE.CONTEXT_CONVENTION", q, note="context on a protocol event")


def _no_envelope_turn(ed: Editor, rnd):
    i = pick(rnd, ed.lines_of(*TURN_SCOPED_ONLY_PAYLOAD))
    if i is None:
        return None
    ed.touch(i)[E.TURN_ID] = None
    return result(ed, "ENVELOPE.CONTEXT_CONVENTION", i, note=f"{ed.tag(i)} without envelope turn")


@corruption("TIME.MONOTONIC", "An event's wall_time_unix_ms is earlier than the event before it.", edits_store=None)
def _time_goes_back(bundle, dialect, rnd):
    ed = Editor(bundle, dialect)
    options = [
        i for i in range(1, len(ed.events))
        if ed.events[i] is not None and (prev := ed.events[i - 1]) is not None and prev[E.WALL_TIME] > 0
    ]
    i = pick(rnd, options)
    if i is None:
        return None
    before = ed.event(i - 1)[E.WALL_TIME]
    ed.touch(i)[E.WALL_TIME] = before - rnd.randint(1, min(before, 5000))
    return result(ed, "TIME.MONOTONIC", i)
