"""A reused call's content as the reducers compare it: a summary of its compact JSON
(model/bodies.py: ItemType.summary_bytes, call_content_json, SUMMARY_CUT_PANICS_UNTIL).

serde_json's ``to_string`` writes no whitespace, object keys in their order, strings in UTF-8
with only ``"``, ``\\`` and control characters escaped (``\\n``... or ``\\u001f``, lower-case hex:
what Python's ``json.dumps(..., ensure_ascii=False)`` writes too), and a number as its text
(arbitrary precision: its digits as they are, the exponent as ``e+``/``e-``, ``-0`` as ``0``), or, in the
releases whose serde_json has no arbitrary precision (those that refuse a number beyond f64 in a
body: ``reducer.number_range``), as the u64, i64 or f64 it reads: an f64 in ryu's layout, its exponent signed
(``1.0``, ``1e+16``, ``-0.0``), a literal beyond f64 unparsed. Only the first bytes count, so the
writer stops past the cut: a summary costs about its length, whatever the content holds.
"""

from __future__ import annotations

import json
import math
from typing import Iterator

from ...compilers.canonical import ryu_float
from ...model.types import JSON_INTEGERS
from ..lines import SERDE_RECURSION_LIMIT, has_lone_surrogate, nesting, reject_constant, serde_f64

ABSENT = ("absent",)  # a compared key the item does not hold (not null)


class Number(str):
    """A JSON number parsed from a text, kept as serde_json's arbitrary precision keeps it."""

    __slots__ = ()


def number(text: str) -> Number:
    """A number literal as serde_json's arbitrary precision writes it: its digits as they are, the exponent's
    ``e`` lower-case and signed (``1E2`` and ``1e+2`` as ``1e+2``; ``1e02`` stays apart), ``-0`` as ``0``."""
    mantissa, e, exponent = text.replace("E", "e").partition("e")
    if e and exponent[:1] not in "+-":
        exponent = "+" + exponent
    return Number("0" if text == "-0" else mantissa + e + exponent)


_I64_MIN, _U64_MAX = JSON_INTEGERS  # what serde_json keeps as an integer without arbitrary precision


def ryu(f: float) -> str:
    """An f64 as serde_json writes it: ryu's format64 (``1.0``, ``1000000000000000.0``, ``0.00001``), its
    exponent signed (``1e+16``, ``1.5e-7``); a non-finite one as null."""
    return ryu_float(f, signed_exponent=True) if math.isfinite(f) else "null"


def number_f64(text: str) -> Number:
    """A JSON number literal as serde_json without arbitrary precision reads and writes it: an integer that
    fits u64 or i64 as itself, any other number as an f64 (``-0`` too); beyond f64 it does not parse."""
    if "." not in text and "e" not in text and "E" not in text and len(text) <= 21:
        value = int(text)
        if 0 <= value <= _U64_MAX and text[0] != "-" or _I64_MIN <= value < 0:
            return Number(str(value))
    f = serde_f64(text)
    if math.isinf(f):
        raise ValueError("number out of range")
    return Number(ryu(f))


_UNPARSED = object()


def parsed_json_text(text: str, f64: bool = False) -> tuple[object, bool]:
    """(``text`` parsed as serde_json parses it, or _UNPARSED where it refuses it; whether it holds a
    :class:`Number`, a number json.dumps would not write as serde_json does: a fraction or an exponent, every
    number where ``f64``: no arbitrary precision). An integer is a Python int (json.dumps writes its digits)."""
    if text.count("[") + text.count("{") >= SERDE_RECURSION_LIMIT and nesting(text)[0] >= SERDE_RECURSION_LIMIT:
        return _UNPARSED, False  # 127 levels parse, 128 do not
    numbers: list = []

    def read(literal: str) -> Number:
        numbers.append(None)
        return number_f64(literal) if f64 else number(literal)

    try:  # a repeated key keeps its first place and its last value, as serde_json's map does
        parsed = json.loads(text, parse_float=read, parse_int=read if f64 else None, parse_constant=reject_constant)
    except RecursionError:
        return _UNPARSED, False
    except ValueError:
        try:  # an integer of more than 4,300 digits (Python's limit): serde_json reads it
            parsed = json.loads(text, parse_float=read, parse_int=read, parse_constant=reject_constant)
        except (ValueError, RecursionError):
            return _UNPARSED, False
    if "\\u" in text and has_lone_surrogate(parsed):
        return _UNPARSED, False  # serde_json refuses a lone surrogate escape
    return parsed, bool(numbers)


