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
import time
from collections import deque
from contextlib import contextmanager
from itertools import islice
from typing import Any, Callable, Iterable, Iterator, TypeVar

T = TypeVar("T")
R = TypeVar("R")

POLL = 0.2  # seconds a pool's loop waits for results before it looks at the note again


@contextmanager
def deferred() -> Iterator[list[int]]:
    """SIGINT and SIGTERM noted (in the list yielded), not acted on, inside the block. Only the
    main thread receives signals: elsewhere nothing changes. A signal the process ignores stays
    ignored (a job a shell started in the background ignores SIGINT): noting it would stop a run
    that was meant to go on."""
    caught: list[int] = []
    if threading.current_thread() is not threading.main_thread():
        yield caught
        return

    def note(signum: int, frame: object) -> None:
        caught.append(signum)  # a list append: no lock a handler could find held

    before = {sig: signal.signal(sig, note) for sig in (signal.SIGINT, signal.SIGTERM)
              if signal.getsignal(sig) is not signal.SIG_IGN}
    try:
        yield caught
    finally:
        for sig, handler in before.items():
            signal.signal(sig, handler)


def act_on(caught: list[int]) -> None:
    """Raise the first signal noted, now that the handlers in place before are back. The run it
    stopped does not go on: where that handler returns (one a caller set), KeyboardInterrupt."""
    if caught:
        signal.raise_signal(caught[0])
        raise KeyboardInterrupt


def in_order(pool: Any, fn: Callable[[T], R], items: Iterable[T], ahead: int, caught: list[int]) -> Iterator[R]:
    """``fn(item)`` of each item, in order, from the pool: ``ahead`` of them submitted before the
    first result is read, one more as each is read. Once ``caught`` holds a signal (see
    :func:`deferred`) no more is submitted or yielded; the caller shuts the pool down."""
    from concurrent.futures import TimeoutError as FuturesTimeout  # a pool's caller has it imported already

    todo = iter(items)
    running = deque(pool.submit(fn, item) for item in islice(todo, ahead))
    while running and not caught:
        try:
            result = running[0].result(timeout=POLL)
        except FuturesTimeout:
            continue
        running.popleft()
        running.extend(pool.submit(fn, item) for item in islice(todo, 1))
        yield result


def stop_workers(pool: Any) -> None:
    """End a ProcessPoolExecutor's workers at once (a signal came: their tasks are abandoned), so
    shutting the pool down does not wait for them. SIGKILL: a worker forked inside :func:`deferred`
    inherited its handler, and only notes a SIGTERM.

    A worker killed while it sends a result leaves half a message in the results pipe, and the
    pool's manager thread then waits in ``recv`` for the rest for good (seen: CI's run of
    tests/test_fleet.py's SIGTERM case hung there; tests/test_interrupts.py builds that case). Once
    the workers are dead this process holds the pipe's last write end: closing it turns that wait
    into end-of-file, which breaks the pool as a lost worker does."""
    processes = list((getattr(pool, "_processes", None) or {}).values())
    for process in processes:
        try:
            process.kill()
        except (OSError, ValueError):  # already gone, or already closed
            pass
    if not _all_ended(processes, KILL_WAIT):
        return  # a write end still open elsewhere: closing ours would not end the wait
    results = getattr(pool, "_result_queue", None)
    writer = getattr(results, "_writer", None)
    if writer is not None:
        writer.close()


KILL_WAIT = 5.0  # seconds for killed workers to be gone (a process in uninterruptible I/O takes longer)


def _all_ended(processes: list, timeout: float) -> bool:
    """Whether every process has exited, waiting up to ``timeout`` seconds. By its sentinel (closed
    when it exits), not by waitpid: the pool's manager thread may be reaping the same processes."""
    from multiprocessing.connection import wait

    try:
        left = [p.sentinel for p in processes]
    except ValueError:  # a Process already closed: this pool's workers were reaped before
        return True
    end = time.monotonic() + timeout
    while left:
        remaining = end - time.monotonic()
        if remaining <= 0:
            return False
        ready = wait(left, remaining)
        left = [s for s in left if s not in ready]
    return True
