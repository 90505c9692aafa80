"""Hypothesis strategies for whole bundles: lifecycle-valid ones and labelled corrupt ones.

Hypothesis draws a *plan* (a few dozen small choices: how many turns, which
tool calls, how each turn ends, which threads spawn children) and the plan is
expanded deterministically into events. That keeps generation fast (most of
the work is plain Python, not Hypothesis bookkeeping) and makes shrinking
meaningful: a failing example shrinks to a plan with fewer turns, rounds and
calls, and every plan expands to a valid bundle.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, replace
from typing import Any, Iterable

from hypothesis import strategies as st

from ..bundle import Bundle
from ..model import DEFAULT_DIALECT, DIALECTS, facts
from ..model.types import Dialect
from ._plan import CALL_KINDS, SPAWN, TURN_ENDS, BundlePlan, Call, Round, ThreadPlan, TurnPlan
from ._scenario import Recorder
from ._writer import MemorySink
from ..validate import CATALOGUE
from .corruptions import CORRUPTIONS, Corrupted, applicable

FEATURES = frozenset(CALL_KINDS) | {SPAWN, "compact", "resumed"} | set(TURN_ENDS)


@dataclass(repr=False)
class GeneratedBundle(Bundle):
    """A generated :class:`~rollout_trace_kit.bundle.Bundle` that remembers its plan."""

    dialect: str | Dialect = DEFAULT_DIALECT  # as given to expand(): a name, or the model itself
    plan: BundlePlan | None = None

    def __repr__(self) -> str:
        return (
            f"GeneratedBundle(dialect={self.dialect!r}, events={len(self.lines)}, "
            f"payload_files={len(self.payloads)}, plan={self.plan!r})"
        )

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:  # what Hypothesis prints for a falsifying example
        printer.text(repr(self))


def expand(plan: BundlePlan, dialect: str | Dialect = DEFAULT_DIALECT) -> GeneratedBundle:
    """The bundle Codex would have written for ``plan``."""
    d = DIALECTS[dialect] if isinstance(dialect, str) else dialect
    b = Recorder(d, plan, MemorySink()).run()
    assert isinstance(b, Bundle)  # what a MemorySink gives
    return GeneratedBundle(**vars(b), dialect=dialect, plan=plan)


@dataclass
class _Budget:
    children: int


@st.composite
def plans(
    draw: st.DrawFn,
    /,
    dialect: str | Dialect = DEFAULT_DIALECT,
    *,
    max_turns: int = 3,
    max_rounds: int = 3,
    max_calls: int = 2,
    max_threads: int = 3,
    text_bytes: st.SearchStrategy[int] | int = st.integers(4, 64),
    features: Iterable[str] = (),
    mode: str = "releases",
) -> BundlePlan:
    """A :class:`BundlePlan`; ``features`` are guaranteed to occur (see ``FEATURES``);
    ``mode`` is a generation mode of ``MODES``."""
    extra = feature_turns(features) if features else ()
    budget = _Budget(children=max_threads - 1)
    resumes = "thread_resumed" in (DIALECTS[dialect] if isinstance(dialect, str) else dialect).tags

    def call() -> Call:
        return Call(draw(st.sampled_from(CALL_KINDS)), nested=draw(st.integers(0, 2)))

    def round_(depth: int) -> Round:
        # Rare options are drawn as "== top value" so they shrink away (to 0).
        if budget.children > 0 and depth < 2 and draw(st.integers(0, 9)) == 9:
            budget.children -= 1
            return Round((Call(SPAWN, child=child(depth + 1)),))
        calls = tuple(call() for _ in range(draw(st.integers(1, max_calls))))
        compact = draw(st.integers(0, 9)) == 9
        return Round(calls, compact=compact, compaction_retry=compact and draw(st.booleans()))

    def turn(depth: int, answer: bool) -> TurnPlan:
        rounds = tuple(round_(depth) for _ in range(draw(st.integers(0, max_rounds))))
        end = "answer" if answer else draw(st.sampled_from(TURN_ENDS))
        return TurnPlan(rounds, end)

    def child(depth: int) -> ThreadPlan:
        first = turn(depth, answer=True)
        resumed = turn(depth, answer=False) if resumes and draw(st.integers(0, 4)) == 4 else None
        return ThreadPlan((first,), resumed=resumed)

    turns = [turn(0, answer=False) for _ in range(draw(st.integers(1, max_turns)))]
    turns.extend(extra)
    size = text_bytes if isinstance(text_bytes, int) else draw(text_bytes)
    return BundlePlan(
        root=ThreadPlan(tuple(turns)),
        seed=draw(st.integers(0, 2**32 - 1)),
        text_bytes=size,
        incremental=draw(st.booleans()),
        mode=mode,
    )


def feature_turns(features: Iterable[str]) -> tuple[TurnPlan, ...]:
    """Turns in which each feature of ``features`` (see ``FEATURES``) happens at least once:
    one turn with the tool calls, child threads and compaction, then one turn per
    requested way of ending a turn other than an answer."""
    features = frozenset(features)
    unknown = features - FEATURES
    if unknown:
        raise ValueError(f"unknown features {sorted(unknown)}; known: {sorted(FEATURES)}")
    rounds = [Round((Call(k, nested=1),)) for k in CALL_KINDS if k in features]
    if SPAWN in features or "resumed" in features:
        resumed = TurnPlan() if "resumed" in features else None  # thread_resumed: v2 only
        kid = ThreadPlan((TurnPlan((Round((Call("exec"),)),)),), resumed=resumed)
        rounds.append(Round((Call(SPAWN, child=kid),)))
    if "compact" in features:
        if not rounds:
            rounds.append(Round((Call("exec"),)))
        rounds[0] = Round(rounds[0].calls, compact=True, compaction_retry=True)
    turns = [TurnPlan(tuple(rounds))]
    turns += [TurnPlan((), end) for end in TURN_ENDS if end in features and end != "answer"]
    return tuple(turns)


def feature_plan(features: Iterable[str] = FEATURES, seed: int = 0) -> BundlePlan:
    """A small deterministic plan in which every feature of ``features`` happens."""
    return BundlePlan(root=ThreadPlan(feature_turns(features)), seed=seed)


def bundles(dialect: str | Dialect = DEFAULT_DIALECT, **plan_options: Any) -> st.SearchStrategy[GeneratedBundle]:
    """Lifecycle-valid bundles of ``dialect``: accepted by the dialect's reference reducer and
    with zero findings in the reducer profile (the ``"releases"`` mode: in every profile).
    ``plan_options`` are those of :func:`plans` (``max_turns``, ``max_rounds``, ``max_calls``,
    ``max_threads``, ``text_bytes``, ``features``, ``mode``: ``"releases"`` writes what Codex
    releases write, ``"schema"`` every value the schema allows where the reducers read any).
    """
    if isinstance(dialect, str) and dialect not in DIALECTS:
        raise ValueError(f"unknown dialect {dialect!r}")
    return plans(dialect, **plan_options).map(lambda p: expand(p, dialect))


lifecycle_bundles = bundles


@st.composite
def corrupted_bundles(
    draw: st.DrawFn, /, dialect: str | Dialect = DEFAULT_DIALECT, invariants: Iterable[str] | None = None, **plan_options: Any
) -> Corrupted:
    """A valid bundle broken by one operator of ``CORRUPTIONS`` (among ``invariants``).

    By default every operator of the dialect except those of kit-only invariants (the
    kit's own limits, such as a 64 MiB line or a 256 MiB payload: no reducer rule, and
    costly bundles); name them in ``invariants`` to get them. The operator is drawn
    first, the bundle is drawn with the features it needs, and the operator's own
    choices come from a Hypothesis-controlled Random, so a failing example shrinks in
    all three.
    """
    if invariants is None:
        registered = dialect if isinstance(dialect, str) else facts.registered_name(dialect)
        names = [i for i in applicable(registered) if not CATALOGUE[i].kit_only]
    else:
        names = sorted(invariants)
    missing = [n for n in names if n not in CORRUPTIONS]
    if missing:
        raise ValueError(f"no corruption operator for {missing}")
    name = draw(st.sampled_from(names))
    op = CORRUPTIONS[name]
    features = frozenset(op.needs) | frozenset(plan_options.pop("features", ()))
    bundle = draw(bundles(dialect, features=features, **plan_options))
    rnd: random.Random = draw(st.randoms(use_true_random=False))
    out = op.apply(bundle, dialect, rnd)
    if out is None:
        from hypothesis import reject

        reject()
    return replace(out, origin=repr(bundle))


__all__ = [
    "FEATURES", "GeneratedBundle", "bundles", "corrupted_bundles", "expand", "feature_plan", "feature_turns",
    "lifecycle_bundles", "plans",
]
