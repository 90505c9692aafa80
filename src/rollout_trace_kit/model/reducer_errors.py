"""Codex reducer errors by stable name: what ``codex debug trace-reduce`` prints when it rejects.

Codex's reducer stops at the first problem with one line on stderr (``Error: ...``); its
wording changes between releases, its meaning rarely does. Each entry maps the messages
(a regular expression searched in stderr) to a stable name that conformance cases use
(``expected.json``: ``error_class`` per release epoch), with the invariants whose breakage
the reducer reports that way: ``rollout-trace conformance build`` predicts a case's class from
them, and the Codex tier (tests/test_conformance_codex.py) checks the prediction against the
real reducers. A message no entry matches is ``unclassified``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class ReducerError:
    name: str
    pattern: str  # searched (re.search) in the reducer's stderr
    meaning: str
    invariants: tuple[str, ...] = ()  # breaking one of these (at the reducer profile) gives this error


UNCLASSIFIED = "unclassified"

REDUCER_ERRORS: tuple[ReducerError, ...] = ()


def classify(stderr: str) -> str:
    """The stable name of a reducer's error output (``unclassified`` when no entry matches)."""
    return next((e.name for e in REDUCER_ERRORS if re.search(e.pattern, stderr)), UNCLASSIFIED)


def expected_error_class(reducer_errors: list[str], schema_version: int | None) -> str | None:
    """The class a reducer's rejection of a bundle with these reducer-profile errors is expected
    to have; None when the table does not say (a case then checks only that it rejects)."""
    for e in REDUCER_ERRORS:
        if any(i in e.invariants for i in reducer_errors):
            return e.name
    return None
