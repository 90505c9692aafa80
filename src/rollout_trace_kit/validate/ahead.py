"""The fast path's proof, and a second core that runs it ahead of the checks.

A run of lines takes the fast path when one msgspec decode of the run (as one JSON
array) encodes back to the same bytes, or to Python's ``json.dumps`` spelling of them
(:func:`prove`): then the typed decode stands in for the JSON Schema. Reading the log,
cutting it into lines, joining them and that re-encode cost about as much as the decode
itself; on a machine with a second core a forked worker process does them (:class:`Ahead`)
and hands the checking process each proven run as one document to decode, in order. Runs
the proof refuses, and odd lines, are handed over as they were read: the checking process
takes them line by line, as it does without the worker. Either way the same function
decides, so the verdict is the same with or without the worker.
"""

from __future__ import annotations

import mmap
import os
import select
import signal
import sys
import threading
from typing import Any, BinaryIO, Iterable, Iterator, NamedTuple

import msgspec

from ..compilers.msgspec_types import TypedDialect
from ..progress import FORK_SAFE
from .lines import RawLine, read_batches
from .rules import schema

BATCH = 1024  # lines decoded by one msgspec call on the fast path
# A log smaller than this is checked in one process: a fork and its first messages cost
# milliseconds, which a small log does not win back.
AHEAD_MIN_BYTES = 4 << 20
# "0": one process; "1": the worker whenever it may run (whatever the load); unset: when a core is idle
ENV_SWITCH = "ROLLOUT_TRACE_KIT_DECODE_AHEAD"


class Proven(NamedTuple):
    """A run of ``n_lines`` lines from line ``start``, proven canonical: ``joined`` is them as
    one JSON array, which the typed list decoder reads in one call. ``reads``: the payload
    files its events name that the worker read ahead (a file store), by full path."""

    start: int
    joined: bytes
    n_lines: int
    reads: dict[str, Any] | None = None
    # the worker's listing of payloads/ (rules.refs.PayloadDir), with its first reads: the
    # checking process adopts it rather than list a directory of 60,000 files a second time
    listing: Any = None
    # where ``joined`` waits in the shared slots (index, bytes) while ``joined`` itself is empty;
    # -1: sent in the message (a run larger than a slot)
    slot: int = -1
    size: int = 0
    # the lines of the run whose events the release summary must observe (the worker observed
    # them all; the others changed nothing), or None when the worker keeps no summary
    observe: tuple[int, ...] | None = None
    # the run's first seq when the order checker's shortcut may take it whole
    # (OrderChecker.plain_run_test), else None
    plain_from: int | None = None


class Refused(NamedTuple):
    """A run of lines from line ``start`` the proof refused: checked line by line."""

    start: int
    lines: list[bytes]


Item = RawLine | tuple[int, list[bytes]] | Proven | Refused


def prove(td: TypedDialect, lines: list[bytes]) -> tuple[bytes, list[Any] | None]:
    """(the lines as one JSON array, their decoded events when the fast path may stand in for
    the schema, else None). Any surprise (a line that is not an event, a spelling that is not
    canonical) gives None: the lines are then checked one by one."""
    joined = b"[" + b",".join(lines) + b"]"
    try:
        events = td.list_decoder.decode(joined)
        encoded = td.encoder.encode(events)
        fast = encoded == joined
        if not fast and (b'": ' in lines[0] or b"\\u" in joined):  # written by Python's json.dumps?
            spelled = b"[" + b", ".join(lines) + b"]" if b'": ' in lines[0] else joined  # as json.dumps joins
            fast = schema.respelled(encoded, spelled)
    except (msgspec.DecodeError, msgspec.ValidationError, UnicodeDecodeError, RecursionError):
        return joined, None
    # one event a line: a line `{event},{event}` joins into a canonical array of one event too many
    return joined, events if fast and len(events) == len(lines) else None


def second_core() -> bool:
    """Whether a second core may work for this check: one was idle over the last minute, or
    ENV_SWITCH forces it ("1") or forbids it ("0"). The worker process and the payload files'
    read-ahead thread both ask."""
    switch = os.environ.get(ENV_SWITCH, "")
    return (os.cpu_count() or 1) > 1 and switch != "0" and (switch == "1" or _idle_core())


def wanted(size: int) -> bool:
    """Whether a log of ``size`` bytes is read and proven by a worker process."""
    return (
        size >= AHEAD_MIN_BYTES
        and second_core()
        # Linux only: macOS's system libraries are not safe to use in a forked child (Python spawns there)
        and sys.platform.startswith("linux")
        # A fork copies only the calling thread: with other threads alive (a Dask worker, a
        # caller's pool) a lock one of them holds would stay held in the child forever.
        and only_fork_safe_threads()
        # A worker of a fleet run (validate --jobs) already has the other cores busy.
        and not _in_pool_worker()
    )


def only_fork_safe_threads() -> bool:
    """Whether every thread but this one is marked FORK_SAFE (a forked worker may start). Counting
    threads instead kept the command line from ever forking one: its progress ticker (progress.py)
    runs through every validation, on a terminal or not."""
    me = threading.current_thread()
    return all(t is me or getattr(t, FORK_SAFE, False) for t in threading.enumerate())


