"""Fuzz a reducer command with valid and labelled-corrupt bundles.

For a valid bundle the command must exit 0 (and write JSON to ``{output}`` if
it takes one); for a bundle that breaks a rule of the claim under test it must
reject it cleanly (exit ``--reject-exit``, 1 by default); on no bundle may it
crash (a signal, another exit status, a traceback, panic or sanitizer report:
:mod:`..command`) or outlive the timeout (a hang). Bundles that break only rules
outside the claim (writer promises, say) may be accepted or rejected: the report
records which, so the per-invariant table says exactly what the reducer
enforces. With output oracles on, what an accepting reducer writes is judged
too (:mod:`.oracles`).

A failure listed in the known results is not shrunk; an invariant listed as a
known hang costs at most one timeout per campaign: once one of its cases hung,
its other cases are not run (the report lists them under ``not_run``).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from typing import Any, Iterator
from pathlib import Path

from ... import interrupts
from ...bundle import TRACE
from ..command import Outcome, ReducerCommand, scratch_root
from .cases import VALID, Case, CaseSpec, build_case, eligible_invariants, judge_case, plan_cases, smaller
from .claims import Claim
from .known import Known
from .oracles import OracleConfig

PASS, FAIL, CRASH, HANG, ERROR, WRONG_OUTPUT = "pass", "fail", "crash", "hang", "error", "wrong-output"
RESULTS = (PASS, FAIL, CRASH, HANG, ERROR, WRONG_OUTPUT)
NOT_RUN = "not-run"  # a case of a known hang after one hung: not a result, listed apart


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
    finding: dict | None = None  # the kit's finding for the case
    oracles: dict[str, str] = field(default_factory=dict)  # oracle -> "pass" | "fail" | "n/a"
    oracle_notes: dict[str, str] = field(default_factory=dict)  # oracle -> why it did not apply
    diff: list[str] = field(default_factory=list)  # an oracle's first differences
    replay: str = ""
    lines: int = 0  # lines of the case's trace.jsonl as built
    runs: int = 0  # reducer runs this case took (the oracles' runs included)
    run_seconds: float = 0.0  # their time: the floor a campaign's wall time is measured against
    coverage: dict[str, set[str]] | None = None  # what the case's bundle exercised (coverage.CATEGORIES)

    @property
    def valid_accepted(self) -> bool:
        return self.spec.invariant == VALID and self.behaviour == "accepts"

    @property
    def id(self) -> str:
        """The failure's id, also the name of its saved case (the shrunk case keeps it)."""
        return self.spec.id

    def to_dict(self) -> dict:
        o = self.outcome
        return {
            "id": self.id,
            "case": self.spec.to_dict(),
            "result": self.result,
            "behaviour": self.behaviour,
            "must_reject": self.must_reject,
            "expected": self.expected,
            "detail": self.detail,
            "finding": self.finding,
            "oracles": self.oracles,
            "diff": self.diff,
            "stderr_tail": o.stderr_tail if o else "",
            "stdout_tail": o.stdout_tail if o else "",
            "repro": self.repro,
            "replay": self.replay,
        }


def classify(case: Case, outcome: Outcome) -> tuple[str, str, str]:
    """(result, behaviour, detail) of one run."""
    if outcome.error:
        return ERROR, "error", outcome.describe()
    if outcome.timed_out:
        return HANG, "hangs", f"hang: {outcome.describe()}"
    crash = outcome.crash
    if crash is not None:
        what = "a valid bundle" if case.valid else f"a bundle breaking {case.spec.invariant}"
        return CRASH, "crashes", f"crash on {what}: {crash}"
    if outcome.accepted:
        if case.valid and outcome.output_ok is False:
            return FAIL, "accepts", "exit 0 but {output} is missing or not JSON"
        if case.must_reject:
            return FAIL, "accepts", f"accepted a bundle breaking {case.spec.invariant}"
        return PASS, "accepts", ""
    if case.valid:
        return FAIL, "rejects", f"rejected a valid bundle: {outcome.describe()}"
    return PASS, "rejects", outcome.describe()


@dataclass(frozen=True)
class Job:
    """Everything a worker process needs to run one case."""

    command: ReducerCommand
    claim: Claim
    spec: CaseSpec
    oracles: OracleConfig = OracleConfig()


