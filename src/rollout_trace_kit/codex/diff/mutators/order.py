"""The ``order`` layer: event order (swaps, moves, duplicates, drops, ``seq`` values) and
identity (a thread, turn, call or agent id replaced by another of the bundle, or a fresh one)."""

from __future__ import annotations

import random
import re
from typing import Any

from ....model.common import EnvelopeKey as E
from ..jsontext import put, walk
from ..view import parsed_lines, set_line
from . import Mutator
from .values import I64_MAX

ID_KEYS = ("thread_id", "codex_turn_id", "call_id", "tool_call_id", "inference_call_id", "child_thread_id",
           "parent_thread_id", "item_id", "cell_id", "compaction_id", "operation_id", "process_id", "root_thread_id")


_SEQ = re.compile(rb'"seq":-?[0-9][0-9.eE+-]*')


def renumber(bundle) -> None:
    """``seq`` 1, 2, 3, ... in line order: the first ``"seq":N`` of each line is rewritten in
    place (the rest of the line keeps its bytes, however deep or odd)."""
    for i, line in enumerate(bundle.lines):
        bundle.lines[i] = _SEQ.sub(b'"seq":%d' % (i + 1), line, count=1)



def swap(bundle, rng: random.Random) -> bool:
    n = len(bundle.lines)
    if n < 2:
        return False
    i = rng.randrange(n - 1)
    j = i + 1 if rng.random() < 0.6 else rng.randrange(n)
    if i == j:
        return False
    bundle.lines[i], bundle.lines[j] = bundle.lines[j], bundle.lines[i]
    if rng.random() < 0.7:
        renumber(bundle)
    return True


def move(bundle, rng: random.Random) -> bool:
    n = len(bundle.lines)
    if n < 3:
        return False
    line = bundle.lines.pop(rng.randrange(n))
    bundle.lines.insert(rng.randrange(n), line)
    renumber(bundle)
    return True


def duplicate(bundle, rng: random.Random) -> bool:
    if not bundle.lines:
        return False
    i = rng.randrange(len(bundle.lines))
    bundle.lines.insert(i + 1, bundle.lines[i])
    if rng.random() < 0.7:
        renumber(bundle)
    return True


def drop(bundle, rng: random.Random) -> bool:
    if len(bundle.lines) < 2:
        return False
    del bundle.lines[rng.randrange(len(bundle.lines))]
    if rng.random() < 0.8:
        renumber(bundle)
    return True


def seq(bundle, rng: random.Random) -> bool:
    events = parsed_lines(bundle)
    idx = [i for i, e in enumerate(events) if isinstance(e, dict) and isinstance(e.get(E.SEQ), int)]
    if not idx:
        return False
    i = rng.choice(idx)
    s = events[i][E.SEQ]
    events[i][E.SEQ] = rng.choice((s - 1, s + 1, 0, s + 1000, I64_MAX, 2**64 - 1, -s))
    set_line(bundle, i, events[i])
    return True


def identity(bundle, rng: random.Random) -> bool:
    """One occurrence of an id (thread, turn, call, ...) in an event: another value the bundle
    uses under that key, or a fresh id."""
    events = parsed_lines(bundle)
    sites: list[tuple[int, tuple, Any]] = []
    for i, e in enumerate(events):
        if e is None:
            continue
        for p, v in walk(e):
            if p and p[-1] in ID_KEYS and isinstance(v, str):
                sites.append((i, p, v))
    if not sites:
        return False
    i, p, v = rng.choice(sites)
    same = sorted({x for _, q, x in sites if q[-1] == p[-1]} - {v})
    others = sorted({x for _, _, x in sites} - {v})
    r = rng.random()
    new = rng.choice(same) if same and r < 0.5 else rng.choice(others) if others and r < 0.75 else v[:-1] + ("0" if v[-1:] != "0" else "1")
    set_line(bundle, i, put(events[i], p, new))
    return True


def null_identity(bundle, rng: random.Random) -> bool:
    """An envelope's ``thread_id`` or ``codex_turn_id`` set to null, or a null one filled."""
    events = parsed_lines(bundle)
    idx = [i for i, e in enumerate(events) if isinstance(e, dict) and ("thread_id" in e or "codex_turn_id" in e)]
    if not idx:
        return False
    i = rng.choice(idx)
    key = rng.choice(("thread_id", "codex_turn_id"))
    e = events[i]
    if e.get(key) is None:
        fill = [x.get(key) for x in events if isinstance(x, dict) and isinstance(x.get(key), str)]
        if not fill:
            return False
        e[key] = rng.choice(fill)
    else:
        e[key] = None
    set_line(bundle, i, e)
    return True


MUTATORS = [
    Mutator("order.swap", "order", swap, weight=2),
    Mutator("order.move", "order", move),
    Mutator("order.duplicate", "order", duplicate),
    Mutator("order.drop", "order", drop),
    Mutator("order.seq", "order", seq),
    Mutator("order.identity", "order", identity, weight=2),
    Mutator("order.null_identity", "order", null_identity),
]

