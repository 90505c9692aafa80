"""The validator on its own corrupted bundles: never an internal error, never a traceback,
memory that does not grow with the number of bundles checked.

Two sources of bundles: Hypothesis draws (``corrupted_bundles``: a drawn bundle, a drawn
operator; they shrink), and a seeded sweep that applies every operator, and pairs of
operators, to a pool of generated bundles (cheap enough for 100,000). Every dialect the
kit writes is checked. The fast tier runs a modest number of each; the ``slow`` tier
(``pytest -m slow``) checks ``RTK_SLOW_BUNDLES`` corrupted bundles in all (default
100,000: a tenth drawn by Hypothesis, the rest swept in chunks that ``-n`` spreads over
the CPUs). ``RTK_PROPERTY_EXAMPLES`` overrides the fast tier's counts.
"""

from __future__ import annotations

import io
import os
import random
import shutil
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings

from rollout_trace_kit.generators import CORRUPTIONS, FEATURES, corrupted_bundles, expand, feature_plan
from rollout_trace_kit.validate import CATALOGUE
from rollout_trace_kit.validate import Options, Profile, validate_bundle
from rollout_trace_kit.validate.report import print_human, render_github, render_json, render_junit
from rollout_trace_kit.writer.core import written_dialects

FAST = int(os.environ.get("RTK_PROPERTY_EXAMPLES", "20"))
FAST_SWEEP = int(os.environ.get("RTK_PROPERTY_EXAMPLES", "40"))  # the slow tier sweeps thousands
SLOW = int(os.environ.get("RTK_SLOW_BUNDLES", "100000"))  # the slow tier, all dialects together
DIALECTS = written_dialects()
CHUNKS = 4  # sweep chunks per dialect in the slow tier (each its own seed): -n balances them
SLOW_DRAWN = SLOW // 10 // len(DIALECTS)  # Hypothesis draws cost more; per dialect
SLOW_SWEPT = -(-(SLOW - SLOW_DRAWN * len(DIALECTS)) // (len(DIALECTS) * CHUNKS))  # per chunk, rounded up
RSS_GROWTH_MB = 150  # over a whole run; the bundles are small, a leak of per-bundle state is not


# Creating files is the main cost of the sweep; a memory file system when there is one.
SCRATCH = "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else None


def _rss_mb() -> float:
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS:")) / 1024


def _check_all_profiles(c, root: Path, broken: bool = True) -> None:
    where = Path(tempfile.mkdtemp(dir=root))
    try:
        _check_written(c, c.bundle.write(where / "bundle"), broken)
    finally:
        shutil.rmtree(where)


def _check_written(c, d: Path, broken: bool = True) -> None:
    for profile in Profile:
        report = validate_bundle(d, Options(profile=profile))  # a raise here is a traceback: the test fails
        internal = [f.message for f in report.findings if f.invariant == "KIT.INTERNAL_ERROR"]
        assert not internal, f"{c!r}: {internal}"
        if profile is Profile.STRICT and broken:
            assert report.findings, f"{c!r}: a corrupted bundle checked clean"
        # every output format renders whatever the findings hold
        for render in (render_json, render_junit, render_github):
            render([report])
        print_human([report], file=io.StringIO())


def _run(dialect: str, examples: int) -> None:
    with tempfile.TemporaryDirectory(dir=SCRATCH) as tmp:
        root = Path(tmp)
        before = _rss_mb()

        @settings(max_examples=examples, deadline=None, database=None, suppress_health_check=list(HealthCheck))
        @given(corrupted_bundles(dialect, max_turns=3, max_threads=2))
        def check(c):
            _check_all_profiles(c, root)

        check()
        assert _rss_mb() - before < RSS_GROWTH_MB


@pytest.mark.parametrize("dialect", DIALECTS)
def test_corrupted_bundles_never_break_the_validator(dialect):
    _run(dialect, FAST)


@pytest.mark.slow
@pytest.mark.parametrize("dialect", DIALECTS)
def test_corrupted_bundles_never_break_the_validator_at_scale(dialect):
    _run(dialect, SLOW_DRAWN)


def _sweep(dialect: str, count: int, seed: int = 0) -> int:
    """Check ``count`` corrupted bundles: one operator, or two in a row, on a pooled bundle."""
    # release-only rules need a release to judge with (tests/test_release_rules.py checks them)
    ops = [op for name, op in sorted(CORRUPTIONS.items())
           if dialect in op.dialects and not CATALOGUE[name].kit_only and not CATALOGUE[name].release_only]
    rich = [expand(feature_plan(FEATURES, seed=s), dialect) for s in range(4)]
    small: dict = {}  # the features an operator needs, and no more: smaller bundles, faster checks

    def base(op):
        if rnd.random() < 0.25:
            return rnd.choice(rich)
        key = (op.needs, rnd.randrange(4))
        if key not in small:
            small[key] = expand(feature_plan(op.needs, seed=key[1]), dialect)
        return small[key]

    rnd = random.Random(seed)
    checked = 0
    with tempfile.TemporaryDirectory(dir=SCRATCH) as tmp:
        root = Path(tmp)
        before = _rss_mb()
        while checked < count:
            op = rnd.choice(ops)
            c = op.apply(base(op), dialect, random.Random(rnd.random()))
            if c is None:
                continue
            broken = True
            if rnd.random() < 0.3:  # a second corruption on top: operators assume a valid
                try:  # bundle, so one may refuse or fail; that is the generator's business
                    second = rnd.choice(ops).apply(c.bundle, dialect, random.Random(rnd.random()))
                except Exception:
                    second = None
                if second is not None:
                    # A pair may make a valid bundle again, as Codex 0.171.0 agrees: TURN.THREAD_MISMATCH
                    # twice on a two-thread bundle puts the thread back; STORE.REF_RECORD removes
                    # one of the two records STORE.DUPLICATE_RECORD made. Pairs are checked for
                    # robustness (no internal error, every format renders), not for findings.
                    c, broken = second, False
            _check_all_profiles(c, root, broken)
            checked += 1
        assert _rss_mb() - before < RSS_GROWTH_MB
    return checked


@pytest.mark.parametrize("dialect", DIALECTS)
def test_swept_corruptions_never_break_the_validator(dialect):
    assert _sweep(dialect, FAST_SWEEP) == FAST_SWEEP


@pytest.mark.slow
@pytest.mark.parametrize("chunk", range(CHUNKS))
@pytest.mark.parametrize("dialect", DIALECTS)
def test_swept_corruptions_never_break_the_validator_at_scale(dialect, chunk):
    assert _sweep(dialect, SLOW_SWEPT, seed=1 + chunk) == SLOW_SWEPT
