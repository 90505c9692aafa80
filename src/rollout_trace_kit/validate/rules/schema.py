"""Lines and their shape: JSON syntax, then the event schema of the dialect.

The fast path decodes a line straight into the dialect's msgspec types and
re-encodes it; when the bytes come back identical the line is schema-valid
with no duplicate or unknown keys, and nothing else runs. Any other line takes
the slow path: a precise parse, then ``jsonschema`` (the referee) on the
published schema, which also writes the messages.
"""

from __future__ import annotations

import copy
import re
from typing import Any, Callable

import msgspec

from ...bundle import TRACE
from ...model.common import EnvelopeKey as E
from ...compilers.json_schema import PAYLOAD_UNION, error_trail, event_schema, manifest_schema, union_branches
from ...compilers.msgspec_types import typed
from ...model.dispatch import Table, named_type_table
from ...model.types import ArrayOf, Dialect, Field, Int, Named, StrEnum, Struct, TaggedUnion, UnitKind, unwrap
from ..catalogue import R, S, W, invariant
from ..context import Context
from ..findings import Severity
from ..lines import (
    EVENT_PAYLOAD_PLACE, OVERFLOW_LITERAL, DuplicateKey, NestingTooDeep, RawLine, holds_overflow, prefix_problem,
    shown_integer, strict_loads,
)

UTF8 = invariant(
    "LINE.UTF8",
    f"Every line of `{TRACE}` is valid UTF-8.",
    v1=R, v2=R,
    source='reducer/mod.rs › replay_bundle: "read trace event line {n}"',
)
JSON = invariant(
    "LINE.JSON",
    "Every non-blank line is one JSON value serde_json accepts (no NaN/Infinity, no BOM, no lone surrogate, nothing after it).",
    v1=R, v2=R,
    source='reducer/mod.rs › replay_bundle: "parse trace event line {n}"',
)
DUPLICATE_KEY = invariant(
    "LINE.DUPLICATE_KEY",
    "No JSON object in a line repeats a key.",
    v1=W, v2=W,
    source='serde derive: "duplicate field `seq`" (measured on 0.164.0 and 0.169.0)',
    notes="Both reducers reject a repeated key that the model defines at that place (the finding then "
    "names the reducer profile) and ignore a repeated unknown key.",
)
NESTING = invariant(
    "LINE.NESTING",
    "A line nests no deeper than its readers follow: 126 levels inside `payload` (serde_json's recursion limit); "
    "writers nest no unknown envelope key deeper than 500 levels.",
    v1=W, v2=W,
    source='serde_json: "recursion limit exceeded" (measured on 0.164.0 and 0.169.0: 125 arrays inside payload pass, 126 fail)',
    notes="Too deep inside the payload, or in a key the envelope defines, fails the reference reducers (the finding "
    "then names the reducer profile). An unknown envelope key they skip at any depth (measured: 600 and 20,000 "
    "levels on 0.164.0, 0.169.0 and 0.171.0): past 500 the kit checks its syntax with a scanner, leaves it out "
    "and checks the rest of the line.",
)
LINE_SEQUENCE = invariant(
    "EVENT.SEQUENCE_FORM",
    "An event line is a JSON object: serde also reads the array of the envelope's values in their order "
    "(the envelope's fields in the model), which readers take as the event and no writer writes.",
    v1=W, v2=W,
    source="serde derive (visit_seq); measured on 0.164.0, 0.169.0 and 0.171.0: a line of the envelope's seven "
    "values is read, one more or fewer fails",
    notes="The kit reads such a line as the event it stands for; an object inside it written as an array is "
    "KIT.SEQUENCE_FORM.",
)
SEQUENCE_FORM = invariant(
    "KIT.SEQUENCE_FORM",
    "Every object of a line or of the manifest is written as a JSON object: the kit does not judge serde's "
    "sequence form, a JSON array of a struct's field values in their Rust order (a tagged union's tag "
    "first; `[kind, null]` for a payload kind), which the reducers read.",
    v1=R, v2=R,
    source="serde derive (visit_seq); measured on 0.164.0, 0.169.0 and 0.171.0: a whole event line, its payload, "
    "a ref, a tool kind, requester or summary and the manifest written so are read, a `[kind]` payload kind and "
    "an array of the wrong length are not; the field order and which trailing fields may be left off differ "
    "between releases (0.171.0 takes an eighth value in inference_started, 0.164.0 has no request_input_mode)",
    notes="The kit declined to judge: an error in every profile (never 'ok'), and compat names no reader. "
    "No writer writes the sequence form; rewrite such objects as JSON objects to have them checked.",
    kit_only=True,
    declines=True,
)
TOO_LONG = invariant(
    "LINE.TOO_LONG",
    "A line is no longer than the kit's line limit (64 MiB unless --max-line-bytes says otherwise).",
    v1=R, v2=R,
    source="kit limit: bounded memory",
    notes="The reference reducers read any line; the kit skips a longer one unchecked: it declined to judge "
    "the bundle, an error in every profile (never 'ok'), and compat names no reader.",
    kit_only=True,
    declines=True,
)
TRUNCATED = invariant(
    "LINE.TRUNCATED",
    "The log does not end in a partial line: the last line ends with a newline.",
    v1=W, v2=W,
    source="writer.rs › append writes the line and \"\\n\" then flushes; a partial line is an interrupted write",
    notes="A partial last line that is not valid JSON is rejected by the reducer too; the finding then names the reducer profile.",
)
BLANK = invariant(
    "LINE.BLANK",
    "No line is empty or whitespace only.",
    v1=W, v2=W,
    source="writer.rs › append writes one event per line; the reducer skips blank lines",
)
CRLF = invariant(
    "LINE.CRLF",
    "Lines end with \"\\n\", not \"\\r\\n\".",
    v1=W, v2=W,
    source="writer.rs › append; Rust's lines() strips \"\\r\\n\" so the reducer accepts it",
)
UNKNOWN_TYPE = invariant(
    "EVENT.UNKNOWN_TYPE",
    "`payload.type` names a variant of the dialect.",
    v1=R, v2=R,
    source='serde: "unknown variant `x`, expected one of ..." (parse trace event line)',
)
SCHEMA = invariant(
    "EVENT.SCHEMA",
    "The event matches its dialect's event schema: required fields present, types, enum values and integer ranges right.",
    v1=R, v2=R,
    source="raw_event.rs › RawTraceEvent / RawTraceEventPayload (serde derive)",
)
INTEGER_FORM = invariant(
    "EVENT.INTEGER_FORM",
    "Integer fields are written as integer literals: serde rejects `1.0` or `1e3` where JSON Schema cannot tell them apart.",
    v1=R, v2=R,
    source='serde_json: "invalid type: floating point, expected u64"',
)
UNKNOWN_KEY = invariant(
    "EVENT.UNKNOWN_KEY",
    "Events carry no keys the dialect does not define (serde ignores them; the strict schema does not).",
    v1=S, v2=S,
    source="kit hardening: strict schema flavour (additionalProperties: false)",
)

