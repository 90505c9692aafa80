"""JSON text the mutators need and no encoder writes: raw tokens (``1e400``, a lone surrogate
escape), duplicate keys, and values past a parser's nesting limit.

A mutated line is parsed with :mod:`json` (which keeps big integers exact), edited as a Python
tree, and written back by :func:`dumps`, which takes :class:`Raw` and :class:`Pairs` nodes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Iterator


@dataclass(frozen=True)
class Raw:
    """JSON text written as is."""

    text: str


class Pairs(list):
    """An object as a list of (key, value) pairs: keys may repeat."""


def loads(data: bytes | str) -> Any:
    return json.loads(data)


class NotFaithful(ValueError):
    """The text holds what a re-encoding would change (duplicate keys, ``1e400``, ``-0``)."""


def _pairs(pairs: list) -> dict:
    d = dict(pairs)
    if len(d) != len(pairs):
        raise NotFaithful("duplicate key")
    return d


def _float(text: str) -> float:
    f = float(text)
    if f in (float("inf"), float("-inf")) or (f == 0 and text.startswith("-")):
        raise NotFaithful(text)
    return f


def loads_faithful(data: bytes | str) -> Any:
    """:func:`loads`, or :class:`NotFaithful` (a ValueError) when :func:`dumps` of the result
    would not mean what the text means."""
    return json.loads(data, object_pairs_hook=_pairs, parse_float=_float)


def dumps(value: Any) -> str:
    if isinstance(value, Raw):
        return value.text
    if isinstance(value, Pairs):
        return "{" + ",".join(f"{_str(k)}:{dumps(v)}" for k, v in value) + "}"
    if isinstance(value, dict):
        return "{" + ",".join(f"{_str(k)}:{dumps(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ",".join(dumps(v) for v in value) + "]"
    if isinstance(value, str):
        return _str(value)
    return json.dumps(value)


def _str(s: str) -> str:
    try:
        s.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate: only an escape can say it
        return json.dumps(s, ensure_ascii=True)
    return json.dumps(s, ensure_ascii=False)


def encode(value: Any) -> bytes:
    return dumps(value).encode("utf-8")


def nested(depth: int, leaf: Any = 0) -> Raw:
    """An array nested ``depth`` levels deep (as text: no recursion in the encoder)."""
    return Raw("[" * depth + dumps(leaf) + "]" * depth)


Path = tuple  # keys and indexes from the root


def walk(value: Any, path: Path = ()) -> Iterator[tuple[Path, Any]]:
    """Every node (containers too) with its path, root first."""
    stack = [(path, value)]
    while stack:
        p, v = stack.pop()
        yield p, v
        if isinstance(v, dict):
            stack.extend((p + (k,), c) for k, c in reversed(list(v.items())))
        elif isinstance(v, list) and not isinstance(v, Pairs):
            stack.extend((p + (i,), c) for i, c in reversed(list(enumerate(v))))


def get(value: Any, path: Path) -> Any:
    for k in path:
        value = value[k]
    return value


def put(value: Any, path: Path, new: Any) -> Any:
    """``value`` with the node at ``path`` replaced (in place below the root; returns the root)."""
    if not path:
        return new
    get(value, path[:-1])[path[-1]] = new
    return value


def delete(value: Any, path: Path) -> None:
    parent = get(value, path[:-1])
    del parent[path[-1]]
