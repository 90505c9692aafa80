"""Payload bodies the reference reducer reads, and the shape it needs them in.

Mirrors ``reducer/conversation/normalize.rs`` (model items), ``reducer/inference.rs``
(request and response payloads), ``reducer/thread.rs`` (metadata) and
``reducer/compaction.rs`` (checkpoints). Only payloads the reducer opens are
checked here; the others only need to be JSON (rules/refs.py).
"""

from __future__ import annotations

import hashlib
import re
from typing import NamedTuple

from ...model import bodies as B
from ...model.types import INT_RANGES
from ..catalogue import R, invariant
from ..context import Context
from ..lines import (
    has_lone_surrogate, holds_overflow, serde_syntax_loads, serde_syntax_problem, serde_text, top_level_members,
)
from .call_summary import json_text_summary, summary

THREAD_METADATA = invariant(
    "BODY.THREAD_METADATA",
    "A thread metadata payload is a JSON object whose known fields have the right types.",
    v1=R, v2=R,
    source='reducer/thread.rs: "parse thread metadata {id}"',
)
INFERENCE_REQUEST = invariant(
    "BODY.INFERENCE_REQUEST",
    "An inference request payload (and an untraced prefix payload) is an object with an `input` array.",
    v1=R, v2=R,
    source='reducer/inference.rs: "inference request payload {id} did not contain input" / "had non-array input"',
)
INFERENCE_RESPONSE = invariant(
    "BODY.INFERENCE_RESPONSE",
    "An inference response payload (complete or partial) is an object with an `output_items` array.",
    v1=R, v2=R,
    source='reducer/inference.rs: "inference response payload {id} did not contain output_items"',
)
MODEL_ITEM = invariant(
    "BODY.MODEL_ITEM",
    "Every model item in a request, a response or a compaction checkpoint's histories is one the reducer can "
    "normalise: a supported string `type`, messages with a supported role, well-formed reasoning and agent "
    "messages, a string `encrypted_content` on compaction items (model/bodies.py); up to Codex 0.165.0, no call "
    "item whose content summary is cut inside a UTF-8 character (model/bodies.py: SUMMARY_CUT_PANICS_UNTIL).",
    v1=R, v2=R,
    source="reducer/conversation/normalize.rs › normalize_model_item; \"compaction item in payload {id} did not "
    "contain string encrypted_content\", \"unsupported model item type\" in a checkpoint (measured on 0.164.0, "
    "0.169.0, 0.171.0); a panic on 0.125.0 to 0.165.0: \"assertion failed: self.is_char_boundary(new_len)\" at "
    "normalize.rs (measured)",
)
CHECKPOINT = invariant(
    "BODY.COMPACTION_CHECKPOINT",
    "A compaction checkpoint payload has `input_history` and `replacement_history` arrays.",
    v1=R, v2=R,
    source='reducer/compaction.rs: "compaction checkpoint payload {id} did not contain array input_history"',
)
EXEC_RUNTIME = invariant(
    "BODY.TERMINAL_RUNTIME",
    "A terminal operation's runtime payloads have the fields the terminal reducer parses: the runtime start that "
    "creates it (an exec_command's or a write_stdin's: model TERMINAL_START_KINDS) `command` (string array) "
    "and `cwd`, `interaction_input` a string or null; an exec_command's end an i32 `exit_code`, `aggregated_output` "
    "a string when present (a write_stdin's end and a dispatched write_stdin's result too, unless it is a "
    "dispatch payload: model TERMINAL_RESPONSE_KINDS); `process_id` a string or null, and the end's the begin's.",
    v1=R, v2=R,
    source='reducer/tool/terminal.rs: "parse terminal runtime start payload {id}", "parse exec terminal response {id}", '
    '"terminal operation {op} changed process id from {a} to {b}" (measured on 0.164.0, 0.169.0, 0.171.0; '
    "a write_stdin start on 0.125.0 to 0.171.0; \"parse write_stdin terminal response {id} as protocol payload (...) "
    "or dispatch payload\" on 0.164.0, 0.169.0, 0.171.0)",
)

