"""Dialect v1: ``schema_version`` 1, written by Codex 0.125.0 to 0.164.0.

Source: upstream ``codex-rs/rollout-trace/src/raw_event.rs`` (the seed, 23
variants) plus the later schema-1 additions. Fields added within schema 1 are
``Option`` (or ``serde(default)``) so the newest schema-1 reducer reads every
older schema-1 bundle; variants added within schema 1 make newer bundles
unreadable by older reducers (``since`` says which release first writes each).
"""

from __future__ import annotations

from .common import (
    ANY,
    FILE_PER_PAYLOAD,
    FIRST_RELEASE,
    PAYLOAD_UNION,
    REF_LIST,
    STR,
    CodeCellRuntimeStatus,
    ExecutionStatus,
    RawPayloadKind,
    RawPayloadRef,
    RawToolCallRequester,
    RolloutStatus,
    ToolCallKind,
    ToolCallSummary,
    envelope,
    inference_request_input_mode,
    manifest,
    opt,
    opt_ref,
    ref,
    req,
)
from .types import (
    CONTEXT_FREE,
    CONTEXT_NULL,
    READ_AT_EVENT,
    READ_IF_DISPATCHED_TERMINAL,
    Dialect,
    Field,
    Named,
    NamedType,
    Nullable,
    TaggedUnion,
    Variant,
    WriterFacts,
)

# request_input_mode exists in upstream source (openai/codex 1c38856a, still schema 1) but in
# no published release: neither the 0.164.0 nor the 0.169.0 binary contains the strings
# "request_input_mode" or "incremental_with_untraced_prefix", and both reducers ignore the key.
REQUEST_INPUT_MODE_SINCE = "unreleased"

THREAD = "thread_id"
# Code cell events with a null envelope thread_id: 0.164.0, 0.169.0 and 0.169.1 take the thread of
# the envelope's turn; 0.171.0 rejects them ("code cell start 1 did not include a thread id", measured).
CELL_THREAD_REQUIRED_SINCE = "0.171.0"
# A code cell start whose envelope codex_turn_id is null or names no started turn, its thread named,
# for a cell the model asked for (its `exec` custom_tool_call in the thread's conversation; a cell
# with no such call is not checked so): every reducer rejects it ("code cell start referenced unknown Codex turn {id}", "code cell start
# code_cell:{call} did not include a Codex turn id"; measured on 0.125.0, 0.164.0, 0.169.0, 0.171.0).
# The cell's initial response and end are not checked so (measured on 0.164.0).
CELL_START_TURN_REQUIRED_SINCE = FIRST_RELEASE


def _status(enum: str, doc: str) -> Field:
    return req("status", Named(enum), doc)


