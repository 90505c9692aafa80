"""Expand a :class:`~._plan.BundlePlan` into the events Codex would record.

The order of events, the envelope context of each and the payload bodies
follow the real 0.164.0 (v1) and 0.169.0 (v2) bundles in the shipped corpus (``rollout_trace_kit/conformance/corpus``):
thread start, turn start, (v2) history acceptances, inference call, the tool
calls its answer asked for, the next inference call carrying their outputs,
and so on; the model conversation of each thread is tracked so every request
payload holds exactly the items the reference reducer expects to find there.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from ..bundle import Bundle
from ..model import bodies as MB
from ..model.types import Dialect
from . import _bodies as B
from ._ids import Ids
from ._plan import PLAN_PERIOD, SPAWN, BundlePlan, Round, TurnPlan
from ._scenario_threads import Threads
from ._scenario_tools import ToolCalls
from ._release import campaign_release
from ._widen import Widener
from ._writer import Sink, TraceWriter

BASE_MS = 1_795_625_352_000  # wall clock of the corpus recordings (late 2026)
HTTP_ERROR = "We\u2019re currently experiencing high demand, which may cause temporary errors."
STREAM_ERROR = "stream disconnected before completion: mock stream failure"
CANCEL_REASON = "response stream dropped before provider terminal event"


@dataclass
class Thread:
    """What the recorder knows about one agent thread while it runs."""

    thread_id: str
    agent_path: str
    depth: int
    parent: "Thread | None"
    base: dict  # the base-instructions message every request starts with
    history: list = field(default_factory=list)  # items the next full request resends
    delta: list = field(default_factory=list)  # items since the last response (incremental mode)
    last_response_id: str | None = None
    cells: int = 0
    spawned: list = field(default_factory=list)
    turns_run: int = 0
    root_turn_id: str | None = None
    last_answer: str = ""
    item_refs: dict = field(default_factory=dict)  # v3: id(item) -> (item, its model_item ref)


class Recorder(ToolCalls, Threads):
    """Writes one bundle for a plan, one event at a time, through a TraceWriter."""

    def __init__(self, dialect: Dialect, plan: BundlePlan, sink: Sink, *, keep_history: bool = True):
        self.dialect = dialect
        # What this dialect's writers write, from the model.
        self.accepts_history = "history_item_accepted" in dialect.tags
        self.resumes = "thread_resumed" in dialect.tags
        self.runtime_kind = any(f.name == "kind" for f in dialect.payload.variant("tool_call_runtime_started").fields)
        self.completes_recording = dialect.terminal_variants[-1] != "rollout_ended"
        # as one release writes (its writer's measured facts), or as the dialect's reference release
        # (the schema mode: as one release's reducer reads, everything its measured vocabulary allows)
        self.release = campaign_release(plan.release, plan.mode) if plan.release is not None else None
        if self.release is not None:
            if self.release.dialect is not dialect:
                raise ValueError(f"Codex {plan.release} writes {self.release.dialect.name}, not {dialect.name}")
            self.completes_recording = self.release.completes_recording
        self.plan = plan
        self.rnd = random.Random(plan.seed)
        self.ids = Ids(self.rnd)
        self.text_bytes = max(1, plan.text_bytes)
        start = BASE_MS + self.rnd.randrange(10**8)
        root_id = self.ids.uuid7(start)
        widen = Widener(dialect, plan.seed % PLAN_PERIOD, incremental=plan.incremental,
                        reads=self.release.reads if self.release is not None else None,
                        required=self.release.required if self.release is not None else None) if plan.mode == "schema" else None
        self.w = TraceWriter(dialect, sink, trace_id=self.ids.uuid4(), rollout_id=root_id, started_at=start, widen=widen,
                             shape=self.release.shape if self.release is not None else None,
                             capture=widen.capture if widen is not None and widen.capture_cut else None)
        self.root: Thread | None = None
        self.pids = self.rnd.randrange(1000, 90000)
        self.compaction_requests = 0  # request ids are unique in the bundle
        # Without history, incremental requests still work (they carry only the delta),
        # and memory stays flat for million-event bundles; compaction needs the history.
        self.keep_history = keep_history
        fields = {f.name for f in dialect.payload.variant("inference_started").fields}
        self.prepared_prompts = "prepared_prompt_payload" in fields
        # The schema mode's own choices, from a stream of their own (the releases mode's draws stay):
        # requests that say how they relate to earlier ones (v1's request_input_mode, a field of the
        # schema no release writes and the reducers ignore), and responses without an id, which no
        # later request continues (the next request of the thread is a full snapshot).
        self.schema_mode = random.Random(plan.seed ^ 0x1A7E) if plan.mode == "schema" else None
        self.input_modes = "request_input_mode" in fields
        self.tool_output_refs = "history_item_accepted" in dialect.tags and "tool_output_payload" in {
            f.name for f in dialect.payload.variant("history_item_accepted").fields
        }

    # -- small helpers -----------------------------------------------------------------
    def tick(self) -> int:
        return self.w.tick(self.rnd.randint(0, 12))

    def text(self, scale: float = 1.0) -> str:
        return self.ids.text(int(self.text_bytes * scale))

    def ev(self, tag: str, th: Thread | None, turn: str | None, /, **fields) -> int:
        self.tick()
        return self.w.event(tag, th.thread_id if th else None, turn, **fields)

    def payload(self, kind: str, body) -> dict:
        return self.w.payload(kind, body)

    def protocol(self, event_type: str, body: dict) -> None:
        self.ev("protocol_event_observed", None, None, event_type=event_type, event_payload=self.payload("protocol_event", body))

    def accept(self, th: Thread, turn: str, item_id: str, agent_payload: dict | None = None,
               tool_output: dict | None = None) -> None:
        """The item joined the thread's model-visible history (dialects with history_item_accepted;
        v3 refers to a tool output's item with it)."""
        if self.accepts_history:
            ref = self.payload("protocol_event", agent_payload) if agent_payload is not None else None
            extra = {}
            if tool_output is not None and self.tool_output_refs:
                extra["tool_output_payload"] = self.payload("protocol_event", tool_output)
            self.ev("history_item_accepted", th, turn, item_id=item_id, agent_message_payload=ref, **extra)

    def prepared_prompt(self, th: Thread, items: list) -> dict:
        """v3: the prompt Codex prepared, as fragments around one model_item record per input item.

        Like Codex, an item already recorded for an earlier prompt of the thread is referenced again.
        """
        parts = []
        for item in items:
            known = th.item_refs.get(id(item))
            if known is None or known[0] is not item:
                known = (item, self.payload("model_item", item))
                if self.keep_history:  # big bundles resend nothing: no cache to grow
                    th.item_refs[id(item)] = known
            parts.append(dict(known[1]))
        ref = self.payload("prepared_prompt", B.prompt_fragments(len(items)))
        ref["parts"] = parts
        return ref

    def remember(self, th: Thread, item: dict) -> None:
        """The item is part of the conversation the next request continues."""
        self.keep(th, item)
        th.delta.append(item)

    def keep(self, th: Thread, item: dict) -> None:
        if self.keep_history or th.last_response_id is None:
            th.history.append(item)

    def msg_id(self) -> str:
        return "msg_" + self.ids.uuid7(self.w.clock)

    # -- the whole rollout --------------------------------------------------------------------
    def run(self) -> Bundle | Path:
        root = self.begin()
        for turn_plan in self.plan.root.turns:
            self.user_turn(root, turn_plan)
        self.shutdown(root)
        return self.w.finish()

    def begin(self) -> Thread:
        """rollout_started and the root thread."""
        self.ev("rollout_started", None, None, trace_id=self.w.trace_id, root_thread_id=self.w.root_thread_id)
        self.root = self.start_thread(self.w.root_thread_id, "/root", None, None)
        return self.root

    def shutdown(self, root: Thread) -> None:
        """Root end, then every child thread (children outlive the root's end events)."""
        self.protocol("shutdown_complete", B.SHUTDOWN_COMPLETE)
        self.ev("thread_ended", None, None, thread_id=root.thread_id, status="completed")
        if self.completes_recording:  # the rollout ends with the root; the recording later
            self.ev("rollout_ended", None, None, status="completed")
        for child in self.descendants(root):
            self.protocol("shutdown_complete", B.SHUTDOWN_COMPLETE)
            self.ev("thread_ended", None, None, thread_id=child.thread_id, status="completed")
        if self.completes_recording:
            self.ev(self.dialect.terminal_variants[-1], None, None)
        else:
            self.ev("rollout_ended", None, None, status="completed")

    def descendants(self, th: Thread) -> Iterator[Thread]:
        for c in th.spawned:
            yield c
            yield from self.descendants(c)

    # -- threads ------------------------------------------------------------------------------------
    def start_thread(self, thread_id: str, path: str, parent: Thread | None, spawn: dict | None) -> Thread:
        rollout_path = f"/home/dev/.codex/sessions/2026/11/25/rollout-2026-11-25T16-49-29-{thread_id}.jsonl"
        meta = B.session_metadata(thread_id, path, rollout_path, spawn)
        self.ev("thread_started", None, None, thread_id=thread_id, agent_path=path,
                metadata_payload=self.payload("session_metadata", meta))
        session = self.w.root_thread_id
        self.protocol("session_configured", B.session_configured(session, thread_id, parent.thread_id if parent else None, rollout_path))
        base = B.input_message("msg_" + self.ids.uuid4(), MB.DEVELOPER, "You are Codex, a coding agent. " + self.text())
        return Thread(thread_id, path, parent.depth + 1 if parent else 0, parent, base)

    def context_items(self, th: Thread) -> list:
        """Developer and environment messages Codex adds when a thread's first turn starts."""
        env = f"<environment_context>\n  <cwd>{B.CWD}</cwd>\n  <shell>bash</shell>\n</environment_context>"
        return [
            B.input_message(self.msg_id(), MB.DEVELOPER, "<permissions instructions>" + self.text()),
            B.input_message(self.msg_id(), MB.USER, env),
        ]

    # -- turns --------------------------------------------------------------------------------------------
    def user_turn(self, th: Thread, plan: TurnPlan) -> None:
        if self.release is not None:
            plan = self.release.turn(plan)  # only what the release writes
        items = self.context_items(th) if th.turns_run == 0 else []
        items.append(B.input_message(self.msg_id(), MB.USER, self.text()))
        self.turn(th, plan, [(i, None) for i in items], parent_turn=None)

    def turn(self, th: Thread, plan: TurnPlan, initial: list, parent_turn: str | None) -> str:
        """Run one Codex turn; ``initial`` = (item, agent_message payload) pairs it starts with."""
        turn = self.ids.uuid7(self.w.clock)
        th.turns_run += 1
        root_turn = parent_turn or turn
        th.root_turn_id = root_turn
        started_s = self.w.clock // 1000
        self.ev("codex_turn_started", th, turn, codex_turn_id=turn, thread_id=th.thread_id)
        initiator = th.parent.agent_path if (th.parent and parent_turn) else None
        self.protocol("turn_started", B.task_started(turn, root_turn, parent_turn, initiator, started_s))
        for item, agent_payload in initial:
            self.remember(th, item)
            self.accept(th, turn, item["id"], agent_payload)
        for rnd_plan in plan.rounds:
            self.round(th, turn, rnd_plan)
        status, last = self.finish_turn(th, turn, plan.end)
        self.ev("codex_turn_ended", th, turn, codex_turn_id=turn, status=status)
        end_s = self.w.clock // 1000
        body = B.task_complete(turn, root_turn, last, started_s, end_s, max(1, (end_s - started_s) * 1000))
        if status == "failed":
            body.pop("time_to_first_token_ms")
            body["error"] = {"message": HTTP_ERROR, "codex_error_info": "internal_server_error"}
        self.protocol("turn_complete", body)
        return turn

    def finish_turn(self, th: Thread, turn: str, end: str) -> tuple[str, str | None]:
        """The last inference of the turn; returns the turn status and the final answer."""
        failed = self.dialect.writer.failed_turn_status  # 0.164 ends failed turns `completed`
        if end == "answer":
            answer = self.text()
            self.inference(th, turn, [B.assistant_message(f"msg-{self.ids.number()}", answer)])
            th.last_answer = answer
            return "completed", answer
        if end == "http_error":
            self.inference(th, turn, None, failure=("failed", HTTP_ERROR, None))
            self.protocol("error", {"type": "error", "message": HTTP_ERROR, "codex_error_info": "internal_server_error"})
            return failed, None
        partial = B.assistant_message(f"msg-{self.ids.number()}", self.text())
        if end == "stream_error":
            self.inference(th, turn, None, failure=("failed", STREAM_ERROR, partial))
            return failed, None
        # the schema mode always has the partial output, and its widener writes the ref present, null or absent
        kept = self.schema_mode is not None or self.rnd.random() < 0.5
        self.inference(th, turn, None, failure=("cancelled", CANCEL_REASON, partial if kept else None))
        return "cancelled", None

    # -- inference ---------------------------------------------------------------------------------------
    def inference(self, th: Thread, turn: str, outputs: list | None, failure=None) -> None:
        """One model request. ``outputs`` = the answer's items; ``failure`` = (how, error, partial item)."""
        call = self.ids.uuid4()
        incremental = self.plan.incremental and th.last_response_id is not None
        if incremental:
            request = B.inference_request(list(th.delta), th.thread_id, th.last_response_id)
        else:
            request = B.inference_request([th.base] + th.history, th.thread_id)
        request_ref = self.payload("inference_request", request)
        extra = {}
        if self.schema_mode is not None and self.input_modes:
            extra["request_input_mode"] = self.input_mode(th, incremental)
        if self.prepared_prompts:
            items = request[MB.REQUEST_INPUT]
            extra["prepared_prompt_payload"] = self.prepared_prompt(th, items[1:] if items and items[0] is th.base else items)
        self.ev("inference_started", th, turn, inference_call_id=call, thread_id=th.thread_id, codex_turn_id=turn,
                model=B.MODEL, provider_name=B.PROVIDER, request_payload=request_ref, **extra)
        n = self.ids.number()
        if failure is None:
            assert outputs is not None  # an answer without a failure has its items
            response_id = f"resp-{n}"
            body = B.inference_response(response_id, f"mock-req-{n}", outputs)
            unnamed = self.schema_mode is not None and self.keep_history and self.schema_mode.random() < 0.25
            self.ev("inference_completed", th, turn, inference_call_id=call, response_id=None if unnamed else response_id,
                    upstream_request_id=f"mock-req-{n}", response_payload=self.payload("inference_response", body))
            th.last_response_id = None if unnamed else response_id
            th.delta = []
            for item in outputs:
                self.accept(th, turn, item["id"])
                self.keep(th, B.resent(item))
            return
        how, error, partial = failure
        ref = None
        if partial is not None:
            ref = self.payload("inference_response", B.inference_response(None, f"mock-req-{n}", [partial], partial=True))
        if how == "failed":
            self.ev("inference_failed", th, turn, inference_call_id=call, upstream_request_id=f"mock-req-{n}",
                    error=error, partial_response_payload=ref)
        else:
            self.ev("inference_cancelled", th, turn, inference_call_id=call, upstream_request_id=f"mock-req-{n}",
                    reason=error, partial_response_payload=ref)
        if partial is not None:
            self.accept(th, turn, partial["id"])
            self.remember(th, B.resent(partial))

    def input_mode(self, th: Thread, incremental: bool) -> dict:
        """How a request relates to earlier ones (schema mode): a full snapshot, or a continuation
        of the previous response, whose earlier input is sometimes given as an untraced prefix."""
        if not incremental:
            return {"type": "full_snapshot"}
        assert self.schema_mode is not None and th.last_response_id is not None
        if self.schema_mode.random() < 0.5:
            return {"type": "incremental", "previous_response_id": th.last_response_id}
        prefix = self.payload("inference_request", B.inference_request([th.base], th.thread_id))
        return {"type": "incremental_with_untraced_prefix", "previous_response_id": th.last_response_id,
                "prefix_payload": prefix}

    # -- rounds and tool calls -----------------------------------------------------------------------------
    def round(self, th: Thread, turn: str, plan: Round) -> None:
        if len(plan.calls) == 1 and plan.calls[0].kind == SPAWN:
            child = plan.calls[0].child
            assert child is not None  # a SPAWN call carries its child's plan
            self.spawn(th, turn, child)
        else:
            calls = [(c, self.model_call(c)) for c in plan.calls]
            self.inference(th, turn, [item for _, item in calls])
            for c, item in calls:
                self.run_call(th, turn, c, item)
        if plan.compact:
            self.compact(th, turn, plan.compaction_retry)
