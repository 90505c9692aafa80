"""Reports of a reducer fuzz run: human table, JSON, JUnit."""

from __future__ import annotations

import json
import sys

from ... import __version__, escape
from .fuzz import PASS, CaseResult
from .known import Verdict

REPORT_FORMAT = "rollout-trace-kit/reducer-report/1"


def report_dict(command: str, dialect: str, profile: str, seed: int, results: list[CaseResult],
                table: dict[str, dict], verdict: Verdict, skipped: int, seconds: float) -> dict:
    return {
        "format": REPORT_FORMAT,
        "kit_version": __version__,
        "command": command,
        "dialect": dialect,
        "profile": profile,
        "seed": seed,
        "cases": len(results),
        "skipped": skipped,
        "seconds": round(seconds, 2),
        "ok": verdict.ok,
        "results": {k: sum(r.result == k for r in results) for k in ("pass", "fail", "crash", "timeout", "error")},
        "invariants": table,
        "expected_failures": verdict.expected_failures,
        "new_failures": verdict.new_failures,
        "stale_known_results": [{"invariant": i, "why": w} for i, w in verdict.stale],
        "failures": [r.to_dict() for r in results if r.result != PASS],
    }


def render_json(doc: dict) -> str:
    return json.dumps(escape.tree(doc), indent=2, ensure_ascii=False) + "\n"


def render_junit(doc: dict, results: list[CaseResult]) -> str:
    failing = [r for r in results if r.result != PASS and r.spec.invariant not in doc["expected_failures"]]
    out = ['<?xml version="1.0" encoding="UTF-8"?>']
    out.append(
        f'<testsuite name={escape.xml_attr("rollout-trace fuzz-reducer " + doc["dialect"])} '
        f'tests="{len(results)}" failures="{len(failing)}">'
    )
    for r in results:
        out.append(f"  <testcase classname={escape.xml_attr('reducer.' + r.spec.invariant)} name={escape.xml_attr(r.spec.id)}>")
        if r.result != PASS:
            tag = "skipped" if r.spec.invariant in doc["expected_failures"] else "failure"
            msg = f"{r.result}: {r.detail}"
            body = escape.xml_text(msg) + (f"\nreplay: {escape.xml_text(r.repro)}" if r.repro else "")
            out.append(f"    <{tag} message={escape.xml_attr(msg)}>{body}</{tag}>")
        out.append("  </testcase>")
    for inv, why in doc_stale(doc):
        out.append(f"  <testcase classname=\"reducer.known-results\" name={escape.xml_attr(inv)}>")
        out.append(f"    <failure message={escape.xml_attr('stale known result: ' + why)}/>")
        out.append("  </testcase>")
    out.append("</testsuite>")
    return "\n".join(out) + "\n"


def doc_stale(doc: dict):
    return [(s["invariant"], s["why"]) for s in doc["stale_known_results"]]


def summary(doc: dict) -> str:
    r = doc["results"]
    return (
        f"{doc['cases']} cases in {doc['seconds']} s: {r['pass']} pass, {r['fail']} fail, {r['crash']} crash, "
        f"{r['timeout']} timeout, {r['error']} error; {len(doc['expected_failures'])} known, "
        f"{len(doc['new_failures'])} new failing invariant(s)" + (f"; {doc['skipped']} case(s) skipped" if doc["skipped"] else "")
    )


def print_human(doc: dict, file=None, color: str = "auto", quiet: bool = False) -> None:
    from rich.table import Table

    from ...output import console as make_console

    m = escape.rich_markup
    out = file or sys.stdout
    console = make_console(out, color, width=None if out.isatty() else 140)
    table = Table(title=m(f"{doc['command']}  (dialect {doc['dialect']}, profile {doc['profile']}, seed {doc['seed']})"))
    for col in ("invariant", "must reject", "cases", "rejects", "accepts", "crashes", "hangs", "verdict"):
        table.add_column(col)
    for inv, row in doc["invariants"].items():
        if row["failed"]:
            verdict = "[yellow]known[/]" if inv in doc["expected_failures"] else "[red]FAIL[/]"
        elif quiet:
            continue
        else:
            verdict = "[green]ok[/]"
        must = "yes" if row["must_reject"] else ("no (valid)" if inv == "VALID" else "no")
        table.add_row(m(inv), must, str(row["cases"]), str(row["rejects"]), str(row["accepts"]),
                      str(row["crashes"]), str(row["hangs"]), verdict)
    console.print(table)
    for f in doc["failures"]:
        if f["case"]["invariant"] in doc["expected_failures"]:
            continue
        console.print(f"[red]error[/] {m(f['result'])} {m(f['id'])}: {m(f['detail'])}")
        if f["repro"]:
            console.print(f"    replay: rollout-trace replay {m(f['repro'])} --cmd ...")
    for inv, why in doc_stale(doc):
        console.print(f"[red]error[/] stale known result {m(inv)}: {m(why)}")
    if not quiet:
        console.print(summary(doc))
