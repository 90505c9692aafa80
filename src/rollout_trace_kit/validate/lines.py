"""Reading ``trace.jsonl``: bounded lines, and a precise parse for the slow path.

Lines are read with ``readline(limit)`` so a gigabyte line costs no more memory
than the limit. The precise parse mirrors serde_json where Python's ``json``
is laxer: duplicate keys, ``NaN``/``Infinity``, lone surrogates and nesting
deeper than serde_json's recursion limit are errors.
"""

from __future__ import annotations

import json
import math
import os
import re
from dataclasses import dataclass
from typing import Any, BinaryIO

import orjson

from ..model.types import json_scalars

SERDE_RECURSION_LIMIT = 128  # serde_json's default nesting limit
# serde buffers the tagged payload (recursion-limited); unknown envelope keys it skips
# without a limit. Measured on 0.164.0 and 0.169.0: 125 arrays inside "payload" pass,
# 126 fail; 10,000 inside an unknown envelope key pass.
PAYLOAD_DEPTH_LIMIT = 126  # the payload object counts as 1
KIT_DEPTH_LIMIT = 500  # deeper than this the kit's own parsers cannot go
DEFAULT_MAX_LINE_BYTES = 64 * 1024 * 1024
HEAD_BYTES = 1024 * 1024  # of a line too long to parse, the part kept to show it is not JSON


@dataclass
class RawLine:
    number: int  # 1-based physical line number
    data: bytes  # without the line terminator
    terminated: bool  # ended with "\n"
    crlf: bool  # ended with "\r\n"
    too_long: bool  # longer than the limit; data holds only its first HEAD_BYTES
    offset: int  # unused by the checks; kept for callers that build RawLine


