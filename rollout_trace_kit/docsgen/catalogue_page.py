"""The invariant catalogue page, and the reducer-harness report it quotes.

The "what the real Codex reducer does" column is read from a JSON report the
reducer harness writes (``docs/data/codex-reducer-report.json``); without one,
or for an invariant the report does not cover, the page says "not measured yet".
Nothing in that column is typed by hand.

Report format (``"format": "codex-reducer-report/1"``)::

    {
      "format": "codex-reducer-report/1",
      "generated_by": "rollout-trace fuzz-reducer ... (free text: command, kit version, date)",
      "reducers": {"v1": "0.164.0", "v2": "0.169.0"},        # dialect -> Codex release run
      "results": {
        "SEQ.NO_GAP": {                                       # an invariant id of the catalogue
          "v2": {"accepted": 0, "rejected": 20, "timeout": 0, "crashed": 0,
                 "example_error": "missing or reordered trace event 4"}
        }
      }
    }

Counts are broken bundles (each breaking that one invariant) by what the reducer
did: exit 0 (accepted), a clean error exit (rejected), killed after the time
limit (timeout), or a crash (signal or panic). ``example_error`` is the first
error line of one rejection, or null.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from ..validate.findings import Invariant, Profile
from .model_pages import cell, md_inline

REPORT_FORMAT = "codex-reducer-report/1"
OUTCOMES = ("accepted", "rejected", "timeout", "crashed")


class ReportError(ValueError):
    pass


@dataclass(frozen=True)
class Measured:
    release: str
    counts: dict[str, int]
    example_error: str | None

    @property
    def cases(self) -> int:
        return sum(self.counts.values())

    def summary(self) -> str:
        n = self.cases
        c = self.counts
        if c["accepted"] == n:
            text = f"accepts all {n}"
        elif c["rejected"] == n:
            text = f"rejects all {n}"
        else:
            text = ", ".join(f"{verb} {c[k]}" for k, verb in (
                ("rejected", "rejects"), ("accepted", "accepts"), ("timeout", "hangs on"), ("crashed", "crashes on")
            ) if c[k]) + f" of {n}"
        return f"Codex {self.release} {text} broken bundle{'s' if n != 1 else ''}"


def load_report(path: Path, invariant_ids: set[str], dialects: set[str]) -> dict[tuple[str, str], Measured] | None:
    """(invariant id, dialect) -> measurement; None when there is no report file."""
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise ReportError(f"{path}: not a JSON document: {e}") from None
    if not isinstance(data, dict) or data.get("format") != REPORT_FORMAT:
        raise ReportError(f"{path}: 'format' must be {REPORT_FORMAT!r}")
    reducers = data.get("reducers")
    if not isinstance(reducers, dict) or not all(isinstance(v, str) for v in reducers.values()):
        raise ReportError(f"{path}: 'reducers' must map a dialect to a Codex release")
    results = data.get("results")
    if not isinstance(results, dict):
        raise ReportError(f"{path}: 'results' must be an object")
    out: dict[tuple[str, str], Measured] = {}
    for inv_id, per_dialect in results.items():
        if inv_id not in invariant_ids:
            raise ReportError(f"{path}: unknown invariant {inv_id!r}")
        if not isinstance(per_dialect, dict):
            raise ReportError(f"{path}: results[{inv_id!r}] must be an object")
        for dialect, row in per_dialect.items():
            if dialect not in dialects or dialect not in reducers:
                raise ReportError(f"{path}: results[{inv_id!r}]: unknown dialect {dialect!r} (or no reducer for it)")
            if not isinstance(row, dict):
                raise ReportError(f"{path}: results[{inv_id!r}][{dialect!r}] must be an object")
            counts = {k: row.get(k, 0) for k in OUTCOMES}
            if not all(type(v) is int and v >= 0 for v in counts.values()) or not sum(counts.values()):
                raise ReportError(f"{path}: results[{inv_id!r}][{dialect!r}]: counts must be integers >= 0, not all 0")
            extra = set(row) - set(OUTCOMES) - {"example_error"}
            if extra:
                raise ReportError(f"{path}: results[{inv_id!r}][{dialect!r}]: unknown keys {sorted(extra)}")
            err = row.get("example_error")
            if err is not None and not isinstance(err, str):
                raise ReportError(f"{path}: results[{inv_id!r}][{dialect!r}]: example_error must be a string or null")
            out[(inv_id, dialect)] = Measured(reducers[dialect], counts, err)
    return out


def invariant_anchor(inv_id: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", inv_id.lower()).strip("-")


PROFILE_TEXT = {
    Profile.REDUCER: "the dialect's reference reducer rejects a bundle that breaks it",
    Profile.WRITER: "what the reference writer guarantees; its reducer does not check it",
    Profile.STRICT: "hardening that no Codex component checks",
}


def _measured_md(inv: Invariant, dialect: str, report) -> str:
    if report is None or (inv.id, dialect) not in report:
        return "not measured yet"
    m = report[(inv.id, dialect)]
    text = m.summary()
    if m.example_error:
        text += f': "{cell(m.example_error)}"'
    level = inv.level(dialect)
    enforced = m.counts["rejected"] + m.counts["crashed"] > 0
    if level is Profile.REDUCER and m.counts["accepted"]:
        text += " (the catalogue says this reducer rejects it)"
    elif level is not None and level is not Profile.REDUCER and enforced:
        text += f" (the catalogue says only the {level.label} profile checks it)"
    return text


def catalogue_page(invariants: list[Invariant], dialects: list[str], report, report_path: str) -> str:
    out = ["# Invariant catalogue\n"]
    out.append(
        "Every rule `rollout-trace validate` checks, generated from the validator's catalogue "
        "(`rollout-trace invariants` prints the same list). A rule belongs to a profile per dialect, "
        "the weakest that enforces it; each profile includes the ones before it:\n"
    )
    for p in Profile:
        out.append(f"- `{p.label}`: {PROFILE_TEXT[p]}.")
    out.append("")
    if report is None:
        out.append(
            f"*What the real Codex reducer does* is measured by the reducer harness; no report "
            f"(`{report_path}`) exists yet, so every entry says *not measured yet*.\n"
        )
    else:
        covered = len({i for i, _ in report})
        out.append(
            f"*What the real Codex reducer does* comes from the reducer-harness report `{report_path}` "
            f"({covered} of {len(invariants)} invariants measured).\n"
        )
    head = " | ".join(dialects)
    out.append(f"| Invariant | {head} | Meaning |\n|---|{'---|' * len(dialects)}---|")
    for inv in invariants:
        levels = " | ".join((inv.level(d).label if inv.level(d) else "—") for d in dialects)
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
            out.append("| | " + " | ".join(dialects) + " |\n|---|" + "---|" * len(dialects))
            out.append(
                "| Profile | "
                + " | ".join((f"`{inv.level(d).label}`" if inv.level(d) else "not in this dialect") for d in dialects)
                + " |"
            )
            out.append(
                "| What the real Codex reducer does | "
                + " | ".join(_measured_md(inv, d, report) if inv.level(d) else "—" for d in dialects)
                + " |"
            )
            out.append("")
            out.append(f"- **Severity:** {inv.severity.value}")
            out.append(f"- **Source:** {cell(inv.source)}")
            if inv.notes:
                out.append(f"- **Notes:** {md_inline(inv.notes)}")
            out.append("")
    return "\n".join(out).rstrip() + "\n"
