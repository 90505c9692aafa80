"""Ctrl-C and SIGTERM held off while a process pool runs, acted on once it is down.

The default handlers raise an exception wherever the main thread is: inside a queue lock of
``concurrent.futures``, it left the lock held, and the pool's manager thread then waited on it
forever (seen: a SIGTERM during `codex diff`'s submits hung the run). Inside :func:`deferred`
a signal is only noted; the pool's loop looks at the note between waits, stops its workers and
shuts the pool down, and :func:`act_on` then raises the signal where no lock is held.
"""

from __future__ import annotations

import signal
import threading
from contextlib import contextmanager
from typing import Any, Iterator

POLL = 0.2  # seconds a pool's loop waits for results before it looks at the note again


@contextmanager
def deferred() -> Iterator[list[int]]:
    """SIGINT and SIGTERM noted (in the list yielded), not acted on, inside the block. Only the
    main thread receives signals: elsewhere nothing changes."""
    caught: list[int] = []
    if threading.current_thread() is not threading.main_thread():
        yield caught
        return

    def note(signum: int, frame: object) -> None:
        caught.append(signum)  # a list append: no lock a handler could find held

    before = {sig: signal.signal(sig, note) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield caught
    finally:
        for sig, handler in before.items():
            signal.signal(sig, handler)


def act_on(caught: list[int]) -> None:
    """Raise the first signal noted, now that the handlers in place before are back."""
    if caught:
        signal.raise_signal(caught[0])


def stop_workers(pool: Any) -> None:
    """End a ProcessPoolExecutor's workers at once (a signal came: their tasks are abandoned), so
    shutting the pool down does not wait for them. SIGKILL: a worker forked inside :func:`deferred`
    inherited its handler, and only notes a SIGTERM."""
    for process in list((getattr(pool, "_processes", None) or {}).values()):
        try:
            process.kill()
        except (OSError, ValueError):  # already gone, or already closed
            pass
