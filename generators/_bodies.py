"""Payload bodies shaped like the ones real Codex 0.164/0.169 bundles carry.

Every builder mirrors a payload seen in the shipped corpus (``rollout_trace_kit/conformance/corpus``) (same keys, same
nesting, same key order); only ids and texts vary. The reference reducers parse
several of these (thread metadata, inference requests/responses, exec runtime
payloads, sub-agent activity, compaction checkpoints), so the shapes are not
decoration: a wrong key makes ``codex debug trace-reduce`` reject the bundle.

What the reducers need is the model's (``model/bodies.py``), not this module's: the keys a
contract names, the item types, roles, content parts and call-id keys are read from it, and
every body a builder returns for a place a contract covers goes through :func:`conform`, which
adds each key the contract requires that the realistic shape lacks (with the contract's example
value) and each string an item type requires. A key added to a contract reaches every
generated body with no edit here.
"""

from __future__ import annotations

import copy
import json
from typing import Any

from ..model import bodies as MB

CWD = "/home/dev/project"
MODEL = "gpt-5.5"
# A v3 prepared prompt's fragments: the model's (what follows the input items is a 0.171.0 prompt's keys).
PROMPT_TAIL = MB.PROMPT_TAIL
prompt_fragments = MB.prompt_fragments
PROVIDER = "mock"

# The places the builders write (``variant.field`` of the contract, and its kind where one place has two).
METADATA = ("thread_started.metadata_payload", None)
AGENT_MESSAGE_BODY = ("history_item_accepted.agent_message_payload", None)
TOOL_OUTPUT_BODY = ("history_item_accepted.tool_output_payload", None)
REQUEST = ("inference_started.request_payload", None)
RESPONSE = ("inference_completed.response_payload", None)
INVOCATION = ("tool_call_started.invocation_payload", None)
RESULT = ("tool_call_ended.result_payload", None)
CELL_RESPONSE = ("code_cell_ended.response_payload", None)
EXEC_BEGIN = ("tool_call_runtime_started.runtime_payload", "terminal_runtime_event")
EXEC_END = ("tool_call_runtime_ended.runtime_payload", "terminal_runtime_event")
ACTIVITY = ("tool_call_runtime_ended.runtime_payload", "tool_runtime_event")
CHECKPOINT = ("compaction_installed.checkpoint_payload", None)
MODEL_ITEM = ("RawPayloadRef.parts", None)  # every model item: a v3 prompt's parts are stored one by one


_REQUIRED: dict[tuple[str, str | None], tuple[str, ...]] = {}
_REQUIRED_OF: list[object] = [None]  # the BODIES the memo was filled from (a test may swap the model's)


def conform(body: dict, place: tuple[str, str | None]) -> dict:
    """``body`` with every key the contract of ``place`` requires; one the realistic shape lacks
    takes the contract's example value (the model's: its reference page shows it)."""
    if _REQUIRED_OF[0] is not MB.BODIES:
        _REQUIRED.clear()
        _REQUIRED_OF[0] = MB.BODIES
    need = _REQUIRED.get(place)
    if need is None:
        need = _REQUIRED[place] = MB.required_keys(MB.contract(*place))
    for name in need:
        if name not in body:
            body[name] = copy.deepcopy(MB.contract(*place).example[name])
    return body


def conform_item(fields: dict) -> dict:
    """A model item with what every item needs (the model_item contract) and the strings its type
    requires (``ItemType.string_keys``)."""
    for key in MB.ITEM_TYPE[fields["type"]].string_keys:
        if not isinstance(fields.get(key), str):
            fields[key] = ""
    return conform(fields, MODEL_ITEM)


# -- threads and protocol events -------------------------------------------------------
def session_metadata(thread_id: str, agent_path: str, rollout_path: str, parent: dict | None) -> dict:
    """``thread_started.metadata_payload``; ``parent`` = spawn details for a child thread."""
    source: str | dict[str, Any]
    if parent is None:
        source, task, nickname = "exec", None, None
    else:
        task, nickname = parent["task_name"], parent["nickname"]
        source = {
            "subagent": {
                "thread_spawn": {
                    "parent_thread_id": parent["thread_id"],
                    "depth": parent["depth"],
                    "agent_path": agent_path,
                    "agent_nickname": nickname,
                    "agent_role": None,
                }
            }
        }
    return conform({
        "thread_id": thread_id,
        "agent_path": agent_path,
        "task_name": task,
        "nickname": nickname,
        "agent_role": None,
        "session_source": source,
        "cwd": CWD,
        "rollout_path": rollout_path,
        "model": MODEL,
        "provider_name": PROVIDER,
        "approval_policy": "never",
        "sandbox_policy": "DangerFullAccess",
    }, METADATA)


