"""Codex tier: every reducer verdict the suite expects (conformance/cases, per release epoch)
is what the real `codex debug trace-reduce` of that epoch does, error class included.

Run with ``--codex -m codex``. The release checked per epoch is its oldest (the epoch's first
release, the one whose facts the epoch's later releases share); the tier installs those it lacks
(~400 MB each).
"""

from __future__ import annotations

import shlex
import shutil
import subprocess

import pytest

from rollout_trace_kit.codex.install import REFERENCE_RELEASES, ensure_codex
from rollout_trace_kit.conformance.suite import suite_root
from rollout_trace_kit.conformance.suite.run import _read_json, load_index, run_suite

from ._codex_tier import oldest_readers

pytestmark = pytest.mark.codex


def test_every_epoch_with_a_reducer_is_checked():
    assert len(oldest_readers()) >= 12 and "0.125.0" in oldest_readers()


@pytest.mark.parametrize("release", oldest_readers())
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
    # a case says nothing of a reducer only when it breaks a kit-only rule (a kit limit: the model's catalogue)
    from rollout_trace_kit.validate import CATALOGUE

    root = suite_root()
    expected = {row["id"]: _read_json(root, row["expected"]) for row in load_index(root)["cases"]}
    skipped = [o.case for o in outcomes if o.status == "skip"]
    assert all(any(CATALOGUE[i].kit_only for i in expected[c]["breaks"]) for c in skipped), skipped


@pytest.mark.skipif(shutil.which("node") is None, reason="needs Node.js (the machine's CI has it)")
@pytest.mark.parametrize("dialect", sorted(REFERENCE_RELEASES))
def test_the_node_runner_passes_the_suite_against_the_real_reducer(dialect, codex_binaries):
    """The suite without Python: the Node runner the docs show, against each dialect's reference reducer."""
    release = REFERENCE_RELEASES[dialect]
    cmd = f"{shlex.quote(str(codex_binaries[dialect]))} debug trace-reduce {{bundle}} -o {{out}}"
    proc = subprocess.run(["node", str(suite_root() / "runners" / "node" / "run.mjs"), str(suite_root()), "--release", release,
                           "--dialect", dialect, "--", cmd], capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-1000:]
    last = proc.stdout.strip().splitlines()[-1]
    assert last.endswith(" case(s), 0 fail") and int(last.split()[1]) > 20, last
