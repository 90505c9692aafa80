"""``--progress auto|always|never`` and ``--jobs``, the same in every long-running command.

Progress goes to standard error. ``auto``: a bar on a terminal, once a run has lasted a
second (a quick run draws none); off a terminal (a CI log) a line every 30 seconds, so a
run shorter than that prints none. ``always``: the bar at once, even off a terminal (a
terminal the kit cannot tell is one). ``never``: nothing.

``--jobs`` defaults to ``auto``, the CPUs this process may run on, in every command.
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
from typing import IO, Any

# Marks a thread (as an attribute set to True) whose locks a forked process never takes: the
# decode worker of validate/ahead.py may fork beside it.
FORK_SAFE = "rollout_trace_kit_fork_safe"

PROGRESS_CHOICES = ("auto", "always", "never")
LINE_EVERY = 30.0  # seconds between progress lines off a terminal
BAR_AFTER = 1.0  # seconds before a bar appears (auto): a quick run draws none


def default_jobs() -> int:
    """The CPUs this process may run on (its affinity mask, not the machine's count)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # not Linux
        return os.cpu_count() or 1


def jobs_value(text: str) -> int:
    """``--jobs``: a whole number >= 1, or ``auto``."""
    if text == "auto":
        return default_jobs()
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1 or auto, not {text!r}") from None
    if n < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1 or auto, not {n}")
    return n


# The longest wait the kit accepts (about 11.6 days): beyond it, poll()'s milliseconds and a
# thread's timeout overflow (a traceback), and no run means it.
MAX_SECONDS = 1e6


def seconds_value(text: str, *, zero_ok: bool = False) -> float:
    """A duration option (``--timeout``): a finite number of seconds > 0 (>= 0 with ``zero_ok``),
    at most :data:`MAX_SECONDS`. NaN made every case a hang at once, inf a traceback."""
    import math

    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and (value >= 0 if zero_ok else value > 0) and value <= MAX_SECONDS):
        least = ">= 0" if zero_ok else "> 0"
        raise argparse.ArgumentTypeError(f"expected a number of seconds {least} and at most {MAX_SECONDS:.0f}, not {text!r}")
    return value


def delay_value(text: str) -> float:
    """A delay option (``--inflight-delay``): as :func:`seconds_value`, 0 allowed."""
    return seconds_value(text, zero_ok=True)


def add_run_arguments(p: argparse.ArgumentParser, what: str) -> None:
    """``--jobs`` (``what``: what runs in parallel) and ``--progress``."""
    p.add_argument("--jobs", "-j", type=jobs_value, default="auto",
                   help=f"{what} in parallel; auto: the CPUs this process may use ({default_jobs()} here)")
    p.add_argument("--progress", choices=PROGRESS_CHOICES, default="auto",
                   help="on standard error: auto = a bar on a terminal, else a line every 30 s; "
                   "always = the bar anyway; never")


def check_jobs(jobs: object) -> int:
    """A ``jobs`` value from a config file (set as a default, it skips argparse's check)."""
    if type(jobs) is not int or jobs < 1:
        raise ValueError(f"--jobs must be a whole number >= 1 or auto, not {jobs!r}")
    return jobs


def _size(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GiB"


def _count(done: int, total: int | None, unit: str) -> str:
    if unit == "bytes":
        return f"{_size(done)}/{_size(total)}" if total else _size(done)
    return f"{done:,}/{total:,} {unit}" if total is not None else f"{done:,} {unit}"


class Progress:
    """How far a run got: ``update(done, total, note)`` as work finishes. A context manager."""

    def __init__(self, label: str, unit: str, mode: str = "auto", total: int | None = None,
                 stream: IO | None = None):
        self.label, self.unit, self.total = label, unit, total
        self.stream = stream or sys.stderr
        self.done, self.note = 0, ""
        self.started = time.monotonic()
        self._lock = threading.Lock()
        self._bar: Any = None  # a rich.progress.Progress once drawn
        self._task: Any = None
        self._stop = threading.Event()
        self._ticker: threading.Thread | None = None
        self.mode = mode
        self.kind = "none" if mode == "never" else ("bar" if mode == "always" or _is_terminal(self.stream) else "lines")

    def text(self) -> str:
        with self._lock:
            return self._text()

    def _text(self) -> str:
        return _count(self.done, self.total, self.unit) + (f", {self.note}" if self.note else "")

    def __enter__(self) -> "Progress":
        if self.kind == "bar" and self.mode == "always":
            self._start_bar()
        elif self.kind == "bar":
            self._ticker = threading.Thread(target=self._bar_later, name="progress-bar", daemon=True)
        elif self.kind == "lines":
            self._ticker = threading.Thread(target=self._lines, name="progress-lines", daemon=True)
        if self._ticker is not None:
            # it only sleeps and prints: a forked decode worker (validate/ahead.py) takes none of its locks
            setattr(self._ticker, FORK_SAFE, True)
            self._ticker.start()
        return self

    def _bar_later(self) -> None:
        if not self._stop.wait(BAR_AFTER):
            self._start_bar()

    def _start_bar(self) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, Progress as Bar, TextColumn, TimeElapsedColumn

        console = Console(file=self.stream, force_terminal=True, highlight=False, emoji=False)
        bar = Bar(TextColumn(self.label, markup=False), BarColumn(), TextColumn("{task.fields[text]}", markup=False),
                  TimeElapsedColumn(), console=console, transient=True)
        with self._lock:
            if self._stop.is_set():
                return
            self._task = bar.add_task("", total=self.total, completed=self.done, text=self._text())
            before = set(threading.enumerate())
            bar.start()
            for t in set(threading.enumerate()) - before:  # rich's refresh thread: it only redraws
                setattr(t, FORK_SAFE, True)
            self._bar = bar

    def update(self, done: int, total: int | None = None, note: str | None = None) -> None:
        with self._lock:
            self.done = done
            if total is not None:
                self.total = total
            if note is not None:
                self.note = note
            if self._bar is not None:
                self._bar.update(self._task, completed=done, total=self.total, text=self._text())

    def _lines(self) -> None:
        while not self._stop.wait(LINE_EVERY):
            elapsed = int(time.monotonic() - self.started)
            print(f"rollout-trace {self.label}: {self.text()}, {elapsed // 60}m{elapsed % 60:02d}s elapsed",
                  file=self.stream, flush=True)

    def __exit__(self, *exc) -> None:
        with self._lock:
            self._stop.set()
            if self._bar is not None:
                self._bar.stop()
        if self._ticker is not None:
            self._ticker.join()


def _is_terminal(stream: IO) -> bool:
    try:
        return stream.isatty() and os.environ.get("TERM") != "dumb"
    except (AttributeError, ValueError):
        return False
