"""Codex tier: every reducer verdict the suite expects (conformance/cases, per release epoch)
is what the real `codex debug trace-reduce` of that epoch does, error class included.

Run with ``--codex -m codex``. The epochs checked are those of the reference releases (one per
dialect, installed by the tier): the other epochs' verdicts come from the same model facts,
and are checked when their oldest release is installed (VERIFIED_EXTRA).
"""

from __future__ import annotations

import shlex

import pytest

from rollout_trace_kit.codex.install import REFERENCE_RELEASES, ensure_codex
from rollout_trace_kit.conformance.suite import suite_root
from rollout_trace_kit.conformance.suite.run import run_suite

pytestmark = pytest.mark.codex

# Oldest releases of other epochs, once their verdicts hold. Not yet 0.125.0 (measured 2026-12-05):
# its reducer rejects 7 real 0.164.0 bundles the release table says it reads ("parse exec terminal
# response" on the newer exec body; "missing field `call_id`" on multi_agent_v2), and 9 invalid
# cases with those errors instead of the class expected; the other 66 v1 cases and every v2/v3
# case agree. The release facts lack what its reducer parses in payload bodies.
VERIFIED_EXTRA: tuple[str, ...] = ()


@pytest.mark.parametrize("release", sorted(set(REFERENCE_RELEASES.values())) + list(VERIFIED_EXTRA))
def test_every_expected_reducer_verdict_is_the_real_reducers(release):
    binary = ensure_codex(release)
    if binary is None:
        pytest.fail(f"could not install Codex {release} from npm")
    cmd = f"{shlex.quote(str(binary))} debug trace-reduce {{bundle}} -o {{out}}"
    outcomes = run_suite(suite_root(), cmd, release=release, timeout=120)
    failed = [(o.case, o.detail) for o in outcomes if o.status == "fail"]
    assert failed == []
    passed = [o for o in outcomes if o.status == "pass"]
    assert len(passed) >= 200, len(passed)  # every case of every dialect, but the few with no verdict
    skipped = [o.case for o in outcomes if o.status == "skip"]
    assert all("TOO_LONG" in c or "SIZE_LIMIT" in c or "DIALECT_KNOWN" in c or "REF.SIZE" in c for c in skipped), skipped
