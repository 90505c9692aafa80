"""The report of a run: disagreement rates per dialect, layer, mutator and release (JSON), the
saved cases (a shrunk bundle, both verdicts, a summary and the commands that replay it), and the
reference page ``docs/reference/differential.md`` rendered from a committed report."""

from __future__ import annotations

import json
import os
import re
import shlex
from pathlib import Path
from typing import Any

from ... import escape
from .engine import Case, Result, Run
from .judge import OUTCOMES, write_bundle
from .mutators import LAYERS, MIX

FORMAT = "rollout-trace-kit/codex-diff/1"
DOCS_DATA = "docs/data/codex-diff.json"  # the committed report the reference page is made from
# reports of the full runs (100,000 mutants per dialect, issue 18's target), one per release, saved unedited
FULL_RUNS = "docs/data/codex-diff-full"
PAGE = "reference/differential.md"


def _rates(results: list[Result]) -> dict[str, Any]:
    counts = {o: 0 for o in OUTCOMES}
    for r in results:
        counts[r.outcome] += 1
    judged = counts["agree"] + counts["disagree"]
    return {"mutants": len(results), **counts,
            "disagreement_rate": round(counts["disagree"] / judged, 5) if judged else 0.0}


def _group(results: list[Result], attr: str) -> dict[str, dict]:
    out: dict[str, list[Result]] = {}
    for r in results:
        out.setdefault(getattr(r, attr), []).append(r)
    return {k: _rates(v) for k, v in sorted(out.items())}


def case_id(rank: int, case: Case) -> str:
    layer, mutator, direction, _ = case.key
    return re.sub(r"[^a-z0-9._-]", "_", f"{rank:03d}-{mutator}-{direction}")


def replay_commands(run: Run, case: Case, where: str | None) -> list[str]:
    q = shlex.quote
    cmds = [f"rollout-trace codex diff --release {q(run.release)} --seed {run.seed} --mutations {run.mutations} "
            f"--only {case.example.index}"]
    if where:
        cmds = [f"rollout-trace validate --profile reducer --release {q(run.release)} {q(where + '/bundle')}",
                f"\"$(rollout-trace codex path {q(run.release)})\" debug trace-reduce {q(where + '/bundle')} -o /tmp/state.json",
                *cmds]
    return cmds


def case_dict(run: Run, rank: int, case: Case, where: str | None) -> dict[str, Any]:
    layer, mutator, direction, cls = case.key
    ex = case.example
    d: dict[str, Any] = {
        "id": case_id(rank, case), "layer": layer, "mutator": mutator, "direction": direction, "class": cls,
        "count": case.count,
        "example": {"index": ex.index, "seed": ex.seed, "reducer_error": ex.reducer_error,
                    "kit_errors": [f["invariant"] for f in ex.kit_findings]},
        "replay": replay_commands(run, case, where),
    }
    j = case.shrunk_judged
    if case.shrunk is not None:
        d["shrunk"] = {"events": len(case.shrunk.lines), "payload_files": len(case.shrunk.payloads)}
        if j is not None:
            d["shrunk"].update(still_disagrees=j.outcome == "disagree", kit_ok=j.kit.ok,
                               reducer_accepts=j.ref.accepted, reducer_error=j.ref.first_error,
                               kit_findings=[{k: f.get(k) for k in ("invariant", "message", "file", "line", "pointer")}
                                             for f in j.kit.findings[:10]])
    return d


def run_dict(run: Run, out: Path | None = None) -> dict[str, Any]:
    """A run's rates and classes. ``out`` (the directory cases are saved under) makes the replay
    commands name the saved bundles; without it the report holds no machine path (each class
    still names its saved case as ``RELEASE/CASE_ID`` under ``--out``)."""
    cases = []
    for rank, case in enumerate(run.cases, 1):
        where = f"{out.as_posix()}/{run.release}/{case_id(rank, case)}" if out is not None else None
        d = case_dict(run, rank, case, where)
        if case.saved is not None:
            d["case"] = f"{run.release}/{case_id(rank, case)}"
        cases.append(d)
    return {
        "release": run.release, "dialect": run.dialect, "seed": run.seed, "mutations": run.mutations,
        "not_applicable": run.skipped, **_rates(run.results),
        "by_layer": _group(run.results, "layer"), "by_mutator": _group(run.results, "mutator"),
        "classes": cases,
    }


def report_dict(runs: list[Run], command: str, out: Path | None = None) -> dict[str, Any]:
    from ...store.zstd import zstd_version_info

    # the libzstd the kit linked: the kit's verdicts must not depend on it (store/empty_blocks.py),
    # but the generated seeds' compressed bytes, and so a mutant's, may
    return {"format": FORMAT, "command": command, "libzstd": ".".join(map(str, zstd_version_info)), "mix": MIX,
            "runs": [run_dict(r, out) for r in runs]}


