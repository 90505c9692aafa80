"""`rollout-trace compat`: which paths it takes (the judging itself: test_release_rules, test_compat_codex)."""

from __future__ import annotations

import json
import os
import shutil

import pytest

from rollout_trace_kit.cli import main
from rollout_trace_kit.corpus import corpus_root


@pytest.mark.parametrize("make", ["empty directory", "directory of other files", "missing"])
def test_a_path_holding_no_bundle_is_a_usage_error(tmp_path, capsys, make):
    p = tmp_path / "p"
    if make == "empty directory":
        p.mkdir()
    elif make == "directory of other files":
        (p / "x" / "y").mkdir(parents=True)
        (p / "x" / "notes.txt").write_text("hi")
    assert main(["compat", str(p)]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and "rollout-trace compat:" in captured.err


@pytest.mark.parametrize("make", ["FIFO", "file"])
def test_a_file_where_a_bundle_should_be_is_a_finding(tmp_path, capsys, make):
    """Hostile input, as validate says it (BUNDLE.IS_DIRECTORY, exit 1), never a usage error."""
    p = tmp_path / "p"
    os.mkfifo(p) if make == "FIFO" else p.write_text("{}")
    assert main(["compat", str(p)]) == 1
    assert "BUNDLE.IS_DIRECTORY" in capsys.readouterr().out


def test_a_shipped_bundle_by_its_corpus_name(capsys):
    assert main(["compat", "--format", "json", "corpus:codex-0.164.0/basic"]) == 0
    rows = json.loads(capsys.readouterr().out)["bundles"]
    assert [r["bundle"] for r in rows] == [str(corpus_root() / "codex-0.164.0" / "basic")]
    assert "0.164.0" in ",".join(rows[0]["readers"])


def test_a_log_line_no_reader_parses_leaves_no_reader(tmp_path, capsys):
    # Every release's reducer parses each line with serde_json; the releases that ignore
    # schema_version (0.164.0 and before) used to be listed as readers of such a log when
    # the manifest named another dialect (its reducer errors then judge only that dialect's).
    b = tmp_path / "b"
    shutil.copytree(corpus_root() / "codex-0.164.0" / "basic", b)
    manifest = json.loads((b / "manifest.json").read_text())
    (b / "manifest.json").write_text(json.dumps(dict(manifest, schema_version=3)))
    assert main(["compat", "--format", "json", str(b)]) == 0  # 0.164.0 reads its own events
    assert "0.164.0" in ",".join(json.loads(capsys.readouterr().out)["bundles"][0]["readers"])
    with open(b / "trace.jsonl", "ab") as f:
        f.write(b"\0" * 100 + b"\n")
    assert main(["compat", "--format", "json", str(b)]) == 1
    rows = json.loads(capsys.readouterr().out)["bundles"]
    assert rows[0]["readers"] == []


def test_a_log_line_no_reader_parses_leaves_no_reader_of_a_dialect_the_kit_does_not_model(tmp_path, capsys):
    # schema_version 0 everywhere: the validator cannot tell the dialect, so the release
    # verdict reads trace.jsonl plainly (release_verdict.summarize) and must notice the line too.
    b = tmp_path / "b"
    shutil.copytree(corpus_root() / "codex-0.164.0" / "basic", b)
    manifest = json.loads((b / "manifest.json").read_text())
    (b / "manifest.json").write_text(json.dumps(dict(manifest, schema_version=0)))
    events = [json.loads(line) for line in (b / "trace.jsonl").read_text().splitlines()]
    (b / "trace.jsonl").write_text("".join(json.dumps(dict(e, schema_version=0)) + "\n" for e in events))
    assert main(["compat", "--format", "json", str(b)]) == 0  # releases accepting schema_version 0 read it
    assert "0.164.0" in ",".join(json.loads(capsys.readouterr().out)["bundles"][0]["readers"])
    with open(b / "trace.jsonl", "ab") as f:
        f.write(b"\0" * 100 + b"\n")
    assert main(["compat", "--format", "json", str(b)]) == 1
    rows = json.loads(capsys.readouterr().out)["bundles"]
    assert rows[0]["readers"] == []


@pytest.mark.parametrize("log", ["missing", "a directory"])
def test_a_log_no_reader_can_open_leaves_no_reader(tmp_path, capsys, log):
    # Every release's replay_bundle opens trace.jsonl ("open trace event log"), whatever
    # schema_version it reads: 0.164.0 and before were listed as readers of such a bundle
    # when the manifest named another dialect (whose reducer errors judge only its releases).
    b = tmp_path / "b"
    shutil.copytree(corpus_root() / "codex-0.164.0" / "basic", b)
    manifest = json.loads((b / "manifest.json").read_text())
    (b / "manifest.json").write_text(json.dumps(dict(manifest, schema_version=3)))
    (b / "trace.jsonl").unlink()
    if log == "a directory":
        (b / "trace.jsonl").mkdir()
    assert main(["compat", "--format", "json", str(b)]) == 1
    assert json.loads(capsys.readouterr().out)["bundles"][0]["readers"] == []


@pytest.mark.parametrize("color", ["always", "never"])
def test_compat_takes_color_as_validate_does(capsys, color, monkeypatch):
    """validate had --color, compat (whose human report dims its reasons) had none: `--color always`
    was a usage error, and its output to a terminal could not be made plain but by NO_COLOR."""
    monkeypatch.delenv("NO_COLOR", raising=False)
    assert main(["compat", "--color", color, "corpus:codex-0.169.0/plain"]) == 0
    out = capsys.readouterr().out
    assert "read by:" in out
    assert ("\x1b[" in out) == (color == "always"), out
