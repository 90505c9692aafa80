"""Dialect v3: ``schema_version`` 3, written by Codex 0.171.0.

No source of schema 3 is published. What differs from v2 was learnt from the
twelve real 0.171.0 bundles of the shipped corpus, the 0.171.0 binary (serde's
variant and field lists) and reducer runs on edited bundles (about 40 edits, each run through
``codex debug trace-reduce``); such parts are
``inferred=True``.

* Layout: payloads are records in zstd-compressed shards (``payloads/000001.zst``);
  a ref names its shard by number (``shard``) instead of a file ``path``.
* Refs may carry ``capture`` (internally tagged by ``status``: complete, truncated,
  omitted; Codex truncates a payload at 64 MiB) and ``parts`` (the payloads a
  composite payload is assembled from: a prepared prompt's model items, and past
  the capture limit a response's items and their content values). ``shard`` is
  absent only for an omitted payload.
* New refs: ``inference_started.prepared_prompt_payload`` (required: 0.171.0's
  reducer rejects an inference start without it) and the optional
  ``history_item_accepted.tool_output_payload``; new variant
  ``code_cell_wait_target_resolved`` (written when code mode's ``wait`` targets
  a running cell).
"""

from __future__ import annotations

from dataclasses import replace

from .common import (
    RAW_PAYLOAD_KINDS,
    STR,
    U64,
    ZSTD_SHARDS,
    envelope,
    manifest,
    opt,
    opt_ref,
    raw_payload_kind,
    ref,
    req,
)
from .types import ArrayOf, Dialect, Field, Named, Struct, TaggedUnion, Variant, WriterFacts
from .v1 import payload_union, shared_types
from .v2 import V2, v2_variants

# The first release writing v3: the `since` of everything v3 adds. The dialect's range and its
# reference release are other facts (they move when a newer release is probed), so they are
# stated on the dialect itself, not through this name.
FIRST_V3_RELEASE = "0.171.0"

# 0.171.0's RawPayloadKind, in the binary's order: four kinds are new.
V3_PAYLOAD_KINDS = (
    "inference_request",
    "prepared_prompt",
    "model_item",
    "content_value",
    "warmup_context",
) + tuple(k for k in RAW_PAYLOAD_KINDS if k != "inference_request")

PayloadCapture = TaggedUnion(
    "PayloadCapture",
    "How much of a payload the store holds. Absent means all of it; `null` is rejected.",
    (
        Variant("complete", "The store holds the whole payload.", inferred=True),
        Variant(
            "truncated",
            "The store holds the first `retained_bytes` bytes (Codex cuts a payload at 64 MiB); "
            "the reducer does not parse such a body.",
            (
                req("original_bytes", U64, "Size of the original payload.", inferred=True),
                req("retained_bytes", U64, "Size kept: the record's body length, below `original_bytes`.", inferred=True),
            ),
            inferred=True,
        ),
        Variant(
            "omitted",
            "The store holds nothing: the ref has no `shard` (not seen in a bundle).",
            (req("original_bytes", U64, "Size of the original payload.", inferred=True),),
            inferred=True,
        ),
    ),
    since=FIRST_V3_RELEASE,
    inferred=True,
    tag_key="status",
    # serde reads `{"status": i}` as the i-th variant (measured on 0.171.0: 0 reads as complete, 1 wants a
    # retained length below the original, 2 wants no shard, 3 "expected variant index 0 <= i < 3")
    index_order=("complete", "truncated", "omitted"),
)


def _ref_struct(name: str, doc: str, parts_of: str | None) -> Struct:
    """A v3 ref: id, kind, its shard, an optional capture note and (but for the innermost) parts."""
    fields = [
        req("raw_payload_id", STR, f"Bundle-unique payload id; writers use `{ZSTD_SHARDS.payload_id}`."),
        req("kind", Named("RawPayloadKind"), "What the payload holds."),
        opt(
            ZSTD_SHARDS.ref_key,
            U64,
            f"Number of the shard holding the payload record (`{ZSTD_SHARDS.payload_file}`). Absent only when "
            "`capture` says the payload was omitted.",
            skip_if_none=True,
        ),
        Field(
            "capture",
            Named("PayloadCapture"),
            "How much of the payload the store holds; omitted when all of it.",
            required=False,
            skip_if_none=True,
            since=FIRST_V3_RELEASE,
            inferred=True,
        ),
    ]
    if parts_of:
        fields.append(
            opt(
                "parts",
                ArrayOf(Named(parts_of)),
                "The payloads this one is assembled from, in order (a prepared prompt's model items; past the "
                "capture limit, a response's items and their content values). Omitted otherwise.",
                skip_if_none=True,
                inferred=True,
                since=FIRST_V3_RELEASE,
                payload_kinds=("model_item", "content_value"),
            )
        )
    return Struct(name, doc, tuple(fields), payload_ref=True)


RawPayloadRef = _ref_struct(
    "RawPayloadRef",
    "Reference from an event to a payload record in the shard store. The writer stores the record "
    "(and flushes it) before the event that points to it.",
    "RawPayloadPart",
)
RawPayloadPart = _ref_struct("RawPayloadPart", "A payload a composite payload is assembled from (an element of a ref's `parts`).", "RawPayloadFragment")
RawPayloadFragment = _ref_struct(
    "RawPayloadFragment",
    "A payload a part is assembled from (a content value of a model item). Deeper nesting has not been seen.",
    None,
)