VARIANT_INDEX = invariant(
    "EVENT.VARIANT_INDEX",
    "A tagged union's `type` is the variant's name, not its index: serde reads an unsigned integer below the "
    "variant count as the variant of that place in the Rust declaration (model: TaggedUnion.index_order); "
    "no writer writes one.",
    v1=W, v2=W,
    source='serde derive (variant identifier visit_u64): "invalid value: integer `12`, expected variant index '
    '0 <= i < 12" (ToolCallKind, RawToolCallRequester and ToolCallSummary measured on 0.125.0 to 0.171.0, '
    'PayloadCapture on 0.171.0; the event payload\'s own tag is not read from an integer)',
)


_REFEREES: dict[tuple[str, str, bool], tuple[Dialect, object]] = {}


def _cached(dialect: Dialect, document: str, strict: bool, build):
    # Keyed by name, checked by identity: hashing a Dialect walks the whole model.
    key = (dialect.name, document, strict)
    cached = _REFEREES.get(key)
    if cached is None or cached[0] is not dialect:
        import jsonschema  # only lines off the fast path need the referee: import it then

        cached = _REFEREES[key] = (dialect, union_dispatching(jsonschema.Draft202012Validator)(build(dialect, strict)))
    return cached[1]


def union_dispatching(base):
    """``base`` (a jsonschema validator class) whose ``allOf`` of a tagged union tries only the branch of the
    object's tag: the same errors, in the same order, with the same paths (the other branches' ``if`` fails
    and they yield none; tests/test_fastpath_differential.py compares both), without evaluating some 30
    ``if`` subschemas an event (a line off the fast path cost 4 ms, most of it there)."""
    import jsonschema

    plain = base.VALIDATORS["allOf"]
    tables: dict[int, tuple[Any, tuple[str, dict[str, int]] | None]] = {}  # id(allOf list) -> (it, its branches)

    def all_of(validator, branches, instance, schema):
        seen = tables.get(id(branches))
        if seen is None or seen[0] is not branches:
            seen = tables[id(branches)] = (branches, union_branches(branches))
        table = seen[1]
        if table is not None and isinstance(instance, dict) and table[0] in instance:
            tag = instance[table[0]]
            index = table[1].get(tag) if isinstance(tag, str) else None
            if index is not None:
                yield from validator.descend(instance, branches[index], schema_path=index)
            return
        yield from plain(validator, branches, instance, schema)

    return jsonschema.validators.extend(base, {"allOf": all_of})


