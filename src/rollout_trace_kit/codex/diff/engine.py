"""The run: mutants drawn from seeds, judged both ways, disagreements triaged into classes, one
representative per class shrunk and saved.

With ``jobs`` > 1 the mutants are made and judged in a pool of ``jobs`` forked worker processes,
each holding the parsed seed bundles: the kit's judgement is Python (one core per process, not
one for the whole run behind the GIL), and only each mutant's small :class:`Result` comes back.
Mutant ``I`` is a function of (seed, release, I) and the pool keeps the order, so the results do
not depend on ``jobs``. :class:`Timing` adds up where the time went (not part of the report)."""

from __future__ import annotations

import multiprocessing
import os
import random
import resource
import signal
import time
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

from ... import interrupts
from ...bundle import Bundle
from . import mutators
from .judge import (DISAGREE, KIT_ACCEPTS, Judged, KitVerdict, Reference, RefVerdict, Stopwatch, default_scratch,
                    judge, verdict_class)
from .seeds import seeds as load_seeds
from .shrink import shrink


@dataclass
class Mutant:
    index: int
    seed: str
    mutator: str
    layer: str
    bundle: Bundle


@dataclass
class Result:
    index: int
    seed: str
    mutator: str
    layer: str
    outcome: str
    direction: str = ""
    cls: str = ""
    kit_findings: list[dict] = field(default_factory=list)
    reducer_error: str = ""

    @property
    def key(self) -> tuple[str, str, str, str]:
        """One bug, one report: (layer, mutator, direction, kit invariant or reducer error class)."""
        return (self.layer, self.mutator, self.direction, self.cls)


@dataclass
class Case:
    """A class of disagreement: its count, and its first mutant shrunk."""

    key: tuple[str, str, str, str]
    count: int
    example: Result
    shrunk: Bundle | None = None
    shrunk_judged: Judged | None = None
    saved: Path | None = None


@dataclass
class Timing:
    """Seconds spent per phase, added over the mutants (each worker's own clock), and the run's wall
    time. ``reference`` is each reducer run from spawn to exit: the floor of a run is
    ``reference / jobs``, since no scheduling of the kit's work can make it faster."""

    generate: float = 0.0
    write: float = 0.0  # writing the mutant to the scratch directory, and removing it
    kit: float = 0.0
    reference: float = 0.0
    reference_runs: int = 0
    # processor time (user + system), which other work on the machine does not inflate as much:
    cpu_kit: float = 0.0  # the processes making and judging mutants (the pool's workers)
    cpu_reference: float = 0.0  # the reducer processes they ran
    seeds: float = 0.0
    judged: float = 0.0  # the judging phase, wall
    shrink: float = 0.0  # shrinking the classes, wall
    wall: float = 0.0
    jobs: int = 1
    load: tuple[float, float] = (0.0, 0.0)  # 1-minute load average before and after: other work disturbs the figures

    def add(self, other: "Timing") -> None:
        for name in ("generate", "write", "kit", "reference", "reference_runs", "cpu_kit", "cpu_reference"):
            setattr(self, name, getattr(self, name) + getattr(other, name))

    @property
    def floor(self) -> float:
        return self.reference / max(self.jobs, 1)


@dataclass
class Run:
    release: str
    dialect: str
    seed: int
    mutations: int
    results: list[Result]
    cases: list[Case]
    skipped: int = 0  # mutant draws that found nothing to change
    timing: Timing = field(default_factory=Timing)


def make_mutant(index: int, seed: int, release: str, seed_bundles: list[tuple[str, Bundle]]) -> Mutant | None:
    """Mutant ``index`` of a run: a function of (seed, release, index) alone."""
    rng = random.Random(f"{seed}/{release}/{index}")
    name, bundle = rng.choice(seed_bundles)
    drawn = mutators.mutate(bundle, rng)
    if drawn is None:
        return None
    m, mutant = drawn
    return Mutant(index, name, m.name, m.layer, mutant)


def _result(m: Mutant, j: Judged) -> Result:
    r = Result(m.index, m.seed, m.mutator, m.layer, j.outcome, kit_findings=j.kit.findings[:5],
               reducer_error=j.ref.first_error)
    if r.outcome == DISAGREE:
        r.direction, r.cls = verdict_class(j.kit, j.ref)
    return r


class _Judge:
    """Makes and judges mutants by index: what a worker process holds (inherited by fork)."""

    def __init__(self, release: str, seed: int, seed_bundles: list[tuple[str, Bundle]], reference: Reference,
                 scratch: Path | None):
        self.release, self.seed, self.seed_bundles = release, seed, seed_bundles
        self.reference, self.scratch = reference, scratch

    def one(self, index: int) -> tuple[Result | None, Timing]:
        t = Timing()
        cpu, children = time.process_time(), _children_cpu()
        try:
            start = time.perf_counter()
            m = make_mutant(index, self.seed, self.release, self.seed_bundles)
            t.generate = time.perf_counter() - start
            if m is None:
                return None, t
            clock = Stopwatch()
            j = judge(m.bundle, self.release, self.reference, scratch=self.scratch, clock=clock)
            assert j is not None  # no gate
            t.write, t.kit, t.reference, t.reference_runs = clock.write, clock.kit, clock.reference, clock.reference_runs
            return _result(m, j), t
        finally:
            t.cpu_kit, t.cpu_reference = time.process_time() - cpu, _children_cpu() - children

    def chunk(self, indexes: list[int]) -> list[tuple[Result | None, Timing]]:
        return [self.one(i) for i in indexes]