@dataclass
class Campaign:
    command: ReducerCommand
    dialect: str
    examples: int = 100
    seed: int = 0
    jobs: int = 2
    claim: Claim = field(default_factory=lambda: Claim.parse("reducer"))
    invariants: list[str] | None = None
    mode: str = "releases"  # the generation mode of the bundles (generators MODES)
    release: str | None = None  # bundles as this Codex release writes them, judged by its rules
    repro_dir: Path | None = None
    shrink: bool = True
    oracles: OracleConfig = field(default_factory=OracleConfig)
    shard: tuple[int, int] = (1, 1)
    progress: Any = None  # a rollout_trace_kit.progress.Progress, told of each finished case
    replay_extra: str = ""  # options a replay needs besides --cmd (oracles, timeout)
    known: Known = field(default_factory=Known)
    results: list[CaseResult] = field(default_factory=list)
    skipped: list[CaseSpec] = field(default_factory=list)
    not_run: list[CaseResult] = field(default_factory=list)  # cases of a known hang after one hung

    def run_case(self, spec: CaseSpec) -> CaseResult | None:
        return run_case(Job(self.command, self.claim, spec, self.oracles))

    def known_hangs(self) -> list[str]:
        return sorted(i for i, e in self.known.entries.items() if e.get("behaviour") == "hangs")

    @property
    def eligible(self) -> list[str]:
        return eligible_invariants(self.dialect, self.invariants)

    def model_coverage(self) -> dict[str, dict]:
        """Which variants, kinds, enum values, optional-field forms and invariants the cases
        exercised: each case's, observed by the worker that built it (a result without it, of a
        campaign made by hand, is rebuilt here)."""
        from ...model import DIALECTS
        from .coverage import Coverage

        cov = Coverage(DIALECTS[self.dialect], frozenset(self.eligible), reads=campaign_reads(self.release, self.mode),
                       release=self.release)
        for r in self.results:
            seen = r.coverage if r.coverage is not None else _observed(r.spec)
            for category, items in (seen or {}).items():
                cov.seen[category] |= items
        return cov.report()

    def never_exercised(self) -> list[str]:
        seen = {r.spec.invariant for r in self.results}
        return [i for i in self.eligible if i not in seen]

    def run(self) -> list[CaseResult]:
        """Run every case; ``jobs`` worker processes build, judge and run them (the
        building and judging is Python, so threads would queue on the GIL)."""
        specs = plan_cases(self.dialect, self.examples, self.seed, invariants=self.invariants, shard=self.shard,
                           mode=self.mode, release=self.release)
        work = [Job(self.command, self.claim, spec, self.oracles) for spec in specs]
        outcomes: list[CaseResult | None] = []
        failing = 0
        gate = hang_gate(self.known_hangs())
        if self.jobs > 1 and len(work) > 1:
            for r in _in_pool(work, self.jobs, gate):
                outcomes.append(r)
                failing += r is not None and r.result not in (PASS, NOT_RUN)
                self._progress(len(outcomes), len(work), failing)
        else:
            set_gate(gate)
            try:
                for w in work:
                    r = run_case(w)
                    outcomes.append(r)
                    failing += r is not None and r.result not in (PASS, NOT_RUN)
                    self._progress(len(outcomes), len(work), failing)
            finally:
                set_gate({})
        for spec, r in zip(specs, outcomes):
            if r is None:
                self.skipped.append(spec)
            elif r.result == NOT_RUN:
                self.not_run.append(r)
            else:
                self.results.append(r)
        if self.repro_dir is not None:
            from .known import judge

            expected = set(judge(per_invariant(self.results), self.known).expected_failures)
            for r in self.results:
                if r.result != PASS:
                    self.save(r, shrink=r.spec.invariant not in expected)  # a known failure: not shrunk again
        return self.results

    def _progress(self, done: int, total: int, failing: int) -> None:
        if self.progress is not None:
            self.progress.update(done, total, f"{failing} not passing")

    # -- failures --------------------------------------------------------------------------
    def shrunk(self, r: CaseResult) -> tuple[CaseSpec, CaseResult]:
        """The smallest rebuild of a failing case that still fails the same way (a rebuild
        whose bundle is not smaller, because its corruption needed a larger one, does not count)."""
        if not self.shrink:
            return r.spec, r
        for spec in smaller(r.spec):
            again = self.run_case(spec)
            if again is not None and again.result == r.result and again.behaviour == r.behaviour \
                    and again.lines < r.lines:
                return spec, again
        return r.spec, r

    def save(self, r: CaseResult, shrink: bool = True) -> None:
        """Save the (shrunk) case under the failure's own id, with a replay command that
        can be pasted as is: absolute paths, the real command, shell-quoted. What the
        failure says (detail, differences, finding, output tails) becomes the saved case's,
        so the headline and a replay of the saved case name the same ids."""
        import shlex

        spec, shrunk = self.shrunk(r) if shrink else (r.spec, r)
        case = build_case(spec)
        # a result to save came from run_case, so its case builds; save() is called once repro_dir is set
        assert case is not None and self.repro_dir is not None
        target = Path(os.path.abspath(Path(self.repro_dir) / r.id))
        if target.exists():
            shutil.rmtree(target)
        case.bundle.write(target / "bundle")
        r.repro = str(target)
        if shrunk is not r:
            original_lines = r.lines
            for k in ("detail", "diff", "finding", "outcome", "oracles", "must_reject", "expected", "lines"):
                setattr(r, k, getattr(shrunk, k))
            r.detail += f" (saved shrunk: {case.lines} lines of {TRACE} instead of {original_lines})"
        r.replay = (f"rollout-trace replay {shlex.quote(str(target))} --cmd {shlex.quote(self.command.template)}"
                    + self.replay_extra)
        (target / "case.json").write_text(
            json.dumps(
                {
                    **shrunk.to_dict(),
                    "id": r.id,
                    "profile": self.claim.label,
                    "reject_exit": list(self.command.reject_exit),
                    "case": spec.to_dict(),
                    "original": r.spec.to_dict(),
                    "replay": r.replay,
                    "repro": str(target),
                },
                indent=2,
                ensure_ascii=True,
            )
            + "\n"
        )


