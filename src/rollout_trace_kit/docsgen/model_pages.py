"""Reference pages rendered from the spec model: one per dialect, the overview,
and the differences between dialects and releases."""

from __future__ import annotations

import json
import re
from collections import defaultdict
from textwrap import indent
from typing import Any, Callable

from ..compilers.json_schema import schema_file_name
from ..model.dispatch import Table, named_type_table, type_expr_table
from ..model.types import (
    AnyJson,
    ArrayOf,
    Bool,
    Dialect,
    INT_RANGES,
    Field,
    Int,
    Layout,
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
    release_key,
)
from .examples import Example

PAYLOAD_ANCHOR = "payload-variants"
SCHEMA_DOCUMENTS = ("event", "manifest")


# -- small helpers ---------------------------------------------------------------------


def md_inline(text: str) -> str:
    """Model prose as Markdown: code spans kept, ``<``/``&``/``*`` outside them escaped."""
    parts = re.split(r"(`[^`]*`)", " ".join(text.split()))
    for i in range(0, len(parts), 2):
        parts[i] = parts[i].replace("&", "&amp;").replace("<", "&lt;").replace("*", "\\*")
    return "".join(parts)


def cell(text: str) -> str:
    """Model prose safe inside a Markdown table cell."""
    return md_inline(text).replace("|", "\\|")


def type_anchor(name: str) -> str:
    return f"type-{name.lower()}"


def variant_anchor(tag: str) -> str:
    return tag


def schema_rel(dialect: str, document: str, strict: bool = False) -> str:
    """Path of a published schema file relative to the docs root (and the site root)."""
    return f"schema/{dialect}/{schema_file_name(document, strict)}"


def inferred_text(dialect: Dialect) -> str:
    return f"Inferred from Codex {dialect.reference_release} bundles and binary; no published source."


def inferred_badge(dialect: Dialect) -> str:
    return f'<span class="rtk-inferred" title="{inferred_text(dialect)}">inferred</span>'


def first_release(dialect: Dialect, since: str | None) -> str:
    """First release of ``dialect`` that writes something dating from ``since``."""
    start = dialect.releases[0]
    if since is None or release_key(since) <= release_key(start):
        return start
    return since


def codex(release: str) -> str:
    """A release as text; the model marks parts no release writes yet with a non-numeric since."""
    if release[:1].isdigit():
        return f"Codex {release}"
    return f"{release} (no Codex release writes it)"


def since_text(dialect: Dialect, since: str | None) -> str:
    rel = first_release(dialect, since)
    if rel != dialect.releases[0]:
        return codex(rel)
    extra = ""
    if since is not None and release_key(since) < release_key(rel):
        extra = f"; in dialect {_dialect_of_release(since)} since Codex {since}"
    return f"Codex {rel} (the first release of dialect {dialect.name}{extra})"


def _dialect_of_release(release: str) -> str:
    from ..model import DIALECTS

    for d in DIALECTS.values():
        lo, hi = d.releases
        if release_key(lo) <= release_key(release) <= release_key(hi):
            return d.name
    return "?"


def type_md(t: TypeExpr, dialect: Dialect, page: str = "") -> str:
    """A type expression as Markdown; named types link to their section (on ``page``)."""
    return _TYPE_MD[type(t)](t, dialect, page)


def _named_md(t: Named, dialect: Dialect, page: str) -> str:
    anchor = PAYLOAD_ANCHOR if t.name == dialect.payload.name else type_anchor(t.name)
    return f"[`{t.name}`]({page}#{anchor})"


_TYPE_MD: Table[Callable[[Any, Dialect, str], str]] = type_expr_table("Markdown of a type expression", {
    Str: lambda t, dialect, page: "string",
    Int: lambda t, dialect, page: f"integer ({t.rust})",
    Bool: lambda t, dialect, page: "boolean",
    AnyJson: lambda t, dialect, page: "any JSON value",
    Nullable: lambda t, dialect, page: f"{type_md(t.inner, dialect, page)} or null",
    ArrayOf: lambda t, dialect, page: f"array of {type_md(t.item, dialect, page)}",
    Named: _named_md,
})


def shape_md(t: TypeExpr, dialect: Dialect) -> str:
    """Compact JSON shape of a type expression (no links), for inline code."""
    return _SHAPE_MD[type(t)](t, dialect)


_SHAPE_MD: Table[Callable[[Any, Dialect], str]] = type_expr_table("JSON shape of a type expression", {
    Str: lambda t, dialect: "string",
    Int: lambda t, dialect: f"{t.rust}",
    Bool: lambda t, dialect: "boolean",
    AnyJson: lambda t, dialect: "any",
    Nullable: lambda t, dialect: f"{shape_md(t.inner, dialect)} or null",
    ArrayOf: lambda t, dialect: f"[{shape_md(t.item, dialect)}, ...]",
    Named: lambda t, dialect: t.name,
})


