"""``validate --state FILE``: a fleet run that resumes where a crashed one stopped.

The file is JSON Lines, one line per judged bundle, appended (and flushed) as each
bundle finishes, so a crash loses at most the bundles in flight. A re-run skips a bundle
the file judged with the same kit version and options while its path, size and
modification time are unchanged; size and time are those of every file and directory
inside the bundle (their total size, count and newest mtime, symlinks not followed), so
an appended event or a new payload file makes the bundle judged again. The report
stored with it stands in for the skipped run: every format shows the bundle as before.
A partial last line (a crash while writing) is ignored.
"""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path
from typing import BinaryIO, Iterator

from .. import __version__
from ..files import open_regular
from ..output import OutputError
from .context import Options
from .findings import BundleReport

STATE_FORMAT = "rollout-trace-kit/validate-state/1"
# The longest line read back: one bundle's report, findings and all. A longer line (not one
# this kit wrote with sane options) is skipped and its bundle judged again.
MAX_LINE_BYTES = 64 << 20


def bundle_key(path: Path) -> list[int]:
    """[total bytes, entries, newest mtime in ns] of everything under ``path``, links not followed."""
    size = count = newest = 0
    stack = [str(path)]
    try:
        st = os.lstat(path)
        newest = st.st_mtime_ns
    except OSError:
        return [-1, -1, -1]
    while stack:
        try:
            with os.scandir(stack.pop()) as entries:
                for e in entries:
                    try:
                        st = e.stat(follow_symlinks=False)
                    except OSError:
                        continue
                    size, count, newest = size + st.st_size, count + 1, max(newest, st.st_mtime_ns)
                    if e.is_dir(follow_symlinks=False):
                        stack.append(e.path)
        except OSError:
            continue
    return [size, count, newest]


def _fingerprint(options: Options) -> str:
    """What the verdict depends on besides the bundle and the kit."""
    fields = {f.name: getattr(options, f.name) for f in dataclasses.fields(options) if f.compare}
    fields["dialect"] = getattr(options.dialect, "name", options.dialect)
    fields["profile"] = options.profile.label
    return json.dumps(fields, sort_keys=True, default=str)


class StateFile:
    """The judged bundles of earlier runs, and the appender for this one."""

    def __init__(self, path: str, options: Options):
        self.path = path
        self.kit, self.options = __version__, _fingerprint(options)
        self._where: dict[str, tuple[list[int], int]] = {}  # bundle -> (key, offset of its line)
        self._out: BinaryIO | None = None
        self._load()

    def _load(self) -> None:
        try:
            # a regular file only: a FIFO or a device (/dev/zero) would block or never end
            f = open_regular(self.path)
        except FileNotFoundError:
            return
        except OSError as e:
            raise OutputError(f"cannot use --state {self.path}: {e.strerror or e}") from None
        with f:
            offset = 0
            for raw in _lines(f):
                if raw.endswith(b"\n"):
                    try:
                        doc = json.loads(raw)
                        if doc["kit_version"] == self.kit and doc["options"] == self.options:
                            self._where[doc["path"]] = (doc["key"], offset)
                    except (ValueError, KeyError, TypeError, RecursionError):
                        pass  # another tool's line, or a damaged one: judged again
                offset += len(raw)

    def judged(self, path: Path, key: list[int]) -> BundleReport | None:
        """The stored report of ``path``, when it is unchanged since (named as ``path`` is now);
        None when it is not, or when its line no longer reads as a report (judged again)."""
        found = self._where.get(os.path.abspath(path))
        if found is None or found[0] != key:
            return None
        try:
            with open_regular(self.path) as f:
                f.seek(found[1])
                report = BundleReport.from_dict(json.loads(f.readline(MAX_LINE_BYTES + 1))["report"])
        except (OSError, ValueError, KeyError, TypeError, AttributeError, RecursionError):
            return None  # edited or damaged since it was loaded: judge the bundle again
        report.bundle = str(path)
        report.findings = [dataclasses.replace(x, bundle=str(path)) for x in report.findings]
        return report

    def record(self, path: Path, key: list[int], report: BundleReport) -> None:
        if self._out is None:
            self._out = open(self.path, "ab")
            if self._out.tell() and not _ends_with_newline(self.path):
                self._out.write(b"\n")  # after a crash mid-line: the partial line stays alone
        out = self._out
        line = {"format": STATE_FORMAT, "kit_version": self.kit, "options": self.options, "path": os.path.abspath(path),
                "key": key, "report": report.to_dict()}
        out.write(json.dumps(line).encode("ascii") + b"\n")  # ASCII: a name that is not UTF-8 too
        out.flush()

    def close(self) -> None:
        if self._out is not None:
            self._out.close()


def _lines(f: BinaryIO) -> Iterator[bytes]:
    """The lines of ``f``, each with its "\\n"; a line longer than MAX_LINE_BYTES is skipped
    (read through in pieces, never held whole) and yields the pieces' length as blanks, so
    offsets stay right and it is judged again."""
    while True:
        raw = f.readline(MAX_LINE_BYTES + 1)
        if not raw:
            return
        if len(raw) <= MAX_LINE_BYTES:
            yield raw
            continue
        skipped = len(raw)
        while not raw.endswith(b"\n"):
            raw = f.readline(1 << 20)
            if not raw:
                break
            skipped += len(raw)
        yield b" " * skipped  # no newline: not a line that is read


def _ends_with_newline(path: str) -> bool:
    with open(path, "rb") as f:
        f.seek(-1, os.SEEK_END)
        return f.read(1) == b"\n"