# invariant -> (lock, flag) shared by the worker processes: the flag is set once a case of
# that known hang has hung, and the lock makes its cases run one at a time
_GATE: dict = {}


def hang_gate(invariants: list[str]) -> dict:
    if not invariants:
        return {}
    import multiprocessing

    return {i: (multiprocessing.Lock(), multiprocessing.Value("b", 0)) for i in invariants}


class _FileLock:
    """A lock any process can take by path (pytest-xdist's workers share no memory)."""

    def __init__(self, path: str):
        self.path = path
        self._fd: int | None = None

    def __enter__(self) -> "_FileLock":
        import fcntl

        self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        fcntl.flock(self._fd, fcntl.LOCK_EX)
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._fd is not None
        os.close(self._fd)  # closing releases the lock
        self._fd = None


class _FileFlag:
    """``.value`` set once by creating a file: what a ``multiprocessing.Value`` is to the pool."""

    def __init__(self, path: str):
        self.path = path

    @property
    def value(self) -> int:
        return int(os.path.exists(self.path))

    @value.setter
    def value(self, v: int) -> None:
        if v:
            with open(self.path, "a"):
                pass


def file_hang_gate(directory: str, invariants: list[str]) -> dict:
    """:func:`hang_gate` for processes that only share a directory (the pytest plugin under
    pytest-xdist): the files are named by position, never by a name from a known-results file."""
    return {inv: (_FileLock(os.path.join(directory, f"{k}.lock")), _FileFlag(os.path.join(directory, f"{k}.hung")))
            for k, inv in enumerate(sorted(invariants))}


IN_FLIGHT = 4  # cases submitted per worker ahead of the results read