def session_configured(session_id: str, thread_id: str, parent_thread_id: str | None, rollout_path: str) -> dict:
    out: dict[str, Any] = {"type": "session_configured", "session_id": session_id, "thread_id": thread_id}
    if parent_thread_id is not None:
        out["parent_thread_id"] = parent_thread_id
    out.update(
        {
            "thread_source": "subagent" if parent_thread_id else "user",
            "model": MODEL,
            "model_provider_id": PROVIDER,
            "approval_policy": "never",
            "approvals_reviewer": "user",
            "permission_profile": {"type": "disabled"},
            "cwd": CWD,
            "rollout_path": rollout_path,
        }
    )
    return out


def task_started(turn_id: str, root_turn_id: str, parent_turn_id: str | None, initiator: str | None, now_s: int) -> dict:
    return {
        "type": "task_started",
        "turn_attribution": {
            "turn_id": turn_id,
            "turn_trigger": "exec",
            "parent_turn_id": parent_turn_id,
            "initiating_agent_path": initiator,
            "root_turn_id": root_turn_id,
        },
        "turn_id": turn_id,
        "root_turn_id": root_turn_id,
        "started_at": now_s,
        "model_context_window": 258400,
        "collaboration_mode_kind": "default",
    }


def task_complete(turn_id: str, root_turn_id: str, last_message: str | None, start_s: int, end_s: int, ms: int) -> dict:
    return {
        "type": "task_complete",
        "root_turn_id": root_turn_id,
        "turn_id": turn_id,
        "last_agent_message": last_message,
        "started_at": start_s,
        "completed_at": end_s,
        "duration_ms": ms,
        "time_to_first_token_ms": min(ms, 60),
    }


SHUTDOWN_COMPLETE = {"type": "shutdown_complete"}


# -- model items (Responses API) ------------------------------------------------------------
def input_message(item_id: str, role: str, text: str) -> dict:
    return conform_item({"type": MB.MESSAGE, "id": item_id, "role": role, "content": [{"type": "input_text", "text": text}]})


def assistant_message(item_id: str, text: str) -> dict:
    return conform_item({
        "type": MB.MESSAGE,
        "status": "completed",
        "id": item_id,
        "role": MB.ASSISTANT,
        "content": [{"type": "output_text", "text": text, "annotations": []}],
    })


def function_call(item_id: str, name: str, namespace: str | None, arguments: str, call_id: str) -> dict:
    out = {"type": MB.FUNCTION_CALL, "status": "completed", "id": item_id, "name": name}
    if namespace is not None:
        out["namespace"] = namespace
    out["arguments"] = arguments
    out[MB.CALL_ID] = call_id
    return conform_item(out)


def custom_tool_call(item_id: str, name: str, text: str, call_id: str) -> dict:
    return conform_item({"type": MB.CUSTOM_TOOL_CALL, "id": item_id, "status": "completed", MB.CALL_ID: call_id, "name": name,
                 "input": text})


def compaction_item(item_id: str, encrypted: str) -> dict:
    return conform_item({"type": MB.COMPACTION, "id": item_id, "encrypted_content": encrypted})


def resent(item: dict) -> dict:
    """An output item as the next request carries it: Codex drops the response's item id."""
    return {k: v for k, v in item.items() if k != "id"}


def call_output(item_id: str, custom: bool, call_id: str, output) -> dict:
    kind = MB.CUSTOM_TOOL_CALL_OUTPUT if custom else MB.FUNCTION_CALL_OUTPUT
    return conform(conform_item({"type": kind, "id": item_id, MB.CALL_ID: call_id, "output": output}), TOOL_OUTPUT_BODY)


def text_part(text: str) -> dict:
    """An agent message's text part (``AGENT_MESSAGE_PARTS``: the part type and the key its text is under)."""
    return {"type": "input_text", MB.AGENT_MESSAGE_PARTS["input_text"]: text}


def encrypted_part(text: str) -> dict:
    return {"type": "encrypted_content", MB.AGENT_MESSAGE_PARTS["encrypted_content"]: text}


