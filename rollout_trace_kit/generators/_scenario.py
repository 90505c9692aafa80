"""Expand a :class:`~._plan.BundlePlan` into the events Codex would record.

The order of events, the envelope context of each and the payload bodies
follow the real 0.164.0 (v1) and 0.169.0 (v2) bundles in ``examples/corpus``:
thread start, turn start, (v2) history acceptances, inference call, the tool
calls its answer asked for, the next inference call carrying their outputs,
and so on; the model conversation of each thread is tracked so every request
payload holds exactly the items the reference reducer expects to find there.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field, replace

from ..spec.types import Dialect
from . import _bodies as B
from ._ids import Ids
from ._plan import SPAWN, BundlePlan, Call, Round, ThreadPlan, TurnPlan
from ._writer import TraceWriter

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


class Recorder:
    """Writes one bundle for a plan, one event at a time, through a TraceWriter."""

    def __init__(self, dialect: Dialect, plan: BundlePlan, sink, *, keep_history: bool = True):
        self.dialect = dialect
        self.v2 = dialect.name != "v1"
        self.plan = plan
        self.rnd = random.Random(plan.seed)
        self.ids = Ids(self.rnd)
        self.text_bytes = max(1, plan.text_bytes)
        start = BASE_MS + self.rnd.randrange(10**8)
        root_id = self.ids.uuid7(start)
        self.w = TraceWriter(dialect, sink, trace_id=self.ids.uuid4(), rollout_id=root_id, started_at=start)
        self.root: Thread | None = None
        self.pids = self.rnd.randrange(1000, 90000)
        self.compaction_requests = 0  # request ids are unique in the bundle
        # Without history, incremental requests still work (they carry only the delta),
        # and memory stays flat for million-event bundles; compaction needs the history.
        self.keep_history = keep_history

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

    def accept(self, th: Thread, turn: str, item_id: str, agent_payload: dict | None = None) -> None:
        """v2: the item joined the thread's model-visible history."""
        if self.v2:
            ref = self.payload("protocol_event", agent_payload) if agent_payload is not None else None
            self.ev("history_item_accepted", th, turn, item_id=item_id, agent_message_payload=ref)

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
    def run(self):
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
        if self.v2:
            self.ev("rollout_ended", None, None, status="completed")
        for child in self.descendants(root):
            if getattr(child, "closed", False):
                continue
            self.protocol("shutdown_complete", B.SHUTDOWN_COMPLETE)
            self.ev("thread_ended", None, None, thread_id=child.thread_id, status="completed")
        if self.v2:
            self.ev("recording_completed", None, None)
        else:
            self.ev("rollout_ended", None, None, status="completed")

    def descendants(self, th: Thread):
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
        base = B.input_message("msg_" + self.ids.uuid4(), "developer", "You are Codex, a coding agent. " + self.text())
        return Thread(thread_id, path, parent.depth + 1 if parent else 0, parent, base)

    def context_items(self, th: Thread) -> list:
        """Developer and environment messages Codex adds when a thread's first turn starts."""
        env = f"<environment_context>\n  <cwd>{B.CWD}</cwd>\n  <shell>bash</shell>\n</environment_context>"
        return [
            B.input_message(self.msg_id(), "developer", "<permissions instructions>" + self.text()),
            B.input_message(self.msg_id(), "user", env),
        ]

    # -- turns --------------------------------------------------------------------------------------------
    def user_turn(self, th: Thread, plan: TurnPlan) -> None:
        items = self.context_items(th) if th.turns_run == 0 else []
        items.append(B.input_message(self.msg_id(), "user", self.text()))
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
        failed = "failed" if self.v2 else "completed"  # 0.164 ends failed turns `completed`
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
        self.inference(th, turn, None, failure=("cancelled", CANCEL_REASON, partial if self.rnd.random() < 0.5 else None))
        return "cancelled", None

    # -- inference ---------------------------------------------------------------------------------------
    def inference(self, th: Thread, turn: str, outputs: list | None, failure=None) -> None:
        """One model request. ``outputs`` = the answer's items; ``failure`` = (how, error, partial item)."""
        call = self.ids.uuid4()
        if self.plan.incremental and th.last_response_id is not None:
            request = B.inference_request(list(th.delta), th.thread_id, th.last_response_id)
        else:
            request = B.inference_request([th.base] + th.history, th.thread_id)
        self.ev("inference_started", th, turn, inference_call_id=call, thread_id=th.thread_id, codex_turn_id=turn,
                model=B.MODEL, provider_name=B.PROVIDER, request_payload=self.payload("inference_request", request))
        n = self.ids.number()
        if failure is None:
            response_id = f"resp-{n}"
            body = B.inference_response(response_id, f"mock-req-{n}", outputs)
            self.ev("inference_completed", th, turn, inference_call_id=call, response_id=response_id,
                    upstream_request_id=f"mock-req-{n}", response_payload=self.payload("inference_response", body))
            th.last_response_id = response_id
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

    # -- rounds and tool calls -----------------------------------------------------------------------------
    def round(self, th: Thread, turn: str, plan: Round) -> None:
        if len(plan.calls) == 1 and plan.calls[0].kind == SPAWN:
            self.spawn(th, turn, plan.calls[0].child)
        else:
            calls = [(c, self.model_call(c)) for c in plan.calls]
            self.inference(th, turn, [item for _, item in calls])
            for c, item in calls:
                self.run_call(th, turn, c, item)
        if plan.compact:
            self.compact(th, turn, plan.compaction_retry)

    def model_call(self, c: Call) -> dict:
        """The output item with which the model asks for call ``c``."""
        n = self.ids.number()
        call_id = f"call-{n}"
        if c.kind in ("apply_patch",):
            return B.custom_tool_call(f"ctc-{n}", "apply_patch", self.patch_text(), call_id)
        if c.kind.startswith("code_cell"):
            return B.custom_tool_call(f"ctc-{n}", "exec", self.js_source(c), call_id)
        if c.kind == "unknown_tool":
            return B.function_call(f"fc-{n}", "no_such_tool", None, json.dumps({"x": n}), call_id)
        if c.kind == "shell_unsupported":
            return B.function_call(f"fc-{n}", "shell", None, json.dumps({"command": ["echo", self.ids.words(1)]}), call_id)
        if c.kind.startswith("mcp"):
            name = "fail" if c.kind == "mcp_error" else "echo"
            args = {} if name == "fail" else {"text": self.ids.words(2)}
            return B.function_call(f"fc-{n}", name, "mcp__mockmcp", json.dumps(args), call_id)
        cmd = self.command(c.kind)
        return B.function_call(f"fc-{n}", "exec_command", None, json.dumps({"cmd": cmd, "yield_time_ms": 2000}), call_id)

    def command(self, kind: str) -> str:
        word = self.ids.words(1)
        if kind == "exec_fail":
            return f"echo {word} >&2; exit 3"
        if kind == "stdin":
            return "cat"
        return f"echo {word}"

    def patch_text(self) -> str:
        return f"*** Begin Patch\n*** Add File: {self.ids.words(1)}.txt\n+{self.text()}\n*** End Patch\n"

    def js_source(self, c: Call) -> str:
        if c.kind == "code_cell_error":
            return 'throw new Error("mock failure inside code cell");\n'
        lines = [f'const r{i} = await tools.exec_command({{cmd: "echo {self.ids.words(1)}", yield_time_ms: 2000}});'
                 for i in range(c.nested)]
        return "\n".join(lines + ['text("done");']) + "\n"

    def tool_started(self, th, turn, call_id, mv_call_id, kind, label, preview, invocation,
                     requester=None, runtime_tool_id=None) -> None:
        self.ev("tool_call_started", th, turn, tool_call_id=call_id, model_visible_call_id=mv_call_id,
                code_mode_runtime_tool_id=runtime_tool_id, requester=requester or {"type": "model"}, kind=kind,
                summary={"type": "generic", "label": label, "input_preview": preview, "output_preview": None},
                invocation_payload=self.payload("tool_invocation", invocation))

    def runtime_started(self, th, turn, call_id, kind: dict, body) -> None:
        extra = {"kind": kind} if self.v2 else {}
        self.ev("tool_call_runtime_started", th, turn, tool_call_id=call_id,
                runtime_payload=self.payload("tool_runtime_event", body), **extra)

    def runtime_ended(self, th, turn, call_id, status, body) -> None:
        self.ev("tool_call_runtime_ended", th, turn, tool_call_id=call_id, status=status,
                runtime_payload=self.payload("tool_runtime_event", body))

    def tool_ended(self, th, turn, call_id, status, result) -> None:
        self.ev("tool_call_ended", th, turn, tool_call_id=call_id, status=status,
                result_payload=self.payload("tool_result", result))

    def output_item(self, th, turn, call_item: dict, output) -> dict:
        """The call's output item: returned by the tool, accepted, resent next request."""
        custom = call_item["type"] == "custom_tool_call"
        prefix = "ctco_" if custom else "fco_"
        item = B.call_output(prefix + self.ids.uuid7(self.w.clock), custom, call_item["call_id"], output)
        return item

    def deliver(self, th, turn, item: dict) -> None:
        self.accept(th, turn, item["id"])
        self.remember(th, item)

    def run_call(self, th: Thread, turn: str, c: Call, item: dict) -> None:
        call_id = item["call_id"]
        kind = c.kind
        if kind in ("exec", "exec_fail"):
            self.exec_call(th, turn, item, fail=kind == "exec_fail")
        elif kind == "stdin":
            self.stdin_calls(th, turn, item)
        elif kind == "apply_patch":
            self.patch_call(th, turn, item)
        elif kind in ("unknown_tool", "shell_unsupported"):
            name = item["name"]
            tool_kind = {"type": "exec_command"} if name == "shell" else {"type": "other", "name": name}
            self.tool_started(th, turn, call_id, call_id, tool_kind, name, item["arguments"],
                              B.invocation(name, None, arguments=item["arguments"]))
            error = f"unsupported call: {name}"
            self.tool_ended(th, turn, call_id, "failed", B.error_result(error))
            self.deliver(th, turn, self.output_item(th, turn, item, error))
        elif kind.startswith("mcp"):
            self.mcp_call(th, turn, item, error=kind == "mcp_error")
        elif kind.startswith("code_cell"):
            self.code_cell(th, turn, item, c)
        else:
            raise ValueError(f"unknown call kind {kind}")

    def exec_call(self, th, turn, item, *, fail: bool) -> None:
        call_id = item["call_id"]
        args = item["arguments"]
        cmd = json.loads(args)["cmd"]
        command = ["/bin/bash", "-lc", cmd]
        self.tool_started(th, turn, call_id, call_id, {"type": "exec_command"}, "exec_command", args,
                          B.invocation("exec_command", None, arguments=args))
        pid = self.pid()
        self.runtime_started(th, turn, call_id, {"type": "exec_command"}, B.exec_begin(call_id, pid, turn, self.w.clock, command))
        code = 3 if fail else 0
        out = self.text(0.5) + "\n"
        self.runtime_ended(th, turn, call_id, "failed" if fail else "completed",
                           B.exec_end(call_id, pid, turn, self.w.clock, command, out, code))
        text = B.exec_tool_output(f"{self.rnd.getrandbits(24):06x}", code, out)
        output = self.output_item(th, turn, item, text)
        self.tool_ended(th, turn, call_id, "completed", B.direct_result(output))
        self.deliver(th, turn, output)

    def pid(self) -> str:
        self.pids += self.rnd.randint(1, 50)
        return str(self.pids)

    def stdin_calls(self, th, turn, item) -> None:
        """A command left running (its tool call ends first), then write_stdin to its session."""
        call_id = item["call_id"]
        args = item["arguments"]
        command = ["/bin/bash", "-lc", json.loads(args)["cmd"]]
        self.tool_started(th, turn, call_id, call_id, {"type": "exec_command"}, "exec_command", args,
                          B.invocation("exec_command", None, arguments=args))
        pid = self.pid()
        session = int(pid)
        self.runtime_started(th, turn, call_id, {"type": "exec_command"}, B.exec_begin(call_id, pid, turn, self.w.clock, command))
        running = B.exec_tool_output(f"{self.rnd.getrandbits(24):06x}", None, "", session_id=session)
        out1 = self.output_item(th, turn, item, running)
        self.tool_ended(th, turn, call_id, "completed", B.direct_result(out1))
        self.deliver(th, turn, out1)
        # The model writes to the running process.
        n = self.ids.number()
        chars = self.ids.words(2) + "\n"
        w_args = json.dumps({"session_id": session, "chars": chars, "yield_time_ms": 1000})
        w_item = B.function_call(f"fc-{n}", "write_stdin", None, w_args, f"call-{n}")
        self.inference(th, turn, [w_item])
        w_id = w_item["call_id"]
        self.tool_started(th, turn, w_id, w_id, {"type": "write_stdin"}, "write_stdin", w_args,
                          B.invocation("write_stdin", None, arguments=w_args))
        self.ev("stdin_target_resolved", th, turn, tool_call_id=w_id, exec_tool_call_id=call_id)
        echoed = chars
        w_text = B.exec_tool_output(f"{self.rnd.getrandbits(24):06x}", 0, echoed)
        w_out = self.output_item(th, turn, w_item, w_text)
        self.tool_ended(th, turn, w_id, "completed", B.direct_result(w_out))
        # The process exits: the original command's runtime ends now.
        self.runtime_ended(th, turn, call_id, "completed",
                           B.exec_end(call_id, pid, turn, self.w.clock, command, echoed, 0))
        self.deliver(th, turn, w_out)

    def patch_call(self, th, turn, item) -> None:
        call_id = item["call_id"]
        patch = item["input"]
        self.tool_started(th, turn, call_id, call_id, {"type": "apply_patch"}, "apply_patch", patch,
                          B.invocation("apply_patch", None, custom_input=patch))
        rel = patch.split("*** Add File: ", 1)[1].split("\n", 1)[0]
        content = patch.split("\n+", 1)[1].split("\n*** End Patch", 1)[0] + "\n"
        path = f"{B.CWD}/{rel}"
        self.runtime_started(th, turn, call_id, {"type": "apply_patch"}, B.patch_begin(call_id, turn, path, content))
        self.runtime_ended(th, turn, call_id, "completed", B.patch_end(call_id, turn, path, content, rel))
        text = f"Exit code: 0\nWall time: 0 seconds\nOutput:\nSuccess. Updated the following files:\nA {rel}\n"
        output = self.output_item(th, turn, item, text)
        self.tool_ended(th, turn, call_id, "completed", B.direct_result(output))
        self.deliver(th, turn, output)

    def mcp_call(self, th, turn, item, *, error: bool) -> None:
        call_id = item["call_id"]
        name = item["name"]
        args = item["arguments"]
        self.tool_started(th, turn, call_id, call_id, {"type": "other", "name": name}, f"mcp__mockmcp.{name}", args,
                          B.invocation(name, "mcp__mockmcp", arguments=args))
        runtime_kind = {"type": "mcp", "server": "mockmcp", "tool": name}
        self.runtime_started(th, turn, call_id, runtime_kind, B.mcp_begin(call_id, turn, "mockmcp", name, json.loads(args)))
        self.ev("mcp_tool_call_correlation_assigned", None, None, tool_call_id=call_id, mcp_call_id=self.ids.uuid4())
        text = "mock MCP tool failure" if error else "echo: " + json.loads(args).get("text", "")
        self.runtime_ended(th, turn, call_id, "completed", B.mcp_end(text, error))
        output = self.output_item(th, turn, item, [
            {"type": "input_text", "text": "Wall time: 0.0037 seconds\nOutput:"},
            {"type": "input_text", "text": text},
        ])
        self.tool_ended(th, turn, call_id, "failed" if error else "completed", B.direct_result(output))
        self.deliver(th, turn, output)

    def code_cell(self, th: Thread, turn: str, item: dict, c: Call) -> None:
        call_id = item["call_id"]
        source = item["input"]
        self.tool_started(th, turn, call_id, call_id, {"type": "other", "name": "exec"}, "exec", source,
                          B.invocation("exec", None, custom_input=source))
        th.cells += 1
        cell = str(th.cells)
        self.ev("code_cell_started", th, turn, runtime_cell_id=cell, model_visible_call_id=call_id, source_js=source)
        if c.kind == "code_cell_yield":
            self.yielding_cell(th, turn, item, cell, c.nested)
            return
        failed = c.kind == "code_cell_error"
        texts = [self.nested_exec(th, turn, cell, k + 1) for k in range(0 if failed else c.nested)]
        if failed:
            error = "Error: mock failure inside code cell\n    at exec_main.mjs:1:7"
            text, status = "Script error:\n" + error, "failed"
        else:
            error, text, status = None, "\n".join(texts) or "done", "completed"
        for tag in ("code_cell_initial_response", "code_cell_ended"):
            self.cell_event(th, turn, tag, cell, status, text, error)
        head = "Script failed" if failed else "Script completed"
        self.cell_output(th, turn, item, "failed" if failed else "completed", head, text)

    def cell_event(self, th, turn, tag, cell, status, text, error=None) -> None:
        nanos = self.rnd.randrange(10**6, 10**8)
        self.ev(tag, th, turn, runtime_cell_id=cell, status=status,
                response_payload=self.payload("tool_result", B.code_cell_response(cell, text, error, nanos)))

    def cell_output(self, th, turn, item, status, head, text) -> None:
        output = self.output_item(th, turn, item, [
            {"type": "input_text", "text": f"{head}\nWall time 0.1 seconds\nOutput:\n"},
            {"type": "input_text", "text": text},
        ])
        self.tool_ended(th, turn, item["call_id"], status, B.direct_result(output))
        self.deliver(th, turn, output)

    def yielding_cell(self, th: Thread, turn: str, item: dict, cell: str, nested: int) -> None:
        """The cell yields; the model's next request is a `wait` on it, during which it finishes."""
        self.cell_event(th, turn, "code_cell_initial_response", cell, "yielded", "still running")
        self.cell_output(th, turn, item, "completed", f"Script running with cell ID {cell}", "still running")
        n = self.ids.number()
        args = json.dumps({"cell_id": cell, "yield_time_ms": 10000})
        wait_item = B.function_call(f"fc-{n}", "wait", None, args, f"call-{n}")
        self.inference(th, turn, [wait_item])
        wait_id = wait_item["call_id"]
        self.tool_started(th, turn, wait_id, wait_id, {"type": "other", "name": "wait"}, "wait", args,
                          B.invocation("wait", None, arguments=args))
        texts = [self.nested_exec(th, turn, cell, k + 1) for k in range(nested)]
        text = "\n".join(texts) or "done"
        self.cell_event(th, turn, "code_cell_ended", cell, "completed", text)
        self.cell_output(th, turn, wait_item, "completed", "Script completed", text)

    def nested_exec(self, th: Thread, turn: str, cell: str, k: int) -> str:
        """A tool call issued by code in a cell (no model-visible item of its own)."""
        tool_id = "exec-" + self.ids.uuid4()
        cmd = f"echo {self.ids.words(1)}"
        args = json.dumps({"cmd": cmd, "yield_time_ms": 2000}, separators=(",", ":"))
        command = ["/bin/bash", "-lc", cmd]
        self.tool_started(th, turn, tool_id, None, {"type": "exec_command"}, "exec_command", args,
                          B.invocation("exec_command", None, arguments=args),
                          requester={"type": "code_cell", "runtime_cell_id": cell}, runtime_tool_id=f"tool-{k}")
        pid = self.pid()
        self.runtime_started(th, turn, tool_id, {"type": "exec_command"}, B.exec_begin(tool_id, pid, turn, self.w.clock, command))
        out = cmd[5:] + "\n"
        self.runtime_ended(th, turn, tool_id, "completed", B.exec_end(tool_id, pid, turn, self.w.clock, command, out, 0))
        value = {"chunk_id": f"{self.rnd.getrandbits(24):06x}", "wall_time_seconds": 1.1e-05, "exit_code": 0,
                 "original_token_count": 1, "output": out}
        self.tool_ended(th, turn, tool_id, "completed", B.code_mode_result(value))
        return json.dumps(value, separators=(",", ":"))

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
            summary = {"type": "compaction", "id": f"cmp-{n}", "encrypted_content": f"MOCK-COMPACTED-{n}"}
            self.ev("compaction_request_completed", th, turn, compaction_id=cid, compaction_request_id=rid,
                    response_payload=self.payload("compaction_response", B.compaction_response(summary)))
        replacement = []
        for item in before:
            if item["type"] == "message" and item["role"] in ("developer", "user") and "id" in item:
                keep = item["role"] == "user" and not item["content"][0]["text"].startswith("<environment")
                replacement.append(item if keep else dict(item, id=self.msg_id()))
        replacement.append(summary)
        self.ev("compaction_installed", th, turn, compaction_id=cid,
                checkpoint_payload=self.payload("compaction_checkpoint", B.compaction_checkpoint(before, replacement)))
        th.history = [B.resent(i) if i["type"] == "compaction" else i for i in replacement]
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
        call_id = spawn_item["call_id"]
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
        wait_id = wait_item["call_id"]
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
                               [{"type": "input_text", "text": final}], turn, self.w.clock / 1000)
        self.remember(parent, B.agent_message_item(amsg))
        self.accept(parent, turn, amsg["id"], amsg)
        if child_plan.resumed is not None and self.v2:
            self.resume_child(parent, turn, child, child_plan.resumed)

    def resume_child(self, parent: Thread, turn: str, child: Thread, plan: TurnPlan) -> None:
        """v2: the finished child is closed, then resumed with a follow-up task."""
        self.ev("thread_ended", None, None, thread_id=child.thread_id, status="completed")
        self.ev("thread_resumed", None, None, thread_id=child.thread_id)
        text = f"Message Type: NEW_TASK\nTask name: {child.agent_path}\nSender: {parent.agent_path}\nPayload:\n{self.text()}"
        amsg = B.agent_message("amsg_" + self.ids.uuid7(self.w.clock), parent.agent_path, child.agent_path,
                               [{"type": "input_text", "text": text}], turn, self.w.clock / 1000)
        self.turn(child, plan, [(B.agent_message_item(amsg), amsg)], parent_turn=turn)

    def child_task(self, parent: Thread, parent_turn: str, child: Thread, plan: ThreadPlan, message: str) -> str:
        """The child's turn, started by the spawn message; returns its final answer."""
        task_text = f"Message Type: NEW_TASK\nTask name: {child.agent_path}\nSender: {parent.agent_path}\nPayload:\n"
        amsg = B.agent_message("amsg_" + self.ids.uuid7(self.w.clock), parent.agent_path, child.agent_path,
                               [{"type": "input_text", "text": task_text},
                                {"type": "encrypted_content", "encrypted_content": message}], parent_turn, self.w.clock / 1000)
        initial = [(i, None) for i in self.context_items(child)] + [(B.agent_message_item(amsg), amsg)]
        turn_plan = replace(plan.turns[0], end="answer")  # a child always reports back
        child_turn = self.turn(child, turn_plan, initial, parent_turn=parent_turn)
        answer = child.last_answer
        final = f"Message Type: FINAL_ANSWER\nTask name: {parent.agent_path}\nSender: {child.agent_path}\nPayload:\n{answer}"
        edge = f"edge:agent_result:{child.thread_id}:{child_turn}:{parent.thread_id}"
        self.ev("agent_result_observed", child, child_turn, edge_id=edge, child_thread_id=child.thread_id,
                child_codex_turn_id=child_turn, parent_thread_id=parent.thread_id, message=final,
                carried_payload=self.payload("agent_result", B.agent_result(child.agent_path, final, answer)))
        return answer
