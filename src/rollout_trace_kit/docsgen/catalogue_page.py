"""The invariant catalogue page, and the reducer-harness reports it quotes.

The "what the real Codex reducer does" row is read from reports of the reducer
fuzz harness run against real Codex releases: ``docs/data/codex-reducer/<release>.json``,
each the unedited output of::

    rollout-trace fuzz-reducer --format json -o docs/data/codex-reducer/<release>.json \
        --dialect <dialect> --seed 0 --examples 320 --timeout 10 --known tests/known-results/codex-<release>.json \
        --cmd '<codex of that release> debug trace-reduce {bundle} -o {output}'

(format ``rollout-trace-kit/reducer-report/2``; the file name says which Codex release
ran, the report says which dialect). Without a report, or for an invariant no report
covers, the page says "not measured yet". Nothing in that row is typed by hand.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any
from pathlib import Path

from ..links import invariant_anchor

from ..validate.findings import Invariant, Profile
from ..codex.reducer_reports import recipe
from .model_pages import cell, md_inline

HARNESS_FORMAT = "rollout-trace-kit/reducer-report/2"  # rollout_trace_kit.conformance.reducer.report
VALID = "VALID"  # the harness's row of valid bundles
COUNTS = ("rejects", "accepts", "crashes", "hangs", "error")
RELEASE_FILE = re.compile(r"(\d+\.\d+\.\d+)\.json")


class ReportError(ValueError):
    pass


@dataclass(frozen=True)
class Measured:
    release: str
    counts: dict[str, int]
    not_run: int = 0  # cases not run once one hung (the invariant is a known hang of that release)

    @property
    def cases(self) -> int:
        return sum(self.counts.values())

    def behaviour(self, what: str = "broken bundle") -> str:
        """What the reducer did, as a phrase: "rejects all 12 broken bundles"."""
        n, c = self.cases, self.counts
        plural = "s" if n != 1 else ""
        if c["rejects"] == n:
            text = f"rejects all {n}" if n > 1 else "rejects the 1"
        elif c["accepts"] == n:
            text = f"accepts all {n}" if n > 1 else "accepts the 1"
        else:
            verbs = (("rejects", "rejects"), ("accepts", "accepts"), ("crashes", "crashes on"),
                     ("hangs", "hangs on"), ("error", "could not run"))
            text = ", ".join(f"{verb} {c[k]}" for k, verb in verbs if c[k]) + f" of {n}"
        return f"{text} {what}{plural}"

    def summary(self, what: str = "broken bundle") -> str:
        skipped = f" ({self.not_run} more not run once one hung: a known hang)" if self.not_run else ""
        return f"Codex {self.release} {self.behaviour(what)}{skipped}"


@dataclass(frozen=True)
class Reports:
    """What the reducer-harness reports say: per (invariant, dialect), one measurement per release."""

    files: list[dict]  # {"release", "dialect", "profile", "seed", "cases", "path"} per report
    rows: dict[tuple[str, str], list[Measured]]


def load_reports(directory: Path, invariant_ids: set[str], dialects: set[str]) -> Reports | None:
    """The reports in ``directory``; None when there are none."""
    paths = sorted(directory.glob("*.json")) if directory.is_dir() else []
    if not paths:
        return None
    files: list[dict] = []
    rows: dict[tuple[str, str], list[Measured]] = {}
    for path in paths:
        m = RELEASE_FILE.fullmatch(path.name)
        if not m:
            raise ReportError(f"{path}: name it after the Codex release that ran (for example 0.169.0.json)")
        release = m.group(1)
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as e:
            raise ReportError(f"{path}: not a JSON document: {e}") from None
        if not isinstance(doc, dict) or doc.get("format") != HARNESS_FORMAT:
            raise ReportError(f"{path}: 'format' must be {HARNESS_FORMAT!r} (rollout-trace fuzz-reducer --format json)")
        dialect = doc.get("dialect")
        if not isinstance(dialect, str) or dialect not in dialects:  # a list would not even hash
            raise ReportError(f"{path}: unknown dialect {dialect!r}")
        table = doc.get("invariants")
        if not isinstance(table, dict):
            raise ReportError(f"{path}: 'invariants' must be an object")
        for inv_id, row in table.items():
            if inv_id != VALID and inv_id not in invariant_ids:
                raise ReportError(f"{path}: unknown invariant {inv_id!r}")
            counts: dict[str, Any] = {k: row.get(k) for k in COUNTS} if isinstance(row, dict) else {}
            if not counts or not all(type(v) is int and v >= 0 for v in counts.values()) or not sum(counts.values()):
                raise ReportError(f"{path}: invariants[{inv_id!r}]: {', '.join(COUNTS)} must be integers >= 0, not all 0")
            not_run = sum(1 for n in doc.get("not_run") or [] if isinstance(n, dict) and n.get("invariant") == inv_id)
            rows.setdefault((inv_id, dialect), []).append(Measured(release, counts, not_run))
        files.append(
            {"release": release, "dialect": dialect, "profile": doc.get("profile"), "seed": doc.get("seed"),
             "cases": doc.get("cases"), "path": path.name,
             "report": {k: doc.get(k) for k in ("dialect", "seed", "examples", "timeout", "known")}}
        )
    return Reports(files, rows)


PROFILE_TEXT = {
    Profile.REDUCER: "the dialect's reference reducer rejects a bundle that breaks it",
    Profile.WRITER: "what the reference writer guarantees; its reducer does not check it",
    Profile.STRICT: "hardening that no Codex component checks",
}


def _measured_md(inv: Invariant, dialect: str, reports: Reports | None, reference: dict[str, str]) -> str:
    found = reports.rows.get((inv.id, dialect), []) if reports else []
    if not found and inv.kit_only:
        return "not fuzzed: a limit of the kit, not a rule of the format"
    if not found:
        return "not measured yet"
    parts = []
    for m in found:
        text = m.summary()
        level = inv.level(dialect)
        if m.release == reference.get(dialect):
            if level is Profile.REDUCER and m.counts["accepts"]:
                text += " (the catalogue says this reducer rejects it)"
            elif level is not None and level is not Profile.REDUCER and m.counts["rejects"]:
                text += f" (the catalogue puts it in the {level.label} profile)"
        parts.append(text)
    return "; ".join(parts)


def catalogue_page(invariants: list[Invariant], dialects, reports: Reports | None, reports_dir: str) -> str:
    """``dialects``: the Dialect objects, in column order."""
    names = [d.name for d in dialects]
    reference = {d.name: d.reference_release for d in dialects}
    out = ["# Invariant catalogue\n"]
    out.append(
        "Every rule `rollout-trace validate` checks, generated from the validator's catalogue "
        "(`rollout-trace invariants` prints the same list). A rule belongs to a profile per dialect, "
        "the weakest that enforces it; each profile includes the ones before it:\n"
    )
    for p in Profile:
        out.append(f"- `{p.label}`: {PROFILE_TEXT[p]}.")
    out.append("")
    intro = (
        "*What the real Codex reducer does* comes from runs of the reducer harness "
        "(`rollout-trace fuzz-reducer`, which feeds a reducer bundles that each break one rule) "
        f"against real Codex releases, saved unedited in `{reports_dir}`"
    )
    if reports is None:
        out.append(f"{intro}. No run is there yet, so every entry says *not measured yet*.\n")
    else:
        covered = len({i for i, _ in reports.rows if i != VALID})
        out.append(f"{intro} ({covered} of {len(invariants)} invariants measured):\n")
        for f in reports.files:
            valid = [m for m in reports.rows.get((VALID, f["dialect"]), []) if m.release == f["release"]]
            extra = f"; it {valid[0].behaviour('valid bundle')}" if valid else ""
            out.append(
                f"- Codex {f['release']}, dialect {f['dialect']}: `{f['path']}`, {f['cases']} cases, "
                f"seed {f['seed']}, profile `{f['profile']}`{extra}. Made by (from the repository root):\n\n"
                f"        {recipe(f['release'], f['report'])}\n"
            )
        out.append("")
    head = " | ".join(names)
    out.append(f"| Invariant | {head} | Meaning |\n|---|{'---|' * len(names)}---|")
    for inv in invariants:
        levels = " | ".join((lv.label if (lv := inv.level(d)) else "—") for d in names)
        out.append(f"| [`{inv.id}`](#{invariant_anchor(inv.id)}) | {levels} | {cell(inv.meaning)} |")
    out.append("")
    groups: dict[str, list[Invariant]] = {}
    for inv in invariants:
        groups.setdefault(inv.id.split(".", 1)[0], []).append(inv)
    for group, invs in groups.items():
        out.append(f"## {group} {{#group-{group.lower()}}}\n")
        for inv in invs:
            out.append(f"### `{inv.id}` {{#{invariant_anchor(inv.id)}}}\n")
            out.append(f"{md_inline(inv.meaning)}\n")
            out.append("| | " + " | ".join(names) + " |\n|---|" + "---|" * len(names))
            out.append(
                "| Profile | "
                + " | ".join((f"`{lv.label}`" if (lv := inv.level(d)) else "not in this dialect") for d in names)
                + " |"
            )
            out.append(
                "| What the real Codex reducer does | "
                + " | ".join(cell(_measured_md(inv, d, reports, reference)) if inv.level(d) else "—" for d in names)
                + " |"
            )
            out.append("")
            out.append(f"- **Severity:** {inv.severity.value}")
            out.append(f"- **Source:** {cell(inv.source)}")
            if inv.notes:
                out.append(f"- **Notes:** {md_inline(inv.notes)}")
            out.append("")
    return "\n".join(out).rstrip() + "\n"