def required_md(f: Field) -> str:
    if f.required:
        return "required"
    if f.required_since:
        how = "omitted when absent" if f.skip_if_none else "`null` or absent"
        return f"optional: {how}; reducers require it since {codex(f.required_since)}"
    if f.skip_if_none:
        return "optional: omitted when absent"
    return "optional: `null` or absent"


def field_table(fields, dialect: Dialect, *, owner_since: str | None = None, tag: str | None = None) -> str:
    """Markdown table of fields (``tag``: the variant tag, shown as the ``type`` row)."""
    fields = tuple(fields)
    owner_first = first_release(dialect, owner_since)
    has_refs = any(f.payload_kinds for f in fields) or any(_is_ref(f) for f in fields)
    has_since = any(f.since and release_key(first_release(dialect, f.since)) > release_key(owner_first) for f in fields)
    head = ["Field", "Type", "Required"]
    if has_refs:
        head.append("Payload kinds")
    if has_since:
        head.append("Since")
    head.append("Description")
    rows = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    if tag is not None:
        row = ["`type`", f'`"{tag}"`', "required"]
        if has_refs:
            row.append("")
        if has_since:
            row.append("")
        row.append("Variant tag.")
        rows.append("| " + " | ".join(row) + " |")
    for f in fields:
        name = f"`{f.name}`" + (f" {inferred_badge(dialect)}" if f.inferred else "")
        row = [name, type_md(f.type, dialect), required_md(f)]
        if has_refs:
            row.append(", ".join(f"`{k}`" for k in f.payload_kinds) if f.payload_kinds else ("any" if _is_ref(f) else ""))
        if has_since:
            rel = first_release(dialect, f.since) if f.since else ""
            row.append(codex(rel) if rel and release_key(rel) > release_key(owner_first) else "")
        row.append(cell(f.doc))
        rows.append("| " + " | ".join(row) + " |")
    return "\n".join(rows)


def _is_ref(f: Field) -> bool:
    return refs_payload(f.type)


def code_block(lang: str, text: str) -> str:
    fence = "```"
    while fence in text:
        fence += "`"
    return f"{fence}{lang}\n{text}\n{fence}"


def pretty(event: dict) -> str:
    return json.dumps(event, indent=2, ensure_ascii=False)


def first_sentence(doc: str) -> str:
    doc = " ".join(doc.split())
    end = doc.find(". ")
    return doc if end < 0 else doc[: end + 1]


def inferred_admonition(dialect: Dialect, what: str) -> str:
    return f'!!! warning "Inferred"\n    This {what}: {inferred_text(dialect)}'


# -- layouts ---------------------------------------------------------------------------------

_RECORD_TYPES = {"u16le": "u16, little-endian", "u64le": "u64, little-endian"}


def record_table(layout: Layout) -> str:
    """The shard record format of a layout as a Markdown table."""
    rows = ["| Part | Encoding | Meaning |", "|---|---|---|"]
    for r in layout.record:
        if r.type == "bytes":
            length = next((o.name for o in layout.record if o.length_of == r.name), None)
            enc = f"bytes (`{length}` of them)" if length else "bytes"
        else:
            enc = _RECORD_TYPES.get(r.type, r.type)
        rows.append(f"| `{r.name}` | {enc} | {cell(r.doc)} |")
    return "\n".join(rows)


def layout_md(layout: Layout) -> str:
    """The payload store of a layout: where payloads live and how a ref finds one."""
    out = [
        f"Layout `{layout.name}`: {md_inline(layout.doc)}\n",
        f"- **Files:** `{layout.manifest_file}`, `{layout.event_log}`, payloads under `{layout.payloads_dir}/` "
        f"as `{layout.payload_file}`",
        f"- **Payload ids:** `{layout.payload_id}`, numbered from 1",
        f"- **A ref locates its payload by:** `{layout.ref_key}`",
    ]
    if layout.record:
        out.append("\nA decompressed shard is a sequence of records, each:\n")
        out.append(record_table(layout))
    return "\n".join(out) + "\n"


# -- the dialect page --------------------------------------------------------------------


def _depth_limits_md(dialect: Dialect) -> str:
    """The body depth limits the reference reducer has, measured per payload kind (model)."""
    if not dialect.body_depth_limits:
        return ""
    by_depth: dict[int, list[str]] = {}
    for kind, depth in dialect.body_depth_limits:
        by_depth.setdefault(depth, []).append(f"`{kind}`")
    limits = "; ".join(f"{', '.join(kinds)}: {depth} levels" for depth, kinds in sorted(by_depth.items()))
    out = (f"- **Payload body depth:** the reference reducer parses these kinds no deeper than (the body's "
           f"outer object is 1, measured) {limits}; other kinds at any depth\n")
    if dialect.runtime_depth_limits:
        runtimes = "; ".join(f"`{variant}` parsed as `{kind}`: {depth} levels"
                             for variant, kind, depth in dialect.runtime_depth_limits)
        out += (f"- **Runtime payload depth** (`tool_runtime_event`, parsed by the runtime's kind): {runtimes}; "
                f"other runtime bodies at any depth\n")
    if dialect.field_depth_limits:
        fields = "; ".join(f"`{variant}.{field}`: {depth} levels" for variant, field, depth in dialect.field_depth_limits)
        out += f"- **Payload depth by ref field** (where the kind does not say): {fields}\n"
    if dialect.deferred_depth_limits:
        fields = "; ".join(f"`{variant}.{field}`: {depth} levels" for variant, field, depth in dialect.deferred_depth_limits)
        out += f"- **Payload depth where a later event reads the body** (a sub-agent activity its call's invocation): {fields}\n"
    return out