def manifest_referee(dialect: Dialect):
    return _cached(dialect, "manifest", False, manifest_schema)


def manifest_fast_ok(dialect: Dialect, manifest: dict) -> bool:
    """Whether the compiled manifest type takes ``manifest`` (parsed, duplicate keys refused).
    It only ever proves validity (tests/test_fastpath_differential.py): anything else goes to
    the referee, whose import alone costs a short run more than the whole check."""
    try:
        msgspec.convert(manifest, typed(dialect).manifest, strict=True)
    except msgspec.ValidationError:
        return False
    return True


def event_referee(dialect: Dialect, strict: bool = False):
    return _cached(dialect, "event", strict, event_schema)


def _pointer(path) -> str:
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in path)


def _where(schema: dict, error) -> str:
    """" (in inference_started › ToolCallKind.mcp)": the variants the error sits in."""
    trail = error_trail(schema, error)
    if PAYLOAD_UNION in trail:
        trail = trail[trail.index(PAYLOAD_UNION) + 1 :]
        variants = [t for t in trail[:1] + [t for t in trail[1:] if "." in t]]
        return f" (in {' › '.join(variants)})" if variants else ""
    return ""


def version_const(error) -> bool:
    """A ``schema_version`` const error: left to the version rules, which know each dialect's level."""
    return error.validator == "const" and list(error.absolute_path) == ["schema_version"]


def describe_errors(errors, what: str, schema: dict) -> list[tuple[str, str]]:
    """jsonschema errors -> (JSON pointer, message naming the variant it failed in)."""
    out = []
    for e in sorted(errors, key=lambda e: (list(map(str, e.absolute_path)), e.message)):
        pointer = _pointer(e.absolute_path)
        message = e.message
        if type(e.instance) is int and (shown := shown_integer(e.instance)) != str(e.instance):
            message = message.replace(str(e.instance), shown)  # the digit-limit stand-in, not its value
        out.append((pointer, f"{what} {pointer or '/'}{_where(schema, e)}: {message}"))
    return out


def _unknown_type(dialect: Dialect, obj) -> str | None:
    payload = obj.get(E.PAYLOAD) if isinstance(obj, dict) else None
    if isinstance(payload, dict) and "type" in payload and payload["type"] not in dialect.tags:
        return payload["type"] if isinstance(payload["type"], str) else repr(payload["type"])
    return None


def _other_dialects_with(dialect: Dialect, tag: str) -> str:
    from ...model import DIALECTS

    names = [d.name for d in DIALECTS.values() if d is not dialect and tag in d.tags]
    return f"; it is a variant of dialect {', '.join(names)}" if names else ""


def _named_fields(dialect: Dialect, name: str, value: dict):
    """(keys the model defines for ``value``, its typed fields) when ``value`` is of type ``name``."""
    nt = dialect.payload if name == "RawTraceEventPayload" else dialect.type(name)
    return _NAMED_FIELDS[type(nt)](nt, value)


def _union_fields(nt: TaggedUnion, value: dict) -> tuple[set[str], tuple[Field, ...]]:
    key = nt.tag_key
    fields = nt.variant(value[key]).fields if value.get(key) in nt.tags else ()
    return {key, *(f.name for f in fields)}, fields


