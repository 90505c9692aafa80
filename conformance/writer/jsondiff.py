"""Comparing what the writer was asked to write with what it wrote (parsed JSON)."""

from __future__ import annotations

import orjson

from .text import from_bytes, printable


def _same_leaf(a, b) -> bool | None:
    """Equal, unequal, or None when both are containers of one kind (to be compared by items)."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return a == b
    if isinstance(a, dict) and isinstance(b, dict):
        return None if a.keys() == b.keys() else False
    if isinstance(a, list) and isinstance(b, list):
        return None if len(a) == len(b) else False
    return type(a) is type(b) and a == b


def json_equal(a, b) -> bool:
    """Equality of parsed JSON: booleans are not numbers, numbers compare by value, key order ignored.

    Iterative: a writer's JSON may nest deeper than Python's recursion limit.
    """
    stack = [(a, b)]
    while stack:
        x, y = stack.pop()
        same = _same_leaf(x, y)
        if same is False:
            return False
        if same is None:
            stack.extend((x[k], y[k]) for k in x) if isinstance(x, dict) else stack.extend(zip(x, y))
    return True


def first_difference(a, b, path: str = "") -> str:
    """A JSON pointer and short description of where ``a`` and ``b`` first differ."""
    while True:
        step = None
        if isinstance(a, dict) and isinstance(b, dict):
            for k in list(a) + [k for k in b if k not in a]:
                if k not in a:
                    return f"{path}/{short_key(k)}: unexpected key"
                if k not in b:
                    return f"{path}/{short_key(k)}: missing"
                if not json_equal(a[k], b[k]):
                    step = (a[k], b[k], f"{path}/{short_key(k)}")
                    break
        elif isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
            for i, (x, y) in enumerate(zip(a, b)):
                if not json_equal(x, y):
                    step = (x, y, f"{path}/{i}")
                    break
        if step is None or len(path) > 2000:
            return f"{path or '/'}: expected {short(a)}, found {short(b)}"
        a, b, path = step


def short_key(k: str) -> str:
    """An object key as a pointer step: escaped, and cut if long (keys are writer-controlled)."""
    k = printable(k)
    return k if len(k) <= 40 else k[:37] + "..."


def short(v) -> str:
    """At most 80 characters of a JSON value or raw bytes, safe to print."""
    if isinstance(v, (bytes, bytearray)):
        text = from_bytes(bytes(v[:120]))
    else:
        from .wide import dumps as wide_dumps  # 1e400 as 1e400, not orjson's null

        try:
            text = printable(wide_dumps(v).decode())
        except (TypeError, orjson.JSONEncodeError, RecursionError):  # nested deeper than orjson writes
            text = f"(a {type(v).__name__} nested too deep to show)"
    return text if len(text) <= 80 else text[:77] + "..."
