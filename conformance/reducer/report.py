"""Reports of a reducer fuzz run: human table, JSON, JUnit, GitHub annotations; and merging
the JSON reports of a campaign's shards.

JSON reports carry no machine paths: saved cases are given relative to the directory the
run started in, the home directory as ``~``. The console output keeps absolute paths, so
its replay commands can be pasted as they are.
"""

from __future__ import annotations

import json
import os
import re
import sys
from typing import Any

from ... import __version__, escape
from .fuzz import COUNTS, PASS, RESULTS, CaseResult, sort_table, summarise
from .known import Known, Verdict, judge

# 2: results "crash" (by exit contract and crash output) and "hang" (was "timeout"); "profile"
# may be "robustness"; "reject_exit", "not_run" and the oracles' "never_applied"
REPORT_FORMAT = "rollout-trace-kit/reducer-report/2"


def clean(text: str) -> str:
    """Text safe for a terminal or a CI log: control characters shown as escapes, line
    breaks kept (the report's own layout)."""
    return "\n".join(escape.display(line) for line in text.split("\n"))


_SCRATCH = re.compile(r"(?:/[^\s'\"]*)?/rtk-(?:fuzz|replay|preflight)-[A-Za-z0-9_]+")


def redact(text: str, repro_dir: str | None = None) -> str:
    """A path or command line without machine paths: the run's directory as ``.``, home as
    ``~``, a repro directory elsewhere by its own name, the harness's scratch directories as
    ``$TMP``."""
    if not text:
        return text
    text = _codex_binaries(text)
    cwd, home = os.getcwd(), os.path.expanduser("~")
    if repro_dir:
        absolute = os.path.abspath(repro_dir)
        if not absolute.startswith(cwd + os.sep):
            text = text.replace(absolute, os.path.basename(absolute))
    text = text.replace(cwd + os.sep, "").replace(cwd, ".")
    if home and home != "/":
        text = text.replace(home, "~")
    return _SCRATCH.sub("$TMP", text)


def _codex_binaries(text: str) -> str:
    """A Codex binary of the kit's npm cache written as the command that finds it on any
    machine: ``$(rollout-trace codex path VERSION)``."""
    from ...codex.install import cache_dir

    root = re.escape(str(cache_dir()))
    return re.sub(root + r"/codex-([0-9][0-9A-Za-z.+-]*)/node_modules/\S*?/codex(?=\s|$|['\"])",
                  lambda m: f"$(rollout-trace codex path {m.group(1)})", text)


def report_dict(command: str, dialect: str, profile: str, seed: int, results: list[CaseResult],
                table: dict[str, dict], verdict: Verdict, skipped: int, seconds: float, repro_dir: str | None = None,
                **extra) -> dict:
    failures = []
    for r in results:
        if r.result != PASS:
            d = r.to_dict()
            d["_repro_abs"], d["_replay_abs"] = d["repro"], d["replay"]  # for the console; not in JSON
            d["repro"] = redact(d["repro"], repro_dir) if d["repro"] else None
            for k in ("replay", "detail", "stderr_tail", "stdout_tail"):
                d[k] = redact(d[k], repro_dir)
            failures.append(d)
    return {
        "format": REPORT_FORMAT,
        "kit_version": __version__,
        "command": redact(command),
        "dialect": dialect,
        "profile": profile,
        "seed": seed,
        "cases": len(results),
        "skipped": skipped,
        "seconds": round(seconds, 2),
        "ok": verdict.ok,
        "results": {k: sum(r.result == k for r in results) for k in RESULTS},
        "invariants": table,
        "expected_failures": verdict.expected_failures,
        "new_failures": verdict.new_failures,
        "stale_known_results": [{"invariant": i, "why": w} for i, w in verdict.stale],
        **extra,
        "failures": failures,
    }


