"""The real Codex CLI from npm: the reference reducer (and writer) of each dialect.

Installed on demand into a cache outside any repository
(``$ROLLOUT_TRACE_KIT_CACHE`` or ``~/.cache/rollout-trace-kit``); each release is
about 400 MB.
"""

from __future__ import annotations

import fcntl
import os
import re
import shutil
import subprocess
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from ..model.facts import reference_releases

REFERENCE_RELEASES = reference_releases()  # dialect -> release whose reducer defines it (the model's)


def cache_dir() -> Path:
    root = os.environ.get("ROLLOUT_TRACE_KIT_CACHE")
    return Path(root) if root else Path.home() / ".cache" / "rollout-trace-kit"


@contextmanager
def install_lock() -> Iterator[None]:
    """Hold the cache's install lock (the same file ``flock`` takes from a shell), so two
    processes never install or remove one release at once."""
    root = cache_dir()
    root.mkdir(parents=True, exist_ok=True)
    with open(root / ".install.lock", "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


# an npm version (strict semver): nothing else may name a directory of the cache or reach npm's spec
# parser (``../x`` there is a local path, and the install dir ``codex-../..`` another place to delete).
# Leading zeros (``0.169.00``) make npm read a range, and build metadata (``+x``) is ignored by npm:
# either would install some other release, or the same one again, under another directory.
_NUM = r"(?:0|[1-9][0-9]*)"
_PRE_ID = rf"(?:{_NUM}|[0-9]*[A-Za-z-][0-9A-Za-z-]*)"
_VERSION = re.compile(rf"{_NUM}\.{_NUM}\.{_NUM}(?:-{_PRE_ID}(?:\.{_PRE_ID})*)?")


class InstallError(RuntimeError):
    """A release that is not a version, or npm could not install it (exit 2 at the command line)."""


def check_release(release: str) -> str:
    if not _VERSION.fullmatch(release):
        from ..escape import display

        raise InstallError(f"{display(release)!r} is not a Codex release version such as 0.169.0")
    return release


def install_dir(release: str) -> Path:
    return cache_dir() / f"codex-{check_release(release)}"


def _native_binary(prefix: Path) -> Path | None:
    vendor = prefix / "node_modules" / "@openai"
    # the platform package's layout changed over time: vendor/TRIPLE/bin/codex, earlier vendor/TRIPLE/codex/codex
    patterns = ("codex-*/vendor/*/bin/codex", "codex-*/vendor/*/codex/codex", "codex/vendor/*/codex/codex")
    for candidate in (c for pattern in patterns for c in sorted(vendor.glob(pattern))):
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    return None


def ensure_codex(release: str, install: bool = True) -> Path | None:
    """Path of the native ``codex`` binary of ``release``, installing it from npm if needed."""
    prefix = install_dir(release)
    found = _native_binary(prefix)
    if found or not install:
        return found
    npm = shutil.which("npm")
    if npm is None:
        return None
    with install_lock():
        found = _native_binary(prefix)  # another process may have installed it while we waited
        if found:
            return found
        # npm fills a staging directory that becomes the install only once npm is done: a process
        # killed mid-install (CI ending a fetch it started in the background) leaves no binary that
        # looks installed. What it left there is this lock holder's to clear.
        staging = prefix.with_name(prefix.name + ".installing")
        _clear(staging)
        staging.mkdir(parents=True)
        done = False
        try:
            subprocess.run(
                [npm, "install", "--prefix", str(staging), "--no-audit", "--no-fund", f"@openai/codex@{release}"],
                check=True,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                timeout=1200,
            )
            done = True
        except subprocess.CalledProcessError as e:
            from ..escape import display

            raise InstallError(f"npm could not install @openai/codex@{release}: "
                               f"{display(_npm_error(e.stderr or b''))[:300] or f'exit {e.returncode}'}") from None
        except subprocess.TimeoutExpired:
            raise InstallError(f"npm install @openai/codex@{release} took more than 20 minutes") from None
        finally:
            if not done:
                _clear(staging)  # nothing half-made left behind
        _clear(prefix)  # an earlier install that has no binary
        os.replace(staging, prefix)
        return _native_binary(prefix)


def _clear(path: Path) -> None:
    """Remove ``path``: a directory with what it holds, a link or file itself (never what a link names)."""
    if path.is_symlink() or path.is_file():
        path.unlink()
    else:
        shutil.rmtree(path, ignore_errors=True)


def _npm_error(stderr: bytes) -> str:
    """npm's own one-line reason ("notarget No matching version found for ..."), without its
    error code and log-file lines."""
    for line in stderr.decode("utf-8", "replace").splitlines():
        m = re.match(r"npm (?:ERR!|error) (.*)", line)
        if m and not m.group(1).startswith(("code ", "A complete log")):
            return m.group(1).strip()
    return ""


def remove_install(release: str) -> bool:
    """Delete the cached install of ``release`` (under the install lock); True if one was there."""
    prefix = install_dir(release)
    with install_lock():
        if not prefix.exists():
            return False
        shutil.rmtree(prefix)
        return True


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


def trace_reduce(binary: Path, bundle: Path, out: Path, timeout: float = 30.0,
                 codex_home: Path | None = None) -> ReduceResult:
    """Run ``codex debug trace-reduce BUNDLE -o OUT``. ``codex_home``: the ``CODEX_HOME`` of the run
    (default: the user's); each run makes and removes its PATH aliases there, and reads only
    ``.env`` from it."""
    env = dict(os.environ, RUST_LOG="error", NO_COLOR="1")
    if codex_home is not None:
        env["CODEX_HOME"] = str(codex_home)
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