CALL_CONTENT = invariant(
    "BODY.CALL_ID_CONTENT",
    "Within a thread, a call item (request input, response output or compaction checkpoint history) whose "
    "`call_id` came before carries the "
    "same content: a function_call the same `arguments`, a custom_tool_call the same `input` (and its `name` "
    "code mode's `exec` or not), a local shell, web "
    "search, tool search or image generation call the same item; call items of one call space (calls, custom "
    "calls, outputs, custom outputs) share call ids, so another type is other content "
    "(model/bodies.py: ItemType.call_content, call_equals, call_space; Codex 0.164.0 also compares the outputs). "
    f"JSON arguments and whole items are compared by a summary, their compact JSON's first {B.SUMMARY_BYTES} bytes "
    "(ItemType.summary_bytes).",
    v1=R, v2=R,
    source='reducer/conversation.rs: "model-visible call id {call_id} was reused with different content" '
    "(measured on 0.164.0, 0.169.0, 0.171.0; 0.169.0 and 0.171.0 accept an output reused with another output)",
)
PREPARED_PROMPT = invariant(
    "BODY.PREPARED_PROMPT",
    "A payload whose ref (or part) has non-empty `parts` is an array of strings with one fragment more than the "
    "parts; the fragments and the parts spliced together are one JSON document. Without parts (absent or empty) "
    "the reducer takes any JSON body, a prepared prompt's included.",
    v1=None, v2=None, v3=R,
    source='0.171.0 reducer: "invalid payload fragment count", "invalid type: map, expected a sequence", '
    '"trailing characters", "expected value", "key must be a string" (measured; `parts` on an inference request, '
    "response or session metadata ref, and on a part, included; a prompt without parts: any JSON is read)",
)
TOOL_OUTPUT_ITEM = invariant(
    "BODY.TOOL_OUTPUT_ITEM",
    "history_item_accepted's tool output payload is a tool output model item (model/bodies.py: TOOL_OUTPUT_TYPES) "
    "whose `id` is the event's `item_id`.",
    v1=None, v2=None, v3=R,
    source='0.171.0 reducer: "model item in payload {id} did not contain a string type", "accepted item payload '
    'does not match {item_id}" (measured)',
)

AGENT_ACTIVITY = invariant(
    "BODY.AGENT_ACTIVITY",
    "A multi-agent tool call's runtime end (but a wait_agent's) without `agent_thread_id` is a collab end event "
    "with a string `call_id`, a UUID `sender_thread_id`, then its tool kind's keys: a spawn's `prompt`, `model`, "
    "`reasoning_effort` strings, a UUID (or null) `new_thread_id`; a message's or task's UUID `receiver_thread_id` and "
    "string `prompt`; a close's UUID `receiver_thread_id`; and an agent `status` (model: COLLAB_END_KEYS, "
    "COLLAB_END_BY_KIND, AGENT_STATUS_UNIT, AGENT_STATUS_MESSAGE); a runtime end of any tool "
    "kind (but mcp from 0.169.0: ACTIVITY_UNREAD_SINCE) "
    "that holds `agent_thread_id` is a sub-agent activity the reducer parses: "
    "string `event_id`, a UUID `agent_thread_id`, an `agent_path` under `/root` (or `/morpheus`), an i64 "
    "`occurred_at_ms` when present, `model`/`reasoning_effort` strings or null, and a `kind` that fits the call's "
    "tool kind; a `started` or `interacted` activity needs the call's invocation payload, whose `payload` has string "
    "`arguments` (any `type`) holding a string `message` (model/bodies.py: ACTIVITY_KINDS): JSON by serde_json's "
    "syntax (no NaN or Infinity; integers of any length, any depth), `message` given once and without a lone "
    "surrogate (ACTIVITY_ARGUMENT_FIELDS).",
    v1=R, v2=R,
    source='"sub-agent activity {A} does not match tool call kind {K}", "agent activity tool call {id} missing '
    'invocation payload", "agent activity tool call {id} missing function arguments", "parse agent activity tool '
    'call {id} arguments" (measured on 0.164.0, 0.165.0, 0.169.0, 0.171.0)',
)

DISPATCH_INVOCATION = invariant(
    "BODY.DISPATCH_INVOCATION",
    "A write_stdin call's invocation payload, when present, is a dispatch payload: `tool_name` `write_stdin`, "
    "`tool_namespace` a string or null, `payload` `{\"type\": \"function\", \"arguments\": TEXT}`; up to 0.164.0 the "
    "arguments a JSON object with a `session_id` (model/bodies.py: PARSED_INVOCATIONS), by serde_json's syntax "
    "(no NaN or Infinity; integers of any length, any depth).",
    v1=R, v2=R,
    source='"parse terminal invocation payload {id} as dispatch payload" (measured on 0.164.0, 0.169.0, 0.171.0: '
    "another tool's invocation, a custom payload, no tool_name)",
)


def agent_message_typed(release: str) -> bool:
    """Whether ``release``'s reducer reads an accepted agent_message item as a typed item (model/bodies.py:
    AGENT_MESSAGE_TYPED): it fails on an integer beyond i64/u64 there, or a mistyped metadata passthrough."""
    from ...model.types import release_key

    first, last = B.AGENT_MESSAGE_TYPED
    return release_key(first) <= release_key(release) <= release_key(last)


def as_typed_agent_message(item):
    """An accepted agent_message ``item`` as the releases that check it read it: a content part in serde's
    sequence form (model/bodies.py: AGENT_MESSAGE_PART_SEQUENCE) as the object it stands for."""
    content = item.get("content") if isinstance(item, dict) else None
    if not B.AGENT_MESSAGE_PART_SEQUENCE or not isinstance(content, list) or not any(isinstance(p, list) for p in content):
        return item
    parts = [{"type": p[0], B.AGENT_MESSAGE_PARTS[p[0]]: p[1]}
             if isinstance(p, list) and len(p) == 2 and isinstance(p[0], str) and p[0] in B.AGENT_MESSAGE_PARTS else p
             for p in content]
    return {**item, "content": parts}


