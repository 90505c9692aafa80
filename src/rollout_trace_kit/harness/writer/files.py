"""Reading what a writer left on disk: regular files only, never more than a cap.

The writer under test controls its bundle directory, so any name in it may be a
FIFO (an ``open`` that never returns), a device (``/dev/zero``: endless bytes),
a symlink to either, or a file far larger than anything it was asked to write.
Every read here refuses all but regular files and stops at a cap chosen by the
caller from what the file may legitimately hold.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path

from ...validate.rules.layout import MANIFEST, MAX_MANIFEST_BYTES, PAYLOADS, TRACE  # noqa: F401  (re-exported)

SLACK = 1 << 16  # room beyond twice the expected size: whitespace, a longer clock, one more line


@dataclass(frozen=True)
class Read:
    """What reading one file gave: its bytes (at most the cap), or why there are none."""

    data: bytes | None
    problem: str | None = None  # "missing", "a FIFO", "larger than ...": set when data is None or cut
    size: int = 0  # the file's size when it was opened

    @property
    def missing(self) -> bool:
        return self.problem == "missing"


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    return "not a regular file"


def read_capped(path: Path | str, cap: int) -> Read:
    """The bytes of the regular file at ``path`` (symlinks to regular files followed).

    ``data`` is None when the file is missing or not a regular file; when it is
    larger than ``cap`` only the first ``cap`` bytes are read and ``problem``
    says how large it is.
    """
    try:
        st = os.stat(path)  # refuse FIFOs and devices before opening them
    except FileNotFoundError:
        return Read(None, "missing")
    except OSError as e:
        return Read(None, f"unreadable ({e.strerror})")
    if not stat.S_ISREG(st.st_mode):
        return Read(None, _kind(st.st_mode))
    try:
        # O_NONBLOCK: should the name be swapped for a FIFO between stat and open,
        # the open still returns, and fstat below refuses it.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        return Read(None, "missing")
    except OSError as e:
        return Read(None, f"unreadable ({e.strerror})")
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            return Read(None, _kind(st.st_mode))
        chunks, left = [], cap + 1
        while left > 0:
            chunk = os.read(fd, min(left, 1 << 20))
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
        data = b"".join(chunks)
    except OSError as e:
        return Read(None, f"unreadable ({e.strerror})")
    finally:
        os.close(fd)
    if len(data) > cap:
        return Read(data[:cap], f"larger than the {cap} bytes the harness reads ({max(st.st_size, len(data))} bytes or more)", st.st_size)
    return Read(data, None, st.st_size)


def is_regular(path: Path | str) -> bool:
    """A regular file (symlinks followed), without opening it."""
    try:
        return stat.S_ISREG(os.stat(path).st_mode)
    except OSError:
        return False


def split_log(data: bytes) -> tuple[list[bytes], bytes]:
    """Complete lines (without "\\n") and the partial tail."""
    parts = data.split(b"\n")
    return parts[:-1], parts[-1]


def log_cap(answered_bytes: int, extra: int = 0) -> int:
    """How much of trace.jsonl to read: twice the answers that echoed its events, plus one more line."""
    return 2 * (answered_bytes + extra) + SLACK


def payload_cap(body) -> int:
    """How much of a payload file to read: twice its body pretty-printed (4-space indent is within that)."""
    import orjson

    from ...compilers.canonical import EventError, dumps

    try:
        return 2 * len(dumps(body, indent=True)) + SLACK
    except EventError:
        return 2 * len(orjson.dumps(body, option=orjson.OPT_INDENT_2)) + SLACK
