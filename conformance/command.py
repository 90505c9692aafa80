"""Run a reducer command on one bundle and classify how it ended.

The command is a template: ``{bundle}`` is replaced by the bundle directory and
``{output}`` by a file the reducer should write its JSON result to, both as
absolute paths. Without ``{bundle}`` the path is appended as the last argument,
or, with ``input="stdin"``, written to the command's standard input. The
command runs in the caller's working directory (so ``python3 my_reducer.py``
finds its script), in its own process group, which is killed whole after every
run: on timeout, and also after a normal exit, so a background child cannot
outlive its case. What it prints is kept to a bounded tail.

The exit contract: 0 accepts, ``reject_exit`` (1 by default, what Codex uses; a tuple, for
a reducer with several rejection codes) is a clean rejection. A signal, any other exit status, or a rejection whose standard error carries a
crash's signature (a Python traceback, a Rust or Go panic, a sanitizer report, an uncaught
Node.js or Java exception) is a crash. Standard error is scanned as it streams, so a long
traceback whose first line has left the kept tail is still recognised.
"""

from __future__ import annotations

import os
import re
import shlex
import signal
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path

TAIL = 2000  # bytes of stdout and stderr kept for reports
OUTPUT_CAP = 64 * 1024 * 1024  # bytes of a reducer's result read for the output oracles
DRAIN_GRACE = 2.0  # seconds to wait for the pipes once the group is dead
REJECT_EXIT: tuple[int, ...] = (1,)  # a clean rejection's exit status unless the user says otherwise


def parse_reject_exit(text: str) -> tuple[int, ...]:
    """``--reject-exit`` ("1", "1,2"): the exit statuses of a clean rejection; ValueError saying why not."""
    try:
        codes = tuple(dict.fromkeys(int(x) for x in str(text).split(",")))
    except ValueError:
        raise ValueError(f"--reject-exit {text!r}: expected exit statuses, comma-separated (1 or 1,2)") from None
    bad = [c for c in codes if not 1 <= c <= 255]
    if bad:
        raise ValueError(f"--reject-exit {text}: a rejection's exit status is between 1 and 255, not {bad[0]}")
    return codes


def _codes(codes: tuple[int, ...]) -> str:
    return " or ".join(str(c) for c in codes)

# What a crash prints, by kind, each anchored at the start of a line so a rejection message
# that quotes a bundle's text mid-line is not taken for one.
CRASH_SIGNATURES: tuple[tuple[str, "re.Pattern[bytes]"], ...] = (
    ("Python traceback", re.compile(rb"^Traceback \(most recent call last\):", re.M)),
    ("Rust panic", re.compile(rb"^thread '[^'\n]*' panicked at", re.M)),
    ("sanitizer report", re.compile(rb"^(?:==\d+==ERROR: \w*Sanitizer|SUMMARY: \w*Sanitizer|\S+:\d+:\d+: runtime error: )", re.M)),
    ("Go panic", re.compile(rb"^goroutine \d+ \[running\]:", re.M)),
    ("uncaught Node.js exception", re.compile(rb"^Node\.js v\d+\.\d+", re.M)),
    ("uncaught Java exception", re.compile(rb'^Exception in thread "', re.M)),
)
_CARRY = 512  # bytes of the previous chunk kept, so a signature split across two reads is seen


@dataclass(frozen=True)
class Outcome:
    returncode: int | None  # None: killed by the harness (timeout)
    signal: int | None  # the signal that killed the reducer, if one did
    timed_out: bool
    seconds: float
    stderr_tail: str
    output_ok: bool | None  # {output} used: was it written, as JSON? None: not used
    error: str = ""  # harness-side problem (command not found, ...)
    stdout_tail: str = ""
    signature: str | None = None  # the kind of crash output seen on stderr ("Python traceback", ...)
    reject_exit: tuple[int, ...] = REJECT_EXIT

    @property
    def accepted(self) -> bool:
        return self.returncode == 0 and not self.timed_out and self.signal is None and not self.error

    @property
    def crash(self) -> str | None:
        """Why this run is a crash under the exit contract; None when it is not one. A run that
        exits 0 is an acceptance whatever it printed."""
        if self.error or self.timed_out:
            return None
        if self.signal is not None:
            return self.describe()
        if self.returncode != 0 and self.returncode not in self.reject_exit:
            return (f"exit {self.returncode}, outside the contract (0 accepts, {_codes(self.reject_exit)} rejects)"
                    + self._last_line())
        if self.returncode in self.reject_exit and self.signature:
            return f"{self.signature} (exit {self.returncode})" + self._last_line()
        return None

    def _last_line(self) -> str:
        """The last line the reducer printed on stderr: a traceback's exception, a panic's message."""
        lines = [l.strip() for l in self.stderr_tail.splitlines() if l.strip()]
        return f": {lines[-1][:200]}" if lines else ""

    def describe(self) -> str:
        if self.error:
            return f"harness error: {self.error}"
        if self.timed_out:
            return f"timed out after {self.seconds:.1f} s"
        if self.signal is not None:
            try:
                name = signal.Signals(self.signal).name
            except ValueError:
                name = str(self.signal)
            return f"killed by signal {name}"
        first = next((l for l in self.stderr_tail.splitlines() if l.strip()), "")
        return f"exit {self.returncode}" + (f": {first[:200]}" if first and self.returncode else "")


