"""Put an accepting reducer's output to the configured oracles (one case, in a worker)."""

from __future__ import annotations

import shlex
from pathlib import Path

from .oracles import (
    COVERAGE, DIFFERENTIAL_PREFIX, METAMORPHIC, coverage_gaps, first_differences, normalized, transformed,
    transforms_for,
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
        verdict = _metamorphic(case, base, job, tmp, problems)
        r.oracles[METAMORPHIC] = verdict
    if cfg.coverage and case.valid:
        gaps = coverage_gaps(case.bundle, dialect, output)
        if gaps is None:
            r.oracles[COVERAGE] = NOT_APPLICABLE
        elif gaps:
            r.oracles[COVERAGE] = FAILED
            more = f" and {len(gaps) - 5} more" if len(gaps) > 5 else ""
            problems.append((COVERAGE, f"the output lacks {', '.join(gaps[:5])}{more}", []))
        else:
            r.oracles[COVERAGE] = PASSED
    if cfg.differential:
        name = DIFFERENTIAL_PREFIX + cfg.differential
        r.oracles[name] = _differential(base, job, tmp, problems, name)

    if problems:
        oracle, detail, diff = problems[0]
        r.result = WRONG_OUTPUT
        r.detail = f"{oracle}: {detail}" + "".join(f"; {o}: {d}" for o, d, _ in problems[1:])
        r.diff = diff


def _run(job, bundle_dir: Path, work: Path, cfg_norm):
    run = job.command.run_capture(bundle_dir, work)
    if not run.outcome.accepted:
        return run, None
    return run, normalized(run.result, cfg_norm)


def _metamorphic(case, base, job, tmp: Path, problems) -> str:
    cfg = job.oracles
    bundle_dir = tmp / "bundle"
    # the same bundle twice
    run, again = _run(job, bundle_dir, tmp / "again", cfg.normalizer)
    if not run.outcome.accepted:
        problems.append((METAMORPHIC, f"the same bundle run again was rejected: {run.outcome.describe()}", []))
        return FAILED
    if again != base:
        problems.append((METAMORPHIC, "the same bundle run twice gave different outputs", first_differences(base, again)))
        return FAILED
    ts = transforms_for(case.spec.dialect, job.profile, cfg.skip_transforms)
    if not ts:
        return NOT_APPLICABLE
    # all transforms at once; only on a difference is each tried alone, to name the culprits
    if _same_under(case, ts, base, job, tmp, "all") is None:
        return PASSED
    culprits = []
    first_diff: list[str] = []
    for t in ts:
        diff = _same_under(case, (t,), base, job, tmp, t.name)
        if diff is not None:
            culprits.append(t)
            first_diff = first_diff or diff
    names = ", ".join(f"{t.name} ({t.meaning})" for t in culprits) or "the transforms together"
    problems.append((METAMORPHIC, f"the output changed when the bundle was rewritten without changing its meaning: {names}",
                     first_diff))
    return FAILED


def _same_under(case, ts, base, job, tmp: Path, label: str) -> list[str] | None:
    """None when the output under ``ts`` equals ``base``; else the first differences (or the rejection)."""
    b = transformed(case.bundle, case.spec.dialect, ts, case.spec.seed)
    moves = any(t.moves for t in ts)
    where = tmp / f"moved here {label}" / "bundle copy" if moves else tmp / f"meta-{label}" / "bundle"
    b.write(where)
    run, out = _run(job, where, tmp / f"work-{label}", job.oracles.normalizer)
    if not run.outcome.accepted:
        return [f"rejected: {run.outcome.describe()}"]
    return None if out == base else (first_differences(base, out) or ["outputs differ"])


def _differential(base, job, tmp: Path, problems, name: str) -> str:
    from ..command import ReducerCommand

    cfg = job.oracles
    oracle = ReducerCommand(f"{shlex.quote(cfg.differential_binary)} debug trace-reduce {{bundle}} -o {{output}}",
                            timeout=job.command.timeout)
    run = oracle.run_capture(tmp / "bundle", tmp / "oracle")
    if not run.outcome.accepted:
        return NOT_APPLICABLE  # the reference rejects it: its output says nothing
    expected = normalized(run.result, cfg.normalizer)
    if expected == base:
        return PASSED
    problems.append((name, f"the output differs from Codex {cfg.differential}'s", first_differences(expected, base)))
    return FAILED
