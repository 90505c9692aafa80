"""The ``value`` layer: envelope and event values (integer edges, null against absent,
escapes and lone surrogates, nesting depth, duplicate keys, unknown keys, types).

The tree operations here also serve the ``body`` layer on payload bodies.
"""

from __future__ import annotations

import random
from typing import Any, Callable

from ....model.common import EnvelopeKey as E
from ..jsontext import Pairs, Raw, get, nested, put, walk
from ..view import parsed_lines, set_line
from . import Mutator

I64_MAX, U64_MAX = 2**63 - 1, 2**64 - 1
INT_EDGES: tuple[Any, ...] = (
    0, -1, 1, I64_MAX, I64_MAX + 1, U64_MAX, U64_MAX + 1, -(2**63), -(2**63) - 1, 2**53 + 1,
    Raw("1e400"), Raw("-0"), Raw("1.0"), Raw("1.5"), Raw("1E2"), Raw("-1e-400"), 0.5,
    # not JSON, though Python's json reads them; an integer past Python's 4,300-digit limit
    Raw("NaN"), Raw("Infinity"), Raw("-Infinity"), Raw("9" * 4301),
)
NEST_DEPTHS = (64, 100, 120, 124, 125, 126, 127, 128, 129, 130, 200, 600)
UNKNOWN_KEYS = ("extra", "x_unknown", "_", "", "Type", "payload", "kind", "schema_version", "id")


def _leaves(tree: Any) -> list[tuple]:
    return [p for p, v in walk(tree) if p and not isinstance(v, (dict, list))]


def _objects(tree: Any) -> list[tuple]:
    return [p for p, v in walk(tree) if isinstance(v, dict) and not isinstance(v, Pairs)]


def _keys(tree: Any) -> list[tuple]:
    return [p for p, _ in walk(tree) if p and isinstance(p[-1], str)]


def int_edge(tree: Any, rng: random.Random) -> Any:
    leaves = _leaves(tree)
    ints = [p for p in leaves if type(get(tree, p)) is int]
    pool = ints if ints and rng.random() < 0.8 else leaves
    return put(tree, rng.choice(pool), rng.choice(INT_EDGES)) if pool else None


def null_absent(tree: Any, rng: random.Random) -> Any:
    keys = _keys(tree)
    if not keys:
        return None
    p = rng.choice(keys)
    if get(tree, p) is not None and rng.random() < 0.5:
        return put(tree, p, None)
    del get(tree, p[:-1])[p[-1]]
    return tree


def _escaped(s: str) -> str:
    return '"' + "".join(f"\\u{ord(c):04x}" if ord(c) < 0x10000 else c for c in s) + '"'


def string_escape(tree: Any, rng: random.Random) -> Any:
    strings = [p for p in _leaves(tree) if isinstance(get(tree, p), str)]
    if not strings:
        return None
    p = rng.choice(strings)
    s = get(tree, p)
    choice = rng.randrange(8)
    new: Any
    if choice == 0:
        new = Raw(_escaped(s))  # the same string, every character escaped
    elif choice == 1:
        new = s + "\ud800"  # a lone high surrogate
    elif choice == 2:
        new = "\udc00" + s  # a lone low surrogate
    elif choice == 3:
        new = s + "\x00"
    elif choice == 4:
        new = Raw('"' + s.replace("/", "\\/").replace('"', '\\"') + '\\ud83d\\ude00"') if "\\" not in s else s + "\U0001f600"
    elif choice == 5:
        new = Raw('"' + "\\x41" + '"')  # not a JSON escape
    elif choice == 6:
        new = s + "\u2028\ufeff"
    else:
        new = Raw('"' + "\\uD800\\u0041" + '"')  # a high surrogate followed by no low one
    return put(tree, p, new)


def nesting(tree: Any, rng: random.Random) -> Any:
    objects = _objects(tree)
    if not objects:
        return None
    depth = rng.choice(NEST_DEPTHS)
    if rng.random() < 0.8:
        get(tree, rng.choice(objects))[rng.choice(("x_deep", "extra"))] = nested(depth)
        return tree
    leaves = _leaves(tree)
    return put(tree, rng.choice(leaves), nested(depth)) if leaves else None


