"""Types shared by every dialect, and shorthands to write the model with.

Doc strings quote the upstream doc comments (``raw_event.rs``, ``payload.rs``,
``model/*.rs``, ``bundle.rs``) where they exist; the rest describe what real
Codex releases write.
"""

from __future__ import annotations

from typing import Any

from .types import (
    STORE_FILES,
    STORE_ZSTD_SHARDS,
    AnyJson,
    Layout,
    RecordField,
    ArrayOf,
    Field,
    Int,
    Named,
    Nullable,
    StrEnum,
    Str,
    Struct,
    TaggedUnion,
    TypeExpr,
    UnitKind,
    Variant,
)

PAYLOAD_UNION = "RawTraceEventPayload"  # the name of every dialect's payload union (the envelope's `payload`)
FIRST_RELEASE = "0.125.0"  # first Codex release with a reducer (0.124.0 wrote 4 event types only)

STR = Str()
U32 = Int("u32")
U64 = Int("u64")
I64 = Int("i64")
REF = Named("RawPayloadRef")


def req(name: str, type_: TypeExpr, doc: str, **kw: Any) -> Field:
    """A non-Option field: the key must be present."""
    return Field(name, type_, doc, required=True, **kw)


def opt(name: str, type_: TypeExpr, doc: str, **kw: Any) -> Field:
    """An ``Option<T>`` field: written as ``null`` when absent, and may be missing."""
    return Field(name, Nullable(type_), doc, required=False, **kw)


def ref(name: str, doc: str, kinds: tuple[str, ...], **kw: Any) -> Field:
    return req(name, REF, doc, payload_kinds=kinds, **kw)


def opt_ref(name: str, doc: str, kinds: tuple[str, ...], **kw: Any) -> Field:
    return opt(name, REF, doc, payload_kinds=kinds, **kw)


# --- layouts ------------------------------------------------------------------------

FILE_PER_PAYLOAD = Layout(
    "file_per_payload",
    "One pretty-printed JSON file per payload, `payloads/{n}.json`; a ref names it by `path`.",
    store=STORE_FILES,
    ref_key="path",
    payload_file="payloads/{n}.json",
)

ZSTD_SHARDS = Layout(
    "zstd_shards",
    "Payloads are records in zstd-compressed shard files `payloads/{shard:06}.zst` (numbered "
    "from 1); a ref names its shard by number in `shard`. A decompressed shard is a sequence "
    "of records, each a header of two little-endian lengths followed by the id and the body.",
    store=STORE_ZSTD_SHARDS,
    ref_key="shard",
    payload_file="payloads/{shard:06}.zst",
    record=(
        RecordField("id_len", "u16le", "Length in bytes of the payload id.", length_of="id"),
        RecordField("body_len", "u64le", "Length in bytes of the body.", length_of="body"),
        RecordField("id", "bytes", "The payload id, `raw_payload:{n}` in UTF-8."),
        RecordField("body", "bytes", "The payload: one JSON document."),
    ),
)

# --- payload references -------------------------------------------------------

RAW_PAYLOAD_KINDS = (
    "inference_request",
    "inference_response",
    "compaction_request",
    "compaction_checkpoint",
    "compaction_response",
    "tool_invocation",
    "tool_result",
    "tool_runtime_event",
    "terminal_runtime_event",
    "protocol_event",
    "session_metadata",
    "agent_result",
)



def raw_payload_kind(kinds: tuple[str, ...] = RAW_PAYLOAD_KINDS) -> UnitKind:
    return UnitKind(
        "RawPayloadKind",
        "What a raw payload holds. Adjacently tagged unit enum: written as "
        '`{"type": K}`; serde also reads `{"type": K, "value": null}`. '
        "The reference reducer never checks it.",
        kinds,
    )


RawPayloadKind = raw_payload_kind()


def _locator(layout: Layout) -> Field:
    if layout.store == STORE_FILES:
        return req(
            layout.ref_key,
            STR,
            f"Path relative to the trace bundle root; writers use `{layout.payload_file}`.",
        )
    return req(
        layout.ref_key,
        U32,
        f"Number of the shard holding the payload record (`{layout.payload_file}`).",
    )


