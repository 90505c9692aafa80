"""Run a reducer command on one bundle and classify how it ended.

The command is a template: ``{bundle}`` is replaced by the bundle directory and
``{output}`` by a file the reducer should write its JSON result to. Without
``{bundle}`` the path is appended as the last argument, or, with
``input="stdin"``, written to the command's standard input. The command runs
in its own process group, which is killed whole on timeout.
"""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

TAIL = 2000  # bytes of stderr kept for reports


@dataclass(frozen=True)
class Outcome:
    returncode: int | None  # None: killed by the harness (timeout)
    signal: int | None  # the signal that killed the reducer, if one did
    timed_out: bool
    seconds: float
    stderr_tail: str
    output_ok: bool | None  # {output} used: was it written, as JSON? None: not used
    error: str = ""  # harness-side problem (command not found, ...)

    @property
    def accepted(self) -> bool:
        return self.returncode == 0 and not self.timed_out and self.signal is None

    def describe(self) -> str:
        if self.error:
            return f"harness error: {self.error}"
        if self.timed_out:
            return f"timed out after {self.seconds:.1f} s"
        if self.signal is not None:
            return f"killed by signal {signal.Signals(self.signal).name}"
        first = next((l for l in self.stderr_tail.splitlines() if l.strip()), "")
        return f"exit {self.returncode}" + (f": {first[:200]}" if first and self.returncode else "")


@dataclass(frozen=True)
class ReducerCommand:
    template: str
    input: str = "argv"  # "argv" or "stdin", when the template has no {bundle}
    timeout: float = 30.0

    def __post_init__(self):
        if not shlex.split(self.template):
            raise ValueError("empty reducer command")
        if self.input not in ("argv", "stdin"):
            raise ValueError("input must be 'argv' or 'stdin'")

    @property
    def uses_output(self) -> bool:
        return "{output}" in self.template

    def argv(self, bundle: Path, output: Path) -> list[str]:
        parts = [p.replace("{bundle}", str(bundle)).replace("{output}", str(output)) for p in shlex.split(self.template)]
        if "{bundle}" not in self.template and self.input == "argv":
            parts.append(str(bundle))
        return parts

    def run(self, bundle: Path, workdir: Path) -> Outcome:
        """Run on ``bundle``; ``workdir`` (created) receives the output file."""
        workdir.mkdir(parents=True, exist_ok=True)
        output = workdir / "output.json"
        argv = self.argv(bundle, output)
        stdin = (str(bundle) + "\n").encode() if ("{bundle}" not in self.template and self.input == "stdin") else b""
        started = time.monotonic()
        try:
            proc = subprocess.Popen(
                argv,
                stdin=subprocess.PIPE,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                cwd=workdir,
                start_new_session=True,  # its own process group, killed whole on timeout
            )
        except OSError as e:
            return Outcome(None, None, False, 0.0, "", None, error=f"cannot start {argv[0]!r}: {e.strerror}")
        try:
            _, err = proc.communicate(stdin, timeout=self.timeout)
            timed_out = False
        except subprocess.TimeoutExpired:
            _kill_group(proc)
            try:
                _, err = proc.communicate(timeout=5)
            except subprocess.TimeoutExpired:  # a descendant left the group and holds the pipe
                assert proc.stderr is not None  # stderr=PIPE
                proc.stderr.close()
                proc.wait()
                err = b""
            timed_out = True
        seconds = time.monotonic() - started
        rc = proc.returncode
        sig = -rc if rc is not None and rc < 0 and not timed_out else None
        output_ok = None
        if self.uses_output and rc == 0 and not timed_out:
            output_ok = _is_json_file(output)
        return Outcome(
            None if timed_out else rc,
            sig,
            timed_out,
            seconds,
            (err or b"")[-TAIL:].decode("utf-8", "replace"),
            output_ok,
        )


def _kill_group(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        proc.kill()


def _is_json_file(path: Path) -> bool:
    try:
        with open(path, "rb") as f:
            json.load(f)
        return True
    except (OSError, ValueError):
        return False