def build_report(campaign, command: str, known: Known, seconds: float, *, examples: int | None = None,
                 timeout: float | None = None, known_file: str | None = None) -> dict:
    """The campaign's report; ``examples``, ``timeout`` and the known-results file's name make
    it state its own recipe (codex/reducer_reports.py rebuilds the command from them)."""
    from .fuzz import per_invariant
    from .oracles import transforms_for

    from .oracles import never_applied

    results = campaign.results
    table = per_invariant(results)
    verdict = judge(table, known)
    oracles = campaign.oracles
    summary = {}
    for name in oracles.names:
        seen = [r.oracles[name] for r in results if name in r.oracles]
        summary[name] = {k: seen.count(k) for k in ("pass", "fail", "n/a")}
    return report_dict(
        command, campaign.dialect, campaign.claim.label, campaign.seed, results, table, verdict,
        len(campaign.skipped), seconds, repro_dir=str(campaign.repro_dir) if campaign.repro_dir else None,
        shard=f"{campaign.shard[0]}/{campaign.shard[1]}",
        reject_exit=list(campaign.command.reject_exit),
        not_run=[{"id": r.id, "invariant": r.spec.invariant, "why": r.detail} for r in campaign.not_run],
        oracles={
            "enabled": oracles.names,
            "explicit": list(oracles.explicit),
            "normalizer": oracles.normalizer.name,
            "transforms": [t.name for t in transforms_for(campaign.dialect, campaign.claim.profile, oracles.skip_transforms)]
            if oracles.metamorphic else [],
            "results": summary,
            "never_applied": never_applied(results, oracles),
        },
        eligible=campaign.eligible,
        never_exercised=campaign.never_exercised(),
        mode=campaign.mode,
        **({"release": campaign.release} if campaign.release else {}),  # reports without one keep their shape
        model_coverage=campaign.model_coverage(),
        examples=examples,
        timeout=timeout,
        known=os.path.basename(known_file) if known_file else None,
    )


# -- merging shards -------------------------------------------------------------------------


class ReportMergeError(ValueError):
    pass


_COUNT = {"type": "integer", "minimum": 0}
_STR_OR_NULL = {"type": ["string", "null"]}
# What merging and rendering read of a shard's JSON report (written by render_json): a report
# edited by hand, or any other JSON, is refused with the place that is wrong, not a traceback.
SHARD_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["format", "command", "dialect", "profile", "seed", "cases", "results", "invariants", "failures"],
    "properties": {
        "format": {"const": REPORT_FORMAT},
        "command": {"type": "string"},
        "dialect": {"type": "string"},
        "profile": {"type": "string"},
        "seed": {"type": "integer"},
        "mode": {"type": "string"},
        "release": _STR_OR_NULL,
        "shard": {"type": "string"},
        "reject_exit": {"type": "array", "items": {"type": "integer"}},
        "not_run": {"type": "array", "items": {"type": "object", "required": ["id", "invariant", "why"], "properties": {
            "id": {"type": "string"}, "invariant": {"type": "string"}, "why": {"type": "string"}}}},
        "cases": _COUNT,
        "skipped": _COUNT,
        "seconds": {"type": "number", "minimum": 0},
        "results": {"type": "object", "additionalProperties": _COUNT},
        "invariants": {"type": "object", "additionalProperties": {
            "type": "object",
            "properties": {**{k: _COUNT for k in COUNTS}, "wrong_output": _COUNT, "must_reject": {"type": "boolean"}},
        }},
        "eligible": {"type": "array", "items": {"type": "string"}},
        "oracles": {"type": ["object", "null"], "properties": {
            "normalizer": {"type": "string"},
            "explicit": {"type": "array", "items": {"type": "string"}},
            "never_applied": {"type": "object", "additionalProperties": {"type": "string"}},
            "results": {"type": "object", "additionalProperties": {
                "type": "object", "properties": {k: _COUNT for k in ("pass", "fail", "n/a")}}},
        }},
        "failures": {"type": "array", "items": {
            "type": "object",
            "required": ["id", "case", "result", "detail", "replay"],
            "properties": {
                "id": {"type": "string"},
                "case": {"type": "object", "required": ["invariant"], "properties": {"invariant": {"type": "string"}}},
                "result": {"type": "string"},
                "detail": {"type": "string"},
                "diff": {"type": "array", "items": {"type": "string"}},
                "finding": {"type": ["object", "null"], "required": ["invariant", "message"], "properties": {
                    "invariant": {"type": "string"}, "message": {"type": "string"}, "profile": {"type": "string"},
                    "file": _STR_OR_NULL, "line": {"type": ["integer", "null"]}, "seq": {"type": ["integer", "null"]},
                }},
                "stderr_tail": {"type": "string"},
                "repro": _STR_OR_NULL,
                "replay": {"type": "string"},
            },
        }},
    },
}


def _shard_problem(doc: Any) -> str | None:
    """Why ``doc`` is not a shard report merging can read; None when it is."""
    import jsonschema

    try:
        error = jsonschema.exceptions.best_match(jsonschema.Draft202012Validator(SHARD_SCHEMA).iter_errors(doc))
    except RecursionError:
        return "it nests deeper than a report does"
    if error is None:
        return None
    where = "".join(f"[{p!r}]" for p in error.absolute_path) or "the document"
    return f"{where}: {escape.display(error.message[:200])}"


