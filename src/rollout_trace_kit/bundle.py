"""A trace bundle held in memory: written to a directory, or streamed as bytes.

Generators build these, corruption operators edit them, and tests write them
to temporary directories. Lines are kept as raw bytes (without their "\\n")
so a corruption can break a line in ways no JSON encoder would.
"""

from __future__ import annotations

import io
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import orjson

from .files import IRREGULAR, TOO_LARGE, file_problem, open_regular, read_capped, refused, unreadable, write_all
from .model.common import FILE_PER_PAYLOAD

MANIFEST, TRACE, PAYLOADS = FILE_PER_PAYLOAD.file_names  # every layout keeps these names
# Bundle.read holds a whole bundle in memory (tests, generators, replayed scripts): a cap on
# all of its files together, so a sparse multi-GB log is refused, not read.
MAX_READ_BYTES = 1 << 30


def _write_file(path: str, data: bytes) -> None:
    """``Path(path).write_bytes(data)`` without the file object."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_CLOEXEC", 0), 0o666)
    try:
        write_all(fd, data)
    finally:
        os.close(fd)


class TooLarge(ValueError):
    """A bundle's files hold more bytes than the reader was allowed."""


class LineTooLong(TooLarge):
    """A line of the event log is longer than the reader was allowed (``Bundle.read``'s ``max_line``)."""


def dumps_event(event: dict[str, Any]) -> bytes:
    """One event line as the writer writes it: compact JSON, keys in model order."""
    return orjson.dumps(event)


def dumps_pretty(value: object) -> bytes:
    """A payload or manifest file as the writer writes it (pretty, no final newline)."""
    return orjson.dumps(value, option=orjson.OPT_INDENT_2)


@dataclass
class Special:
    """A non-regular entry: a symlink, FIFO or directory (for hostile-input cases)."""

    kind: str  # "symlink" | "fifo" | "dir"
    target: str = ""  # symlink target


def _read_lines(path: Path, left: list[int], max_line: int | None, too_large: str) -> tuple[list[bytes], bool] | str:
    """The lines of the log at ``path`` (each without its ``\n``) and whether the last one ended
    with one; else why it was not read, in words (files.refused: "missing", "a dangling symbolic link", "a FIFO", a loop...).
    ``left``: the bytes the bundle may still take (lowered by what is read)."""
    try:
        f = open_regular(path)
    except OSError as e:  # missing, not regular (NotRegular), unreadable, a loop
        return refused(path, e).problem or "unreadable"
    lines: list[bytes] = []
    with f:
        if os.fstat(f.fileno()).st_size > left[0]:
            raise TooLarge(too_large)
        while True:
            limit = left[0] + 1 if max_line is None else min(max_line, left[0]) + 1
            line = f.readline(limit)
            if not line:
                return lines, True
            left[0] -= len(line)
            if left[0] < 0:
                raise TooLarge(too_large)
            if not line.endswith(b"\n"):
                if max_line is not None and len(line) > max_line:
                    raise LineTooLong(f"{path}: line {len(lines) + 1} is longer than {max_line} bytes "
                                      "(the kit's line limit, LINE.TOO_LONG)")
                lines.append(line)  # readline stopped at the end: a partial last line
                return lines, False
            lines.append(line[:-1])


