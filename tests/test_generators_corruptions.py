"""Corruption operators: one per invariant, each caught by the validator exactly as labelled.

The mutation-kill matrix: every operator of every catalogue invariant, applied to a
generated bundle with every feature and to the real corpus bundles, must make the
validator report exactly the operator's expected IDs in every profile, the primary
one at the operator's line and seq.
"""

from __future__ import annotations

import os
import random
import tempfile
from pathlib import Path

import pytest

from rollout_trace_kit.writer.core import written_dialects
from hypothesis import HealthCheck, find, given, settings

from rollout_trace_kit.bundle import Bundle
from rollout_trace_kit.generators import (
    CORRUPTIONS,
    FEATURES,
    UNCORRUPTIBLE,
    Corrupted,
    applicable,
    corrupted_bundles,
    expand,
    feature_plan,
    missing_operators,
)
from rollout_trace_kit.model import DIALECTS
from rollout_trace_kit.model.types import STORE_ZSTD_SHARDS
from rollout_trace_kit.validate import CATALOGUE, Options, Profile, all_invariants, validate_bundle

from .conftest import corpus_bundles

DIALECT_NAMES = written_dialects()  # the dialects the kit's writers (and so its generators) write
EXAMPLES = int(os.environ.get("RTK_GENERATOR_EXAMPLES", "25"))
RELEASE = {d.name: d.reference_release for d in DIALECTS.values()}
MATRIX = [(d, inv) for d in DIALECT_NAMES for inv in applicable(d)]
EXPENSIVE = {i for i in CATALOGUE if CATALOGUE[i].kit_only}  # e.g. a 64 MiB line, a 256 MiB payload: one seed


_BUNDLES: dict[str, Bundle] = {}


def rich(dialect: str) -> Bundle:
    """A generated bundle with every feature (all variants but `other`)."""
    if dialect not in _BUNDLES:
        _BUNDLES[dialect] = expand(feature_plan(FEATURES, seed=11), dialect)
    return _BUNDLES[dialect]


def run_validator(c: Corrupted):
    with tempfile.TemporaryDirectory() as tmp:
        path = c.bundle.write(Path(tmp) / "bundle")
        # releases=False: the findings alone. Which releases read a corrupt bundle is compat's business,
        # tested apart (test_compat_property); it re-reads the bundle as each release that reads it its
        # own way, four fifths of this file's time.
        return {p: validate_bundle(path, Options(profile=p, releases=False)) for p in Profile}


def assert_caught(c: Corrupted, dialect: str) -> dict:
    reports = run_validator(c)
    for profile, report in reports.items():
        want = c.expected_in(dialect, profile)
        got = report.ids()
        assert got == want, (
            f"{c.invariant} ({c.note}) in {profile.label}: got {sorted(got)}, want {sorted(want)}; "
            f"{[(f.invariant, f.line, f.seq, f.message) for f in report.findings][:4]}"
        )
    return reports


def primary_positions(reports, c: Corrupted) -> set:
    return {(f.line, f.seq) for f in reports[Profile.STRICT].findings if f.invariant == c.invariant}


# -- the registry ------------------------------------------------------------------------------
def test_every_catalogue_invariant_has_an_operator():
    assert missing_operators() == [], "invariants without a corruption operator"


def test_uncorruptible_entries_are_catalogue_invariants_with_a_reason():
    for inv_id, reason in UNCORRUPTIBLE.items():
        assert inv_id in CATALOGUE and reason and inv_id not in CORRUPTIONS


def test_operators_are_keyed_by_their_invariant_and_described():
    known = {inv.id for inv in all_invariants()}
    for inv_id, op in CORRUPTIONS.items():
        assert op.invariant == inv_id and inv_id in known
        assert op.description.endswith(".") and len(op.description) > 15
        assert op.needs <= FEATURES
        assert op.dialects <= set(CATALOGUE[inv_id].levels)