def passthrough_problem(item) -> str | None:
    """What in an agent_message item's metadata passthrough fails the typed read (model/bodies.py:
    AGENT_MESSAGE_PASSTHROUGH), or None."""
    key = B.AGENT_MESSAGE_PASSTHROUGH
    value = item.get(key) if isinstance(item, dict) else None
    if value is None:
        return None
    names = [name for name, _ in B.PASSTHROUGH_FIELDS]
    if isinstance(value, dict):
        given = [(name, value.get(name)) for name in names]
    elif isinstance(value, list):
        if len(value) > B.PASSTHROUGH_LENGTH:
            return f"`{key}` is an array of {len(value)} values, more than its {B.PASSTHROUGH_LENGTH} fields"
        given = list(zip(names, value))
    else:
        return f"`{key}` is {_json_type(value)}, not an object"
    for (name, v), (_, want) in zip(given, B.PASSTHROUGH_FIELDS):
        if v is not None and not _OF_TYPE[want](v):
            return f"`{key}.{name}` is {_json_type(v)}, not a {want}"
    return None


# What a typed field of each kind takes besides null (model/bodies.py: ARGUMENT_STRING, ARGUMENT_NUMBER).
_OF_TYPE = {B.ARGUMENT_STRING: lambda v: isinstance(v, str),
            B.ARGUMENT_NUMBER: lambda v: isinstance(v, (int, float)) and not isinstance(v, bool)}


MCP_INVOCATION = invariant(
    "BODY.MCP_INVOCATION",
    "A runtime start payload's `invocation`, when present, is an MCP invocation: an object with string `server` "
    "and `tool`, whatever the call's tool kind; checked by the reducers of 0.164.0 and 0.165.0 only (model/bodies.py: "
    "MCP_INVOCATION_SINCE, MCP_INVOCATION_UNTIL).",
    v1=R, v2=R,
    source='"parse MCP runtime invocation in {id}" (measured on 0.164.0 and 0.165.0; 0.125.0 to 0.162.0 and 0.166.0 '
    "to 0.171.0 accept any invocation there)",
    notes="In v2 only with `--release` of a release that parses it (0.165.0): the dialect's reference reducer does not.",
)


def mcp_invocation_read(release: str) -> bool:
    """Whether ``release``'s reducer parses a runtime start's `invocation` as an MCP invocation (model/bodies.py)."""
    from ...model.types import release_key

    return release_key(B.MCP_INVOCATION_SINCE) <= release_key(release) <= release_key(B.MCP_INVOCATION_UNTIL)


def as_struct(value, layout: tuple[str, ...]):
    """``value`` as a reducer reads it into a derived struct of fields ``layout`` (model/bodies.py:
    DISPATCH_LAYOUT): serde's sequence form, an array of each field's value in order, as the object it
    stands for; anything else as it is."""
    if isinstance(value, list) and len(value) == len(layout):
        return dict(zip(layout, value))
    return value


def sequence_form(body) -> bool:
    """Whether a body a reducer reads as a derived struct whose field order the model does not hold is in
    serde's sequence form (a non-empty JSON array): the kit declines to judge it (KIT.SEQUENCE_FORM)."""
    return isinstance(body, list) and bool(body)


def declined_sequence(ctx: Context, body, what: str, pointer: str) -> bool:
    """Report KIT.SEQUENCE_FORM when ``body`` is in sequence form (sequence_form); True when reported."""
    if not sequence_form(body):
        return False
    from .schema import SEQUENCE_FORM

    ctx.report(SEQUENCE_FORM, f"{what} is a JSON array (serde's sequence form of the struct the reducers read): "
               "the kit declined to judge it", pointer=pointer)
    return True


def mcp_invocation_problem(body) -> str | None:
    """Why the reducer cannot parse a runtime start ``body``'s `invocation` as an MCP invocation, or None."""
    if not isinstance(body, dict) or B.MCP_INVOCATION_KEY not in body:
        return None
    invocation = as_struct(body[B.MCP_INVOCATION_KEY], B.MCP_INVOCATION_LAYOUT)
    if not isinstance(invocation, dict):
        return f"`{B.MCP_INVOCATION_KEY}` is {_json_type(invocation)}, not an object"
    for key in B.MCP_INVOCATION_STRINGS:
        if key not in invocation:
            return f"`{B.MCP_INVOCATION_KEY}` has no `{key}`"
        if not isinstance(invocation[key], str):
            return f"`{B.MCP_INVOCATION_KEY}.{key}` is {_json_type(invocation[key])}, not a string"
    return None


def _json_type(value) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    return "an array" if isinstance(value, list) else "an object"


