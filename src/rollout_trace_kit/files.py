"""Opening files someone else controls: regular files only, reads capped.

A bundle under check, a writer's bundle directory or a reducer's output may hold,
under any name, a FIFO (an ``open`` that never returns), a device (``/dev/zero``:
endless bytes), a symlink to either, or a file far larger than it should be. Every
read of such a file goes through here: anything but a regular file is refused
before it is read, and a read stops at a cap the caller chose from what the file
may legitimately hold.
"""

from __future__ import annotations

import errno
import os
import stat
from stat import S_ISREG
from pathlib import Path
from typing import BinaryIO

# Why a read gave no data (Read.why)
MISSING, UNREADABLE, IRREGULAR, TOO_LARGE, ESCAPES = "missing", "unreadable", "irregular", "too_large", "escapes"


class NotRegular(OSError):
    """The path names something other than a regular file; ``kind`` says what ("a FIFO")."""

    def __init__(self, path: Path | str, kind: str):
        super().__init__(f"{os.fspath(path)} is {kind}")
        self.kind = kind


class Escapes(OSError):
    """The path leads out of the directory it must stay in, or a symbolic link on the way
    changed while it was opened (see :func:`open_regular`'s ``within``)."""

    def __init__(self, path: Path | str, within: Path | str):
        super().__init__(f"{os.fspath(path)} leads out of {os.fspath(within)}, or a symbolic link on the way changed")


def kind_of(mode: int) -> str:
    """What a non-regular file is, in words."""
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISLNK(mode):
        return "a symlink"
    return "not a regular file"


LOOP = "a symbolic link loop (ELOOP)"
DANGLING = "a dangling symbolic link"


def unreadable(e: OSError) -> str:
    """Why an open failed, in words: a link to itself or a ring of links says it is a loop (ELOOP),
    never "missing" or a dangling link (it is neither); anything else is "unreadable (its strerror)"."""
    return LOOP if e.errno == errno.ELOOP else f"unreadable ({e.strerror})"


def absent(path: Path | str) -> str:
    """Why a file that is not there is not there, in words: a link to nothing says so."""
    return DANGLING if os.path.islink(path) else "missing"


def lacks(problem: str | None) -> str:
    """A finding's words for a file with no data (``Read.problem`` or :func:`file_problem`'s words):
    "does not exist", or "is a dangling symbolic link", "is a FIFO"..."""
    return "does not exist" if not problem or problem == "missing" else f"is {problem}"


def loops(path: Path | str) -> bool:
    """Whether ``path`` is a symbolic link that never ends (to itself, or a ring of links): ELOOP."""
    try:
        os.stat(path)
    except OSError as e:
        return e.errno == errno.ELOOP
    return False


def file_problem(path: Path | str, *, follow_symlinks: bool = True) -> tuple[str, str] | None:
    """None if ``path`` is a regular file, else (why, in words) as :class:`Read` gives them:
    (MISSING, "missing" or "a dangling symbolic link"), (UNREADABLE, "unreadable (...)") or
    (IRREGULAR, "a FIFO"). Nothing is opened."""
    try:
        st = os.stat(path, follow_symlinks=follow_symlinks)
    except FileNotFoundError:
        return MISSING, absent(path)
    except OSError as e:
        return UNREADABLE, unreadable(e)
    if not stat.S_ISREG(st.st_mode):
        return IRREGULAR, kind_of(st.st_mode)
    return None


def is_regular(path: Path | str) -> bool:
    """A regular file (symlinks followed), without opening it."""
    return file_problem(path) is None


def open_regular(path: Path | str, *, follow_symlinks: bool = True, within: Path | str | None = None) -> BinaryIO:
    """``path`` opened for binary reading, only if it is a regular file.

    Raises FileNotFoundError, :class:`NotRegular` or another OSError. The open itself
    is non-blocking, so a FIFO (even one swapped in after a check) cannot hang it;
    the file is then refused by ``fstat`` before any byte is read. With ``within`` (a
    directory holding ``path``), the file opened is one inside it, whatever symbolic link
    is swapped in meanwhile (:func:`_open_beneath`); else :class:`Escapes`.
    """
    fd, _ = _open_regular_fd(path, follow_symlinks, within)
    try:
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


_OPEN_FLAGS = os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | getattr(os, "O_CLOEXEC", 0)
_OPEN_NOFOLLOW = _OPEN_FLAGS | os.O_NOFOLLOW