def _v3_variants() -> list[Variant]:
    out = []
    for v in v2_variants():
        if v.tag == "inference_started":
            v = replace(
                v,
                fields=v.fields
                + (
                    ref(
                        "prepared_prompt_payload",
                        "Codex's own prompt for the call: a JSON array of text fragments, one more than its "
                        "`parts` (the `model_item` records, shared between calls), which interleaved form the "
                        "prompt object (`input`, `tools`, ...). Written on every inference start; 0.171.0's "
                        "reducer requires it.",
                        ("prepared_prompt",),
                        since=FIRST_V3_RELEASE,
                        inferred=True,
                        kind_checked_since=FIRST_V3_RELEASE,
                    ),
                ),
            )
            # 0.171.0 rejects a request or prepared prompt ref of another kind ("inference {id} has
            # mislabeled request evidence", measured; 0.169.0 and 0.169.1 accept it).
            v = replace(v, fields=tuple(replace(f, kind_checked_since=FIRST_V3_RELEASE) if f.name == "request_payload" else f
                                        for f in v.fields))
        if v.tag == "history_item_accepted":
            v = replace(
                v,
                fields=v.fields
                + (
                    opt_ref(
                        "tool_output_payload",
                        "For a tool output Codex produced (`function_call_output`, `custom_tool_call_output`): "
                        "the item itself (Codex labels it `protocol_event`).",
                        ("protocol_event",),
                        since=FIRST_V3_RELEASE,
                        inferred=True,
                        skip_if_none=True,
                    ),
                ),
            )
        out.append(v)
        if v.tag == "stdin_target_resolved":
            out.append(
                Variant(
                    "code_cell_wait_target_resolved",
                    "Code mode's `wait` tool call was confirmed to target a running code cell. Written "
                    "between the wait's start and end, with the thread and turn in the envelope.",
                    (
                        req("tool_call_id", STR, "The `wait` tool call.", inferred=True),
                        req("runtime_cell_id", STR, "Runtime-local handle of the cell waited on.", inferred=True),
                    ),
                    since=FIRST_V3_RELEASE,
                    inferred=True,
                )
            )
    return out


V3 = Dialect(
    name="v3",
    schema_version=3,
    title="Rollout trace, schema_version 3",
    doc=(
        "The dialect of Codex 0.171.0. The events are v2's with a few optional refs more; "
        "payloads move from one file each into records in zstd-compressed shards, and a ref "
        "names its shard instead of a path."
    ),
    releases=(FIRST_V3_RELEASE, "0.171.0"),  # the last release seen writing v3
    reference_release="0.171.0",
    envelope=envelope(3),
    payload=payload_union(_v3_variants()),
    manifest=manifest(3, ZSTD_SHARDS),
    types=tuple(
        shared_types(
            input_mode=False,
            ref_types=(RawPayloadRef, RawPayloadPart, RawPayloadFragment, raw_payload_kind(V3_PAYLOAD_KINDS)),
        )
    )
    + (PayloadCapture,),
    terminal_variants=("recording_completed",),
    layout=ZSTD_SHARDS,
    writer=WriterFacts(failed_turn_status="failed"),
    # 0.171.0 resolves and parses every referenced record eagerly, parts included (measured),
    # except a body whose capture says truncated.
    reducer_reads_every_ref=True,
    extends=V2,
    # Measured on 0.171.0: a body of these kinds nesting 127 levels (the top object 1) is read, 128 fail
    # ("parse payload"), wherever the depth sits; the other kinds in the corpus were read 300 levels deep.
    body_depth_limits=(
        ("compaction_checkpoint", 127),
        ("inference_request", 127),
        ("inference_response", 127),
        ("session_metadata", 127),
    ),
    # Runtime payloads are parsed by the runtime's kind; measured (a key nesting 126 levels read, 127
    # fail) on 0.169.0, 0.169.1 and 0.171.0: exec starts and ends, patch, wait and spawn (sub-agent
    # activity) ends are read deep; patch and wait starts, MCP runtimes are not (read 1,000 deep).
    # These are the reference reducer's; each release's own are release data (`codex probe --depths`,
    # reducer.runtime_depths: 0.165.0 parses every runtime body, 0.166.0 and 0.167.2 as 0.169.0), which
    # `--release` applies.
    # Accepted history items (protocol_event) are parsed as model items: a key nesting 126 levels read,
    # 127 fail ("parse payload"), measured on 0.171.0.
    field_depth_limits=(("history_item_accepted", "agent_message_payload", 127),
                        ("history_item_accepted", "tool_output_payload", 127)),
    # A multi-agent call's invocation is parsed only when its sub-agent activity reads the arguments:
    # measured on 0.171.0, a key nesting 126 levels under the body's object read, 127 fail ("parse
    # payload"), and any depth passes without that activity (0.164.0 and 0.169.0 parse every
    # invocation at the call's start to the same depth: body_depth_limits of v1 and v2).
    deferred_depth_limits=(("tool_call_started", "invocation_payload", 127),),
    runtime_depth_limits=(
        ("tool_call_runtime_started", "exec_command", 127),
        ("tool_call_runtime_ended", "exec_command", 127),
        ("tool_call_runtime_ended", "apply_patch", 127),
        ("tool_call_runtime_ended", "wait_agent", 127),
        ("tool_call_runtime_ended", "spawn_agent", 127),
    ),
)