def dispatch_arguments_read(release: str) -> bool:
    """Whether ``release``'s reducer parses a dispatch payload's arguments too (model/bodies.py)."""
    from ...model.types import release_key

    return release_key(release) <= release_key(B.DISPATCH_ARGUMENTS_UNTIL)


def namespaced(body) -> bool:
    """Whether an invocation ``body`` names a tool namespace: then it is no dispatch (model/bodies.py)."""
    body = as_struct(body, B.DISPATCH_LAYOUT)
    return B.DISPATCH_NAMESPACED_UNPARSED and isinstance(body, dict) and isinstance(body.get(B.INVOCATION_NAMESPACE), str)


def dispatch_problem(body, tool_name: str, arguments_read: bool = False, f64: bool = False) -> str | None:
    """Why the reducer cannot parse an invocation ``body`` as the dispatch payload of ``tool_name``, or None
    (``arguments_read``: dispatch_arguments_read; ``f64``: numbers_as_f64)."""
    body = as_struct(body, B.DISPATCH_LAYOUT)
    if not isinstance(body, dict):
        return "is not an object"
    if namespaced(body):
        return None  # a namespaced tool's invocation is not read as a dispatch payload
    if body.get(B.INVOCATION_TOOL) != tool_name:
        return f"names tool {body.get(B.INVOCATION_TOOL)!r}, not {tool_name!r}"
    if body.get(B.INVOCATION_NAMESPACE) is not None and not isinstance(body[B.INVOCATION_NAMESPACE], str):
        return "has a tool_namespace that is not a string"
    payload = as_struct(body.get(B.INVOCATION_PAYLOAD), B.DISPATCH_FUNCTION_LAYOUT)
    if not isinstance(payload, dict) or payload.get("type") != "function" or not isinstance(payload.get("arguments"), str):
        return "has no function payload with string arguments"
    if arguments_read:
        problem = typed_arguments_problem(payload["arguments"], B.DISPATCH_ARGUMENT_FIELDS, f64)
        if problem is not None:
            return f"has arguments that {problem}"
    return None


class _Null:
    """A payload whose body is JSON ``null`` (``None`` stands for "not read" where bodies are passed)."""

    def __repr__(self) -> str:
        return "null"


NULL = _Null()

# The tables come from the model (model/bodies.py): item types, roles, content parts.
ITEM_TYPES = frozenset(B.ITEM_TYPE)
ROLES = frozenset(B.MESSAGE_ROLES)
_METADATA_STRINGS = tuple(k.name for k in B.contract("thread_started.metadata_payload").keys if k.type == "string or null")


def item_problem(item) -> str | None:
    """Why normalize_model_item would reject ``item``, or None."""
    t = item.get("type") if isinstance(item, dict) else None
    if not isinstance(t, str):
        return "a model item has no string type"
    if t not in ITEM_TYPES:
        return f"unsupported model item type {t!r}"
    for key in B.ITEM_TYPE[t].string_keys:
        if not isinstance(item.get(key), str):
            return f"a {t} item did not contain string {key}"
    if t == "message":
        role = item.get("role")
        if not isinstance(role, str):
            return "a message item has no string role"
        if role not in ROLES:
            return f"unsupported message role {role!r}"
    elif t == "agent_message":
        for key in ("author", "recipient"):
            if not isinstance(item.get(key), str):
                return f"an agent_message item has no string {key}"
        content = item.get("content")
        if not isinstance(content, list) or not content:
            return "an agent_message item has no content array"
        for part in content:
            pt = part.get("type") if isinstance(part, dict) else None
            want = B.AGENT_MESSAGE_PARTS.get(pt) if isinstance(pt, str) else None
            if want is None:
                return f"an agent_message item has unsupported content type {pt!r}"
            if not isinstance(part.get(want), str):
                return f"an agent_message {pt} part has no string {want}"
    elif t == "reasoning":
        return _reasoning_problem(item)
    return None


def _reasoning_problem(item) -> str | None:
    parts = 0
    for key, allowed in B.REASONING_ENTRIES.items():
        if key not in item or (key == "content" and item[key] is None):
            continue
        entries = item[key]
        if not isinstance(entries, list):
            return f"a reasoning item has non-array {key}"
        for e in entries:
            et = e.get("type") if isinstance(e, dict) else None
            if et not in allowed:
                return f"a reasoning item has unsupported {key} type {et!r}"
            if not isinstance(e.get("text"), str):
                return f"a reasoning {key} entry has no string text"
            parts += 1
    enc = item.get("encrypted_content")
    if enc is not None and not isinstance(enc, str):
        return "a reasoning item has non-string encrypted_content"
    if enc is not None:
        parts += 1
    if not parts:
        return "a reasoning item has no content, summary or encrypted_content"
    return None


