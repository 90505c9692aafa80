"""Writer-controlled text made safe to print.

Messages quote what the writer wrote or said (its stderr, its error messages,
its implementation name, JSON it wrote). Before any of it reaches a terminal,
a CI log or a report file, control characters, line separators and bidi
controls become visible escapes, so a writer cannot move the cursor, start a
``::workflow-command::`` line or forge a finding.

The escaping itself is the project's shared helper (:mod:`rollout_trace_kit.escape`).
"""

from __future__ import annotations

from ... import escape


def printable(text: str) -> str:
    """``text`` on one line, every control or reordering character escaped (tabs too).

    Backslashes are left as they are (messages quote JSON, whose escapes must
    stay readable); lone surrogates (from undecodable bytes) are escaped too.
    The shared helper, :func:`rollout_trace_kit.escape.display`, does the work.
    """
    return escape.display(text, keep_tab=False)


def from_bytes(data: bytes) -> str:
    """Bytes a writer produced, decoded (undecodable bytes as \\xNN) and escaped."""
    return printable(data.decode("utf-8", "backslashreplace"))