def merge_reports(docs: list[Any], names: list[str], known: Known) -> dict:  # docs: parsed JSON, checked here
    """One report from the shards' reports: same command, dialect, profile and seed."""
    same = ("command", "dialect", "profile", "seed", "reject_exit", "mode", "release")
    for doc, name in zip(docs, names):
        if not isinstance(doc, dict) or doc.get("format") != REPORT_FORMAT:
            raise ReportMergeError(f"{name}: not a {REPORT_FORMAT} report (fuzz-reducer --format json)")
        problem = _shard_problem(doc)
        if problem:
            raise ReportMergeError(f"{name}: not a report fuzz-reducer wrote: {problem}")
        for k in same:
            if doc.get(k) != docs[0].get(k):
                raise ReportMergeError(f"{name}: {k} {doc.get(k)!r} differs from {names[0]}'s {docs[0].get(k)!r}: "
                                       "not shards of one campaign")
    shards = [d.get("shard", "1/1") for d in docs]
    if len(set(shards)) != len(shards):
        raise ReportMergeError(f"the same shard given twice: {', '.join(sorted(shards))}")
    table: dict[str, dict] = {}
    for doc in docs:
        for inv, row in doc.get("invariants", {}).items():
            acc = table.setdefault(inv, {k: 0 for k in COUNTS} | {"must_reject": False})
            for k in COUNTS:
                acc[k] += int(row.get(k, 0))
            if row.get("wrong_output"):
                acc["wrong_output"] = acc.get("wrong_output", 0) + int(row["wrong_output"])
            acc["must_reject"] = acc["must_reject"] or bool(row.get("must_reject"))
    for row in table.values():
        row["summary"] = summarise(row)
    table = sort_table(table)
    verdict = judge(table, known)
    exercised = set(table)
    eligible = sorted(set().union(*(d.get("eligible", []) for d in docs)))
    oracle_results: dict[str, dict] = {}
    for doc in docs:
        for name, counts in (doc.get("oracles") or {}).get("results", {}).items():
            acc = oracle_results.setdefault(name, {"pass": 0, "fail": 0, "n/a": 0})
            for k in acc:
                acc[k] += int(counts.get(k, 0))
    first_oracles = docs[0].get("oracles") or {}
    # an oracle never applied in the whole campaign: in no shard did it judge a case
    never = {name: why for name, why in (first_oracles.get("never_applied") or {}).items()
             if all(name in ((d.get("oracles") or {}).get("never_applied") or {}) for d in docs)}
    return {
        "format": REPORT_FORMAT,
        **{k: docs[0].get(k) for k in same if k in docs[0]},
        "shards": sorted(shards),
        "cases": sum(d.get("cases", 0) for d in docs),
        "skipped": sum(d.get("skipped", 0) for d in docs),
        "seconds": round(sum(d.get("seconds", 0) for d in docs), 2),
        "ok": verdict.ok,
        "results": {k: sum(d.get("results", {}).get(k, 0) for d in docs) for k in RESULTS},
        "invariants": table,
        "expected_failures": verdict.expected_failures,
        "new_failures": verdict.new_failures,
        "stale_known_results": [{"invariant": i, "why": w} for i, w in verdict.stale],
        "reject_exit": docs[0].get("reject_exit", [1]),
        "not_run": [n for d in docs for n in d.get("not_run", [])],
        "oracles": {**first_oracles, "results": oracle_results, "never_applied": never},
        "eligible": eligible,
        "never_exercised": [i for i in eligible if i not in exercised],
        "failures": [f for d in docs for f in d.get("failures", [])],
        **({"model_coverage": cov} if (cov := merged_coverage(docs)) is not None else {}),
    }


def merged_coverage(docs: list[dict]) -> dict | None:
    """The campaign's model coverage from its shards': what no shard exercised is missing (the
    shards of one campaign measure against one universe). None when a shard's report has none."""
    parts = [p for d in docs if isinstance(p := d.get("model_coverage"), dict)]
    if not parts or len(parts) != len(docs):
        return None
    out = {}
    for category in parts[0]:
        rows: list[dict] = [r for p in parts if isinstance(r := p.get(category), dict)
                            and isinstance(r.get("total"), int) and isinstance(r.get("missing"), list)]
        if len(rows) != len(parts):
            return None
        missing = sorted(set.intersection(*(set(map(str, r["missing"])) for r in rows)))
        never = rows[0].get("never_valid")
        out[category] = {"covered": rows[0]["total"] - len(missing), "total": rows[0]["total"], "missing": missing,
                         **({"never_valid": {str(k): str(v) for k, v in never.items()}} if isinstance(never, dict) else {})}
    return out


