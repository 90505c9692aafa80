"""Dialect v3 (provisional, for the v3 branch's validator work): ``schema_version`` 3, Codex 0.171.0.

Replaced by the model branch's v3 at merge; only what the store and validator need.
"""

from __future__ import annotations

from dataclasses import replace

from .common import REF, STR, U32, RawPayloadKind, envelope, manifest, opt_ref, req
from .types import AnyJson, ArrayOf, Dialect, Named, Nullable, Field, Struct, UnitKind, Variant
from .v1 import payload_union
from .v2 import V2

KINDS = RawPayloadKind.values[:1] + ("prepared_prompt", "model_item", "content_value", "warmup_context") + RawPayloadKind.values[1:]

_ID = req("raw_payload_id", STR, "Payload id; writers use `raw_payload:{n}`.")
_KIND = req("kind", Named("RawPayloadKind"), "What the payload holds.")
_SHARD = Field("shard", Nullable(U32), "Number of the shard holding the record (`payloads/{shard:06}.zst`).", required=False, skip_if_none=True)
_CAPTURE = Field("capture", AnyJson(), "How much of the payload was kept.", required=False, skip_if_none=True)

RawPayloadPartRef = Struct("RawPayloadPartRef", "A part of a composite payload.", (_ID, _KIND, _SHARD, _CAPTURE, Field("parts", AnyJson(), "Parts.", required=False, skip_if_none=True)))
RawPayloadRef = Struct(
    "RawPayloadRef",
    "Reference from an event to a payload record.",
    (_ID, _KIND, _SHARD, _CAPTURE, Field("parts", ArrayOf(Named("RawPayloadPartRef")), "Parts.", required=False, skip_if_none=True)),
)


def _variants():
    out = []
    for v in V2.payload.variants:
        if v.tag == "inference_started":
            v = replace(v, fields=v.fields + (opt_ref("prepared_prompt_payload", "Prepared prompt.", ("prepared_prompt",), skip_if_none=True),))
        if v.tag == "history_item_accepted":
            v = replace(v, fields=v.fields + (opt_ref("tool_output_payload", "Tool output item.", ("protocol_event",), skip_if_none=True),))
        out.append(v)
        if v.tag == "stdin_target_resolved":
            out.append(Variant("code_cell_wait_target_resolved", "Wait target.", (req("tool_call_id", STR, "Call."), req("runtime_cell_id", STR, "Cell."))))
    return out


def _types():
    types = []
    for t in V2.types:
        if t.name == "RawPayloadRef":
            types += [RawPayloadRef, RawPayloadPartRef]
        elif t.name == "RawPayloadKind":
            types.append(replace(t, values=KINDS))
        else:
            types.append(t)
    return tuple(types)


V3 = Dialect(
    name="v3",
    schema_version=3,
    title="Rollout trace, schema_version 3",
    doc="Codex 0.171.0: payloads are records in zstd shards.",
    releases=("0.171.0", "0.171.0"),
    reference_release="0.171.0",
    envelope=envelope(3),
    payload=payload_union(_variants()),
    manifest=manifest(3),
    types=_types(),
    terminal_variants=("recording_completed",),
)
