"""Writer-controlled text made safe to print.

Messages quote what the writer wrote or said (its stderr, its error messages,
its implementation name, JSON it wrote). Before any of it reaches a terminal,
a CI log or a report file, control characters, line separators and bidi
controls become visible escapes, so a writer cannot move the cursor, start a
``::workflow-command::`` line or forge a finding.

A local helper until the project has one shared escaping helper for every report
format; :func:`printable` is the only function to swap then.
"""

from __future__ import annotations

import re

# C0 and C1 controls, DEL, the Unicode line/paragraph separators and the bidi
# embedding/override/isolate controls (the ones that reorder what a reader sees).
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069\ufeff]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape(m: re.Match) -> str:
    c = m.group(0)
    if c in _NAMED:
        return _NAMED[c]
    n = ord(c)
    return f"\\x{n:02x}" if n < 0x100 else f"\\u{n:04x}"


def printable(text: str) -> str:
    """``text`` on one line, every control or reordering character escaped.

    Backslashes are left as they are (messages quote JSON, whose escapes must
    stay readable); lone surrogates (from undecodable bytes) are escaped too.
    """
    text = _UNSAFE.sub(_escape, text) if _UNSAFE.search(text) else text
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text


def from_bytes(data: bytes) -> str:
    """Bytes a writer produced, decoded (undecodable bytes as \\xNN) and escaped."""
    return printable(data.decode("utf-8", "backslashreplace"))
