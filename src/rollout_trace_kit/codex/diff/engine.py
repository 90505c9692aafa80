"""The run: mutants drawn from seeds, judged both ways (the reference reducers in parallel),
disagreements triaged into classes, one representative per class shrunk and saved."""

from __future__ import annotations

import random
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from ...bundle import Bundle
from . import mutators
from .judge import DISAGREE, KIT_ACCEPTS, Judged, KitVerdict, Reference, RefVerdict, judge, verdict_class
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
class Run:
    release: str
    dialect: str
    seed: int
    mutations: int
    results: list[Result]
    cases: list[Case]
    skipped: int = 0  # mutant draws that found nothing to change


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


def run(release: str, dialect: str, reference: Reference, mutations: int, seed: int = 0, jobs: int = 1,
        shrink_tests: int = 300, only: list[int] | None = None, scratch: Path | None = None,
        progress: Callable[[int, int], None] | None = None) -> Run:
    seed_bundles = load_seeds(dialect, seed, release=release)
    indexes = only if only is not None else list(range(mutations))

    def one(index: int) -> tuple[Result | None, Mutant | None]:
        m = make_mutant(index, seed, release, seed_bundles)
        if m is None:
            return None, None
        j = judge(m.bundle, release, reference, scratch=scratch)
        assert j is not None  # no gate
        return _result(m, j), m

    results: list[Result] = []
    firsts: dict[tuple, Mutant] = {}
    counts: dict[tuple, int] = {}
    skipped = 0
    with ThreadPoolExecutor(max_workers=max(jobs, 1)) as pool:
        for done, (r, m) in enumerate(pool.map(one, indexes), 1):
            if r is None or m is None:
                skipped += 1
                continue
            results.append(r)
            if r.outcome == DISAGREE:
                counts[r.key] = counts.get(r.key, 0) + 1
                firsts.setdefault(r.key, m)
            if progress:
                progress(done, len(indexes))
    by_index = {r.index: r for r in results}
    cases = [Case(key, counts[key], by_index[m.index]) for key, m in firsts.items()]

    def shrink_one(case: Case) -> None:
        case.shrunk = firsts[case.key].bundle
        if shrink_tests > 0:
            try:
                case.shrunk, case.shrunk_judged = shrink_case(firsts[case.key], case.example, release, reference,
                                                              shrink_tests, scratch)
            except (RecursionError, MemoryError):  # a mutant too deep to shrink is saved as it is
                pass

    with ThreadPoolExecutor(max_workers=max(jobs, 1)) as pool:  # classes shrink side by side
        list(pool.map(shrink_one, cases))
    cases.sort(key=lambda c: (-c.count, c.key))
    return Run(release, dialect, seed, len(indexes), results, cases, skipped)


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
