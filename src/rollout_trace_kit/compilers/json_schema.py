"""Derive JSON Schema (draft 2020-12) documents from the spec model.

Tagged unions dispatch on ``type`` with ``if``/``then`` so a failing event is
reported inside the one variant it claims to be, not as an unreadable
``oneOf`` over every variant. Each variant has its own ``$defs`` entry whose
``title`` is its tag.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable

from ..model.common import PAYLOAD_UNION
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
)

SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
SCHEMA_BASE = "https://rollout-trace-kit.github.io/rollout-trace-kit/schema"


def schema_id(dialect: str, document: str, strict: bool = False) -> str:
    return f"{SCHEMA_BASE}/{dialect}/{schema_file_name(document, strict)}"


def schema_file_name(document: str, strict: bool = False) -> str:
    return f"{document}{'.strict' if strict else ''}.schema.json"


def variant_def_name(union: str, tag: str) -> str:
    """``$defs`` key of one variant: payload variants by their tag, others prefixed."""
    return tag if union == PAYLOAD_UNION else f"{union}.{tag}"


class _Builder:
    def __init__(self, dialect: Dialect, strict: bool):
        self.dialect = dialect
        self.strict = strict
        self.defs: dict[str, dict] = {}

    # -- type expressions -------------------------------------------------------
    def expr(self, t: TypeExpr) -> dict:
        return _EXPR_SCHEMA[type(t)](self, t)

    def field(self, f: Field) -> dict:
        body = self.expr(f.type)
        out: dict[str, Any] = {"title": f.name, "description": f.doc}
        out.update(body)  # $ref beside title/description is fine in 2020-12
        if f.const is not None:
            out["const"] = f.const
        _annotate(out, f.since, f.inferred)
        if f.required_since:
            out["x-required-since"] = f.required_since
        if f.payload_kinds:
            out["x-payload-kinds"] = list(f.payload_kinds)
        return out

    def object(self, title: str, doc: str, fields, tag: str | None = None, since=None, inferred=False, tag_key="type") -> dict:
        props: dict[str, dict] = {}
        required: list[str] = []
        if tag is not None:
            props[tag_key] = {"const": tag}
            required.append(tag_key)
        for f in fields:
            props[f.name] = self.field(f)
            if f.required:
                required.append(f.name)
        out: dict[str, Any] = {"title": title, "description": doc, "type": "object", "required": required, "properties": props}
        if self.strict:
            out["additionalProperties"] = False
        _annotate(out, since, inferred)
        return out

    # -- named types --------------------------------------------------------------
    def define(self, name: str) -> None:
        if name in self.defs:
            return
        self.defs[name] = {}  # placeholder against recursion
        t = self.dialect.type(name)
        self.defs[name] = self.named(t)

    def named(self, t: NamedType) -> dict:
        return _NAMED_SCHEMA[type(t)](self, t)

    def unit_kind(self, t: UnitKind) -> dict:
        out: dict[str, Any] = {
            "title": t.name,
            "description": t.doc,
            "type": "object",
            "required": ["type"],
            "properties": {
                "type": {"enum": list(t.values)},
                "value": {
                    "title": "value",
                    "type": "null",
                    "description": "Serde's adjacent-tag content slot; always null.",
                },
            },
        }
        if self.strict:
            out["additionalProperties"] = False
        return _annotate(out, t.since, t.inferred)

    def union(self, u: TaggedUnion) -> dict:
        branches = []
        for v in u.variants:
            key = variant_def_name(u.name, v.tag)
            self.defs[key] = self.variant(u, v)
            branches.append(
                {
                    "if": {"properties": {u.tag_key: {"const": v.tag}}, "required": [u.tag_key]},
                    "then": {"$ref": f"#/$defs/{key}"},
                }
            )
        out = {
            "title": u.name,
            "description": u.doc,
            "type": "object",
            "required": [u.tag_key],
            "properties": {u.tag_key: {"description": "Variant tag.", "enum": list(u.tags)}},
            "allOf": branches,
        }
        return _annotate(out, u.since, u.inferred)

    def variant(self, u: TaggedUnion, v: Variant) -> dict:
        title = variant_def_name(u.name, v.tag)
        return self.object(title, v.doc, v.fields, tag=v.tag, since=v.since, inferred=v.inferred, tag_key=u.tag_key)



def _nullable(b: _Builder, t: Nullable) -> dict:
    inner = b.expr(t.inner)
    if set(inner) == {"type"} and isinstance(inner["type"], str):
        return {"type": [inner["type"], "null"]}
    return {"anyOf": [inner, {"type": "null"}]}


def _named_ref(b: _Builder, t: Named) -> dict:
    b.define(t.name)
    return {"$ref": f"#/$defs/{t.name}"}


_EXPR_SCHEMA: Table[Callable[[_Builder, Any], dict]] = type_expr_table("JSON Schema of a type expression", {
    Str: lambda b, t: {"type": "string"},
    Int: lambda b, t: {"type": "integer", "minimum": t.bounds[0], "maximum": t.bounds[1]},
    Bool: lambda b, t: {"type": "boolean"},
    AnyJson: lambda b, t: {},
    Nullable: _nullable,
    ArrayOf: lambda b, t: {"type": "array", "items": b.expr(t.item)},
    Named: _named_ref,
})

_NAMED_SCHEMA: Table[Callable[[_Builder, Any], dict]] = named_type_table("JSON Schema of a named type", {
    Struct: lambda b, t: b.object(t.name, t.doc, t.fields, since=t.since, inferred=t.inferred),
    StrEnum: lambda b, t: _annotate(
        {"title": t.name, "description": t.doc, "type": "string", "enum": list(t.values)}, t.since, t.inferred),
    UnitKind: _Builder.unit_kind,
    TaggedUnion: _Builder.union,
})


def field_schema(dialect: Dialect, f: Field) -> dict:
    """The schema of one field of a primitive type (no ``$defs`` needed)."""
    return _Builder(dialect, strict=False).field(f)


def _annotate(out: dict, since: str | None, inferred: bool) -> dict:
    if since:
        out["x-since"] = since
    if inferred:
        out["x-inferred"] = True
    return out


def _document(dialect: Dialect, root: Struct, document: str, strict: bool) -> dict:
    b = _Builder(dialect, strict)
    body = b.object(root.name, root.doc, root.fields)
    flavour = " Strict flavour: unknown keys are rejected." if strict else ""
    doc = {
        "$schema": SCHEMA_DIALECT,
        "$id": schema_id(dialect.name, document, strict),
        **body,
        "title": f"{dialect.title}: {root.name}",
        "description": f"{root.doc}{flavour} Dialect {dialect.name}: {dialect.doc}",
        "x-dialect": dialect.name,
        "x-releases": list(dialect.releases),
    }
    if b.defs:
        doc["$defs"] = dict(sorted(b.defs.items()))
    return doc


def event_schema(dialect: Dialect, strict: bool = False) -> dict:
    """The schema of one line of ``trace.jsonl``."""
    return _document(dialect, dialect.envelope, "event", strict)


def manifest_schema(dialect: Dialect, strict: bool = False) -> dict:
    """The schema of ``manifest.json``."""
    return _document(dialect, dialect.manifest, "manifest", strict)


def render(schema: dict) -> str:
    return json.dumps(schema, indent=2, ensure_ascii=False) + "\n"


def schema_files(dialects) -> dict[str, str]:
    """Relative path under ``schema/`` -> file text, for every dialect and flavour."""
    out: dict[str, str] = {}
    for d in dialects:
        for strict in (False, True):
            out[f"{d.name}/{schema_file_name('event', strict)}"] = render(event_schema(d, strict))
            out[f"{d.name}/{schema_file_name('manifest', strict)}"] = render(manifest_schema(d, strict))
    return out


def write_schema_files(root: Path, dialects) -> list[Path]:
    written = []
    for rel, text in schema_files(dialects).items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
            written.append(path)
    return written


__all__ = [
    "PAYLOAD_UNION",
    "SCHEMA_BASE",
    "event_schema",
    "manifest_schema",
    "render",
    "schema_files",
    "schema_id",
    "variant_def_name",
    "write_schema_files",
]


def error_trail(schema: dict, error) -> list[str]:
    """Titles of the subschemas a jsonschema error passed through, outermost first.

    jsonschema's schema path steps through ``$ref`` without naming it, so a step
    that is missing from a node holding ``$ref`` is taken in the referenced
    ``$defs`` entry: the trail then names the variant (its title) even for an
    error raised on one of its fields.
    """

    def resolve(node):
        while isinstance(node, dict) and "$ref" in node:
            target = schema
            for part in node["$ref"].removeprefix("#/").split("/"):
                target = target[part]
            node = target
        return node

    trail: list[str] = []

    def note(node):
        if isinstance(node, dict) and isinstance(node.get("title"), str):
            if not trail or trail[-1] != node["title"]:
                trail.append(node["title"])

    node: Any = schema  # any JSON value on the way down
    for key in error.absolute_schema_path:
        note(node)
        if isinstance(node, dict) and key not in node and "$ref" in node:
            node = resolve(node)
            note(node)
        try:
            node = node[key]
        except (KeyError, IndexError, TypeError):
            break
    note(resolve(node) if isinstance(node, dict) and "$ref" in node and len(node) == 1 else node)
    return trail


def union_branches(all_of: Any) -> tuple[str, dict[str, int]] | None:
    """(tag key, {tag: index}) when ``all_of`` is a tagged union's branches as ``union`` writes them (one
    ``if`` on the tag's const a branch, then its variant), else None: an object holding a string tag meets
    at most the one branch of that tag, so a validator need not try the others."""
    if not isinstance(all_of, list) or not all_of:
        return None
    key, table = None, {}
    for i, branch in enumerate(all_of):
        test = branch.get("if") if isinstance(branch, dict) and set(branch) == {"if", "then"} else None
        if not isinstance(test, dict) or set(test) != {"properties", "required"}:
            return None
        props = test["properties"]
        if not isinstance(props, dict) or len(props) != 1:
            return None
        (name, const), = props.items()
        if test["required"] != [name] or key not in (None, name) or not isinstance(const, dict) \
                or set(const) != {"const"} or not isinstance(const["const"], str) or const["const"] in table:
            return None
        key, table[const["const"]] = name, i
    assert key is not None
    return key, table
