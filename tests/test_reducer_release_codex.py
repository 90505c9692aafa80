"""Opt-in tier: fuzz-reducer --release R against the real Codex R (bundles as R writes them,
judged by R's rules, as validate --release judges)."""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from rollout_trace_kit.codex.install import ensure_codex

from ._codex_tier import HANG_TIMEOUT

pytestmark = pytest.mark.codex
KNOWN = Path(__file__).parent / "known-results"


def _campaign(tmp_path, release: str, *extra: str) -> tuple[subprocess.CompletedProcess, dict]:
    binary = ensure_codex(release)
    if binary is None:
        pytest.fail(f"could not install Codex {release} from npm")
    cmd = f"{shlex.quote(str(binary))} debug trace-reduce {{bundle}} -o {{output}}"
    out = subprocess.run(
        [sys.executable, "-m", "rollout_trace_kit", "fuzz-reducer", "--release", release, "--cmd", cmd,
         "--examples", "80", "--seed", "19", "--timeout", str(HANG_TIMEOUT), "--no-shrink", "--oracle", "all",
         "--format", "json", "--repro-dir", str(tmp_path / "repro"), *extra],
        capture_output=True, text=True, cwd=tmp_path, timeout=900,
    )
    assert out.returncode in (0, 1), out.stderr
    return out, json.loads(out.stdout)


# Where the kit's --release rules are stricter than the release, with why. Once the rule is fixed
# the entry is stale and the campaign exits 1, so this list cannot outlive the bug.
STRICTER: dict[str, dict] = {}


def _known(tmp_path, release: str) -> str:
    doc = json.loads((KNOWN / f"codex-{release}.json").read_text())
    doc["entries"].update(STRICTER.get(release, {}))
    path = tmp_path / f"known-{release}.json"
    path.write_text(json.dumps(doc))
    return str(path)


@pytest.mark.parametrize("release", ["0.164.0", "0.169.0", "0.171.0"])
def test_the_reference_releases_pass_a_campaign_as_they_write(tmp_path, release):
    out, doc = _campaign(tmp_path, release, "--known", _known(tmp_path, release))
    assert out.returncode == 0 and doc["ok"], (doc["new_failures"], doc["stale_known_results"], doc["failures"][:3])
    assert doc["release"] == release and doc["invariants"]["VALID"]["accepts"] == doc["invariants"]["VALID"]["cases"]
    assert doc["results"]["crash"] == doc["results"]["error"] == doc["results"]["wrong-output"] == 0
    assert doc["results"]["hang"] <= 1  # its known hang, once


def test_0_165_0_reads_every_bundle_as_it_writes_them(tmp_path):
    """0.165.0 writes v2 without the runtime kind and ends with rollout_ended: as it writes, every
    valid bundle is accepted (as 0.169.0 writes them it rejects them all: recording_completed). It
    is laxer than the dialect's rules (0.169.0's) on some corrupt bundles, which it accepts: the
    only failures allowed here, and the kit's --release rules cannot know that (the release
    record's fuzz facts were measured on bundles it rejects whole)."""
    out, doc = _campaign(tmp_path, "0.165.0")
    valid = doc["invariants"]["VALID"]
    assert valid["accepts"] == valid["cases"] > 0 and doc["release"] == "0.165.0" and doc["dialect"] == "v2"
    assert doc["results"]["crash"] == doc["results"]["error"] == doc["results"]["wrong-output"] == 0
    assert {(f["result"], f["behaviour"]) for f in doc["failures"] if f["result"] != "hang"} <= {("fail", "accepts")}
    assert all(f["case"]["invariant"] != "VALID" for f in doc["failures"])


@pytest.mark.parametrize("release", ["0.169.0", "0.171.0"])
def test_the_reference_releases_pass_a_schema_campaign_of_what_they_read(tmp_path, release):
    """--release R --mode schema: what the schema allows that R's reducer reads (v3: truncated and
    omitted captures too), judged by R's rules, with every oracle; R passes with its known results."""
    out, doc = _campaign(tmp_path, release, "--mode", "schema", "--examples", "60", "--known", _known(tmp_path, release))
    assert out.returncode == 0 and doc["ok"], (doc["new_failures"], doc["stale_known_results"], doc["failures"][:3])
    assert doc["mode"] == "schema" and doc["release"] == release
    assert doc["invariants"]["VALID"]["accepts"] == doc["invariants"]["VALID"]["cases"] > 0
    assert doc["results"]["crash"] == doc["results"]["error"] == doc["results"]["wrong-output"] == 0
    assert doc["model_coverage"]["tool_kinds"]["missing"] == []
