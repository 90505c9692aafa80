"""'Did you mean ...?' for names a user typed: subcommands, invariant ids, config keys."""

from __future__ import annotations

import difflib
from collections.abc import Iterable

from . import escape


def did_you_mean(word: str, choices: Iterable[str]) -> str | None:
    choices = list(choices)
    # ids are upper case with dots: compare case-insensitively, answer in the real spelling
    by_key = {c.lower(): c for c in choices}
    close = difflib.get_close_matches(word.lower(), list(by_key), n=1, cutoff=0.6)
    return by_key[close[0]] if close else None


def unknown_message(what: str, words: Iterable[str], choices: Iterable[str]) -> str:
    """``unknown invariant 'REF.ORPAN' (did you mean 'REF.ORPHAN'?)``, for one or more words."""
    choices = list(choices)
    parts = []
    for w in words:
        guess = did_you_mean(w, choices)
        parts.append(f"'{escape.display(w)}'" + (f" (did you mean '{guess}'?)" if guess else ""))
    return f"unknown {what}{'s' if len(parts) > 1 else ''}: {', '.join(parts)}"