def dialect_page(dialect: Dialect, examples: list[Example]) -> str:
    by_tag: dict[str, list[Example]] = defaultdict(list)
    for ex in examples:
        by_tag[ex.tag].append(ex)
    out: list[str] = []
    add = out.append
    lo, hi = dialect.releases
    add(f"# {dialect.title}\n")
    add(f"{md_inline(dialect.doc)}\n")
    add(
        f"- **Dialect:** `{dialect.name}`, `schema_version` {dialect.schema_version}\n"
        f"- **Written by:** Codex {lo} to {hi}\n"
        f"- **Reference reducer:** Codex {dialect.reference_release} "
        f"(the `reducer` profile of the [invariant catalogue](invariants.md) is what it rejects)\n"
        f"- **Terminal event:** {', '.join(f'[`{t}`](#{variant_anchor(t)})' for t in dialect.terminal_variants)}"
        " (nothing may be written after it)\n"
        + _depth_limits_md(dialect)
        + f"- **JSON Schema:** "
        + ", ".join(
            f"[`{schema_file_name(doc, strict)}`](../../{schema_rel(dialect.name, doc, strict)})"
            for doc in SCHEMA_DOCUMENTS
            for strict in (False, True)
        )
        + "\n"
    )
    for note in dialect.notes:
        add(f"!!! note\n    {md_inline(note)}\n")
    if _has_inferred(dialect):
        add(f"Parts marked {inferred_badge(dialect)} are {inferred_text(dialect)[0].lower()}{inferred_text(dialect)[1:]}\n")

    add("## Layout {#layout}\n")
    add(layout_md(dialect.layout))

    # manifest and envelope
    add("## Manifest {#manifest}\n")
    add(f"`{dialect.layout.manifest_file}`, type `{dialect.manifest.name}`. {md_inline(dialect.manifest.doc)}\n")
    add(field_table(dialect.manifest.fields, dialect) + "\n")
    add("## Event envelope {#envelope}\n")
    add(f"Each line of `{dialect.layout.event_log}` is one event, type `{dialect.envelope.name}`. {md_inline(dialect.envelope.doc)}\n")
    add(field_table(dialect.envelope.fields, dialect) + "\n")

    # payload variants
    add(f"## Payload variants {{#{PAYLOAD_ANCHOR}}}\n")
    add(f"`payload`, type `{dialect.payload.name}`. {md_inline(dialect.payload.doc)}\n")
    add("What the payloads these variants point to must hold: [Payload bodies](bodies.md).\n")
    add("| Variant | Since | Example | Description |\n|---|---|---|---|")
    for v in dialect.payload.variants:
        exs = by_tag.get(v.tag, [])
        kind = "real" if any(not e.constructed for e in exs) else "constructed"
        name = f"[`{v.tag}`](#{variant_anchor(v.tag)})" + (f" {inferred_badge(dialect)}" if v.inferred else "")
        add(f"| {name} | {codex(first_release(dialect, v.since))} | {kind} | {cell(first_sentence(v.doc))} |")
    add("")
    for v in dialect.payload.variants:
        add(variant_section(dialect, v, by_tag.get(v.tag, [])))

    # named types
    add("## Types {#types}\n")
    add("The named types the fields above refer to.\n")
    for t in sorted(dialect.types, key=lambda t: t.name):
        add(type_section(dialect, t))
    return "\n".join(out).rstrip() + "\n"


def _has_inferred(dialect: Dialect) -> bool:
    for v in dialect.payload.variants:
        if v.inferred or any(f.inferred for f in v.fields):
            return True
    for t in dialect.types:
        if t.inferred:
            return True
    return False