# The operators that broke v3 bundles when their hand list gave way to each operator's
# declared ``edits_store`` (None: events and manifest only). Extending an operator to a
# dialect is a decision: update this set with it.
EVENT_ONLY_ON_V3 = {
    "BUNDLE.CONFINED", "BUNDLE.IS_DIRECTORY", "BUNDLE.LAYOUT_NAMES", "BUNDLE.NOT_LINKED", "BUNDLE.MANIFEST_JSON", "BUNDLE.MANIFEST_PRESENT",
    "BUNDLE.MANIFEST_SCHEMA", "BUNDLE.TRACE_PRESENT", "CELL.DUPLICATE_START", "CELL.MISSING_CONTEXT",
    "CELL.REMAPPED", "CELL.UNKNOWN", "COMPACTION.MISSING_CONTEXT", "COMPACTION.UNKNOWN_REQUEST",
    "ENVELOPE.CONTEXT_CONVENTION", "ENVELOPE.CONTEXT_MATCHES_PAYLOAD", "ENVELOPE.ROLLOUT_ID",
    "ENVELOPE.SCHEMA_VERSION", "EVENT.OTHER_VARIANT", "EVENT.RELEASE_REQUIRED_FIELD", "EVENT.UNKNOWN_KEY",
    "HISTORY.AGENT_MESSAGE", "HISTORY.MISSING_THREAD",
    "LINE.BLANK", "LINE.CRLF", "LINE.DUPLICATE_KEY", "LINE.TRUNCATED", "MCP.DUPLICATE_CORRELATION",
    "ORDER.TERMINAL_PRESENT", "ROLLOUT.IDENTITY", "ROLLOUT.STARTED_FIRST", "SEQ.INCREASING",
    "SEQ.STARTS_AT_ONE", "THREAD.RESUME_NOT_ENDED", "THREAD.UNKNOWN", "TIME.MONOTONIC", "TOOL.UNKNOWN_CALL",
    "TURN.DUPLICATE_START", "TURN.THREAD_MISMATCH", "TURN.UNKNOWN", "CELL.START_TURN",
}


def test_operators_reach_the_dialects_whose_store_they_edit():
    """An operator applies where its invariant is catalogued and it can edit the payload store."""
    v3 = {i for i, op in CORRUPTIONS.items() if "v3" in op.dialects}
    shard_ops = {i for i, op in CORRUPTIONS.items() if op.edits_store == STORE_ZSTD_SHARDS}
    assert v3 - shard_ops - {i for i in CATALOGUE if set(CATALOGUE[i].levels) == {"v3"}} == EVENT_ONLY_ON_V3
    for inv in EVENT_ONLY_ON_V3:
        assert CORRUPTIONS[inv].edits_store is None, inv
    for inv, op in CORRUPTIONS.items():
        for name in op.dialects:
            assert op.edits_store in (None, DIALECTS[name].layout.store), (inv, name)


# -- the mutation-kill matrix -------------------------------------------------------------------------
def _caught_at_its_place(dialect: str, invariant: str, seed: int) -> None:
    c = CORRUPTIONS[invariant].apply(rich(dialect), dialect, random.Random(seed))
    assert c is not None, f"{invariant} found no place in a bundle with every feature"
    assert c.invariant == invariant and invariant in c.expected
    reports = assert_caught(c, dialect)
    # the primary finding is at the operator's line and seq
    positions = primary_positions(reports, c)
    if c.line is None:
        assert (None, None) in positions or any(line is None for line, _ in positions), positions
    else:
        assert (c.line, c.seq) in positions, (c.note, (c.line, c.seq), positions)


@pytest.mark.parametrize("dialect,invariant", MATRIX, ids=[f"{d}-{i}" for d, i in MATRIX])
def test_operator_on_a_generated_bundle_is_caught_exactly_at_its_place(dialect, invariant):
    _caught_at_its_place(dialect, invariant, 0)


# Two more places per operator (its random choices with other seeds): in the slow tier, which
# .ci/run runs; the README's test run keeps one per operator and dialect.
@pytest.mark.slow
@pytest.mark.parametrize("dialect,invariant", [(d, i) for d, i in MATRIX if i not in EXPENSIVE],
                         ids=[f"{d}-{i}" for d, i in MATRIX if i not in EXPENSIVE])
def test_operator_caught_exactly_at_other_places(dialect, invariant):
    for seed in (1, 2):
        _caught_at_its_place(dialect, invariant, seed)