# -- rendering ------------------------------------------------------------------------------


def render(doc: dict, fmt: str, results: list[CaseResult] | None) -> str:
    """The report in a machine format (the human one is :func:`print_human`'s)."""
    if fmt == "json":
        return render_json(doc)
    if fmt == "junit":
        return render_junit(doc, results)
    if fmt == "github":
        return render_github(doc)
    raise ValueError(f"unknown report format {fmt!r}")


def render_json(doc: dict) -> str:
    public = dict(doc, failures=[{k: v for k, v in f.items() if not k.startswith("_")} for f in doc["failures"]])
    return json.dumps(escape.tree(public), indent=2, ensure_ascii=True) + "\n"


def render_junit(doc: dict, results: list[CaseResult] | None = None) -> str:
    quoteattr, xml_escape = escape.xml_attr, escape.xml_text

    known = set(doc["expected_failures"])
    failures = {f["id"]: f for f in doc["failures"]}
    cases = [(r.spec.invariant, r.spec.id) for r in results] if results is not None else \
        [(f["case"]["invariant"], f["id"]) for f in doc["failures"]]
    failing = [f for f in doc["failures"] if f["case"]["invariant"] not in known]
    out = ['<?xml version="1.0" encoding="UTF-8"?>']
    out.append(
        f'<testsuite name={quoteattr("rollout-trace fuzz-reducer " + str(doc["dialect"]))} '
        f'tests="{len(cases)}" failures="{len(failing)}">'
    )
    for inv, cid in cases:
        out.append(f"  <testcase classname={quoteattr('reducer.' + inv)} name={quoteattr(cid)}>")
        f = failures.get(cid)
        if f is not None:
            tag = "skipped" if inv in known else "failure"
            # clean(): XML 1.0 cannot hold most control characters, even escaped
            msg = clean(f"{f['result']}: {f['detail']}")
            body = "\n".join(_failure_lines(f))
            out.append(f"    <{tag} message={quoteattr(msg)}>{xml_escape(clean(body))}</{tag}>")
        out.append("  </testcase>")
    for inv, why in doc_stale(doc):
        out.append(f"  <testcase classname=\"reducer.known-results\" name={quoteattr(inv)}>")
        out.append(f"    <failure message={quoteattr(clean('stale known result: ' + why))}/>")
        out.append("  </testcase>")
    out.append("</testsuite>")
    return "\n".join(out) + "\n"


def _gh(text: str, prop: bool = False) -> str:
    """Escape for a GitHub workflow command (data, or a property when ``prop``); the
    message's own lines become ``%0A``."""
    if prop:
        return escape.github_property(text)
    return "%0A".join(escape.github_message(line) for line in text.split("\n"))


def render_github(doc: dict) -> str:
    """GitHub Actions annotations: one ``::error`` per new failure and stale entry, then a notice."""
    known = set(doc["expected_failures"])
    out = []
    for f in doc["failures"]:
        if f["case"]["invariant"] in known:
            continue
        title = _gh(f"reducer {f['result']}: {f['case']['invariant']}", prop=True)
        out.append(f"::error title={title}::{_gh(clean(chr(10).join(_failure_lines(f))))}")
    for inv, why in doc_stale(doc):
        out.append(f"::error title={_gh('stale known result ' + inv, prop=True)}::{_gh(clean(why))}")
    out.append(f"::notice title=rollout-trace fuzz-reducer::{_gh(clean(_summary_line(doc)))}")
    return "\n".join(out) + "\n"


def doc_stale(doc: dict):
    return [(s["invariant"], s["why"]) for s in doc["stale_known_results"]]


def _failure_lines(f: dict) -> list[str]:
    """What a failure says: the result, the kit's finding, the saved case and its replay command."""
    d_ = escape.display  # every piece taken from a report is one line: the layout's breaks are ours
    lines = [f"{d_(f['result'])} {d_(f['id'])}: {d_(f['detail'])}"]
    for d in f.get("diff") or []:
        lines.append(f"    {d_(d)}")
    k = f.get("finding")
    if k:
        where = ", ".join(x for x in (k.get("file"), f"line {k['line']}" if k.get("line") else "",
                                      f"seq {k['seq']}" if k.get("seq") is not None else "") if x)
        lines.append(f"    kit finding: {d_(k['invariant'])} [{d_(k.get('profile', ''))}] {d_(where)}: {d_(k['message'])}")
    elif f["case"]["invariant"] == "VALID":
        lines.append("    kit finding: none (a valid bundle)")
    tail = (f.get("stderr_tail") or "").strip().splitlines()[-3:]
    for t in tail:
        lines.append(f"    stderr: {d_(t[:300])}")
    if f.get("repro"):
        lines.append(f"    saved: {d_(f.get('_repro_abs') or f['repro'])}")
        lines.append(f"    replay: {d_(f.get('_replay_abs') or f['replay'])}")
    return lines