def agent_message(item_id: str, author: str, recipient: str, content: list, turn_id: str, created: float) -> dict:
    """An inter-agent message as its protocol payload holds it (v2 ``agent_message_payload``)."""
    return conform(conform_item({
        "type": MB.AGENT_MESSAGE,
        "id": item_id,
        "author": author,
        "recipient": recipient,
        "content": content,
        "internal_chat_message_metadata_passthrough": {
            "turn_id": turn_id,
            "create_time": created,
            "content_item_metadata": [{"provenance": {"type": "tool", "namespace": "collaboration"}} for _ in content],
        },
    }), AGENT_MESSAGE_BODY)


def agent_message_item(payload: dict) -> dict:
    """The same message inside a model request (no passthrough metadata)."""
    return {k: v for k, v in payload.items() if k != "internal_chat_message_metadata_passthrough"}


# -- inference --------------------------------------------------------------------------------
def inference_request(items: list, thread_id: str, previous_response_id: str | None = None) -> dict:
    out = {"model": MODEL, "stream": True}
    if previous_response_id is not None:
        out[MB.REQUEST_PREVIOUS_RESPONSE] = previous_response_id
    out.update(
        {
            MB.REQUEST_INPUT: items,
            "tools": [],
            "tool_choice": "auto",
            "parallel_tool_calls": True,
            "reasoning": {"effort": "medium"},
            "store": False,
            "include": ["reasoning.encrypted_content"],
            "prompt_cache_key": thread_id,
            "text": {"verbosity": "low"},
        }
    )
    return conform(out, REQUEST)


def inference_response(response_id: str | None, request_id: str, items: list, partial: bool = False) -> dict:
    usage = None
    if not partial:
        usage = {
            "input_tokens": 1,
            "cached_input_tokens": 0,
            "cache_write_input_tokens": 0,
            "output_tokens": 1,
            "reasoning_output_tokens": 0,
            "total_tokens": 2,
        }
    return conform({"response_id": response_id, "upstream_request_id": request_id, "token_usage": usage,
                    MB.RESPONSE_ITEMS: items}, RESPONSE)


# -- tools --------------------------------------------------------------------------------------
def invocation(tool: str, namespace: str | None, *, arguments: str | None = None, custom_input: str | None = None) -> dict:
    body: dict[str, str | None]
    if custom_input is not None:
        body = {"type": "custom", "input": custom_input}
    else:
        body = {"type": "function", "arguments": arguments}
    return conform({MB.INVOCATION_TOOL: tool, MB.INVOCATION_NAMESPACE: namespace, MB.INVOCATION_PAYLOAD: body}, INVOCATION)


def direct_result(output: dict) -> dict:
    return conform({"type": "direct_response", "response_item": {k: v for k, v in output.items() if k != "id"}}, RESULT)


def error_result(message: str) -> dict:
    return conform({"type": "error", "error": message}, RESULT)


def code_mode_result(value) -> dict:
    return conform({"type": "code_mode_response", "value": value}, RESULT)


def _exec_event(call_id: str, pid: str, turn_id: str, at: tuple[str, int], command: list, source: str,
                interaction_input: str | None) -> dict:
    """The fields an exec begin and end share, in Codex's order; ``at`` = (its time key, ms)."""
    out = {MB.CALL_ID: call_id, MB.EXEC_PROCESS_ID: pid, "turn_id": turn_id, at[0]: at[1], MB.EXEC_COMMAND: command,
           MB.EXEC_CWD: CWD, "parsed_cmd": [{"type": "unknown", "cmd": command[-1]}], "source": source}
    if interaction_input is not None:
        out[MB.EXEC_INTERACTION_INPUT] = interaction_input
    return out


def exec_begin(call_id: str, pid: str, turn_id: str, at_ms: int, command: list, source: str = "unified_exec_startup",
               interaction_input: str | None = None) -> dict:
    return conform(_exec_event(call_id, pid, turn_id, ("started_at_ms", at_ms), command, source, interaction_input),
                   EXEC_BEGIN)


def exec_end(call_id: str, pid: str, turn_id: str, at_ms: int, command: list, output: str, exit_code: int,
             source: str = "unified_exec_startup", interaction_input: str | None = None) -> dict:
    out = _exec_event(call_id, pid, turn_id, ("completed_at_ms", at_ms), command, source, interaction_input)
    out.update(
        {
            MB.EXEC_AGGREGATED_OUTPUT: output,
            MB.EXEC_EXIT_CODE: exit_code,
            "duration": {"secs": 0, "nanos": 10000 + len(output)},
            "status": "completed" if exit_code == 0 else "failed",
        }
    )
    return conform(out, EXEC_END)