def save_cases(run: Run, out: Path) -> list[Path]:
    """Each class's shrunk bundle under ``out/RELEASE/CASE_ID/``: ``bundle/``, ``case.json`` (both
    verdicts) and ``summary.txt`` (escaped: the strings come from hostile input)."""
    saved = []
    for rank, case in enumerate(run.cases, 1):
        if case.shrunk is None:
            continue
        d = out / run.release / case_id(rank, case)
        d.mkdir(parents=True, exist_ok=True)
        if not (d / "bundle").exists():
            write_bundle(case.shrunk, d / "bundle")
        info = case_dict(run, rank, case, str(d))
        (d / "case.json").write_text(json.dumps(info, indent=1, ensure_ascii=True) + "\n", encoding="utf-8")
        (d / "summary.txt").write_text(summary_text(info), encoding="utf-8")
        case.saved = d
        saved.append(d)
    return saved


def summary_text(info: dict[str, Any]) -> str:
    e = escape.display
    s = info.get("shrunk") or {}
    if "kit_ok" not in s:  # not shrunk: the first mutant's verdicts
        ex = info["example"]
        s = {"kit_ok": info["direction"] == "kit-accepts", "reducer_accepts": info["direction"] == "kit-rejects",
             "reducer_error": ex["reducer_error"], "kit_findings": [{"invariant": i} for i in ex["kit_errors"]]}
    lines = [
        f"class:    {e(info['layer'])} / {e(info['mutator'])} / {e(info['direction'])} / {e(info['class'])}",
        f"count:    {info['count']} mutant(s)",
        f"kit:      {'exit 0' if s.get('kit_ok') else 'exit 1'}; errors: {e(', '.join(f['invariant'] for f in s.get('kit_findings', [])) or '-')}",
    ]
    for f in s.get("kit_findings", [])[:5]:
        lines.append(f"          {e(f['invariant'])}: {e(f.get('message') or '')[:300]}")
    lines.append(f"reducer:  {'accepts' if s.get('reducer_accepts') else 'rejects'}: {e(s.get('reducer_error') or '-')[:300]}")
    lines.append("replay:")
    lines.extend(f"  {e(c)}" for c in info["replay"])
    return "\n".join(lines) + "\n"


def timing_lines(run: Run) -> list[str]:
    """Where a run's time went, beside its floor: the reducer runs alone, spread over the jobs (not
    in the JSON report, which a seed reproduces)."""
    t = run.timing
    judged = max(len(run.results) + run.skipped, 1)
    ms = lambda seconds: f"{1000 * seconds / judged:.1f} ms"  # noqa: E731
    cores = os.cpu_count() or 1
    busy = max(t.load) > cores
    lines = [
        f"time: {judged} mutants in {t.wall:.1f} s = {judged / t.wall if t.wall else 0:.1f} mutants/s "
        f"(--jobs {t.jobs}; seeds {t.seeds:.1f} s, judging {t.judged:.1f} s, shrinking {t.shrink:.1f} s)",
        f"floor: {t.reference_runs} reducer runs took {t.reference:.1f} s, / {t.jobs} jobs = {t.floor:.1f} s; "
        f"judging took {t.judged / t.floor if t.floor else 0:.2f}x the floor",
        f"per mutant (summed over the jobs): reducer {ms(t.reference)}, kit {ms(t.kit)}, "
        f"write and remove {ms(t.write)}, generate {ms(t.generate)} (the reducer runs while the kit judges)",
        f"processor time per mutant: reducer processes {ms(t.cpu_reference)}, kit workers {ms(t.cpu_kit)} "
        f"(the kit's share: {t.cpu_kit / (t.cpu_kit + t.cpu_reference) if t.cpu_kit + t.cpu_reference else 0:.0%})",
        f"load average (1 min) before/after: {t.load[0]:.1f}/{t.load[1]:.1f} on {cores} cores"
        + (" (above the core count: other work disturbed the figures)" if busy else ""),
    ]
    return lines