def read_batches(
    f: BinaryIO, max_line_bytes: int = DEFAULT_MAX_LINE_BYTES, block: int = 1 << 20, size: int | None = None
):
    """Yield ``(first_line_number, [line bytes, ...])`` for runs of complete lines, and
    :class:`RawLine` items for the odd ones (too long, or the partial last line).

    Lines come without their "\n"; a "\r" before it is left for the caller to
    see. Memory stays within a block plus one line of at most ``max_line_bytes``.
    ``size``: read no further than this many bytes (the log's size when the check
    started; a log that grows meanwhile is not chased). Inside a line already too long,
    a hole of a sparse file (a NUL tail, as ``truncate`` leaves) is skipped, not read.
    """
    number = 0  # lines handed out so far
    offset = 0
    pending: list[bytes] = []  # pieces of the current, unfinished line (no "\n" in them)
    pending_len = 0
    head = b""  # first max_line_bytes of a line too long
    skipping = False  # inside a line already too long
    remaining = size
    while True:
        want = block if remaining is None else min(block, remaining)
        chunk = f.read(want) if want > 0 else b""
        if not chunk:
            break
        if remaining is not None:
            remaining -= len(chunk)
        if skipping:
            cut = chunk.find(b"\n")
            if cut < 0:
                offset += len(chunk)
                if chunk.count(0) == len(chunk):
                    jumped = _skip_hole(f, remaining)
                    offset += jumped
                    if remaining is not None:
                        remaining -= jumped
                continue
            number += 1
            yield RawLine(number, head, True, False, True, offset)
            offset += cut + 1
            chunk, head, skipping = chunk[cut + 1 :], b"", False
        if chunk.find(b"\n") < 0:
            pending.append(chunk)
            pending_len += len(chunk)
            if pending_len > max_line_bytes:
                head = b"".join(pending[: HEAD_BYTES // len(pending[0]) + 1])[:HEAD_BYTES]
                pending, pending_len, skipping = [], 0, True
            continue
        data = b"".join(pending) + chunk if pending else chunk
        pending, pending_len = [], 0
        parts = data.split(b"\n")
        tail = parts.pop()
        if len(data) <= max_line_bytes:  # no line of it can be too long: hand it out whole
            if parts:
                yield number + 1, parts
                number += len(parts)
            parts = []
        run: list[bytes] = []
        start = number + 1
        for part in parts:
            if len(part) > max_line_bytes:
                if run:
                    yield start, run
                number += len(run)
                number += 1
                yield RawLine(number, part[:HEAD_BYTES], True, False, True, offset)
                run, start = [], number + 1
            else:
                run.append(part)
        if run:
            yield start, run
            number += len(run)
        if len(tail) > max_line_bytes:
            head, skipping = tail[:HEAD_BYTES], True
        elif tail:
            pending, pending_len = [tail], len(tail)
    if skipping:
        number += 1
        yield RawLine(number, head, False, False, True, offset)
    elif pending:
        number += 1
        yield RawLine(number, b"".join(pending), False, False, False, offset)


def _skip_hole(f: BinaryIO, remaining: int | None) -> int:
    """Seek past the hole (unwritten, all-NUL region) ``f`` is in; return the bytes skipped."""
    seek_data = getattr(os, "SEEK_DATA", None)
    if seek_data is None:
        return 0
    try:
        here = f.tell()
        fd = f.fileno()
        end = os.fstat(fd).st_size
    except (OSError, ValueError, AttributeError):
        return 0
    try:
        there = os.lseek(fd, here, seek_data)
    except OSError:  # ENXIO: nothing but a hole up to the end
        there = end
    limit = end if remaining is None else min(end, here + remaining)
    there = min(max(there, here), limit)
    f.seek(there)
    return there - here


def prefix_problem(head: bytes) -> str | None:
    """Why the first bytes of a line too long to parse already show it is not JSON, or None.

    A syntax error inside ``head`` is final; running out of bytes ("truncated") is not.
    msgspec's Raw target checks the syntax without building any object.
    """
    import msgspec

    stripped = head.lstrip(b" \t\r")
    if not stripped:
        return None
    if stripped[:1] == b"\0":
        run = len(stripped) - len(stripped.lstrip(b"\0"))
        return f"it starts with {'at least ' if run == len(stripped) else ''}{run} NUL bytes"
    try:
        msgspec.json.decode(head, type=msgspec.Raw)
    except msgspec.DecodeError as e:
        if "truncated" in str(e):
            return None
        return str(e)
    return None


class DuplicateKey(ValueError):
    """Repeated keys: ``repeats`` lists (the object they were repeated in, key); the
    parsed value (last one wins) is in ``value``."""

    def __init__(self, repeats: list, value):
        super().__init__(f"duplicate key {repeats[0][1]!r}")
        self.repeats = repeats
        self.value = value


class NestingTooDeep(ValueError):
    """``reducer`` when serde rejects the nesting too (it is inside the payload)."""

    def __init__(self, message: str, reducer: bool):
        super().__init__(message)
        self.reducer = reducer


class _DuplicateWatch:
    """object_pairs_hook that records repeated keys and the object they sit in."""

    def __init__(self):
        self.dups: list[tuple[dict, str]] = []  # (object, repeated key)

    def __call__(self, pairs):
        out: dict[str, Any] = {}
        for k, v in pairs:
            if k in out:
                self.dups.append((out, k))
            out[k] = v
        return out


def reject_constant(name):
    """``json.loads``'s parse_constant: NaN, Infinity and -Infinity are not JSON (serde_json refuses them)."""
    raise ValueError(f"{name} is not valid JSON")


_SURROGATE = re.compile("[\ud800-\udfff]")


def _has_lone_surrogate(text: str) -> bool:
    return _SURROGATE.search(text) is not None


def nesting(text: str) -> tuple[int, int]:
    """(deepest nesting of the line, deepest nesting inside its top-level "payload" value)."""
    depth = best = payload_best = 0
    payload_from = None  # depth at which the payload value opened
    in_str = esc = False
    key_start = -1
    last_key = None
    for i, c in enumerate(text):
        if in_str:
            if esc:
                esc = False
            elif c == "\\":
                esc = True
            elif c == '"':
                in_str = False
                if depth == 1:
                    last_key = text[key_start + 1 : i]
        elif c == '"':
            in_str = True
            key_start = i
        elif c in "[{":
            depth += 1
            best = max(best, depth)
            if depth == 2 and last_key == "payload" and payload_from is None:
                payload_from = depth
            if payload_from is not None:
                payload_best = max(payload_best, depth - payload_from + 1)
        elif c in "]}":
            if payload_from is not None and depth == payload_from:
                payload_from = None
            depth -= 1
        elif c == "," and depth == 1:
            last_key = None
    return best, payload_best


# Python's int() refuses a literal longer than this (its guard against quadratic conversion);
# serde_json skips any number of digits in a value it ignores (measured on 0.169.0: 5,000 digits
# in an unknown envelope key are read) and reads a longer integer as it reads any integer beyond
# f64: where it buffers a value (an event payload, a payload body) 0.125.0 to 0.135.0 refuse it
# ("number out of range"), later releases read it, 4,301, 10,000 and 100,000 digits as 400 (measured
# on every epoch's first reader, tests/test_reducer_verdicts_numbers.py). Such a literal becomes a
# stand-in integer as far beyond f64 (holds_overflow counts it); one in a key of the envelope or
# manifest readers read outside the payload makes the line invalid JSON for them, as before.
_INT_DIGITS = 4300
_WIDE_STAND_IN = 10 ** 400
_HUGE_DIGITS = re.compile(f"[0-9]{{{_INT_DIGITS},}}")
_HUGE_DIGITS_BYTES = re.compile(f"[0-9]{{{_INT_DIGITS},}}".encode())


_WIDE_STAND_IN_NEGATIVE = -_WIDE_STAND_IN


def _serde_int(literal: str):
    if literal == "-0":
        return -0.0
    if len(literal) > _INT_DIGITS:  # the objects themselves, found again by identity (_holds_stand_in)
        return _WIDE_STAND_IN_NEGATIVE if literal[0] == "-" else _WIDE_STAND_IN
    return int(literal)


def serde_syntax_loads(text: str, typed_numbers: bool = False, **options):
    """``text`` parsed if serde_json's syntax takes it, else ValueError: an integer literal of any length
    (past Python's digit limit: the stand-in), NaN and Infinity refused (json.loads takes them). Measured
    on 0.171.0's prepared prompt fragments (tests/test_reducer_verdicts_bodies.py); json.loads also takes a
    lone surrogate escape there, as 0.171.0 does. RecursionError past Python's parser's depth.
    ``typed_numbers``: numbers as serde_json reads them into a typed field: `-0` as the float -0.0, a
    literal its f64 parse refuses as an infinity (_serde_float)."""
    huge = _HUGE_DIGITS.search(text) is not None
    wide = typed_numbers and OVERFLOW_LITERAL.search(text) is not None
    return json.loads(text, parse_int=_serde_int if huge or (typed_numbers and "-0" in text) else None,
                      parse_float=_serde_float if wide else None, parse_constant=reject_constant, **options)


def serde_text(text: str, **options) -> tuple[object, str | None]:
    """(``text`` parsed, None) when serde_json's syntax takes it; (None, why) when not; (None, None) when it
    nests deeper than Python's parser goes and its syntax holds (the reducers take any depth in a tool call's
    arguments and in prompt fragments: 5,000 levels measured on 0.164.0 to 0.171.0)."""
    try:
        return serde_syntax_loads(text, **options), None
    except ValueError as e:
        return None, str(e)
    except RecursionError:
        return None, json_syntax_problem(text)


def serde_syntax_problem(text: str) -> str | None:
    """What :func:`serde_text` says of ``text`` when only its syntax matters: None when serde_json's
    syntax takes it (or it nests deeper than Python's parser goes, its syntax sound), else why. A text
    orjson reads, the standard library reads too (orjson refuses more: a lone surrogate escape, a number
    past f64 or past Python's digit limit), so orjson answers first, in C, and the standard library only
    for what orjson refuses: its message is the one reported. (On a prepared prompt of the corpus,
    the standard library's reading and its scan for long integers were a tenth of the check.) From
    _ORJSON_SYNTAX_MAX characters on, the standard library alone: orjson's peak memory on a large
    document is about half again the standard library's (measured: 243 against 160 MB for 33 MiB)."""
    if len(text) >= _ORJSON_SYNTAX_MAX:
        return serde_text(text)[1]
    try:
        orjson.loads(text)
    except orjson.JSONDecodeError:
        return serde_text(text)[1]
    return None


_ORJSON_SYNTAX_MAX = 1 << 20


def shown_integer(value) -> str:
    """How a message quotes a parsed integer: the digit-limit stand-in as the literal it stands for."""
    if value is _WIDE_STAND_IN or value is _WIDE_STAND_IN_NEGATIVE:
        return f"{'a negative' if value < 0 else 'an'} integer literal of more than {_INT_DIGITS} digits"
    return str(value)


def _holds_stand_in(value) -> bool:
    return any(v is _WIDE_STAND_IN or v is _WIDE_STAND_IN_NEGATIVE for v in json_scalars(value))


def _huge_integer_where_read(obj, known: frozenset[str] | None, skipped: list[str] | None,
                             buffered: frozenset[str]) -> None:
    """A literal past Python's digit limit where readers read it, outside the ``buffered`` keys (whose
    value serde reads as any number beyond f64), is a line they reject (ValueError); in the value of a
    key they skip it is noted in ``skipped`` (when given) and read as they read it."""
    read = [obj[k] for k in obj if k in known and k not in buffered] if known is not None and isinstance(obj, dict) \
        else [obj]
    if _holds_stand_in(read):
        raise ValueError(f"an integer literal of more than {_INT_DIGITS} digits, beyond every integer range "
                         "readers have")
    if skipped is not None and known is not None and isinstance(obj, dict):
        key = next((k for k in obj if k not in known and _holds_stand_in(obj[k])), None)
        if key is not None:
            skipped.append(f"an integer literal of more than {_INT_DIGITS} digits in the value of unknown key "
                           f"{key!r} (readers skip it)")


def strict_loads(text: str, known: frozenset[str] | None = None, skipped: list[str] | None = None,
                 buffered: frozenset[str] = frozenset()):
    """Parse like serde_json would accept, raising ValueError subclasses otherwise.

    ``known``: the top-level keys the reader's type defines (the envelope's, the manifest's).
    serde skips the value of any other key with IgnoredAny, which checks its syntax only
    (measured on 0.164.0, 0.169.0 and 0.171.0): a lone surrogate or any depth there is read.
    Such a value, too deep for the kit's parsers, is checked by a scanner and left out; what
    readers skip but a writer never writes is appended to ``skipped`` (when given) instead
    of raising. ``known`` None: every key counts as known. ``buffered``: known keys whose value
    serde buffers, where an integer past Python's digit limit is read as a number beyond f64.
    """
    if (text.count("[") + text.count("{")) > PAYLOAD_DEPTH_LIMIT:
        total, payload = nesting(text)
        if payload > PAYLOAD_DEPTH_LIMIT:
            raise NestingTooDeep(
                f"payload nests {payload} levels, deeper than serde_json's recursion limit allows ({PAYLOAD_DEPTH_LIMIT})",
                reducer=True,
            )
        if total > KIT_DEPTH_LIMIT:
            text = _leave_out_deep_values(text, known, skipped)
    watch = _DuplicateWatch()
    # serde_json reads the literal `-0` as the float -0.0 ("invalid type: floating point `-0.0`, expected
    # i64", measured on 0.169.0): so does the kit, for the integer-form rules to see it.
    huge = _HUGE_DIGITS.search(text) is not None
    obj = json.loads(text, object_pairs_hook=watch, parse_constant=reject_constant,
                     parse_int=_serde_int if huge or "-0" in text else None,
                     parse_float=_serde_float if OVERFLOW_LITERAL.search(text) is not None else None)
    if huge:
        _huge_integer_where_read(obj, known, skipped, buffered)
    if "\\u" in text and _lone_surrogate_where_read(obj, known, skipped):
        raise ValueError("lone UTF-16 surrogate in a \\u escape")
    if watch.dups:
        raise DuplicateKey(watch.dups, obj)
    return obj


def _lone_surrogate_where_read(obj, known: frozenset[str] | None, skipped: list[str] | None) -> bool:
    """Whether a lone surrogate sits where serde reads it; one in a skipped value is noted."""
    if known is None or not isinstance(obj, dict):
        return _contains_lone_surrogate(obj)
    read = [k for k in obj if k in known or _has_lone_surrogate(k)]
    if _contains_lone_surrogate([obj[k] for k in read]) or any(_has_lone_surrogate(k) for k in read):
        return True
    unknown = [k for k in obj if k not in known]
    if skipped is not None and _contains_lone_surrogate([obj[k] for k in unknown]):
        skipped.append(f"a lone UTF-16 surrogate in the value of unknown key {next(k for k in unknown if _contains_lone_surrogate(obj[k]))!r} (readers skip it)")
    return False


def _leave_out_deep_values(text: str, known: frozenset[str] | None, skipped: list[str] | None) -> str:
    """``text`` with each top-level value nested past the kit's limit checked by a scanner
    and replaced by ``null``; its key is one readers skip, else the line is not judged."""
    spans = top_level_values(text)
    if spans is None:  # not an object (readers want one), or not JSON: too deep to parse anyway
        raise NestingTooDeep(
            f"the line is no JSON object and nests deeper than the kit parses ({KIT_DEPTH_LIMIT})", reducer=True
        )
    out, last = [], 0
    for key, start, end, depth in spans:
        if depth <= KIT_DEPTH_LIMIT:
            continue
        if known is None or key in known:
            raise NestingTooDeep(
                f"key {key!r} nests {depth} levels: the kit cannot parse deeper than {KIT_DEPTH_LIMIT} "
                "and leaves this line unchecked (readers want no array or object that deep there)",
                reducer=True,
            )
        problem = json_syntax_problem(text[start:end])
        if problem is not None:
            raise ValueError(f"the value of key {key!r}: {problem}")
        if skipped is not None:
            skipped.append(f"unknown key {key!r} nests {depth} levels (readers skip it; the kit checked its syntax only)")
        out.append(text[last:start] + "null")
        last = end
    out.append(text[last:])
    return "".join(out)


def top_level_values(text: str) -> list[tuple[str, int, int, int]] | None:
    """(key, start, end, depth) of every value of the top-level object in ``text``, or None
    when ``text`` is not an object; the scan is iterative, so any depth is fine."""
    i = len(text) - len(text.lstrip())
    if text[i : i + 1] != "{":
        return None
    out = []
    depth, in_str, esc = 0, False, False
    key, key_start, value_start, value_depth = None, -1, -1, 0
    for j in range(i, len(text)):
        c = text[j]
        if in_str:
            if esc:
                esc = False
            elif c == "\\":
                esc = True
            elif c == '"':
                in_str = False
                if depth == 1 and value_start < 0 and key is None:
                    key = text[key_start + 1 : j]
            continue
        if c == '"':
            in_str = True
            if depth == 1 and value_start < 0 and key is None:
                key_start = j
            elif depth == 1 and value_start < 0:
                value_start = j
        elif c in "[{":
            depth += 1
            if depth == 2 and value_start < 0:
                value_start = j
            value_depth = max(value_depth, depth - 1)
        elif c in "]}":
            depth -= 1
            if depth == 0:
                if key is not None and value_start >= 0:
                    out.append((_key_text(key), value_start, j, value_depth))
                return out
        elif depth == 1:
            if c == ",":
                if key is not None and value_start >= 0:
                    out.append((_key_text(key), value_start, j, value_depth))
                key, value_start, value_depth = None, -1, 0
            elif c not in " \t\r\n:" and value_start < 0 and key is not None:
                value_start = j
    return None


def _key_text(raw: str) -> str:
    try:
        return json.loads(f'"{raw}"')
    except ValueError:
        return raw


# Possessive repeats (`*+`, `++`): a plain repeat of a group keeps a backtracking entry per repetition, about
# 115 bytes a character of a string (a 20 MB string cost 2.3 GB); these never need to give any back.
_TOKEN = re.compile(
    r'[ \t\r\n]*(?:("(?:[^"\\\x00-\x1f]|\\(?:["\\/bfnrt]|u[0-9a-fA-F]{4}))*+")'
    r"|(-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?)|(true|false|null)|([\[\]{},:]))"
)


# Runs taken in one step: of brackets (a text nested a million levels is two runs, not two million tokens),
# and of an array's further scalars or an object's further members with scalar values (`,1,1,1`).
_OPEN_RUN = re.compile(r"[ \t\r\n]*(\[{2,})")
_CLOSE_RUN = re.compile(r"[ \t\r\n]*(\]{2,})")
_STRING_RE = r'"(?:[^"\\\x00-\x1f]|\\(?:["\\/bfnrt]|u[0-9a-fA-F]{4}))*+"'
_SCALAR_RE = _STRING_RE + r"|-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?(?![0-9.eE+-])|true|false|null"
_ITEMS_RUN = re.compile(r"(?:[ \t\r\n]*,[ \t\r\n]*(?:" + _SCALAR_RE + r"))++")
_MEMBERS_RUN = re.compile(r"(?:[ \t\r\n]*,[ \t\r\n]*" + _STRING_RE + r"[ \t\r\n]*:[ \t\r\n]*(?:" + _SCALAR_RE + r"))++")


def _push(stack: list[list], bracket: str, k: int) -> None:
    if stack and stack[-1][0] == bracket:
        stack[-1][1] += k
    else:
        stack.append([bracket, k])


def _pop(stack: list[list], k: int) -> None:
    top = stack[-1]
    top[1] -= k
    if not top[1]:
        stack.pop()


def json_syntax_problem(text: str) -> str | None:
    """Why ``text`` is not one JSON value (syntax only, as serde's IgnoredAny checks it), or None.
    Iterative: nesting costs a list entry (a run of one bracket, one entry), not a stack frame."""
    stack: list[list] = []  # the open containers, as runs: [bracket, how many]
    want = "value"  # value | key | colon | next (a comma or a close)
    pos, end = 0, len(text.rstrip(" \t\r\n"))
    while pos < end:
        if want == "value":
            run = _OPEN_RUN.match(text, pos)
            if run is not None:
                _push(stack, "[", len(run.group(1)))
                pos = run.end()
                continue
        elif want == "next" and stack:
            run = (_ITEMS_RUN if stack[-1][0] == "[" else _MEMBERS_RUN).match(text, pos)
            if run is not None:  # want stays "next"
                pos = run.end()
                continue
            run = _CLOSE_RUN.match(text, pos) if stack[-1][0] == "[" else None
            if run is not None and stack[-1][1] >= len(run.group(1)):
                _pop(stack, len(run.group(1)))
                pos = run.end()
                continue
        m = _TOKEN.match(text, pos)
        if m is None:
            return f"unexpected character at {pos}"
        pos = m.end()
        string, number, literal, punct = m.groups()
        if want == "key":
            if string is not None:
                want = "colon"
                continue
            if punct == "}" and stack and stack[-1][0] == "{" and _just_opened(text, m.start(4)):
                _pop(stack, 1)
                want = "next"
                continue
            return f"expected a key at {m.start()}"
        if want == "colon":
            if punct != ":":
                return f"expected ':' at {m.start()}"
            want = "value"
            continue
        if want == "next":
            if punct == "," and stack:
                want = "key" if stack[-1][0] == "{" else "value"
                continue
            if punct in ("]", "}") and stack and stack[-1][0] == {"]": "[", "}": "{"}[punct]:
                _pop(stack, 1)
                continue
            return f"unexpected {m.group().strip()!r} at {m.start()}"
        # want == "value"
        if string is not None or number is not None or literal is not None:
            want = "next"
        elif punct in ("[", "{"):
            _push(stack, punct, 1)
            want = "key" if punct == "{" else "value"
        elif punct == "]" and stack and stack[-1][0] == "[" and _just_opened(text, m.start(4)):
            _pop(stack, 1)
            want = "next"
        else:
            return f"expected a value at {m.start()}"
        if want == "next" and not stack:
            break
    if stack or want != "next":
        return "the value is cut short"
    if text[pos:].strip(" \t\r\n"):
        return f"trailing characters at {pos}"
    return None


def top_level_members(text: str, keys: frozenset[str] = frozenset(), most: int = 0) -> tuple[str, list, int]:
    """The outermost value of a JSON text whose syntax holds (json_syntax_problem): ("object", [(key, value
    text) of the members named in ``keys``], how many members), ("array", [the first ``most`` + 1 value
    texts], how many it read) or ("scalar", [], 0). Iterative: any depth, runs of brackets and scalars in
    one step; what it keeps is bounded by ``keys`` and ``most``, not by the text."""
    m = _TOKEN.match(text)
    if m is None or m.group(4) not in ("[", "{"):
        return "scalar", [], 0
    kind = "object" if m.group(4) == "{" else "array"
    members: list = []
    count = 0
    depth, pos, key, start = 1, m.end(), None, -1
    while depth:
        if depth > 1:  # inside a member's value: its scalars need no look
            run = (_ITEMS_RUN.match(text, pos) or _MEMBERS_RUN.match(text, pos))
            if run is not None:
                pos = run.end()
                continue
        run = _OPEN_RUN.match(text, pos)
        if run is not None:  # syntax holds: a bracket at the top level opens a member's value
            if depth == 1 and start < 0:
                start = run.start(1)
            depth += len(run.group(1))
            pos = run.end()
            continue
        run = _CLOSE_RUN.match(text, pos) if depth > 1 else None
        if run is not None:  # down to the top level at most: its own closer is a token below
            k = min(len(run.group(1)), depth - 1)
            depth -= k
            pos = run.start(1) + k
            continue
        m = _TOKEN.match(text, pos)
        assert m is not None, "top_level_members wants a text whose syntax holds"
        string, punct = m.group(1), m.group(4)
        first = m.start(m.lastindex or 0)  # the token, past the whitespace before it
        if depth == 1 and punct in (",", "]", "}"):
            if start >= 0:
                count += 1
                if kind == "object" and key in keys:
                    members.append((key, text[start:first].rstrip(" \t\r\n")))
                elif kind == "array":
                    members.append(text[start:first].rstrip(" \t\r\n"))
                    if count > most:
                        break  # more values than wanted: what the caller needs to know
            key, start = None, -1
            if punct != ",":
                break
        elif depth == 1 and punct == ":":
            pass
        elif depth == 1 and kind == "object" and key is None and string is not None:
            key = json.loads(string)
        else:
            if depth == 1 and start < 0:
                start = first
            if punct in ("[", "{"):
                depth += 1
            elif punct in ("]", "}"):
                depth -= 1
        pos = m.end()
    return kind, members, count


def _just_opened(text: str, close: int) -> bool:
    """Whether the bracket at ``close`` follows its opener directly (``[]``, ``{}``, whitespace between);
    it looks back over the whitespace only (a copy of the text before it made ``[[],[],...]`` quadratic)."""
    i = close - 1
    while i >= 0 and text[i] in " \t\r\n":
        i -= 1
    return i >= 0 and text[i] in "[{"


def _contains_lone_surrogate(obj) -> bool:
    stack = [obj]
    while stack:
        o = stack.pop()
        if isinstance(o, str):
            if _has_lone_surrogate(o):
                return True
        elif isinstance(o, dict):
            stack.extend(o.keys())
            stack.extend(o.values())
        elif isinstance(o, list):
            stack.extend(o)
    return False


class TooDeepToBuild(ValueError):
    """A payload body that is valid JSON but nests deeper than the kit's parsers build."""


class LoneSurrogate(ValueError):
    """A payload body whose only fault is a lone UTF-16 surrogate: a reducer that parses the
    kind fails on it, one that checks the syntax only reads it (measured on 0.171.0). The
    parsed body is in ``value``."""

    def __init__(self, value):
        super().__init__("lone UTF-16 surrogate in a \\u escape")
        self.value = value


# The digits of an integer that may lie beyond i64 or u64, or a literal that may lie beyond f64 (three
# exponent digits; 309 digits are 19 too): a body holding one is parsed again by the standard library.
# Factored on its first digit, this scans the corpus's 0.164.0 bodies in a third of `[0-9]{19}`'s time.
_LONG_DIGITS = re.compile(rb"[0-9](?:[0-9]{18}|[eE][+-]?[0-9]{3})")
# The same question for a longer body, in C at memory speed: each byte mapped to its class (a digit
# to 0, e or E to e, + or - to +, any other to a space), then the three shapes the regex matches
# looked for as plain substrings; about 5 times faster than the regex on the corpus's bodies (6.8 KB
# on average: 13.5 against 64 us a body, timeit over the 197 payload files of the 0.164.0 corpus),
# slower on bodies of a few dozen bytes (1.3 against 1.0 us), which keep the regex.
_DIGIT_CLASSES = bytes(
    ord("0") if chr(c).isascii() and chr(c).isdigit() else ord("e") if chr(c) in "eE" else ord("+") if chr(c) in "+-"
    else ord(" ")
    for c in range(256)
)
_LONG_SHAPES = (b"0" * 19, b"0e000", b"0e+000")
_SCAN_BY_CLASSES = 256  # bytes from which a body is scanned by classes


def has_long_digits(data: bytes) -> bool:
    """Whether ``data`` holds a run matching ``_LONG_DIGITS``."""
    if len(data) < _SCAN_BY_CLASSES:
        return _LONG_DIGITS.search(data) is not None
    classes = data.translate(_DIGIT_CLASSES)
    return any(shape in classes for shape in _LONG_SHAPES)


class OverflowingNumber(ValueError):
    """A payload body whose numbers include one beyond f64 (``1e400``): serde_json of 0.125.0 to 0.135.0
    refuses it where it builds a value ("number out of range"), later releases read it (release data:
    ``reducer.number_range``). The parsed body (the number as an infinity) is in ``value``."""

    def __init__(self, value):
        super().__init__("a number beyond f64")
        self.value = value


# A number literal that may lie beyond f64: a three-digit exponent, or more digits than f64 spans.
OVERFLOW_LITERAL = re.compile(r"[0-9](?:[eE]\+?[0-9]{3}|[0-9]{308})")  # factored on the first digit: faster
_OVERFLOW_LITERAL_BYTES = re.compile(OVERFLOW_LITERAL.pattern.encode())
EVENT_PAYLOAD_PLACE = "payload"  # where a number beyond f64 sits, for RELEASE.NUMBER_RANGE: an event's payload


_U64_MAX = 2**64 - 1
_I32_MAX = 2**31 - 1
_NEAR_F64_MAX = 1.7e308  # below this no literal overflows serde_json's f64 (a cheap first test)


def serde_f64_overflows(literal: str) -> bool:
    """Whether serde_json's f64 parse without ``float_roundtrip`` (the releases that refuse a number
    beyond f64: model.releases.NUMBER_IN_*) says "number out of range" for this JSON number literal
    (serde_f64): it refuses some literals Python reads as finite: the f64 maximum itself,
    17976931348623156225 followed by 289 zeros (measured on 0.125.0; 17976931348623156224 then 289
    zeros is read)."""
    return math.isinf(serde_f64(literal))


def serde_f64(literal: str) -> float:
    """A JSON number literal as serde_json's f64 parse without ``float_roundtrip`` reads it (an infinity
    where it says "number out of range"). A port of its parse_integer / parse_long_integer / parse_decimal /
    parse_exponent and f64_from_parts: up to u64's worth of leading digits (later integer digits count in
    the exponent, later fraction digits are dropped) times a power of ten, each rounded to f64; so it can
    differ from Python's correctly rounded ``float`` in the last place."""
    n, i = len(literal), 1 if literal[:1] == "-" else 0
    positive = i == 0
    sig = exp = 0

    def overflows(a: int, d: int) -> bool:  # serde's overflow!(a * 10 + d, u64::MAX)
        return a >= _U64_MAX // 10 and (a > _U64_MAX // 10 or d > _U64_MAX % 10)

    full = False  # parse_long_integer: the u64 significand took all it can
    while i < n and "0" <= literal[i] <= "9":
        d = ord(literal[i]) - 48
        if not full and overflows(sig, d):
            full = True
        if full:
            exp += 1
        else:
            sig = sig * 10 + d
        i += 1
    if i < n and literal[i] == ".":  # parse_decimal: until a digit overflows, then the rest dropped
        i += 1
        dropping = False
        while i < n and "0" <= literal[i] <= "9":
            d = ord(literal[i]) - 48
            if not dropping and overflows(sig, d):
                dropping = True
            if not dropping:
                sig = sig * 10 + d
                exp -= 1
            i += 1
    if i < n and literal[i] in "eE":
        i += 1
        positive_exp = literal[i] != "-"
        i += literal[i] in "+-"
        e = 0
        while i < n:
            d = ord(literal[i]) - 48
            if e >= _I32_MAX // 10 and (e > _I32_MAX // 10 or d > _I32_MAX % 10):  # parse_exponent_overflow
                f = math.inf if sig != 0 and positive_exp else 0.0
                return f if positive else -f
            e = e * 10 + d
            i += 1
        exp = exp + e if positive_exp else exp - e
    f = float(sig)
    while True:  # f64_from_parts
        if abs(exp) <= 308:
            f = f * float(f"1e{abs(exp)}") if exp >= 0 else f / float(f"1e{abs(exp)}")
            break
        if f == 0.0:
            break
        if exp >= 0:
            f = math.inf
            break
        f /= 1e308
        exp += 308
    return f if positive else -f


def _serde_float(literal: str) -> float:
    """A fraction or exponent literal as Python reads it, but an infinity where serde_json refuses it
    (serde_f64_overflows), so holds_overflow sees it as it sees ``1e400``."""
    f = float(literal)
    if _NEAR_F64_MAX <= abs(f) < math.inf and serde_f64_overflows(literal):
        return math.copysign(math.inf, f)
    return f


_INT_NEAR_F64_MAX = 10**308


def holds_overflow(value) -> bool:
    """Whether a parsed JSON value holds a number beyond f64 as serde_json reads it: ``1e400`` (Python's
    json reads it as an infinity, so does _serde_float near f64's maximum) or an integer literal as large
    (the stand-in of one past Python's digit limit included)."""
    for v in json_scalars(value):
        t = type(v)
        if t is float:
            if v in (math.inf, -math.inf):
                return True
        elif t is int and not -_INT_NEAR_F64_MAX < v < _INT_NEAR_F64_MAX:
            if v is _WIDE_STAND_IN or v is _WIDE_STAND_IN_NEGATIVE or serde_f64_overflows(str(v)):
                return True
    return False


def loads_body(data: bytes, long_digits: bool | None = None):
    """A payload body parsed as serde_json reads it: orjson, but a number too large for f64
    is read (``1e400``: serde_json takes it, measured on 0.164.0 and 0.169.0; orjson refuses
    it), and a body deeper than orjson builds is checked by a scanner (TooDeepToBuild). A body
    holding such a number raises OverflowingNumber (its value parsed): older releases refuse it.
    ``long_digits``: ``has_long_digits(data)`` when the caller has it (the decode worker's answer)."""
    try:
        obj = orjson.loads(data)
        # orjson reads an integer beyond 64 bits as a float; a reducer may not (model/bodies.py:
        # AGENT_MESSAGE_TYPED): such a body is read again, its integers exact.
        if not (has_long_digits(data) if long_digits is None else long_digits):
            return obj
        # The scan looks at bytes, not at numbers: base64 text in a string holds `9e123` often (51 of
        # the corpus's 53 bodies it flags). orjson gives every number it cannot read exactly as a float
        # (an integer beyond 64 bits, a three-digit exponent); with no float in the body, it read each
        # number exactly, and the standard library would give the same body.
        if not any(type(v) is float for v in json_scalars(obj)):
            return obj
    except orjson.JSONDecodeError as e:
        why = str(e)
        if why.startswith(_ORJSON_TOO_DEEP):
            problem = json_syntax_problem(data.decode("utf-8", "surrogatepass"))
            if problem is not None:
                raise ValueError(problem) from None
            raise TooDeepToBuild(why) from None
        if "infinity" not in why and "surrogate" not in why:
            raise
    return _loads_exact(data)


def _orjson_too_deep() -> str:
    """What orjson says of a document nested past its limit, up to the position: measured, as its
    wording changed ("Recursion limit reached" before, "depth limit exceeded" in 3.13); with the word
    assumed, a valid body nested past 1,024 levels was reported as not JSON."""
    try:
        orjson.loads(b"[" * 4096 + b"]" * 4096)
    except orjson.JSONDecodeError as e:
        return str(e).partition(":")[0]
    return "\0"  # an orjson that builds 4,096 levels: no message starts so (a test says it stopped at 1,024)


_ORJSON_TOO_DEEP = _orjson_too_deep()


def _loads_exact(data: bytes):
    """``data`` parsed by the standard library, integers exact (one past Python's digit limit a stand-in
    as far beyond f64); raises LoneSurrogate or OverflowingNumber with the value when it holds one."""
    huge = _HUGE_DIGITS_BYTES.search(data) is not None
    near = _OVERFLOW_LITERAL_BYTES.search(data) is not None
    obj = json.loads(data.decode("utf-8"), parse_constant=reject_constant, parse_int=_serde_int if huge else None,
                     parse_float=_serde_float if near else None)
    if _contains_lone_surrogate(obj):
        raise LoneSurrogate(obj)
    if holds_overflow(obj):
        raise OverflowingNumber(obj)
    return obj


def loads_large_body(data: bytes):
    """A payload body of LARGE_BODY bytes or more parsed as :func:`loads_body` parses a small one, by
    msgspec (which holds only what it builds). msgspec refuses a number beyond f64 ("out of range") that
    serde_json reads (1 MiB bodies holding 1e400 or 4,301 digits read by 0.143.0 on) and reads finite one
    that older releases refuse (serde_f64_overflows): a body holding a literal that may be either is
    parsed by the standard library instead, and raises OverflowingNumber as a small one does."""
    import msgspec

    if _OVERFLOW_LITERAL_BYTES.search(data) is not None:  # rare: the standard library sees the literal
        return _loads_exact(data)
    return msgspec.json.decode(data)


# Public for the rules that check parsed bodies (a pair decodes to one character: only a lone one is left).
has_lone_surrogate = _contains_lone_surrogate


def json_depth(value, stop: int) -> int:
    """How deep ``value`` nests (a scalar 0, ``[]`` or ``[1]`` 1), counted up to ``stop`` + 1."""
    best = 0
    stack = [(value, 1)]
    while stack:
        v, depth = stack.pop()
        items = v.values() if isinstance(v, dict) else v if isinstance(v, list) else None
        if items is None:
            continue
        if depth > best:
            best = depth
            if best > stop:
                return best
        stack.extend((x, depth + 1) for x in items if isinstance(x, (dict, list)))
    return best