def write_stdin_arguments(session_id: int, chars: str, yield_time_ms: int) -> str:
    """write_stdin's JSON arguments, their keys the model's in its order (model/bodies.py: DISPATCH_ARGUMENT_FIELDS)."""
    keys = [f.name for f in MB.DISPATCH_ARGUMENT_FIELDS]
    return json.dumps(dict(zip(keys, (session_id, chars, yield_time_ms))))


def exec_tool_output(chunk: str, exit_code: int | None, output: str, session_id: int | None = None) -> str:
    """The text an exec_command/write_stdin call returns to the model."""
    status = (
        f"Process exited with code {exit_code}\n"
        if exit_code is not None
        else f"Process running with session ID {session_id}\n"
    )
    return f"Chunk ID: {chunk}\nWall time: 0.0000 seconds\n{status}Original token count: {max(1, len(output) // 4)}\nOutput:\n{output}"


def patch_begin(call_id: str, turn_id: str, path: str, content: str) -> dict:
    return {
        "call_id": call_id,
        "turn_id": turn_id,
        "auto_approved": True,
        "changes": {path: {"type": "add", "content": content}},
    }


def patch_end(call_id: str, turn_id: str, path: str, content: str, rel: str) -> dict:
    return {
        "call_id": call_id,
        "turn_id": turn_id,
        "stdout": f"Success. Updated the following files:\nA {rel}\n",
        "stderr": "",
        "success": True,
        "changes": {path: {"type": "add", "content": content}},
        "status": "completed",
    }


def mcp_begin(call_id: str, turn_id: str, server: str, tool: str, arguments: dict) -> dict:
    return {"call_id": call_id, "turn_id": turn_id, "invocation": {"server": server, "tool": tool, "arguments": arguments}}


def mcp_end(text: str, is_error: bool) -> dict:
    return {"result": {"Ok": {"content": [{"type": "text", "text": text}], "isError": is_error}}}


# -- code mode -----------------------------------------------------------------------------------
def code_cell_response(cell_id: str, text: str, error: str | None, nanos: int) -> dict:
    return conform({
        "response": {
            "Result": {
                "cell_id": cell_id,
                "content_items": [{"type": "input_text", "text": text}],
                "error_text": error,
                "code_mode_host_duration": {"secs": 0, "nanos": nanos},
            }
        }
    }, CELL_RESPONSE)


# -- multi-agent ---------------------------------------------------------------------------------
def spawn_started(call_id: str, at_ms: int, child_thread: str, child_path: str) -> dict:
    """Runtime end of ``spawn_agent``: the sub-agent activity ``started`` (ACTIVITY_MARKER makes it one)."""
    return conform({
        "model": MODEL,
        "reasoning_effort": "medium",
        "event_id": call_id,
        "occurred_at_ms": at_ms,
        MB.ACTIVITY_MARKER: child_thread,
        "agent_path": child_path,
        "kind": next(k for k, ends in MB.ACTIVITY_KINDS.items() if ends and "spawn_agent" in ends),
    }, ACTIVITY)


def wait_begin(at_ms: int, sender: str, call_id: str) -> dict:
    return {"started_at_ms": at_ms, "sender_thread_id": sender, "receiver_thread_ids": [], MB.CALL_ID: call_id}


def wait_end(sender: str, call_id: str, at_ms: int) -> dict:
    return {"sender_thread_id": sender, MB.CALL_ID: call_id, "completed_at_ms": at_ms, "statuses": {}}


def agent_result(child_path: str, message: str, answer: str) -> dict:
    return {"child_agent_path": child_path, "message": message, "status": {"completed": answer}}


# -- compaction -----------------------------------------------------------------------------------
def compaction_request(instructions: str, items: list) -> dict:
    return {"model": MODEL, "instructions": instructions, MB.REQUEST_INPUT: items + [{"type": "compaction_trigger"}],
            "parallel_tool_calls": True}


def compaction_response(summary: dict) -> dict:
    return {MB.RESPONSE_ITEMS: [summary]}


def compaction_checkpoint(input_history: list, replacement_history: list) -> dict:
    before, after = MB.CHECKPOINT_HISTORIES
    return conform({before: input_history, after: replacement_history}, CHECKPOINT)