def print_human(doc: dict[str, Any], file) -> None:
    e = escape.display
    for r in doc["runs"]:
        print(f"Codex {e(r['release'])} ({e(r['dialect'])}): {r['mutants']} mutants, {r['disagree']} disagreement(s) "
              f"(rate {r['disagreement_rate']:.4f}), {r['reference_hang']} reference hang(s), "
              f"{r['kit_declined']} kit declined", file=file)
        for layer, x in r["by_layer"].items():
            print(f"  {e(layer):6} {x['mutants']:6} mutants  {x['disagree']:5} disagree  rate {x['disagreement_rate']:.4f}",
                  file=file)
        for c in r["classes"]:
            print(f"  [{c['count']:4}] {e(c['layer'])} {e(c['mutator'])} {e(c['direction'])}: {e(c['class'])}", file=file)
            print(f"         reducer: {e(c['example']['reducer_error'] or '-')[:200]}", file=file)
            for cmd in c["replay"]:
                print(f"         $ {e(cmd)}", file=file)


# -- the reference page --------------------------------------------------------------------

def _cell(text: Any) -> str:
    return escape.display(str(text)).replace("|", "\\|").replace("`", "'")


def page(doc: dict[str, Any] | None, full: list[dict[str, Any]] | tuple = ()) -> str:
    """``docs/reference/differential.md`` from a committed report (``DOCS_DATA``) and the reports of
    the full runs (``FULL_RUNS``)."""
    head = [
        "# Differential runs against the real Codex reducers",
        "",
        "<!-- Generated by `python -m rollout_trace_kit.docsgen --write docs` from "
        f"`{DOCS_DATA}`; do not edit. -->",
        "",
        "`rollout-trace codex diff` mutates real bundles (the shipped corpus) and generated ones, judges "
        "each mutant with the kit's reducer profile (`validate --profile reducer --release R`) and with "
        "the real reducer of R (`codex debug trace-reduce`, the native binary), and counts where they "
        "differ. A **disagreement** is kit exit 0 against a reducer reject, or the reverse; a *reference "
        "hang* (the reducer timed out) and *kit declined* (a finding of an invariant that declines: the kit "
        "did not judge the bundle) are counted apart. No mutator builds a bundle big enough to reach a kit cap "
        "(64 MiB lines, 256 MiB payload files, GiB-sized shards); the declined mutants here hold serde's "
        "sequence form (`KIT.SEQUENCE_FORM`: an object written as the array of its values), which the "
        "`sequence_form` mutators build.",
        "",
        "The codex test tier (`pytest --codex -m codex tests/test_codex_diff_codex.py`, run by `.ci/run`) "
        "runs the engine end to end per dialect (`RTK_DIFF_MUTANTS`, default 1,000 per dialect) and "
        "checks it reports rates and that no mutant is a disagreement (reference hangs are counted apart).",
        "",
        "**Speed.** `--jobs N` makes and judges the mutants in N worker processes (give it the core "
        "count); each worker starts the reducer on a mutant and judges it with the kit while the reducer "
        "runs. Mutants are written to `/dev/shm` (`--scratch DIR`: elsewhere) and the reducer runs with an "
        "empty `CODEX_HOME` there "
        "(each Codex run makes and removes a directory of PATH aliases in it; it reads nothing else but "
        "an absent `.env`). The report is the same for any `--jobs`. After each release the command "
        "prints, on standard error (with `-q`: add `--timing`), its mutants per second beside its "
        "*floor*, the reducer runs alone (each timed from spawn to exit) divided by the jobs, and the "
        "processor time per mutant of the reducer processes and of the kit's workers. Most of the floor "
        "is the reducer's start: a static binary of about 300 MB whose start-up faults in a few thousand "
        "pages.",
        "",
    ]
    if not doc:
        return "\n".join(head + ["No run is recorded yet.", ""] + _full_runs(full))
    lines = head + [
        "The run below was made by:",
        "",
        "```sh",
        doc["command"],
        "python -m rollout_trace_kit.docsgen --write docs",
        "```",
        "",
        "Each mutant is a function of (seed, release, index): `--only INDEX` rebuilds one. A "
        "disagreement is shrunk to a minimal bundle and saved under `--out` with both verdicts and "
        "the commands that replay it.",
        "",
        f"The kit linked libzstd {doc['libzstd']} (the report's `libzstd`). Its verdicts do not depend on "
        "the library ([STORE.FRAME](invariants.md#store-frame) says how blocks are judged); the compressed "
        "bytes of the generated seeds, and so a mutant's, may: replay with the same library.",
        "",
        "## Mix",
        "",
        "| layer | share | what it changes |",
        "|---|---|---|",
    ]
    what = {
        "value": "envelope and event values: integer edges (i64, u64, f64), null against absent, escapes and "
                 "lone surrogates, nesting depth, duplicate keys, unknown keys, types",
        "body": "payload bodies per kind: prepared prompt fragments, model items (type, role, content), call "
                "ids and other ids, and the value edits inside a body and inside a JSON text a body's string holds "
                "(a call's arguments)",
        "ref": "payload refs: id, kind, shard, capture, parts, path forms (trailing slash, `..`, absolute "
               "paths inside the bundle), conflicting refs",
        "store": "v3: the shard store's bytes (zstd frames, record headers, records, shard files); v1 and "
                 "v2: the payload files",
        "order": "event order (swaps, moves, duplicates, drops, `seq`) and identity (thread, turn, call ids)",
    }
    for layer in LAYERS:
        lines.append(f"| {layer} | {doc['mix'][layer]} % | {what[layer]} |")
    lines += ["", "## Rates per release", "",
              "| release | dialect | mutants | disagreements | rate | reference hangs | kit declined |",
              "|---|---|---|---|---|---|---|"]
    for r in doc["runs"]:
        lines.append(f"| {_cell(r['release'])} | {_cell(r['dialect'])} | {r['mutants']} | {r['disagree']} | "
                     f"{r['disagreement_rate']:.4f} | {r['reference_hang']} | {r['kit_declined']} |")
    lines += ["", "## Rates per layer", "", "| release | " + " | ".join(LAYERS) + " |",
              "|---|" + "---|" * len(LAYERS)]
    for r in doc["runs"]:
        cells = []
        for layer in LAYERS:
            x = r["by_layer"].get(layer)
            cells.append(f"{x['disagree']}/{x['mutants']} ({x['disagreement_rate']:.3f})" if x else "-")
        lines.append(f"| {_cell(r['release'])} | " + " | ".join(cells) + " |")
    lines += ["", "## Disagreement classes", "",
              "One class is (layer, mutator, direction, the kit's first error or the reducer's error class): "
              "one bug is one row. `kit-accepts`: the kit says exit 0 and the reducer rejects; `kit-rejects`: "
              "the reverse.", ""]
    for r in doc["runs"]:
        lines += [f"### Codex {_cell(r['release'])} ({_cell(r['dialect'])})", ""]
        if not r["classes"]:
            lines += ["No disagreement.", ""]
            continue
        lines += ["| count | layer | mutator | direction | class | reducer says |", "|---|---|---|---|---|---|"]
        for c in r["classes"]:
            lines.append(f"| {c['count']} | {_cell(c['layer'])} | {_cell(c['mutator'])} | {_cell(c['direction'])} | "
                         f"{_cell(c['class'])} | {_cell((c['example']['reducer_error'] or '-')[:120])} |")
        lines.append("")
    return "\n".join(lines + _full_runs(full))