def _items(ctx: Context, inv, body, key: str, rid: str, pointer: str, what: str) -> bool:
    if not isinstance(body, dict) or key not in body:
        ctx.report(inv, f"{what} payload {rid} has no {key}", pointer=pointer)
        return False
    items = body[key]
    if not isinstance(items, list):
        ctx.report(inv, f"{what} payload {rid} has a non-array {key}", pointer=pointer)
        return False
    for i, item in enumerate(items):
        problem = item_problem(item)
        if problem:
            ctx.report(MODEL_ITEM, f"payload {rid} {key}[{i}]: {problem}", pointer=pointer)
            return False
    return True


def check_request(ctx: Context, body, rid: str, pointer: str) -> bool:
    return _items(ctx, INFERENCE_REQUEST, body, B.REQUEST_INPUT, rid, pointer, "inference request")


def check_response(ctx: Context, body, rid: str, pointer: str) -> bool:
    return _items(ctx, INFERENCE_RESPONSE, body, B.RESPONSE_ITEMS, rid, pointer, "inference response")


class Compared(NamedTuple):
    """How ``release``'s reducer compares a call item type's content when its call id comes again."""

    space: str  # its call space
    keys: tuple[str, ...]  # the keys compared (B.WHOLE_ITEM: the whole item)
    marks: tuple  # (key, value): keys compared as whether they hold the value
    as_json: tuple[str, ...]  # keys compared as JSON texts
    summary_bytes: int | None  # the bytes of the compact JSON a summary keeps (None: compared in full)
    panics: bool  # the release panics on a summary cut inside a character
    f64: bool  # the release's serde_json reads numbers as u64, i64 or f64 (no arbitrary precision)


def numbers_as_f64(release: str) -> bool:
    """Whether ``release``'s serde_json reads numbers as u64, i64 or f64 (no arbitrary precision): one build,
    so a release that refuses 1e400 in a body (release data reducer.number_range) does so everywhere."""
    from ...model.releases import NUMBER_IN_PAYLOAD_BODY, release as release_record
    from .release import number_range

    record = release_record(release)
    return record is not None and record.record is not None and bool(number_range(record).get(NUMBER_IN_PAYLOAD_BODY))


def compared_call_content(release: str) -> dict[str, Compared]:
    """Call item type -> how ``release``'s reducer compares its content when a call id of its space comes again."""
    from ...model.types import release_key

    key = release_key(release)
    panics = key <= release_key(B.SUMMARY_CUT_PANICS_UNTIL)
    f64 = numbers_as_f64(release)
    return {t.tag: Compared(t.call_space, t.call_content, t.call_equals, t.call_content_json, t.summary_bytes, panics, f64)
            for t in B.ITEM_TYPES
            if t.call_content and (t.call_content_until is None or key <= release_key(t.call_content_until))}


def call_contents(items, compared: dict[str, Compared]):
    """(call space, call_id, digest of the type and compared content, whether the release panics on it) of every
    call item of ``items``."""
    for item in items:
        if not isinstance(item, dict):
            continue
        kind = item.get("type")
        entry = compared.get(kind) if isinstance(kind, str) else None
        call_id = item.get("call_id")
        if entry is None or not isinstance(call_id, str):
            continue
        limit = entry.summary_bytes
        split = False
        content: list = []
        if entry.keys == B.WHOLE_ITEM:
            whole, split = summary(item, limit, entry.f64) if limit else (repr(item), False)
            content.append(whole)
        else:
            for k in entry.keys:
                value: object = item.get(k)
                if k in entry.as_json and limit:
                    value, cut_inside = json_text_summary(item, k, limit, entry.f64)
                    split = split or cut_inside
                content.append(value)
        seen = (kind, content, [item.get(k) == v for k, v in entry.marks])
        # A digest, not the value: memory per call stays small whatever the arguments hold.
        digest = hashlib.blake2b(repr(seen).encode("utf-8", "surrogatepass"), digest_size=16).digest()
        yield entry.space, call_id, digest, entry.panics and split


def check_metadata(ctx: Context, body, rid: str, pointer: str) -> None:
    if declined_sequence(ctx, body, f"thread metadata payload {rid}", pointer):
        return
    if not isinstance(body, dict):
        ctx.report(THREAD_METADATA, f"thread metadata payload {rid} is not an object", pointer=pointer)
        return
    for key in _METADATA_STRINGS:
        if body.get(key) is not None and not isinstance(body[key], str):
            ctx.report(THREAD_METADATA, f"thread metadata payload {rid}: {key} is not a string", pointer=pointer)
            return


def check_checkpoint(ctx: Context, body, rid: str, pointer: str) -> bool:
    """Report a checkpoint the reducer cannot normalise; True when both histories are read."""
    for key in B.CHECKPOINT_HISTORIES:
        if not isinstance(body, dict) or not isinstance(body.get(key), list):
            ctx.report(CHECKPOINT, f"compaction checkpoint payload {rid} has no array {key}", pointer=pointer)
            return False
    # Both histories are conversations the reducer normalises, item by item (measured).
    for key in B.CHECKPOINT_HISTORIES:
        for i, item in enumerate(body[key]):
            problem = item_problem(item)
            if problem:
                ctx.report(MODEL_ITEM, f"payload {rid} {key}[{i}]: {problem}", pointer=pointer)
                return False
    return True