# (keys, typed fields) of an object of each named type; a string enum is no object.
_NAMED_FIELDS: Table[Callable[[Any, dict], tuple[set[str], tuple[Field, ...]]]] = named_type_table(
    "modelled keys of a named type", {
        Struct: lambda nt, value: ({f.name for f in nt.fields}, nt.fields),
        TaggedUnion: _union_fields,
        UnitKind: lambda nt, value: ({"type", "value"}, ()),
        StrEnum: lambda nt, value: (set(), ()),
    })


def _typed_places(dialect: Dialect, obj):
    """Yield (value, type expression, JSON pointer) for every place of an event the model types."""

    def walk(value, t, path):
        t = unwrap(t)
        yield value, t, path
        if isinstance(t, ArrayOf) and isinstance(value, list):
            for n, v in enumerate(value):
                yield from walk(v, t.item, f"{path}/{n}")
        elif isinstance(t, Named) and isinstance(value, dict):
            for f in _named_fields(dialect, t.name, value)[1]:
                if f.name in value:
                    yield from walk(value[f.name], f.type, f"{path}/{f.name}")

    if isinstance(obj, dict):
        for f in dialect.envelope.fields:
            if f.name in obj:
                yield from walk(obj[f.name], f.type, f"/{f.name}")


def _known_keys(dialect: Dialect, obj) -> dict[int, set[str]]:
    """id(object) -> the keys the model defines for it, for every modelled object in ``obj``."""
    out: dict[int, set[str]] = {}
    if isinstance(obj, dict):
        out[id(obj)] = {f.name for f in dialect.envelope.fields}
    for value, t, _ in _typed_places(dialect, obj):
        if isinstance(t, Named) and isinstance(value, dict):
            out[id(value)] = _named_fields(dialect, t.name, value)[0]
    return out


def _index_tags(dialect: Dialect, obj) -> list[tuple[str, int, str]]:
    """Put the variant's name in place of an integer tag serde reads as its index (TaggedUnion.index_order),
    outermost first, so the rest of the line is checked as the reducers read it; (pointer, index, name) of each."""
    out: list[tuple[str, int, str]] = []

    def walk(value, t, path):
        t = unwrap(t)
        if isinstance(t, ArrayOf) and isinstance(value, list):
            for n, v in enumerate(value):
                walk(v, t.item, f"{path}/{n}")
        elif isinstance(t, Named) and isinstance(value, dict):
            nt = dialect.payload if t.name == "RawTraceEventPayload" else dialect.type(t.name)
            if isinstance(nt, TaggedUnion) and nt.index_order:
                tag = value.get(nt.tag_key)
                if type(tag) is int and 0 <= tag < len(nt.index_order):
                    value[nt.tag_key] = nt.index_order[tag]
                    out.append((f"{path}/{nt.tag_key}", tag, nt.index_order[tag]))
            for f in _named_fields(dialect, t.name, value)[1]:
                if f.name in value:
                    walk(value[f.name], f.type, f"{path}/{f.name}")

    if isinstance(obj, dict):
        for f in dialect.envelope.fields:
            if f.name in obj:
                walk(obj[f.name], f.type, f"/{f.name}")
    return out


def _tagged_sequence(nt: TaggedUnion, value: list) -> bool:
    tag = value[0]  # serde reads the tag first; an integer as a variant index only where measured
    return tag in nt.tags or (bool(nt.index_order) and type(tag) is int and 0 <= tag < len(nt.index_order))


# Whether a non-empty array where a named type is may be its sequence form, which serde reads (measured: a
# payload kind takes [kind, null] only); a string enum is no object.
_SEQUENCE_OF: Table[Callable[[Any, list], bool]] = named_type_table(
    "read from a sequence", {Struct: lambda nt, value: True, TaggedUnion: _tagged_sequence,
                             UnitKind: lambda nt, value: len(value) == 2 and value[0] in nt.values,
                             StrEnum: lambda nt, value: False})


def as_envelope(dialect: Dialect, obj):
    """A line in serde's sequence form, an array of the envelope's values in their order (EVENT.SEQUENCE_FORM),
    as the event object it stands for; None for anything else."""
    from .bodies import as_struct

    event = as_struct(obj, tuple(f.name for f in dialect.envelope.fields))
    return event if isinstance(obj, list) and isinstance(event, dict) else None