def _string(text: str, limit: int) -> str:
    if len(text) > limit:  # more characters than the summary's bytes: the rest is past the cut
        return json.dumps(text[:limit], ensure_ascii=False)[:-1]
    return json.dumps(text, ensure_ascii=False)


def _pieces(value, limit: int, f64: bool) -> Iterator[str]:
    """serde_json's compact text of ``value`` in pieces (a string longer than ``limit`` characters cut;
    ``f64``: a body's numbers as serde_json without arbitrary precision writes them)."""
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
            yield from _pieces(v, limit, f64)
        yield "}"
    elif t is list:
        yield "["
        for i, v in enumerate(value):
            if i:
                yield ","
            yield from _pieces(v, limit, f64)
        yield "]"
    elif value is True:
        yield "true"
    elif value is False:
        yield "false"
    elif value is None:
        yield "null"
    elif isinstance(value, float):  # a body's float, by its shortest spelling
        yield ryu(float(value)) if f64 else number(repr(float(value)))
    elif isinstance(value, int):
        yield str(int(value)) if not f64 or _I64_MIN <= value <= _U64_MAX else ryu(serde_f64(str(int(value))))
    elif isinstance(value, str):
        yield _string(str(value), limit)
    elif isinstance(value, (list, tuple)):
        yield from _pieces(list(value), limit, f64)
    else:
        yield from _pieces(dict(value), limit, f64)


def summary(value, limit: int, f64: bool = False, numbers: bool = False) -> tuple[str, bool]:
    """(``value``'s summary, whether its cut falls inside a UTF-8 character): its compact JSON, or when
    longer than ``limit`` bytes its first ``limit`` bytes (less the character the cut splits) and the mark.
    Without ``f64`` and :class:`Number` s (``numbers``: a parsed text's), json.dumps writes what serde_json
    writes: a body's float as repr spells it (the exponent signed, as serde_json's arbitrary precision
    writes it)."""
    if not f64 and not numbers:
        text = _compact(value)
        if len(text) <= limit and (text.isascii() or len(text.encode("utf-8", "surrogatepass")) <= limit):
            return text, False
        return _cut(text.encode("utf-8", "surrogatepass"), limit)
    out, size = [], 0
    for piece in _pieces(value, limit, f64):
        out.append(piece)
        size += len(piece) if piece.isascii() else len(piece.encode("utf-8", "surrogatepass"))
        if size > limit:
            break
    else:
        return "".join(out), False
    return _cut("".join(out).encode("utf-8", "surrogatepass"), limit)


_compact = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def _cut(data: bytes, limit: int) -> tuple[str, bool]:
    from ...model.bodies import SUMMARY_MARK

    if len(data) <= limit:
        return data.decode("utf-8", "surrogatepass"), False
    cut = limit
    while cut and data[cut] & 0xC0 == 0x80:  # a UTF-8 continuation byte: the cut splits a character
        cut -= 1
    return data[:cut].decode("utf-8", "surrogatepass") + SUMMARY_MARK, cut != limit


def json_text_summary(item: dict, key: str, limit: int, f64: bool = False) -> tuple[tuple, bool]:
    """(``item[key]`` as the reducers compare a reused call's JSON text, whether its cut splits a character):
    a string that parses by the summary of the JSON it holds, any other value by its own, a string that
    does not parse by its whole text (model/bodies.py: ItemType.call_content_json, summary_bytes)."""
    if key not in item:
        return ABSENT, False
    value = item[key]
    if not isinstance(value, str):
        text, split = summary(value, limit, f64)
        return ("json", text), split
    # Every request resends its thread's calls: a text seen before is not parsed again.
    known = _SEEN.get((value, limit, f64))
    if known is not None:
        return known
    parsed, numbers = parsed_json_text(value, f64)
    if parsed is _UNPARSED:
        out: tuple[tuple, bool] = (("raw", value), False)
    else:
        text, split = summary(parsed, limit, f64, numbers)
        out = (("json", text), split)
    global _SEEN_CHARS
    if len(value) <= _SEEN_TEXT_MAX:
        if _SEEN_CHARS > _SEEN_CHARS_MAX:
            _SEEN.clear()
            _SEEN_CHARS = 0
        _SEEN[(value, limit, f64)] = out
        _SEEN_CHARS += len(value) + limit
    return out


# Summaries of recent texts (bounded: texts up to _SEEN_TEXT_MAX characters, _SEEN_CHARS_MAX in all).
_SEEN: dict[tuple[str, int, bool], tuple[tuple, bool]] = {}
_SEEN_CHARS = 0
_SEEN_TEXT_MAX = 4096
_SEEN_CHARS_MAX = 4 * 1024 * 1024
