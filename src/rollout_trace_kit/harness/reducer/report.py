"""Reports of a reducer fuzz run: human table, JSON, JUnit."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from xml.sax.saxutils import escape, quoteattr

from .fuzz import PASS, CaseResult
from .known import Verdict

REPORT_FORMAT = "rollout-trace-kit/reducer-report/1"


_ABSOLUTE = re.compile(r"(?<![\w.{}-])/[^\s'\"]*/([^\s/'\"]+)")


def redact_paths(text: str) -> str:
    """Absolute paths cut to their last component: a published report names no machine's folders."""
    return _ABSOLUTE.sub(r"\1", text)


def report_dict(command: str, dialect: str, profile: str, seed: int, results: list[CaseResult],
                table: dict[str, dict], verdict: Verdict, skipped: int, seconds: float,
                *, examples: int | None = None, timeout: float | None = None, known: str | None = None,
                repro_dir: str | None = None) -> dict:
    return {
        "format": REPORT_FORMAT,
        "command": redact_paths(command),
        "dialect": dialect,
        "profile": profile,
        "seed": seed,
        "examples": examples,
        "timeout": timeout,
        "known": Path(known).name if known else None,
        "repro_dir": redact_paths(repro_dir) if repro_dir else None,  # failures' "repro" are folders in it
        "cases": len(results),
        "skipped": skipped,
        "seconds": round(seconds, 2),
        "ok": verdict.ok,
        "results": {k: sum(r.result == k for r in results) for k in ("pass", "fail", "crash", "timeout", "error")},
        "invariants": table,
        "expected_failures": verdict.expected_failures,
        "new_failures": verdict.new_failures,
        "stale_known_results": [{"invariant": i, "why": w} for i, w in verdict.stale],
        # by case id: parallel runs finish in any order, the published report must not
        "failures": sorted((_relative_repro(r.to_dict()) for r in results if r.result != PASS), key=lambda f: f["id"]),
    }


def _relative_repro(failure: dict) -> dict:
    """The saved case as a folder name inside --repro-dir, not a path of this machine."""
    if failure.get("repro"):
        failure["repro"] = Path(failure["repro"]).name
    failure["detail"] = redact_paths(failure.get("detail") or "")
    return failure


def render_json(doc: dict) -> str:
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


def render_junit(doc: dict, results: list[CaseResult]) -> str:
    failing = [r for r in results if r.result != PASS and r.spec.invariant not in doc["expected_failures"]]
    out = ['<?xml version="1.0" encoding="UTF-8"?>']
    out.append(
        f'<testsuite name={quoteattr("rollout-trace fuzz-reducer " + doc["dialect"])} '
        f'tests="{len(results)}" failures="{len(failing)}">'
    )
    for r in results:
        out.append(f"  <testcase classname={quoteattr('reducer.' + r.spec.invariant)} name={quoteattr(r.spec.id)}>")
        if r.result != PASS:
            tag = "skipped" if r.spec.invariant in doc["expected_failures"] else "failure"
            msg = f"{r.result}: {r.detail}"
            body = f"{msg}\nreplay: {r.repro}" if r.repro else msg
            out.append(f"    <{tag} message={quoteattr(msg)}>{escape(body)}</{tag}>")
        out.append("  </testcase>")
    for inv, why in doc_stale(doc):
        out.append(f"  <testcase classname=\"reducer.known-results\" name={quoteattr(inv)}>")
        out.append(f"    <failure message={quoteattr('stale known result: ' + why)}/>")
        out.append("  </testcase>")
    out.append("</testsuite>")
    return "\n".join(out) + "\n"


def doc_stale(doc: dict):
    return [(s["invariant"], s["why"]) for s in doc["stale_known_results"]]


def print_human(doc: dict, file=None) -> None:
    from rich.console import Console
    from rich.table import Table

    out = file or sys.stdout
    console = Console(file=out, highlight=False, width=None if out.isatty() else 140)
    table = Table(title=f"{doc['command']}  (dialect {doc['dialect']}, profile {doc['profile']}, seed {doc['seed']})")
    for col in ("invariant", "must reject", "cases", "rejects", "accepts", "crashes", "hangs", "verdict"):
        table.add_column(col)
    for inv, row in doc["invariants"].items():
        if row["failed"]:
            verdict = "[yellow]known[/]" if inv in doc["expected_failures"] else "[red]FAIL[/]"
        else:
            verdict = "[green]ok[/]"
        must = "yes" if row["must_reject"] else ("no (valid)" if inv == "VALID" else "no")
        table.add_row(inv, must, str(row["cases"]), str(row["rejects"]), str(row["accepts"]),
                      str(row["crashes"]), str(row["hangs"]), verdict)
    console.print(table)
    for f in doc["failures"]:
        if f["case"]["invariant"] in doc["expected_failures"]:
            continue
        console.print(f"[red]{f['result']}[/] {f['id']}: {f['detail']}")
        if f["repro"]:
            where = f"{doc['repro_dir']}/{f['repro']}" if doc.get("repro_dir") else f["repro"]
            console.print(f"    replay: rollout-trace replay {where} --cmd ...")
    for inv, why in doc_stale(doc):
        console.print(f"[red]stale known result[/] {inv}: {why}")
    r = doc["results"]
    console.print(
        f"{doc['cases']} cases in {doc['seconds']} s: {r['pass']} pass, {r['fail']} fail, {r['crash']} crash, "
        f"{r['timeout']} timeout, {r['error']} error; {len(doc['expected_failures'])} known, "
        f"{len(doc['new_failures'])} new failing invariant(s)" + (f"; {doc['skipped']} case(s) skipped" if doc["skipped"] else "")
    )
