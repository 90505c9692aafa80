"""Tool calls as Codex records them: the model asks, the tool runs, its output goes back.

A mixin of :class:`~._scenario.Recorder`: exec_command (exiting 0 or not), a command left
running and ``write_stdin`` to it, apply_patch, MCP tools with their call correlation,
unknown and unsupported tools, and code-mode cells (nested tool calls, failures, yields).
Payload shapes follow the 0.164.0 / 0.169.0 corpus.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from ..model import bodies as MB
from . import _bodies as B
from ._plan import Call
from ._scenario_base import RecorderBase

if TYPE_CHECKING:
    from ._scenario import Thread


class ToolCalls(RecorderBase):
    """Tool call events; needs the Recorder's ``ev``, ``payload``, ``inference``, ``ids``..."""

    def model_call(self, c: Call) -> dict:
        """The output item with which the model asks for call ``c``."""
        n = self.ids.number()
        call_id = f"call-{n}"
        if c.kind == "apply_patch":
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
        extra = {"kind": kind} if self.runtime_kind else {}
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
        custom = call_item["type"] == MB.CUSTOM_TOOL_CALL
        prefix = "ctco_" if custom else "fco_"
        item = B.call_output(prefix + self.ids.uuid7(self.w.clock), custom, call_item[MB.CALL_ID], output)
        return item

    def deliver(self, th, turn, item: dict) -> None:
        self.accept(th, turn, item["id"], tool_output=item)
        self.remember(th, item)

    def run_call(self, th: Thread, turn: str, c: Call, item: dict) -> None:
        call_id = item[MB.CALL_ID]
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
        call_id = item[MB.CALL_ID]
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
        call_id = item[MB.CALL_ID]
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
        w_args = B.write_stdin_arguments(session, chars, 1000)
        w_item = B.function_call(f"fc-{n}", "write_stdin", None, w_args, f"call-{n}")
        self.inference(th, turn, [w_item])
        w_id = w_item[MB.CALL_ID]
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
        call_id = item[MB.CALL_ID]
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
        call_id = item[MB.CALL_ID]
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
        call_id = item[MB.CALL_ID]
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
        self.tool_ended(th, turn, item[MB.CALL_ID], status, B.direct_result(output))
        self.deliver(th, turn, output)

    def yielding_cell(self, th: Thread, turn: str, item: dict, cell: str, nested: int) -> None:
        """The cell yields; the model's next request is a `wait` on it, during which it finishes."""
        self.cell_event(th, turn, "code_cell_initial_response", cell, "yielded", "still running")
        self.cell_output(th, turn, item, "completed", f"Script running with cell ID {cell}", "still running")
        n = self.ids.number()
        args = json.dumps({"cell_id": cell, "yield_time_ms": 10000})
        wait_item = B.function_call(f"fc-{n}", "wait", None, args, f"call-{n}")
        self.inference(th, turn, [wait_item])
        wait_id = wait_item[MB.CALL_ID]
        self.tool_started(th, turn, wait_id, wait_id, {"type": "other", "name": "wait"}, "wait", args,
                          B.invocation("wait", None, arguments=args))
        if "code_cell_wait_target_resolved" in self.dialect.tags:  # 0.171.0 confirms the wait's target
            self.ev("code_cell_wait_target_resolved", th, turn, tool_call_id=wait_id, runtime_cell_id=cell)
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

