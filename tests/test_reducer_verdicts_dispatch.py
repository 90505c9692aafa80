"""Wrong verdicts the differential engine found on Codex 0.164.0 (issue 18), each on a minimal bundle.

Same shape as test_reducer_verdicts_bodies.py (whose helpers it uses): the kit's reducer profile
with ``--release`` must give the verdict of the dialect's reference reducer, and the Codex tier
(``--codex -m codex``) replays every case through the real reducer.
"""

from __future__ import annotations

import re
from typing import Any, Callable

from rollout_trace_kit.bundle import Bundle

from .test_reducer_verdicts_bodies import (
    ALL, ROOT, TURN, USER, Case, Payloads, call, cell_events, inference, minimal, output, tool_started, turn,
    verdict_tests, with_exec, with_items, with_two_inferences,
)

WRITE_STDIN_ARGS = '{"session_id": 1, "chars": "x\\n"}'


def invocation(tool: str, arguments: str) -> dict:
    return {"tool_name": tool, "tool_namespace": None, "payload": {"type": "function", "arguments": arguments}}


def exec_begin() -> dict:
    return {"call_id": "call-1", "process_id": "4242", "turn_id": TURN, "command": ["/bin/bash", "-lc", "ls"],
            "cwd": "/home/dev/project", "source": "unified_exec_startup"}


def with_tool(kind: str, *, invoked: bool = True, runtime: bool = False, result: Any = "missing") -> Callable[[str], Bundle]:
    """A tool call of ``kind`` (its start with or without an invocation payload, with or without a
    runtime start) whose end's result is ``result``: "missing" (a ref to no file), bytes, or a value."""
    def build(dialect: str) -> Bundle:
        ps = Payloads(dialect)
        tool = "write_stdin" if kind == "write_stdin" else "exec_command"
        args = WRITE_STDIN_ARGS if kind == "write_stdin" else '{"cmd": "ls"}'
        started = tool_started(kind, ps.add("tool_invocation", invocation(tool, args)) if invoked else None, label=tool)
        events = [started]
        if runtime:
            events.append({"type": "tool_call_runtime_started", "tool_call_id": "call-1",
                           **({"kind": {"type": kind}} if dialect != "v1" else {}),
                           "runtime_payload": ps.add("tool_runtime_event", exec_begin())})
        result_ref = ps.add("tool_result", result)
        if result == "missing":
            del ps.bodies[len(ps.bodies)]
        events.append({"type": "tool_call_ended", "tool_call_id": "call-1", "status": "failed", "result_payload": result_ref})
        return minimal(dialect, [turn(), *((ROOT, TURN, e) for e in events)], ps.bodies)
    return build


EXEC_CALL = {"type": "custom_tool_call", "name": "exec", "input": "text('hi')", "call_id": "call-1"}


def cell_with_turn(which: int, turn_id: Any, answered: bool = True) -> Callable[[str], Bundle]:
    """Code cell events naming the root thread and turn, but for event ``which``, whose envelope turn is
    ``turn_id``; ``answered``: after a response whose `exec` call is the cell's model-visible call."""
    def build(dialect: str) -> Bundle:
        ps = Payloads(dialect)
        events = cell_events(ROOT, TURN)
        events[which] = (ROOT, turn_id, events[which][2])
        model = inference(ps, "inf-1", [USER], [EXEC_CALL], "resp-1") if answered else []
        return minimal(dialect, [turn(), *model, *events], ps.bodies)
    return build


BOM_RESULT = b'\xef\xbb\xbf{"type": "error", "error": "unsupported call: shell"}'
MISSING = frozenset({"REF.FILE_EXISTS"})

