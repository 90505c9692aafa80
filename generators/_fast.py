"""``build_bundle``: big lifecycle-valid bundles, fast, without Hypothesis.

Turns are drawn from a seeded ``random.Random`` and written straight to disk
(or memory) as they happen, so a million-event bundle never sits in memory.
Requests are incremental (``previous_response_id`` plus the new items), so
payload sizes stay flat however long the rollout runs. Bundles of up to 20,000
events keep each thread's conversation in memory and include remote compactions;
bigger ones do not (compaction needs the whole history), so memory stays flat.

The event count is exact. The payload-file count is steered towards
``payload_files`` by mixing rich turns (tool calls: about 0.85 payload files
per event in v1, 0.65 in v2), answer-only turns, turns that end before any
model call (no payload) and protocol events (one payload each); it is exact
whenever the remaining room allows, which it does for any ratio between
about 0.3 and 0.9.
"""

from __future__ import annotations

import random
from dataclasses import replace
from functools import lru_cache
from pathlib import Path
from typing import overload

from ..bundle import Bundle
from ..model import DEFAULT_DIALECT, DIALECTS
from ..model.types import Dialect
from ._plan import PLAN_PERIOD, BundlePlan, Round, TurnPlan, one_feature_turns, random_turn, turn_children, turn_event_bound
from ._scenario import Recorder, Thread
from ._writer import DirectorySink, MemorySink

FILL_ROOM = 30  # events kept for the exact fill at the end
HISTORY_LIMIT = 20_000  # bundles up to this many events keep the conversation (and can compact)


def _closing_events(rec: Recorder) -> int:
    """Events that close the root: protocol event, thread_ended, rollout_ended, and the terminal one."""
    return 3 + rec.completes_recording


# In memory without ``directory`` (a Bundle), written into it with one (its Path).
@overload
def build_bundle(
    dialect: str | Dialect = ..., seed: int = ..., *, events: int = ..., payload_files: int | None = ...,
    text_bytes: int = ..., directory: None = None, mode: str = ..., release: str | None = ...,
) -> Bundle: ...


@overload
def build_bundle(
    dialect: str | Dialect = ..., seed: int = ..., *, events: int = ..., payload_files: int | None = ...,
    text_bytes: int = ..., directory: str | Path, mode: str = ..., release: str | None = ...,
) -> Path: ...


@overload
def build_bundle(
    dialect: str | Dialect = ..., seed: int = ..., *, events: int = ..., payload_files: int | None = ...,
    text_bytes: int = ..., directory: str | Path | None = ..., mode: str = ..., release: str | None = ...,
) -> Bundle | Path: ...