def sequence_forms(dialect: Dialect, obj) -> list[str]:
    """Pointers of the non-empty JSON arrays inside a line where the model has an object (KIT.SEQUENCE_FORM),
    outermost first (a whole line in that form is read as its envelope: as_envelope)."""
    out: list[str] = []
    for value, t, path in _typed_places(dialect, obj):
        if isinstance(t, Named) and isinstance(value, list) and value:
            nt = dialect.payload if t.name == "RawTraceEventPayload" else dialect.type(t.name)
            if _SEQUENCE_OF[type(nt)](nt, value):
                out.append(path)
    return out


def _float_ints(dialect: Dialect, obj) -> list[str]:
    """Pointers of integer fields written as floats (JSON-Schema-valid, serde-invalid)."""
    return [path for value, t, path in _typed_places(dialect, obj) if isinstance(t, Int) and isinstance(value, float)]


def spaced(canonical: bytes) -> bytes:
    """Canonical JSON as Python's ``json.dumps`` spells it by default: ``", "`` and ``": "``.

    A line equal to this holds the same document as the canonical bytes (only whitespace
    outside strings differs), so it stays on the fast path: common producers write it.
    """
    return msgspec.json.format(canonical, indent=0)


_NOT_PRINTABLE_ASCII = re.compile("[^\x00-\x7e]")  # U+007F and up: spelled as a negated class, compiled in 0.1 ms, not 9


def _ascii_escape(char: re.Match) -> str:
    """One character as ``json.dumps`` writes it by default (``ensure_ascii``): ``\\u00e9``, a
    character past the BMP as its UTF-16 surrogate pair."""
    n = ord(char.group())
    if n < 0x10000:
        return "\\u%04x" % n
    n -= 0x10000
    return "\\u%04x\\u%04x" % (0xD800 | (n >> 10), 0xDC00 | (n & 0x3FF))


def ascii_escaped(canonical: bytes) -> bytes | None:
    """Canonical JSON with every character past ``~`` escaped as Python's ``json.dumps`` does by
    default. Such characters sit only inside strings, where the escape means the same character:
    the same document. None when ``canonical`` is not UTF-8 text."""
    try:
        text = canonical.decode("utf-8")
    except UnicodeDecodeError:
        return None
    return _NOT_PRINTABLE_ASCII.sub(_ascii_escape, text).encode("ascii")


def respelled(canonical: bytes, data: bytes) -> bool:
    """Whether ``data`` is ``canonical`` as Python's ``json.dumps`` spells it by default: its
    separators (``", "``, ``": "``), its ASCII escapes (``\\u00e9``), or both. Then it holds the
    same document (only whitespace outside strings and escapes inside them differ), so it stays
    on the fast path: common producers write it."""
    if len(data) <= len(canonical):
        return False
    forms = [canonical]
    if b'": ' in data:
        forms.append(spaced(canonical))
        if forms[1] == data:
            return True
    if b"\\u" in data and data.isascii():
        return any(ascii_escaped(form) == data for form in forms)
    return False


def first_difference(a: bytes, b: bytes) -> int:
    """The offset of the first byte where ``a`` and ``b`` differ (the shorter one's length when one
    starts the other): a bisection of slice comparisons, not a loop over bytes (a line may be 64 MiB)."""
    lo, hi = 0, min(len(a), len(b))
    if a[:hi] == b[:hi]:
        return hi
    while hi - lo > 1:  # a[:lo] == b[:lo] and a[:hi] != b[:hi]
        mid = (lo + hi) // 2
        if a[:mid] == b[:mid]:
            lo = mid
        else:
            hi = mid
    return lo


I64_MAX = 2**63 - 1  # msgspec's integer bounds stop here; u64 fields go on to 2**64 - 1


def _typed_event(dialect: Dialect, td, obj: dict):
    """The typed event of a schema-valid ``obj``. A u64 field above i64 (valid: serde reads it)
    is past the typed path's bounds: it is converted as 0 and its value put back, so the
    event still gets every lifecycle and ref check (it was dropped before)."""
    big = [path for value, t, path in _typed_places(dialect, obj)
           if isinstance(t, Int) and type(value) is int and value > I64_MAX]
    if not big:
        return msgspec.convert(obj, td.event)
    placeholder = copy.deepcopy(obj)
    for path in big:
        _set_at(placeholder, path, 0, lambda o, k, v: o.__setitem__(k, v))
    event = msgspec.convert(placeholder, td.event)
    for path in big:
        value: Any = obj
        for step in path.split("/")[1:]:
            value = value[int(step) if isinstance(value, list) else step]
        _set_at(event, path, value, setattr)
    return event


