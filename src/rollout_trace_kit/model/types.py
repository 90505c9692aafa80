"""The vocabulary the spec model is written in.

The model is plain data: a dialect is a set of named types (structs, tagged
unions, string enums) built from the type expressions below, each carrying
its documentation, the first Codex release that writes it and whether the
shape was inferred rather than read from upstream source. JSON Schema, the
fast validator, the generators and the docs are all derived from it.

Serde semantics are encoded once, here:

* ``Field(required=True)`` is a non-``Option`` Rust field: the key must be present.
* ``Field(type=Nullable(T), required=False)`` is ``Option<T>``: upstream writes
  ``null``, and serde reads a missing key as ``None`` too.
* Unknown keys are ignored everywhere (no upstream type uses
  ``deny_unknown_fields``); the strict schema flavour rejects them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Iterator, Type, TypeVar, Union

# Integer ranges of the Rust types the format uses.
INT_RANGES: dict[str, tuple[int, int]] = {
    "u32": (0, 2**32 - 1),
    "u64": (0, 2**64 - 1),
    "i32": (-(2**31), 2**31 - 1),
    "i64": (-(2**63), 2**63 - 1),
}
# What serde_json reads as an integer (i64, then u64); a wider one is an i128/u128 or a float.
JSON_INTEGERS = (INT_RANGES["i64"][0], INT_RANGES["u64"][1])
# What serde_json reads as an i128/u128 (beyond it a float): -2**127 and 2**128 - 1 fail an accepted
# agent_message on 0.169.0 and 0.170.0 ("as i128"/"as u128"), -2**127 - 1 and 2**128 pass (measured).
WIDE_INTEGERS = (-(2**127), 2**128 - 1)


def json_scalars(value: Any) -> Iterator[Any]:
    """Every value in the parsed JSON ``value`` that is not an object or array (depth first, no recursion)."""
    stack = [value]
    while stack:
        v = stack.pop()
        if isinstance(v, dict):
            stack.extend(v.values())
        elif isinstance(v, list):
            stack.extend(v)
        else:
            yield v


def wide_integer(value: Any) -> int | None:
    """The first integer in the JSON ``value`` outside :data:`JSON_INTEGERS` but within
    :data:`WIDE_INTEGERS` (one serde_json reads as an i128/u128), or None."""
    lo, hi = JSON_INTEGERS
    wide_lo, wide_hi = WIDE_INTEGERS
    return next((v for v in json_scalars(value) if type(v) is int and not lo <= v <= hi and wide_lo <= v <= wide_hi),
                None)


@dataclass(frozen=True)
class Str:
    """A JSON string (Rust ``String`` or an id alias of it)."""


@dataclass(frozen=True)
class Int:
    """A JSON integer within the range of a Rust integer type."""

    rust: str  # one of INT_RANGES

    @property
    def bounds(self) -> tuple[int, int]:
        return INT_RANGES[self.rust]


@dataclass(frozen=True)
class Bool:
    """A JSON boolean."""


@dataclass(frozen=True)
class AnyJson:
    """Any JSON value, ``null`` included (Rust ``serde_json::Value``)."""


@dataclass(frozen=True)
class Nullable:
    """``Option<T>``: the value may be ``null``."""

    inner: "TypeExpr"


@dataclass(frozen=True)
class ArrayOf:
    """``Vec<T>``."""

    item: "TypeExpr"


@dataclass(frozen=True)
class Named:
    """A reference to a named type of the dialect (a ``$defs`` entry)."""

    name: str


TypeExpr = Union[Str, Int, Bool, AnyJson, Nullable, ArrayOf, Named]


@dataclass(frozen=True)
class Field:
    name: str
    type: TypeExpr
    doc: str
    required: bool = True
    since: str | None = None  # first Codex release that writes it; None = since the type itself
    inferred: bool = False  # learnt from bundles/binaries, not from published source
    payload_kinds: tuple[str, ...] = ()  # for RawPayloadRef fields: the kinds writers use here
    skip_if_none: bool = False  # serde `skip_serializing_if = "Option::is_none"`: omitted, not null
    # Release facts: the first release whose reducer rejects an event without this field
    # (the published schema stays loose: older releases of the dialect wrote it without).
    required_since: str | None = None
    # Release facts: for a ref field, the first release whose reducer rejects a ref of another kind
    # than ``payload_kinds`` here (0.171.0: "inference {id} has mislabeled request evidence").
    kind_checked_since: str | None = None
    # When the reference reducer opens the payload a ref field points to (see READS).
    read: str = "never"
    const: int | str | None = None  # the one value writers of the dialect write (schema_version)


# When a reducer opens the payload of a ref field (Field.read).
READ_NEVER = "never"  # not by an event handler (a dialect may still open every ref at the end)
READ_AT_EVENT = "event"  # the handler of the event opens it
# tool_call_ended's result: opened (and parsed as the terminal's response) for a tool whose
# terminal operation was created at dispatch, by a start of a kind the reducer opens at dispatch
# (ToolCallKind Variant.terminal_at_dispatch) carrying an invocation payload. Measured on 0.125.0
# and 0.164.0: a write_stdin's result ("open payload", "parse write_stdin terminal response"); an
# exec_command's result, with or without runtime events, and a write_stdin's without an
# invocation, are never opened.
READ_IF_DISPATCHED_TERMINAL = "dispatched_terminal"
READS = (READ_NEVER, READ_AT_EVENT, READ_IF_DISPATCHED_TERMINAL)

# Envelope context conventions of a variant (Variant.context).
CONTEXT_NULL = "null"  # thread_id and codex_turn_id are null
CONTEXT_TURN = "turn"  # both name the event's thread and turn
CONTEXT_FREE = "free"  # no convention (the `other` variant)
CONTEXTS = (CONTEXT_NULL, CONTEXT_TURN, CONTEXT_FREE)


@dataclass(frozen=True)
class Struct:
    """A JSON object with fixed keys."""

    name: str
    doc: str
    fields: tuple[Field, ...]
    since: str | None = None
    inferred: bool = False
    payload_ref: bool = False  # a reference to a stored payload (RawPayloadRef and its parts)

    def field(self, name: str) -> Field:
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(name)


@dataclass(frozen=True)
class Variant:
    """One arm of an internally tagged union: ``{"type": tag, ...fields}``."""

    tag: str
    doc: str
    fields: tuple[Field, ...] = ()
    since: str | None = None
    inferred: bool = False
    context: str = CONTEXT_TURN  # payload variants: the envelope context writers give it (CONTEXTS)
    # payload variants: the payload fields (thread, turn) the envelope context must equal
    context_fields: tuple[str, str] | None = None
    terminal_operation: bool = False  # ToolCallKind variants: the runtime creates a terminal operation
    # ToolCallKind variants: a start with an invocation payload creates the terminal operation at
    # dispatch (a later runtime start is a second one; the tool's result is read at its end)
    terminal_at_dispatch: bool = False
    # payload variants: the first release whose reducer rejects the event with a null envelope
    # thread_id even when the envelope's turn names the thread (older ones take the turn's thread)
    thread_required_since: str | None = None
    # payload variants: the first release whose reducer rejects the event unless its envelope
    # codex_turn_id names a started turn, even with the envelope's thread named
    turn_required_since: str | None = None
    # ToolCallKind variants: the reducer matches the call's sub-agent activity (spawn, wait...)
    # against this kind ("sub-agent activity Started does not match tool call kind ...")
    agent_activity: bool = False
    # ToolCallKind variants: the terminal reducer parses the call's runtime end as a process's end
    # (bodies.py's terminal_runtime_event contract: exit_code...)
    exec_runtime: bool = False
    # ToolCallKind variants: the terminal reducer parses the runtime start that creates the terminal
    # operation as a process's begin (command, cwd)
    terminal_start: bool = False
    # ToolCallKind variants: the terminal reducer parses the operation's runtime end as a terminal
    # response: a process's end or a dispatch payload (bodies.DISPATCH_RESPONSE)
    terminal_response: bool = False
    # payload variants: no reducer implements it; every one rejects the event ("raw trace event has
    # no reducer implementation", measured), so no valid bundle holds it (model.facts.never_valid)
    unimplemented: bool = False

    def field(self, name: str) -> Field:
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(name)


@dataclass(frozen=True)
class TaggedUnion:
    """``#[serde(tag = "type", rename_all = "snake_case")]`` enum."""

    name: str
    doc: str
    variants: tuple[Variant, ...]
    since: str | None = None
    inferred: bool = False
    tag_key: str = "type"  # serde's `tag = "..."`: the key holding the variant tag
    # The Rust declaration order, where measured: serde reads an unsigned integer i below its
    # length in place of the tag as the i-th variant (its variant index); the model's order need
    # not follow it. Empty: not measured, an integer tag stays a schema error.
    index_order: tuple[str, ...] = ()

    @property
    def tags(self) -> tuple[str, ...]:
        return tuple(v.tag for v in self.variants)

    def variant(self, tag: str) -> Variant:
        for v in self.variants:
            if v.tag == tag:
                return v
        raise KeyError(tag)