def raw_payload_ref(layout: Layout, *extra: Field, name: str = "RawPayloadRef", doc: str | None = None) -> Struct:
    """The ref shape of a layout: id, kind, the key that locates the payload, then ``extra``."""
    return Struct(
        name,
        doc
        or "Reference from an event to a stored payload holding large evidence. "
        "The writer stores the payload before the event that points to it.",
        (
            req("raw_payload_id", STR, f"Bundle-unique payload id; writers use `{layout.payload_id}`."),
            req("kind", Named("RawPayloadKind"), "What the payload holds."),
            _locator(layout),
        )
        + extra,
        payload_ref=True,
    )


RawPayloadRef = raw_payload_ref(FILE_PER_PAYLOAD)

# --- status enums ----------------------------------------------------------------

RolloutStatus = StrEnum(
    "RolloutStatus",
    "Status of a rollout or thread.",
    ("running", "completed", "failed", "aborted"),
)
ExecutionStatus = StrEnum(
    "ExecutionStatus",
    "Status of a turn, tool call or tool runtime.",
    ("running", "completed", "failed", "cancelled", "aborted"),
)
CodeCellRuntimeStatus = StrEnum(
    "CodeCellRuntimeStatus",
    "Status reported by the code-mode runtime for a code cell.",
    ("starting", "running", "yielded", "completed", "failed", "terminated"),
)

# --- tool calls ---------------------------------------------------------------------

# The Rust declaration order of the tagged unions inside the event payload (serde buffers the payload, so
# it reads `{"type": i}` there as the i-th variant: TaggedUnion.index_order). Measured with an integer tag
# in place of each variant's name on 0.125.0, 0.128.0, 0.131.0, 0.135.0, 0.143.0, 0.162.0, 0.164.0,
# 0.165.0, 0.166.0, 0.167.2, 0.168.0, 0.169.0, 0.170.0 and 0.171.0: requester 0 is read as model, 1 wants
# `runtime_cell_id`; summary 0 wants `operation_id`, 1 `target_agent_path`, 2 and 3 read as they are; past
# the last, "invalid value: integer `2`, expected variant index 0 <= i < 2". The event payload's own tag
# and a ref's kind are not read from an integer ("expected variant identifier", "expected string or map").
REQUESTER_INDEX_ORDER = ("model", "code_cell")
SUMMARY_INDEX_ORDER = ("terminal", "agent", "wait_agent", "generic")

RawToolCallRequester = TaggedUnion(
    "RawToolCallRequester",
    "Runtime requester as observed at the raw tool boundary. This intentionally uses "
    "runtime-local identifiers; the reducer maps them to graph identities.",
    (
        Variant("model", "The model asked for the tool call in its output."),
        Variant(
            "code_cell",
            "Model-authored code running in a code-mode cell issued the call.",
            (req("runtime_cell_id", STR, "Runtime-local code-mode cell handle."),),
        ),
    ),
    index_order=REQUESTER_INDEX_ORDER,
)

_UNIT_TOOL_KINDS = (
    ("exec_command", "A shell command (`exec_command`, `local_shell`, `shell`, `shell_command`)."),
    ("write_stdin", "Input written to a running command."),
    ("apply_patch", "A patch applied to files."),
    ("web", "Web search (`web_search`, `web_search_preview`)."),
    ("image_generation", "Image generation or image query."),
    ("spawn_agent", "Spawn a sub-agent (multi-agent)."),
    ("assign_agent_task", "Assign a task to an agent (`followup_task`, `assign_task`)."),
    ("send_message", "Send a message to an agent."),
    ("wait_agent", "Wait for an agent."),
    ("close_agent", "Close or interrupt an agent."),
)