def _open_regular_fd(path: Path | str, follow_symlinks: bool,
                     within: Path | str | None = None) -> tuple[int, os.stat_result]:
    """A descriptor of ``path`` and its stat, only if it is a regular file (see open_regular)."""
    flags = _OPEN_FLAGS if follow_symlinks else _OPEN_FLAGS | os.O_NOFOLLOW
    try:
        fd = os.open(path, flags) if within is None else _open_beneath(path, within, flags)
    except OSError as e:
        if not follow_symlinks and os.path.islink(path):  # ELOOP from O_NOFOLLOW
            raise NotRegular(path, "a symlink") from None
        raise e
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise NotRegular(path, kind_of(st.st_mode))
        return fd, st
    except BaseException:
        os.close(fd)
        raise


_DIR_FLAGS = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)


def _open_beneath(path: Path | str, within: Path | str, flags: int) -> int:
    """``path`` opened with ``flags``, never outside the directory ``within``.

    A check of a symbolic link before an ``open`` that follows it leaves a window: a link
    swapped in between is followed (a TOCTOU race). Here the link is resolved once
    (``realpath``), the result must lie inside ``within``, and it is then opened from
    ``within``'s descriptor one component at a time, each with O_NOFOLLOW: a link that
    appears on the way after the resolution makes the open fail (ELOOP), never leads elsewhere.
    """
    real_root = os.path.realpath(within)
    rel = os.path.relpath(os.path.realpath(path), real_root)
    parts = rel.split(os.sep)
    if os.pardir in parts or os.path.isabs(rel) or rel == os.curdir:
        raise Escapes(path, within)
    if os.open not in os.supports_dir_fd:  # no openat here: the resolved path, its last component unfollowed
        return _unfollowed(path, within, os.path.join(real_root, rel), flags, None)
    at = os.open(real_root, _DIR_FLAGS & ~os.O_NOFOLLOW)
    try:
        for part in parts[:-1]:
            step = _unfollowed(path, within, part, _DIR_FLAGS, at)
            os.close(at)
            at = step
        return _unfollowed(path, within, parts[-1], flags | os.O_NOFOLLOW, at)
    finally:
        os.close(at)


def _unfollowed(path: Path | str, within: Path | str, name: str, flags: int, at: int | None) -> int:
    """``name`` opened (from the directory descriptor ``at``) with O_NOFOLLOW in ``flags``. A
    symbolic link there (ELOOP, or ENOTDIR for a directory) is :class:`Escapes`, unless
    ``path`` is a loop of links, which no reader can open (the OSError itself)."""
    import errno

    try:
        return os.open(name, flags, dir_fd=at)
    except OSError as e:
        if e.errno not in (errno.ELOOP, errno.ENOTDIR):
            raise
        try:
            if not stat.S_ISLNK(os.stat(name, dir_fd=at, follow_symlinks=False).st_mode):
                raise
            os.stat(path)
        except OSError as again:
            if again.errno == errno.ELOOP:
                raise again from None
            if again is e:
                raise
        raise Escapes(path, within) from None


class Read:
    """What reading one file gave: its bytes (at most the cap), or why there are none."""

    # A plain class, not a dataclass: one is made per payload file read (60,000 in a
    # payload-heavy bundle), and a frozen dataclass's __init__ costs a call per field.
    __slots__ = ("data", "problem", "size", "why")

    def __init__(self, data: bytes | None, problem: str | None = None, size: int = 0, why: str | None = None):
        self.data = data
        self.problem = problem  # in words: "missing", "a FIFO", "larger than ...": set when data is None or cut
        self.size = size  # the file's size when it was opened
        self.why = why  # MISSING, UNREADABLE, IRREGULAR or TOO_LARGE when problem is set

    def __repr__(self) -> str:
        return f"Read(data={self.data!r}, problem={self.problem!r}, size={self.size!r}, why={self.why!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Read):
            return NotImplemented
        return (self.data, self.problem, self.size, self.why) == (other.data, other.problem, other.size, other.why)

    __hash__ = None  # type: ignore[assignment]  # mutable, compared by value

    @property
    def missing(self) -> bool:
        return self.why == MISSING


