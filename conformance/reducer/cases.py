"""Fuzz cases: valid bundles and bundles broken in one named way, from a seed.

A case is fully described by ``(dialect, invariant, seed, events, mode, release)``:
rebuilding it from those gives the same bytes, which is what makes a run
repeatable (``--seed``) and a failure shrinkable (fewer events, same seed).
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import asdict, dataclass, replace
from typing import Any

from ...bundle import Bundle
from ...validate import CATALOGUE, Profile
from ...validate.findings import Severity

VALID = "VALID"  # the pseudo-invariant of valid cases in reports and known-results files
MIN_EVENTS = 8
# The generators' dependencies are base dependencies; an install that lacks one was made without them.
MISSING_HINT = "reinstall rollout-trace-kit with its dependencies (pip install without --no-deps)"


def corruptions() -> dict[str, Any]:
    """The corruption operators by invariant; ImportError saying how to get what they need
    (a generators dependency missing) instead of a traceback from deep inside."""
    try:
        from ...generators import CORRUPTIONS
    except ImportError as e:
        raise ImportError(f"needs the bundle generators, which need {e.name or 'a missing module'}: {MISSING_HINT}") from None
    return CORRUPTIONS


@dataclass(frozen=True)
class CaseSpec:
    dialect: str
    invariant: str  # VALID, or the invariant the corruption breaks
    seed: int
    events: int
    mode: str = "releases"  # the generation mode of the valid bundle (generators MODES)
    release: str | None = None  # written as this Codex release writes, judged by its rules

    @property
    def id(self) -> str:
        """Stable test id: invariant + a short hash of what rebuilds the case (ids of the
        "releases" mode are those of the kit versions before modes and releases existed)."""
        key = f"{self.dialect}:{self.invariant}:{self.seed}:{self.events}"
        if self.mode != "releases":
            key += f":{self.mode}"
        if self.release is not None:
            key += f":release={self.release}"
        h = hashlib.sha256(key.encode()).hexdigest()[:10]
        return f"{self.dialect}-{self.invariant}-{h}"

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class Case:
    spec: CaseSpec
    bundle: Bundle
    expected: frozenset[str]  # invariant IDs the bundle breaks (empty for valid cases)
    must_reject: bool = False  # the claim under test rejects it (set by :func:`judge_case`)

    @property
    def lines(self) -> int:
        """Lines of the bundle's trace.jsonl as built: a corruption that found no place in a
        small bundle retries on larger ones, so this can exceed ``spec.events``."""
        return len(self.bundle.lines)

    @property
    def valid(self) -> bool:
        return self.spec.invariant == VALID


def build_case(spec: CaseSpec, attempts: int = 6) -> Case | None:
    """Rebuild a case; None when no bundle of that seed offers a place for the corruption.

    Retries grow the bundle: some corruptions need a feature (a code cell, a child
    thread) that small bundles rarely have.
    """
    from ...generators import CORRUPTIONS, build_bundle

    for attempt in range(attempts):
        seed = spec.seed + attempt * 7919
        bundle = build_bundle(spec.dialect, seed=seed, events=spec.events << attempt, mode=spec.mode, release=spec.release)
        if spec.invariant == VALID:
            return Case(spec, bundle, frozenset())
        corrupted = CORRUPTIONS[spec.invariant].apply(bundle, spec.dialect, random.Random(seed))
        if corrupted is not None:
            return Case(spec, corrupted.bundle, corrupted.expected)
    return None


def judge_case(case: Case, bundle_dir, profile: Profile, rejects: bool = True) -> dict | None:
    """Set ``must_reject`` from the kit's own verdict in ``profile`` on the written bundle
    (never, when the claim does not require rejection: ``rejects`` False); return the kit's
    finding for the case (the one of its invariant, else the first error).

    The dialect is the campaign's: a reducer under test reads one dialect, whatever
    schema_version a corrupted bundle claims. A case of a release is judged by that release's
    rules (``validate --release``).
    """
    from ...validate import Options, validate_bundle

    # releases=False: no compatible-release verdicts (a dozen epochs judged per case, unused here);
    # with a release its RELEASE rules still apply
    report = validate_bundle(bundle_dir, Options(profile=profile, dialect=case.spec.dialect, release=case.spec.release,
                                                 releases=False))
    case.must_reject = rejects and not report.ok
    errors = [f for f in report.findings if f.severity == Severity.ERROR]
    # a warning (a strict writer promise) is no finding of a valid case, nor the one a corrupt case is about
    best = next((f for f in report.findings if f.invariant == case.spec.invariant), errors[0] if errors else None)
    if best is None:
        return None
    return {"invariant": best.invariant, "profile": best.profile.label, "file": best.file, "line": best.line,
            "seq": best.seq, "pointer": best.pointer, "message": best.message}


def eligible_invariants(dialect: str, invariants: list[str] | None = None) -> list[str]:
    """The invariants a campaign of ``dialect`` covers: those with a corruption operator, and
    kit limits only when asked for by name."""
    from ...generators import CORRUPTIONS

    return sorted(
        i for i in (invariants or CORRUPTIONS)
        if i in CORRUPTIONS and dialect in CATALOGUE[i].levels and dialect in CORRUPTIONS[i].dialects
        and (invariants or not CATALOGUE[i].kit_only)
        and not CATALOGUE[i].release_only  # judged against a release's facts, not a reducer run
    )


def plan_cases(dialect: str, examples: int, seed: int, valid_share: float = 0.2,
               min_events: int = 40, max_events: int = 160, invariants: list[str] | None = None,
               shard: tuple[int, int] = (1, 1), mode: str = "releases", release: str | None = None) -> list[CaseSpec]:
    """``examples`` case specs: a share of valid bundles, the rest spread over the invariants
    in a shuffled round-robin (every rule once, in a seeded order, before any twice), so even
    a small ``examples`` reaches many rules. ``shard=(i, n)`` keeps every n-th case of the
    same plan, starting at the i-th: n shards of one seed run the whole campaign once."""
    ids = eligible_invariants(dialect, invariants)
    rnd = random.Random(f"{dialect}:{seed}")
    n_valid = max(1, round(examples * valid_share)) if examples > 1 or not ids else 0
    order: list[str] = []
    while len(order) < examples - n_valid and ids:
        cycle = list(ids)
        rnd.shuffle(cycle)
        order += cycle
    # valid cases spread through the plan, so every shard (and any prefix) gets some
    step = examples / max(1, n_valid)
    mixed = order[: examples - n_valid] if ids else []
    plan: list[str] = []
    v = 0
    for k in range(examples):
        if v < n_valid and k >= round(v * step):
            plan.append(VALID)
            v += 1
        elif mixed:
            plan.append(mixed.pop(0))
        else:
            plan.append(VALID)
    specs = [CaseSpec(dialect, inv, rnd.randrange(2**31), rnd.randint(min_events, max_events), mode, release)
             for inv in plan]
    if mode == "schema":
        # coverage by construction: the k-th valid bundle starts with the generator's k-th feature turn
        from ...generators import feature_seed

        valid = [k for k, s in enumerate(specs) if s.invariant == VALID]
        for j, k in enumerate(valid):
            specs[k] = replace(specs[k], seed=feature_seed(specs[k].seed, j))
    i, n = shard
    return specs[i - 1 :: n]


def smaller(spec: CaseSpec) -> list[CaseSpec]:
    """Candidate shrinks of a case: the same seed with fewer events, smallest first."""
    sizes = []
    n = spec.events
    while n > MIN_EVENTS:
        n = max(MIN_EVENTS, n // 2)
        sizes.append(n)
    return [CaseSpec(spec.dialect, spec.invariant, spec.seed, s, spec.mode, spec.release) for s in reversed(sizes)]
