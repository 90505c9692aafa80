"""The writer under test as a process: JSON lines in and out, every byte from it capped.

The writer runs in its own process group (``start_new_session``), killed whole
when its session ends, so children of wrapper scripts never outlive it. Two
threads drain its pipes: standard output is split into answer lines (a line
longer than the current cap is skipped and reported, never kept; a writer that
answers far more lines than it was asked for loses the extra lines), and
standard error keeps only its last few KiB. Writing a request gives up at the
timeout too, for a writer that stops reading its standard input.
"""

from __future__ import annotations

import collections
import os
import select
import signal
import subprocess
import threading
import time
from typing import Sequence

from .text import from_bytes

CHUNK = 1 << 16
DEFAULT_MAX_ANSWER = 1 << 20  # bytes of one answer line, before a request sets its own cap
MAX_PENDING = 8  # answer lines waiting to be read; more are dropped (the protocol is one answer per request)
STDERR_TAIL = 4096  # bytes of standard error kept for messages


class WriterDied(Exception):
    pass


class WriterTimeout(Exception):
    pass


class AnswerTooLong(Exception):
    pass


class WriterProcess:
    """The writer under test: JSON lines in, JSON lines out, the end of standard error kept for messages."""

    def __init__(self, argv: Sequence[str], *, cwd: str | None = None, env: dict[str, str] | None = None):
        from ..reaper import Run

        self.run = Run(env)  # descendants that leave the group (setsid) are found by its token, and killed
        try:
            self.proc = subprocess.Popen(
                list(argv),
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                bufsize=0,
                cwd=cwd,
                env=self.run.env,
                start_new_session=True,  # its own process group: SIGKILL reaches wrapper scripts' children
            )
        except BaseException:
            self.run.end()
            raise
        assert self.proc.stdin and self.proc.stdout and self.proc.stderr
        self._stdin, self._stdout, self._stderr = self.proc.stdin, self.proc.stdout, self.proc.stderr  # the pipes
        os.set_blocking(self._stdin.fileno(), False)
        self.max_answer = DEFAULT_MAX_ANSWER  # set per request by the session
        self._cond = threading.Condition()
        self._lines: collections.deque = collections.deque()  # bytes, or AnswerTooLong
        self._eof = False
        self._tail = bytearray()
        self.stderr_bytes = 0
        self._threads = [
            threading.Thread(target=self._read_stdout, daemon=True),
            threading.Thread(target=self._read_stderr, daemon=True),
        ]
        for t in self._threads:
            t.start()

    # -- the pipes ------------------------------------------------------------------------------
    def _push(self, item) -> None:
        with self._cond:
            if len(self._lines) < MAX_PENDING:
                self._lines.append(item)
            self._cond.notify_all()

    def _read_stdout(self) -> None:
        fd = self._stdout.fileno()
        line = bytearray()
        dropping = False  # inside an over-long line: already reported, skipped up to its newline
        try:
            while True:
                chunk = os.read(fd, CHUNK)
                if not chunk:
                    break
                start = 0
                while start < len(chunk):
                    nl = chunk.find(b"\n", start)
                    end = len(chunk) if nl < 0 else nl
                    if not dropping:
                        line += chunk[start:end]
                        cap = self.max_answer
                        if len(line) > cap:
                            # reported at once: the harness need not wait for the rest of a 1 GB line
                            self._push(AnswerTooLong(f"the answer is a line longer than the harness's cap of {cap} bytes"))
                            line.clear()
                            dropping = True
                    if nl < 0:
                        break
                    if not dropping and line.strip():
                        self._push(bytes(line))
                    line.clear()
                    dropping = False
                    start = nl + 1
        except OSError:
            pass
        finally:
            with self._cond:
                self._eof = True
                self._cond.notify_all()

    def _read_stderr(self) -> None:
        fd = self._stderr.fileno()
        try:
            while True:
                chunk = os.read(fd, 16 * CHUNK)  # large reads: a flood is drained at pipe speed
                if not chunk:
                    break
                self.stderr_bytes += len(chunk)
                self._tail += chunk
                if len(self._tail) > 2 * STDERR_TAIL:
                    del self._tail[: len(self._tail) - STDERR_TAIL]
        except OSError:
            pass

    # -- requests and answers --------------------------------------------------------------------
    def send(self, request: bytes, timeout: float) -> None:
        """Write one request line (``request`` without its newline)."""
        data = memoryview(request + b"\n")
        fd = self._stdin.fileno()
        poller = select.poll()  # not select(): no FD_SETSIZE limit
        poller.register(fd, select.POLLOUT)
        deadline = time.monotonic() + timeout
        while data:
            left = deadline - time.monotonic()
            if left <= 0:
                raise WriterTimeout(f"the writer did not read the request within {timeout:g} s")
            try:
                if poller.poll(left * 1000):
                    data = data[os.write(fd, data):]
            except BlockingIOError:
                continue
            except OSError:  # EPIPE: it closed its standard input or exited
                raise WriterDied(f"the writer closed its standard input (exit status {self.proc.poll()})") from None

    def receive(self, timeout: float) -> bytes:
        deadline = time.monotonic() + timeout
        with self._cond:
            while not self._lines:
                left = deadline - time.monotonic()
                if self._eof:
                    break
                if left <= 0:
                    raise WriterTimeout(f"no answer within {timeout:g} s")
                self._cond.wait(left)
            item = self._lines.popleft() if self._lines else None
        if isinstance(item, AnswerTooLong):
            raise item
        if item is None:
            try:
                rc = self.proc.wait(timeout=min(5.0, timeout))
            except subprocess.TimeoutExpired:
                raise WriterDied("the writer closed its standard output without answering") from None
            raise WriterDied(f"the writer exited (status {rc}) without answering")
        return item

    def close_stdin(self) -> None:
        try:
            self._stdin.close()
        except OSError:
            pass

    def stderr_tail(self, n: int = 600) -> str:
        """The end of what the writer wrote to standard error, at most ``n`` characters of it,
        each line escaped on its own: a traceback keeps its lines (joined by real newlines),
        and no line of it can hold a control character."""
        if self.proc.poll() is not None:
            # it exited: what it wrote may still sit in the pipe (a flood is drained at pipe
            # speed), so the tail and the byte count wait for the reader's end of file, bounded
            self._threads[1].join(timeout=10)
        lines = [from_bytes(line) for line in bytes(self._tail[-n:]).strip().splitlines()]
        text = "\n".join(lines)
        if self.stderr_bytes > n and text:
            text = f"[{self.stderr_bytes} bytes, the last {n}:] ...{text}"
        return text[-(n + 60):]

    # -- the end ----------------------------------------------------------------------------------
    def kill(self) -> None:
        """SIGKILL the whole process group, the leader and any child it left."""
        self._killpg()
        self.proc.wait()
        self._killpg()  # children that outlive the leader keep its group
        self.run.end()  # and those that left it (setsid)

    def _killpg(self) -> None:
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        except PermissionError:
            if self.proc.poll() is None:
                self.proc.kill()

    def cleanup(self) -> None:
        self.kill()
        self.close_stdin()
        for t in self._threads:
            t.join(timeout=5)
        if all(not t.is_alive() for t in self._threads):
            # a reader still blocked (a descendant escaped the group holding the pipe) keeps its fd
            for s in (self._stdout, self._stderr):
                try:
                    s.close()
                except OSError:
                    pass
