"""Payload bodies shaped like the ones real Codex 0.164/0.169 bundles carry.

Every builder mirrors a payload seen in the shipped corpus (``rollout_trace_kit/conformance/corpus``) (same keys, same
nesting, same key order); only ids and texts vary. The reference reducers parse
several of these (thread metadata, inference requests/responses, exec runtime
payloads, sub-agent activity, compaction checkpoints), so the shapes are not
decoration: a wrong key makes ``codex debug trace-reduce`` reject the bundle.
"""

from __future__ import annotations

from typing import Any

from ..model import bodies as MB

CWD = "/home/dev/project"
MODEL = "gpt-5.5"
# A v3 prepared prompt's fragments: the model's (what follows the input items is a 0.171.0 prompt's keys).
PROMPT_TAIL = MB.PROMPT_TAIL
prompt_fragments = MB.prompt_fragments
PROVIDER = "mock"


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
    return {
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
    }


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
    return {"type": "message", "id": item_id, "role": role, "content": [{"type": "input_text", "text": text}]}


def assistant_message(item_id: str, text: str) -> dict:
    return {
        "type": "message",
        "status": "completed",
        "id": item_id,
        "role": "assistant",
        "content": [{"type": "output_text", "text": text, "annotations": []}],
    }


def function_call(item_id: str, name: str, namespace: str | None, arguments: str, call_id: str) -> dict:
    out = {"type": "function_call", "status": "completed", "id": item_id, "name": name}
    if namespace is not None:
        out["namespace"] = namespace
    out["arguments"] = arguments
    out["call_id"] = call_id
    return out


def custom_tool_call(item_id: str, name: str, text: str, call_id: str) -> dict:
    return {"type": "custom_tool_call", "id": item_id, "status": "completed", "call_id": call_id, "name": name, "input": text}


def resent(item: dict) -> dict:
    """An output item as the next request carries it: Codex drops the response's item id."""
    if item["type"] == "custom_tool_call":
        return {k: item[k] for k in ("type", "status", "call_id", "name", "input")}
    return {k: v for k, v in item.items() if k != "id"}


def call_output(item_id: str, custom: bool, call_id: str, output) -> dict:
    kind = "custom_tool_call_output" if custom else "function_call_output"
    return {"type": kind, "id": item_id, "call_id": call_id, "output": output}


def agent_message(item_id: str, author: str, recipient: str, content: list, turn_id: str, created: float) -> dict:
    """An inter-agent message as its protocol payload holds it (v2 ``agent_message_payload``)."""
    return {
        "type": "agent_message",
        "id": item_id,
        "author": author,
        "recipient": recipient,
        "content": content,
        "internal_chat_message_metadata_passthrough": {
            "turn_id": turn_id,
            "create_time": created,
            "content_item_metadata": [{"provenance": {"type": "tool", "namespace": "collaboration"}} for _ in content],
        },
    }


def agent_message_item(payload: dict) -> dict:
    """The same message inside a model request (no passthrough metadata)."""
    return {k: v for k, v in payload.items() if k != "internal_chat_message_metadata_passthrough"}


# -- inference --------------------------------------------------------------------------------
def inference_request(items: list, thread_id: str, previous_response_id: str | None = None) -> dict:
    out = {"model": MODEL, "stream": True}
    if previous_response_id is not None:
        out["previous_response_id"] = previous_response_id
    out.update(
        {
            "input": items,
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
    return out


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
    return {"response_id": response_id, "upstream_request_id": request_id, "token_usage": usage, "output_items": items}


# -- tools --------------------------------------------------------------------------------------
def invocation(tool: str, namespace: str | None, *, arguments: str | None = None, custom_input: str | None = None) -> dict:
    body: dict[str, str | None]
    if custom_input is not None:
        body = {"type": "custom", "input": custom_input}
    else:
        body = {"type": "function", "arguments": arguments}
    return {"tool_name": tool, "tool_namespace": namespace, "payload": body}


def direct_result(item: dict) -> dict:
    return {"type": "direct_response", "response_item": {k: v for k, v in item.items() if k != "id"}}


def error_result(message: str) -> dict:
    return {"type": "error", "error": message}


def code_mode_result(value) -> dict:
    return {"type": "code_mode_response", "value": value}


def _exec_event(call_id: str, pid: str, turn_id: str, at: tuple[str, int], command: list, source: str,
                interaction_input: str | None) -> dict:
    """The fields an exec begin and end share, in Codex's order; ``at`` = (its time key, ms)."""
    out = {"call_id": call_id, "process_id": pid, "turn_id": turn_id, at[0]: at[1], "command": command, "cwd": CWD,
           "parsed_cmd": [{"type": "unknown", "cmd": command[-1]}], "source": source}
    if interaction_input is not None:
        out["interaction_input"] = interaction_input
    return out


def exec_begin(call_id: str, pid: str, turn_id: str, at_ms: int, command: list, source: str = "unified_exec_startup",
               interaction_input: str | None = None) -> dict:
    return _exec_event(call_id, pid, turn_id, ("started_at_ms", at_ms), command, source, interaction_input)


def exec_end(call_id: str, pid: str, turn_id: str, at_ms: int, command: list, output: str, exit_code: int,
             source: str = "unified_exec_startup", interaction_input: str | None = None) -> dict:
    out = _exec_event(call_id, pid, turn_id, ("completed_at_ms", at_ms), command, source, interaction_input)
    out.update(
        {
            "aggregated_output": output,
            "exit_code": exit_code,
            "duration": {"secs": 0, "nanos": 10000 + len(output)},
            "status": "completed" if exit_code == 0 else "failed",
        }
    )
    return out


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
    return {
        "response": {
            "Result": {
                "cell_id": cell_id,
                "content_items": [{"type": "input_text", "text": text}],
                "error_text": error,
                "code_mode_host_duration": {"secs": 0, "nanos": nanos},
            }
        }
    }


# -- multi-agent ---------------------------------------------------------------------------------
def spawn_started(call_id: str, at_ms: int, child_thread: str, child_path: str) -> dict:
    """Runtime end of ``spawn_agent``: the sub-agent activity ``started``."""
    return {
        "model": MODEL,
        "reasoning_effort": "medium",
        "event_id": call_id,
        "occurred_at_ms": at_ms,
        "agent_thread_id": child_thread,
        "agent_path": child_path,
        "kind": "started",
    }


def wait_begin(at_ms: int, sender: str, call_id: str) -> dict:
    return {"started_at_ms": at_ms, "sender_thread_id": sender, "receiver_thread_ids": [], "call_id": call_id}


def wait_end(sender: str, call_id: str, at_ms: int) -> dict:
    return {"sender_thread_id": sender, "call_id": call_id, "completed_at_ms": at_ms, "statuses": {}}


def agent_result(child_path: str, message: str, answer: str) -> dict:
    return {"child_agent_path": child_path, "message": message, "status": {"completed": answer}}


# -- compaction -----------------------------------------------------------------------------------
def compaction_request(instructions: str, items: list) -> dict:
    return {"model": MODEL, "instructions": instructions, "input": items + [{"type": "compaction_trigger"}], "parallel_tool_calls": True}


def compaction_response(item: dict) -> dict:
    return {"output_items": [item]}


def compaction_checkpoint(input_history: list, replacement_history: list) -> dict:
    return {"input_history": input_history, "replacement_history": replacement_history}