def variant_section(dialect: Dialect, v: Variant, exs: list[Example]) -> str:
    out = [f"### `{v.tag}` {{#{variant_anchor(v.tag)}}}\n", f"{md_inline(v.doc)}\n"]
    out.append(f"**Since:** {since_text(dialect, v.since)}\n")
    if v.thread_required_since is not None:
        out.append(
            f"**Envelope:** reducers since {codex(v.thread_required_since)} reject the event without a `thread_id`; "
            "older ones take the thread of the envelope's `codex_turn_id`.\n"
        )
    if v.inferred:
        out.append(inferred_admonition(dialect, "variant") + "\n")
    out.append(field_table(v.fields, dialect, owner_since=v.since, tag=v.tag) + "\n")
    for n, ex in enumerate(exs):
        # the first example of a variant is open, further forms are collapsed
        marker = "???+" if n == 0 else "???"
        if ex.constructed:
            what = f" with {ex.form.replace('=', ' = ')}" if ex.form else ""
            out.append(f'{marker} example "Constructed example{what} (built from the model; no real event)"')
            out.append(f"    {ex.note}\n")
        else:
            assert ex.source is not None  # a real example names where it comes from
            file, _, line = ex.source.rpartition(":")
            out.append(f'{marker} example "Real example: {file}, line {line}"\n')
        out.append(indent(code_block("json", pretty(ex.event)), "    ") + "\n")
    return "\n".join(out)


def type_section(dialect: Dialect, t) -> str:
    out = [f"### `{t.name}` {{#{type_anchor(t.name)}}}\n", f"{md_inline(t.doc)}\n"]
    if t.since and release_key(t.since) > release_key(dialect.releases[0]):
        out.append(f"**Since:** {codex(t.since)}\n")
    if t.inferred:
        out.append(inferred_admonition(dialect, "type") + "\n")
    out += _TYPE_BODY[type(t)](dialect, t)
    return "\n".join(out)


def _union_body(dialect: Dialect, t: TaggedUnion) -> list[str]:
    out = [f"An object tagged by `{t.tag_key}`:\n"]
    out.append(f"| `{t.tag_key}` | Shape | Description |\n|---|---|---|")
    for arm in t.variants:
        shape = ", ".join([f'"{t.tag_key}": "{arm.tag}"'] + [f'"{f.name}": {shape_md(f.type, dialect)}' for f in arm.fields])
        badge = f" {inferred_badge(dialect)}" if arm.inferred else ""
        since = f" *Since {codex(arm.since)}.*" if arm.since else ""
        out.append(f"| `{arm.tag}`{badge} | `{{{cell(shape)}}}` | {cell(arm.doc)}{since} |")
    out.append("")
    for arm in t.variants:
        if arm.fields:
            out.append(f"**`{arm.tag}` fields**\n")
            out.append(field_table(arm.fields, dialect, owner_since=arm.since or t.since) + "\n")
    return out


# The body of a named type's section, after its heading, doc and marks.
_TYPE_BODY: Table[Callable[[Dialect, Any], list[str]]] = named_type_table("reference section of a named type", {
    Struct: lambda dialect, t: [field_table(t.fields, dialect, owner_since=t.since) + "\n"],
    StrEnum: lambda dialect, t: ["A JSON string, one of: " + ", ".join(f'`"{v}"`' for v in t.values) + ".\n"],
    UnitKind: lambda dialect, t: ['`{"type": K}` where `K` is one of: ' + ", ".join(f'`"{v}"`' for v in t.values) + ".\n"],
    TaggedUnion: _union_body,
})


# -- overview --------------------------------------------------------------------------


def overview_page(dialects: list[Dialect], schemas: dict[str, str]) -> str:
    out = ["# Reference\n"]
    out.append(
        "Generated from the kit's executable model (`rollout_trace_kit.model`) and its "
        "invariant catalogue by `python -m rollout_trace_kit.docsgen --write docs` (a test fails "
        "when a committed page is stale).\n"
    )
    out.append("| Dialect | `schema_version` | Written by | Reference reducer | Terminal event | Variants |")
    out.append("|---|---|---|---|---|---|")
    for d in dialects:
        lo, hi = d.releases
        term = ", ".join(f"[`{t}`]({d.name}.md#{variant_anchor(t)})" for t in d.terminal_variants)
        out.append(
            f"| [{d.name}]({d.name}.md) | {d.schema_version} | Codex {lo} to {hi} | Codex {d.reference_release} "
            f"| {term} | {len(d.payload.variants)} |"
        )
    out.append("")
    out.append("- [Differences between dialects and releases](differences.md)")
    out.append("- [Invariant catalogue](invariants.md): every rule the validator checks")
    out.append("- [Entity lifecycles](lifecycles.md) and [bundle layouts](layouts.md), as diagrams\n")
    out.append("## JSON Schema files {#schema-files}\n")
    out.append(
        "Draft 2020-12. Each file is published at the URL of its `$id`. The *strict* flavour "
        "also rejects keys the dialect does not define (real readers ignore them).\n"
    )
    out.append("| Schema | File | `$id` |\n|---|---|---|")
    schemas = dict(sorted(schemas.items()))
    for rel, text in schemas.items():
        doc = json.loads(text)
        m = re.fullmatch(r"schema/([^/]+)/(\w+)(\.strict)?\.schema\.json", rel)
        if m and m.group(1) in {d.name for d in dialects}:
            what = f"{m.group(1)} {m.group(2)}" + (" (strict)" if m.group(3) else "")
        else:
            what = doc.get("title") or rel
        # the repository's copy (readable on the code host); the docs build links the site's copy
        out.append(f"| {cell(what)} | [`{rel}`](../../{rel}) | `{doc['$id']}` |")
    return "\n".join(out) + "\n"