def build_bundle(
    dialect: str | Dialect = DEFAULT_DIALECT,
    seed: int = 0,
    *,
    events: int = 10_000,
    payload_files: int | None = None,
    text_bytes: int = 24,
    directory: str | Path | None = None,
    mode: str = "releases",
    release: str | None = None,
) -> Bundle | Path:
    """A lifecycle-valid bundle of exactly ``events`` events.

    ``mode`` is a generation mode of :data:`MODES`: ``"releases"`` writes what Codex releases
    write; ``"schema"`` widens every event to what the schema allows (and starts the rollout
    with a turn of every feature when the event budget has room for it). ``release`` (a Codex
    version) writes as that release was measured writing, or in the schema mode what its reducer
    was measured reading (:mod:`._release`); ``dialect`` must be the one it writes.

    Written into ``directory`` as it is generated (returns the path), or kept in
    memory (returns a :class:`~rollout_trace_kit.bundle.Bundle`) when no directory
    is given. Deterministic: the same arguments give the same bytes.
    """
    d = DIALECTS[dialect] if isinstance(dialect, str) else dialect
    sink = DirectorySink(directory) if directory is not None else MemorySink()
    keep = events <= HISTORY_LIMIT
    plan = BundlePlan(seed=seed, text_bytes=text_bytes, incremental=True, mode=mode, release=release)
    rec = Recorder(d, plan, sink, keep_history=keep)
    minimum = _START_EVENTS + _closing_events(rec)
    if events < minimum:
        raise ValueError(f"a {dialect} bundle has at least {minimum} events")
    if payload_files is not None and not _START_PAYLOADS + 1 <= payload_files < events:
        raise ValueError(f"payload_files must be between {_START_PAYLOADS + 1} and events - 1")
    rnd = random.Random(seed ^ 0x5EED)
    root = rec.begin()

    def target() -> int:
        """Events left before the closing ones (root end, then each child thread's end)."""
        closing = _closing_events(rec) + 2 * sum(1 for _ in rec.descendants(root))
        return events - closing

    if mode == "schema":
        # every feature once (rare turn ends, resumed children, code cells...), rotated by the
        # seed so that small budgets still reach each of them across a campaign; each placed
        # where the events it writes (measured) fit, the rest of the budget filled exactly
        sizes = feature_events(d.name, release, keep)
        for k in _feature_order(seed, sizes):
            room = target() - rec.w.events_written
            if sizes[k] + FEATURE_SLACK > room:
                continue
            rec.user_turn(root, _feature_turns(keep)[k])

    def share_left() -> float | None:
        """Payload files still to write per event still to write (None: no target)."""
        if payload_files is None:
            return None
        todo = payload_files - (rec.w.next_payload - 1) - _closing_payloads(rec)
        return todo / max(1, target() - rec.w.events_written)

    while True:
        room = target() - rec.w.events_written - FILL_ROOM
        share = share_left()
        if share is not None and share < 0.45 and room > 12:
            light(rec, root, rnd, far_above=share < 0.3)
        elif share is not None and share > 0.95 and room > 1:
            warning(rec)
        else:
            turn = random_turn(rnd, depth=1, child=False)
            if turn_event_bound(turn) + 2 * turn_children(turn) > room:
                break  # the rest is filled exactly
            rec.user_turn(root, turn if keep else _no_compaction(turn))
    fill(rec, root, target() - rec.w.events_written,
         None if payload_files is None else payload_files - (rec.w.next_payload - 1) - _closing_payloads(rec))
    rec.shutdown(root)
    return rec.w.finish()


FEATURE_SLACK = 2  # events a feature may write beyond its measured size (a cancelled turn's partial output is drawn)


@lru_cache(maxsize=None)
def _feature_turns(keep_history: bool) -> tuple[TurnPlan, ...]:
    return tuple(t if keep_history else _no_compaction(t) for t in one_feature_turns())


def _feature_order(seed: int, sizes: tuple[int, ...]) -> list[int]:
    """The schema mode's feature turns in the order they are tried: rotated by the seed (the
    first fits any budget of a campaign's plan: :func:`feature_seed`), the biggest moved up to
    second (a spawned child, resumed: the only feature that writes its variants, and one that
    fits only early in a budget)."""
    n = len(sizes)
    k = seed % n
    order = list(range(k, n)) + list(range(k))
    big = max(range(n), key=sizes.__getitem__)
    if order[0] != big:
        order.remove(big)
        order.insert(1, big)
    return order


def feature_seed(seed: int, k: int) -> int:
    """A seed near ``seed`` whose schema-mode bundle is the ``k``-th of a plan's: it tries the
    ``k``-th feature turn first (modulo their number), and starts each widened value's cycle
    k values on (modulo PLAN_PERIOD). A plan that gives its valid cases k = 0, 1, 2, ... starts
    its bundles with each feature and each value in turn: coverage by construction."""
    return seed - seed % PLAN_PERIOD + k % PLAN_PERIOD


@lru_cache(maxsize=None)
def feature_events(dialect: str, release: str | None, keep_history: bool) -> tuple[int, ...]:
    """Per schema-mode feature turn, the events it writes as a rollout's first turn (its context
    items included), its child threads' closing events included: measured by writing each, the
    most over a few seeds (only a cancelled turn's partial output is drawn; FEATURE_SLACK covers it)."""
    d = DIALECTS[dialect]
    out = []
    for turn in _feature_turns(keep_history):
        most = 0
        for seed in range(3):
            rec = Recorder(d, BundlePlan(seed=seed, incremental=True, release=release, mode="schema"), _CountingSink(),
                           keep_history=keep_history)
            root = rec.begin()
            before = rec.w.events_written
            rec.user_turn(root, turn)
            most = max(most, rec.w.events_written - before + 2 * sum(1 for _ in rec.descendants(root)))
        out.append(most)
    return tuple(out)


class _CountingSink(MemorySink):
    """A sink that keeps nothing (feature_events counts events only)."""

    def line(self, data: bytes) -> None:
        pass

    def payload(self, rel: str, data: bytes) -> None:
        pass