# Tool kinds whose runtime start creates a terminal operation (a process the reducer tracks).
TERMINAL_OPERATION_KINDS = ("exec_command", "write_stdin")
# Of those, kinds whose operation-creating runtime start the reducer parses as the operation's start ("parse
# terminal runtime start payload": command, cwd): a write_stdin's as an exec_command's (measured on 0.125.0,
# 0.143.0, 0.164.0, 0.169.0, 0.170.0 and 0.171.0, with a write_stdin call and, v2 on, another call's
# write_stdin runtime).
TERMINAL_START_KINDS = ("exec_command", "write_stdin")
# Tool kinds whose runtime end the terminal reducer parses as a process's end (exit_code, process id). A
# write_stdin's runtime end is parsed as a "write_stdin terminal response" instead (TERMINAL_RESPONSE_KINDS).
EXEC_RUNTIME_KINDS = ("exec_command",)
# Tool kinds whose runtime end, once a runtime start created the terminal operation (and, for a kind
# created at dispatch, its runtime end and tool_call_ended's result), the terminal reducer parses as a
# terminal response: an exec end as EXEC_RUNTIME_KINDS' (an i32 exit_code, the start's process
# id) or else a dispatch payload (bodies.DISPATCH_RESPONSE); "parse write_stdin terminal response {id} as
# protocol payload (...) or dispatch payload". Measured on 0.164.0, 0.169.0, 0.171.0 (a write_stdin call, and
# v2 on another call's write_stdin runtime). A release wants there the keys it wants in an exec end
# (reducer.body_required at the exec end's place: `stdout` and more on 0.125.0 to 0.143.0, measured on
# 0.125.0, 0.135.0, 0.143.0).
TERMINAL_RESPONSE_KINDS = ("write_stdin",)
# Of the terminal operation kinds, those whose start with an invocation payload creates the operation at once
# (0.125.0 and 0.164.0 parse a write_stdin invocation as a "dispatch payload": measured).
TERMINAL_AT_DISPATCH_KINDS = ("write_stdin",)
# Tool kinds the reducer matches a multi-agent call's sub-agent activity against.
AGENT_ACTIVITY_KINDS = ("spawn_agent", "assign_agent_task", "send_message", "wait_agent", "close_agent")


# ToolCallKind's variants in Rust declaration order: serde reads `{"type": i}` as the i-th (0: exec_command,
# 3: mcp with its server and tool, 11: other with its name; 12 and above, negatives and floats are parse
# errors). Measured on 0.125.0, 0.143.0, 0.162.0, 0.164.0, 0.169.0 and 0.171.0: the reducers name the kind
# they read ("sub-agent activity Started does not match tool call kind Web" for 4), 1 parses a write_stdin
# dispatch, 3 and 11 need their fields.
TOOL_KIND_INDEX_ORDER = (
    "exec_command", "write_stdin", "apply_patch", "mcp", "web", "image_generation", "spawn_agent",
    "assign_agent_task", "send_message", "wait_agent", "close_agent", "other",
)


def tool_call_kind(name: str, doc: str, *, since: str | None = None, inferred: bool = False) -> TaggedUnion:
    return TaggedUnion(
        name,
        doc,
        tuple(
            Variant(tag, d, terminal_operation=tag in TERMINAL_OPERATION_KINDS,
                    terminal_at_dispatch=tag in TERMINAL_AT_DISPATCH_KINDS, agent_activity=tag in AGENT_ACTIVITY_KINDS,
                    exec_runtime=tag in EXEC_RUNTIME_KINDS, terminal_start=tag in TERMINAL_START_KINDS,
                    terminal_response=tag in TERMINAL_RESPONSE_KINDS)
            for tag, d in _UNIT_TOOL_KINDS
        )
        + (
            Variant(
                "mcp",
                "A tool of an MCP server.",
                (req("server", STR, "MCP server name."), req("tool", STR, "Tool name on that server.")),
            ),
            Variant("other", "Any other tool.", (req("name", STR, "Tool name."),)),
        ),
        since=since,
        inferred=inferred,
        index_order=TOOL_KIND_INDEX_ORDER,
    )


ToolCallKind = tool_call_kind("ToolCallKind", "What kind of tool a tool call runs.")

ToolCallSummary = TaggedUnion(
    "ToolCallSummary",
    "Short, display-oriented summary of a tool call. Codex writes `generic`.",
    (
        Variant(
            "terminal",
            "A terminal operation.",
            (req("operation_id", STR, "Terminal operation id."),),
        ),
        Variant(
            "agent",
            "An interaction with another agent.",
            (
                req("target_agent_path", STR, "Agent path of the target."),
                opt("task_name", STR, "Task name, when one was given."),
                req("message_preview", STR, "Start of the message."),
            ),
        ),
        Variant(
            "wait_agent",
            "A wait on another agent.",
            (
                opt("target_agent_path", STR, "Agent path waited on, if one."),
                opt("timeout_ms", U64, "Wait timeout in milliseconds."),
            ),
        ),
        Variant(
            "generic",
            "Any tool: a label and short previews.",
            (
                req("label", STR, "Tool name, or `namespace.tool_name`."),
                opt("input_preview", STR, "Start of the input (Codex cuts it at 160 characters + `...`)."),
                opt("output_preview", STR, "Start of the output."),
            ),
        ),
    ),
    index_order=SUMMARY_INDEX_ORDER,
)