def _in_pool_worker() -> bool:
    """Whether this process is a multiprocessing child. Such a child has multiprocessing imported;
    a process that never imported it is none (and need not pay for the import: about 20 ms)."""
    mp = sys.modules.get("multiprocessing")
    return mp is not None and mp.parent_process() is not None


def _idle_core() -> bool:
    """Whether a core was idle over the last minute (load average at most the cores less one).
    The worker decodes each run a second time: with a core to itself it shortens the check, on a
    machine already busy it only adds CPU time (measured: about a third more, no shorter)."""
    try:
        load = os.getloadavg()[0]
    except OSError:
        return False
    return load <= (os.cpu_count() or 1) - 1


class _Failed(NamedTuple):
    message: str


# A proven run's bytes go through memory both processes share, not the pipe: sending them through
# it cost the checking process about a tenth of its CPU time on a log of turns (a copy into the pipe,
# a copy out in pieces, one more to unpickle; time.thread_time around each receive, the benchmark's
# 1M-event turns bundle: 0.19 of 1.98 s, 0.12 s through the slots), where a slot costs one copy.
SLOTS = 4  # runs the worker may hold ready; it waits for a slot the checker frees
# The worker observes a run for the release summary and tests it for the order checker's shortcut
# only while every slot waits for the checking process (False: always; tests pin a path so)
BALANCE = True
SLOT_BYTES = 1 << 20  # a run of BATCH lines larger than this goes through the pipe


class _Slots:
    """The worker's side of the shared slots: a free one to fill, waiting for the checker to free one."""

    def __init__(self, shm: mmap.mmap, freed_fd: int):
        self.shm, self.freed_fd = shm, freed_fd
        self.free = list(range(SLOTS))

    def checker_behind(self) -> bool:
        """Whether every slot still waits for the checking process (looked at without waiting):
        it is the slower of the two, and work the worker takes off it shortens the check."""
        while not self.free and select.select([self.freed_fd], [], [], 0)[0]:
            got = os.read(self.freed_fd, SLOTS)
            if not got:
                raise BrokenPipeError("the checking process stopped")
            self.free.extend(got)
        return not self.free

    def put(self, data: bytes) -> int:
        """The slot now holding ``data``, or -1 when it is too large for one."""
        if len(data) > SLOT_BYTES:
            return -1
        while not self.free:
            got = os.read(self.freed_fd, SLOTS)  # blocks until the checker is done with a run
            if not got:
                raise BrokenPipeError("the checking process stopped")
            self.free.extend(got)
        k = self.free.pop()
        at = k * SLOT_BYTES
        self.shm[at : at + len(data)] = data
        return k


class Ahead:
    """A forked worker that reads the log and proves its runs; iterate for the items in order.

    The pipe and the shared slots between the two hold a few runs at most (the worker blocks
    when the checks lag), so memory stays what one process would hold. ``close`` ends and reaps
    the worker."""

    def __init__(self, f: BinaryIO, max_line_bytes: int, size: int, td: TypedDialect, plan: Any = None,
                 file_cap: int = 0, summarize: bool = False, plain_test: Any = None):
        from multiprocessing import Pipe

        receive, send = Pipe(duplex=False)
        _widen(send.fileno())
        freed_r, freed_w = os.pipe()  # slot numbers the checker is done with, back to the worker
        shm = mmap.mmap(-1, SLOTS * SLOT_BYTES)  # anonymous and shared: the fork maps the same pages
        try:
            pid = os.fork()
        except OSError:  # no process to be had (EAGAIN, ENOMEM): nothing of it stays open
            for conn in (receive, send):
                conn.close()
            os.close(freed_r)
            os.close(freed_w)
            shm.close()
            raise
        if pid == 0:  # the worker: never returns into the caller's code
            code = 1
            try:
                receive.close()
                os.close(freed_w)
                signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C stops the checking process, which ends this one
                _serve(read_batches(f, max_line_bytes, size=size), td, send, plan, file_cap, _Slots(shm, freed_r),
                       summarize, plain_test)
                code = 0
            except BrokenPipeError:
                code = 0  # the checking process stopped reading (it has enough findings, or failed)
            except BaseException as e:  # noqa: BLE001 - told to the checking process, which reports it
                try:
                    send.send(_Failed(f"{type(e).__name__}: {e}"))
                except BaseException:  # noqa: BLE001
                    pass
            finally:
                os._exit(code)
        send.close()
        os.close(freed_r)
        self.pid: int | None = pid
        self.conn = receive
        self.shm = shm
        self.freed: int | None = freed_w

    def __iter__(self) -> Iterator[Item]:
        recv, shm = self.conn.recv, self.shm
        while True:
            try:
                item = recv()
            except EOFError:
                raise RuntimeError("the worker process reading the log ended early") from None
            if item is None:
                return
            if isinstance(item, _Failed):
                raise RuntimeError(f"the worker process reading the log failed: {item.message}")
            if item.__class__ is Proven and item.slot >= 0:
                at = item.slot * SLOT_BYTES
                joined = shm[at : at + item.size]  # a copy: the slot goes back to the worker now
                assert self.freed is not None  # open until close()
                try:
                    os.write(self.freed, bytes((item.slot,)))
                except BrokenPipeError:
                    pass  # the worker has sent its last run and exited: it needs no slot back
                item = item._replace(joined=joined, slot=-1, size=0)
            yield item

    def close(self) -> None:
        self.conn.close()  # a worker still sending gets a broken pipe and exits
        freed, self.freed = self.freed, None
        if freed is not None:
            os.close(freed)  # a worker waiting for a slot reads the end and exits
        pid, self.pid = self.pid, None
        if pid is None:
            return
        try:
            done, _ = os.waitpid(pid, os.WNOHANG)
            if not done:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
        except ChildProcessError:
            pass
        self.shm.close()