def base_variants(request_input_mode: bool = True) -> list[Variant]:
    """The variants every dialect shares, as schema 1 defines them."""
    variants = [
        Variant(
            "rollout_started",
            "First event of a bundle: the rollout's identity.",
            (
                req("trace_id", STR, "The manifest's trace id."),
                req("root_thread_id", STR, "The manifest's root thread id."),
            ),
            context=CONTEXT_NULL,
        ),
        Variant(
            "rollout_ended",
            "The root thread ended; the rollout is over.",
            (_status("RolloutStatus", "Final rollout status (Codex writes `completed`)."),),
            context=CONTEXT_NULL,
        ),
        Variant(
            "thread_started",
            "An agent thread (the root, or a multi-agent child) started.",
            (
                req(THREAD, STR, "The new thread's id."),
                req("agent_path", STR, "Stable agent path (`/root`, `/root/child_task`, ...)."),
                opt_ref("metadata_payload", "Session metadata of the thread.", ("session_metadata",), read=READ_AT_EVENT),
            ),
            context=CONTEXT_NULL,
        ),
        Variant(
            "thread_ended",
            "An agent thread ended.",
            (
                req(THREAD, STR, "The thread that ended."),
                _status("RolloutStatus", "Final thread status."),
            ),
            context=CONTEXT_NULL,
        ),
        Variant(
            "codex_turn_started",
            "A Codex turn (one user submission and the work it causes) started.",
            (
                req("codex_turn_id", STR, "The new turn's id."),
                req(THREAD, STR, "Thread the turn belongs to."),
            ),
            context_fields=("thread_id", "codex_turn_id"),
        ),
        Variant(
            "codex_turn_ended",
            "A Codex turn ended.",
            (
                req("codex_turn_id", STR, "The turn that ended."),
                _status("ExecutionStatus", "Final turn status."),
            ),
        ),
        Variant(
            "inference_started",
            "A request to the model provider started.",
            (
                req("inference_call_id", STR, "Trace-unique id of this inference call (a UUID)."),
                req(THREAD, STR, "Thread that made the call."),
                req("codex_turn_id", STR, "Turn that made the call."),
                req("model", STR, "Model name."),
                req("provider_name", STR, "Model provider name."),
                Field(
                    "request_input_mode",
                    Nullable(Named("InferenceRequestInputMode")),
                    "How the request relates to earlier calls. Upstream source only (no release "
                    "writes or reads it: the 0.164.0 and 0.169.0 reducers ignore the key). Omitted "
                    "when unknown; readers then derive the mode from the request payload's "
                    "`previous_response_id`.",
                    required=False,
                    since=REQUEST_INPUT_MODE_SINCE,
                    skip_if_none=True,
                ),
                ref("request_payload", "The request sent to the provider.", ("inference_request",), read=READ_AT_EVENT),
            ),
            context_fields=("thread_id", "codex_turn_id"),
        ),
        Variant(
            "inference_completed",
            "The provider finished the response.",
            (
                req("inference_call_id", STR, "The call that completed."),
                opt("response_id", STR, "Responses API `response.id`; used by `previous_response_id`."),
                opt(
                    "upstream_request_id",
                    STR,
                    "Provider transport request id, such as `x-request-id`.",
                    since="0.128.0",
                ),
                ref("response_payload", "The response output items and token usage.", ("inference_response",), read=READ_AT_EVENT),
            ),
        ),
        Variant(
            "inference_failed",
            "The provider call failed.",
            (
                req("inference_call_id", STR, "The call that failed."),
                opt(
                    "upstream_request_id",
                    STR,
                    "Provider transport request id, such as `x-request-id`, when the provider "
                    "returned one before the stream failed.",
                    since="0.128.0",
                ),
                req("error", STR, "Error text."),
                opt_ref(
                    "partial_response_payload",
                    "Partial response payload, when stream events arrived before failure.",
                    ("inference_response",),
                    read=READ_AT_EVENT,
                ),
            ),
        ),
        Variant(
            "inference_cancelled",
            "Codex stopped consuming the provider stream before a terminal response event.",
            (
                req("inference_call_id", STR, "The call that was cancelled."),
                opt(
                    "upstream_request_id",
                    STR,
                    "Provider transport request id, such as `x-request-id`, when observed "
                    "before Codex stopped consuming the stream.",
                ),
                req("reason", STR, "Why Codex stopped consuming the provider stream."),
                opt_ref(
                    "partial_response_payload",
                    "Completed output items observed before cancellation, if any.",
                    ("inference_response",),
                    read=READ_AT_EVENT,
                ),
            ),
            since="0.128.0",
        ),
        Variant(
            "tool_call_started",
            "Codex dispatched a tool call.",
            (
                req("tool_call_id", STR, "Trace-unique tool call id."),
                opt(
                    "model_visible_call_id",
                    STR,
                    "Protocol/model call ID when this runtime call came from model output.",
                ),
                opt(
                    "code_mode_runtime_tool_id",
                    STR,
                    "Code-mode runtime bridge ID when model-authored code issued this call.",
                ),
                req("requester", Named("RawToolCallRequester"), "Runtime requester that caused this tool lifecycle."),
                req("kind", Named("ToolCallKind"), "What kind of tool runs."),
                req("summary", Named("ToolCallSummary"), "Display summary of the call."),
                opt_ref("invocation_payload", "The tool invocation as dispatched.", ("tool_invocation",), read=READ_AT_EVENT),
            ),
        ),
        Variant(
            "mcp_tool_call_correlation_assigned",
            "A tool call was bridged to an MCP call; links the two ids.",
            (
                req("tool_call_id", STR, "The tool call."),
                req("mcp_call_id", STR, "The MCP call id (a UUID, sent as `codex_bridge_mcp_call_id`)."),
            ),
            since="0.131.0",
            context=CONTEXT_NULL,
        ),
        Variant(
            "tool_call_runtime_started",
            "The runtime began executing a tool call.",
            (
                req("tool_call_id", STR, "The tool call."),
                ref(
                    "runtime_payload",
                    "Runtime/protocol observation for how Codex began executing the tool.",
                    ("tool_runtime_event", "terminal_runtime_event"),
                    read=READ_AT_EVENT,
                ),
            ),
        ),
        Variant(
            "tool_call_runtime_ended",
            "The runtime finished executing a tool call.",
            (
                req("tool_call_id", STR, "The tool call."),
                _status("ExecutionStatus", "Runtime status (a command exiting non-zero is `failed`)."),
                ref(
                    "runtime_payload",
                    "Runtime/protocol observation for how Codex finished executing the tool.",
                    ("tool_runtime_event", "terminal_runtime_event"),
                    read=READ_AT_EVENT,
                ),
            ),
        ),
        Variant(
            "stdin_target_resolved",
            "A `write_stdin` tool call was resolved to the `exec_command` call whose process it writes to.",
            (
                req("tool_call_id", STR, "The `write_stdin` tool call.", inferred=True),
                req("exec_tool_call_id", STR, "The `exec_command` tool call that owns the process.", inferred=True),
            ),
            since="0.164.0",
            inferred=True,
        ),
        Variant(
            "tool_call_ended",
            "The tool call's result was returned (or it failed).",
            (
                req("tool_call_id", STR, "The tool call."),
                _status("ExecutionStatus", "Tool status."),
                opt_ref("result_payload", "The result returned to the caller.", ("tool_result",), read=READ_IF_DISPATCHED_TERMINAL),
            ),
        ),
        Variant(
            "code_cell_started",
            "A code-mode cell (model-authored JavaScript) started.",
            (
                req("runtime_cell_id", STR, "Runtime-local handle allocated by code mode for waits and nested tools."),
                req("model_visible_call_id", STR, "Custom tool call id on the model-visible `exec` item."),
                req("source_js", STR, "JavaScript source after the public `exec` wrapper has been parsed."),
            ),
            thread_required_since=CELL_THREAD_REQUIRED_SINCE,
            turn_required_since=CELL_START_TURN_REQUIRED_SINCE,
        ),
        Variant(
            "code_cell_initial_response",
            "The first response of a code cell came back to the model.",
            (
                req("runtime_cell_id", STR, "Runtime-local handle, matching `code_cell_started`."),
                _status("CodeCellRuntimeStatus", "Cell status at the initial response."),
                opt_ref("response_payload", "The response returned.", ("tool_result",)),
            ),
            thread_required_since=CELL_THREAD_REQUIRED_SINCE,
        ),
        Variant(
            "code_cell_ended",
            "A code cell ended.",
            (
                req("runtime_cell_id", STR, "Runtime-local handle, matching `code_cell_started`."),
                _status("CodeCellRuntimeStatus", "Final cell status."),
                opt_ref("response_payload", "The final response.", ("tool_result",)),
            ),
            thread_required_since=CELL_THREAD_REQUIRED_SINCE,
        ),
        Variant(
            "compaction_request_started",
            "A remote compaction request started.",
            (
                req("compaction_id", STR, "The compaction this request serves."),
                req("compaction_request_id", STR, "Id of this request attempt."),
                req(THREAD, STR, "Thread being compacted."),
                req("codex_turn_id", STR, "Turn during which compaction ran."),
                req("model", STR, "Model name."),
                req("provider_name", STR, "Model provider name."),
                ref("request_payload", "The compaction request.", ("compaction_request",)),
            ),
            context_fields=("thread_id", "codex_turn_id"),
        ),
        Variant(
            "compaction_request_completed",
            "A remote compaction request completed.",
            (
                req("compaction_id", STR, "The compaction."),
                req("compaction_request_id", STR, "The request attempt."),
                ref("response_payload", "The compaction response.", ("compaction_response",)),
            ),
        ),
        Variant(
            "compaction_request_failed",
            "A remote compaction request failed.",
            (
                req("compaction_id", STR, "The compaction."),
                req("compaction_request_id", STR, "The request attempt."),
                req("error", STR, "Error text."),
            ),
        ),
        Variant(
            "compaction_installed",
            "Checkpoint installation event for remote-compacted replacement history.",
            (
                req("compaction_id", STR, "The compaction."),
                ref(
                    "checkpoint_payload",
                    "Trace-only checkpoint payload (`input_history`, `replacement_history`).",
                    ("compaction_checkpoint",),
                    read=READ_AT_EVENT,
                ),
            ),
        ),
        Variant(
            "agent_result_observed",
            "Multi-agent v2 child-to-parent completion delivery.",
            (
                req("edge_id", STR, "Edge id; Codex writes `edge:agent_result:{child}:{child_turn}:{parent}`."),
                req("child_thread_id", STR, "The child thread that finished."),
                req("child_codex_turn_id", STR, "The child turn that produced the result."),
                req("parent_thread_id", STR, "The parent thread receiving it."),
                req("message", STR, "The delivered message."),
                opt_ref(
                    "carried_payload",
                    "Raw notification payload. This is evidence for the runtime delivery, "
                    "not the parent-side model-visible item.",
                    ("agent_result",),
                ),
            ),
        ),
        Variant(
            "protocol_event_observed",
            "Existing UI/protocol event wrapped into trace format.",
            (
                req("event_type", STR, "Protocol event type (`session_configured`, ...)."),
                ref("event_payload", "The protocol event.", ("protocol_event",)),
            ),
            context=CONTEXT_NULL,
        ),
        Variant(
            "other",
            "Structured payload for early instrumentation before a dedicated variant exists. "
            "No release writes it, and every reference reducer rejects it.",
            (
                req("kind", STR, "Instrumentation kind."),
                req("summary", STR, "Short summary."),
                req("payloads", REF_LIST, "Payloads holding the evidence.", payload_kinds=()),
                req("metadata", ANY, "Small structured metadata (required, may be null). Large data belongs in `payloads`."),
            ),
            context=CONTEXT_FREE,
            unimplemented=True,
        ),
    ]
    if not request_input_mode:
        variants = [_without(v, "request_input_mode") if v.tag == "inference_started" else v for v in variants]
    return variants