def inference_request_input_mode(since: str | None) -> TaggedUnion:
    return TaggedUnion(
        "InferenceRequestInputMode",
        "How the request payload relates to earlier inference calls of the thread.",
        (
            Variant("full_snapshot", "The request payload holds the whole input."),
            Variant(
                "incremental",
                "The request continues a traced earlier response.",
                (req("previous_response_id", STR, "Responses API id of the earlier response."),),
            ),
            Variant(
                "incremental_with_untraced_prefix",
                "The request continues a response that is not in this trace; the prefix "
                "the model already saw is in `prefix_payload`.",
                (
                    req("previous_response_id", STR, "Responses API id of the earlier response."),
                    ref("prefix_payload", "Input the earlier, untraced calls sent.", ("inference_request",)),
                ),
            ),
        ),
        since=since,
    )


# --- manifest --------------------------------------------------------------------


class ManifestKey:
    """The keys of ``manifest.json`` a writer fills (the rest of a model manifest: its const, or null)."""

    SCHEMA_VERSION = "schema_version"
    TRACE_ID = "trace_id"
    ROLLOUT_ID = "rollout_id"
    ROOT_THREAD_ID = "root_thread_id"
    STARTED_AT = "started_at_unix_ms"
    EVENT_LOG = "raw_event_log"
    PAYLOADS_DIR = "payloads_dir"


def manifest(schema_version: int, layout: Layout = FILE_PER_PAYLOAD) -> Struct:
    K = ManifestKey
    return Struct(
        "TraceBundleManifest",
        f"`{layout.manifest_file}`: trace identity and bundle metadata (schema_version {schema_version}). "
        "Written pretty-printed by the writer when the bundle is created.",
        (
            req(
                K.SCHEMA_VERSION,
                U32,
                f"Manifest schema version; writers of this dialect write {schema_version}.",
                const=schema_version,
            ),
            req(K.TRACE_ID, STR, "Trace id (a UUID) chosen when the bundle is created."),
            req(K.ROLLOUT_ID, STR, "Rollout id; every event's envelope repeats it. Codex uses the root thread id."),
            req(
                K.ROOT_THREAD_ID,
                STR,
                "Thread id of the root agent. Replay should fail rather than inventing a placeholder.",
            ),
            req(K.STARTED_AT, I64, "Unix wall-clock time in milliseconds when the bundle was created."),
            req(K.EVENT_LOG, STR, f"File name of the event log; always `{layout.event_log}`."),
            req(K.PAYLOADS_DIR, STR, f"Directory of payload files; always `{layout.payloads_dir}`."),
        ),
    )


class EnvelopeKey:
    """The envelope keys a writer stamps on every event (the rest of a model envelope: its const, or null)."""

    SCHEMA_VERSION = "schema_version"
    SEQ = "seq"
    WALL_TIME = "wall_time_unix_ms"
    ROLLOUT_ID = "rollout_id"
    THREAD_ID = "thread_id"
    TURN_ID = "codex_turn_id"
    PAYLOAD = "payload"


def envelope(schema_version: int) -> Struct:
    K = EnvelopeKey
    return Struct(
        "RawTraceEvent",
        "One append-only raw trace event. Every event uses the same envelope so partial "
        "replay and corruption checks can run before the reducer understands the "
        "event-specific payload.",
        (
            req(
                K.SCHEMA_VERSION,
                U32,
                f"Raw event schema version; writers of this dialect write {schema_version}.",
                const=schema_version,
            ),
            req(K.SEQ, U64, "Contiguous writer-assigned order inside one rollout event log, from 1."),
            req(K.WALL_TIME, I64, "Unix wall-clock timestamp in milliseconds. Use for display/latency."),
            req(K.ROLLOUT_ID, STR, "The manifest's rollout id."),
            opt(K.THREAD_ID, STR, "Thread the event happened in, when the writer had that context."),
            opt(K.TURN_ID, STR, "Codex turn the event happened in, when the writer had that context."),
            req(K.PAYLOAD, Named(PAYLOAD_UNION), "The event itself, tagged by `type`."),
        ),
    )


ANY = AnyJson()
REF_LIST = ArrayOf(REF)