def duplicate_key(tree: Any, rng: random.Random) -> Any:
    objects = [p for p in _objects(tree) if get(tree, p)]
    if not objects:
        return None
    p = rng.choice(objects)
    obj = get(tree, p)
    items = list(obj.items())
    k, v = rng.choice(items)
    other: Any = v if rng.random() < 0.4 else rng.choice((None, 0, "x", [], {}, I64_MAX + 1))
    pairs = Pairs(items + [(k, other)] if rng.random() < 0.5 else [(k, other)] + items)
    return put(tree, p, pairs)


def unknown_key(tree: Any, rng: random.Random) -> Any:
    objects = _objects(tree)
    if not objects:
        return None
    obj = get(tree, rng.choice(objects))
    key = rng.choice(UNKNOWN_KEYS)
    if key in obj:
        key = "x_" + key
    obj[key] = rng.choice((None, 1, "v", [1], {"a": {"b": 1}}, I64_MAX + 1, Raw("1e400"), "\ud800"))
    return tree


def type_swap(tree: Any, rng: random.Random) -> Any:
    paths = [p for p, _ in walk(tree) if p]
    if not paths:
        return None
    p = rng.choice(paths)
    old = get(tree, p)
    options = [x for x in (None, True, 0, 1.5, "", "0", [], {}, [old], {"value": old}) if type(x) is not type(old)]
    return put(tree, p, rng.choice(options))


TREE_OPS: dict[str, Callable[[Any, random.Random], Any]] = {
    "int_edge": int_edge,
    "null_absent": null_absent,
    "string_escape": string_escape,
    "nesting": nesting,
    "duplicate_key": duplicate_key,
    "unknown_key": unknown_key,
    "type_swap": type_swap,
}


def _on_event(op: Callable[[Any, random.Random], Any], where: str):
    """A mutator applying ``op`` to one event: its envelope (``where="envelope"``: the event
    object without ``payload``) or its ``payload`` object."""

    def apply(bundle, rng: random.Random) -> bool:
        events = parsed_lines(bundle)
        candidates = [i for i, e in enumerate(events) if isinstance(e, dict) and isinstance(e.get(E.PAYLOAD), dict)]
        if not candidates:
            return False
        i = rng.choice(candidates)
        event = events[i]
        if where == "payload":
            new = op(event[E.PAYLOAD], rng)
            if new is None:
                return False
            event[E.PAYLOAD] = new
        else:
            payload = event.pop(E.PAYLOAD)
            new = op(event, rng)
            if new is None or not isinstance(new, (dict, Pairs)):
                return False
            if isinstance(new, Pairs):
                new.append(("payload", payload))
            else:
                new[E.PAYLOAD] = payload
            event = new
        set_line(bundle, i, event)
        return True

    return apply


def as_sequence(tree: Any, rng: random.Random) -> Any:
    """One object of ``tree`` (maybe the root) as serde's sequence form: the array of its values in their
    order (a tagged union's tag is its first key), maybe one value short or one null long."""
    paths = _objects(tree)
    if not paths:
        return None
    p = rng.choice(paths)
    values = list(get(tree, p).values())
    shape = rng.randrange(6)
    if shape == 4:
        values = values[:-1]
    elif shape == 5:
        values.append(None)
    return put(tree, p, values)


def sequence_form(bundle, rng: random.Random) -> bool:
    """One object of an event (the whole line, its payload or an object inside) in sequence form (as_sequence)."""
    events = parsed_lines(bundle)
    candidates = [i for i, e in enumerate(events) if isinstance(e, dict)]
    if not candidates:
        return False
    i = rng.choice(candidates)
    set_line(bundle, i, as_sequence(events[i], rng))
    return True


MUTATORS = [
    *(Mutator(f"value.{where}.{name}", "value", _on_event(op, where))
      for where in ("envelope", "payload")
      for name, op in TREE_OPS.items()),
    Mutator("value.sequence_form", "value", sequence_form),
]
