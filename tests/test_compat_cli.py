"""`rollout-trace compat`: which paths it takes (the judging itself: test_release_rules, test_compat_codex)."""

from __future__ import annotations

import json
import os

import pytest

from rollout_trace_kit.cli import main
from rollout_trace_kit.corpus import corpus_root


@pytest.mark.parametrize("make", ["empty directory", "directory of other files", "FIFO", "missing"])
def test_a_path_holding_no_bundle_is_a_usage_error(tmp_path, capsys, make):
    p = tmp_path / "p"
    if make == "empty directory":
        p.mkdir()
    elif make == "directory of other files":
        (p / "x" / "y").mkdir(parents=True)
        (p / "x" / "notes.txt").write_text("hi")
    elif make == "FIFO":
        os.mkfifo(p)
    assert main(["compat", str(p)]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and "rollout-trace compat:" in captured.err


def test_a_shipped_bundle_by_its_corpus_name(capsys):
    assert main(["compat", "--format", "json", "corpus:codex-0.164.0/basic"]) == 0
    rows = json.loads(capsys.readouterr().out)["bundles"]
    assert [r["bundle"] for r in rows] == [str(corpus_root() / "codex-0.164.0" / "basic")]
    assert "0.164.0" in ",".join(rows[0]["readers"])