class _Drain(threading.Thread):
    """Read a pipe to its end, keeping the last ``tail`` bytes and, if asked, the first ``keep``."""

    def __init__(self, pipe, tail: int = TAIL, keep: int = 0, watch: bool = False):
        super().__init__(daemon=True)
        self.pipe, self.tail_size, self.keep, self.watch = pipe, tail, keep, watch
        self.tail = b""
        self.head = bytearray()
        self.total = 0
        self.signature: str | None = None  # the first crash signature seen (``watch``)
        self._line = b""  # the line being read, from its start (up to _CARRY bytes)
        self._line_whole = True  # ``_line`` starts at a real line start

    def run(self):
        try:
            while True:
                chunk = self.pipe.read1(65536) if hasattr(self.pipe, "read1") else self.pipe.read(65536)
                if not chunk:
                    break
                self.total += len(chunk)
                if self.watch and self.signature is None:
                    self._scan(chunk)
                if len(self.head) < self.keep:
                    self.head += chunk[: self.keep - len(self.head)]
                self.tail = (self.tail + chunk)[-self.tail_size:]  # a copy of at most tail + 64 KiB
        except (OSError, ValueError):
            pass

    def _scan(self, chunk: bytes) -> None:
        window = self._line + chunk
        for name, rx in CRASH_SIGNATURES:
            # a match at 0 counts only when the window starts a line (a signature split across reads)
            if any(m.start() > 0 or self._line_whole for m in rx.finditer(window)):
                self.signature = name
                return
        cut = window.rfind(b"\n") + 1
        rest = window[cut:]
        self._line_whole = (cut > 0 or self._line_whole) and len(rest) <= _CARRY
        self._line = rest[:_CARRY]

    @property
    def complete(self) -> bytes | None:
        """Everything read, when it fit within ``keep``; else None."""
        return bytes(self.head) if self.total <= self.keep else None


@dataclass(frozen=True)
class RunOutput:
    """A run's outcome, plus its result bytes (bounded) for the output oracles."""

    outcome: Outcome
    result: bytes | None  # {output}'s bytes, or stdout without {output}; None: absent or over the cap


@dataclass(frozen=True)
class ReducerCommand:
    template: str
    input: str = "argv"  # "argv" or "stdin", when the template has no {bundle}
    timeout: float = 30.0
    cwd: str | None = None  # where the reducer runs; None: the caller's working directory
    reject_exit: tuple[int, ...] = REJECT_EXIT  # the exit statuses of a clean rejection

    def __post_init__(self):
        if not shlex.split(self.template):
            raise ValueError("empty reducer command")
        if self.input not in ("argv", "stdin"):
            raise ValueError("input must be 'argv' or 'stdin'")
        if self.timeout <= 0:
            raise ValueError("--timeout must be > 0")
        if isinstance(self.reject_exit, int):  # one status given as a number
            object.__setattr__(self, "reject_exit", (self.reject_exit,))
        if not self.reject_exit or not all(type(c) is int and 1 <= c <= 255 for c in self.reject_exit):
            raise ValueError(f"--reject-exit: exit statuses between 1 and 255, not {self.reject_exit!r}")

    @property
    def uses_output(self) -> bool:
        return "{output}" in self.template

    def argv(self, bundle: Path, output: Path) -> list[str]:
        bundle, output = Path(os.path.abspath(bundle)), Path(os.path.abspath(output))
        parts = [p.replace("{bundle}", str(bundle)).replace("{output}", str(output)) for p in shlex.split(self.template)]
        if "{bundle}" not in self.template and self.input == "argv":
            parts.append(str(bundle))
        return parts

    def run(self, bundle: Path, workdir: Path) -> Outcome:
        """Run on ``bundle``; ``workdir`` (created) receives the output file."""
        return self.run_capture(bundle, workdir, capture=False).outcome

    def run_capture(self, bundle: Path, workdir: Path, capture: bool = True) -> RunOutput:
        workdir = Path(os.path.abspath(workdir))
        workdir.mkdir(parents=True, exist_ok=True)
        output = workdir / "output.json"
        bundle = Path(os.path.abspath(bundle))
        argv = self.argv(bundle, output)
        stdin = (str(bundle) + "\n").encode() if ("{bundle}" not in self.template and self.input == "stdin") else b""
        try:
            ran = run_group(argv, stdin=stdin, timeout=self.timeout, cwd=self.cwd or os.getcwd(),
                            keep_stdout=OUTPUT_CAP if (capture and not self.uses_output) else 0)
        except OSError as e:
            return RunOutput(Outcome(None, None, False, 0.0, "", None, error=f"cannot start {argv[0]!r}: {e.strerror}",
                                     reject_exit=self.reject_exit), None)
        out, err, timed_out, seconds, rc = ran.out, ran.err, ran.timed_out, ran.seconds, ran.returncode
        sig = -rc if rc is not None and rc < 0 and not timed_out else None
        output_ok = None
        result = None
        if rc == 0 and not timed_out:
            if self.uses_output:
                result = _read_capped(output)
                output_ok = result is not None and _is_json(result)
                if not capture:
                    result = None
            elif capture:
                result = out.complete
        outcome = Outcome(
            None if timed_out else rc,
            sig,
            timed_out,
            seconds,
            err.tail.decode("utf-8", "replace"),
            output_ok,
            stdout_tail=out.tail.decode("utf-8", "replace"),
            signature=err.signature,
            reject_exit=self.reject_exit,
        )
        return RunOutput(outcome, result)


