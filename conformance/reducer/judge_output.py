"""Put an accepting reducer's output to the configured oracles (one case, in a worker)."""

from __future__ import annotations

import os
import shlex
from pathlib import Path

from .oracles import (
    COVERAGE, DIFFERENTIAL_PREFIX, METAMORPHIC, bundle_facts, coverage_gaps, first_differences, mapped, normalized,
    path_map, silencing_hint, transformed, transforms_for,
)

PASSED, FAILED, NOT_APPLICABLE = "pass", "fail", "n/a"


def judge_output(r, case, output: bytes | None, job, tmp: Path) -> None:
    """Run the oracles of ``job`` on case ``r`` (accepted, with ``output``); mark ``r`` on failure."""
    from .fuzz import ERROR, WRONG_OUTPUT

    cfg = job.oracles
    dialect = case.spec.dialect
    try:
        base = normalized(output, cfg.normalizer)
    except Exception as e:  # the user's normalizer is code we do not control
        r.result, r.detail = ERROR, f"normalizer {cfg.normalizer.name} failed: {type(e).__name__}: {e}"
        return
    problems: list[tuple[str, str, list[str]]] = []  # (oracle, detail, diff)

    if cfg.metamorphic and case.valid:
        verdict = _metamorphic(case, base, job, tmp, problems, r)
        r.oracles[METAMORPHIC] = verdict
    if cfg.coverage and case.valid:
        gaps = coverage_gaps(case.bundle, dialect, output)
        if gaps is None:
            r.oracles[COVERAGE] = NOT_APPLICABLE
            r.oracle_notes[COVERAGE] = ("the output names none of the thread, turn, inference call or tool call ids "
                                        "the bundle starts (an output of counts or text only cannot be checked)")
        elif gaps:
            r.oracles[COVERAGE] = FAILED
            more = f" and {len(gaps) - 5} more" if len(gaps) > 5 else ""
            problems.append((COVERAGE, f"the output lacks {', '.join(gaps[:5])}{more}", []))
        else:
            r.oracles[COVERAGE] = PASSED
    if cfg.differential:
        name = DIFFERENTIAL_PREFIX + cfg.differential
        r.oracles[name] = _differential(base, job, tmp, problems, name, r)
    for spec in cfg.user:
        _user(spec, r, case, output, tmp, problems)

    if problems:
        oracle, detail, diff = problems[0]
        r.result = WRONG_OUTPUT
        r.detail = f"{oracle}: {detail}" + "".join(f"; {o}: {d}" for o, d, _ in problems[1:])
        r.diff = diff


def _user(spec: str, r, case, output, tmp: Path, problems) -> None:
    from .api import FAIL, NOT_APPLICABLE as NA, as_result, judges_corrupt, load
    from .fuzz import ERROR

    fn = load(spec)
    if not case.valid and not judges_corrupt(fn):
        return
    facts = bundle_facts(case.bundle, case.spec.dialect, case_id=case.spec.id, bundle_dir=tmp / "bundle",
                         valid=case.valid, invariant=case.spec.invariant, output=output)
    try:
        got = as_result(fn(facts))
    except Exception as e:  # the user's oracle is code we do not control: its error is the case's
        r.oracles[spec] = FAILED
        r.result, r.detail = ERROR, f"oracle {spec} raised {type(e).__name__}: {e}"
        return
    r.oracles[spec] = got.verdict
    if got.verdict == NA:
        r.oracle_notes[spec] = got.message or "the oracle returned not_applicable() without saying why"
    elif got.verdict == FAIL:
        problems.append((spec, got.message or "failed", []))


def _run(job, bundle_dir: Path, work: Path, cfg_norm, r):
    run = job.command.run_capture(bundle_dir, work)
    r.runs += 1
    r.run_seconds += run.outcome.seconds
    if not run.outcome.accepted:
        return run, None
    return run, normalized(run.result, cfg_norm)


def _metamorphic(case, base, job, tmp: Path, problems, r) -> str:
    cfg = job.oracles
    bundle_dir = tmp / "bundle"
    # the same bundle twice
    run, again = _run(job, bundle_dir, tmp / "again", cfg.normalizer, r)
    if not run.outcome.accepted:
        problems.append((METAMORPHIC, f"the same bundle run again was rejected: {run.outcome.describe()}", []))
        return FAILED
    if again != base:
        problems.append((METAMORPHIC, "the same bundle run twice gave different outputs" + silencing_hint(base, again),
                         first_differences(base, again)))
        return FAILED
    ts = transforms_for(case.spec.dialect, job.claim.profile, cfg.skip_transforms)
    if not ts:
        r.oracle_notes[METAMORPHIC] = f"no transform keeps a bundle valid under the claim {job.claim.label}"
        return NOT_APPLICABLE
    # all transforms at once; only on a difference is each tried alone, to name the culprits
    if _same_under(case, ts, base, job, tmp, "all", r) is None:
        return PASSED
    culprits = []
    first: tuple | None = None
    for t in ts:
        found = _same_under(case, (t,), base, job, tmp, t.name, r)
        if found is not None:
            culprits.append(t)
            first = first or found
    names = ", ".join(f"{t.name} ({t.meaning})" for t in culprits) or "the transforms together"
    diff, hint = first or (["outputs differ"], "")
    problems.append((METAMORPHIC, f"the output changed when the bundle was rewritten without changing its meaning: {names}"
                     + hint, diff))
    return FAILED


def _same_under(case, ts, base, job, tmp: Path, label: str, r) -> tuple[list[str], str] | None:
    """None when the output under ``ts`` equals ``base`` once what ``ts`` renamed is renamed in
    ``base`` too; else the first differences (or the rejection) and what would silence them."""
    b = transformed(case.bundle, case.spec.dialect, ts, case.spec.seed)
    moves = any(t.moves for t in ts)
    where = tmp / f"moved here {label}" / "bundle copy" if moves else tmp / f"meta-{label}" / "bundle"
    b.write(where)
    run, out = _run(job, where, tmp / f"work-{label}", job.oracles.normalizer, r)
    if not run.outcome.accepted:
        return [f"rejected: {run.outcome.describe()}"], ""
    expected = mapped(base, path_map(case.bundle, ts, os.path.abspath(tmp / "bundle"), os.path.abspath(where)))
    if out == expected:
        return None
    return first_differences(expected, out) or ["outputs differ"], silencing_hint(expected, out)


def _differential(base, job, tmp: Path, problems, name: str, r) -> str:
    from ..command import ReducerCommand

    cfg = job.oracles
    oracle = ReducerCommand(f"{shlex.quote(cfg.differential_binary)} debug trace-reduce {{bundle}} -o {{output}}",
                            timeout=job.command.timeout)
    run = oracle.run_capture(tmp / "bundle", tmp / "oracle")
    r.runs += 1
    r.run_seconds += run.outcome.seconds
    if not run.outcome.accepted:
        r.oracle_notes[name] = f"Codex {cfg.differential} rejects the bundle: its output says nothing"
        return NOT_APPLICABLE
    expected = normalized(run.result, cfg.normalizer)
    if expected == base:
        return PASSED
    problems.append((name, f"the output differs from Codex {cfg.differential}'s" + silencing_hint(expected, base),
                     first_differences(expected, base)))
    return FAILED