def _process_id(ctx: Context, body, what: str, rid: str, pointer: str):
    """The body's process_id (a string, or None when absent or null); reported when of another type."""
    pid = body.get(B.EXEC_PROCESS_ID) if isinstance(body, dict) else None
    if pid is not None and not isinstance(pid, str):
        ctx.report(EXEC_RUNTIME, f"exec runtime {what} payload {rid}: process_id is not a string", pointer=pointer)
        return None
    return pid


def check_exec_begin(ctx: Context, body, rid: str, pointer: str) -> str | None:
    """Report what the terminal reducer cannot parse; return the process id it records."""
    if declined_sequence(ctx, body, f"terminal runtime start payload {rid}", pointer):
        return None
    ok = isinstance(body, dict) and isinstance(body.get(B.EXEC_COMMAND), list) and isinstance(body.get(B.EXEC_CWD), str)
    if ok:
        ok = all(isinstance(c, str) for c in body[B.EXEC_COMMAND])
    if not ok:
        ctx.report(EXEC_RUNTIME, f"terminal runtime start payload {rid} lacks a string-array command or a string cwd", pointer=pointer)
        return None
    if body.get(B.EXEC_INTERACTION_INPUT) is not None and not isinstance(body[B.EXEC_INTERACTION_INPUT], str):
        ctx.report(EXEC_RUNTIME, f"terminal runtime start payload {rid}: interaction_input is not a string", pointer=pointer)
        return None
    return _process_id(ctx, body, "start", rid, pointer)


def check_exec_end(ctx: Context, body, rid: str, pointer: str, started_pid: str | None = None,
                   what: str = "exec runtime end payload") -> None:
    # Real end payloads carry exit_code and aggregated_output; stdout/stderr/formatted_output
    # are defaulted by the protocol type, so only exit_code is required here.
    if declined_sequence(ctx, body, f"{what} {rid}", pointer):
        return
    code = body.get(B.EXEC_EXIT_CODE) if isinstance(body, dict) else None
    if not isinstance(code, int) or isinstance(code, bool) or not -(2**31) <= code < 2**31:
        ctx.report(EXEC_RUNTIME, f"{what} {rid} has no i32 exit_code", pointer=pointer)
        return
    if B.EXEC_AGGREGATED_OUTPUT in body and not isinstance(body[B.EXEC_AGGREGATED_OUTPUT], str):  # absent is fine, null is not
        ctx.report(EXEC_RUNTIME, f"{what} {rid}: aggregated_output is not a string", pointer=pointer)
        return
    pid = _process_id(ctx, body, "end", rid, pointer)
    if pid is not None and started_pid is not None and pid != started_pid:
        ctx.report(EXEC_RUNTIME, f"terminal operation of payload {rid} changed process id from {started_pid} to {pid}",
                   pointer=pointer)


def check_prepared_prompt(ctx: Context, body, ref, pointer: str, payload=None) -> None:
    check_fragments(ctx, body, ref, pointer, "prepared prompt")


def check_fragments(ctx: Context, body, ref, pointer: str, what: str = "composite") -> None:
    """A body stored as text fragments around its ref's parts (model/bodies.py: splice)."""
    rid = ref.raw_payload_id
    parts = len(getattr(ref, "parts", None) or ())
    if not parts:
        return  # not assembled: 0.171.0 reads any JSON body there, a prepared prompt's too (measured)
    if not isinstance(body, list) or not all(isinstance(x, str) for x in body):
        ctx.report(PREPARED_PROMPT, f"{what} payload {rid} is not an array of strings (fragments)", pointer=pointer)
        return
    if len(body) != parts + 1:
        ctx.report(
            PREPARED_PROMPT,
            f"{what} payload {rid} has {len(body)} fragments for {parts} parts: "
            f"invalid payload fragment count (want {parts + 1})",
            pointer=pointer,
        )
        return
    # Each part is one JSON value (its record is checked on its own): a placeholder value in its
    # place tells whether the fragments around it make one JSON document.
    problem = serde_syntax_problem(B.splice(body, ["null"] * parts))
    if problem is not None:
        ctx.report(PREPARED_PROMPT, f"{what} payload {rid}: its fragments do not make JSON with its parts: {problem}",
                   pointer=pointer)


