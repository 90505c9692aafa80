"""Opt-in tier: the compat verdict agrees with every installed real reducer on every shipped real bundle.

`rollout-trace compat` says which releases' reducers accept a bundle (from the measured
release records, one judgement per epoch); here each of those reducers actually runs.
Schema-3 bundles ship with branch `v3` (payload shards); the kit's corpus of this branch
holds the releases listed by ``rollout_trace_kit.corpus.releases()``.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from rollout_trace_kit.codex.install import ensure_codex, trace_reduce
from rollout_trace_kit.corpus import bundles, releases as corpus_releases
from rollout_trace_kit.model import releases as rel
from rollout_trace_kit.model.types import release_key

READERS = ("0.164.0", "0.165.0", "0.166.0", "0.169.0", "0.171.0")
SHIPPED = [b for r in corpus_releases() for b in bundles(r)]


def _covers(spans: list[str], version: str) -> bool:
    for span in spans:
        first, _, last = span.partition("..")
        if release_key(first) <= release_key(version) <= release_key(last or first):
            return True
    return False


@pytest.fixture(scope="module")
def verdicts():
    proc = subprocess.run([sys.executable, "-m", "rollout_trace_kit", "compat", "--format", "json",
                           *map(str, SHIPPED)], capture_output=True, text=True, timeout=600)
    assert proc.returncode in (0, 1), proc.stderr
    return {row["bundle"]: row for row in json.loads(proc.stdout)["bundles"]}


@pytest.mark.codex
@pytest.mark.parametrize("reader", READERS)
def test_compat_verdict_is_the_reducers_exit_status(tmp_path, verdicts, reader):
    assert rel.release(reader) is not None and rel.release(reader).status == "probed"
    binary = ensure_codex(reader)
    assert binary is not None, f"could not install Codex {reader}"
    disagree = []
    for n, bundle in enumerate(SHIPPED):
        said = _covers(verdicts[str(bundle)]["readers"], reader)
        real = trace_reduce(binary, bundle, tmp_path / f"{n}.state.json", timeout=30)
        if said != real.accepted:
            disagree.append((bundle.parent.name + "/" + bundle.name, said, real.returncode, real.first_error[:120]))
    assert not disagree, disagree