_START_EVENTS = 3  # rollout_started, thread_started, session_configured
_START_PAYLOADS = 2  # thread metadata, session_configured


def _closing_payloads(rec: Recorder) -> int:
    """The shutdown_complete protocol events: the root's and each child thread's."""
    assert rec.root is not None  # begun
    return 1 + sum(1 for _ in rec.descendants(rec.root))


def _no_compaction(turn: TurnPlan) -> TurnPlan:
    """Fast-mode turns do not compact: compaction needs the full history, which is not kept."""
    return replace(turn, rounds=tuple(Round(r.calls) for r in turn.rounds))


def light(rec: Recorder, th: Thread, rnd: random.Random, far_above: bool) -> None:
    """A turn with few payloads: an answer only, or (when far above target) no model call at all."""
    if far_above or rnd.random() < 0.5:
        empty_turn(rec, th)
    else:
        rec.user_turn(th, TurnPlan())


def empty_turn(rec: Recorder, th: Thread) -> None:
    """A turn that ends before any model call (interrupted at once): 2 events, no payload."""
    turn = rec.ids.uuid7(rec.w.clock)
    rec.ev("codex_turn_started", th, turn, codex_turn_id=turn, thread_id=th.thread_id)
    rec.ev("codex_turn_ended", th, turn, codex_turn_id=turn, status="cancelled")


def failed_turn(rec: Recorder, th: Thread) -> None:
    """A turn whose only request fails at once: 4 events, 1 payload (the request)."""
    turn = rec.ids.uuid7(rec.w.clock)
    rec.ev("codex_turn_started", th, turn, codex_turn_id=turn, thread_id=th.thread_id)
    rec.inference(th, turn, None, failure=("failed", "stream disconnected before completion", None))
    rec.ev("codex_turn_ended", th, turn, codex_turn_id=turn, status=rec.dialect.writer.failed_turn_status)


def accepted_turn(rec: Recorder, th: Thread) -> None:
    """v3: a turn that ends after one history acceptance (a user message): 3 events, no payload.

    Stands in for failed_turn, whose request comes with a prepared prompt (2+ records) in v3."""
    turn = rec.ids.uuid7(rec.w.clock)
    rec.ev("codex_turn_started", th, turn, codex_turn_id=turn, thread_id=th.thread_id)
    rec.accept(th, turn, rec.msg_id())
    rec.ev("codex_turn_ended", th, turn, codex_turn_id=turn, status="cancelled")


def warning(rec: Recorder) -> None:
    """A protocol event: 1 event, 1 payload."""
    rec.protocol("warning", {"type": "warning", "message": rec.text()})


def fill(rec: Recorder, th: Thread, events: int, payloads: int | None) -> None:
    """Write exactly ``events`` more events (and ``payloads`` payload files when it is possible)."""
    w = rec.w
    end_events = w.events_written + events
    if payloads is None:
        payloads = events // 2
    end_payloads = w.next_payload - 1 + max(0, min(payloads, events))

    def left() -> tuple[int, int]:
        e = end_events - w.events_written
        return e, max(0, min(end_payloads - (w.next_payload - 1), e))

    # Large part: answer turns, with protocol events (one payload each) or turns that end
    # before any model call (none) wherever the payload share still to write is above or
    # below an answer turn's; that keeps 0 <= payloads <= events for the exact part.
    answer_share = 4 / (8 if rec.accepts_history else 6)  # payloads / events of an answer turn
    e, p = left()
    while e > 24:
        if p / e > answer_share + 0.02 or p > e - 8:
            warning(rec)
        elif p / e < answer_share - 0.02 or p < 4:
            empty_turn(rec, th)
        else:
            rec.user_turn(th, TurnPlan())
        e, p = left()
    # Exact part: protocol events (1, 1), empty turns (2, 0), and one small turn when the
    # parity needs it: a failed turn (4, 1) or, in v3, an accepted turn (3, 0).
    small, small_events, small_payloads = (accepted_turn, 3, 0) if rec.prepared_prompts else (failed_turn, 4, 1)
    f = 1 if (e - p) % 2 and p >= small_payloads and e - p >= 3 else 0
    z = max(0, (e - p - 3 * f) // 2)
    for _ in range(f):
        small(rec, th)
    for _ in range(z):
        empty_turn(rec, th)
    for _ in range(e - small_events * f - 2 * z):
        warning(rec)
