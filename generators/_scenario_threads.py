"""Remote compaction and multi-agent threads, as Codex records them.

A mixin of :class:`~._scenario.Recorder`: compaction request attempts (a failed one
retried) and the install of the replacement history; ``spawn_agent`` and
``wait_agent`` around a child thread's task, its result delivered to the parent, and
(v2) a closed child resumed for a follow-up task.
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from ..model import bodies as MB
from . import _bodies as B
from ._plan import ThreadPlan, TurnPlan
from ._scenario_base import RecorderBase

if TYPE_CHECKING:
    from ._scenario import Thread


class Threads(RecorderBase):
    """Compaction and child threads; needs the Recorder's ``ev``, ``turn``, ``inference``..."""

    # -- compaction ------------------------------------------------------------------------------------------
    def compact(self, th: Thread, turn: str, retry: bool) -> None:
        """Remote compaction: request attempt(s), then the replacement history is installed."""
        cid = self.ids.uuid7(self.w.clock)
        before = list(th.history)
        attempts = 2 if retry else 1
        for attempt in range(1, attempts + 1):
            self.compaction_requests += 1
            rid = f"compaction_request:{self.compaction_requests}"
            request = B.compaction_request(th.base["content"][0]["text"], before)
            self.ev("compaction_request_started", th, turn, compaction_id=cid, compaction_request_id=rid,
                    thread_id=th.thread_id, codex_turn_id=turn, model=B.MODEL, provider_name="OpenAI",
                    request_payload=self.payload("compaction_request", request))
            if attempt < attempts:
                self.ev("compaction_request_failed", th, turn, compaction_id=cid, compaction_request_id=rid,
                        error="Fatal error: remote compaction v2 expected exactly one compaction output item, got 0 from 1 output items")
                continue
            n = self.ids.number()
            summary = B.compaction_item(f"cmp-{n}", f"MOCK-COMPACTED-{n}")
            self.ev("compaction_request_completed", th, turn, compaction_id=cid, compaction_request_id=rid,
                    response_payload=self.payload("compaction_response", B.compaction_response(summary)))
        replacement = []
        for item in before:
            if item["type"] == MB.MESSAGE and item["role"] in (MB.DEVELOPER, MB.USER) and "id" in item:
                keep = item["role"] == MB.USER and not item["content"][0]["text"].startswith("<environment")
                replacement.append(item if keep else dict(item, id=self.msg_id()))
        replacement.append(summary)
        self.ev("compaction_installed", th, turn, compaction_id=cid,
                checkpoint_payload=self.payload("compaction_checkpoint", B.compaction_checkpoint(before, replacement)))
        th.history = [B.resent(i) if i["type"] == MB.COMPACTION else i for i in replacement]
        th.delta = list(th.history)
        th.last_response_id = None  # the next request is a full snapshot of the new history

    # -- multi-agent -----------------------------------------------------------------------------------------
    def spawn(self, parent: Thread, turn: str, child_plan: ThreadPlan) -> None:
        """spawn_agent, then wait_agent while the child runs its task and reports back."""
        n = self.ids.number()
        task = f"task_{n}"
        message = f"CHILD-TASK: {self.text()}"
        args = json.dumps({"message": message, "task_name": task, "fork_turns": "none"})
        spawn_item = B.function_call(f"fc-{n}", "spawn_agent", "collaboration", args, f"call-{n}")
        self.inference(parent, turn, [spawn_item])
        call_id = spawn_item[MB.CALL_ID]
        self.tool_started(parent, turn, call_id, call_id, {"type": "spawn_agent"}, "collaboration.spawn_agent", args,
                          B.invocation("spawn_agent", "collaboration", arguments=args))
        child_path = f"{parent.agent_path}/{task}"
        child_id = self.ids.uuid7(self.w.clock)
        nickname = self.rnd.choice(("Arendt", "Aquinas", "Curie", "Noether", "Turing"))
        spawn = {"thread_id": parent.thread_id, "depth": parent.depth + 1, "task_name": task, "nickname": nickname}
        child = self.start_thread(child_id, child_path, parent, spawn)
        parent.spawned.append(child)
        self.runtime_ended(parent, turn, call_id, "completed", B.spawn_started(call_id, self.w.clock, child_id, child_path))
        out = self.output_item(parent, turn, spawn_item, json.dumps({"task_name": child_path}, separators=(",", ":")))
        self.tool_ended(parent, turn, call_id, "completed", B.direct_result(out))
        self.deliver(parent, turn, out)
        # Parent: wait for the child.
        m = self.ids.number()
        w_args = json.dumps({"timeout_ms": 30000})
        wait_item = B.function_call(f"fc-{m}", "wait_agent", "collaboration", w_args, f"call-{m}")
        self.inference(parent, turn, [wait_item])
        wait_id = wait_item[MB.CALL_ID]
        self.tool_started(parent, turn, wait_id, wait_id, {"type": "wait_agent"}, "collaboration.wait_agent", w_args,
                          B.invocation("wait_agent", "collaboration", arguments=w_args))
        self.runtime_started(parent, turn, wait_id, {"type": "wait_agent"}, B.wait_begin(self.w.clock, parent.thread_id, wait_id))
        answer = self.child_task(parent, turn, child, child_plan, message)
        self.runtime_ended(parent, turn, wait_id, "completed", B.wait_end(parent.thread_id, wait_id, self.w.clock))
        w_out = self.output_item(parent, turn, wait_item, json.dumps({"message": "Wait completed.", "timed_out": False},
                                                                        separators=(",", ":")))
        self.tool_ended(parent, turn, wait_id, "completed", B.direct_result(w_out))
        self.deliver(parent, turn, w_out)
        # The child's final answer reaches the parent as an agent message.
        final = f"Message Type: FINAL_ANSWER\nTask name: {parent.agent_path}\nSender: {child.agent_path}\nPayload:\n{answer}"
        amsg = B.agent_message("amsg_" + self.ids.uuid7(self.w.clock), child.agent_path, parent.agent_path,
                               [B.text_part(final)], turn, self.w.clock / 1000)
        self.remember(parent, B.agent_message_item(amsg))
        self.accept(parent, turn, amsg["id"], amsg)
        if child_plan.resumed is not None and self.resumes:
            self.resume_child(parent, turn, child, child_plan.resumed)

    def resume_child(self, parent: Thread, turn: str, child: Thread, plan: TurnPlan) -> None:
        """v2: the finished child is closed, then resumed with a follow-up task."""
        self.ev("thread_ended", None, None, thread_id=child.thread_id, status="completed")
        self.ev("thread_resumed", None, None, thread_id=child.thread_id)
        text = f"Message Type: NEW_TASK\nTask name: {child.agent_path}\nSender: {parent.agent_path}\nPayload:\n{self.text()}"
        amsg = B.agent_message("amsg_" + self.ids.uuid7(self.w.clock), parent.agent_path, child.agent_path,
                               [B.text_part(text)], turn, self.w.clock / 1000)
        self.turn(child, plan, [(B.agent_message_item(amsg), amsg)], parent_turn=turn)

    def child_task(self, parent: Thread, parent_turn: str, child: Thread, plan: ThreadPlan, message: str) -> str:
        """The child's turn, started by the spawn message; returns its final answer."""
        task_text = f"Message Type: NEW_TASK\nTask name: {child.agent_path}\nSender: {parent.agent_path}\nPayload:\n"
        amsg = B.agent_message("amsg_" + self.ids.uuid7(self.w.clock), parent.agent_path, child.agent_path,
                               [B.text_part(task_text), B.encrypted_part(message)], parent_turn, self.w.clock / 1000)
        initial: list[tuple[dict[str, Any], dict[str, Any] | None]] = [(i, None) for i in self.context_items(child)]
        initial.append((B.agent_message_item(amsg), amsg))
        turn_plan = replace(plan.turns[0], end="answer")  # a child always reports back
        child_turn = self.turn(child, turn_plan, initial, parent_turn=parent_turn)
        answer = child.last_answer
        final = f"Message Type: FINAL_ANSWER\nTask name: {parent.agent_path}\nSender: {child.agent_path}\nPayload:\n{answer}"
        edge = f"edge:agent_result:{child.thread_id}:{child_turn}:{parent.thread_id}"
        self.ev("agent_result_observed", child, child_turn, edge_id=edge, child_thread_id=child.thread_id,
                child_codex_turn_id=child_turn, parent_thread_id=parent.thread_id, message=final,
                carried_payload=self.payload("agent_result", B.agent_result(child.agent_path, final, answer)))
        return answer