CASES = [
    # 0.164.0 opens a tool's result only where the start created a terminal operation at dispatch:
    # a write_stdin with an invocation payload (model: Variant.terminal_at_dispatch, READ_IF_DISPATCHED_TERMINAL)
    Case("exec-result-missing", ("v1",), with_tool("exec_command"), frozenset()),
    Case("exec-result-with-a-bom", ("v1",), with_tool("exec_command", result=BOM_RESULT), frozenset()),
    Case("exec-result-missing-without-invocation", ("v1",), with_tool("exec_command", invoked=False), frozenset()),
    Case("exec-result-missing-after-its-runtime", ("v1",), with_tool("exec_command", runtime=True), frozenset()),
    Case("stdin-result-missing", ("v1",), with_tool("write_stdin"), MISSING),
    Case("stdin-result-with-a-bom", ("v1",), with_tool("write_stdin", result=BOM_RESULT), frozenset({"REF.JSON"})),
    Case("stdin-result-missing-without-invocation", ("v1",), with_tool("write_stdin", invoked=False), frozenset()),
    # the reducers that read every ref (v2, v3) open every tool's result
    *(Case(f"{k}-result-missing", ("v2",), with_tool(k), MISSING) for k in ("exec_command", "write_stdin")),
    *(Case(f"{k}-result-missing", ("v3",), with_tool(k), frozenset({"STORE.REF_RECORD"})) for k in ("exec_command", "write_stdin")),
    # a write_stdin dispatched with an invocation already has its terminal operation: a runtime start is a second
    Case("stdin-dispatched-then-runtime-start", ALL, with_tool("write_stdin", runtime=True, result=None),
         frozenset({"TOOL.SECOND_TERMINAL_OPERATION"})),
    Case("stdin-without-invocation-then-runtime-start", ALL, with_tool("write_stdin", invoked=False, runtime=True, result=None),
         frozenset()),
]
CASES += [
    # a code cell start names a started turn in its envelope, its thread given or not (model:
    # Variant.turn_required_since); the cell's response and end do not need one
    Case("cell-start-of-an-unknown-turn", ALL, cell_with_turn(0, "turn-nobody"), frozenset({"CELL.START_TURN"})),
    Case("cell-start-without-a-turn", ALL, cell_with_turn(0, None), frozenset({"CELL.START_TURN"})),
    # ... when the model asked for the cell: a start whose call no response holds is not checked so
    *(Case(f"unasked-cell-start-{name}", ALL, cell_with_turn(0, t, answered=False), frozenset())
      for name, t in (("of-an-unknown-turn", "turn-nobody"), ("without-a-turn", None))),
    *(Case(f"cell-event-{i}-of-an-unknown-turn", ("v1",), cell_with_turn(i, t), frozenset())
      for i in (1, 2) for t in ("turn-nobody", None)),
]
LOCAL_SHELL = {"type": "local_shell_call", "status": "completed", "call_id": "call-1", "action": {"type": "exec", "command": ["ls"]}}
WEB_SEARCH = {"type": "web_search_call", "status": "completed", "call_id": "call-1", "action": {"type": "search", "query": "q"}}
TOOL_SEARCH = {"type": "tool_search_call", "status": "completed", "call_id": "call-1", "execution": "client", "arguments": {}}
IMAGE = {"type": "image_generation_call", "id": "ig-1", "status": "completed", "result": "", "call_id": "call-1"}
CUSTOM = {"type": "custom_tool_call", "status": "completed", "name": "exec", "input": "{}", "call_id": "call-1"}
MCP_OUTPUT = {"type": "mcp_tool_call_output", "call_id": "call-1", "output": "ok"}
SEARCH_OUTPUT = {"type": "tool_search_output", "call_id": "call-1", "status": "completed", "execution": "client", "tools": []}
CUSTOM_OUTPUT = {"type": "custom_tool_call_output", "call_id": "call-1", "output": "ok"}
REUSED = frozenset({"BODY.CALL_ID_CONTENT"})
CASES += [
    # A call id names one call whatever its item type: a function call, local shell, web search, tool search
    # or image generation call share call ids (a custom tool call has its own); the function call is compared
    # by its arguments, the others by the whole item (measured on 0.164.0 and 0.169.0, in one payload)
    *(Case(f"call-id-of-a-function-call-reused-by-a-{other['type']}", ALL, with_items([USER, call(), other]), REUSED)
      for other in (LOCAL_SHELL, WEB_SEARCH, TOOL_SEARCH, IMAGE)),
    Case("call-id-of-a-local-shell-call-reused-by-a-web-search", ALL, with_items([USER, LOCAL_SHELL, WEB_SEARCH]), REUSED),
    Case("call-id-of-a-function-call-reused-by-a-custom-call", ALL, with_items([USER, call(), {**CUSTOM, "input": "x"}]),
         frozenset()),
    Case("call-id-of-a-custom-call-reused-by-a-local-shell", ALL, with_items([USER, CUSTOM, LOCAL_SHELL]), frozenset()),
    *(Case(f"{item['type']}-reused-with-another-{key}", ALL, with_items([USER, item, {**item, key: value}]), REUSED)
      for item, key, value in ((LOCAL_SHELL, "status", "in_progress"), (WEB_SEARCH, "id", "ws-1"),
                               (TOOL_SEARCH, "arguments", {"a": 1}), (IMAGE, "result", "x"), (LOCAL_SHELL, "extra", 1))),
    *(Case(f"{item['type']}-resent-as-it-was", ALL, with_two_inferences(item, item), frozenset())
      for item in (LOCAL_SHELL, WEB_SEARCH, TOOL_SEARCH, IMAGE)),
    Case("function-call-reused-with-another-status", ALL, with_items([USER, call(), {**call(), "status": "in_progress"}]),
         frozenset()),
    # Outputs (compared by 0.164.0 only): function, MCP and tool search outputs share call ids, a custom
    # output has its own; a function output is compared by its output, the others by the whole item
    Case("output-of-a-function-reused-by-an-mcp-output", ("v1",), with_items([USER, call(), output("ok"), MCP_OUTPUT]), REUSED),
    Case("output-of-a-function-reused-by-an-mcp-output", ("v2", "v3"), with_items([USER, call(), output("ok"), MCP_OUTPUT]),
         frozenset()),
    Case("output-of-a-function-reused-by-a-tool-search-output", ("v1",), with_items([USER, output("ok"), SEARCH_OUTPUT]),
         REUSED),
    Case("output-of-a-function-reused-by-a-custom-output", ALL, with_items([USER, output("ok"), {**CUSTOM_OUTPUT, "output": "x"}]),
         frozenset()),
    Case("mcp-output-reused-with-another-key", ("v1",), with_items([USER, MCP_OUTPUT, {**MCP_OUTPUT, "extra": 1}]), REUSED),
    Case("function-output-reused-with-another-id", ALL, with_items([USER, call(), output("ok"), {**output("ok"), "id": "x"}]),
         frozenset()),
]
def msg(role: str, text: str, **extra: Any) -> dict:
    part = "output_text" if role == "assistant" else "input_text"
    return {"type": "message", "role": role, "content": [{"type": part, "text": text}], **extra}


