"""Model coverage of a campaign: which parts of its dialect's vocabulary the cases exercised.

A reducer that passed 200 cases has been tried on what those cases held, no more. The
coverage says what that was, in the model's own terms, and what was never tried:

* ``variants``: payload variants (event types);
* ``tool_kinds``: ``ToolCallKind`` variants of the calls;
* ``payload_kinds``: kinds of the payload refs;
* ``enum_values``: every value of every string enum and every tag of the other tagged unions
  (``Type.value``);
* ``field_presence``: every optional field of the events, each ``present``, ``null`` (where its
  type accepts null, as the published schema does) and ``absent`` (``variant.field=form``);
* ``invariants``: the invariants whose corruption the campaign exercised.

Some of it no valid bundle holds (``model.facts.never_valid``: the ``other`` variant, which no
reducer implements; an optional field the reducer requires, left out): the report names those
per category with why (``never_valid``), so a campaign's valid cases are held to the rest.

Everything is derived from the model: a new variant, kind or optional field shows up as
"missing" until a campaign reaches it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Mapping

from ...model.common import EnvelopeKey as E
from ...model.dispatch import Table, named_type_table, type_expr_table
from ...model.types import (
    AnyJson,
    ArrayOf,
    Bool,
    Dialect,
    Int,
    Named,
    Nullable,
    Str,
    StrEnum,
    Struct,
    TaggedUnion,
    TypeExpr,
    UnitKind,
    named_refs,
    takes_null,
)

CATEGORIES = ("variants", "tool_kinds", "payload_kinds", "enum_values", "field_presence", "invariants")
FORMS = ("present", "null", "absent")
TOOL_KIND_TYPE = "ToolCallKind"
PAYLOAD_KIND_TYPE = "RawPayloadKind"


def universe(dialect: Dialect, invariants: Iterable[str] = (),
             reads: Mapping[str, frozenset[str]] | None = None) -> dict[str, frozenset[str]]:
    """Everything a campaign of ``dialect`` could exercise, by category; with ``reads`` (one
    release's reducer vocabulary: per type name, and ``variants``, the values it knows; the
    schema mode's ``--release``), what that reducer knows of it."""
    reads = reads or {}
    found: dict[str, set[str]] = {"enum_values": set(), "tool_kinds": set(), "payload_kinds": set()}
    for t in reachable_types(dialect):
        known = reads.get(t.name)
        for category, items in _UNIVERSE[type(t)](t).items():
            found[category].update(i for i in items if known is None or i.rpartition(".")[2] in known)
    variants = [v for v in dialect.payload.variants if "variants" not in reads or v.tag in reads["variants"]]
    presence = {
        f"{v.tag}.{f.name}={form}"
        for v in variants for f in v.fields if not f.required for form in forms_of(f.type)
    }
    return {
        "variants": frozenset(v.tag for v in variants),
        "tool_kinds": frozenset(found["tool_kinds"]),
        "payload_kinds": frozenset(found["payload_kinds"]),
        "enum_values": frozenset(found["enum_values"]),
        "field_presence": frozenset(presence),
        "invariants": frozenset(invariants),
    }


def _union_universe(t: TaggedUnion) -> dict[str, list[str]]:
    if t.name == TOOL_KIND_TYPE:
        return {"tool_kinds": list(t.tags)}
    return {"enum_values": [f"{t.name}.{tag}" for tag in t.tags]}


# What each named type adds to the universe, by category.
_UNIVERSE: Table[Callable[[Any], dict[str, list[str]]]] = named_type_table("coverage universe of a named type", {
    StrEnum: lambda t: {"enum_values": [f"{t.name}.{v}" for v in t.values]},
    UnitKind: lambda t: {"payload_kinds": list(t.values)} if t.name == PAYLOAD_KIND_TYPE else {},
    TaggedUnion: _union_universe,
    Struct: lambda t: {},
})


def forms_of(t: TypeExpr) -> tuple[str, ...]:
    """The forms an optional field of type ``t`` can take. ``null`` only where the type accepts it
    (a Nullable, or any JSON: the schema compiler's rule): an optional field that is not Nullable,
    such as v2's tool_call_runtime_started.kind, is present or absent, and null is a schema error
    there (every reducer rejects it), so it is no form a campaign could lack."""
    return FORMS if takes_null(t) else tuple(f for f in FORMS if f != "null")


def reachable_types(dialect: Dialect) -> list[Any]:
    """The named types an event of ``dialect`` can hold (the model may define more)."""
    seen: dict[str, Any] = {}
    todo = [t for v in dialect.payload.variants for f in v.fields for t in named_refs(f.type)]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        try:
            t = seen[name] = dialect.type(name)
        except KeyError:
            continue
        fields = [f for v in t.variants for f in v.fields] if isinstance(t, TaggedUnion) else list(getattr(t, "fields", ()))
        todo += [n for f in fields for n in named_refs(f.type)]
    return list(seen.values())


@dataclass
class Coverage:
    """What the events seen so far exercised; :meth:`report` compares it with the universe."""

    dialect: Dialect
    invariants: frozenset[str] = frozenset()  # the campaign's eligible invariants
    reads: Mapping[str, frozenset[str]] | None = None  # one release's reducer vocabulary (universe)
    release: str | None = None  # the release whose reducer judges validity (None: the dialect's reference)
    seen: dict[str, set[str]] = field(default_factory=lambda: {c: set() for c in CATEGORIES})

    def __post_init__(self) -> None:
        # every event looks its variant up: a dict, not the model's linear search (a campaign's hot path)
        self._variants = {v.tag: v for v in self.dialect.payload.variants}

    def observe_invariant(self, invariant: str) -> None:
        self.seen["invariants"].add(invariant)

    def observe_lines(self, lines: Iterable[bytes]) -> None:
        import orjson

        for line in lines:
            try:
                event = orjson.loads(line)
            except orjson.JSONDecodeError:
                continue  # a corrupt line exercises no part of the model
            self.observe_event(event)

    def observe_event(self, event: Any) -> None:
        payload = event.get(E.PAYLOAD) if isinstance(event, dict) else None
        if not isinstance(payload, dict):
            return
        tag = payload.get("type")
        variant = self._variants.get(tag) if isinstance(tag, str) else None  # a corrupt type may be unhashable
        if variant is None:
            return
        self.seen["variants"].add(variant.tag)
        for f in variant.fields:
            value = payload.get(f.name, _ABSENT)
            if not f.required:
                form = "absent" if value is _ABSENT else "null" if value is None else "present"
                self.seen["field_presence"].add(f"{variant.tag}.{f.name}={form}")
            if value is not _ABSENT:
                self.walk(f.type, value)

    def walk(self, t: TypeExpr, value: Any) -> None:
        _WALK[type(t)](self, t, value)

    def report(self) -> dict[str, dict[str, Any]]:
        """Per category: covered and total counts, what is missing (sorted), and what of the
        category no valid bundle holds, with why (``never_valid``: only a corrupt case reaches it)."""
        from ...model.facts import never_valid

        never = never_valid(self.dialect, self.release)
        by_category = {"variants": never["variants"], "field_presence": never["field_forms"]}
        out: dict[str, dict[str, Any]] = {}
        for c, items in universe(self.dialect, self.invariants, self.reads).items():
            hit = self.seen[c] & items
            out[c] = {"covered": len(hit), "total": len(items), "missing": sorted(items - hit),
                      "never_valid": {i: why for i, why in sorted(by_category.get(c, {}).items()) if i in items}}
        return out


_ABSENT = object()


def _walk_named(cov: Coverage, t: Named, value: Any) -> None:
    try:
        nt = cov.dialect.type(t.name)
    except KeyError:
        return
    _WALK_NAMED[type(nt)](cov, nt, value)


def _walk_str_enum(cov: Coverage, nt: StrEnum, value: Any) -> None:
    if isinstance(value, str) and value in nt.values:
        cov.seen["enum_values"].add(f"{nt.name}.{value}")


def _walk_unit_kind(cov: Coverage, nt: UnitKind, value: Any) -> None:
    tag = value.get("type") if isinstance(value, dict) else None
    if nt.name == PAYLOAD_KIND_TYPE and tag in nt.values:
        cov.seen["payload_kinds"].add(tag)


def _walk_union(cov: Coverage, nt: TaggedUnion, value: Any) -> None:
    tag = value.get(nt.tag_key) if isinstance(value, dict) else None
    if tag not in nt.tags:
        return
    cov.seen["tool_kinds" if nt.name == TOOL_KIND_TYPE else "enum_values"].add(
        tag if nt.name == TOOL_KIND_TYPE else f"{nt.name}.{tag}")
    for f in nt.variant(tag).fields:
        if f.name in value:
            cov.walk(f.type, value[f.name])


def _walk_struct(cov: Coverage, nt: Struct, value: Any) -> None:
    if isinstance(value, dict):
        for f in nt.fields:
            if f.name in value:
                cov.walk(f.type, value[f.name])


def _walk_array(cov: Coverage, t: ArrayOf, value: Any) -> None:
    if isinstance(value, list):
        for item in value:
            cov.walk(t.item, item)


def _walk_nullable(cov: Coverage, t: Nullable, value: Any) -> None:
    if value is not None:
        cov.walk(t.inner, value)


def _leaf(cov: Coverage, t: Any, value: Any) -> None:
    """Scalars and free JSON exercise no named part of the model."""


# One walking rule per type expression (the vocabulary of model/types.py).
_WALK: Table[Callable[[Coverage, Any, Any], None]] = type_expr_table("coverage walk of a type expression", {
    Str: _leaf,
    Int: _leaf,
    Bool: _leaf,
    AnyJson: _leaf,
    Nullable: _walk_nullable,
    ArrayOf: _walk_array,
    Named: _walk_named,
})

# One walking rule per named type.
_WALK_NAMED: Table[Callable[[Coverage, Any, Any], None]] = named_type_table("coverage walk of a named type", {
    StrEnum: _walk_str_enum,
    UnitKind: _walk_unit_kind,
    TaggedUnion: _walk_union,
    Struct: _walk_struct,
})


def console_lines(report: dict[str, dict[str, Any]], limit: int = 8) -> list[str]:
    """The coverage as a few lines of text: a count per category and the first missing items."""
    lines = []
    for c in CATEGORIES[:-1]:  # the invariants are the campaign's own lines ("never exercised")
        r = report.get(c)
        if not r or not r["total"]:
            continue
        line = f"  {c.replace('_', ' ')}: {r['covered']}/{r['total']}"
        given = r.get("never_valid")
        never: dict = given if isinstance(given, dict) else {}
        missing = [m for m in r["missing"] if m not in never]
        if missing:
            shown = ", ".join(missing[:limit]) + (f", ... ({len(missing)} in all)" if len(missing) > limit else "")
            line += f"; missing: {shown}"
        unreached = [m for m in r["missing"] if m in never]
        if unreached:  # what only a corrupt case holds: a campaign without one cannot reach it
            line += f"; in no valid bundle (model), not reached: {', '.join(unreached[:limit])}"
        lines.append(line)
    return lines
