"""Shrink a disagreement to a minimal bundle: delta debugging on the event lines, then on the
payload files or shard records, then on JSON values (object members dropped, arrays cut,
strings emptied), keeping only steps after which the same disagreement (direction and class)
remains."""

from __future__ import annotations

from typing import Any, Callable

from ...bundle import Bundle
from ...model.common import ZSTD_SHARDS
from . import jsontext
from .mutators.order import renumber
from .view import records, set_records, shard_paths

Test = Callable[[Bundle], bool]  # True: the candidate still shows the disagreement


class Budget:
    def __init__(self, tests: int):
        self.left = tests

    def spend(self) -> bool:
        self.left -= 1
        return self.left >= 0


def ddmin(items: list, still: Callable[[list], bool], budget: Budget) -> list:
    """Zeller's ddmin: a 1-minimal sublist of ``items`` for which ``still`` holds (within budget)."""
    n = 2
    while len(items) >= 2 and budget.left > 0:
        chunk = max(len(items) // n, 1)
        subsets = [items[i:i + chunk] for i in range(0, len(items), chunk)]
        reduced = False
        for i in range(len(subsets)):
            complement = [x for j, s in enumerate(subsets) if j != i for x in s]
            if budget.spend() and still(complement):
                items, n, reduced = complement, max(n - 1, 2), True
                break
            if budget.left <= 0:
                break
        if not reduced:
            if n >= len(items):
                break
            n = min(n * 2, len(items))
    return items


def shrink(bundle: Bundle, test: Test, keep_seq: bool = False, tests: int = 400) -> Bundle:
    """The smallest bundle found within ``tests`` judgements. ``keep_seq``: do not renumber the
    remaining events (the disagreement is about ``seq`` or order)."""
    budget = Budget(tests)
    best = bundle

    def with_lines(lines: list[bytes]) -> Bundle:
        b = best.copy()
        b.lines = list(lines)
        if not keep_seq:
            renumber(b)
        return b

    def lines_ok(lines: list[bytes]) -> bool:
        return test(with_lines(lines))

    kept = ddmin(list(best.lines), lines_ok, budget)
    if kept != best.lines:
        best = with_lines(kept)

    best = _shrink_payloads(best, test, budget)
    best = _shrink_values(best, test, budget)
    return best


def _shrink_payloads(best: Bundle, test: Test, budget: Budget) -> Bundle:
    shards = shard_paths(best)
    if shards:
        for shard in shards:
            recs = records(best, shard)
            if not recs or len(recs) < 2:
                continue

            def recs_ok(sub: list, shard: str = shard) -> bool:
                b = best.copy()
                set_records(b, shard, sub)
                return test(b)

            kept = ddmin(recs, recs_ok, budget)
            if len(kept) < len(recs):
                b = best.copy()
                set_records(b, shard, kept)
                best = b
        return best
    names = sorted(best.payloads)

    def files_ok(sub: list) -> bool:
        b = best.copy()
        b.payloads = {k: v for k, v in best.payloads.items() if k in sub}
        return test(b)

    kept = ddmin(names, files_ok, budget)
    if len(kept) < len(names):
        b = best.copy()
        b.payloads = {k: v for k, v in best.payloads.items() if k in kept}
        best = b
    return best


def _smaller(value: Any) -> list[tuple[tuple, Any]]:
    """(path, replacement) candidates that make a JSON value smaller, biggest first."""
    out: list[tuple[tuple, Any]] = []
    for path, v in jsontext.walk(value):
        if isinstance(v, dict):
            out.extend((path + (k,), _DROP) for k in v)
        elif isinstance(v, list) and len(v) > 1:
            out.append((path, v[:1]))
        elif isinstance(v, str) and len(v) > 8:
            out.append((path, ""))
    return out


_DROP = object()


MAX_DEPTH = 64  # values nested deeper are left as they are (copying them would recurse too deep)


def _depth(value: Any) -> int:
    deepest = 0
    for path, _ in jsontext.walk(value):
        deepest = max(deepest, len(path))
    return deepest


def _apply(value: Any, path: tuple, new: Any) -> Any:
    import copy

    value = copy.deepcopy(value)
    if new is _DROP:
        jsontext.delete(value, path)
        return value
    return jsontext.put(value, path, new)


def _shrink_values(best: Bundle, test: Test, budget: Budget) -> Bundle:
    """Drop object members, cut arrays and empty long strings, line by line (payload files too)."""
    for i in range(len(best.lines)):
        def put_line(b: Bundle, data: bytes, i: int = i) -> None:
            b.lines[i] = data

        best, spent = _shrink_document(best, best.lines[i], put_line, test, budget)
        if spent:
            return best
    for name in sorted(p for p in best.payloads if not p.endswith(ZSTD_SHARDS.payload_suffix)):
        def put_file(b: Bundle, data: bytes, name: str = name) -> None:
            b.payloads[name] = data

        best, spent = _shrink_document(best, best.payloads[name], put_file, test, budget)
        if spent:
            return best
    return best


def _shrink_document(best: Bundle, data: bytes, put: Callable[[Bundle, bytes], None], test: Test,
                     budget: Budget) -> tuple[Bundle, bool]:
    """Shrink one JSON document of the bundle (an event line or a payload file) that ``put``
    writes back; True with the result once the budget is spent."""
    try:
        value = jsontext.loads_faithful(data)
    except (ValueError, RecursionError):
        return best, False
    if _depth(value) > MAX_DEPTH:
        return best, False
    for path, new in _smaller(value):
        if budget.left <= 0:
            return best, True
        try:
            candidate_value = _apply(value, path, new)
        except (KeyError, IndexError, TypeError):
            continue
        b = best.copy()
        put(b, jsontext.encode(candidate_value))
        if budget.spend() and test(b):
            best, value = b, candidate_value
    return best, False