def _summary_line(doc: dict) -> str:
    r = doc["results"]
    parts = ", ".join(f"{r.get(k, 0)} {k}" for k in RESULTS)
    text = (f"{doc['cases']} cases in {doc['seconds']} s (seed {doc['seed']}): {parts}; "
            f"{len(doc['expected_failures'])} known, {len(doc['new_failures'])} new failing invariant(s)")
    if doc.get("skipped"):
        text += f"; {doc['skipped']} case(s) skipped"
    return text


def print_human(doc: dict, file=None, summary_only: bool = False, color: str = "auto", quiet: bool = False) -> None:
    from rich.markup import escape as mx

    from ...output import console as make_console
    from rich.table import Table

    out = file or sys.stdout
    console = make_console(out, color, width=None if out.isatty() else 140)
    if not summary_only:
        as_release = (f", as Codex {doc['release']} {'reads' if doc.get('mode') == 'schema' else 'writes'}"
                      if doc.get("release") else "")
        title = escape.display(f"{doc['command']}  (dialect {doc['dialect']}{as_release}, profile {doc['profile']}, "
                               f"seed {doc['seed']})")
        # the title on a line of its own: as a table title it would wrap at the table's width
        console.print(f"[italic]{mx(title)}[/]", soft_wrap=True)
        table = Table()
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
            table.add_row(mx(escape.display(inv)), must, str(row["cases"]), str(row["rejects"]), str(row["accepts"]),
                          str(row["crashes"]), str(row["hangs"]), verdict)
        console.print(table)
    for f in doc["failures"]:
        if f["case"]["invariant"] in doc["expected_failures"]:
            continue
        lines = _failure_lines(f)
        # soft_wrap: a replay command must stay one line that can be pasted
        console.print(f"[red]{mx(clean(lines[0]))}[/]", soft_wrap=True)
        for line in lines[1:]:
            console.print(mx(clean(line)), soft_wrap=True)
    for inv, why in doc_stale(doc):
        console.print(f"[red]stale known result[/] {mx(escape.display(inv))}: {mx(escape.display(why))}")
    o = doc.get("oracles") or {}
    for name, counts in (o.get("results") or {}).items():
        n = {k: mx(escape.display(str(counts.get(k)))) for k in ("pass", "fail", "n/a")}  # a merged report is input
        console.print(f"oracle {mx(escape.display(str(name)))}: {n['pass']} pass, {n['fail']} fail, {n['n/a']} not "
                      "applicable" + (f" (normalizer {mx(escape.display(str(o.get('normalizer', 'none'))))})"
                                      if name != "coverage" else ""), soft_wrap=True)
    for name, why in (o.get("never_applied") or {}).items():
        asked = name in (o.get("explicit") or [])
        console.print(f"[{'red' if asked else 'yellow'}]oracle {mx(clean(name))} never applied[/]: {mx(clean(why))}",
                      soft_wrap=True)
    not_run = doc.get("not_run") or []
    if not_run:
        invs = sorted({mx(escape.display(str(n.get("invariant")))) for n in not_run})
        console.print(f"not run: {len(not_run)} case(s) of known hang(s) {', '.join(invs)} after one hung "
                      "(a known hang costs at most one timeout)", soft_wrap=True)
    coverage = doc.get("model_coverage")
    if isinstance(coverage, dict):
        from .coverage import console_lines

        console.print(f"model coverage ({mx(escape.display(str(doc.get('mode', 'releases'))))} mode):")
        for line in console_lines(coverage):
            console.print(mx(escape.display(line)), soft_wrap=True)
    never = doc.get("never_exercised") or []
    if never:
        shown = ", ".join(never[:12]) + (f" and {len(never) - 12} more (all in the JSON report)" if len(never) > 12 else "")
        console.print(f"[yellow]never exercised[/]: {len(never)} rule(s), raise --examples: {mx(escape.display(shown))}",
                      soft_wrap=True)
    if not quiet:
        console.print(mx(escape.display(_summary_line(doc))), soft_wrap=True)
