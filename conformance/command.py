"""Run a reducer command on one bundle and classify how it ended.

The command is a template: ``{bundle}`` is replaced by the bundle directory and
``{output}`` by a file the reducer should write its JSON result to, both as
absolute paths. Without ``{bundle}`` the path is appended as the last argument,
or, with ``input="stdin"``, written to the command's standard input. The
command runs in the caller's working directory (so ``python3 my_reducer.py``
finds its script), in its own process group, which is killed whole after every
run: on timeout, and also after a normal exit, so a background child cannot
outlive its case. What it prints is kept to a bounded tail.
"""

from __future__ import annotations

import os
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

    @property
    def accepted(self) -> bool:
        return self.returncode == 0 and not self.timed_out and self.signal is None and not self.error

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

    def __init__(self, pipe, tail: int = TAIL, keep: int = 0):
        super().__init__(daemon=True)
        self.pipe, self.tail_size, self.keep = pipe, tail, keep
        self.tail = b""
        self.head = bytearray()
        self.total = 0

    def run(self):
        try:
            while True:
                chunk = self.pipe.read1(65536) if hasattr(self.pipe, "read1") else self.pipe.read(65536)
                if not chunk:
                    break
                self.total += len(chunk)
                if len(self.head) < self.keep:
                    self.head += chunk[: self.keep - len(self.head)]
                self.tail = (self.tail + chunk)[-self.tail_size:]  # a copy of at most tail + 64 KiB
        except (OSError, ValueError):
            pass

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

    def __post_init__(self):
        if not shlex.split(self.template):
            raise ValueError("empty reducer command")
        if self.input not in ("argv", "stdin"):
            raise ValueError("input must be 'argv' or 'stdin'")
        if self.timeout <= 0:
            raise ValueError("--timeout must be > 0")

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
        started = time.monotonic()
        try:
            proc = subprocess.Popen(
                argv,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                cwd=self.cwd or os.getcwd(),
                start_new_session=True,  # its own process group, killed whole after the run
            )
        except OSError as e:
            return RunOutput(Outcome(None, None, False, 0.0, "", None, error=f"cannot start {argv[0]!r}: {e.strerror}"), None)
        out = _Drain(proc.stdout, keep=OUTPUT_CAP if (capture and not self.uses_output) else 0)
        err = _Drain(proc.stderr)
        out.start()
        err.start()
        assert proc.stdin is not None  # stdin=PIPE
        try:
            if stdin:
                proc.stdin.write(stdin)
            proc.stdin.close()
        except OSError:  # the reducer did not read its stdin
            pass
        # a blocking wait returns the moment the reducer exits (Popen.wait(timeout) polls with
        # sleeps of up to 50 ms); a timer kills the group when the time is up
        expired = threading.Event()

        def expire():
            expired.set()
            _kill_group(proc)

        timer = threading.Timer(self.timeout, expire)
        timer.start()
        try:
            proc.wait()
        finally:
            timer.cancel()
        timed_out = expired.is_set()
        _kill_group(proc)  # always: a background child must not outlive its case
        for d in (out, err):
            # A descendant that left the group may still hold the pipe: stop waiting after a
            # grace period and leave the (daemon) reader blocked; closing the pipe under it
            # would wait on the reader's own lock.
            d.join(DRAIN_GRACE)
        seconds = time.monotonic() - started
        rc = proc.returncode
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
        )
        return RunOutput(outcome, result)


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