# -- differences --------------------------------------------------------------------------


def _field_sig(f: Field) -> tuple:
    return (repr(f.type), f.required, f.skip_if_none, tuple(f.payload_kinds), f.const, f.required_since)


def _describe_field_change(a: Field, b: Field, da: Dialect, db: Dialect) -> str:
    parts = []
    if repr(a.type) != repr(b.type):
        parts.append(f"type {type_md(a.type, da, f'{da.name}.md')} → {type_md(b.type, db, f'{db.name}.md')}")
    if a.required != b.required or a.skip_if_none != b.skip_if_none:
        parts.append(f"{required_md(a)} → {required_md(b)}")
    if a.payload_kinds != b.payload_kinds:
        parts.append(f"payload kinds {list(a.payload_kinds)} → {list(b.payload_kinds)}")
    if a.const != b.const:
        parts.append(f"value `{a.const}` → `{b.const}`")
    if a.required_since != b.required_since and not (a.required != b.required):
        parts.append(f"{required_md(a)} → {required_md(b)}")
    return "; ".join(parts)


def _field_diff(fa, fb, da: Dialect, db: Dialect, where: str) -> list[str]:
    """Bullet lines for fields added, removed or changed from ``fa`` to ``fb``."""
    a = {f.name: f for f in fa}
    b = {f.name: f for f in fb}
    lines = []
    for name, f in b.items():
        if name not in a:
            badge = f" {inferred_badge(db)}" if f.inferred else ""
            since = f" ({codex(f.since)})" if f.since else ""
            lines.append(f"- {where}: field `{name}` added{since}{badge}: {type_md(f.type, db, f'{db.name}.md')}, {required_md(f)}.")
    for name in a:
        if name not in b:
            lines.append(f"- {where}: field `{name}` removed.")
    for name in a:
        if name in b and _field_sig(a[name]) != _field_sig(b[name]):
            lines.append(f"- {where}: field `{name}` changed: {_describe_field_change(a[name], b[name], da, db)}.")
    return lines


def _type_sig(t: NamedType) -> tuple:
    return _TYPE_SIG[type(t)](t)


# What a named type says, to tell whether it changed between two dialects.
_TYPE_SIG: Table[Callable[[Any], tuple]] = named_type_table("signature of a named type", {
    Struct: lambda t: ("struct", tuple((f.name, _field_sig(f)) for f in t.fields)),
    StrEnum: lambda t: (type(t).__name__, tuple(t.values)),
    UnitKind: lambda t: (type(t).__name__, tuple(t.values)),
    TaggedUnion: lambda t: ("union", tuple((v.tag, tuple((f.name, _field_sig(f)) for f in v.fields)) for v in t.variants)),
})


def dialect_diff(da: Dialect, db: Dialect) -> list[str]:
    pa, pb = f"{da.name}.md", f"{db.name}.md"
    out = [f"## {da.name} → {db.name} {{#{da.name}-to-{db.name}}}\n"]
    out.append(
        f"[{da.name}]({pa}) (`schema_version` {da.schema_version}, Codex {da.releases[0]} to {da.releases[1]}) → "
        f"[{db.name}]({pb}) (`schema_version` {db.schema_version}, Codex {db.releases[0]} to {db.releases[1]}).\n"
    )
    lines: list[str] = []
    if da.terminal_variants != db.terminal_variants:
        lines.append(
            "- Terminal event: "
            + ", ".join(f"`{t}`" for t in da.terminal_variants)
            + " → "
            + ", ".join(f"[`{t}`]({pb}#{variant_anchor(t)})" for t in db.terminal_variants)
            + "."
        )
    if da.layout != db.layout:
        lines.append(
            f"- Payload store: `{da.layout.name}` (`{da.layout.payload_file}`, refs name a `{da.layout.ref_key}`) → "
            f"[`{db.layout.name}`]({pb}#layout) (`{db.layout.payload_file}`, refs name a `{db.layout.ref_key}`). "
            f"{md_inline(db.layout.doc)}"
        )
        if db.layout.record and db.layout.record != da.layout.record:
            lines.append("\n  Record format of a decompressed shard:\n\n" + indent(record_table(db.layout), "  ") + "\n")
    if da.reducer_reads_every_ref != db.reducer_reads_every_ref:
        every = "every referenced payload" if db.reducer_reads_every_ref else "only the payloads its handlers read"
        lines.append(f"- The reference reducer opens {every}.")
    lines += _field_diff(da.manifest.fields, db.manifest.fields, da, db, "Manifest")
    lines += _field_diff(da.envelope.fields, db.envelope.fields, da, db, "Envelope")
    ta, tb = set(da.tags), set(db.tags)
    for tag in db.tags:
        if tag not in ta:
            v = db.payload.variant(tag)
            badge = f" {inferred_badge(db)}" if v.inferred else ""
            lines.append(
                f"- Variant [`{tag}`]({pb}#{variant_anchor(tag)}) added ({codex(first_release(db, v.since))}){badge}: "
                f"{cell(first_sentence(v.doc))}"
            )
    for tag in da.tags:
        if tag not in tb:
            lines.append(f"- Variant [`{tag}`]({pa}#{variant_anchor(tag)}) removed.")
    for tag in db.tags:
        if tag in ta:
            lines += _field_diff(
                da.payload.variant(tag).fields, db.payload.variant(tag).fields, da, db, f"Variant [`{tag}`]({pb}#{variant_anchor(tag)})"
            )
    na = {t.name: t for t in da.types}
    nb = {t.name: t for t in db.types}
    for name, t in nb.items():
        if name not in na:
            badge = f" {inferred_badge(db)}" if t.inferred else ""
            lines.append(f"- Type [`{name}`]({pb}#{type_anchor(name)}) added{badge}: {cell(first_sentence(t.doc))}")
        elif _type_sig(na[name]) != _type_sig(t):
            where = f"Type [`{name}`]({pb}#{type_anchor(name)})"
            lines += _TYPE_CHANGE[type(t)](na[name], t, da, db, where)
    for name in na:
        if name not in nb:
            lines.append(f"- Type `{name}` removed.")
    out.append("\n".join(lines) if lines else "No difference in the model.")
    out.append("")
    return out


