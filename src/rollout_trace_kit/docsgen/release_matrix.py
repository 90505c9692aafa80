"""The release compatibility matrix: which epoch's reducer reads which epoch's bundles.

Rows are writer epochs (what a release range writes), columns reducer epochs. A verdict
comes from the measured release records only, judged by the release rules
(:func:`rollout_trace_kit.validate.rules.release.judge_reader`, the ones ``compat`` and
``validate --release`` apply): the reducer's accepted ``schema_version`` values, the
variants, required fields, tool kinds and payload kinds it parses, against what the
writer was seen writing. The page is a Markdown table whose cells are ``<span>`` s with
a class: coloured on the site (``docs/stylesheets/extra.css``), plain "✓ reads" /
"✗ ..." text on the code host.
"""

from __future__ import annotations

import html
from dataclasses import dataclass

from ..model import releases as rel
from ..validate.rules.release import (
    FIELD_REQUIRED,
    PAYLOAD_KIND_KNOWN,
    SCHEMA_ACCEPTED,
    TOOL_KIND_KNOWN,
    VARIANT_KNOWN,
    ReleaseFinding,
    judge_reader,
)
from .model_pages import cell

READS, REJECTS, UNKNOWN = "rtk-reads", "rtk-rejects", "rtk-unknown"  # cell classes (extra.css)
INFERRED_MARK = "†"  # not "*": Markdown would pair two of them into emphasis

# How a rejection is named in a cell; the details go into the cell's title and the list below.
_SHORT = {
    SCHEMA_ACCEPTED.id: "schema_version",
    VARIANT_KNOWN.id: "variant",
    FIELD_REQUIRED.id: "required field",
    TOOL_KIND_KNOWN.id: "tool kind",
    PAYLOAD_KIND_KNOWN.id: "payload kind",
}


@dataclass(frozen=True)
class Verdict:
    """What one reducer epoch says of one writer epoch's bundles (``reads`` None: no facts)."""

    reads: bool | None
    findings: tuple[ReleaseFinding, ...] = ()

    def reasons(self, reader: rel.Release) -> list[str]:
        """The findings without the reader's name (the column says it)."""
        prefix = f"Codex {reader.version}'s reducer "
        return [f.message.removeprefix(prefix) for f in self.findings]


def verdict(writer: rel.Epoch, reader: rel.Epoch) -> Verdict:
    from .releases_page import written_summary

    w, r = writer.representative, reader.representative
    if w.record is None or r.record is None:
        return Verdict(None)
    found = tuple(judge_reader(written_summary(w), r))
    return Verdict(not found, found)


def readers(eps: list[rel.Epoch]) -> list[rel.Epoch]:
    """Epochs whose releases ship a reducer (or whose facts are unknown: maybe they do)."""
    return [e for e in eps if e.representative.record is None or e.representative.get("has_reducer")]


def matrix(eps: list[rel.Epoch]) -> dict[tuple[str, str], Verdict]:
    """(writer epoch's first release, reader epoch's first release) -> verdict."""
    return {(w.first, r.first): verdict(w, r) for w in eps for r in readers(eps)}


def has_inferred(e: rel.Epoch) -> bool:
    return any(x.status != "probed" for x in e.releases)


def _label(e: rel.Epoch, *, header: bool) -> str:
    from .releases_page import epoch_slug

    span = e.first if e.first == e.last else f"{e.first}{'<br>' if header else ' '}– {e.last}"
    text = f"[{span}]({epoch_slug(e)}.md)" if e.status != "unknown" else span
    return text + (f" {INFERRED_MARK}" if has_inferred(e) else "")


def _cell(v: Verdict, writer: rel.Epoch, reader: rel.Epoch) -> str:
    if v.reads is None:
        return f'<span class="{UNKNOWN}" title="not probed: no facts">? unknown</span>'
    if v.reads:
        return f'<span class="{READS}">✓ reads</span>'
    kinds: dict[str, int] = {}
    for f in v.findings:
        name = _SHORT.get(f.invariant.id, f.invariant.id)
        kinds[name] = kinds.get(name, 0) + 1
    if any(f.invariant.id == SCHEMA_ACCEPTED.id for f in v.findings):
        short = f"schema_version {writer.representative.schema_version}"
    else:
        short = ", ".join(f"{n} {k}{'s' if n > 1 else ''}" for k, n in kinds.items())
    # an attribute, not Markdown: HTML-escaped, and no "|" left to end the table cell
    title = html.escape("; ".join(v.reasons(reader.representative)), quote=True).replace("|", "&#124;")
    return f'<span class="{REJECTS}" title="{title}">✗ {short}</span>'


def matrix_page(eps: list[rel.Epoch]) -> str:
    ws, rs = list(eps), readers(eps)
    m = matrix(eps)
    out = [
        "# Release compatibility matrix\n",
        "Which Codex reducer (`codex debug trace-reduce`) reads which release's bundles, by epoch "
        "(a run of releases with equal measured facts; the [release table](index.md) lists them). "
        "A row is what the writers of an epoch were seen writing; a column is the reducer of an epoch. "
        "The verdict comes from the measured release records only, judged by the release rules "
        "(`RELEASE.*` in the [invariant catalogue](../invariants.md), the ones `rollout-trace compat` and "
        "`validate --release` apply): the `schema_version` values the reducer accepts, and the variants, "
        "required fields, tool kinds and payload kinds it parses, against what the writer wrote.\n",
        "✓ reads: the reducer accepts everything the writer was seen writing. ✗: it rejects the writer's "
        "bundles, with why: every one of them for a `schema_version` it does not accept (it stops there); "
        "otherwise those holding a variant, tool kind or payload kind it does not know, or lacking a field "
        "it requires (the cell counts them; hover for the names, or read the list below the table). "
        f"{INFERRED_MARK} marks an epoch holding releases that were not probed "
        "themselves: their facts are inferred from equal probed neighbours (the epoch's page says which). "
        "Epochs without a reducer have a row but no column.\n",
        "| Writer \\ reducer | " + " | ".join(_label(r, header=True) for r in rs) + " |",
        "|---|" + "---|" * len(rs),
    ]
    for w in ws:
        cells = [_cell(m[(w.first, r.first)], w, r) for r in rs]
        out.append(f"| {_label(w, header=False)} | " + " | ".join(cells) + " |")
    out.append("\n## Why each rejection\n")
    for w in ws:
        groups: dict[tuple[str, ...], list[rel.Epoch]] = {}
        for r in rs:
            v = m[(w.first, r.first)]
            if v.reads is False:
                groups.setdefault(tuple(v.reasons(r.representative)), []).append(r)
        if not groups:
            continue
        out.append(f"### Bundles of {_label(w, header=False)}\n")
        for reasons, who in groups.items():
            names = ", ".join(_label(r, header=False) for r in who)
            out.append(f"- Reducer of {names}: {cell('; '.join(reasons))}.")
        out.append("")
    return "\n".join(out).rstrip("\n") + "\n"