Request = tuple[list, Any, Any]  # (input items, output items or None: unanswered, previous_response_id)


def with_requests(*requests: Request) -> Callable[[str], Bundle]:
    """Inference calls of the root thread's turn in order; call k answers with response id resp-k."""
    def build(dialect: str) -> Bundle:
        ps = Payloads(dialect)
        events = [turn()]
        for k, (inputs, outputs, previous) in enumerate(requests, 1):
            call = inference(ps, f"inf-{k}", inputs, outputs, None if outputs is None else f"resp-{k}")
            if previous is not None:
                ps.bodies[int(call[0][2]["request_payload"]["raw_payload_id"].split(":")[1])]["previous_response_id"] = previous
            events += call
        return minimal(dialect, events, ps.bodies)
    return build


def forked(first: dict, second: dict) -> Callable[[str], Bundle]:
    """Two incremental requests on one response, with these items past its snapshot."""
    return with_requests(([ONE], [ANSWER], None), ([first], None, "resp-1"), ([second], [], "resp-1"))


ONE, TWO, ANSWER = msg("user", "one"), msg("user", "two"), msg("assistant", "answer")
FC9 = {"type": "function_call", "name": "exec_command", "arguments": "{}", "call_id": "call-9"}
MISMATCH = frozenset({"INFERENCE.CONVERSATION_MISMATCH"})
CASES += [
    # An incremental request's items past the snapshot of its previous response match the thread's
    # conversation at their positions (rules/conversation.py; model: ItemType.match_keys)
    Case("incremental-requests-fork-one-response", ALL, forked(TWO, msg("user", "three")), MISMATCH),
    Case("incremental-request-forks-a-full-request", ALL,
         with_requests(([ONE], [ANSWER], None), ([ONE, ANSWER, TWO], None, None), ([msg("user", "three")], [], "resp-1")),
         MISMATCH),
    Case("incremental-request-meets-a-response", ALL,
         with_requests(([ONE], [ANSWER], None), ([TWO], [msg("assistant", "b")], "resp-1"), ([TWO, msg("user", "y")], [], "resp-1")),
         MISMATCH),
    Case("incremental-request-past-a-shorter-full-request", ALL,
         with_requests(([ONE], [ANSWER], None), ([msg("user", "x")], [msg("assistant", "b")], None), ([TWO], [], "resp-1")),
         frozenset()),
    Case("full-request-differs-from-the-conversation", ALL,
         with_requests(([ONE], [ANSWER], None), ([msg("user", "ONE"), ANSWER, TWO], [], None)), frozenset()),
    Case("incremental-requests-agree", ALL,
         with_requests(([ONE], [ANSWER], None), ([TWO], [msg("assistant", "b")], "resp-1"), ([TWO], [], "resp-1")), frozenset()),
    Case("fork-by-role", ALL, forked(TWO, msg("developer", "two")), MISMATCH),
    Case("fork-by-another-part", ALL, forked(TWO, {**TWO, "content": TWO["content"] + [{"type": "input_text", "text": ""}]}),
         MISMATCH),
    Case("fork-by-call-id", ALL, forked(FC9, {**FC9, "call_id": "call-8"}), MISMATCH),
    Case("fork-by-encrypted-reasoning", ALL,
         forked(*({"type": "reasoning", "summary": [], "encrypted_content": x} for x in "ab")), MISMATCH),
    Case("fork-by-item-type", ALL, forked(TWO, FC9), MISMATCH),
    Case("fork-by-output", ("v2", "v3"), forked(*(output(x, "call-9") for x in "ab")), MISMATCH),
    Case("fork-by-output", ("v1",), forked(*(output(x, "call-9") for x in "ab")), REUSED),  # the call id check comes first
    *(Case(f"same-item-but-{name}", ALL, forked(a, b), frozenset()) for name, a, b in (
        ("an-id", TWO, {**TWO, "id": "m2"}), ("a-status", TWO, {**TWO, "status": "completed"}),
        ("an-unknown-key", TWO, {**TWO, "zz": 1}), ("the-part-type", TWO, {**TWO, "content": [{"type": "output_text", "text": "two"}]}),
        ("the-call-name", FC9, {**FC9, "name": "other"}))),
]
def with_negative_zero(key: str) -> Callable[[str], Bundle]:
    """The turn start's envelope ``key`` written ``-0``: serde_json reads a float there (0 is an integer)."""
    def build(dialect: str) -> Bundle:
        b = minimal(dialect, [turn()])
        b.lines[2] = re.sub(rb'"%s":\d+' % key.encode(), b'"%s":-0' % key.encode(), b.lines[2])
        return b
    return build


