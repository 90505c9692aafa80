"""Shared pieces of the corruption operators."""

from __future__ import annotations

import random
import uuid

from ..model.common import EnvelopeKey as E
from ..model import facts
from ..model.types import Dialect, UnitKind
from ._edit import Editor, iter_refs
from .corruptions import Corrupted

# Events whose disappearance (unparseable, schema-invalid) leaves every other event
# valid: nothing later refers to them. Every Codex bundle has several protocol events,
# and no reducer interprets them.
QUIET_VARIANTS = ("protocol_event_observed",)



def fresh(rnd: random.Random, prefix: str = "") -> str:
    """An id no real bundle uses (derived from ``rnd`` so it is reproducible)."""
    return prefix + str(uuid.UUID(int=rnd.getrandbits(128), version=4))


def result(ed: Editor, invariant: str, index: int | None, *, also=(), reducer_level=(), note="", seq="auto",
           line="auto") -> Corrupted:
    """Finish the edit; ``index`` = the line of the primary finding (None: bundle level)."""
    bundle = ed.done()
    if line == "auto":
        line = None if index is None else index + 1
    if seq == "auto":
        event = None if index is None else ed.events[index]
        seq = None if event is None else event[E.SEQ]
    return Corrupted(
        bundle=bundle,
        invariant=invariant,
        expected=frozenset({invariant, *also}),
        line=line,
        seq=seq,
        reducer_level=frozenset(reducer_level),
        note=note,
    )


def pick(rnd: random.Random, options):
    options = list(options)
    return rnd.choice(options) if options else None


def quiet_line(ed: Editor, rnd: random.Random) -> int | None:
    """A line whose event can vanish without breaking any other: not first, not last."""
    last = len(ed.events) - 1
    return pick(rnd, [i for i in ed.lines_of(*QUIET_VARIANTS) if 0 < i < last])


def payload_kinds(dialect: Dialect) -> tuple[str, ...]:
    """The dialect's payload kinds (its RawPayloadKind), in model order."""
    return dialect.type_as("RawPayloadKind", UnitKind).values


def tool_kinds(ed: Editor) -> dict[str, str]:
    """tool_call_id -> kind tag, from the tool_call_started events."""
    out: dict[str, str] = {}
    for i in ed.lines_of("tool_call_started"):
        p = ed.payload(i)
        out.setdefault(p["tool_call_id"], p["kind"]["type"])
    return out


def first_runtime_starts(ed: Editor, kinds) -> list[int]:
    """Lines of each tool call's first tool_call_runtime_started, for calls of these kinds."""
    by_call = tool_kinds(ed)
    seen, out = set(), []
    for j in ed.lines_of("tool_call_runtime_started"):
        tid = ed.payload(j)["tool_call_id"]
        if by_call.get(tid) in kinds and tid not in seen:
            out.append(j)
        seen.add(tid)
    return out


def reducer_reads(ed: Editor, dialect, i: int, pointer: str) -> bool:
    """Whether the validator treats the ref at ``pointer`` of line ``i`` as one the reference
    reducer opens (a broken one then fails the reducer: the finding names the reducer profile).

    Asks the model, as the validator does (model/facts.py reducer_reads): the 0.169.0
    reducer opens every ref; the 0.164.0 one only those its handlers read (a tool's result
    only for a write_stdin dispatched with an invocation).
    """
    field = next((f for p, _, f in facts.iter_refs(dialect, ed.payload(i)) if p == pointer), None)
    if field is None:
        return False
    dispatched = False
    if facts.read_if_dispatched_terminal(field):
        # a tool whose start, of a kind opened at dispatch, carried an invocation payload
        tool = ed.payload(i)["tool_call_id"]
        dispatched = any(
            p["tool_call_id"] == tool and p["kind"]["type"] in facts.terminal_at_dispatch_kinds(dialect)
            and p.get("invocation_payload") is not None
            for p in (ed.payload(j) for j in ed.lines_of("tool_call_started") if j < i)
        )
    return facts.reducer_reads(dialect, field, dispatched_terminal=dispatched)


def refs(ed: Editor):
    """(line index, pointer, ref) for every payload ref of the log."""
    for i, e in enumerate(ed.events):
        if e is not None:
            for pointer, ref in iter_refs(e[E.PAYLOAD], ed.dialect):
                yield i, pointer, ref


def owned_refs(ed: Editor):
    """Refs whose file exists and that no other ref shares (the canonical case)."""
    users = ed.payload_users()
    for i, pointer, ref in refs(ed):
        if users.get(ref["path"]) == [i] and ref["path"] in ed.bundle.payloads:
            yield i, pointer, ref


def kill_line(ed: Editor, i: int) -> None:
    """The event at ``i`` will not count: drop the payload files only it refers to."""
    for path in ed.own_payloads(i):
        ed.bundle.payloads.pop(path, None)


def unparseable(ed: Editor, i: int, data: bytes) -> None:
    """Line ``i`` becomes ``data``, which the validator cannot read as an event.

    The lines after it are renumbered so ``seq`` stays contiguous over the events
    the validator does see; its payload files go, so none is orphaned.
    """
    kill_line(ed, i)
    ed.replace_raw(i, data)
    ed.shift(i + 1, -1)


def first_after(ed: Editor, start: int, pred) -> int | None:
    for j in range(start, len(ed.events)):
        if ed.events[j] is not None and pred(ed.events[j]):
            return j
    return None
