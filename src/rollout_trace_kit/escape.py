"""Escape untrusted text for every report format the kit writes.

Bundle contents, file names and a reducer's stderr are attacker-controlled: printed raw
they can move the cursor, recolour a terminal, hide text with bidi overrides, start a
GitHub workflow command (``::add-mask::``) on a line of their own, or make XML that
does not parse. :func:`display` turns such characters into visible escapes; the
format helpers below apply it before their own quoting. Names that are not UTF-8 reach
Python as lone surrogates (``os.fsdecode``); they are shown as ``\\xNN`` of the raw byte,
so a report never fails with ``UnicodeEncodeError`` either.

GitHub's runner reads two forms of workflow commands in a job's log: ``::name::`` at the
start of a line (after the leading whitespace it trims, so indenting is no escape) and the
legacy ``##[name]`` anywhere in a line. :func:`display` is the one rule: its result holds
no line break, and neither form (``##[`` is shown as ``##\\x5b``, a ``::`` at the start or
after whitespace as ``\\x3a:``); every format and command goes through it.
"""

from __future__ import annotations

import os
import re
import unicodedata
from typing import Any

_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
# Unicode "format" and separator characters that reorder or break lines on display.
_UNSAFE_CATEGORIES = {"Cc", "Cf", "Cs", "Zl", "Zp", "Co", "Cn"}
_COMMAND_START = re.compile(r"(?:^|(?<=\s))::")


def _escape_char(ch: str, keep_tab: bool) -> str:
    if ch == "\t" and keep_tab:
        return ch
    if ch in _NAMED:
        return _NAMED[ch]
    code = ord(ch)
    if 0xDC80 <= code <= 0xDCFF:  # surrogateescape: one raw byte of a non-UTF-8 name
        return f"\\x{code - 0xDC00:02x}"
    if code < 0x100:
        return f"\\x{code:02x}"
    if code < 0x10000:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def _unsafe(ch: str) -> bool:
    if " " <= ch <= "~":  # the common case, checked without a table lookup
        return False
    return unicodedata.category(ch) in _UNSAFE_CATEGORIES


def display(text: Any, keep_tab: bool = True) -> str:
    """``text`` as one printable line: control, format, separator, unassigned and surrogate
    characters become ``\\n``, ``\\xNN``, ``\\uNNNN`` escapes. Other text is unchanged."""
    if not isinstance(text, str):
        text = os.fsdecode(text) if isinstance(text, (bytes, os.PathLike)) else str(text)
    if not (text.isascii() and text.isprintable()):
        text = "".join(_escape_char(ch, keep_tab) if _unsafe(ch) else ch for ch in text)
    return _no_workflow_command(text)


def _no_workflow_command(text: str) -> str:
    """``text`` (one line already) with neither form of GitHub workflow command in it."""
    if "##[" in text:
        text = text.replace("##[", "##\\x5b")
    if "::" in text:
        # at the start, and after any whitespace: indentation and word wrapping put text
        # there at a line start (the runner trims Unicode whitespace, as str.isspace does)
        text = _COMMAND_START.sub(r"\\x3a:", text)
    return text


def is_workflow_command(line: str) -> bool:
    """Whether GitHub's runner would take ``line`` (one line of a log) as a workflow command."""
    return line.strip().startswith("::") or "##[" in line


def path(p: "os.PathLike[str] | str | bytes") -> str:
    """A file name for display (non-UTF-8 bytes as ``\\xNN``)."""
    return display(os.fsdecode(p))


def tree(obj: Any) -> Any:
    """Every string in a JSON-like document (keys too) passed through :func:`display`."""
    if isinstance(obj, str):
        return display(obj)
    if isinstance(obj, dict):
        return {tree(k) if isinstance(k, str) else k: tree(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [tree(v) for v in obj]
    return obj


def github_message(text: Any) -> str:
    """The message of a GitHub workflow command (``::error ...::MESSAGE``), on one line."""
    return display(text).replace("%", "%25")


def github_property(text: Any) -> str:
    """A property value of a GitHub workflow command (``file=``, ``title=``)."""
    return github_message(text).replace(":", "%3A").replace(",", "%2C")


def xml_text(text: Any) -> str:
    """Character data for XML 1.0 (which cannot hold most control characters even escaped)."""
    from xml.sax.saxutils import escape  # imported when used: it pulls in urllib.request (60 ms at start)

    return escape(display(text))


def xml_attr(text: Any) -> str:
    """A quoted XML attribute value."""
    from xml.sax.saxutils import quoteattr

    return quoteattr(display(text))


def rich_markup(text: Any) -> str:
    """Text for a Rich markup string: escaped, and its ``[`` not taken for markup."""
    from rich.markup import escape as rich_escape

    return rich_escape(display(text))
