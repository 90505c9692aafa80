"""Every process a command under test leaves behind, found and killed after its run.

A run's command starts in a process group of its own, killed whole after the run; a
descendant that calls ``setsid`` (a daemon, ``setsid sleep``) leaves that group and would
outlive the run. On Linux the kit makes itself a child subreaper
(``prctl(PR_SET_CHILD_SUBREAPER)``): an orphaned descendant is then re-parented to the kit,
not to init, so it stays in the kit's process tree, where :class:`Run` finds it:

* every descendant carrying the run's token (an environment variable its command and
  everything it starts inherit) is killed when the run ends;
* a descendant that dropped its environment too is killed once no run of this process is
  in progress: a direct child of the kit in another session, which the kit did not start
  (not a ``multiprocessing`` worker, not there before the first run).

Killed children of the kit are reaped here (a subreaper's orphans are its own zombies).
Elsewhere (no ``/proc``, no ``prctl``) only the process group is killed, as before.
"""

from __future__ import annotations

import ctypes
import multiprocessing
import os
import secrets
import signal
import sys
import threading
import time

TOKEN_VAR = "ROLLOUT_TRACE_KIT_RUN"
PR_SET_CHILD_SUBREAPER = 36
ROUNDS = 50  # kill, look again: a descendant may fork while it is being killed
PAUSE = 0.01

_lock = threading.Lock()
_live = 0  # runs in progress in this process
_before: set[int] = set()  # direct children there when the first run began: not the runs'
_subreaper: dict[int, bool] = {}  # pid -> set (a forked worker is a new process: set again)


def _enable() -> bool:
    """Make this process a child subreaper (once per process); whether it is one."""
    pid = os.getpid()
    if pid not in _subreaper:
        ok = False
        if sys.platform.startswith("linux"):
            try:
                libc = ctypes.CDLL(None, use_errno=True)
                ok = libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
            except (OSError, AttributeError):
                ok = False
        _subreaper[pid] = ok and os.path.isdir(f"/proc/{pid}/task")
    return _subreaper[pid]


def _children(pid: int) -> list[int]:
    out: list[int] = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return out
    for tid in tasks:
        try:
            with open(f"/proc/{pid}/task/{tid}/children", "rb") as f:
                out.extend(int(x) for x in f.read().split())
        except (OSError, ValueError):
            continue
    return out


def descendants(pid: int | None = None) -> list[int]:
    """Every process below ``pid`` (default: this one), parents before their children."""
    root = os.getpid() if pid is None else pid
    seen: list[int] = []
    stack = _children(root)
    while stack and len(seen) < 100_000:
        p = stack.pop()
        if p in seen:
            continue
        seen.append(p)
        stack.extend(_children(p))
    return seen


def _has_token(pid: int, token: bytes) -> bool:
    try:
        with open(f"/proc/{pid}/environ", "rb") as f:
            return token in f.read(1 << 20).split(b"\0")
    except OSError:
        return False


def _session(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            fields = f.read().rsplit(b")", 1)[1].split()
        return int(fields[3])  # after the name: state, ppid, pgrp, session
    except (OSError, IndexError, ValueError):
        return None


def _kill_and_reap(pick) -> None:
    """SIGKILL every descendant ``pick(pid)`` selects, until none is left; reap the kit's own."""
    mine = set(_children(os.getpid()))
    for _ in range(ROUNDS):
        chosen = [p for p in descendants() if pick(p)]
        if not chosen:
            break
        for p in chosen:
            try:
                os.kill(p, signal.SIGKILL)
            except OSError:
                pass
        mine |= set(_children(os.getpid()))
        _reap([p for p in chosen if p in mine])
        time.sleep(PAUSE)


def _reap(pids: list[int]) -> None:
    """Collect the exit status of killed children of this process (bounded: never a hang)."""
    for p in pids:
        for _ in range(200):
            try:
                done, _status = os.waitpid(p, os.WNOHANG)
            except ChildProcessError:
                break
            if done:
                break
            time.sleep(0.005)


class Run:
    """One command's run: start it with :attr:`env`, call :meth:`end` once it (and its process
    group) is gone."""

    def __init__(self, env: dict[str, str] | None = None):
        global _live
        self.token = secrets.token_hex(8)
        self.env = {**(os.environ if env is None else env), TOKEN_VAR: self.token}
        self.active = _enable()
        if self.active:
            with _lock:
                if _live == 0:
                    _before.clear()
                    _before.update(_children(os.getpid()))
                _live += 1
        self._ended = False

    def end(self) -> None:
        global _live
        if self._ended or not self.active:
            return
        self._ended = True
        mark = f"{TOKEN_VAR}={self.token}".encode()
        _kill_and_reap(lambda p: _has_token(p, mark))
        with _lock:
            _live -= 1
            if _live == 0:
                # under the lock: a run starting in another thread meanwhile (check-writer's scripts run in
                # threads) would have its child taken for an orphan and killed
                _sweep_orphans()


def _sweep_orphans() -> None:
    """Direct children in another session that no run, no worker pool and no earlier code started:
    descendants of finished runs that dropped their token."""
    me = os.getpid()
    ours = _session(me)
    keep = set(_before) | {p.pid for p in multiprocessing.active_children() if p.pid is not None}
    orphans = [p for p in _children(me) if p not in keep and _session(p) not in (ours, None)]
    if orphans:
        below = set(orphans)
        for p in orphans:
            below.update(descendants(p))
        _kill_and_reap(lambda p: p in below)
