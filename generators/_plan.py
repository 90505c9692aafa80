"""The shape of a generated rollout, as small immutable data.

A plan says *what happens* (threads, turns, model rounds, tool calls, how each
turn ends); :mod:`._scenario` turns it into events and payloads the way Codex
would write them. Hypothesis draws plans (so a failing bundle shrinks to a
plan with fewer turns, rounds and calls, which still expands to a valid
bundle), and the fast builder draws them from a seeded ``random.Random``.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

# What a model answer can ask Codex to do, one tool call each.
CALL_KINDS = (
    "exec",  # exec_command that exits 0 (runtime start/end, terminal operation)
    "exec_fail",  # exec_command exiting non-zero: runtime `failed`, tool `completed`
    "apply_patch",  # custom tool with patch runtime events
    "unknown_tool",  # a function Codex does not know: tool ends `failed`, no runtime
    "shell_unsupported",  # `shell` routed to exec_command but unsupported: error result
    "mcp",  # MCP tool: runtime events and the MCP call correlation
    "mcp_error",  # MCP tool whose server reports an error
    "code_cell",  # code-mode `exec` cell running nested tool calls
    "code_cell_error",  # code-mode cell that throws
    "code_cell_yield",  # code-mode cell that yields; the model `wait`s for it in the next round
    "stdin",  # long-running exec_command, then write_stdin to its session
)
SPAWN = "spawn"  # multi-agent: spawn a child thread, wait for its result

# Generation modes: which values a bundle's events take.
MODES = {
    "releases": "as releases write: the values and shapes real Codex releases were measured writing",
    "schema": "as the schema allows: every variant, tool kind, payload kind and enum value, optional "
              "fields present, null and absent, Unicode and numeric edges, where the reference reducers "
              "read any value the schema allows (generators/_widen.py)",
}

# How a turn ends.
TURN_ENDS = (
    "answer",  # the model answers with a message; turn completed
    "http_error",  # the provider fails the request (inference_failed); turn failed
    "stream_error",  # the stream breaks after some output (failed, partial payload)
    "cancelled",  # Codex stops reading the stream (inference_cancelled); turn interrupted
)


@dataclass(frozen=True)
class Call:
    kind: str  # CALL_KINDS or SPAWN
    child: "ThreadPlan | None" = None  # the spawned thread (SPAWN only)
    nested: int = 1  # code cells: nested exec_command calls


@dataclass(frozen=True)
class Round:
    """One inference call whose answer asks for ``calls`` (run one after another)."""

    calls: tuple[Call, ...]
    compact: bool = False  # remote compaction after this round's tool outputs
    compaction_retry: bool = False  # the first compaction request attempt fails


@dataclass(frozen=True)
class TurnPlan:
    rounds: tuple[Round, ...] = ()
    end: str = "answer"


@dataclass(frozen=True)
class ThreadPlan:
    turns: tuple[TurnPlan, ...] = (TurnPlan(),)
    resumed: TurnPlan | None = None  # v2 child threads: closed, resumed, then this turn


@dataclass(frozen=True)
class BundlePlan:
    root: ThreadPlan = field(default_factory=ThreadPlan)
    seed: int = 0  # ids and texts
    text_bytes: int = 24  # typical length of generated texts (prompts, outputs)
    incremental: bool = False  # requests continue the previous response instead of resending history
    mode: str = "releases"  # a generation mode of MODES
    release: str | None = None  # as this Codex release writes (releases mode) or reads (schema mode): ._release

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"unknown generation mode {self.mode!r}; known: {', '.join(MODES)}")

    def threads(self) -> int:
        return _count_threads(self.root)


def _count_threads(t: ThreadPlan) -> int:
    turns = t.turns + ((t.resumed,) if t.resumed else ())
    return 1 + sum(_count_threads(c.child) for turn in turns for r in turn.rounds for c in r.calls if c.child)


def one_feature_turns() -> tuple[TurnPlan, ...]:
    """Small turns, one feature each: every call kind, a spawned child that is resumed, a
    compaction with a failed attempt, and every way of ending a turn."""
    calls = tuple(TurnPlan((Round((Call(k, nested=1),)),)) for k in CALL_KINDS)
    child = ThreadPlan((TurnPlan((Round((Call("exec"),)),)),), resumed=TurnPlan())
    spawn = TurnPlan((Round((Call(SPAWN, child=child),)),))
    compact = TurnPlan((Round((Call("exec"),), compact=True, compaction_retry=True),))
    return calls + (spawn, compact) + tuple(TurnPlan((), end) for end in TURN_ENDS if end != "answer")


# A seed's residue modulo this says where a schema-mode bundle starts: which feature turn it tries
# first (modulo their number, which divides it) and where each widened value's cycle begins.
PLAN_PERIOD = len(one_feature_turns()) * 64


# -- random plans (the fast builder) ----------------------------------------------------------
def random_round(rnd: random.Random, *, allow_spawn: bool, depth: int) -> Round:
    if allow_spawn and rnd.random() < 0.08:
        return Round((Call(SPAWN, child=random_thread(rnd, depth + 1)),))
    n = 1 if rnd.random() < 0.8 else rnd.randint(2, 3)
    calls = tuple(Call(rnd.choice(CALL_KINDS), nested=rnd.randint(0, 2)) for _ in range(n))
    compact = rnd.random() < 0.05
    return Round(calls, compact=compact, compaction_retry=compact and rnd.random() < 0.3)


def random_turn(rnd: random.Random, *, depth: int, child: bool, max_rounds: int = 4) -> TurnPlan:
    rounds = tuple(random_round(rnd, allow_spawn=depth < 2, depth=depth) for _ in range(rnd.randint(0, max_rounds)))
    end = "answer" if child or rnd.random() < 0.85 else rnd.choice(TURN_ENDS[1:])
    return TurnPlan(rounds, end)


def random_thread(rnd: random.Random, depth: int) -> ThreadPlan:
    """A spawned child thread: one turn that answers (its result goes back to the parent),
    sometimes closed and resumed for a follow-up turn (v2 only; ignored in v1)."""
    resumed = random_turn(rnd, depth=depth, child=False, max_rounds=1) if rnd.random() < 0.25 else None
    return ThreadPlan((random_turn(rnd, depth=depth, child=True, max_rounds=2),), resumed=resumed)


# -- size bounds (the fast builder fits drawn turns into an exact event budget) ------------------
def turn_event_bound(turn: TurnPlan) -> int:
    """At most how many events a turn writes (children's end events not included)."""
    # start, turn_started, three accepted context items, last request and answer, its
    # acceptance, an error protocol event, end, turn_complete
    total = 11
    for r in turn.rounds:
        total += 2 + len(r.calls) + (6 if r.compact else 0)
        for c in r.calls:
            if c.kind == SPAWN and c.child is not None:
                total += 24 + sum(turn_event_bound(t) for t in c.child.turns)
                total += 2 + turn_event_bound(c.child.resumed) if c.child.resumed else 0
            else:
                total += 18 + 4 * c.nested  # the biggest call: a yielding cell, or exec + write_stdin
    return total


def turn_children(turn: TurnPlan) -> int:
    """Child threads a turn spawns (each writes two more events when the rollout ends)."""
    kids = [c.child for r in turn.rounds for c in r.calls if c.kind == SPAWN and c.child is not None]
    return sum(1 + sum(turn_children(t) for t in k.turns + ((k.resumed,) if k.resumed else ())) for k in kids)
