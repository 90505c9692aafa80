"""Dialect v3: ``schema_version`` 3, written by Codex 0.171.0.

No source of schema 3 is published. What differs from v2 was learnt from the
twelve real 0.171.0 bundles of the shipped corpus and from the 0.171.0 binary
(serde's variant and field lists): such parts are ``inferred=True``.

* Layout: payloads are records in zstd-compressed shards (``payloads/000001.zst``);
  a ref names its shard by number (``shard``) instead of a file ``path``.
* Refs may carry ``parts`` (the payloads a prepared prompt is made of) and a
  ``capture`` note (the binary's ``PayloadCapture``: truncated or omitted);
  only ``parts`` has been seen in a bundle.
* New optional refs ``inference_started.prepared_prompt_payload`` and
  ``history_item_accepted.tool_output_payload``; new variant
  ``code_cell_wait_target_resolved`` (in the reducer's variant list, 2 fields,
  never seen in a bundle: its field names are inferred from its neighbour
  ``stdin_target_resolved``).
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
    raw_payload_ref,
    raw_payload_kind,
    req,
)
from .types import ArrayOf, Dialect, Named, TaggedUnion, Variant, WriterFacts
from .v1 import payload_union, shared_types
from .v2 import V2, v2_variants

RELEASE = "0.171.0"

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
    "How much of a payload was kept, when not all of it (the binary's `PayloadCapture`; "
    "not seen in a bundle).",
    (
        Variant(
            "truncated",
            "The stored body is a prefix of the original.",
            (
                req("original_bytes", U64, "Size of the original payload.", inferred=True),
                req("retained_bytes", U64, "Size kept in the store.", inferred=True),
            ),
            inferred=True,
        ),
        Variant(
            "omitted",
            "The body was not stored.",
            (req("original_bytes", U64, "Size of the original payload.", inferred=True),),
            inferred=True,
        ),
    ),
    since=RELEASE,
    inferred=True,
)


def _capture():
    return opt(
        "capture",
        Named("PayloadCapture"),
        "Set when the stored payload is not the whole original; omitted otherwise.",
        skip_if_none=True,
        inferred=True,
        since=RELEASE,
    )


RawPayloadPart = raw_payload_ref(
    ZSTD_SHARDS,
    _capture(),
    name="RawPayloadPart",
    doc="A payload a composite payload is made of (an element of a ref's `parts`): a ref without parts.",
)

RawPayloadRef = raw_payload_ref(
    ZSTD_SHARDS,
    _capture(),
    opt(
        "parts",
        ArrayOf(Named("RawPayloadPart")),
        "The payloads this one is assembled from, in order (a prepared prompt lists its model "
        "items); omitted otherwise.",
        skip_if_none=True,
        inferred=True,
        since=RELEASE,
        payload_kinds=("model_item",),
    ),
)


def _v3_variants() -> list[Variant]:
    out = []
    for v in v2_variants():
        if v.tag == "inference_started":
            v = replace(
                v,
                fields=v.fields
                + (
                    opt_ref(
                        "prepared_prompt_payload",
                        "The prompt as prepared for the provider; its `parts` are the model items "
                        "it is made of (kind `model_item`).",
                        ("prepared_prompt",),
                        since=RELEASE,
                        inferred=True,
                        skip_if_none=True,
                    ),
                ),
            )
        if v.tag == "history_item_accepted":
            v = replace(
                v,
                fields=v.fields
                + (
                    opt_ref(
                        "tool_output_payload",
                        "For a tool output item: the item itself (Codex labels it `protocol_event`).",
                        ("protocol_event",),
                        since=RELEASE,
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
                    "A code-mode wait was resolved to the code cell it waits on. In 0.171.0's "
                    "variant list (2 fields) but not seen in a bundle: the field names are inferred.",
                    (
                        req("tool_call_id", STR, "The wait tool call.", inferred=True),
                        req("runtime_cell_id", STR, "Runtime-local handle of the cell waited on.", inferred=True),
                    ),
                    since=RELEASE,
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
    releases=(RELEASE, RELEASE),
    reference_release=RELEASE,
    envelope=envelope(3),
    payload=payload_union(_v3_variants()),
    manifest=manifest(3, ZSTD_SHARDS),
    types=tuple(
        shared_types(input_mode=False, ref_types=(RawPayloadRef, RawPayloadPart, raw_payload_kind(V3_PAYLOAD_KINDS)))
    )
    + (PayloadCapture,),
    terminal_variants=("recording_completed",),
    layout=ZSTD_SHARDS,
    writer=WriterFacts(failed_turn_status="failed"),
    # Assumed as in v2 (not yet measured on 0.171.0): every referenced payload is opened.
    reducer_reads_every_ref=True,
    extends=V2,
)