@dataclass(frozen=True)
class UnitKind:
    """``#[serde(tag = "type", content = "value")]`` enum of unit variants.

    Serialised as ``{"type": K}``; serde also reads ``{"type": K, "value": null}``.
    """

    name: str
    doc: str
    values: tuple[str, ...]
    since: str | None = None
    inferred: bool = False


@dataclass(frozen=True)
class StrEnum:
    """``#[serde(rename_all = "snake_case")]`` enum of unit variants: a plain string."""

    name: str
    doc: str
    values: tuple[str, ...]
    since: str | None = None
    inferred: bool = False


NamedType = Union[Struct, TaggedUnion, UnitKind, StrEnum]
_Named = TypeVar("_Named", Struct, TaggedUnion, UnitKind, StrEnum)

# Store kinds of a layout (Layout.store).
STORE_FILES = "files"  # one JSON file per payload
STORE_ZSTD_SHARDS = "zstd_shards"  # records in zstd-compressed shard files


@dataclass(frozen=True)
class RecordField:
    """One part of a shard record (Layout.record)."""

    name: str
    type: str  # "u16le", "u64le" (a little-endian length) or "bytes"
    doc: str
    length_of: str | None = None  # for a length: the bytes field it measures


@dataclass(frozen=True)
class Layout:
    """Where a bundle keeps its files and how a ref finds its payload."""

    name: str
    doc: str
    store: str  # STORE_FILES or STORE_ZSTD_SHARDS
    ref_key: str  # the ref key that locates the payload: "path" (a string) or "shard" (an int)
    payload_file: str  # bundle-relative name of a payload file ({n}) or shard ({shard:06})
    manifest_file: str = "manifest.json"
    event_log: str = "trace.jsonl"
    payloads_dir: str = "payloads"
    payload_id: str = "raw_payload:{n}"  # writers number payloads from 1
    first_shard: int = 1
    record: tuple[RecordField, ...] = ()  # a decompressed shard: these parts, repeated

    def payload_id_for(self, n: int) -> str:
        return self.payload_id.format(n=n)

    def id_ordinal(self, raw_payload_id: str) -> int | None:
        """``n`` of a canonical payload id ``raw_payload:{n}`` (n >= 1), else None."""
        return _ordinal(raw_payload_id, self.payload_id)

    def file_ordinal(self, path: str) -> int | None:
        """``n`` of a canonical payload file ``payloads/{n}.json`` (file stores only), else None."""
        return _ordinal(path, self.payload_file) if self.store == STORE_FILES else None

    def file_for(self, *, n: int | None = None, shard: int | None = None) -> str:
        """Bundle-relative file of payload ``n`` (file store) or of shard ``shard``."""
        return self.payload_file.format(n=n, shard=shard)

    def location(self, n: int, shard: int | None = None) -> str | int:
        """The value of ``ref_key`` a writer writes for payload ``n``."""
        if self.store == STORE_FILES:
            return self.file_for(n=n)
        return self.first_shard if shard is None else shard

    def ref(self, n: int, kind: str, shard: int | None = None) -> dict[str, Any]:
        """The RawPayloadRef a writer writes for payload ``n`` of ``kind``."""
        return {"raw_payload_id": self.payload_id_for(n), "kind": {"type": kind}, self.ref_key: self.location(n, shard)}

    @property
    def file_names(self) -> tuple[str, str, str]:
        return (self.manifest_file, self.event_log, self.payloads_dir)

    @property
    def payload_suffix(self) -> str:
        """The file name ending of a payload file or shard (``.json``, ``.zst``)."""
        return "." + self.payload_file.rpartition(".")[2]

    @property
    def shard_name_pattern(self) -> str:
        """A shard's file name inside the payloads folder, as a pattern (``{shard:06}.zst``)."""
        return self.payload_file.rpartition("/")[2]

    def shard_name(self, shard: int) -> str:
        """The file name of shard ``shard`` (zero-padded, wider when it must be)."""
        return self.shard_name_pattern.format(shard=shard)

    def shard_of(self, name: str) -> int | None:
        """``n`` when ``name`` is the file name of shard n (n >= first_shard), else None."""
        prefix, _, rest = self.shard_name_pattern.partition("{")
        suffix = rest.partition("}")[2]
        digits = name[len(prefix) : len(name) - len(suffix)] if name.startswith(prefix) and name.endswith(suffix) else ""
        if not digits.isascii() or not digits.isdigit() or len(digits) > 4000:
            return None
        n = int(digits)
        return n if n >= self.first_shard and self.shard_name(n) == name else None

    def id_regex(self) -> bytes:
        """A regular expression (bytes) matching a canonical payload id, n captured."""
        prefix, _, suffix = self.payload_id.partition("{n}")
        return re.escape(prefix).encode() + rb"([1-9][0-9]*)" + re.escape(suffix).encode() + rb"\Z"


