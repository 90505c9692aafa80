"""Example events for the reference pages.

Each payload variant of a dialect gets the first real event of that type found
in the shipped corpus (``rollout_trace_kit/conformance/corpus/codex-<reference release>/``, scenarios
in name order). A variant no bundle there holds gets an event built from the
model instead, marked *constructed*. So do the forms of an optional tagged-union
field that no real event of the variant shows (``inference_started``'s
``request_input_mode``): the real event, with that field set to each form.

Every example shown is validated against the published schema by the tests.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from ..model.common import EnvelopeKey as E
from ..corpus import corpus_root
from ..model.dispatch import Table, named_type_table, type_expr_table
from ..model.types import (
    AnyJson,
    ArrayOf,
    Bool,
    Dialect,
    Field,
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
    Variant,
    refs_payload,
    unwrap,
)

CORPUS = corpus_root()


@dataclass(frozen=True)
class Example:
    dialect: str
    tag: str  # payload variant
    event: dict
    source: str | None  # "rollout_trace_kit/conformance/corpus/.../trace.jsonl:LINE" for a real event; None if constructed
    note: str = ""  # what a constructed example shows
    form: str = ""  # "field=tag" when the example shows one form of an optional union field

    @property
    def constructed(self) -> bool:
        return self.source is None


# where the corpus is in an installed package (a checkout maps the suite to conformance/)
CORPUS_SHOWN = "rollout_trace_kit/conformance/corpus"


def display_path(path: Path) -> str:
    """``path`` as the installed package holds it when it is inside the corpus."""
    try:
        rel = path.resolve().relative_to(CORPUS).as_posix()
    except ValueError:
        return str(path)
    return CORPUS_SHOWN if rel == "." else f"{CORPUS_SHOWN}/{rel}"


def corpus_dir(dialect: Dialect) -> Path:
    return CORPUS / f"codex-{dialect.reference_release}"


def _first_real_events(corpus: Path, event_log: str) -> dict[str, tuple[dict, str]]:
    """tag -> (first event of that type, "path:line"), over the bundles in name order."""
    found: dict[str, tuple[dict, str]] = {}
    if not corpus.is_dir():
        return found
    for bundle in sorted(p for p in corpus.iterdir() if (p / event_log).is_file()):
        trace = bundle / event_log
        with trace.open(encoding="utf-8") as fh:
            for n, line in enumerate(fh, 1):
                event = json.loads(line)
                tag = event.get(E.PAYLOAD, {}).get("type")
                if isinstance(tag, str) and tag not in found:
                    found[tag] = (event, f"{display_path(trace)}:{n}")
    return found


def _seen_forms(corpus: Path, event_log: str, tag: str, field: str) -> set[str]:
    """Tags of the non-null values ``field`` takes in real ``tag`` events of the corpus."""
    seen: set[str] = set()
    if not corpus.is_dir():
        return seen
    for trace in sorted(corpus.glob(f"*/{event_log}")):
        with trace.open(encoding="utf-8") as fh:
            for line in fh:
                if f'"{field}"' not in line:
                    continue
                payload = json.loads(line).get(E.PAYLOAD, {})
                value = payload.get(field) if payload.get("type") == tag else None
                if isinstance(value, dict) and isinstance(value.get("type"), str):
                    seen.add(value["type"])
    return seen


class _Builder:
    """Builds a value of a type from the model: the first enum value, the first union
    arm, present options, ``<field name>`` strings. Payload refs use the field's first
    allowed kind."""

    def __init__(self, dialect: Dialect):
        self.dialect = dialect
        self.payload_n = 0

    def field_value(self, f: Field):
        t = unwrap(f.type)
        if f.name == "schema_version":
            return self.dialect.schema_version
        if isinstance(t, Named) and refs_payload(t):
            return self.payload_ref(f.payload_kinds)
        if isinstance(t, ArrayOf) and refs_payload(t.item):
            return [self.payload_ref(f.payload_kinds)]
        return self.value(t, f.name)

    def payload_ref(self, kinds: tuple[str, ...]) -> dict:
        self.payload_n += 1
        ref_type = self.dialect.type_as("RawPayloadKind", UnitKind)
        kind = kinds[0] if kinds else ref_type.values[0]
        return self.dialect.layout.ref(self.payload_n, kind)

    def value(self, t: TypeExpr, name: str) -> Any:
        return _EXAMPLE_VALUE[type(t)](self, t, name)

    def named(self, t: NamedType) -> Any:
        return _EXAMPLE_NAMED[type(t)](self, t)

    def variant(self, v: Variant, tag_key: str = "type") -> dict:
        return {tag_key: v.tag, **{f.name: self.field_value(f) for f in v.fields}}

    def event(self, payload: dict) -> dict:
        out = {f.name: self.field_value(f) for f in self.dialect.envelope.fields if f.name != "payload"}
        out[E.PAYLOAD] = payload
        return out


_EXAMPLE_VALUE: Table[Callable[[_Builder, Any, str], Any]] = type_expr_table("example value of a type expression", {
    Str: lambda b, t, name: f"<{name}>",
    Int: lambda b, t, name: 1,
    Bool: lambda b, t, name: True,
    AnyJson: lambda b, t, name: None,
    Nullable: lambda b, t, name: b.value(t.inner, name),  # options are shown present
    ArrayOf: lambda b, t, name: [b.value(t.item, name)],
    Named: lambda b, t, name: b.named(b.dialect.type(t.name)),
})

_EXAMPLE_NAMED: Table[Callable[[_Builder, Any], Any]] = named_type_table("example value of a named type", {
    Struct: lambda b, t: {f.name: b.field_value(f) for f in t.fields},
    StrEnum: lambda b, t: t.values[0],
    UnitKind: lambda b, t: {"type": t.values[0]},
    TaggedUnion: lambda b, t: b.variant(t.variants[0], t.tag_key),
})


def constructed_event(dialect: Dialect, variant: Variant) -> dict:
    """A schema-valid event of ``variant`` built from the model alone."""
    return _Builder(dialect).event(_Builder(dialect).variant(variant))


def _optional_union_fields(dialect: Dialect, variant: Variant) -> list[tuple[Field, TaggedUnion]]:
    out = []
    for f in variant.fields:
        t = unwrap(f.type)
        if f.required or not isinstance(t, Named) or refs_payload(t):
            continue
        named = dialect.type(t.name)
        if isinstance(named, TaggedUnion):
            out.append((f, named))
    return out


def _with_field(v: Variant, payload: dict, name: str, value) -> dict:
    """``payload`` with ``name`` set to ``value``, keys in the model's order."""
    out = {"type": payload["type"]}
    for f in v.fields:
        if f.name == name:
            out[name] = value
        elif f.name in payload:
            out[f.name] = payload[f.name]
    out.update({k: val for k, val in payload.items() if k not in out})
    return out


