"""The envelope and the order of events: seq, identity, first and last events."""

from __future__ import annotations

from typing import Any, Callable

from ...model.common import EnvelopeKey as E
from ...model import facts
from ...model.types import CONTEXT_FREE
from ..catalogue import R, S, W, invariant
from ..context import Context
from ..findings import Severity

SCHEMA_VERSION = invariant(
    "ENVELOPE.SCHEMA_VERSION",
    "Every event's schema_version is the dialect's version.",
    v1=W, v2=R,
    source='writer.rs › append stamps RAW_TRACE_EVENT_SCHEMA_VERSION; 0.169.0 reducer: "unsupported trace event schema {v} at line {n}"',
)
ROLLOUT_ID = invariant(
    "ENVELOPE.ROLLOUT_ID",
    "Every event's rollout_id is the manifest's rollout_id.",
    v1=W, v2=R,
    source='writer.rs › append copies manifest.rollout_id; 0.169.0 reducer: "trace event belongs to another rollout"',
)
SEQ_START = invariant(
    "SEQ.STARTS_AT_ONE",
    "The first event has seq 1.",
    v1=W, v2=R,
    source='writer.rs › create starts next_seq at 1; 0.169.0 reducer: "missing or reordered trace event N"',
)
SEQ_GAP = invariant(
    "SEQ.NO_GAP",
    "seq grows by exactly one from event to event: no event is missing.",
    v1=W, v2=R,
    source='raw_event.rs: "Contiguous writer-assigned order"; 0.169.0 reducer: "missing or reordered trace event N"',
)
SEQ_ORDER = invariant(
    "SEQ.INCREASING",
    "seq never repeats or goes back.",
    v1=W, v2=R,
    source='writer.rs › append (under the writer mutex); 0.169.0 reducer: "missing or reordered trace event N"',
)
STARTED_FIRST = invariant(
    "ROLLOUT.STARTED_FIRST",
    "The first event is rollout_started, and no other event is.",
    v1=W, v2=W,
    source="thread.rs › start_root_in_root: rollout_started is seq 1",
)
IDENTITY = invariant(
    "ROLLOUT.IDENTITY",
    "rollout_started carries the manifest's trace_id and root_thread_id.",
    v1=W, v2=W,
    source="thread.rs › start_root_in_root (same ids as TraceWriter::create)",
)
AFTER_ROLLOUT_ENDED = invariant(
    "ORDER.AFTER_ROLLOUT_ENDED",
    "No event follows rollout_ended (v1; in v2 child threads may still end after it, before recording_completed).",
    v1=W, v2=None,
    source="thread.rs: the root thread end writes thread_ended then rollout_ended last",
)
AFTER_RECORDING_COMPLETED = invariant(
    "ORDER.AFTER_RECORDING_COMPLETED",
    "No event follows recording_completed.",
    v1=None, v2=R,
    source='0.169.0 reducer: "trace event after recording completed"',
)
TERMINAL_PRESENT = invariant(
    "ORDER.TERMINAL_PRESENT",
    "The log ends with its terminal event: rollout_ended (v1) or recording_completed (v2).",
    v1=W, v2=W,
    source="writer guarantee for a finished recording; a bundle without it is partial (still running or crashed)",
)
CONTEXT_MATCHES = invariant(
    "ENVELOPE.CONTEXT_MATCHES_PAYLOAD",
    "Where the payload names its thread or turn (turn start, inference start, compaction request start), the envelope names the same ones.",
    v1=W, v2=W,
    source="thread.rs › append_with_context: the envelope context is the event's own thread and turn",
)
CONTEXT_CONVENTION = invariant(
    "ENVELOPE.CONTEXT_CONVENTION",
    "Rollout, thread, protocol and MCP-correlation events have a null envelope context; turn-scoped events have both thread_id and codex_turn_id.",
    v1=S, v2=S,
    source="writer convention (upstream-rules D.4), seen in every Codex 0.164/0.169 bundle",
)
WALL_TIME = invariant(
    "TIME.MONOTONIC",
    "wall_time_unix_ms never decreases from one event to the next.",
    v1=S, v2=S,
    source="writer uses SystemTime::now (not monotonic); real bundles never decrease",
    severity=Severity.WARNING,
)

