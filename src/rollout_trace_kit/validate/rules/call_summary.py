"""A reused call's content as the reducers compare it: a summary of its compact JSON
(model/bodies.py: ItemType.summary_bytes, call_content_json, SUMMARY_CUT_PANICS_UNTIL).

serde_json's ``to_string`` writes no whitespace, object keys in their order, strings in UTF-8
with only ``"``, ``\\`` and control characters escaped (``\\n``... or ``\\u001f``, lower-case hex:
what Python's ``json.dumps(..., ensure_ascii=False)`` writes too), and a number as its text
(arbitrary precision: the exponent's ``E`` and ``+`` normalised, ``-0`` as ``0``). Only the first
bytes count, so the writer stops past the cut: a summary costs about its length, whatever the
content holds.
"""

from __future__ import annotations

import json
from typing import Iterator

from ..lines import SERDE_RECURSION_LIMIT, has_lone_surrogate, nesting, reject_constant

ABSENT = ("absent",)  # a compared key the item does not hold (not null)


class Number(str):
    """A JSON number parsed from a text, kept as serde_json's arbitrary precision keeps it."""

    __slots__ = ()


def number(text: str) -> Number:
    text = text.replace("E", "e").replace("e+", "e")
    return Number("0" if text == "-0" else text)


def _object(pairs) -> dict:
    return dict(pairs)  # a repeated key: its last value, at its first place (as serde_json's map keeps it)


_UNPARSED = object()


def parsed_json_text(text: str):
    """``text`` parsed as serde_json parses it (numbers as :class:`Number`), or _UNPARSED where it refuses it."""
    if text.count("[") + text.count("{") >= SERDE_RECURSION_LIMIT and nesting(text)[0] >= SERDE_RECURSION_LIMIT:
        return _UNPARSED  # 127 levels parse, 128 do not
    try:
        parsed = json.loads(text, parse_float=number, parse_int=number, parse_constant=reject_constant,
                            object_pairs_hook=_object)
    except (ValueError, RecursionError):
        return _UNPARSED
    if "\\u" in text and has_lone_surrogate(parsed):
        return _UNPARSED  # serde_json refuses a lone surrogate escape
    return parsed


def _string(text: str, limit: int) -> str:
    if len(text) > limit:  # more characters than the summary's bytes: the rest is past the cut
        return json.dumps(text[:limit], ensure_ascii=False)[:-1]
    return json.dumps(text, ensure_ascii=False)


def _pieces(value, limit: int) -> Iterator[str]:
    """serde_json's compact text of ``value`` in pieces (a string longer than ``limit`` characters cut)."""
    t = type(value)
    if t is str:
        yield _string(value, limit)
    elif t is Number:
        yield value
    elif t is dict:
        yield "{"
        first = True
        for k, v in value.items():
            yield ("" if first else ",") + _string(k, limit) + ":"
            first = False
            yield from _pieces(v, limit)
        yield "}"
    elif t is list:
        yield "["
        for i, v in enumerate(value):
            if i:
                yield ","
            yield from _pieces(v, limit)
        yield "]"
    elif value is True:
        yield "true"
    elif value is False:
        yield "false"
    elif value is None:
        yield "null"
    elif isinstance(value, float):  # a body's float, by its shortest spelling
        yield number(repr(float(value)))
    elif isinstance(value, int):
        yield str(int(value))
    elif isinstance(value, str):
        yield _string(str(value), limit)
    elif isinstance(value, (list, tuple)):
        yield from _pieces(list(value), limit)
    else:
        yield from _pieces(dict(value), limit)


def summary(value, limit: int) -> tuple[str, bool]:
    """(``value``'s summary, whether its cut falls inside a UTF-8 character): its compact JSON, or when
    longer than ``limit`` bytes its first ``limit`` bytes (less the character the cut splits) and the mark."""
    from ...model.bodies import SUMMARY_MARK

    out, size = [], 0
    for piece in _pieces(value, limit):
        out.append(piece)
        size += len(piece.encode("utf-8", "surrogatepass"))
        if size > limit:
            break
    else:
        return "".join(out), False
    data = "".join(out).encode("utf-8", "surrogatepass")
    cut = limit
    while cut and data[cut] & 0xC0 == 0x80:  # a UTF-8 continuation byte: the cut splits a character
        cut -= 1
    return data[:cut].decode("utf-8", "surrogatepass") + SUMMARY_MARK, cut != limit


def json_text_summary(item: dict, key: str, limit: int) -> tuple[tuple, bool]:
    """(``item[key]`` as the reducers compare a reused call's JSON text, whether its cut splits a character):
    a string that parses by the summary of the JSON it holds, any other value by its own, a string that
    does not parse by its whole text (model/bodies.py: ItemType.call_content_json, summary_bytes)."""
    if key not in item:
        return ABSENT, False
    value = item[key]
    if isinstance(value, str):
        value = parsed_json_text(value)
        if value is _UNPARSED:
            return ("raw", item[key]), False
    text, split = summary(value, limit)
    return ("json", text), split