def _without(variant: Variant, field_name: str) -> Variant:
    from dataclasses import replace

    return replace(variant, fields=tuple(f for f in variant.fields if f.name != field_name))


def shared_types(
    tool_runtime_kind: NamedType | None = None,
    *,
    input_mode: bool = True,
    ref_types: tuple[NamedType, ...] = (RawPayloadRef, RawPayloadKind),
) -> list[NamedType]:
    types: list[NamedType] = [
        *ref_types,
        RolloutStatus,
        ExecutionStatus,
        CodeCellRuntimeStatus,
        RawToolCallRequester,
        ToolCallKind,
        ToolCallSummary,
    ]
    if input_mode:
        types.append(inference_request_input_mode(REQUEST_INPUT_MODE_SINCE))
    if tool_runtime_kind is not None:
        types.append(tool_runtime_kind)
    return types


def payload_union(variants: list[Variant]) -> TaggedUnion:
    return TaggedUnion(
        PAYLOAD_UNION,
        "Typed payload for a raw trace event, internally tagged by `type` (snake_case).",
        tuple(variants),
    )


V1 = Dialect(
    name="v1",
    schema_version=1,
    title="Rollout trace, schema_version 1",
    doc=(
        "The dialect of Codex 0.125.0 to 0.164.0. Its reducer checks the lifecycle of "
        "threads, turns, inference calls and tools, but not `seq`, `rollout_id` or "
        "`schema_version`: those are only writer promises."
    ),
    releases=(FIRST_RELEASE, "0.164.0"),
    reference_release="0.164.0",
    envelope=envelope(1),
    payload=payload_union(base_variants()),
    manifest=manifest(1),
    types=tuple(shared_types()),
    terminal_variants=("rollout_ended",),
    layout=FILE_PER_PAYLOAD,
    writer=WriterFacts(failed_turn_status="completed"),  # 0.164.0 ends a failed turn `completed`
    # 0.164.0 opens only the payloads its handlers read (measured).
    reducer_reads_every_ref=False,
    # Measured on 0.164.0: a body of these kinds nesting 127 levels (the top object 1) is read, 128 fail
    # ("parse payload"), wherever the depth sits; the other kinds in the corpus were read 300 levels deep.
    body_depth_limits=(
        ("compaction_checkpoint", 127),
        ("inference_request", 127),
        ("inference_response", 127),
        ("session_metadata", 127),
        ("tool_invocation", 127),
        ("tool_runtime_event", 127),
    ),
)