class OrderChecker:
    def __init__(self, ctx: Context):
        self.ctx = ctx
        self.prev_seq: int | None = None
        self.max_seq: int | None = None
        self.first = True
        self.rollout_ended_seq: int | None = None
        self.recording_completed_seq: int | None = None
        self.last_tag: str | None = None
        self.prev_time: int | None = None
        self.events = 0
        m = ctx.manifest if isinstance(ctx.manifest, dict) else {}
        self.rollout_id = m.get("rollout_id")
        self.trace_id = m.get("trace_id")
        self.root_thread_id = m.get("root_thread_id")
        d = ctx.dialect
        assert d is not None  # the pass over events starts once the dialect is known
        self.version = d.schema_version
        # envelope conventions of each variant (model: Variant.context, context_fields)
        self.null_context = facts.null_context_variants(d)
        self.payload_context = facts.payload_context(d)  # variant -> (payload thread field, turn field)
        self.free_context = frozenset(v.tag for v in d.payload.variants if v.context == CONTEXT_FREE)
        # First and terminal events: the shortcut of check() does not apply to them.
        self.ends = frozenset({"rollout_started", "rollout_ended", *d.terminal_variants})
        self.known_tags = frozenset(d.tags)
        self.strict = ctx.wants(CONTEXT_CONVENTION)
        self.next_seq = 1
        self.plain = False  # the shortcut of check() applies

    def plain_run_test(self) -> Callable[[list[Any], dict[type, str]], int | None]:
        """A test the decode worker runs on each run of events (ahead.py): the run's first seq
        when check()'s shortcut takes every event of it once the run starts at ``next_seq`` with
        the shortcut on (the event-by-event conditions of the shortcut, all here), else None."""
        rollout_id, version, ends, payload_context = self.rollout_id, self.version, self.ends, self.payload_context

        def test(events: list[Any], tag_of: dict[type, str]) -> int | None:
            # one plain loop: attribute access in it is specialized (attrgetter and map measured slower)
            first = events[0].seq if events else None
            if type(first) is not int:
                return None
            ending = {cls for cls, tag in tag_of.items() if tag in ends}
            named = {cls for cls, tag in tag_of.items() if tag in payload_context}  # payloads naming their context
            seq = first
            for ev in events:
                p = ev.payload
                cls = p.__class__
                if ev.seq != seq or ev.rollout_id != rollout_id or ev.schema_version != version or cls in ending:
                    return None
                if cls in named and not (ev.thread_id == p.thread_id and ev.codex_turn_id == p.codex_turn_id):
                    return None
                seq += 1
            return first

        return test

    def take_plain_run(self, first: int, events, last_tag: str) -> bool:
        """Whether check()'s shortcut takes the run ``events`` (which plain_run_test passed, from
        seq ``first``) as it stands now; if so, the state it would leave, set at once."""
        if not (self.plain and self.next_seq == first and events):
            return False
        self.events += len(events)
        self.prev_seq = self.max_seq = first + len(events) - 1
        self.next_seq = first + len(events)
        self.last_tag = last_tag
        return True

    def check(self, ev, tag: str) -> None:
        """All order checks of a schema-valid event, with a shortcut for the usual case
        (plain_run_test states its conditions for a whole run: keep the two together)."""
        seq = ev.seq
        # self.plain: no first event pending, no end seen, not strict (kept up to date below)
        if (
            seq == self.next_seq
            and self.plain
            and ev.rollout_id == self.rollout_id
            and ev.schema_version == self.version
            and tag not in self.ends
        ):
            if tag not in self.payload_context or (
                ev.thread_id == ev.payload.thread_id and ev.codex_turn_id == ev.payload.codex_turn_id
            ):
                self.events += 1
                self.prev_seq = self.max_seq = seq
                self.next_seq = seq + 1
                self.last_tag = tag
                return
        self.envelope(seq, ev.schema_version, ev.rollout_id)
        self.event(ev, tag)

    def envelope(self, seq, version, rollout_id) -> None:
        """Checks that need only the envelope: run on schema-invalid events too."""
        ctx = self.ctx
        self.events += 1
        if type(version) is int and version != self.version:
            assert ctx.dialect is not None
            ctx.report(
                SCHEMA_VERSION,
                f"event schema_version is {version}, but this {ctx.dialect.name} bundle writes {self.version}",
                pointer="/schema_version",
            )
        if self.rollout_id is not None and type(rollout_id) is str and rollout_id != self.rollout_id:
            ctx.report(
                ROLLOUT_ID,
                f"event rollout_id {rollout_id!r} is not the manifest's {self.rollout_id!r}",
                pointer="/rollout_id",
            )
        if type(seq) is not int:
            return
        if self.prev_seq is None or self.max_seq is None:  # set together: no event numbered yet
            if seq != 1:
                ctx.report(SEQ_START, f"first event has seq {seq}, expected 1", pointer="/seq")
        elif seq <= self.max_seq:
            ctx.report(
                SEQ_ORDER,
                f"seq {seq} after seq {self.prev_seq}: repeated or out of order",
                pointer="/seq",
                related_seq=self.prev_seq,
            )
        elif seq != self.max_seq + 1:
            ctx.report(
                SEQ_GAP,
                f"seq jumps from {self.max_seq} to {seq}: {seq - self.max_seq - 1} event(s) missing",
                pointer="/seq",
                related_seq=self.max_seq,
            )
        self.prev_seq = seq
        self.max_seq = seq if self.max_seq is None else max(self.max_seq, seq)
        self.next_seq = self.max_seq + 1

    def malformed(self, obj: dict) -> None:
        """A schema-invalid event (its own finding is reported): its envelope checks, and its type.

        A malformed terminal event is still the last event written: it gets its finding, not
        a second one saying the log has no terminal event.
        """
        self.envelope(obj.get(E.SEQ), obj.get(E.SCHEMA_VERSION), obj.get(E.ROLLOUT_ID))
        payload = obj.get(E.PAYLOAD)
        tag = payload.get("type") if isinstance(payload, dict) else None
        if tag in self.known_tags:  # an event of no variant of the dialect is judged by its schema finding
            self.last_tag = tag
        seq = obj.get(E.SEQ)
        if tag == "rollout_ended" and self.rollout_ended_seq is None and type(seq) is int:
            self.rollout_ended_seq = seq  # written, if malformed: the release's end-of-log rule sees it

    def event(self, ev, tag: str) -> None:
        """Checks on a schema-valid event (after :meth:`envelope`)."""
        ctx = self.ctx
        p = ev.payload
        if self.recording_completed_seq is not None:
            ctx.report(
                AFTER_RECORDING_COMPLETED,
                f"{tag} follows recording_completed",
                related_seq=self.recording_completed_seq,
            )
        elif self.rollout_ended_seq is not None:
            ctx.report(AFTER_ROLLOUT_ENDED, f"{tag} follows rollout_ended", related_seq=self.rollout_ended_seq)
            if ctx.summary is not None:  # `--release` judges these by what the release writes there
                ctx.summary.note_after_rollout_ended(tag, ctx.line)
        if self.first != (tag == "rollout_started"):
            what = "the first event is " + tag if self.first else "rollout_started is not the first event"
            ctx.report(STARTED_FIRST, what, pointer="/payload/type")
        self.first = False
        if tag == "rollout_started":
            for key, want in (("trace_id", self.trace_id), ("root_thread_id", self.root_thread_id)):
                got = getattr(p, key)
                if want is not None and got != want:
                    ctx.report(
                        IDENTITY,
                        f"rollout_started {key} {got!r} is not the manifest's {want!r}",
                        pointer=f"/payload/{key}",
                    )
        elif tag == "rollout_ended":
            self.rollout_ended_seq = ev.seq
        elif tag == "recording_completed":
            self.recording_completed_seq = ev.seq
        self.last_tag = tag
        self._context(ev, tag)
        if self.prev_time is not None and ev.wall_time_unix_ms < self.prev_time:
            ctx.report(
                WALL_TIME,
                f"wall_time_unix_ms goes back from {self.prev_time} to {ev.wall_time_unix_ms}",
                pointer="/wall_time_unix_ms",
            )
        self.prev_time = ev.wall_time_unix_ms
        self.plain = not self.first and self.rollout_ended_seq is None and not self.strict

    def _context(self, ev, tag: str) -> None:
        ctx = self.ctx
        fields = self.payload_context.get(tag)
        if fields:
            for env_key, payload_key in zip((E.THREAD_ID, E.TURN_ID), fields):
                env, pay = getattr(ev, env_key), getattr(ev.payload, payload_key)
                if env != pay:
                    ctx.report(
                        CONTEXT_MATCHES,
                        f"{tag}: envelope {env_key} {env!r} differs from payload {payload_key} {pay!r}",
                        pointer=f"/{env_key}",
                    )
        if tag in self.null_context:
            if ev.thread_id is not None or ev.codex_turn_id is not None:
                ctx.report(CONTEXT_CONVENTION, f"{tag} is written with a null envelope context", pointer="/thread_id")
        elif tag not in self.free_context and (ev.thread_id is None or ev.codex_turn_id is None):
            ctx.report(
                CONTEXT_CONVENTION,
                f"{tag} is turn-scoped: the envelope names both thread_id and codex_turn_id",
                pointer="/thread_id" if ev.thread_id is None else "/codex_turn_id",
            )

    def finish(self) -> None:
        ctx = self.ctx
        if ctx.summary is not None:  # `--release` judges the end by what the release ends a recording with
            ctx.summary.last_tag = self.last_tag
            ctx.summary.rollout_ended = self.rollout_ended_seq is not None
        assert ctx.dialect is not None
        terminal = ctx.dialect.terminal_variants[-1]
        if self.last_tag != terminal:
            seen = self.recording_completed_seq if terminal == "recording_completed" else self.rollout_ended_seq
            if seen is None:
                ctx.report(
                    TERMINAL_PRESENT,
                    f"the log does not end with {terminal}: the recording is unfinished or was cut short",
                    line=None,
                    seq=None,
                    severity=Severity.WARNING if ctx.options.partial_ok else None,
                )