PIPE_BYTES = 1 << 20  # a pipe that holds a few runs: the worker writes on while the checks run


def _widen(fd: int) -> None:
    """Let the pipe hold PIPE_BYTES (Linux; the default 64 KiB is less than one run of long lines,
    so each run would cost the two processes a ping-pong of wake-ups)."""
    try:
        import fcntl

        fcntl.fcntl(fd, getattr(fcntl, "F_SETPIPE_SZ", 1031), PIPE_BYTES)
    except (OSError, ImportError):
        pass  # a smaller limit (/proc/sys/fs/pipe-max-size), or not Linux: the default size works too


SHIPPED_BYTES = 4 << 20  # payload bytes read ahead for one run at most (the checker reads the rest)


def _serve(batches: Iterable[RawLine | tuple[int, list[bytes]]], td: TypedDialect, conn, plan: Any,
           file_cap: int, slots: _Slots, summarize: bool = False, plain_test: Any = None) -> None:
    """The worker's loop: every item of the log, in order, then None. ``plan``: a
    rules.refs.AheadPlan when payload files are read too (each with ``file_cap`` bytes at most);
    ``summarize``: the check keeps a release summary, which the worker observes ahead;
    ``plain_test``: OrderChecker.plain_run_test, asked of each proven run."""
    from .lines import has_long_digits
    from .rules.refs import AHEAD_EVENTS, read_many

    send = conn.send
    tag_of = {cls: tag for tag, cls in td.variant_classes.items()}
    listing_sent = False
    summary = _Observer() if summarize else None
    for item in batches:
        if isinstance(item, RawLine):
            send(item)
            continue
        start, lines = item
        for i in range(0, len(lines), BATCH):
            run = lines[i : i + BATCH]
            joined, events = prove(td, run)
            if events is None:
                send(Refused(start + i, run))
                continue
            td.settle(events)  # as the checking process reads them
            reads = listing = None
            if plan is not None:
                reads, shipped = {}, 0
                for k in range(0, len(events), AHEAD_EVENTS):
                    paths = plan.paths(events[k : k + AHEAD_EVENTS], tag_of)
                    if paths:
                        for full, r in read_many(paths, file_cap).items():
                            # a tuple pickles faster than a Read; has_long_digits answered here, not in the checks
                            long = None if r.data is None or r.why is not None else has_long_digits(r.data)
                            reads[full] = (r.data, r.problem, r.size, r.why, long)
                            shipped += len(r.data or b"")
                        if shipped >= SHIPPED_BYTES:
                            break
                if not listing_sent:
                    listing, listing_sent = plan.listing(), True
            # Work either process may do, with the same verdict (the checking process does what the
            # worker leaves): the worker takes it while the checks lag behind, so the two share the load.
            extra = not BALANCE or len(joined) > SLOT_BYTES or slots.checker_behind()
            observe = None if summary is None or not extra else summary.changed(start + i, events)
            plain_from = None if plain_test is None or not extra else plain_test(events, tag_of)
            k = slots.put(joined)
            if k < 0:
                send(Proven(start + i, joined, len(run), reads, listing, observe=observe, plain_from=plain_from))
            else:
                send(Proven(start + i, b"", len(run), reads, listing, k, len(joined), observe, plain_from))
    send(None)


class _Observer:
    """The worker's release summary over the proven runs: it tells which events changed it.

    Exact, not a guess: the checking process observes each line that added a key here (and the
    lines the worker never saw), so its summary holds every key this one holds, or refused it
    past a full table's cap; an event that added nothing here then adds nothing there either.
    A refusal counts as a change, so the checking process meets every cap the sequential pass would."""

    def __init__(self) -> None:
        from .rules.release import BundleSummary

        self.summary = BundleSummary()

    def changed(self, start: int, events: list[Any]) -> tuple[int, ...]:
        summary = self.summary
        summarized, observe = summary.same_every_time, summary.observe_typed
        lines: list[int] = []
        if all(summarized.get(cls) for cls in {ev.payload.__class__ for ev in events}):
            return ()  # every class seen whole already (most runs of a long log): no event to walk
        for n, ev in enumerate(events, start):
            payload = ev.payload
            if not summarized.get(payload.__class__):
                before = summary.changes
                observe(ev.schema_version, payload, n)
                if summary.changes != before:
                    lines.append(n)
        return tuple(lines)
