"""JSON the harness replays that orjson cannot write: numbers beyond f64, lone surrogates.

A bundle's payload may hold ``1e400`` or an integer of thousands of digits (Codex 0.143.0 on
reads them, RELEASE.NUMBER_RANGE) or a lone UTF-16 surrogate; ``validate`` checks such bundles.
The replay reads every body and line as the validator reads a payload body
(:func:`~rollout_trace_kit.validate.rules.refs.loads_by_size`, one parser): a number beyond f64
becomes an infinity, or the validator's stand-in integer for one past Python's digit limit. orjson
writes an infinity as ``null`` and refuses an integer beyond 64 bits and a lone surrogate, so a
request holding one is written with each as a JSON literal: an infinity as ``1e400``, an integer
as its digits, a string with ``\\u`` escapes.
"""

from __future__ import annotations

import json
import math

import orjson

from ...model.types import JSON_INTEGERS, json_scalars
from ...validate.lines import LoneSurrogate, OverflowingNumber, has_lone_surrogate
from ...validate.rules.refs import loads_by_size

_BEYOND = {math.inf: b"1e400", -math.inf: b"-1e400"}


def loads(data: bytes | bytearray):
    """``data`` parsed as the validator parses a payload body; raises ValueError (or msgspec's
    DecodeError, a ValueError too) for what is not JSON, TooDeepToBuild for what nests too deep."""
    try:
        return loads_by_size(data)
    except (OverflowingNumber, LoneSurrogate) as e:  # read, as the reducers of some releases read it
        return e.value


def unwritable(value) -> bool:
    """Whether orjson cannot write ``value`` as it is: an infinity, an integer beyond 64 bits, a lone surrogate."""
    lo, hi = JSON_INTEGERS
    for v in json_scalars(value):
        t = type(v)
        if (t is float and v in _BEYOND) or (t is int and not lo <= v <= hi):
            return True
    return has_lone_surrogate(value)


def _literals(value):
    """``value`` with each scalar orjson cannot write replaced by its JSON text (orjson.Fragment)."""
    lo, hi = JSON_INTEGERS
    if isinstance(value, dict):
        return {k: _literals(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_literals(v) for v in value]
    t = type(value)
    if t is float and value in _BEYOND:
        return orjson.Fragment(_BEYOND[value])
    if t is int and not lo <= value <= hi:
        return orjson.Fragment(int.__repr__(value).encode())  # the stand-in has 401 digits: within Python's limit
    if t is str and has_lone_surrogate(value):
        return orjson.Fragment(json.dumps(value).encode())  # \\u escapes, as serde_json reads them
    return value


def dumps(value, option: int = 0) -> bytes:
    """``value`` as JSON bytes, numbers beyond f64 and lone surrogates included (see the module)."""
    return orjson.dumps(_literals(value), option=option) if unwritable(value) else orjson.dumps(value, option=option)
