"""Wrong verdicts the differential engine found in v2 and v3 (issue 18, `codex diff`), each on a
minimal bundle: the kit's reducer profile must give the real reducer's verdict. The Codex tier
(``--codex -m codex``) replays every case through the reference reducer of its dialect.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable

import pytest

from rollout_trace_kit.bundle import Bundle
from rollout_trace_kit.model import bodies as B

from ._helpers import as_release_writes, real_reduce, reducer_errors
from .test_reducer_verdicts_bodies import (
    ALL, CHILD, OUTPUT, ROOT, TURN, USER, Case, Payloads, accepted_output, call, inference, minimal, tool_started,
    turn, verdict_tests, with_items, with_two_inferences,
)

CHILD_UUID = "01a2139c-be82-7122-b5b2-7c62fb23c95b"
SPAWN_ARGS = json.dumps({"message": "CHILD-TASK", "task_name": "child"})
DEEP = "[" * 1000 + "]" * 1000  # arguments nesting past Python's parser (974 levels and more)


def activity(kind: str = "started", **extra: Any) -> dict:
    return {"model": "gpt-5.5", "reasoning_effort": "medium", "event_id": "call-1", "occurred_at_ms": 5,
            "agent_thread_id": CHILD_UUID, "agent_path": "/root/child", "kind": kind, **extra}


def invocation(arguments: Any = SPAWN_ARGS, payload_type: str = "function") -> dict:
    key = "arguments" if payload_type == "function" else "input"
    return {"tool_name": "spawn_agent", "tool_namespace": "collaboration", "payload": {"type": payload_type, key: arguments}}


def with_agent_call(tool_kind: str = "spawn_agent", invoked: Any = "default", ended: Any = None,
                    runtime_end: bool = True) -> Callable[[str], Bundle]:
    """A multi-agent tool call of the root turn: its start (invocation body ``invoked``; None: a null
    ref) and a runtime end whose body is ``ended`` (default: a started activity)."""
    def build(dialect: str) -> Bundle:
        ps = Payloads(dialect)
        body = invocation() if invoked == "default" else invoked
        started = tool_started(tool_kind, None if body is None else ps.add("tool_invocation", body))
        events = [turn(), (ROOT, TURN, started)]
        if runtime_end:
            end = {"type": "tool_call_runtime_ended", "tool_call_id": "call-1", "status": "completed",
                   "runtime_payload": ps.add("tool_runtime_event", activity() if ended is None else ended)}
            events.append((ROOT, TURN, end))
        return minimal(dialect, events, ps.bodies)
    return build


def with_request_kinds(request: str = "inference_request", prompt: str = "prepared_prompt") -> Callable[[str], Bundle]:
    """An inference start whose request (and, v3, prepared prompt) ref carries these kinds."""
    def build(dialect: str) -> Bundle:
        ps = Payloads(dialect)
        events = inference(ps, "inf-1", [USER])
        start = events[0][2]
        start["request_payload"]["kind"] = {"type": request}
        if "prepared_prompt_payload" in start:
            start["prepared_prompt_payload"]["kind"] = {"type": prompt}
        return minimal(dialect, [turn(), *events], ps.bodies)
    return build


def with_prompt_body(body: Any, parts: list | None = None) -> Callable[[str], Bundle]:
    """An inference start whose prepared prompt holds ``body``, its ref with ``parts``: model items, or
    (body, inner parts) for a part that has parts of its own (None: no parts key)."""
    def build(dialect: str) -> Bundle:
        ps = Payloads(dialect)
        extra = {}
        if parts is not None:
            refs = []
            for p in parts:
                if isinstance(p, tuple):
                    inner = [ps.add("model_item", x) for x in p[1]]
                    refs.append(ps.add("model_item", p[0], parts=inner))
                else:
                    refs.append(ps.add("model_item", p))
            extra["parts"] = refs
        start = {"type": "inference_started", "inference_call_id": "inf-1", "thread_id": ROOT, "codex_turn_id": TURN,
                 "model": "gpt-5.5", "provider_name": "openai", "request_payload": ps.add("inference_request", {"input": [USER]}),
                 "prepared_prompt_payload": ps.add("prepared_prompt", body, **extra)}
        return minimal(dialect, [turn(), (ROOT, TURN, start)], ps.bodies)
    return build


def deep(levels: int) -> list:
    out: list = []
    for _ in range(levels - 1):
        out = [out]
    return out


def with_runtime(tool_kind: str, begin: Any, end: Any, runtime_kind: Any = None) -> Callable[[str], Bundle]:
    """A tool call of ``tool_kind`` (no invocation) with a runtime start holding ``begin`` (None: no runtime
    start) and a runtime end holding ``end``; v2 on, the start names its kind: ``runtime_kind`` (default:
    the call's)."""
    def build(dialect: str) -> Bundle:
        ps = Payloads(dialect)
        kind = {"type": tool_kind}
        started = tool_started(kind)
        run = None if begin is None else {
            "type": "tool_call_runtime_started", "tool_call_id": "call-1",
            **({"kind": kind if runtime_kind is None else {"type": runtime_kind}} if dialect != "v1" else {}),
            "runtime_payload": ps.add("tool_runtime_event", begin)}
        end_ = {"type": "tool_call_runtime_ended", "tool_call_id": "call-1", "status": "completed",
                "runtime_payload": ps.add("tool_runtime_event", end)}
        events = (started, end_) if run is None else (started, run, end_)
        return minimal(dialect, [turn(), *((ROOT, TURN, e) for e in events)], ps.bodies)
    return build


EXEC_BEGIN = {"call_id": "call-1", "process_id": "1", "turn_id": TURN, "command": ["ls"], "cwd": "/w", "source": "x"}
EXEC_END = {**EXEC_BEGIN, "aggregated_output": "", "exit_code": 0, "status": "completed"}
PATCH_BEGIN = {"call_id": "call-1", "turn_id": TURN, "auto_approved": True, "changes": {}}
PATCH_END = {"call_id": "call-1", "turn_id": TURN, "stdout": "", "stderr": "", "success": True, "changes": {},
             "status": "completed"}
# a key nesting 126 levels under the body's object: 127 in all, the deepest 0.169.0 and 0.171.0 parse
READ, TOO_DEEP = deep(126), deep(127)
NESTING = frozenset({"REF.NESTING"})
def with_literal(old: bytes, new: bytes, line: int = 2) -> Callable[[str], Bundle]:
    """A bundle with a root turn whose event ``line`` (0-based) has ``old`` written as ``new``."""
    def build(dialect: str) -> Bundle:
        bundle = minimal(dialect, [turn()])
        assert old in bundle.lines[line]
        bundle.lines[line] = bundle.lines[line].replace(old, new)
        return bundle
    return build


SEARCH = {"type": "tool_search_call", "status": "completed", "id": "ts-1", "call_id": "call-1", "execution": "client",
          "arguments": {"q": "a"}}
WEB = {"type": "web_search_call", "id": "ws-1", "status": "completed", "action": {"type": "search", "query": "q"},
       "call_id": "call-1"}
CUSTOM = {"type": "custom_tool_call", "name": "exec_command", "input": "{}", "call_id": "call-1"}
CUSTOM_NAMELESS = {"type": "custom_tool_call", "status": "completed", "call_id": "call-1", "input": "x"}
REUSED = frozenset({"BODY.CALL_ID_CONTENT"})
def with_write_stdin(invocation: Any) -> Callable[[str], Bundle]:
    """An exec_command call running, then a write_stdin call started with this invocation body (None: a null ref)."""
    def build(dialect: str) -> Bundle:
        ps = Payloads(dialect)

        def start(call_id: str, kind: str, body: Any) -> dict:
            return tool_started(kind, None if body is None else ps.add("tool_invocation", body), call_id=call_id)
        exec_ = start("call-1", "exec_command", {"tool_name": "exec_command", "tool_namespace": None,
                                                "payload": {"type": "function", "arguments": '{"cmd":"cat"}'}})
        run = {"type": "tool_call_runtime_started", "tool_call_id": "call-1",
               **({"kind": {"type": "exec_command"}} if dialect != "v1" else {}),
               "runtime_payload": ps.add("tool_runtime_event", EXEC_BEGIN)}
        events = [exec_, run, start("call-2", "write_stdin", invocation)]
        return minimal(dialect, [turn(), *((ROOT, TURN, e) for e in events)], ps.bodies)
    return build


def stdin_invocation(arguments: str = '{"session_id": 1, "chars": "x"}', **extra: Any) -> dict:
    return {"tool_name": "write_stdin", "tool_namespace": None, "payload": {"type": "function", "arguments": arguments}, **extra}


def with_agent_message(extra: dict) -> Callable[[str], Bundle]:
    """An inter-agent message accepted into the root thread's history, its body holding ``extra``."""
    def build(dialect: str) -> Bundle:
        ps = Payloads(dialect)
        body = {"type": "agent_message", "id": "amsg-1", "author": "/root/child", "recipient": "/root",
                "content": [{"type": "input_text", "text": "done"}], **extra}
        accepted = {"type": "history_item_accepted", "item_id": "amsg-1", "agent_message_payload": ps.add("protocol_event", body)}
        return minimal(dialect, [turn(), (ROOT, TURN, accepted)], ps.bodies)
    return build


DISPATCH = frozenset({"BODY.DISPATCH_INVOCATION"})
ITEM = frozenset({"BODY.MODEL_ITEM"})
AGENT = frozenset({"BODY.AGENT_ACTIVITY"})
PROMPT = frozenset({"BODY.PREPARED_PROMPT"})
MISLABELED = frozenset({"REF.KIND_CHECKED"})
CASES = [
    # v2 001 ref.conflict (seed 0): the invocation ref names another kind's body (no function arguments)
    Case("activity-invocation-without-function-arguments", ALL, with_agent_call(invoked={"thread_id": CHILD}), AGENT),
    Case("activity-invocation-null", ALL, with_agent_call(invoked=None), AGENT),
    Case("activity-invocation-custom-input", ALL, with_agent_call(invoked=invocation("x", "custom")), AGENT),
    Case("activity-invocation-arguments-not-json", ALL, with_agent_call(invoked=invocation("not json")), AGENT),
    Case("activity-invocation-arguments-without-message", ALL, with_agent_call(invoked=invocation('{"task_name":"t"}')), AGENT),
    Case("activity-invocation-message-a-number", ALL, with_agent_call(invoked=invocation('{"message":5}')), AGENT),
    Case("activity-invocation-message-only", ALL, with_agent_call(invoked=invocation('{"message":"x"}')), frozenset()),
    # the arguments by serde_json's syntax and the message as a typed field (measured on 0.164.0, 0.169.0, 0.171.0)
    *(Case(f"activity-arguments-holding-{name}", ALL, with_agent_call(invoked=invocation('{"message":"x","a":' + value + "}")),
           AGENT) for name, value in (("nan", "NaN"), ("infinity", "Infinity"))),
    Case("activity-arguments-holding-4301-digits", ALL,
         with_agent_call(invoked=invocation('{"message":"x","a":' + "9" * 4301 + "}")), frozenset()),
    Case("activity-arguments-nesting-1500-levels", ALL,
         with_agent_call(invoked=invocation('{"message":"x","a":' + "[" * 1500 + "]" * 1500 + "}")), frozenset()),
    Case("activity-arguments-unclosed-1500-levels", ALL,
         with_agent_call(invoked=invocation('{"message":"x","a":' + "[" * 1500 + "}")), AGENT),
    Case("activity-message-twice", ALL, with_agent_call(invoked=invocation('{"message":"x","message":"y"}')), AGENT),
    Case("activity-other-key-twice", ALL, with_agent_call(invoked=invocation('{"message":"x","a":1,"a":2}')), frozenset()),
    Case("activity-message-lone-surrogate", ALL, with_agent_call(invoked=invocation('{"message":"\\ud800"}')), AGENT),
    Case("activity-other-key-lone-surrogate", ALL,
         with_agent_call(invoked=invocation('{"message":"x","a":"\\ud800"}')), frozenset()),
    # serde also reads the arguments' struct from an array of its fields' values (model: ARGUMENTS_AS_ARRAY)
    *(Case(f"activity-arguments-array-{name}", ALL, with_agent_call(invoked=invocation(text)), want)
      for name, text, want in (
          ("of-the-message", ' ["x"] ', frozenset()), ("empty", "[]", AGENT), ("of-two", '["x",1]', AGENT),
          ("of-a-number", "[5]", AGENT), ("of-null", "[null]", AGENT), ("of-a-lone-surrogate", '["\\ud800"]', AGENT))),
    # arguments nesting deeper than Python's parser goes: their top level is still typed (the kit said nothing:
    # the review of session 9, measured on 0.164.0, 0.169.0 and 0.171.0)
    *(Case(f"activity-arguments-deep-{name}", ALL, with_agent_call(invoked=invocation(text.replace("D", DEEP))), want)
      for name, text, want in (
          ("with-a-message", '{"a":D,"message":"x"}', frozenset()), ("without-a-message", '{"a":D}', AGENT),
          ("message-a-number", '{"a":D,"message":5}', AGENT), ("message-twice", '{"a":D,"message":"x","message":"y"}', AGENT),
          ("message-lone-surrogate", '{"a":D,"message":"\\ud800"}', AGENT), ("message-deep", '{"message":D}', AGENT),
          ("message-escaped-key", '{"mess\\u0061ge":"x","a":D}', frozenset()), ("an-array", "D", AGENT),
          ("array-of-the-message-and-more", '[ "x" ,D ]', AGENT))),
    Case("spawn-without-activity-has-any-invocation", ALL, with_agent_call(invoked=invocation("{}"), runtime_end=False),
         frozenset()),
    Case("completed-activity-reads-no-invocation", ALL, with_agent_call(invoked=None, ended=activity("completed")), frozenset()),
    Case("interrupted-close-reads-no-invocation", ALL,
         with_agent_call("close_agent", invoked=invocation("{}"), ended=activity("interrupted")), frozenset()),
    Case("interacted-send-message-reads-the-invocation", ALL,
         with_agent_call("send_message", invoked=invocation("{}"), ended=activity("interacted")), AGENT),
    Case("interacted-activity-of-a-spawn", ALL, with_agent_call(ended=activity("interacted")), AGENT),
    Case("started-activity-of-an-assign", ALL, with_agent_call("assign_agent_task", ended=activity("started")), AGENT),
    Case("started-activity-of-a-wait", ALL, with_agent_call("wait_agent", ended=activity("started")), AGENT),
    Case("completed-activity-of-a-wait", ALL, with_agent_call("wait_agent", ended=activity("completed")), frozenset()),
    Case("activity-of-an-unknown-kind", ALL, with_agent_call(ended=activity("closed")), AGENT),
    Case("activity-agent-thread-not-a-uuid", ALL, with_agent_call(ended=activity(agent_thread_id="child")), AGENT),
    Case("activity-agent-thread-simple-uuid", ALL,
         with_agent_call(ended=activity(agent_thread_id=CHILD_UUID.replace("-", ""))), frozenset()),
    Case("activity-agent-path-relative", ALL, with_agent_call(ended=activity(agent_path="child")), AGENT),
    Case("activity-without-event-id", ALL,
         with_agent_call(ended={k: v for k, v in activity().items() if k != "event_id"}), AGENT),
    Case("activity-occurred-at-null", ALL, with_agent_call(ended=activity(occurred_at_ms=None)), AGENT),
    Case("activity-model-a-number", ALL, with_agent_call(ended=activity(model=5)), AGENT),
    Case("activity-any-reasoning-effort-string", ALL, with_agent_call(ended=activity(reasoning_effort="zz")), frozenset()),
    Case("wait-runtime-body-not-an-activity", ALL, with_agent_call("wait_agent", ended={}), frozenset()),
    # v3 002 ref.kind (seed 0): 0.171.0 checks the kinds of an inference's request evidence (release data:
    # Field.kind_checked_since); 0.169.0 does not
    Case("request-ref-of-another-kind", ("v3",), with_request_kinds(request="tool_invocation"), MISLABELED),
    Case("prompt-ref-of-another-kind", ("v3",), with_request_kinds(prompt="inference_request"), MISLABELED),
    Case("request-ref-of-another-kind", ("v1", "v2"), with_request_kinds(request="tool_invocation"), frozenset()),
    Case("request-evidence-labelled-as-written", ALL, with_request_kinds(), frozenset()),
    # v3 001 ref.parts (seed 0): a prompt without parts (absent or empty) is read as any JSON
    Case("prompt-without-parts-two-fragments", ("v3",), with_prompt_body(B.prompt_fragments(1)), frozenset()),
    Case("prompt-with-empty-parts-two-fragments", ("v3",), with_prompt_body(B.prompt_fragments(1), []), frozenset()),
    Case("prompt-with-empty-parts-an-object", ("v3",), with_prompt_body({}, []), frozenset()),
    Case("prompt-without-parts-not-json-fragments", ("v3",), with_prompt_body(["x"]), frozenset()),
    Case("prompt-without-parts-null", ("v3",), with_prompt_body(None), frozenset()),
    Case("prompt-with-parts-an-object", ("v3",), with_prompt_body({}, [USER]), PROMPT),
    Case("prompt-with-parts-too-few-fragments", ("v3",), with_prompt_body(B.prompt_fragments(0), [USER]), PROMPT),
    # v3 004 ref.parts (seed 0): a part with parts of its own is assembled from fragments too
    Case("part-with-parts-an-object", ("v3",), with_prompt_body(B.prompt_fragments(1), [(USER, [USER])]), PROMPT),
    Case("part-with-parts-too-many-fragments", ("v3",), with_prompt_body(B.prompt_fragments(1), [(["[", ",", "]"], [USER])]),
         PROMPT),
    Case("part-with-parts-bad-splice", ("v3",), with_prompt_body(B.prompt_fragments(1), [(["{", "}"], [USER])]), PROMPT),
    Case("part-with-parts-that-splice", ("v3",), with_prompt_body(B.prompt_fragments(1), [(["[", "]"], [USER])]), frozenset()),
    Case("part-with-empty-parts-an-object", ("v3",), with_prompt_body(B.prompt_fragments(1), [(USER, [])]), frozenset()),
    # REF.NESTING per runtime kind (model: Dialect.runtime_depth_limits): a patch start is not parsed deep,
    # its end and an exec's start and end are
    Case("patch-start-nested-deep", ("v2", "v3"), with_runtime("apply_patch", {**PATCH_BEGIN, "zz": TOO_DEEP}, PATCH_END),
         frozenset()),
    Case("patch-end-nested-deep", ("v2", "v3"), with_runtime("apply_patch", PATCH_BEGIN, {**PATCH_END, "zz": TOO_DEEP}),
         NESTING),
    Case("patch-end-nested-as-deep-as-read", ("v2", "v3"), with_runtime("apply_patch", PATCH_BEGIN, {**PATCH_END, "zz": READ}),
         frozenset()),
    Case("exec-start-nested-deep", ("v2", "v3"), with_runtime("exec_command", {**EXEC_BEGIN, "zz": TOO_DEEP}, EXEC_END),
         NESTING),
    Case("exec-end-nested-deep", ("v2", "v3"), with_runtime("exec_command", EXEC_BEGIN, {**EXEC_END, "zz": TOO_DEEP}), NESTING),
    # up to 0.165.0 a runtime start's `invocation` is parsed as an MCP invocation, whatever the tool kind
    # (model: MCP_INVOCATION_UNTIL): 0.164.0 rejects one without `server`, 0.169.0 and 0.171.0 take any
    Case("exec-start-invocation-null", ("v1",), with_runtime("exec_command", {**EXEC_BEGIN, "invocation": None}, EXEC_END),
         frozenset({"BODY.MCP_INVOCATION"})),
    Case("exec-start-invocation-without-server", ("v1",),
         with_runtime("exec_command", {**EXEC_BEGIN, "invocation": {"tool": "t"}}, EXEC_END), frozenset({"BODY.MCP_INVOCATION"})),
    Case("exec-start-invocation-a-server-and-tool", ALL,
         with_runtime("exec_command", {**EXEC_BEGIN, "invocation": {"server": "s", "tool": "t"}}, EXEC_END), frozenset()),
    Case("exec-start-invocation-null", ("v2", "v3"),
         with_runtime("exec_command", {**EXEC_BEGIN, "invocation": None}, EXEC_END), frozenset()),
    # seed 4, v2 body.string_escape: a lone surrogate in a runtime body read by its kind
    *(Case("exec-end-lone-surrogate", (d,), with_runtime("exec_command", EXEC_BEGIN,
                                                         json.dumps({**EXEC_END, "source": "x\ud800"}).encode()),
           frozenset({inv})) for d, inv in (("v2", "REF.JSON"), ("v3", "STORE.BODY_JSON"))),
    Case("patch-start-lone-surrogate", ("v2", "v3"), with_runtime("apply_patch", json.dumps({**PATCH_BEGIN, "zz": "x\ud800"}).encode(), PATCH_END),
         frozenset()),
    Case("spawn-activity-nested-deep", ("v2", "v3"), with_agent_call(ended=activity(zz=TOO_DEEP)), NESTING),
    # index 50614 of the 100,000-mutant run (0.171.0): a spawn's invocation is parsed when its started
    # activity reads the arguments (model: Dialect.deferred_depth_limits); 0.164.0 and 0.169.0 parse
    # every invocation at the call's start (body_depth_limits)
    Case("spawn-invocation-nested-deep", ALL, with_agent_call(invoked={**invocation(), "zz": TOO_DEEP}), NESTING),
    Case("spawn-invocation-payload-nested-deep", ALL,
         with_agent_call(invoked={**invocation(), "payload": {**invocation()["payload"], "zz": deep(126)}}), NESTING),
    Case("spawn-invocation-nested-as-deep-as-read", ALL, with_agent_call(invoked={**invocation(), "zz": READ}), frozenset()),
    Case("spawn-invocation-nested-deep-without-activity", ("v3",),
         with_agent_call(invoked={**invocation(), "zz": TOO_DEEP}, runtime_end=False), frozenset()),
    Case("spawn-invocation-nested-deep-without-activity", ("v1", "v2"),
         with_agent_call(invoked={**invocation(), "zz": TOO_DEEP}, runtime_end=False), NESTING),
    # seed 2, v3 body.nesting: an accepted history item is parsed as a model item (model: Dialect.field_depth_limits)
    Case("accepted-tool-output-nested-deep", ("v3",), accepted_output({**OUTPUT, "zz": TOO_DEEP}), NESTING),
    Case("accepted-tool-output-as-deep-as-read", ("v3",), accepted_output({**OUTPUT, "zz": READ}), frozenset()),
    Case("accepted-agent-message-nested-deep", ("v2", "v3"), with_agent_message({"zz": TOO_DEEP}), NESTING),
    Case("accepted-agent-message-as-deep-as-read", ("v2", "v3"), with_agent_message({"zz": READ}), frozenset()),
    # its metadata passthrough is typed by 0.169.0 and 0.170.0, not 0.171.0 (model: AGENT_MESSAGE_PASSTHROUGH; the
    # 100,000-mutant run of session 9 on 0.169.0, index 95802: a create_time turned into an array)
    *(Case(f"accepted-agent-message-passthrough-{name}", (dialect,),
           with_agent_message({B.AGENT_MESSAGE_PASSTHROUGH: value}), want if dialect == "v2" else frozenset())
      for dialect in ("v2", "v3")
      for name, value, want in (
          ("of-the-writer", {"turn_id": "t", "create_time": 1795625351.5, "content_item_metadata": [{"x": 1}]}, frozenset()),
          ("null", None, frozenset()), ("empty", {}, frozenset()), ("a-number", 5, ITEM), ("a-string", "x", ITEM),
          ("create-time-an-array", {"create_time": []}, ITEM), ("create-time-a-string", {"create_time": "1"}, ITEM),
          ("create-time-true", {"create_time": True}, ITEM), ("create-time-negative", {"create_time": -1}, frozenset()),
          ("turn-id-a-number", {"turn_id": 5}, ITEM), ("turn-id-null", {"turn_id": None}, frozenset()),
          ("other-keys-anything", {"content_item_metadata": 5, "zz": [1]}, frozenset()),
          ("as-an-array", ["t", 1.5, [], 1, 2], frozenset()), ("as-an-empty-array", [], frozenset()),
          ("as-an-array-of-six", ["t", 1.5, [], 1, 2, 3], ITEM), ("as-an-array-turn-id-a-number", [5], ITEM),
          ("as-an-array-create-time-a-string", [None, "x"], ITEM))),
    # a content part in sequence form is read where parts are checked (model: AGENT_MESSAGE_PART_SEQUENCE; the
    # 100,000-mutant run of session 10 on 0.169.0, index 43972)
    *(Case(f"accepted-agent-message-part-{name}", ("v2", "v3"), with_agent_message({"content": parts}), want)
      for name, parts, want in (
          ("as-an-array", [["input_text", "x"]], frozenset()), ("encrypted-as-an-array", [["encrypted_content", "x"]], frozenset()),
          ("as-an-array-after-an-object", [{"type": "input_text", "text": "a"}, ["input_text", "x"]], frozenset()),
          ("as-a-short-array", [["input_text"]], ITEM), ("as-an-array-text-a-number", [["input_text", 5]], ITEM),
          ("as-an-array-of-another-type", [["zzz", "x"]], ITEM), ("as-a-long-array", [["input_text", "x", None]], ITEM),
          ("as-an-empty-array", [[]], ITEM))),
    # seed 1, v2 value.envelope.int_edge: serde_json reads `-0` as a float
    Case("wall-time-minus-zero", ALL, with_literal(b'"wall_time_unix_ms":1003', b'"wall_time_unix_ms":-0'),
         frozenset({"EVENT.INTEGER_FORM"})),
    Case("wall-time-zero", ALL, with_literal(b'"wall_time_unix_ms":1003', b'"wall_time_unix_ms":0'), frozenset()),
    # seed 1, v3 body.item: function, tool search and web search calls share a call-id space (model:
    # ItemType.compared_as); a custom tool call has its own
    Case("tool-search-then-function-call-of-one-id", ALL, with_items([USER, SEARCH, call("{}")]), REUSED),
    Case("function-call-then-tool-search-of-one-id", ("v2", "v3"), with_items([USER, call("{}"), SEARCH]), REUSED),
    Case("web-search-then-tool-search-of-one-id", ("v2", "v3"), with_items([USER, WEB, SEARCH]), REUSED),
    Case("tool-search-reused-with-other-arguments", ("v2", "v3"), with_items([USER, SEARCH, {**SEARCH, "arguments": {"q": "b"}}]),
         REUSED),
    Case("tool-search-resent", ("v2", "v3"), with_items([USER, SEARCH, SEARCH]), frozenset()),
    Case("custom-call-then-function-call-of-one-id", ("v2", "v3"), with_items([USER, CUSTOM, call('{"a":1}')]), frozenset()),
    Case("custom-call-then-tool-search-of-one-id", ("v2", "v3"), with_items([USER, CUSTOM, SEARCH]), frozenset()),
    # a write_stdin call's invocation is parsed as its dispatch payload (model: PARSED_INVOCATIONS)
    Case("write-stdin-invocation", ALL, with_write_stdin(stdin_invocation()), frozenset()),
    Case("write-stdin-invocation-null", ALL, with_write_stdin(None), frozenset()),
    Case("write-stdin-with-exec-invocation", ALL, with_write_stdin(stdin_invocation(tool_name="exec_command")), DISPATCH),
    Case("write-stdin-without-tool-name", ALL,
         with_write_stdin({k: v for k, v in stdin_invocation().items() if k != "tool_name"}), DISPATCH),
    Case("write-stdin-custom-payload", ALL,
         with_write_stdin(stdin_invocation() | {"payload": {"type": "custom", "input": "x"}}), DISPATCH),
    # a namespaced tool's invocation is not parsed as a dispatch payload (found by fuzz-reducer
    # --release 0.164.0: an MCP tool's invocation on a write_stdin call was accepted)
    Case("write-stdin-namespaced-invocation-of-another-tool", ALL,
         with_write_stdin(stdin_invocation('{"text":"x"}', tool_name="echo", tool_namespace="mcp__mockmcp")), frozenset()),
    Case("write-stdin-namespace-a-number", ALL, with_write_stdin(stdin_invocation(tool_namespace=5)), DISPATCH),
    # the dispatch payload in serde's sequence form (model: DISPATCH_LAYOUT, DISPATCH_FUNCTION_LAYOUT)
    Case("write-stdin-invocation-as-an-array", ALL, with_write_stdin(list(stdin_invocation().values())), frozenset()),
    Case("write-stdin-invocation-payload-as-an-array", ALL,
         with_write_stdin({**stdin_invocation(), "payload": list(stdin_invocation()["payload"].values())}), frozenset()),
    Case("write-stdin-invocation-as-a-short-array", ALL, with_write_stdin(list(stdin_invocation().values())[:2]), DISPATCH),
    Case("write-stdin-invocation-as-an-array-of-another-tool", ALL,
         with_write_stdin(["exec_command", *list(stdin_invocation().values())[1:]]), DISPATCH),
    Case("write-stdin-namespaced-invocation-as-an-array", ALL,
         with_write_stdin(["echo", "mcp__mockmcp", {"type": "function", "arguments": '{"text":"x"}'}]), frozenset()),
    Case("write-stdin-arguments-without-session", ("v1",), with_write_stdin(stdin_invocation('{"chars":"x"}')), DISPATCH),
    Case("write-stdin-arguments-without-session", ("v2", "v3"), with_write_stdin(stdin_invocation('{"chars":"x"}')),
         frozenset()),
    # the dispatch arguments by serde_json's syntax (measured on 0.125.0 and 0.164.0; v2 and v3 do not parse them)
    *(Case(f"write-stdin-arguments-holding-{name}", ("v1",),
           with_write_stdin(stdin_invocation('{"session_id":1,"chars":"x","a":' + value + "}")), DISPATCH)
      for name, value in (("nan", "NaN"), ("infinity", "Infinity"))),
    Case("write-stdin-arguments-holding-4301-digits", ("v1",),
         with_write_stdin(stdin_invocation('{"session_id":1,"chars":"x","a":' + "9" * 4301 + "}")), frozenset()),
    Case("write-stdin-arguments-nesting-1500-levels", ("v1",),
         with_write_stdin(stdin_invocation('{"session_id":1,"chars":"x","a":' + "[" * 1500 + "]" * 1500 + "}")), frozenset()),
    # write_stdin's arguments are a typed struct (model/bodies.py: DISPATCH_ARGUMENT_FIELDS; 0.125.0 and 0.164.0)
    *(Case(f"write-stdin-arguments-{name}", ("v1",), with_write_stdin(stdin_invocation(text.replace("D", DEEP))), want)
      for name, text, want in (
          ("session-a-string", '{"session_id":"abc"}', frozenset()),
          ("session-a-fraction", '{"session_id":1.5}', frozenset()),
          ("session-1e400", '{"session_id":1e400}', frozenset()),
          ("session-null", '{"session_id":null}', DISPATCH),
          ("session-true", '{"session_id":true}', DISPATCH),
          ("session-an-array", '{"session_id":[1]}', DISPATCH),
          ("session-lone-surrogate", '{"session_id":"\\ud800"}', DISPATCH),
          ("session-twice", '{"session_id":1,"session_id":2}', DISPATCH),
          ("chars-null", '{"session_id":1,"chars":null}', DISPATCH),
          ("chars-a-number", '{"session_id":1,"chars":5}', DISPATCH),
          ("chars-twice", '{"session_id":1,"chars":"x","chars":"x"}', DISPATCH),
          ("chars-lone-surrogate", '{"session_id":1,"chars":"\\ud800"}', DISPATCH),
          ("yield-null", '{"session_id":1,"yield_time_ms":null}', frozenset()),
          ("yield-u64-max", '{"session_id":1,"yield_time_ms":18446744073709551615}', frozenset()),
          ("yield-past-u64", '{"session_id":1,"yield_time_ms":18446744073709551616}', DISPATCH),
          ("yield-negative", '{"session_id":1,"yield_time_ms":-1}', DISPATCH),
          ("yield-1.0", '{"session_id":1,"yield_time_ms":1.0}', DISPATCH),
          ("yield-1e2", '{"session_id":1,"yield_time_ms":1e2}', DISPATCH),
          ("yield-a-string", '{"session_id":1,"yield_time_ms":"1"}', DISPATCH),
          ("yield-null-twice", '{"session_id":1,"yield_time_ms":null,"yield_time_ms":null}', DISPATCH),
          ("max-output-negative", '{"session_id":1,"max_output_tokens":-1}', DISPATCH),
          ("other-key-twice-and-a-surrogate", '{"session_id":1,"o":1,"o":"\\ud800"}', frozenset()),
          # serde reads `-0` as the float -0.0: no u64, a number (measured on 0.125.0 and 0.164.0)
          ("yield-minus-zero", '{"session_id":1,"yield_time_ms":-0}', DISPATCH),
          ("max-output-minus-zero", '{"session_id":1,"max_output_tokens":-0}', DISPATCH),
          ("session-minus-zero", '{"session_id":-0}', frozenset()),
          # an array of the fields' values, all four (model: ARGUMENTS_AS_ARRAY)
          ("array-of-four", '[1,"x",null,null]', frozenset()), ("array-of-four-values", '["s","x",5,6]', frozenset()),
          ("array-of-one", "[1]", DISPATCH), ("array-of-three", '[1,"x",null]', DISPATCH),
          ("array-of-five", '[1,"x",null,null,5]', DISPATCH), ("array-session-null", '[null,"x",null,null]', DISPATCH),
          ("array-yield-minus-zero", '[1,"x",-0,null]', DISPATCH), ("array-session-minus-zero", '[-0,"x",null,null]', frozenset()),
          # deeper than Python's parser goes
          ("deep-with-a-session", '{"a":D,"session_id":1}', frozenset()), ("deep-without-a-session", '{"a":D}', DISPATCH),
          ("deep-yield-negative", '{"a":D,"session_id":1,"yield_time_ms":-1}', DISPATCH),
          ("deep-session-twice", '{"a":D,"session_id":1,"session_id":2}', DISPATCH),
          ("deep-array-of-four", '[1,"x",null,D]', DISPATCH),
      )),
    # seed 3, v2 body.item: a custom call's name is compared by presence only
    Case("custom-call-without-name-then-with-one", ("v2", "v3"),
         with_two_inferences({**CUSTOM_NAMELESS}, {**CUSTOM_NAMELESS, "name": "exec"}), REUSED),
    Case("custom-call-with-name-then-null", ("v2", "v3"),
         with_two_inferences({**CUSTOM_NAMELESS, "name": "exec"}, {**CUSTOM_NAMELESS, "name": None}), REUSED),
    Case("custom-call-with-two-names", ("v2", "v3"),
         with_two_inferences({**CUSTOM_NAMELESS, "name": "a"}, {**CUSTOM_NAMELESS, "name": "b"}), frozenset()),
    # index 58793 of the 100,000-mutant run (0.171.0, body.null_absent): the name is compared only as
    # whether it is code mode's `exec` (model: ItemType.call_equals), on 0.164.0, 0.169.0 and 0.171.0
    Case("custom-call-with-null-name-then-apply-patch", ALL,
         with_two_inferences({**CUSTOM_NAMELESS, "name": None}, {**CUSTOM_NAMELESS, "name": "apply_patch"}), frozenset()),
    Case("custom-call-apply-patch-then-nameless", ALL,
         with_two_inferences({**CUSTOM_NAMELESS, "name": "apply_patch"}, CUSTOM_NAMELESS), frozenset()),
    Case("custom-call-a-number-then-a-name", ALL,
         with_two_inferences({**CUSTOM_NAMELESS, "name": 5}, {**CUSTOM_NAMELESS, "name": "y"}), frozenset()),
    Case("custom-call-exec-then-another-name", ALL,
         with_two_inferences({**CUSTOM_NAMELESS, "name": "exec"}, {**CUSTOM_NAMELESS, "name": "y"}), REUSED),
    Case("custom-call-another-name-then-exec", ALL,
         with_two_inferences({**CUSTOM_NAMELESS, "name": "y"}, {**CUSTOM_NAMELESS, "name": "exec"}), REUSED),
    Case("custom-call-exec-resent", ALL,
         with_two_inferences({**CUSTOM_NAMELESS, "name": "exec"}, {**CUSTOM_NAMELESS, "name": "exec"}), frozenset()),
    Case("function-call-without-name-then-with-one", ("v2", "v3"),
         with_two_inferences({"type": "function_call", "call_id": "call-1", "arguments": "{}"},
                             {"type": "function_call", "call_id": "call-1", "arguments": "{}", "name": "exec"}), frozenset()),
    Case("unknown-key-minus-zero", ALL, with_literal(b'"wall_time_unix_ms":1003', b'"wall_time_unix_ms":1003,"zz":-0'),
         frozenset()),
]
# the kit's reducer profile, and (Codex tier) the real reducer, on every case (verdict_tests)
test_reducer_profile_gives_the_reference_reducers_verdict, test_the_reference_reducer_gives_the_expected_verdict = (
    verdict_tests(CASES))


def test_the_activity_table_names_multi_agent_tool_kinds_only():
    from rollout_trace_kit.model import DIALECTS
    from rollout_trace_kit.model.facts import agent_activity_tool_kinds

    kinds = agent_activity_tool_kinds(DIALECTS["v2"])
    for fits in B.ACTIVITY_KINDS.values():
        assert fits is None or set(fits) <= kinds


# A session_id beyond f64 where the release reads numbers without arbitrary precision (0.125.0; release data
# reducer.number_range), read by 0.164.0; the review of session 9 found the kit accepted it on 0.125.0.
WIDE_SESSIONS = [
    pytest.param(text, release, want, id=f"{name}-{release}")
    for name, text in (("1e400", '{"session_id":1e400}'), ("minus-1e400", '{"session_id":-1e400}'),
                       ("400-digits", '{"session_id":' + "9" * 400 + "}"),
                       ("5000-digits", '{"session_id":' + "9" * 5000 + "}"),
                       ("f64-max-rounded-up", '{"session_id":1.7976931348623158e308}'),
                       ("in-an-array", '[1e400,"x",null,null]'), ("deep", '{"a":' + DEEP + ',"session_id":1e400}'))
    for release, want in (("0.125.0", DISPATCH), ("0.164.0", frozenset()))
] + [pytest.param('{"session_id":1.7976931348623157e308}', "0.125.0", frozenset(), id="f64-max-0.125.0")]


def _wide_session_bundle(text: str, release: str, directory):
    return as_release_writes(with_write_stdin(stdin_invocation(text)), release).write(directory)


@pytest.mark.parametrize("text,release,want", WIDE_SESSIONS)
def test_a_session_id_beyond_f64_fails_where_the_release_has_no_arbitrary_precision(tmp_path, text, release, want):
    assert reducer_errors(_wide_session_bundle(text, release, tmp_path / "b"), release) == want


@pytest.mark.codex
@pytest.mark.parametrize("text,release,want", WIDE_SESSIONS)
def test_the_release_gives_the_expected_verdict_on_a_wide_session_id(tmp_path, text, release, want):
    run = real_reduce(release, _wide_session_bundle(text, release, tmp_path / "b"), tmp_path)
    assert run.accepted is (not want), run.stderr[:500]


# serde's sequence form (KIT.SEQUENCE_FORM): an object written as the array of its values. The reducers read a
# whole line, a payload (its tag first), a ref, a tool kind and the manifest so (measured on 0.164.0, 0.169.0,
# 0.171.0), so the kit declines to judge them; a `[kind]` payload kind, an empty array or a line of the wrong
# length fails every reader, and the kit says so.
def _as_sequence(obj: Any, path: tuple) -> Any:
    if not path:
        return list(obj.values())
    obj[path[0]] = _as_sequence(obj[path[0]], path[1:])
    return obj


def with_sequence_form(variant: str, path: tuple, extra: list | None = None,
                       events: Callable[[Payloads], list] | None = None) -> Callable[[str], Bundle]:
    """The first ``variant`` event of a root turn (and ``events``) with the object at ``path`` (of the event's
    JSON; () the whole line) as its values' array, ``extra`` appended."""
    def build(dialect: str) -> Bundle:
        ps = Payloads(dialect)
        bundle = minimal(dialect, [turn(), *(events(ps) if events else [])], ps.bodies)
        i = next(n for n, line in enumerate(bundle.lines) if json.loads(line)["payload"]["type"] == variant)
        event = _as_sequence(json.loads(bundle.lines[i]), path)
        if extra is not None:
            (event if not path else _at(event, path)).extend(extra)
        bundle.lines[i] = json.dumps(event).encode()
        return bundle
    return build


def _at(obj: Any, path: tuple) -> Any:
    for k in path:
        obj = obj[k]
    return obj


def with_manifest_as_sequence(dialect: str) -> Bundle:
    bundle = minimal(dialect, [turn()])
    bundle.manifest = json.dumps(list(json.loads(bundle.manifest).values())).encode()
    return bundle


DECLINED = frozenset({"KIT.SEQUENCE_FORM"})
SEQUENCE_FORMS = [
    # (name, build, the real reducer accepts it, the kit's reducer-profile errors)
    # a whole line is read as its envelope (a writer-level EVENT.SEQUENCE_FORM), its payload checked as ever
    ("whole-line", with_sequence_form("codex_turn_started", ()), True, frozenset()),
    ("whole-line-of-a-dangling-ref", with_sequence_form("inference_started", (), events=lambda ps: [
        (ROOT, TURN, {**inference(ps, "inf-1", [USER])[0][2],
                      "request_payload": {"raw_payload_id": "raw_payload:99", "kind": {"type": "inference_request"},
                                          "path": "payloads/99.json", "shard": 1}})]), False, None),
    ("payload", with_sequence_form("codex_turn_started", ("payload",)), True, DECLINED),
    ("ref", with_sequence_form("inference_started", ("payload", "request_payload"),
                               events=lambda ps: inference(ps, "inf-1", [USER])), True, DECLINED),
    ("tool-kind", with_sequence_form("tool_call_started", ("payload", "kind"),
                                     events=lambda ps: [(ROOT, TURN, tool_started("apply_patch", None))]), True, DECLINED),
    ("manifest", with_manifest_as_sequence, True, DECLINED),
    ("line-one-value-long", with_sequence_form("codex_turn_started", (), extra=[None]), False,
     frozenset({"EVENT.SCHEMA"})),
    ("payload-one-value-long", with_sequence_form("codex_turn_started", ("payload",), extra=[None]), False, DECLINED),
    # body structs whose field order the model does not hold (the reducers fail these arrays on their order)
    ("activity-body", with_agent_call(ended=list(activity().values())), False, DECLINED),
    ("exec-begin-body", with_runtime("exec_command", list(EXEC_BEGIN.values()), EXEC_END), False, DECLINED),
    ("exec-end-body", with_runtime("exec_command", EXEC_BEGIN, list(EXEC_END.values())), False, DECLINED),
]


SEQUENCE_PARAMS = [pytest.param(build, dialect, accepted, want, id=f"{name}-{dialect}")
                   for name, build, accepted, want in SEQUENCE_FORMS for dialect in ALL]


@pytest.mark.parametrize("build,dialect,accepted,want", SEQUENCE_PARAMS)
def test_the_kit_declines_the_sequence_form_the_reducers_read(tmp_path, build, dialect, accepted, want):
    from rollout_trace_kit.model import DIALECTS

    errors = reducer_errors(build(dialect).write(tmp_path / "b"), DIALECTS[dialect].reference_release)
    if want is None:  # judged as the object it stands for: what breaks it is found
        assert errors and "KIT.SEQUENCE_FORM" not in errors, errors
    else:
        assert want <= errors <= want | {"SEQ.NO_GAP"}  # a line not read leaves a gap where the seq is checked


@pytest.mark.codex
@pytest.mark.parametrize("build,dialect,accepted,want", SEQUENCE_PARAMS)
def test_the_reference_reducer_reads_the_sequence_form(tmp_path, build, dialect, accepted, want, codex_binaries):
    from rollout_trace_kit.codex.install import trace_reduce

    run = trace_reduce(Path(codex_binaries[dialect]), build(dialect).write(tmp_path / "b"), tmp_path / "s.json", timeout=120)
    assert run.accepted is accepted, run.stderr[:500]
