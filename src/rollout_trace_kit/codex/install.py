"""The real Codex CLI from npm: the reference reducer (and writer) of each dialect.

Installed on demand into a cache outside any repository
(``$ROLLOUT_TRACE_KIT_CACHE`` or ``~/.cache/rollout-trace-kit``); each release is
about 400 MB.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from ..model.facts import reference_releases

REFERENCE_RELEASES = reference_releases()  # dialect -> release whose reducer defines it (the model's)


def cache_dir() -> Path:
    root = os.environ.get("ROLLOUT_TRACE_KIT_CACHE")
    return Path(root) if root else Path.home() / ".cache" / "rollout-trace-kit"


def _native_binary(prefix: Path) -> Path | None:
    vendor = prefix / "node_modules" / "@openai"
    for candidate in sorted(vendor.glob("codex-*/vendor/*/bin/codex")) + sorted(vendor.glob("codex/vendor/*/codex/codex")):
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    return None


def ensure_codex(release: str, install: bool = True) -> Path | None:
    """Path of the native ``codex`` binary of ``release``, installing it from npm if needed."""
    prefix = cache_dir() / f"codex-{release}"
    found = _native_binary(prefix)
    if found or not install:
        return found
    npm = shutil.which("npm")
    if npm is None:
        return None
    prefix.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [npm, "install", "--prefix", str(prefix), "--no-audit", "--no-fund", f"@openai/codex@{release}"],
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        timeout=1200,
    )
    return _native_binary(prefix)


@dataclass
class ReduceResult:
    returncode: int
    stderr: str
    timed_out: bool = False

    @property
    def accepted(self) -> bool:
        return self.returncode == 0 and not self.timed_out

    @property
    def first_error(self) -> str:
        for line in self.stderr.splitlines():
            if line.strip():
                return line.strip()
        return ""


def trace_reduce(binary: Path, bundle: Path, out: Path, timeout: float = 30.0) -> ReduceResult:
    """Run ``codex debug trace-reduce BUNDLE -o OUT``."""
    env = dict(os.environ, RUST_LOG="error", NO_COLOR="1")
    try:
        proc = subprocess.run(
            [str(binary), "debug", "trace-reduce", str(bundle), "-o", str(out)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            timeout=timeout,
            env=env,
            start_new_session=True,
        )
    except subprocess.TimeoutExpired as e:
        return ReduceResult(-9, (e.stderr or b"").decode("utf-8", "replace"), timed_out=True)
    return ReduceResult(proc.returncode, proc.stderr.decode("utf-8", "replace"))
