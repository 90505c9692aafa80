"""A red-team pass over the command line: each test pins a bug found by attacking a subcommand
(hostile files, processes and arguments) and checks the fix: a finding or a usage error (exit
2) with a message, never a traceback, a hang or "ok"."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

RT = [sys.executable, "-m", "rollout_trace_kit"]


def _rt(*args: str, timeout: float = 120, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([*RT, *args], capture_output=True, timeout=timeout, **kw)


# --- the report cannot be written: a full disk is an environment error --------------------------

@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs Linux's /dev/full (writes fail with ENOSPC)")
@pytest.mark.parametrize("command", [
    ["invariants", "-o", "/dev/full"],
    ["validate", "corpus:codex-0.164.0/basic", "--format", "json", "-o", "/dev/full"],
    ["validate", "corpus:codex-0.164.0/basic", "--format", "jsonl", "-o", "/dev/full"],
])
def test_a_full_disk_under_the_report_is_exit_2_without_a_traceback(command):
    proc = _rt(*command)
    assert proc.returncode == 2, proc
    assert b"Traceback" not in proc.stderr
    assert b"No space left on device" in proc.stderr


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs Linux's /dev/full (writes fail with ENOSPC)")
def test_a_full_disk_under_stdout_is_exit_2_without_a_traceback():
    with open("/dev/full", "wb") as full:
        proc = subprocess.run([*RT, "invariants"], stdout=full, stderr=subprocess.PIPE, timeout=120)
    assert proc.returncode == 2
    assert b"Traceback" not in proc.stderr and b"No space left on device" in proc.stderr