def _fields_changed(old: NamedType, t: Struct, da: Dialect, db: Dialect, where: str) -> list[str]:
    if not isinstance(old, Struct):
        return [f"- {where} changed."]
    return _field_diff(old.fields, t.fields, da, db, where)


def _values_changed(old: NamedType, t: StrEnum | UnitKind, da: Dialect, db: Dialect, where: str) -> list[str]:
    if not isinstance(old, (StrEnum, UnitKind)):
        return [f"- {where} changed."]
    added = [v for v in t.values if v not in old.values]
    gone = [v for v in old.values if v not in t.values]
    what = [f"values added: {', '.join(f'`{v}`' for v in added)}"] if added else []
    what += [f"values removed: {', '.join(f'`{v}`' for v in gone)}"] if gone else []
    return [f"- {where}: {'; '.join(what) or 'changed'}."]


# How a named type that changed between two dialects is described, by its class in the newer one.
_TYPE_CHANGE: Table[Callable[[Any, Any, Dialect, Dialect, str], list[str]]] = named_type_table("change of a named type", {
    Struct: _fields_changed,
    StrEnum: _values_changed,
    UnitKind: _values_changed,
    TaggedUnion: lambda old, t, da, db, where: [f"- {where} changed."],
})


def invariant_diff(da: Dialect, db: Dialect, invariants) -> list[str]:
    from .catalogue_page import invariant_anchor

    rows = [i for i in invariants if i.level(da.name) != i.level(db.name)]
    out = [f"### Invariants whose profile differs ({da.name} → {db.name}) {{#{da.name}-to-{db.name}-invariants}}\n"]
    if not rows:
        out.append("None.\n")
        return out
    out.append(
        "The weakest profile that enforces each rule; `reducer` means the dialect's reference reducer "
        "rejects a bundle that breaks it.\n"
    )
    out.append(f"| Invariant | {da.name} | {db.name} | Meaning |\n|---|---|---|---|")
    for i in rows:
        la, lb = i.level(da.name), i.level(db.name)
        out.append(
            f"| [`{i.id}`](invariants.md#{invariant_anchor(i.id)}) | {la.label if la else 'not in dialect'} "
            f"| {lb.label if lb else 'not in dialect'} | {cell(i.meaning)} |"
        )
    out.append("")
    return out