def _set_at(root, path: str, value, set_key) -> None:
    """Set the value at JSON pointer ``path`` (model keys, list indexes) in dicts or typed structs."""
    *steps, last = path.split("/")[1:]
    node = root
    for step in steps:
        node = node[int(step)] if isinstance(node, list) else (node[step] if isinstance(node, dict) else getattr(node, step))
    if isinstance(node, list):
        node[int(last)] = value
    else:
        set_key(node, last, value)


def decode_event(ctx: Context, raw: RawLine, td=None):
    """Check one non-blank line; return the typed event, the parsed dict (or None) and validity.

    Returns ``(event, obj)``: ``event`` is the msgspec struct when the line is
    schema-valid, else None; ``obj`` is the parsed JSON when it parsed, for
    best-effort envelope checks on invalid events.
    """
    if td is None:
        assert ctx.dialect is not None  # lines are decoded once the dialect is known
        td = typed(ctx.dialect)
    data = raw.data
    try:
        event = td.decoder.decode(data)
        encoded = td.encoder.encode(event)
        if encoded == data or respelled(encoded, data):
            return td.settle(event), None
    except (msgspec.DecodeError, msgspec.ValidationError, UnicodeDecodeError, RecursionError):
        event = None
    return _slow(ctx, raw, td, event)


def _slow(ctx: Context, raw: RawLine, td, fast_event):
    dialect = ctx.dialect
    assert dialect is not None  # lines are decoded once the dialect is known
    try:
        text = raw.data.decode("utf-8")
    except UnicodeDecodeError as e:
        ctx.report(UTF8, f"line {raw.number} is not valid UTF-8 (byte {e.start})", pointer="")
        return None, None
    skipped: list[str] = []  # what readers skip and writers never write (writer-profile findings)
    try:
        obj = strict_loads(text, frozenset(f.name for f in dialect.envelope.fields), skipped, _BUFFERED)
    except DuplicateKey as e:
        _report_skipped(ctx, raw, skipped)
        _note_seq(ctx, e.value)
        _note_overflow(ctx, raw, text, e.value)  # a repeated unknown key leaves the line read: its numbers count
        known = _known_keys(dialect, e.value)
        for owner, key in e.repeats:
            serde_rejects = key in known.get(id(owner), ())
            ctx.report(
                DUPLICATE_KEY,
                f"line {raw.number}: key {key!r} is repeated" + ("" if serde_rejects else " (an unknown key: readers ignore it)"),
                level=R if serde_rejects else None,
            )
        # Go on with the last value, so one repeated key does not echo as
        # unknown-entity findings later.
        obj = e.value
        return _validate(ctx, raw, td, fast_event, obj)
    except NestingTooDeep as e:
        ctx.report(NESTING, f"line {raw.number}: {e}", level=R if e.reducer else None)
        return None, None
    except ValueError as e:
        hint = " (the line starts with a UTF-8 byte order mark)" if text.startswith("\ufeff") else ""
        _not_json(
            ctx, raw,
            partial=f"line {raw.number} is a partial last line (no newline, not valid JSON: {e}); "
            "the write was interrupted",
            whole=f"line {raw.number} is not valid JSON{hint}: {e}",
        )
        return None, None
    _report_skipped(ctx, raw, skipped)
    event = as_envelope(dialect, obj)
    if event is not None:
        _note_seq(ctx, event)
        ctx.report(LINE_SEQUENCE, f"line {raw.number} is the array of the envelope's values (serde's sequence form), "
                   "not an object: readers take it as the event", pointer="")
        obj = event
    _note_overflow(ctx, raw, text, obj)
    return _validate(ctx, raw, td, fast_event, obj)


_BUFFERED = frozenset({E.PAYLOAD})  # serde buffers the payload: a number beyond f64 there is RELEASE.NUMBER_RANGE's