@dataclass
class Bundle:
    manifest: bytes | None  # None: no manifest.json at all
    lines: list[bytes] = field(default_factory=list)  # each without its "\n"
    trailing_newline: bool = True  # False: the last line is partial
    payloads: dict[str, bytes] = field(default_factory=dict)  # bundle-relative path -> bytes
    specials: dict[str, Special] = field(default_factory=dict)  # bundle-relative path -> entry
    has_trace: bool = True
    line_terminator: bytes = b"\n"
    # Bundle.read: the files it found but could not read (bundle-relative path -> why, in words:
    # "a FIFO", "a symbolic link loop (ELOOP)", ...); a missing manifest or log is here too
    unread: dict[str, str] = field(default_factory=dict)

    # -- construction ---------------------------------------------------------------
    @classmethod
    def from_parts(cls, manifest: dict[str, Any], events: list[dict[str, Any]], payloads: dict[str, object]) -> "Bundle":
        return cls(
            manifest=dumps_pretty(manifest),
            lines=[dumps_event(e) for e in events],
            payloads={p: dumps_pretty(v) for p, v in payloads.items()},
        )

    @classmethod
    def read(cls, directory: str | Path, max_bytes: int = MAX_READ_BYTES, max_line: int | None = None) -> "Bundle":
        """Load a bundle directory (regular files only) into memory.

        Raises :class:`TooLarge` once its files together hold more than ``max_bytes``
        (a file that would take the total past it is not read at all), and :class:`LineTooLong`
        at a line of the log longer than ``max_line`` bytes (read no further than the cap). The
        log is read a line at a time: never whole and then split (twice its size in memory).
        """
        d = Path(directory)
        left = [max_bytes]

        unread: dict[str, str] = {}

        def _read_regular(path: Path, rel: str) -> bytes | None:
            got = read_capped(path, left[0], keep_prefix=False)
            if got.why == TOO_LARGE:
                raise TooLarge(f"{directory}: its files hold more than {max_bytes} bytes (the reader's cap; "
                               f"{path.name} is {got.size} bytes)")
            if got.data is not None:
                left[0] -= len(got.data)
            else:
                unread[rel] = got.problem or "unreadable"
            return got.data

        manifest = _read_regular(d / MANIFEST, MANIFEST)
        got = _read_lines(d / TRACE, left, max_line, f"{directory}: its files hold more than {max_bytes} bytes "
                          "(the reader's cap)")
        has_trace = not isinstance(got, str)
        lines, trailing = ([], True) if isinstance(got, str) else got
        if isinstance(got, str):
            unread[TRACE] = got
        payloads = {}
        names: list[str] = []
        if (d / PAYLOADS).is_dir():
            try:
                names = sorted(os.listdir(d / PAYLOADS))
            except OSError as e:  # a directory it may not list
                unread[PAYLOADS] = unreadable(e)
        elif os.path.lexists(d / PAYLOADS):  # a file, a FIFO, a loop or a dangling link in its place
            unread[PAYLOADS] = (file_problem(d / PAYLOADS) or (IRREGULAR, "a regular file, not a directory"))[1]
        for name in names:
            body = _read_regular(d / PAYLOADS / name, f"{PAYLOADS}/{name}")
            if body is not None:
                payloads[f"{PAYLOADS}/{name}"] = body
        return cls(manifest, lines, trailing, payloads, {}, has_trace, unread=unread)

    # -- views ----------------------------------------------------------------------------
    def manifest_dict(self) -> Any:  # the parsed manifest: an object unless the bundle is broken
        return orjson.loads(self.manifest) if self.manifest is not None else {}

    def events(self) -> list[dict[str, Any]]:
        """The lines parsed as JSON (lines that do not parse are skipped)."""
        out = []
        for line in self.lines:
            try:
                out.append(orjson.loads(line))
            except orjson.JSONDecodeError:
                pass
        return out

    def copy(self) -> "Bundle":
        return Bundle(
            self.manifest,
            list(self.lines),
            self.trailing_newline,
            dict(self.payloads),
            dict(self.specials),
            self.has_trace,
            self.line_terminator,
            dict(self.unread),
        )

    # -- output ------------------------------------------------------------------------------
    def trace_bytes(self) -> Iterator[bytes]:
        """``trace.jsonl`` as a stream of chunks (one per line)."""
        n = len(self.lines)
        for i, line in enumerate(self.lines):
            last = i == n - 1
            yield line + (self.line_terminator if (not last or self.trailing_newline) else b"")

    def write(self, directory: str | Path) -> Path:
        """Write the bundle into ``directory`` (created; must be empty or new)."""
        d = Path(directory)
        d.mkdir(parents=True, exist_ok=True)
        (d / PAYLOADS).mkdir(exist_ok=True)
        if self.manifest is not None:
            (d / MANIFEST).write_bytes(self.manifest)
        if self.has_trace:
            with open(d / TRACE, "wb") as f:
                for chunk in self.trace_bytes():
                    f.write(chunk)
        # A hundred small payload files per fuzz case: a directory made once, not once per file,
        # and each file written with one open and one write (57 against 74 µs of CPU for Path.write_bytes on
        # a 200-byte file: `python -m timeit -p` on each, on the same file).
        made = {os.path.join(str(d), PAYLOADS)}
        for rel, data in self.payloads.items():
            file = os.path.join(str(d), rel)
            parent = os.path.dirname(file)
            if parent not in made:
                os.makedirs(parent, exist_ok=True)
                made.add(parent)
            _write_file(file, data)
        for rel, sp in self.specials.items():
            path = d / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            if sp.kind == "symlink":
                os.symlink(sp.target, path)
            elif sp.kind == "fifo":
                os.mkfifo(path)
            elif sp.kind == "dir":
                path.mkdir(exist_ok=True)
        return d

    def tar_bytes(self) -> bytes:
        """The regular files of the bundle as an uncompressed tar archive."""
        import tarfile  # here, not at the top: validating a bundle never needs it

        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w") as tar:
            files = []
            if self.manifest is not None:
                files.append((MANIFEST, self.manifest))
            if self.has_trace:
                files.append((TRACE, b"".join(self.trace_bytes())))
            files.extend(sorted(self.payloads.items()))
            for name, data in files:
                info = tarfile.TarInfo(name)
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
        return buf.getvalue()
