"""Edited copies of a bundle, the way the probes ask a reducer a question: read its events, copy it
(hard links: a probe makes a copy per question, and copying every file cost more than the reducer's
run), replace the files the question changes, reduce the copy.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from ..bundle import TRACE
from ..model.common import EnvelopeKey as E

REDUCERS_AT_ONCE = 4  # edited copies reduced side by side (each run mostly starts a process and waits)


def read_events(bundle: Path) -> list[dict]:
    """The bundle's events that parse as objects with an object payload (other lines left out)."""
    events = []
    with open(bundle / TRACE, encoding="utf-8", errors="replace") as f:
        for line in f:
            try:
                e = json.loads(line)
            except ValueError:
                continue
            if isinstance(e, dict) and isinstance(e.get(E.PAYLOAD), dict):
                events.append(e)
    return events


def linked_copy(bundle: Path, copy: Path) -> None:
    """``bundle`` copied to ``copy``, its files as hard links where the file system allows. Change a
    file of the copy with :func:`rewrite` (or remove it) only: writing into a link writes the original."""
    shutil.copytree(bundle, copy, copy_function=_link_or_copy)


def _link_or_copy(src: str, dst: str) -> None:
    try:
        os.link(src, dst)
    except OSError:  # another file system, or one without hard links
        shutil.copy2(src, dst)


def rewrite(path: Path, text: str) -> None:
    """Replace the file at ``path`` (of a :func:`linked_copy`) with ``text``, leaving what it linked to."""
    path.unlink(missing_ok=True)
    path.write_text(text, encoding="utf-8")


def rewrite_trace(copy: Path, events: list[dict]) -> None:
    """Replace the event log of ``copy`` (a :func:`linked_copy`) with ``events``, one per line."""
    rewrite(copy / TRACE, "".join(json.dumps(e) + "\n" for e in events))