def _operators_on_real_bundles(dialect, every_bundle):
    used = set()
    for path in corpus_bundles(RELEASE[dialect]):
        bundle = Bundle.read(path)
        for invariant in applicable(dialect):
            if invariant in used and (invariant in EXPENSIVE or not every_bundle):
                continue
            c = CORRUPTIONS[invariant].apply(bundle, dialect, random.Random(0))
            if c is None:
                continue
            assert_caught(c, dialect)
            used.add(invariant)
    assert used == set(applicable(dialect)), f"no corpus bundle offers a place for {set(applicable(dialect)) - used}"


@pytest.mark.parametrize("dialect", DIALECT_NAMES)
def test_operators_on_real_bundles_are_caught_exactly(dialect):
    """The lead's per-invariant tests use these operators on the corpus with a fixed seed: each
    operator on the first real bundle that offers it a place."""
    _operators_on_real_bundles(dialect, every_bundle=False)


@pytest.mark.slow
@pytest.mark.parametrize("dialect", DIALECT_NAMES)
def test_operators_on_every_real_bundle_are_caught_exactly(dialect):
    """Every operator on every real bundle that offers it a place (minutes: the slow tier)."""
    _operators_on_real_bundles(dialect, every_bundle=True)


@pytest.mark.parametrize("dialect", [d for d in DIALECT_NAMES if "BUNDLE.DIALECT_KNOWN" in applicable(d)])
def test_an_unknown_dialect_is_unknown_to_the_model(dialect):
    """Every schema_version BUNDLE.DIALECT_KNOWN picks is no dialect's (it once picked 3, now v3's).

    The matrix gives kit-only operators one seed; this one is cheap, so every choice is tried."""
    for seed in range(8):
        assert_caught(CORRUPTIONS["BUNDLE.DIALECT_KNOWN"].apply(rich(dialect), dialect, random.Random(seed)), dialect)


def test_operators_are_deterministic_and_leave_their_input_alone():
    bundle = rich("v2")
    before = (list(bundle.lines), dict(bundle.payloads), bundle.manifest)
    for invariant in applicable("v2"):
        if invariant in EXPENSIVE:
            continue
        a = CORRUPTIONS[invariant].apply(bundle, "v2", random.Random(7))
        b = CORRUPTIONS[invariant].apply(bundle, "v2", random.Random(7))
        assert (a.bundle.lines, a.bundle.payloads, a.bundle.manifest, a.line, a.seq) == (
            b.bundle.lines, b.bundle.payloads, b.bundle.manifest, b.line, b.seq), invariant
        changed = (a.bundle.lines, a.bundle.payloads, a.bundle.manifest, a.bundle.specials) != (*before, {})
        assert changed or type(a.bundle) is not type(bundle), invariant
    assert (bundle.lines, bundle.payloads, bundle.manifest) == before


def test_operators_refuse_bundles_without_a_place_for_them():
    plain = expand(feature_plan({"answer"}), "v1")
    for invariant in ("CELL.UNKNOWN", "MCP.DUPLICATE_CORRELATION", "COMPACTION.DUPLICATE_INSTALL", "TURN.THREAD_MISMATCH"):
        assert CORRUPTIONS[invariant].apply(plain, "v1", random.Random(0)) is None
    assert CORRUPTIONS["ORDER.AFTER_RECORDING_COMPLETED"].apply(rich("v1"), "v1", random.Random(0)) is None


# -- Hypothesis-drawn corruptions --------------------------------------------------------------------
@pytest.mark.parametrize("dialect", DIALECT_NAMES)
def test_drawn_corruptions_are_caught_exactly(dialect):
    cheap = [i for i in applicable(dialect) if i not in EXPENSIVE]

    @settings(max_examples=EXAMPLES, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(corrupted_bundles(dialect, invariants=cheap, max_turns=2, max_threads=2))
    def check(c):
        assert_caught(c, dialect)

    check()


def test_a_corrupted_example_shrinks_and_stays_broken_the_same_way():
    shrunk = find(
        corrupted_bundles("v2", invariants=["TOOL.UNKNOWN_CALL"]),
        lambda c: True,
        settings=settings(database=None, max_examples=50),
    )
    assert len(shrunk.bundle.lines) <= 40
    assert_caught(shrunk, "v2")