def _full_runs(full) -> list[str]:
    """The full runs' section: one row per run of each committed report, and the commands as they ran."""
    if not full:
        return []
    lines = ["## Full runs", "",
             "The target of the kit's differential testing is 0 disagreements in 100,000 mutants per dialect "
             "against its reference reducer, and in 10,000 against the oldest reader of each other reader epoch "
             f"(the releases `codex diff --epoch-readers` adds to a run). Each report in `{FULL_RUNS}/` is the "
             "JSON output of one such run, "
             "saved unedited; its command is below the table (the report was written where `-o` says, then "
             "copied here); its `mix` holds its shares of the layers. A report without a `libzstd` field was made "
             "before the field existed (session 15), with the backports.zstd of the time (1.8.0, which bundles "
             "libzstd 1.5.7, or older); for v1 and v2 bundles, which hold no shard, the library does not matter.", "",
             "| release | dialect | seed | mutants | disagreements | rate | reference hangs | kit declined "
             "| declined by mutator | libzstd |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for doc in full:
        for r in doc["runs"]:
            declined = ", ".join(f"{_cell(m)} {x['kit_declined']}" for m, x in sorted(r["by_mutator"].items())
                                 if x["kit_declined"]) or "-"
            lines.append(f"| {_cell(r['release'])} | {_cell(r['dialect'])} | {r['seed']} | {r['mutants']} | "
                         f"{r['disagree']} | {r['disagreement_rate']:.5f} | {r['reference_hang']} | "
                         f"{r['kit_declined']} | {declined} | {_cell(doc.get('libzstd', 'not recorded'))} |")
    lines += ["", "Made by:", "", "```sh"]
    lines += [escape.display(doc["command"]) for doc in full]
    return lines + ["```", ""]


def load_full(docs_dir: Path) -> list[dict[str, Any]]:
    """The committed reports of the full runs, by file name (a release each)."""
    paths = sorted((docs_dir / FULL_RUNS.removeprefix("docs/")).glob("*.json"))
    return [json.loads(path.read_text(encoding="utf-8")) for path in paths]


def load_doc(docs_dir: Path) -> dict[str, Any] | None:
    path = docs_dir / DOCS_DATA.removeprefix("docs/")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
