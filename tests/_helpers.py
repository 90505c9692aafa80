"""Helpers shared by several test modules (fixtures live in conftest.py)."""

from __future__ import annotations

import os
import shlex
import sys
from pathlib import Path

REDUCERS = Path(__file__).parent / "reducers"  # the fake reducers the harness tests drive
PY = shlex.quote(sys.executable)


def kit_reducer(*flags: str) -> str:
    """The command line of ``reducers/kit_reducer.py`` (the kit's validator as a reducer), with ``flags``."""
    return f"{PY} {REDUCERS / 'kit_reducer.py'} {{bundle}} {{output}} " + " ".join(flags)


def process_gone(marker: str, within: float = 60.0) -> bool:
    """Whether no process with ``marker`` in its command line is left, waiting up to ``within``
    seconds: SIGKILL is delivered when the process is next scheduled, which on a loaded machine
    is not at once (a generous bound, not a timing assertion)."""
    import time

    deadline = time.monotonic() + within
    while process_alive(marker):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def process_alive(marker: str) -> bool:
    """Whether a process with ``marker`` in its command line is still running."""
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                if marker.encode() in Path(f"/proc/{pid}/cmdline").read_bytes():
                    return True
            except OSError:
                pass
    return False


def read_until_closed(leader: int) -> bytes:
    """All that the leader side of a pseudo-terminal gives until its other side is closed."""
    seen = b""
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # the terminal closed
            break
        if not chunk:
            break
        seen += chunk
    return seen