def _note_overflow(ctx: Context, raw: RawLine, text: str, obj) -> None:
    if ctx.summary is not None and OVERFLOW_LITERAL.search(text) and isinstance(obj, dict) \
            and holds_overflow(obj.get(E.PAYLOAD)):
        ctx.summary.note_overflow(EVENT_PAYLOAD_PLACE, raw.number)  # serde buffers the payload (RELEASE.NUMBER_RANGE)


def _report_skipped(ctx: Context, raw: RawLine, skipped: list[str]) -> None:
    for what in skipped:
        inv = NESTING if "nests" in what else JSON
        ctx.report(inv, f"line {raw.number}: {what}", level=W)


def too_long(ctx: Context, raw: RawLine) -> None:
    """A line over the limit is not parsed; when its first bytes already show it is not
    JSON (a NUL tail left by a crash, garbage) that is an error every reader hits."""
    limit = ctx.options.max_line_bytes
    problem = prefix_problem(raw.data)
    if problem is None:
        ctx.report(TOO_LONG, f"line {raw.number} is longer than {limit} bytes; skipped: the kit declined to judge it")
        return
    _not_json(
        ctx, raw,
        partial=f"line {raw.number} is a partial last line of more than {limit} bytes and not JSON ({problem}); "
        "the write was interrupted or the file was extended with NUL bytes",
        whole=f"line {raw.number} (more than {limit} bytes) is not valid JSON: {problem}",
    )


def _not_json(ctx: Context, raw: RawLine, *, partial: str, whole: str) -> None:
    """A line that is not JSON: an unfinished last line is a cut write (a warning with
    --partial-ok), any other an error every reader hits."""
    if raw.terminated:
        ctx.report(JSON, whole)
    else:
        ctx.report(TRUNCATED, partial, level=R, severity=Severity.WARNING if ctx.options.partial_ok else None)


def _note_seq(ctx: Context, obj) -> None:
    """Findings about a line that parsed carry its seq, when it has one."""
    seq = obj.get(E.SEQ) if isinstance(obj, dict) else None
    if type(seq) is int:
        ctx.seq = seq


def _validate(ctx: Context, raw: RawLine, td, fast_event, obj):
    dialect = ctx.dialect
    assert dialect is not None  # lines are decoded once the dialect is known
    _note_seq(ctx, obj)
    arrays = sequence_forms(dialect, obj)
    if arrays:
        for pointer in arrays:
            ctx.report(SEQUENCE_FORM, f"line {raw.number}: {pointer} is a JSON array where the model has an object "
                       "(serde's sequence form): the kit declined to judge it", pointer=pointer)
        return None, obj
    for pointer, index, name in _index_tags(dialect, obj):
        ctx.report(VARIANT_INDEX, f"event {pointer}: variant index {index} in place of its name; readers take it as "
                   f"{name!r}", pointer=pointer)
    unknown = _unknown_type(dialect, obj)
    if unknown is not None:
        ctx.report(
            UNKNOWN_TYPE,
            f"payload type {unknown!r} is not a {dialect.name} variant{_other_dialects_with(dialect, unknown)}",
            pointer="/payload/type",
        )
        return None, obj
    errors = [e for e in event_referee(dialect).iter_errors(obj) if not version_const(e)]
    if errors:
        for pointer, message in describe_errors(errors, "event", event_referee(dialect).schema):
            ctx.report(SCHEMA, message, pointer=pointer)
        return None, obj
    floats = _float_ints(dialect, obj)
    for pointer in floats:
        ctx.report(INTEGER_FORM, f"integer field {pointer} is written as a float", pointer=pointer)
    if floats:
        return None, obj
    if ctx.wants(UNKNOWN_KEY):
        for e in event_referee(dialect, True).iter_errors(obj):
            if e.validator == "additionalProperties":
                where = _pointer(e.absolute_path)
                ctx.report(UNKNOWN_KEY, f"event {where or '/'}{_where(event_referee(dialect, True).schema, e)}: {e.message}", pointer=where)
    if fast_event is None:
        version = obj.get(E.SCHEMA_VERSION)
        # The typed path holds the dialect's version as a const; another version is
        # ENVELOPE.SCHEMA_VERSION's to report, so decode with it and put it back.
        fast_event = _typed_event(dialect, td, dict(obj, schema_version=dialect.schema_version))
        fast_event.schema_version = version
    return td.settle(fast_event), obj