def examples(dialect: Dialect, corpus: Path | None = None) -> list[Example]:
    """Every example event the reference page of ``dialect`` shows, in variant order."""
    corpus = corpus_dir(dialect) if corpus is None else corpus
    real = _first_real_events(corpus, dialect.layout.event_log)
    out: list[Example] = []
    for v in dialect.payload.variants:
        if v.tag in real:
            event, source = real[v.tag]
            out.append(Example(dialect.name, v.tag, event, source))
            base = event
        else:
            base = constructed_event(dialect, v)
            out.append(
                Example(
                    dialect.name,
                    v.tag,
                    base,
                    None,
                    f"The corpus (`{display_path(corpus)}`) has no `{v.tag}` event; this one is built from the model.",
                )
            )
        for f, union in _optional_union_fields(dialect, v):
            seen = _seen_forms(corpus, dialect.layout.event_log, v.tag, f.name)
            for arm in union.variants:
                if arm.tag in seen:
                    continue
                event = json.loads(json.dumps(base))
                event[E.PAYLOAD] = _with_field(v, event[E.PAYLOAD], f.name, _Builder(dialect).variant(arm))
                out.append(
                    Example(
                        dialect.name,
                        v.tag,
                        event,
                        None,
                        f"The real event above with `{f.name}` set to the `{arm.tag}` form, which no "
                        f"`{v.tag}` event in `{display_path(corpus)}` has.",
                        form=f"{f.name}={arm.tag}",
                    )
                )
    return out


__all__ = ["CORPUS", "Example", "constructed_event", "corpus_dir", "examples"]