def _ordinal(text: str, pattern: str) -> int | None:
    """``n`` when ``text`` is ``pattern`` (holding ``{n}``) with a canonical n >= 1."""
    prefix, _, suffix = pattern.partition("{n}")
    if len(text) <= len(prefix) + len(suffix) or not text.startswith(prefix) or not text.endswith(suffix):
        return None
    digits = text[len(prefix) : len(text) - len(suffix)]
    if not digits.isascii() or not digits.isdigit() or digits.startswith("0"):
        return None
    if len(digits) > 4000:  # int() refuses more than 4300 digits; no writer counts that far
        return None
    return int(digits)


@dataclass(frozen=True)
class WriterFacts:
    """What the reference release's writer does where the format leaves a choice."""

    failed_turn_status: str  # the codex_turn_ended status of a turn whose inference failed


@dataclass(frozen=True)
class Dialect:
    """One wire dialect: what a family of Codex releases writes and its reducer reads."""

    name: str  # "v1", "v2", "v3"
    schema_version: int
    title: str
    doc: str
    releases: tuple[str, str]  # first and last Codex release writing this dialect
    reference_release: str  # the release whose reducer defines the reducer profile
    envelope: Struct
    payload: TaggedUnion
    manifest: Struct
    types: tuple[NamedType, ...]  # every nested type, by name
    terminal_variants: tuple[str, ...]  # after these, nothing more may be written
    layout: Layout
    writer: WriterFacts
    reducer_reads_every_ref: bool = False  # the reducer opens every referenced payload by the end
    extends: "Dialect | None" = None  # the older dialect this one extends (rules, handler tables)
    notes: tuple[str, ...] = field(default=())
    # (payload kind, deepest body its reference reducer parses): serde_json's recursion limit
    # as each kind meets it, measured (tests/test_reducer_verdicts_codex.py measures again).
    # A kind not listed is not parsed into a value by the reducer (any depth is read).
    body_depth_limits: tuple[tuple[str, int], ...] = ()
    # (runtime event variant, the tool kind its body is parsed as, deepest body parsed): where the
    # reference reducer parses a runtime payload (tool_runtime_event) by its runtime's kind, only these
    # are read deep (measured); a runtime body of another kind is read at any depth. Empty: the kind's
    # entry in body_depth_limits applies to every runtime body.
    runtime_depth_limits: tuple[tuple[str, str, int], ...] = ()
    # (variant, ref field, deepest body parsed): refs whose payload kind does not say whether the
    # reference reducer parses the body (a protocol_event accepted into history is a model item it
    # parses; another protocol_event is read at any depth), measured.
    field_depth_limits: tuple[tuple[str, str, int], ...] = ()
    # (variant, ref field, deepest body parsed): bodies the reference reducer parses only when a later
    # event reads them (a multi-agent call's invocation, read by the sub-agent activity that needs its
    # arguments), measured; unread, they pass at any depth.
    deferred_depth_limits: tuple[tuple[str, str, int], ...] = ()

    def __repr__(self) -> str:  # the generated one would print the whole model
        return f"Dialect({self.name!r}, schema_version={self.schema_version})"

    @property
    def lineage(self) -> tuple[str, ...]:
        """This dialect's name, then the names of the dialects it extends, newest first."""
        names: list[str] = []
        d: Dialect | None = self
        while d is not None:
            names.append(d.name)
            d = d.extends
        return tuple(names)

    def type(self, name: str) -> NamedType:
        """The named type a :class:`Named` points to: one of ``types``, or the payload union."""
        if name == self.payload.name:
            return self.payload
        for t in self.types:
            if t.name == name:
                return t
        raise KeyError(name)

    def type_as(self, name: str, kind: Type[_Named]) -> _Named:  # Type: `type` here is the method above
        """The named type ``name``, which the caller knows to be a ``kind`` (a Struct, a TaggedUnion...)."""
        t = self.type(name)
        if not isinstance(t, kind):
            raise TypeError(f"{name} is a {type(t).__name__} in dialect {self.name}, not a {kind.__name__}")
        return t

    @property
    def tags(self) -> tuple[str, ...]:
        return self.payload.tags

    def body_depth_limit(self, kind: str) -> int | None:
        """The deepest body of payload ``kind`` the reference reducer parses (an object or array
        holding only scalars is 1), or None when it does not parse that kind."""
        for k, depth in self.body_depth_limits:
            if k == kind:
                return depth
        return None

    def ref_fields(self, tag: str) -> tuple[Field, ...]:
        """The payload fields of variant ``tag`` that hold a RawPayloadRef (or list of them)."""
        return tuple(f for f in self.payload.variant(tag).fields if refs_payload(f.type))


def unwrap(t: TypeExpr) -> TypeExpr:
    while isinstance(t, Nullable):
        t = t.inner
    return t


def takes_null(t: TypeExpr) -> bool:
    """Whether JSON null is a value of type ``t`` (serde: an Option, or any JSON value)."""
    return isinstance(t, (Nullable, AnyJson))


REF_TYPE_NAMES = ("RawPayloadRef", "RawPayloadPart", "RawPayloadFragment")  # the named types that are payload refs


def refs_payload(t: TypeExpr) -> bool:
    t = unwrap(t)
    if isinstance(t, ArrayOf):
        t = unwrap(t.item)
    return isinstance(t, Named) and t.name in REF_TYPE_NAMES


def named_refs(t: TypeExpr) -> list[str]:
    """Names of the named types a type expression points to."""
    t = unwrap(t)
    if isinstance(t, ArrayOf):
        return named_refs(t.item)
    if isinstance(t, Named):
        return [t.name]
    return []


def release_key(release: str) -> tuple[int, ...]:
    """Sort key of a release; "unreleased" sorts after every release."""
    if not release[:1].isdigit():
        return (10**9,)
    return tuple(int(p) for p in release.split("."))
