"""Measured on the real reducers: they follow a symbolic link at manifest.json or trace.jsonl,
inside the bundle or out of it, and reduce the bundle as if the files were there. The kit's
reducer profile agrees on a link inside (read, clean); on a link out it declines to judge
(BUNDLE.CONFINED: the kit never reads outside a bundle), which the catalogue says.

Opt-in tier (``--codex -m codex``).
"""

from __future__ import annotations

import shutil

import pytest

from rollout_trace_kit.codex.install import REFERENCE_RELEASES, trace_reduce
from rollout_trace_kit.corpus import corpus_root
from rollout_trace_kit.validate import Options, Profile, validate_bundle

pytestmark = pytest.mark.codex


@pytest.mark.parametrize("dialect", sorted(REFERENCE_RELEASES))
@pytest.mark.parametrize("name", ["manifest.json", "trace.jsonl"])
@pytest.mark.parametrize("out", [False, True], ids=["inside", "out"])
def test_the_reducers_follow_a_link_and_the_kit_agrees_or_declines(dialect, name, out, codex_binaries, tmp_path):
    source = corpus_root() / f"codex-{REFERENCE_RELEASES[dialect]}" / "basic"
    plain = trace_reduce(codex_binaries[dialect], source, tmp_path / "plain.json", timeout=60)
    bundle = tmp_path / "bundle"
    shutil.copytree(source, bundle)
    where = tmp_path / "elsewhere" if out else bundle / "kept"
    where.mkdir()
    (bundle / name).rename(where / name)
    (bundle / name).symlink_to(where / name)
    linked = trace_reduce(codex_binaries[dialect], bundle, tmp_path / "linked.json", timeout=60)
    assert plain.accepted and linked.accepted, linked.first_error
    assert (tmp_path / "linked.json").read_bytes() == (tmp_path / "plain.json").read_bytes()
    kit = validate_bundle(bundle, Options(profile=Profile.REDUCER))
    if out:
        assert [f.invariant for f in kit.findings] == ["BUNDLE.CONFINED"]  # declined, never "ok"
    else:
        assert kit.ok and kit.findings == []