def exec_end_exit(code: bytes) -> Callable[[str], Bundle]:
    """An exec whose runtime end body has ``exit_code`` written as ``code``."""
    def build(dialect: str) -> Bundle:
        b = with_exec("1", "1")(dialect)
        for path, body in b.payloads.items():
            if b'"exit_code"' in body:
                b.payloads[path] = re.sub(rb'"exit_code": *0', b'"exit_code": ' + code, body)
        return b
    return build


CASES += [
    # -0 is a float to serde_json, so no integer field takes it (measured on 0.164.0, 0.169.0, 0.171.0)
    Case("seq-negative-zero", ("v1",), with_negative_zero("seq"), frozenset({"EVENT.INTEGER_FORM"})),
    Case("wall-time-negative-zero", ALL, with_negative_zero("wall_time_unix_ms"), frozenset({"EVENT.INTEGER_FORM"})),
    # ... but a body's -0 is read where an integer is wanted (an exec end's exit_code: measured)
    Case("exec-exit-code-negative-zero", ("v1", "v2"), exec_end_exit(b"-0"), frozenset()),
]
def with_agent_end(kind: str, body: Any) -> Callable[[str], Bundle]:
    """A multi-agent tool call of ``kind`` whose runtime end body is ``body``."""
    def build(dialect: str) -> Bundle:
        ps = Payloads(dialect)
        started = tool_started(kind)
        end = {"type": "tool_call_runtime_ended", "tool_call_id": "call-1", "status": "completed",
               "runtime_payload": ps.add("tool_runtime_event", body)}
        ended = {"type": "tool_call_ended", "tool_call_id": "call-1", "status": "completed", "result_payload": None}
        return minimal(dialect, [turn(), *((ROOT, TURN, e) for e in (started, end, ended))], ps.bodies)
    return build


