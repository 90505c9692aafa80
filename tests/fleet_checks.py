"""Check functions for tests of :func:`rollout_trace_kit.validate.fleet.judge`: they run in its
worker processes, so they live in a module (workers import them by name)."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

from rollout_trace_kit.validate import Options
from rollout_trace_kit.validate.fleet import check_bundle


def poison_dies(path: Path, options: Options):
    """Like the OOM killer, every time: the worker checking a bundle named ``poison`` is killed."""
    if path.name == "poison":
        os.kill(os.getpid(), signal.SIGKILL)
    return check_bundle(path, options)


def dies_once(path: Path, options: Options):
    """The worker checking ``poison`` is killed the first time only (a marker file remembers)."""
    marker = path.parent / "died-once"
    if path.name == "poison" and not marker.exists():
        marker.touch()
        os.kill(os.getpid(), signal.SIGKILL)
    return check_bundle(path, options)


def slow_first(path: Path, options: Options):
    """The first bundle (``a-slow``) ends once every other bundle of its directory is checked
    (each leaves a marker): the others finish before it however loaded the machine is (a
    second's sleep did not, under a loaded test run). Bounded: it waits a minute at most."""
    if path.name == "a-slow":
        others = [p for p in path.parent.iterdir() if p.is_dir() and p.name != "a-slow"]
        deadline = time.monotonic() + 60
        while not all((p.parent / f"{p.name}.checked").exists() for p in others) and time.monotonic() < deadline:
            time.sleep(0.02)
        return check_bundle(path, options)
    report = check_bundle(path, options)
    (path.parent / f"{path.name}.checked").touch()
    return report
