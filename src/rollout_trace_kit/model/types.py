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

from dataclasses import dataclass, field
from typing import Any, Union

# Integer ranges of the Rust types the format uses.
INT_RANGES: dict[str, tuple[int, int]] = {
    "u32": (0, 2**32 - 1),
    "u64": (0, 2**64 - 1),
    "i32": (-(2**31), 2**31 - 1),
    "i64": (-(2**63), 2**63 - 1),
}


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


@dataclass(frozen=True)
class Struct:
    """A JSON object with fixed keys."""

    name: str
    doc: str
    fields: tuple[Field, ...]
    since: str | None = None
    inferred: bool = False

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
    example: dict[str, Any] | None = None  # a real payload seen in a Codex bundle (docs, tests)

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


@dataclass(frozen=True)
class Dialect:
    """One wire dialect: what a family of Codex releases writes and its reducer reads."""

    name: str  # "v1", "v2"
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
    notes: tuple[str, ...] = field(default=())

    def type(self, name: str) -> NamedType:
        for t in self.types:
            if t.name == name:
                return t
        raise KeyError(name)

    @property
    def tags(self) -> tuple[str, ...]:
        return self.payload.tags

    def ref_fields(self, tag: str) -> tuple[Field, ...]:
        """The payload fields of variant ``tag`` that hold a RawPayloadRef (or list of them)."""
        return tuple(f for f in self.payload.variant(tag).fields if refs_payload(f.type))


def unwrap(t: TypeExpr) -> TypeExpr:
    while isinstance(t, Nullable):
        t = t.inner
    return t


def refs_payload(t: TypeExpr) -> bool:
    t = unwrap(t)
    if isinstance(t, ArrayOf):
        t = unwrap(t.item)
    return isinstance(t, Named) and t.name == "RawPayloadRef"


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
