"""Compile a dialect into msgspec types: the validator's fast path.

Decoding a line straight into these typed structs checks its shape at C
speed. The published JSON Schema stays the contract: a differential test
shows this path agrees with ``jsonschema`` on it. The one deliberate
difference mirrors serde, not JSON Schema: an integer field written as
``1.0`` is rejected here (serde rejects it; JSON Schema cannot tell 1.0 from 1).

Re-encoding a decoded struct reproduces the writer's canonical line byte for
byte (same key order, ``null`` for absent options, no unknown keys), which
lets the validator prove cheaply that a line has no duplicate or unknown keys.

The fast path only ever proves validity: when it rejects a line, the slow
path (a precise parse, then ``jsonschema``) decides and explains.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Callable, Literal, Optional, Union

import msgspec

from ..model.dispatch import Table, named_type_table, type_expr_table
from ..model.types import (
    AnyJson,
    ArrayOf,
    Bool,
    Dialect,
    Int,
    Named,
    NamedType,
    Nullable,
    Str,
    StrEnum,
    Struct,
    TaggedUnion,
    TypeExpr,
    UnitKind,
)


@dataclass(frozen=True)
class TypedDialect:
    dialect: Dialect
    event: type  # msgspec Struct class of the envelope
    manifest: type
    variant_classes: dict[str, type]  # payload tag -> struct class
    decoder: msgspec.json.Decoder
    list_decoder: msgspec.json.Decoder  # a "[line,line,...]" batch in one call
    encoder: msgspec.json.Encoder
    # Structs that mix null-written and skip-if-none options: class -> its skip-if-none fields,
    # decoded as UNSET when absent (so the line re-encodes to its own bytes) and then settled to None.
    unset_fields: dict[type, tuple[str, ...]]

    def tag_of(self, payload: Any) -> str:
        return payload.__struct_config__.tag

    def settle(self, value: Any) -> Any:
        """``value`` (a decoded event, or a list of them) with every UNSET option made None, as
        every reader of the typed events expects. A no-op for a dialect with no mixed struct."""
        if self.unset_fields:
            _settle(value, self.unset_fields)
        return value


def _settle(value: Any, unset_fields: dict[type, tuple[str, ...]]) -> None:
    if isinstance(value, list):
        for item in value:
            _settle(item, unset_fields)
    elif isinstance(value, msgspec.Struct):
        for name in unset_fields.get(type(value), ()):
            if getattr(value, name) is msgspec.UNSET:
                setattr(value, name, None)
        for name in value.__struct_fields__:
            inner = getattr(value, name)
            if isinstance(inner, (list, msgspec.Struct)):
                _settle(inner, unset_fields)


class _Compiler:
    def __init__(self, dialect: Dialect):
        self.dialect = dialect
        self.named: dict[str, Any] = {}
        self.variant_classes: dict[str, type] = {}
        self.unset_fields: dict[type, tuple[str, ...]] = {}

    def expr(self, t: TypeExpr) -> Any:
        return _EXPR_TYPE[type(t)](self, t)

    def resolve(self, name: str) -> Any:
        if name not in self.named:
            t = self.dialect.type(name)
            self.named[name] = self.build(t)
        return self.named[name]

    def fields(self, fields, mixed: bool = False) -> list[tuple[Any, ...]]:
        out: list[tuple[Any, ...]] = []  # (name, type) or (name, type, default)
        for f in fields:
            # A const (schema_version) is its one value here: another takes the slow path.
            t = Literal[f.const] if f.const is not None else self.expr(f.type)
            if f.required:
                out.append((f.name, t))
            elif mixed and f.skip_if_none:
                # absent stays absent on re-encoding (UNSET is never written); null stays null
                out.append((f.name, Union[t, msgspec.UnsetType], msgspec.UNSET))
            else:
                out.append((f.name, t, None))
        return out

    def struct(self, name: str, fields, **kw) -> type:
        options = [f for f in fields if not f.required]
        skipped = tuple(f.name for f in options if f.skip_if_none)
        # Every option skip-if-none: omit_defaults writes each as the writer does. Some of each
        # (a mixed struct): the skip-if-none ones default to UNSET instead, so both styles
        # re-encode to the writer's bytes and the line stays on the fast path.
        omit = bool(options) and len(skipped) == len(options)
        mixed = bool(skipped) and not omit
        specs = self.fields(fields, mixed)
        # gc=False: decoded JSON cannot form a cycle, and a million tracked events would
        # make the collector rescan the validator's live state over and over.
        cls = msgspec.defstruct(name, specs, kw_only=True, omit_defaults=omit, gc=False, **kw)
        if mixed:
            self.unset_fields[cls] = skipped
        return cls

    def build(self, t: NamedType) -> Any:
        return _NAMED_TYPE[type(t)](self, t)

    def tagged_union(self, t: TaggedUnion) -> Any:
        classes = []
        for v in t.variants:
            cls = self.struct(f"{t.name}_{v.tag}", v.fields, tag_field=t.tag_key, tag=v.tag)
            classes.append(cls)
            if t is self.dialect.payload:
                self.variant_classes[v.tag] = cls
        return Union[tuple(classes)]


def _int(c: _Compiler, t: Int) -> Any:
    lo, hi = t.bounds
    # msgspec bounds must fit in i64: u64 values above that take the slow path,
    # where jsonschema decides (the fast path only ever proves validity).
    return Annotated[int, msgspec.Meta(ge=lo, le=min(hi, 2**63 - 1))]


def _unit_kind(c: _Compiler, t: UnitKind) -> Any:
    # {"type": K} with serde's optional, always-null "value" slot
    return msgspec.defstruct(
        t.name,
        [("type", Literal[t.values]), ("value", None, None)],
        kw_only=True,
        omit_defaults=True,
        gc=False,
    )


_EXPR_TYPE: Table[Callable[[_Compiler, Any], Any]] = type_expr_table("msgspec type of a type expression", {
    Str: lambda c, t: str,
    Int: _int,
    Bool: lambda c, t: bool,
    AnyJson: lambda c, t: Any,
    Nullable: lambda c, t: Optional[c.expr(t.inner)],
    ArrayOf: lambda c, t: list[c.expr(t.item)],  # type: ignore[misc]  # built at run time for msgspec: no static type
    Named: lambda c, t: c.resolve(t.name),
})

_NAMED_TYPE: Table[Callable[[_Compiler, Any], Any]] = named_type_table("msgspec type of a named type", {
    Struct: lambda c, t: c.struct(t.name, t.fields),
    StrEnum: lambda c, t: Literal[t.values],
    UnitKind: _unit_kind,
    TaggedUnion: _Compiler.tagged_union,
})


_CACHE: dict[str, TypedDialect] = {}


def typed(dialect: Dialect) -> TypedDialect:
    """The compiled types of ``dialect`` (cached by name: hashing a dialect walks the whole model)."""
    cached = _CACHE.get(dialect.name)
    if cached is not None and cached.dialect is dialect:
        return cached
    _CACHE[dialect.name] = compiled = _compile(dialect)
    return compiled


def _compile(dialect: Dialect) -> TypedDialect:
    c = _Compiler(dialect)
    event = c.struct("RawTraceEvent", dialect.envelope.fields)
    manifest = c.struct("TraceBundleManifest", dialect.manifest.fields)
    return TypedDialect(
        dialect=dialect,
        event=event,
        manifest=manifest,
        variant_classes=dict(c.variant_classes),
        decoder=msgspec.json.Decoder(event),
        list_decoder=msgspec.json.Decoder(list[event]),  # type: ignore[valid-type]  # a class built at run time
        encoder=msgspec.json.Encoder(),
        unset_fields=dict(c.unset_fields),
    )
