"""Dialect v2: ``schema_version`` 2, written by Codex 0.165.0 to 0.170.0.

No source of schema 2 is published. Everything that differs from v1 was
learnt from real bundles of Codex 0.169.0 and from the 0.169.0 binary (serde's
"expected one of ..." lists, field counts and error strings, and about 600
reducer runs on edited bundles); such parts are marked ``inferred=True`` and
the docs say so. v2 keeps every v1 variant unchanged, drops nothing, and has
no ``request_input_mode`` (no release has it).
"""

from __future__ import annotations

from dataclasses import replace

from .common import FILE_PER_PAYLOAD, STR, envelope, manifest, opt_ref, req
from .types import CONTEXT_NULL, READ_AT_EVENT, Dialect, Field, Named, Variant, WriterFacts
from .v1 import V1, base_variants, payload_union, shared_types

def v2_variants() -> list[Variant]:
    """The variants of schema 2 (v1's, the v2 additions, and `kind` on runtime starts)."""
    variants = []
    for v in base_variants(request_input_mode=False):
        if v.tag == "tool_call_runtime_started":
            tool_call_id, runtime_payload = v.fields
            v = replace(
                v,
                fields=(
                    tool_call_id,
                    Field(
                        "kind",
                        Named("ToolCallKind"),
                        "What kind of runtime began, in `ToolCallKind` names. It may differ from the "
                        "start's kind (an MCP tool starts as `other` and runs as `mcp`); the 0.169.0 "
                        "reducer parses the runtime payload by it. Codex 0.165.0 does not write it; "
                        "reducers since 0.166.0 reject an event without it.",
                        required=False,
                        skip_if_none=True,
                        since="0.166.0",
                        required_since="0.166.0",
                        inferred=True,
                    ),
                    runtime_payload,
                ),
            )
        variants.append(v)
        if v.tag == "codex_turn_ended":
            variants.append(
                Variant(
                    "history_item_accepted",
                    "An item was accepted into the thread's model-visible history (the reducer marks "
                    "the conversation item whose Responses `id` is `item_id`; an unknown id is "
                    "ignored). The envelope must name the thread.",
                    (
                        req("item_id", STR, "Id of the accepted history item.", inferred=True),
                        opt_ref(
                            "agent_message_payload",
                            "For an inter-agent message: the `agent_message` model item itself, whose "
                            "`id` is `item_id` (Codex labels it `protocol_event`).",
                            ("protocol_event",),
                            since="0.169.0",  # measured: 0.165.0-0.168.0 wrote no inter-agent message here
                            inferred=True,
                            skip_if_none=True,
                            read=READ_AT_EVENT,
                        ),
                    ),
                    since="0.165.0",
                    inferred=True,
                )
            )
        if v.tag == "thread_ended":
            variants.append(
                Variant(
                    "thread_resumed",
                    "A thread that ended earlier in this trace runs again. The reducer rejects a "
                    "thread that was not started in this trace, or has not ended.",
                    (req("thread_id", STR, "The resumed thread.", inferred=True),),
                    since="0.166.0",
                    inferred=True,
                    context=CONTEXT_NULL,
                )
            )
    variants.append(
        Variant(
            "recording_completed",
            "The writer finished the bundle; nothing may follow.",
            (),
            since="0.167.2",  # measured: 0.167.2 and 0.168.0 write and read it (model/releases/data)
            inferred=True,
            context=CONTEXT_NULL,
        )
    )
    return variants


V2 = Dialect(
    name="v2",
    schema_version=2,
    title="Rollout trace, schema_version 2",
    doc=(
        "The dialect of Codex 0.165.0 to 0.170.0. Its reducer enforces the ordering and "
        "identity rules that v1 left to the writer: contiguous `seq`, one `rollout_id`, "
        "the event `schema_version`, and nothing after `recording_completed`."
    ),
    releases=("0.165.0", "0.170.0"),
    reference_release="0.169.0",
    envelope=envelope(2),
    payload=payload_union(v2_variants()),
    manifest=manifest(2),
    types=tuple(shared_types(input_mode=False)),
    terminal_variants=("recording_completed",),
    layout=FILE_PER_PAYLOAD,
    writer=WriterFacts(failed_turn_status="failed"),
    # 0.169.0 opens every referenced payload by the end of the replay ("read payload {id}" /
    # "invalid payload {id}", measured).
    reducer_reads_every_ref=True,
    extends=V1,
    # Measured on 0.169.0: a body of these kinds nesting 127 levels (the top object 1) is read, 128 fail
    # ("parse payload"), wherever the depth sits; the other kinds in the corpus were read 300 levels deep.
    body_depth_limits=(
        ("compaction_checkpoint", 127),
        ("inference_request", 127),
        ("inference_response", 127),
        ("session_metadata", 127),
        ("tool_invocation", 127),
    ),
    # Runtime payloads are parsed by the runtime's kind; measured (a key nesting 126 levels read, 127
    # fail) on 0.169.0, 0.169.1 and 0.171.0: exec starts and ends, patch, wait and spawn (sub-agent
    # activity) ends are read deep; patch and wait starts, MCP runtimes are not (read 1,000 deep).
    # These are the reference reducer's; each release's own are release data (`codex probe --depths`,
    # reducer.runtime_depths: 0.165.0 parses every runtime body, 0.166.0 and 0.167.2 as 0.169.0), which
    # `--release` applies.
    # An accepted agent message (protocol_event) is parsed as a model item: a key nesting 126 levels read,
    # 127 fail ("parse payload"), measured on 0.169.0 and 0.171.0.
    field_depth_limits=(("history_item_accepted", "agent_message_payload", 127),),
    runtime_depth_limits=(
        ("tool_call_runtime_started", "exec_command", 127),
        ("tool_call_runtime_ended", "exec_command", 127),
        ("tool_call_runtime_ended", "apply_patch", 127),
        ("tool_call_runtime_ended", "wait_agent", 127),
        ("tool_call_runtime_ended", "spawn_agent", 127),
    ),
)