def check_tool_output_item(ctx: Context, body, ref, pointer: str, payload) -> None:
    rid = ref.raw_payload_id
    if not isinstance(body, dict) or not isinstance(body.get("type"), str):
        ctx.report(TOOL_OUTPUT_ITEM, f"model item in payload {rid} did not contain a string type", pointer=pointer)
        return
    problem = item_problem(body)
    if problem:
        ctx.report(MODEL_ITEM, f"payload {rid}: {problem}", pointer=pointer)
    elif body["type"] not in B.TOOL_OUTPUT_TYPES or body.get("id") != payload.item_id:
        ctx.report(
            TOOL_OUTPUT_ITEM,
            f"accepted item payload does not match {payload.item_id} (payload {rid} holds {body['type']!r} "
            f"with id {body.get('id')!r})",
            pointer=pointer,
        )


_UUID = re.compile(
    r"(?:urn:uuid:)?(?:[0-9a-fA-F]{32}|[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})"
    r"|\{[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\}"
)
_I64 = (-(2**63), 2**63)


def is_activity(body) -> bool:
    """Whether a multi-agent call's runtime end body is read as a sub-agent activity."""
    return isinstance(body, dict) and B.ACTIVITY_MARKER in body


def activity_unread_kinds(release: str) -> frozenset[str]:
    """Tool kinds whose runtime end ``release``'s reducer does not read as a sub-agent activity, marker or not."""
    from ...model.types import release_key

    return frozenset(k for k, since in B.ACTIVITY_UNREAD_SINCE.items() if release_key(release) >= release_key(since))


def collab_end_problem(body, tool_kind: str | None = None) -> str | None:
    """Why the reducer rejects a multi-agent runtime end ``body`` that is no sub-agent activity
    (read as the Collab*EndEvent of ``tool_kind``: model/bodies.py COLLAB_END_KEYS, COLLAB_END_BY_KIND),
    or None."""
    if not isinstance(body, dict):
        return "is not an object"
    for key, want in B.COLLAB_END_KEYS + B.COLLAB_END_BY_KIND.get(tool_kind or "", ()):
        optional = want.endswith("?")
        if key not in body:
            if optional:
                continue
            return f"missing field `{key}`"
        value = body[key]
        if value is None and optional:
            continue
        if want == B.COLLAB_STATUS:
            problem = agent_status_problem(value)
            if problem is not None:
                return f"{key} {problem}"
            continue
        if not isinstance(value, str):
            return f"{key} is not a string"
        if want.rstrip("?") == "uuid" and not _UUID.fullmatch(value):
            return f"{key} {value!r} is not a UUID"
    return None


def agent_status_problem(value) -> str | None:
    """Why ``value`` is no agent status the reducers parse (model/bodies.py AGENT_STATUS_*), or None."""
    if isinstance(value, str):
        if value in B.AGENT_STATUS_UNIT:
            return None
        return f"{value!r} needs a message" if value in B.AGENT_STATUS_MESSAGE else f"{value!r} is no agent status"
    if not isinstance(value, dict):
        return "is neither a string nor an object"
    if len(value) != 1:
        return "is not an object with a single key"
    (variant, message), = value.items()
    if variant in B.AGENT_STATUS_UNIT:
        return None
    want = B.AGENT_STATUS_MESSAGE.get(variant)
    if want is None:
        return f"{variant!r} is no agent status"
    if isinstance(message, str) or (message is None and want.endswith("?")):
        return None
    return f"{variant!r} message is not a string"


def activity_problem(body, tool_kind: str) -> str | None:
    """Why the reducer rejects the sub-agent activity ``body`` ending a call of ``tool_kind``, or None."""
    for key in ("event_id", "agent_thread_id", "agent_path", "kind"):
        if key not in body:
            return f"missing field `{key}`"
    for key in ("event_id", "agent_thread_id", "agent_path"):
        if not isinstance(body[key], str):
            return f"{key} is not a string"
    for key in ("model", "reasoning_effort"):
        if body.get(key) is not None and not isinstance(body[key], str):
            return f"{key} is not a string"
    if "occurred_at_ms" in body:
        at = body["occurred_at_ms"]
        if not isinstance(at, int) or isinstance(at, bool) or not _I64[0] <= at < _I64[1]:
            return "occurred_at_ms is not an i64"
    if not _UUID.fullmatch(body["agent_thread_id"]):
        return f"agent_thread_id {body['agent_thread_id']!r} is not a UUID"
    path = body["agent_path"]
    if not (path.startswith(B.AGENT_PATH_ROOT) or path == B.AGENT_PATH_OTHER):
        return f"agent_path {path!r}: absolute agent paths must start with `{B.AGENT_PATH_ROOT}` or be `{B.AGENT_PATH_OTHER}`"
    kind = body["kind"]
    if not isinstance(kind, str) or kind not in B.ACTIVITY_KINDS:
        return f"unknown activity kind {kind!r}"
    fits = B.ACTIVITY_KINDS[kind]
    if fits is not None and tool_kind not in fits:
        return f"sub-agent activity {kind} does not match tool call kind {tool_kind}"
    return None


def activity_reads_invocation(body) -> bool:
    return body.get("kind") in B.ACTIVITY_READS_INVOCATION