def release_timeline(dialects: list[Dialect]) -> list[str]:
    """What each Codex release first writes, from the ``since`` marks of the model."""
    # release -> what (markdown with "{page}" for the dialect page) -> dialect names
    events: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))

    def note(release: str | None, text: str, dialect: Dialect) -> None:
        if release:
            events[release][text].append(dialect.name)

    for d in dialects:
        lo, hi = d.releases
        note(lo, f"first release of dialect [{d.name}]({{page}}) (`schema_version` {d.schema_version})", d)
        note(hi, f"last release of dialect [{d.name}]({{page}}) (`schema_version` {d.schema_version})", d)
        for v in d.payload.variants:
            note(v.since, f"variant [`{v.tag}`]({{page}}#{variant_anchor(v.tag)})", d)
            for f in v.fields:
                if f.since and f.since != v.since:
                    note(f.since, f"field `{f.name}` of [`{v.tag}`]({{page}}#{variant_anchor(v.tag)})", d)
                if f.required_since:
                    note(
                        f.required_since,
                        f"reducers require field `{f.name}` of [`{v.tag}`]({{page}}#{variant_anchor(v.tag)})",
                        d,
                    )
        for t in d.types:
            note(t.since, f"type [`{t.name}`]({{page}}#{type_anchor(t.name)})", d)
            arms = t.variants if isinstance(t, TaggedUnion) else ()
            for arm in arms:
                if arm.since and arm.since != t.since:
                    note(arm.since, f"form `{arm.tag}` of [`{t.name}`]({{page}}#{type_anchor(t.name)})", d)
            fields = t.fields if isinstance(t, Struct) else [f for arm in arms for f in arm.fields]
            for f in fields:
                if f.since and f.since != t.since:
                    note(f.since, f"field `{f.name}` of [`{t.name}`]({{page}}#{type_anchor(t.name)})", d)
    out = ["## Releases {#releases}\n"]
    out.append(
        "What each Codex release first writes, from the `since` marks of the model (links go to the "
        "newest dialect that has it). A reducer older than a release rejects the variants that release added.\n"
    )
    out.append("| Codex release | First writes | In dialects |\n|---|---|---|")
    for release in sorted(events, key=release_key):
        for text, names in events[release].items():
            out.append(f"| {release} | {text.replace('{page}', names[-1] + '.md')} | {', '.join(names)} |")
    out.append("")
    return out


def differences_page(dialects: list[Dialect], invariants) -> str:
    out = ["# Differences between dialects and releases\n"]
    out.append(
        "Computed from the model: the dialects are compared field by field (documentation text "
        "aside), and the release table lists the first release of everything that has one.\n"
    )
    ordered = sorted(dialects, key=lambda d: d.schema_version)
    for da, db in zip(ordered, ordered[1:]):
        out += dialect_diff(da, db)
        out += invariant_diff(da, db, invariants)
    out += release_timeline(ordered)
    return "\n".join(out).rstrip() + "\n"


# -- payload bodies ------------------------------------------------------------------------


def body_anchor(c) -> str:
    return "body-" + re.sub(r"[^a-z0-9]+", "-", c.where[0].lower()).strip("-")


def _power_text(n: int) -> str:
    """An integer range's end as the docs write it: 0, 2^64 - 1, -2^63."""
    if n in (0, -1, 1):
        return str(n)
    if n < 0:
        return f"-2^{(-n).bit_length() - 1}"
    return f"2^{n.bit_length()} - 1"