THREAD_UUID = "01a2139c-be82-7122-b5b2-7c62fb23c95b"
ACTIVITY = frozenset({"BODY.AGENT_ACTIVITY"})
SPAWN_END = {"call_id": "call-1", "sender_thread_id": THREAD_UUID, "prompt": "p", "model": "m", "reasoning_effort": "low",
             "status": "running"}
CLOSE_END = {"call_id": "call-1", "sender_thread_id": THREAD_UUID, "receiver_thread_id": THREAD_UUID, "status": "shutdown"}
SEND_END = {**CLOSE_END, "prompt": "p"}
COLLAB_CASES = (
    ("spawn_agent", "whole", SPAWN_END, frozenset()),
    ("spawn_agent", "without-prompt", {k: v for k, v in SPAWN_END.items() if k != "prompt"}, ACTIVITY),
    ("spawn_agent", "model-null", {**SPAWN_END, "model": None}, ACTIVITY),
    ("spawn_agent", "without-status", {k: v for k, v in SPAWN_END.items() if k != "status"}, ACTIVITY),
    ("spawn_agent", "new-thread-not-a-uuid", {**SPAWN_END, "new_thread_id": "x"}, ACTIVITY),
    ("spawn_agent", "new-thread-null", {**SPAWN_END, "new_thread_id": None}, frozenset()),
    ("spawn_agent", "status-completed-bare", {**SPAWN_END, "status": "completed"}, ACTIVITY),
    ("spawn_agent", "status-completed-null", {**SPAWN_END, "status": {"completed": None}}, frozenset()),
    ("spawn_agent", "status-errored-null", {**SPAWN_END, "status": {"errored": None}}, ACTIVITY),
    ("spawn_agent", "status-errored", {**SPAWN_END, "status": {"errored": "e"}}, frozenset()),
    ("close_agent", "whole", CLOSE_END, frozenset()),
    ("close_agent", "receiver-not-a-uuid", {**CLOSE_END, "receiver_thread_id": "x"}, ACTIVITY),
    ("close_agent", "status-unknown", {**CLOSE_END, "status": "zz"}, ACTIVITY),
    ("close_agent", "status-two-keys", {**CLOSE_END, "status": {"completed": "a", "errored": "b"}}, ACTIVITY),
    ("close_agent", "status-running-as-object", {**CLOSE_END, "status": {"running": None}}, frozenset()),
    ("close_agent", "new-thread-not-a-uuid", {**CLOSE_END, "new_thread_id": "x"}, frozenset()),
    ("send_message", "whole", SEND_END, frozenset()),
    ("send_message", "without-prompt", CLOSE_END, ACTIVITY),
    ("assign_agent_task", "whole", SEND_END, frozenset()),
    ("assign_agent_task", "without-receiver", {k: v for k, v in SEND_END.items() if k != "receiver_thread_id"}, ACTIVITY),
)
CASES += [
    # a multi-agent runtime end without agent_thread_id is read as a collab end event: a string call_id,
    # then a UUID sender_thread_id come first (model: COLLAB_END_KEYS); a wait_agent's is not read
    *(Case(f"{kind}-collab-end-{name}", ALL, with_agent_end(kind, body), ACTIVITY)
      for kind in ("spawn_agent", "close_agent")
      for name, body in (("empty", {}), ("of-another-event", {"type": "shutdown_complete"}),
                         ("without-sender", {"call_id": "call-1"}), ("numeric-call-id", {"call_id": 1, "sender_thread_id": THREAD_UUID}),
                         ("sender-not-a-uuid", {"call_id": "call-1", "sender_thread_id": "root"}))),
    Case("wait_agent-collab-end-empty", ALL, with_agent_end("wait_agent", {}), frozenset()),
    # then each tool kind's own keys (model: COLLAB_END_BY_KIND) and an agent status (AGENT_STATUS_*)
    *(Case(f"{kind}-collab-end-{name}", ALL, with_agent_end(kind, body), want)
      for kind, name, body, want in COLLAB_CASES),
]
# the kit's reducer profile, and (Codex tier) the real reducer, on every case (verdict_tests)
test_reducer_profile_gives_the_reference_reducers_verdict, test_the_reference_reducer_gives_the_expected_verdict = (
    verdict_tests(CASES))