@dataclass(frozen=True)
class Ran:
    """How a process group's run ended: its leader's status and the two drained pipes."""

    returncode: int | None  # the leader's (negative: the signal that killed it)
    timed_out: bool
    seconds: float
    out: _Drain  # standard output: its tail, and its head up to ``keep_stdout``
    err: _Drain  # standard error: its tail, watched for crash signatures


def run_group(argv: list[str], *, stdin: bytes, timeout: float, cwd: str | None, keep_stdout: int = 0) -> Ran:
    """Run ``argv`` in a process group of its own, killed whole when the time is up and after
    it exits (a background child cannot outlive its run); what it prints is kept to bounded
    tails. Raises OSError when it cannot start."""
    from .reaper import Run

    started = time.monotonic()
    run = Run()  # descendants that leave the group (setsid) are found by its token, and killed
    try:
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=cwd,
            env=run.env,
            start_new_session=True,  # its own process group, killed whole after the run
        )
    except BaseException:
        run.end()
        raise
    out = _Drain(proc.stdout, keep=keep_stdout)
    err = _Drain(proc.stderr, watch=True)
    out.start()
    err.start()
    assert proc.stdin is not None  # stdin=PIPE
    try:
        if stdin:
            proc.stdin.write(stdin)
        proc.stdin.close()
    except OSError:  # the process did not read its stdin
        pass
    # a blocking wait returns the moment the process exits (Popen.wait(timeout) polls with
    # sleeps of up to 50 ms); a timer kills the group when the time is up
    expired = threading.Event()

    def expire():
        expired.set()
        _kill_group(proc)

    timer = threading.Timer(timeout, expire)
    timer.start()
    try:
        proc.wait()
    finally:
        timer.cancel()
    _kill_group(proc)  # always: a background child must not outlive its case
    run.end()  # nor one that left the group
    for d in (out, err):
        # A descendant that left the group may still hold the pipe: stop waiting after a
        # grace period and leave the (daemon) reader blocked; closing the pipe under it
        # would wait on the reader's own lock.
        d.join(DRAIN_GRACE)
    return Ran(proc.returncode, expired.is_set(), time.monotonic() - started, out, err)


def scratch_root() -> str | None:
    """Where cases are written: the user's TMPDIR if set, else /dev/shm when it is a writable
    directory (a tmpfs: creating a case's hundred small files there costs microseconds,
    not the milliseconds of a busy disk), else the system default."""
    if os.environ.get("TMPDIR"):
        return None
    shm = "/dev/shm"
    return shm if os.path.isdir(shm) and os.access(shm, os.W_OK | os.X_OK) else None


def _kill_group(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        try:
            proc.kill()
        except ProcessLookupError:
            pass


def _read_capped(path: Path) -> bytes | None:
    """The file's bytes if it is a regular file (not a symlink) no larger than OUTPUT_CAP."""
    from ..files import read_capped

    return read_capped(path, OUTPUT_CAP, follow_symlinks=False, keep_prefix=False).data


def _is_json(data: bytes) -> bool:
    import orjson

    try:
        orjson.loads(data)
        return True
    except orjson.JSONDecodeError:
        return False