def _in_pool(work: list[Job], jobs: int, gate: dict) -> Iterator[CaseResult | None]:
    """Each job's result, in order, from ``jobs`` worker processes. Ctrl-C or SIGTERM is noted while
    the pool runs (interrupts.py: never raised inside its locks): the cases not started are
    dropped, the running ones end (each within its timeout, its reducer reaped by its worker), then
    the signal is acted on. The workers inherit the note: a Ctrl-C to the process group stops
    their reducer, not them."""
    from concurrent.futures import ProcessPoolExecutor

    with interrupts.deferred() as caught:
        pool = ProcessPoolExecutor(max_workers=jobs, initializer=set_gate, initargs=(gate,))
        try:
            yield from interrupts.in_order(pool, run_case, work, IN_FLIGHT * jobs, caught)
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
    interrupts.act_on(caught)


def set_gate(gate: dict) -> None:
    """Which invariants' cases this process runs through a hang gate (:func:`run_case`)."""
    global _GATE
    _GATE = gate



def run_case(job: Job) -> CaseResult | None:
    """Build one case, write it, judge it with the kit, run the reducer on it, classify,
    then (when it accepted) put its output to the oracles."""
    case = build_case(job.spec)
    if case is None:
        return None
    gate = _GATE.get(job.spec.invariant)
    if gate is None:
        return _run_built(job, case)
    lock, hung = gate
    with lock:
        if hung.value:
            return CaseResult(job.spec, NOT_RUN, "hangs", case.must_reject, sorted(case.expected), None,
                              f"not run: a case of {job.spec.invariant}, a known hang, already hung", lines=case.lines)
        r = _run_built(job, case)
        if r.result == HANG:
            hung.value = 1
        return r


def campaign_reads(release: str | None, mode: str):
    """The vocabulary a campaign's coverage is measured against: a schema-mode campaign of a release
    reaches what that release's reducer knows (None: the whole dialect)."""
    if release is None or mode != "schema":
        return None
    from ...generators._release import reading_release

    return reading_release(release).reads


def _observed(spec: CaseSpec, case: Case | None = None) -> dict[str, set[str]] | None:
    """What one case exercised of the model (coverage.Coverage's sets), or None when it does not build."""
    from ...model import DIALECTS
    from .coverage import Coverage

    case = case if case is not None else build_case(spec)
    if case is None:
        return None
    cov = Coverage(DIALECTS[spec.dialect])
    if not case.valid:
        cov.observe_invariant(spec.invariant)
    cov.observe_lines(case.bundle.lines)
    return cov.seen


def _run_built(job: Job, case: Case) -> CaseResult:
    seen = _observed(job.spec, case)  # in the worker: the report's model coverage needs no rebuild
    with tempfile.TemporaryDirectory(prefix="rtk-fuzz-", dir=scratch_root()) as tmp:
        bundle_dir = case.bundle.write(Path(tmp) / "bundle")
        finding = judge_case(case, bundle_dir, job.claim.profile, job.claim.rejects)
        capture = job.oracles.any
        run = job.command.run_capture(bundle_dir, Path(tmp) / "work", capture=capture)
        result, behaviour, detail = classify(case, run.outcome)
        r = CaseResult(job.spec, result, behaviour, case.must_reject, sorted(case.expected), run.outcome, detail,
                       finding=finding, lines=case.lines, runs=1, run_seconds=run.outcome.seconds,
                       coverage=seen)
        if capture and result == PASS and behaviour == "accepts":
            from .judge_output import judge_output

            judge_output(r, case, run.result, job, Path(tmp))
    return r


# -- aggregation -------------------------------------------------------------------------------

COUNTS = ("cases", "accepts", "rejects", "crashes", "hangs", "error", "failed")


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
        if r.result == WRONG_OUTPUT:  # only when there is one: reports without oracles keep their shape
            row["wrong_output"] = row.get("wrong_output", 0) + 1
        row["must_reject"] = row["must_reject"] or r.must_reject
    for row in table.values():
        row["summary"] = summarise(row)
    return sort_table(table)


def sort_table(table: dict[str, dict]) -> dict[str, dict]:
    return dict(sorted(table.items(), key=lambda kv: (kv[0] != VALID, kv[0])))


def summarise(row: dict) -> str:
    if row["hangs"]:
        return "hangs"
    if row["crashes"]:
        return "crashes"
    if row["error"]:
        return "error"
    if row.get("wrong_output"):
        return "wrong-output"
    if row["accepts"] and row["rejects"]:
        return "mixed"
    return "accepts" if row["accepts"] else "rejects"
