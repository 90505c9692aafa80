"""Fuzz a reducer command with valid and labelled-corrupt bundles.

For a valid bundle the command must exit 0 (and write JSON to ``{output}`` if
it takes one); for a bundle that breaks a rule of the profile under test it
must exit non-zero; it must never die of a signal or outlive the timeout.
Bundles that break only rules outside the profile (writer promises, say) may
be accepted or rejected: the report records which, so the per-invariant table
says exactly what the reducer enforces.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from ...validate import Profile
from .cases import VALID, Case, CaseSpec, build_case, judge_case, plan_cases, smaller
from ..command import Outcome, ReducerCommand

PASS, FAIL, CRASH, TIMEOUT, ERROR = "pass", "fail", "crash", "timeout", "error"
RESULTS = (PASS, FAIL, CRASH, TIMEOUT, ERROR)


@dataclass
class CaseResult:
    spec: CaseSpec
    result: str  # one of RESULTS
    behaviour: str  # "accepts" | "rejects" | "crashes" | "hangs" | "error"
    must_reject: bool
    expected: list[str]
    outcome: Outcome | None
    detail: str = ""
    repro: str | None = None  # directory of the saved (shrunk) bundle

    def to_dict(self) -> dict:
        return {
            "id": self.spec.id,
            "case": self.spec.to_dict(),
            "result": self.result,
            "behaviour": self.behaviour,
            "must_reject": self.must_reject,
            "expected": self.expected,
            "detail": self.detail,
            "repro": self.repro,
        }


def classify(case: Case, outcome: Outcome) -> tuple[str, str, str]:
    """(result, behaviour, detail) of one run."""
    if outcome.error:
        return ERROR, "error", outcome.describe()
    if outcome.timed_out:
        return TIMEOUT, "hangs", outcome.describe()
    if outcome.signal is not None:
        return CRASH, "crashes", outcome.describe()
    if outcome.accepted:
        if case.valid and outcome.output_ok is False:
            return FAIL, "accepts", "exit 0 but {output} is missing or not JSON"
        if case.must_reject:
            return FAIL, "accepts", f"accepted a bundle breaking {case.spec.invariant}"
        return PASS, "accepts", ""
    if case.valid:
        return FAIL, "rejects", f"rejected a valid bundle: {outcome.describe()}"
    return PASS, "rejects", outcome.describe()


@dataclass
class Campaign:
    command: ReducerCommand
    dialect: str
    examples: int = 100
    seed: int = 0
    jobs: int = 2
    profile: Profile = Profile.REDUCER
    invariants: list[str] | None = None
    repro_dir: Path | None = None
    shrink: bool = True
    results: list[CaseResult] = field(default_factory=list)
    skipped: list[CaseSpec] = field(default_factory=list)

    def run_case(self, spec: CaseSpec) -> CaseResult | None:
        return run_case(self.command, self.profile, spec)

    def run(self) -> list[CaseResult]:
        """Run every case; ``jobs`` worker processes build, judge and run them (the
        building and judging is Python, so threads would queue on the GIL)."""
        specs = plan_cases(self.dialect, self.examples, self.seed, invariants=self.invariants)
        work = [(self.command, self.profile, spec) for spec in specs]
        if self.jobs > 1:
            from concurrent.futures import ProcessPoolExecutor

            with ProcessPoolExecutor(max_workers=self.jobs) as pool:
                outcomes = list(pool.map(_run_case_args, work, chunksize=4))
        else:
            outcomes = [_run_case_args(w) for w in work]
        for spec, r in zip(specs, outcomes):
            (self.skipped.append(spec) if r is None else self.results.append(r))
        if self.repro_dir is not None:
            for r in self.results:
                if r.result != PASS:
                    self.save(r)
        return self.results

    # -- failures --------------------------------------------------------------------------
    def shrunk(self, r: CaseResult) -> tuple[CaseSpec, CaseResult]:
        """The smallest rebuild of a failing case that still fails the same way."""
        if not self.shrink:
            return r.spec, r
        for spec in smaller(r.spec):
            again = self.run_case(spec)
            if again is not None and again.result == r.result and again.behaviour == r.behaviour:
                return spec, again
        return r.spec, r

    def save(self, r: CaseResult) -> None:
        spec, shrunk = self.shrunk(r)
        case = build_case(spec)
        # a result to save came from run_case, so its case builds; save() is called once repro_dir is set
        assert case is not None and self.repro_dir is not None
        target = Path(self.repro_dir) / spec.id
        if target.exists():
            shutil.rmtree(target)
        case.bundle.write(target / "bundle")
        (target / "case.json").write_text(
            json.dumps(
                {
                    **shrunk.to_dict(),
                    "original": r.spec.to_dict(),
                    "replay": f"rollout-trace replay {target} --cmd {_quote(self.command.template)}",
                },
                indent=2,
            )
            + "\n"
        )
        r.repro = str(target)


def run_case(command: ReducerCommand, profile: Profile, spec: CaseSpec) -> CaseResult | None:
    """Build one case, write it, judge it with the kit, run the reducer on it, classify."""
    case = build_case(spec)
    if case is None:
        return None
    with tempfile.TemporaryDirectory(prefix="rtk-fuzz-") as tmp:
        bundle_dir = case.bundle.write(Path(tmp) / "bundle")
        judge_case(case, bundle_dir, profile)
        outcome = command.run(bundle_dir, Path(tmp) / "work")
    result, behaviour, detail = classify(case, outcome)
    return CaseResult(spec, result, behaviour, case.must_reject, sorted(case.expected), outcome, detail)


def _run_case_args(args) -> CaseResult | None:
    return run_case(*args)


def _quote(text: str) -> str:
    import shlex

    return shlex.quote(text)


# -- aggregation -------------------------------------------------------------------------------


def per_invariant(results: list[CaseResult]) -> dict[str, dict]:
    """invariant -> counts of behaviours and results, and a one-word summary."""
    table: dict[str, dict] = {}
    for r in results:
        row = table.setdefault(
            r.spec.invariant,
            {"cases": 0, "accepts": 0, "rejects": 0, "crashes": 0, "hangs": 0, "error": 0, "failed": 0, "must_reject": r.must_reject},
        )
        row["cases"] += 1
        row[r.behaviour] += 1
        row["failed"] += r.result != PASS
        row["must_reject"] = row["must_reject"] or r.must_reject
    for row in table.values():
        row["summary"] = summarise(row)
    return dict(sorted(table.items(), key=lambda kv: (kv[0] != VALID, kv[0])))


def summarise(row: dict) -> str:
    if row["hangs"]:
        return "hangs"
    if row["crashes"]:
        return "crashes"
    if row["error"]:
        return "error"
    if row["accepts"] and row["rejects"]:
        return "mixed"
    return "accepts" if row["accepts"] else "rejects"