def refused(path: Path | str, e: OSError, *, follow_symlinks: bool = True) -> Read:
    """Why an open of ``path`` by :func:`open_regular` (or :func:`read_capped`) failed with ``e``, as
    the :class:`Read` of a file with no data: what every reader of a file someone else controls says."""
    if isinstance(e, Escapes):
        return Read(None, "a symbolic link out of the directory (or one that changed while opened)", why=ESCAPES)
    if isinstance(e, NotRegular):
        return Read(None, e.kind, why=IRREGULAR)
    if not follow_symlinks and os.path.islink(path):  # ELOOP from O_NOFOLLOW
        return Read(None, "a symlink", why=IRREGULAR)
    if isinstance(e, FileNotFoundError):
        return Read(None, absent(path), why=MISSING)
    return Read(None, unreadable(e), why=UNREADABLE)


def read_capped(path: Path | str, cap: int, *, follow_symlinks: bool = True, keep_prefix: bool = True,
                within: Path | str | None = None) -> Read:
    """The bytes of the regular file at ``path``.

    ``data`` is None when the file is missing or not a regular file. A file larger
    than ``cap`` sets ``problem``: with ``keep_prefix`` its first ``cap`` bytes are
    read, without it none are (a file already too large when opened is not read at all).
    ``within``: as :func:`open_regular` (a file out of it gives ``why`` ESCAPES).
    """
    # Plain descriptor reads, no file object, and the open of _open_regular_fd inlined:
    # validating 60,000 small payload files spends much of its time here.
    try:
        if within is not None:  # opened beneath ``within`` (see _open_beneath): the careful, slower open
            fd, _ = _open_regular_fd(path, follow_symlinks, within)
        else:
            fd = os.open(path, _OPEN_FLAGS if follow_symlinks else _OPEN_NOFOLLOW)
    except OSError as e:  # as _open_regular_fd raises it
        return refused(path, e, follow_symlinks=follow_symlinks)
    try:
        st = os.fstat(fd)
        if not S_ISREG(st.st_mode):
            return Read(None, kind_of(st.st_mode), why=IRREGULAR)
        size = st.st_size
        if size > cap and not keep_prefix:
            return Read(None, _larger(cap, size), size, TOO_LARGE)
        want = (size if size < cap else cap) + 1  # one byte more than fstat said: did it grow?
        asked = want if want < 1 << 30 else 1 << 30
        data = os.read(fd, asked)
        got = len(data)
        if data and not (got < asked and got >= size):  # not short at the size fstat gave (the usual end)
            chunks = [data]
            while True:
                if got >= want:
                    if got > cap or got <= size:
                        break
                    want = cap + 1  # it grew since fstat: read on, up to one byte past the cap
                asked = min(want - got, 1 << 30)
                chunk = os.read(fd, asked)
                if not chunk:
                    break
                chunks.append(chunk)
                got += len(chunk)
                if len(chunk) < asked and got >= size:
                    break
            data = b"".join(chunks)
    except OSError as e:
        return Read(None, f"unreadable ({e.strerror})", why=UNREADABLE)
    finally:
        os.close(fd)
    if len(data) > cap:
        return Read(data[:cap] if keep_prefix else None, _larger(cap, max(size, len(data))), size, TOO_LARGE)
    return Read(data, None, size)


LISTED_READ = 1 << 16  # bytes read_listed asks for at once: most payload files are smaller


def read_listed(path: str, cap: int) -> Read:
    """``read_capped(path, cap, follow_symlinks=False, keep_prefix=False)`` for a file its
    directory's listing showed regular, in one read and no fstat (a system call less per file,
    which the read-ahead of 60,000 small files pays): a read shorter than asked and not empty is the whole file. Anything else (a
    longer or empty file, an error, a device, which reads full, or empty, or fails) is read again
    by read_capped, which says what it is. What it trusts the listing for: a FIFO put in the
    file's place since, with a writer that already wrote into it, reads its data short, as a
    file would (read_capped would say "a FIFO"); without a writer a FIFO reads empty and is
    read again."""
    want = cap + 1 if cap < LISTED_READ else LISTED_READ
    try:
        fd = os.open(path, _OPEN_NOFOLLOW)
    except OSError:
        return read_capped(path, cap, follow_symlinks=False, keep_prefix=False)
    try:
        data = os.read(fd, want)
    except OSError:
        data = b""
    finally:
        os.close(fd)
    if 0 < len(data) < want:
        return Read(data, None, len(data))
    return read_capped(path, cap, follow_symlinks=False, keep_prefix=False)


def _larger(cap: int, size: int) -> str:
    return f"larger than the {cap} bytes the kit reads ({size} bytes or more)"


def write_all(fd: int, data: bytes) -> None:
    """All of ``data`` written to the descriptor ``fd`` (``os.write`` may write less than asked)."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]
