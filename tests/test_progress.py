"""One ``--progress auto|always|never`` and one ``--jobs`` default for every long-running
command (issue 19's ruling, issue 21 item 3)."""

from __future__ import annotations

import io
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from rollout_trace_kit import config, progress
from rollout_trace_kit.cli import _subparsers, build_parser
from rollout_trace_kit.corpus import corpus_root

from ._helpers import read_until_closed

RTK = [sys.executable, "-m", "rollout_trace_kit"]
TOOLS = corpus_root() / "codex-0.169.0" / "tools"
LONG_RUNNING = ["validate", "compat", "fuzz-reducer", "check-writer"]
ANSI = re.compile(rb"\x1b\[[0-9;?]*[A-Za-z]")


def test_off_a_terminal_a_line_every_interval_and_none_for_a_short_run(monkeypatch):
    monkeypatch.setattr(progress, "LINE_EVERY", 0.05)
    out = io.StringIO()
    with progress.Progress("validate", "bundles", "auto", total=10, stream=out) as bar:
        bar.update(3, note="1 failing")
        time.sleep(0.3)
    lines = out.getvalue().splitlines()
    assert len(lines) >= 2 and lines[0].startswith("rollout-trace validate: 3/10 bundles, 1 failing, 0m00s")
    monkeypatch.setattr(progress, "LINE_EVERY", 30.0)
    quiet = io.StringIO()
    with progress.Progress("validate", "bundles", "auto", total=10, stream=quiet) as bar:
        bar.update(10)
    assert quiet.getvalue() == ""  # shorter than the interval: no line


def test_never_prints_nothing(monkeypatch):
    monkeypatch.setattr(progress, "LINE_EVERY", 0.01)
    out = io.StringIO()
    with progress.Progress("fuzz-reducer", "cases", "never", stream=out) as bar:
        bar.update(1)
        time.sleep(0.1)
    assert out.getvalue() == ""


def test_the_bar_counts_bytes_and_events_of_one_bundle_on_a_terminal(tmp_path):
    import pty

    leader, follower = pty.openpty()
    proc = subprocess.Popen([*RTK, "validate", str(TOOLS), "--progress", "always", "-q"],
                            stdout=subprocess.DEVNULL, stderr=follower, cwd=tmp_path)
    os.close(follower)
    seen = ANSI.sub(b"", read_until_closed(leader))
    proc.wait(timeout=120)
    os.close(leader)
    size = (TOOLS / "trace.jsonl").stat().st_size
    assert proc.returncode == 0
    kib = f"{size / 1024:.1f} KiB"
    assert b"validate" in seen and b"39 events" in seen and f"{kib}/{kib}".encode() in seen, seen


def test_a_tree_counts_bundles_and_never_means_no_bar(tmp_path):
    import pty

    for n in range(3):
        shutil.copytree(TOOLS, tmp_path / "fleet" / f"b{n}")
    for mode, want in (("always", True), ("never", False)):
        leader, follower = pty.openpty()
        proc = subprocess.Popen([*RTK, "validate", "fleet", "--progress", mode, "-q"],
                                stdout=subprocess.DEVNULL, stderr=follower, cwd=tmp_path)
        os.close(follower)
        seen = ANSI.sub(b"", read_until_closed(leader))
        proc.wait(timeout=120)
        os.close(leader)
        assert (b"3/3 bundles, 0 failing" in seen) is want, seen


@pytest.mark.parametrize("command", LONG_RUNNING)
def test_every_long_running_command_has_the_same_jobs_default_and_progress(command):
    sub = _subparsers(build_parser())[command]
    actions = {a.dest: a for a in sub._actions}
    assert actions["jobs"].default == "auto" and actions["jobs"].type is progress.jobs_value
    assert actions["progress"].choices == progress.PROGRESS_CHOICES and actions["progress"].default == "auto"
    args = sub.parse_args({"validate": ["x"], "compat": ["x"]}.get(command, ["--cmd", "x"]))
    assert args.jobs == progress.default_jobs() and args.progress == "auto"


def test_project_defaults_set_jobs_and_progress_for_every_command(tmp_path):
    (tmp_path / "pyproject.toml").write_text('[tool.rollout-trace]\njobs = 3\nprogress = "never"\n')
    table, origin = config.load(tmp_path)
    parser = build_parser()
    subs = _subparsers(parser)
    config.apply(subs, table, origin)
    for command in LONG_RUNNING:
        args = subs[command].parse_args({"validate": ["x"], "compat": ["x"]}.get(command, ["--cmd", "x"]))
        assert (args.jobs, args.progress) == (3, "never"), command
    (tmp_path / "pyproject.toml").write_text('[tool.rollout-trace]\nprogress = "sometimes"\n')
    table, origin = config.load(tmp_path)
    with pytest.raises(config.ConfigError, match="auto, always, never"):
        config.apply(_subparsers(build_parser()), table, origin)


@pytest.mark.parametrize("value, message", [("0", "whole number >= 1 or auto"), ("two", "whole number >= 1 or auto")])
def test_a_bad_jobs_value_is_a_usage_error(tmp_path, value, message):
    out = subprocess.run([*RTK, "validate", str(TOOLS), "-j", value], capture_output=True, text=True, cwd=tmp_path)
    assert out.returncode == 2 and message in out.stderr


def test_a_jobs_value_from_the_config_file_is_checked_too(tmp_path):
    (tmp_path / "pyproject.toml").write_text("[tool.rollout-trace]\njobs = 0\n")
    for args in (["validate", str(TOOLS)], ["compat", str(TOOLS)]):
        out = subprocess.run([*RTK, *args], capture_output=True, text=True, cwd=tmp_path)
        assert out.returncode == 2 and "--jobs must be a whole number >= 1 or auto, not 0" in out.stderr, out.stderr


def test_the_validator_tells_events_and_bytes_as_it_reads():
    from rollout_trace_kit.validate import Options, validate_bundle

    told: list[tuple[int, int]] = []
    report = validate_bundle(TOOLS, Options(progress=lambda events, at: told.append((events, at))))
    assert report.ok and told[-1] == (report.events, (TOOLS / "trace.jsonl").stat().st_size)
    assert validate_bundle(TOOLS, Options()).findings == report.findings  # not part of the verdict