def invocation_arguments_problem(body, f64: bool = False) -> str | None:
    """Why an agent activity's invocation body has no function arguments with a string message, or None.
    ``body`` is the parsed invocation payload (NULL for a JSON null body); ``f64``: numbers_as_f64."""
    payload = body.get(B.INVOCATION_PAYLOAD) if isinstance(body, dict) else None
    args = payload.get("arguments") if isinstance(payload, dict) else None  # its type is not looked at (model)
    if not isinstance(args, str):
        return "missing function arguments"
    problem = typed_arguments_problem(args, B.ACTIVITY_ARGUMENT_FIELDS, f64)
    return None if problem is None else f"arguments that {problem}"


def _takes(field: B.ArgumentField, value, f64: bool) -> bool:
    if value is None:
        return field.nullable
    if isinstance(value, str):
        return B.ARGUMENT_STRING in field.takes and not has_lone_surrogate(value)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False  # true, false, an array, an object
    if B.ARGUMENT_NUMBER in field.takes and not (f64 and holds_overflow(value)):
        return True
    return isinstance(value, int) and any(INT_RANGES[t][0] <= value <= INT_RANGES[t][1]
                                          for t in field.takes if t in INT_RANGES)


def _typed_value(text: str):
    """A member of arguments nesting past Python's parser, read for _takes: a container as an empty one."""
    return [] if text[:1] in ("[", "{") else serde_syntax_loads(text, typed_numbers=True)


# Verdicts on large arguments by their digest: compat judges one bundle once per group of readers, and a
# 20 MB text nested a million levels costs seconds to scan (the kit's iterative scanner) each time.
_LARGE_ARGUMENTS = 1 << 16
_VERDICTS: dict[tuple, str | None] = {}
_VERDICTS_KEPT = 64


def typed_arguments_problem(text: str, fields: tuple[B.ArgumentField, ...], f64: bool = False) -> str | None:
    """What in a tool call's JSON arguments ``text`` fails the reducers' typed read of ``fields``
    (model/bodies.py: ArgumentField, ARGUMENTS_AS_ARRAY), as the end of a sentence ("... that are not
    JSON"), or None. ``f64``: the release reads numbers as f64 (no arbitrary precision)."""
    if len(text) < _LARGE_ARGUMENTS:
        return _typed_arguments_problem(text, fields, f64)
    key = (hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).digest(), fields, f64)
    if key not in _VERDICTS:
        if len(_VERDICTS) >= _VERDICTS_KEPT:
            _VERDICTS.pop(next(iter(_VERDICTS)))
        _VERDICTS[key] = _typed_arguments_problem(text, fields, f64)
    return _VERDICTS[key]


def _typed_arguments_problem(text: str, fields: tuple[B.ArgumentField, ...], f64: bool) -> str | None:
    top: list = []  # the pairs of the outermost object: its hook call comes last

    def pairs(kv):
        top[:] = kv
        return dict(kv)

    parsed, problem = serde_text(text, typed_numbers=True, object_pairs_hook=pairs)
    if problem is not None:
        return "are not JSON"
    values: list
    if parsed is None:  # deeper than Python's parser goes, its syntax sound: its top level read iteratively
        kind, members, count = top_level_members(text, frozenset(f.name for f in fields), len(fields))
        values = [(k, _typed_value(v)) for k, v in members] if kind == "object" else [_typed_value(v) for v in members]
        if kind == "array" and count > len(fields):
            return f"are an array of more than {len(fields)} values"
    else:
        kind = "object" if isinstance(parsed, dict) else "array" if isinstance(parsed, list) else "scalar"
        values = top if kind == "object" else parsed if isinstance(parsed, list) else []
    if kind == "array" and B.ARGUMENTS_AS_ARRAY:
        if len(values) != len(fields):
            return f"are an array of {len(values)} values, not {len(fields)}"
        problems = (_field_problem(f, v, f64) for f, v in zip(fields, values))
        return next((p for p in problems if p is not None), None)
    if kind != "object":
        return "are not a JSON object"
    for f in fields:
        given = [v for k, v in values if k == f.name]
        if not given:
            if f.required:
                return f"hold no {f.name}"
        elif len(given) > 1:
            return f"hold {f.name} twice"
        elif (problem := _field_problem(f, given[0], f64)) is not None:
            return problem
    return None


def _field_problem(f: B.ArgumentField, value, f64: bool) -> str | None:
    if _takes(f, value, f64):
        return None
    if f64 and B.ARGUMENT_NUMBER in f.takes and _takes(f, value, False):
        return f"hold a {f.name} beyond f64 (the release reads numbers without arbitrary precision)"
    return f"hold a {f.name} that is not {' or '.join(f.takes)}{' or null' if f.nullable else ''}"


# Bodies of ref fields newer than the v2 handlers, checked when the ref is read.
LATER_REF_BODIES = {
    ("inference_started", "prepared_prompt_payload"): check_prepared_prompt,
    ("history_item_accepted", "tool_output_payload"): check_tool_output_item,
}
