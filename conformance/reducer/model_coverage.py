"""Model coverage of a campaign: what of the dialect's model the bundles fed to the reducer exercised.

Read from the model, never listed here: the payload variants, the values of every enum-like
named type (tool kinds are ``ToolCallKind``'s, payload kinds ``RawPayloadKind``'s), and every
field of the envelope, the variants and the named structs as present, null or absent (those
the type allows). A bundle is walked once, in the worker that ran its case; the campaign's
report says, per dimension, how much was covered and what never was.
"""

from __future__ import annotations

from functools import lru_cache

import orjson

PRESENT, NULL, ABSENT = "present", "null", "absent"
TOOL_KINDS, PAYLOAD_KINDS = "ToolCallKind", "RawPayloadKind"  # the named types the report shows apart
DIMENSIONS = ("variants", "tool_kinds", "payload_kinds", "enum_values", "fields")


@lru_cache(maxsize=None)
def universe(dialect: str) -> dict[str, frozenset[str]]:
    """Everything a campaign of ``dialect`` could cover, per dimension."""
    from ...model import DIALECTS
    from ...model.types import Nullable, StrEnum, Struct, TaggedUnion, UnitKind

    d = DIALECTS[dialect]
    enums: set[str] = set()
    for t in d.types:
        if isinstance(t, TaggedUnion):
            enums |= {f"{t.name}.{v.tag}" for v in t.variants}
        elif isinstance(t, (UnitKind, StrEnum)):
            enums |= {f"{t.name}.{v}" for v in t.values}
    fields: set[str] = set()
    owners = [("envelope", d.envelope.fields)] + [(v.tag, v.fields) for v in d.payload.variants]
    owners += [(t.name, t.fields) for t in d.types if isinstance(t, Struct)]
    owners += [(f"{t.name}.{v.tag}", v.fields) for t in d.types if isinstance(t, TaggedUnion) for v in t.variants]
    for owner, fs in owners:
        for f in fs:
            fields.add(f"{owner}.{f.name}:{PRESENT}")
            if isinstance(f.type, Nullable):
                fields.add(f"{owner}.{f.name}:{NULL}")
            if not f.required:
                fields.add(f"{owner}.{f.name}:{ABSENT}")
    return {
        "variants": frozenset(d.payload.tags),
        "tool_kinds": frozenset(e.split(".", 1)[1] for e in enums if e.startswith(TOOL_KINDS + ".")),
        "payload_kinds": frozenset(e.split(".", 1)[1] for e in enums if e.startswith(PAYLOAD_KINDS + ".")),
        "enum_values": frozenset(enums),
        "fields": frozenset(fields),
    }


def bundle_coverage(lines: list[bytes], dialect: str) -> dict[str, set[str]]:
    """What of the model one bundle's events exercise (values outside the model are not counted)."""
    from ...model import DIALECTS
    from ...model.types import ArrayOf, Named, Nullable, StrEnum, Struct, TaggedUnion, UnitKind

    d = DIALECTS[dialect]
    seen: dict[str, set[str]] = {k: set() for k in DIMENSIONS}
    enums, fields = seen["enum_values"], seen["fields"]

    def fields_of(owner: str, fs, obj: dict) -> None:
        for f in fs:
            if f.name not in obj:
                fields.add(f"{owner}.{f.name}:{ABSENT}")
            elif obj[f.name] is None:
                fields.add(f"{owner}.{f.name}:{NULL}")
            else:
                fields.add(f"{owner}.{f.name}:{PRESENT}")
                value(f.type, obj[f.name])

    def value(t, v, depth: int = 0) -> None:
        if depth > 32 or v is None:
            return
        if isinstance(t, Nullable):
            value(t.inner, v, depth + 1)
        elif isinstance(t, ArrayOf) and isinstance(v, list):
            for x in v:
                value(t.item, x, depth + 1)
        elif isinstance(t, Named):
            try:
                nt = d.type(t.name)
            except KeyError:
                return
            if isinstance(nt, Struct) and isinstance(v, dict):
                fields_of(nt.name, nt.fields, v)
            elif isinstance(nt, TaggedUnion) and isinstance(v, dict) and isinstance(v.get(nt.tag_key), str):
                tag = v[nt.tag_key]
                if tag in nt.tags:
                    enums.add(f"{nt.name}.{tag}")
                    fields_of(f"{nt.name}.{tag}", nt.variant(tag).fields, v)
            elif isinstance(nt, UnitKind) and isinstance(v, dict) and v.get("type") in nt.values:
                enums.add(f"{nt.name}.{v['type']}")
            elif isinstance(nt, StrEnum) and v in nt.values:
                enums.add(f"{nt.name}.{v}")

    tags = set(d.payload.tags)
    for line in lines:
        try:
            ev = orjson.loads(line)
        except orjson.JSONDecodeError:
            continue
        if not isinstance(ev, dict):
            continue
        fields_of("envelope", [f for f in d.envelope.fields if f.name != "payload"], ev)
        p = ev.get("payload")
        if isinstance(p, dict) and p.get(d.payload.tag_key) in tags:
            tag = p[d.payload.tag_key]
            seen["variants"].add(tag)
            fields.add(f"envelope.payload:{PRESENT}")
            fields_of(tag, d.payload.variant(tag).fields, p)
    seen["tool_kinds"] = {e.split(".", 1)[1] for e in enums if e.startswith(TOOL_KINDS + ".")}
    seen["payload_kinds"] = {e.split(".", 1)[1] for e in enums if e.startswith(PAYLOAD_KINDS + ".")}
    return seen


def summary(dialect: str, covered: dict[str, set[str]], invariants: tuple[list[str], list[str]] | None = None) -> dict:
    """The report's ``model_coverage``: per dimension, covered / total and what was never covered."""
    u = universe(dialect)
    out = {}
    for k in DIMENSIONS:
        got = covered.get(k, set()) & u[k]
        out[k] = {"covered": len(got), "total": len(u[k]), "missing": sorted(u[k] - got)}
    if invariants is not None:
        eligible, seen = invariants
        out["invariants"] = {"covered": len(set(eligible) & set(seen)), "total": len(eligible),
                             "missing": sorted(set(eligible) - set(seen))}
    return out


def merged(docs: list[dict]) -> dict | None:
    """The coverage of shards together: a thing is missing only when every shard missed it."""
    parts = [d.get("model_coverage") for d in docs]
    if not parts or any(not isinstance(p, dict) for p in parts):
        return None
    out = {}
    for k, first in parts[0].items():
        missing = set(first.get("missing", []))
        for p in parts[1:]:
            missing &= set((p.get(k) or {}).get("missing", []))
        total = first.get("total", 0)
        out[k] = {"covered": total - len(missing), "total": total, "missing": sorted(missing)}
    return out


def console_line(cov: dict) -> str:
    """``model coverage: 29/29 variants, 4/12 tool kinds (missing: mcp, web, ...), ...``."""
    names = {"variants": "variants", "tool_kinds": "tool kinds", "payload_kinds": "payload kinds",
             "enum_values": "enum values", "fields": "field x presence", "invariants": "invariants"}
    parts = []
    for k, label in names.items():
        c = cov.get(k)
        if not c:
            continue
        text = f"{c['covered']}/{c['total']} {label}"
        if c["missing"] and k in ("variants", "tool_kinds", "payload_kinds"):
            shown = ", ".join(c["missing"][:6]) + (", ..." if len(c["missing"]) > 6 else "")
            text += f" (missing: {shown})"
        parts.append(text)
    return "model coverage: " + ", ".join(parts) + " (all missing in the JSON report)"
