"""What every subcommand shares about its output: ``--format``, ``-o``, ``--color``, ``-q``.

A report goes to ``-o FILE`` (or standard output); the one-line summary of a run always
reaches the console too (unless ``--quiet``), so a CI log says what happened even when
the report went to a file. Colour follows ``--color``: ``auto`` (the default) colours
only a terminal, and never when ``NO_COLOR`` is set (https://no-color.org) or
``TERM=dumb``.
"""

from __future__ import annotations

import argparse
import errno
import os
import sys
from pathlib import Path
from typing import IO

COLOR_CHOICES = ("auto", "always", "never")


class OutputError(Exception):
    """The report cannot be written (exit 2)."""


def add_output_arguments(p: argparse.ArgumentParser, formats: tuple[str, ...] | list[str], default: str = "human") -> None:
    p.add_argument("--format", choices=list(formats), default=default, help="report format")
    p.add_argument("--output", "-o", metavar="FILE", default="-",
                   help="write the report here ('-': standard output); the summary still goes to the console")
    add_color_argument(p)
    p.add_argument("--quiet", "-q", action="store_true",
                   help="print no console summary, and leave passing items out of a human report")


def add_color_argument(p: argparse.ArgumentParser) -> None:
    """``--color``, for a subcommand whose human output is coloured but that has no ``-o`` or ``-q`` (compat)."""
    p.add_argument("--color", choices=COLOR_CHOICES, default="auto",
                   help="colour human output: auto = on a terminal, unless NO_COLOR is set")


def use_color(choice: str, stream: IO) -> bool:
    if choice == "always":
        return True
    if choice == "never" or os.environ.get("NO_COLOR") or os.environ.get("TERM") == "dumb":
        return False
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def console(file: IO, color: str = "auto", width: int | None = None):
    """A Rich console that emits escape sequences only when colour is on (Rich's own
    ``NO_COLOR`` handling keeps bold and dim). Text is never wrapped (``soft_wrap``): a wrap
    could put text taken from input at the start of a line, where a CI runner reads commands;
    ``width`` only sizes tables."""
    from rich.console import Console

    class _Console(Console):
        def on_broken_pipe(self) -> None:
            # Rich exits 1 here, which reads as "findings": the command line's own handling (exit 2, as
            # for any output that cannot be written) sees the error instead
            self.quiet = True
            raise BrokenPipeError(errno.EPIPE, os.strerror(errno.EPIPE))

    on = use_color(color, file)
    return _Console(
        file=file,
        highlight=False,
        emoji=False,
        soft_wrap=True,
        width=width,
        force_terminal=on,
        color_system="auto" if on else None,
        no_color=not on,
    )


def check_writable(target: str | None, label: str | None = None) -> None:
    """Fail before a long run, not after it, when ``-o`` (or another file option) names a place
    that cannot be written; the message starts with ``label`` (default: ``cannot write TARGET``)."""
    if not target or target == "-":
        return
    from .files import LOOP, loops

    label = label or f"cannot write {target}"
    p = Path(target)
    if loops(p):  # as validate names a loop it was asked to read, not "Too many levels of symbolic links"
        raise OutputError(f"{label}: {LOOP}")
    if p.is_dir():
        raise OutputError(f"{label}: is a directory")
    if p.exists() and not os.access(p, os.W_OK):
        raise OutputError(f"{label}: not writable")
    parent = p.parent
    if not parent.is_dir():
        raise OutputError(f"{label}: directory {parent} does not exist")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise OutputError(f"{label}: directory {parent} is not writable")


def open_output(target: str, binary: bool = False) -> IO:
    """``target`` opened for writing (created or truncated). A FIFO no process reads is an
    error, not a wait without end: the open does not block (a pipe someone reads, such as
    ``-o >(gzip > out.gz)``, is written as before)."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(target, flags, 0o666)
    except OSError as e:
        if e.errno == errno.ENXIO:
            raise OSError(e.errno, "a FIFO no process reads") from None
        raise
    try:
        os.set_blocking(fd, True)
        if binary:
            return os.fdopen(fd, "wb")
        return os.fdopen(fd, "w", encoding="utf-8", errors="backslashreplace")
    except BaseException:
        os.close(fd)
        raise


class Report:
    """Where a report goes: a file (UTF-8) or standard output."""

    def __init__(self, target: str | None):
        self.target = target if target and target != "-" else None
        self._file: IO | None = None

    def __enter__(self) -> IO:
        if self.target is None:
            return sys.stdout
        try:
            self._file = open_output(self.target)
        except OSError as e:
            raise OutputError(f"cannot write {self.target}: {e.strerror or e}") from None
        return self._file

    def __exit__(self, *exc) -> None:
        if self._file is not None:
            self._file.close()


def write_text(target: str | None, text: str) -> None:
    with Report(target) as out:
        out.write(text)