def bodies_page(dialects: list[Dialect]) -> str:
    """What each payload kind's body holds for the reducers (``model/bodies.py``), with an example."""
    from ..model import bodies as B

    out = ["# Payload bodies\n"]
    out.append(
        "Events point to payloads (`RawPayloadRef`); the reference reducers open some of them and parse the body. "
        "This page says, per payload kind and per ref that holds it, what the body must hold for them: its keys and "
        "their types, the model items they normalise, the fragments of a v3 prepared prompt, and the identities "
        "they compare across bodies (a call id's content, an accepted item's id, a terminal operation's process id). "
        "Generated from `rollout_trace_kit.model.bodies`; the validator's `BODY.*` rules check the same tables.\n\n"
        "A payload the reducers never open (a compaction request, an agent result, a protocol event observed, ...) "
        "only has to be JSON, and only where the dialect's reducer opens every referenced payload "
        "(see each dialect's page). The tables below are what a producer must write where the reducers do open one.\n"
    )
    out.append("| Payload kind | Held by | Body | Dialects |\n|---|---|---|---|")
    for c in B.BODIES:
        held = ", ".join(f"`{w}`" for w in c.where)
        out.append(f"| [`{c.kind}`](#{body_anchor(c)}) | {held} | {c.shape} | {', '.join(c.dialects)} |")
    out.append("")
    for c in B.BODIES:
        out.append(f"## `{c.kind}` in `{c.where[0]}` {{#{body_anchor(c)}}}\n")
        out.append(f"{md_inline(c.doc)}\n")
        if len(c.where) > 1:
            out.append("**Also held by:** " + ", ".join(f"`{w}`" for w in c.where[1:]) + "\n")
        out.append(f"**Body:** {c.shape}. **Dialects:** {', '.join(c.dialects)}.\n")
        if c.keys:
            out.append("| Key | Holds | Required | Notes |\n|---|---|---|---|")
            for k in c.keys:
                out.append(f"| `{k.name}` | {cell(k.type)} | {'yes' if k.required else 'no'} | {cell(k.doc)} |")
            out.append("")
        out.append('???+ example "Example body"\n')
        out.append(indent(code_block("json", pretty(c.example)), "    ") + "\n")
        if c.source:
            out.append(f"*Source:* {md_inline(c.source)}\n")
    out.append("## Tool call arguments {#tool-call-arguments}\n")
    out.append(
        "Where a reducer parses a call's `arguments` (a string holding JSON), it reads them by serde_json's syntax "
        "(no `NaN` or `Infinity`; integers of any length; any depth) into a typed struct: each key below at most "
        "once and of the type shown; other keys are ignored, repeated or not. `-0` is read as a float, so it is no "
        "integer, and a number beyond f64 (`1e400`) fails where the release reads numbers without arbitrary "
        "precision (those of [`RELEASE.NUMBER_RANGE`](invariants.md#release-number-range))."
        + (" The struct may also be a JSON array holding every key's value in the table's order and nothing more "
           "(`[\"x\"]` for an agent activity)." if B.ARGUMENTS_AS_ARRAY else "") + "\n"
    )
    takes = {B.ARGUMENT_STRING: "string (no lone surrogate)", B.ARGUMENT_NUMBER: "any number",
             **{t: f"integer from {_power_text(lo)} to {_power_text(hi)}" for t, (lo, hi) in INT_RANGES.items()}}
    for title, fields in ((f"An agent activity's invocation ({', '.join(f'`{k}`' for k in B.ACTIVITY_READS_INVOCATION)})",
                           B.ACTIVITY_ARGUMENT_FIELDS),
                          (f"A `write_stdin` dispatch (up to Codex {B.DISPATCH_ARGUMENTS_UNTIL})", B.DISPATCH_ARGUMENT_FIELDS)):
        out.append(f"**{title}:**\n")
        out.append("| Key | Takes | Required |\n|---|---|---|")
        for f in fields:
            kinds = " or ".join(takes[k] for k in f.takes) + (" or null" if f.nullable else "")
            out.append(f"| `{f.name}` | {kinds} | {'yes' if f.required else 'no'} |")
        out.append("")
    out.append("## Model items {#model-items}\n")
    out.append(
        "The `input` of a request, the `output_items` of a response and the histories of a compaction checkpoint "
        "are arrays of model items (Responses API items). The reducers normalise each one and reject a bundle "
        "with an item of any other `type` (\"unsupported model item type {t} in payload {id}\"). An incremental "
        "request's items past its previous response's snapshot must match the thread's conversation at their "
        "positions (`INFERENCE.CONVERSATION_MISMATCH`): the last column says what is compared (`K[].text`: the "
        "texts of the entries of `K`; types shown `as` one name are compared as one).\n"
    )
    out.append("| `type` | Needs | Call id content compared | Matched in a conversation by |\n|---|---|---|---|")
    for t in B.ITEM_TYPES:
        needs = md_inline(t.doc) + ("" if not t.string_keys else " String " + ", ".join(f"`{k}`" for k in t.string_keys) + ".")
        compared = ("the whole item" if t.call_content == B.WHOLE_ITEM else ", ".join(f"`{k}`" for k in t.call_content)) + (
            f" (up to Codex {t.call_content_until})" if t.call_content_until else "") + (
            f", by the first {t.summary_bytes} bytes of its compact JSON" if t.summary_bytes else "") + (
            f"; call ids shared within call space `{t.call_space}`" if t.call_space else "") if t.call_content else ""
        matched = ", ".join(f"`{k}`" for k in t.match_keys) + (f" (as `{t.match_as}`)" if t.match_as else "")
        out.append(f"| `{t.tag}` | {cell(needs)} | {compared} | {matched} |")
    out.append("")
    out.append("- **Message roles:** " + ", ".join(f"`{r}`" for r in B.MESSAGE_ROLES) + ".")
    out.append("- **Agent message content parts:** " + ", ".join(
        f"`{k}` (string `{v}`)" for k, v in B.AGENT_MESSAGE_PARTS.items()) + ".")
    out.append("- **Reasoning entries:** " + "; ".join(
        f"`{k}`: " + ", ".join(f"`{t}`" for t in v) + " (each with a string `text`)" for k, v in B.REASONING_ENTRIES.items()) + ".")
    out.append(
        "- **Call ids:** within a thread, a call item whose `call_id` came before must carry the same content "
        "(the column above); \"model-visible call id {id} was reused with different content\". A content "
        "compared by its first bytes is compared by a summary: its compact JSON as serde_json writes it (no "
        "whitespace, object keys in their order, UTF-8 unescaped; a function_call's `arguments` string by the JSON "
        "it holds, a string that does not parse in full), when longer, cut at that byte (at the character "
        f"boundary below) and marked `{B.SUMMARY_MARK}`: contents alike in their first bytes are one call. Up to "
        f"Codex {B.SUMMARY_CUT_PANICS_UNTIL} the reducer panics on a call item whose cut falls inside a "
        "UTF-8 character, its call id reused or not (`BODY.MODEL_ITEM`).\n"
    )
    return "\n".join(out).rstrip() + "\n"