def _children_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)  # the children waited for so far
    return r.ru_utime + r.ru_stime


_WORKER: _Judge | None = None  # a pool process's judge


def _init_worker(worker: _Judge) -> None:
    global _WORKER
    _WORKER = worker
    # Ctrl-C, or a SIGTERM sent to the whole process group, reaches the workers too: the parent alone
    # stops the run (a worker ends its chunk); a worker that stopped mid-read of its task queue
    # printed a traceback
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)


def _judge_chunk(indexes: list[int]) -> list[tuple[Result | None, Timing]]:
    assert _WORKER is not None
    return _WORKER.chunk(indexes)


CHUNK = 8  # mutants per task sent to a worker process: fewer round trips, and still a fair share each


def _judged(worker: _Judge, indexes: list[int], jobs: int) -> Iterator[tuple[Result | None, Timing]]:
    """Each index's (result, timing), in order: in this process, or in ``jobs`` forked processes."""
    if jobs <= 1 or len(indexes) <= 1 or "fork" not in multiprocessing.get_all_start_methods():
        yield from map(worker.one, indexes)
        return
    chunks = [indexes[i:i + CHUNK] for i in range(0, len(indexes), CHUNK)]
    with interrupts.deferred() as caught:
        # fork: the workers inherit the seeds and the reference (a test's closure too) without pickling
        pool = ProcessPoolExecutor(max_workers=jobs, mp_context=multiprocessing.get_context("fork"),
                                   initializer=_init_worker, initargs=(worker,))
        try:
            for part in interrupts.in_order(pool, _judge_chunk, chunks, IN_FLIGHT * jobs, caught):
                yield from part
        finally:  # interrupted: the chunks not started are dropped, not judged before the run ends
            pool.shutdown(wait=True, cancel_futures=True)
    interrupts.act_on(caught)  # the handler of before, now, at a point where no lock is held


IN_FLIGHT = 3  # chunks submitted per worker ahead of the results read


def run(release: str, dialect: str, reference: Reference, mutations: int, seed: int = 0, jobs: int = 1,
        shrink_tests: int = 300, only: list[int] | None = None, scratch: Path | None = None,
        progress: Callable[[int, int], None] | None = None) -> Run:
    timing = Timing(jobs=max(jobs, 1))
    load_before = os.getloadavg()[0]
    began = time.perf_counter()
    seed_bundles = load_seeds(dialect, seed, release=release)
    timing.seeds = time.perf_counter() - began
    indexes = only if only is not None else list(range(mutations))
    scratch = scratch if scratch is not None else default_scratch()
    worker = _Judge(release, seed, seed_bundles, reference, scratch)

    results: list[Result] = []
    firsts: dict[tuple, int] = {}
    counts: dict[tuple, int] = {}
    skipped = 0
    start = time.perf_counter()
    for done, (r, t) in enumerate(_judged(worker, indexes, jobs), 1):
        timing.add(t)
        if r is None:
            skipped += 1
            continue
        results.append(r)
        if r.outcome == DISAGREE:
            counts[r.key] = counts.get(r.key, 0) + 1
            firsts.setdefault(r.key, r.index)
        if progress:
            progress(done, len(indexes))
    timing.judged = time.perf_counter() - start
    by_index = {r.index: r for r in results}
    # a class's first mutant, made again here (a function of its index): the pool sent back results only
    mutants = {key: make_mutant(index, seed, release, seed_bundles) for key, index in firsts.items()}
    cases = [Case(key, counts[key], by_index[index]) for key, index in firsts.items()]

    def shrink_one(case: Case) -> None:
        m = mutants[case.key]
        assert m is not None
        case.shrunk = m.bundle
        if shrink_tests > 0:
            try:
                case.shrunk, case.shrunk_judged = shrink_case(m, case.example, release, reference, shrink_tests, scratch)
            except (RecursionError, MemoryError):  # a mutant too deep to shrink is saved as it is
                pass

    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=max(jobs, 1)) as pool:  # classes shrink side by side
        list(pool.map(shrink_one, cases))
    timing.shrink = time.perf_counter() - start
    cases.sort(key=lambda c: (-c.count, c.key))
    timing.wall = time.perf_counter() - began
    timing.load = (load_before, os.getloadavg()[0])
    return Run(release, dialect, seed, len(indexes), results, cases, skipped, timing)


def shrink_case(m: Mutant, example: Result, release: str, reference: Reference, tests: int,
                scratch: Path | None = None) -> tuple[Bundle, Judged | None]:
    want = (example.direction, example.cls)

    def kit_side(kit: KitVerdict) -> bool:  # the kit's half of the class, before the reducer runs
        if example.direction == KIT_ACCEPTS:
            return kit.ok and not kit.declined
        return not kit.ok and verdict_class(kit, RefVerdict(True))[1] == example.cls

    def still(b: Bundle) -> bool:
        j = judge(b, release, reference, scratch=scratch, kit_gate=kit_side)
        return j is not None and j.outcome == DISAGREE and verdict_class(j.kit, j.ref) == want

    small = shrink(m.bundle, still, keep_seq=example.layer == "order", tests=tests)
    return small, judge(small, release, reference, scratch=scratch)
