"""The spec model and the JSON Schema files derived from it."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import jsonschema
import pytest

from rollout_trace_kit.model import DIALECTS, dialect_for_schema_version
from rollout_trace_kit.compilers.json_schema import error_trail, event_schema, manifest_schema, schema_files
from rollout_trace_kit.model.facts import requirements_for, variants_for
from rollout_trace_kit.model.types import (
    CONTEXTS,
    READS,
    STORE_FILES,
    STORE_ZSTD_SHARDS,
    Nullable,
    StrEnum,
    Struct,
    TaggedUnion,
    unwrap,
)

from .conftest import CORPUS, ROOT, corpus_bundles

# The spec notes the model was written from live beside a checkout, not in it: their check is
# opt-in (ROLLOUT_TRACE_SPEC_NOTES names the directory when it is elsewhere).
SHARED_SPEC = Path(os.environ.get("ROLLOUT_TRACE_SPEC_NOTES") or ROOT.parent / "shared" / "spec")
SEED_TAGS = (
    "rollout_started rollout_ended thread_started thread_ended codex_turn_started codex_turn_ended "
    "inference_started inference_completed inference_failed inference_cancelled tool_call_started "
    "tool_call_runtime_started tool_call_runtime_ended tool_call_ended code_cell_started "
    "code_cell_initial_response code_cell_ended compaction_request_started compaction_request_completed "
    "compaction_request_failed compaction_installed agent_result_observed protocol_event_observed other"
).split()


def _validator(schema):
    return jsonschema.Draft202012Validator(schema)


def test_committed_schema_files_match_the_model():
    """The drift test: `rollout-trace schema` output is committed as is."""
    stale = []
    for rel, text in schema_files(DIALECTS.values()).items():
        path = ROOT / "schema" / rel
        if not path.is_file() or path.read_text(encoding="utf-8") != text:
            stale.append(rel)
    assert not stale, f"schema/ is stale, run `rollout-trace schema`: {stale}"
    generated = set(schema_files(DIALECTS.values()))
    committed = {str(p.relative_to(ROOT / "schema")) for p in (ROOT / "schema").glob("v*/*.json")}
    assert committed == generated, "schema/ holds files the model no longer generates"


@pytest.mark.parametrize("rel", sorted(schema_files(DIALECTS.values())))
def test_schema_files_pass_the_2020_12_metaschema(rel):
    schema = json.loads((ROOT / "schema" / rel).read_text(encoding="utf-8"))
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["$id"].endswith("/" + rel)


@pytest.mark.parametrize("dialect", sorted(DIALECTS))
@pytest.mark.parametrize("strict", [False, True])
def test_every_variant_and_field_is_titled_and_described(dialect, strict):
    schema = event_schema(DIALECTS[dialect], strict)
    tag_keys = {"type"} | {t.tag_key for t in DIALECTS[dialect].types if isinstance(t, TaggedUnion)}

    def walk(node, path):
        if isinstance(node, dict):
            if node.get("type") == "object" and "properties" in node:
                assert node.get("title") and node.get("description"), path
                for name, prop in node["properties"].items():
                    if name not in tag_keys:
                        assert prop.get("title") == name and prop.get("description"), f"{path}/{name}"
            for k, v in node.items():
                walk(v, f"{path}/{k}")
        elif isinstance(node, list):
            for i, v in enumerate(node):
                walk(v, f"{path}/{i}")

    walk(schema, "")


@pytest.mark.parametrize("bundle", corpus_bundles(), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_real_bundles_validate_against_their_schema(bundle):
    manifest = json.loads((bundle / "manifest.json").read_text())
    dialect = {d.schema_version: d for d in DIALECTS.values()}[manifest["schema_version"]]
    for strict in (False, True):
        assert not list(_validator(manifest_schema(dialect, strict)).iter_errors(manifest))
        ev = _validator(event_schema(dialect, strict))
        for n, line in enumerate((bundle / "trace.jsonl").read_text().splitlines(), 1):
            errors = [e.message for e in ev.iter_errors(json.loads(line))]
            assert not errors, f"line {n}: {errors}"


def _observed_tags(section: str) -> set[str]:
    text = (SHARED_SPEC / "observed-variants.md").read_text()
    part = text.split(f"## schema_version {section}")[1].split("## schema_version")[0]
    return set(re.findall(r"^### `([a-z_]+)`", part, re.M))


def test_every_seed_and_observed_variant_has_a_defs_entry():
    v1 = event_schema(DIALECTS["v1"])["$defs"]
    v2 = event_schema(DIALECTS["v2"])["$defs"]
    assert set(SEED_TAGS) <= set(v1)
    assert set(SEED_TAGS) <= set(v2)
    # and the corpus agrees with the model: every tag seen is modelled in its bundle's dialect
    bundles = corpus_bundles()
    assert {b.parent.name for b in bundles} >= {f"codex-{d.reference_release}" for d in DIALECTS.values()}
    for bundle in bundles:
        version = json.loads((bundle / "manifest.json").read_text())["schema_version"]
        defs = event_schema(dialect_for_schema_version(version))["$defs"]
        for line in (bundle / "trace.jsonl").read_text().splitlines():
            assert json.loads(line)["payload"]["type"] in defs, (bundle.name, line[:80])


@pytest.mark.skipif(not (SHARED_SPEC / "observed-variants.md").is_file(),
                    reason="opt-in: the spec notes are not in the checkout; set ROLLOUT_TRACE_SPEC_NOTES to their directory")
def test_every_variant_the_spec_notes_observed_has_a_defs_entry():
    assert _observed_tags("1") <= set(event_schema(DIALECTS["v1"])["$defs"])
    assert _observed_tags("2") <= set(event_schema(DIALECTS["v2"])["$defs"])


def _good_event(dialect, tag):
    """A minimal valid event of variant ``tag`` built from the model."""
    d = DIALECTS[dialect]

    def value(t):
        t = unwrap(t)
        name = type(t).__name__
        if name == "Str":
            return "x"
        if name == "Int":
            return 1
        if name == "Bool":
            return True
        if name == "AnyJson":
            return None
        if name == "ArrayOf":
            return [value(t.item)]
        nt = d.type(t.name)
        if isinstance(nt, Struct):
            return {f.name: value(f.type) for f in nt.fields if f.required}
        if isinstance(nt, StrEnum):
            return nt.values[0]
        if isinstance(nt, TaggedUnion):
            v = nt.variants[0]
            return {"type": v.tag, **{f.name: value(f.type) for f in v.fields if f.required}}
        return {"type": nt.values[0]}  # UnitKind

    variant = d.payload.variant(tag)
    payload = {"type": tag, **{f.name: value(f.type) for f in variant.fields if f.required}}
    return {
        "schema_version": d.schema_version,
        "seq": 1,
        "wall_time_unix_ms": 0,
        "rollout_id": "r",
        "thread_id": None,
        "codex_turn_id": None,
        "payload": payload,
    }


def _variant_cases():
    for dialect, d in sorted(DIALECTS.items()):
        for v in d.payload.variants:
            yield dialect, v.tag


@pytest.mark.parametrize("dialect,tag", list(_variant_cases()))
def test_hand_made_invalid_events_fail_naming_their_variant(dialect, tag):
    d = DIALECTS[dialect]
    validator = _validator(event_schema(d))
    good = _good_event(dialect, tag)
    assert not list(validator.iter_errors(good))
    variant = d.payload.variant(tag)
    broken = []
    required = [f for f in variant.fields if f.required]
    if required:
        missing = json.loads(json.dumps(good))
        del missing["payload"][required[0].name]
        broken.append(("missing", missing))
        wrong = json.loads(json.dumps(good))
        wrong["payload"][required[0].name] = 12345 if not isinstance(good["payload"][required[0].name], int) else "12345"
        broken.append(("wrong type", wrong))
    for f in variant.fields:
        t = unwrap(f.type)
        if type(t).__name__ == "Named" and isinstance(d.type(t.name), StrEnum):
            bad_enum = json.loads(json.dumps(good))
            bad_enum["payload"][f.name] = "no_such_status"
            broken.append(("bad enum", bad_enum))
    assert broken or not variant.fields or all(not f.required for f in variant.fields)
    for what, event in broken:
        errors = list(validator.iter_errors(event))
        assert errors, f"{what}: accepted"
        schema = event_schema(d)
        assert all(tag in error_trail(schema, e) for e in errors), f"{what}: {[e.message for e in errors]}"


@pytest.mark.parametrize("dialect", sorted(DIALECTS))
def test_unknown_type_fails_clearly(dialect):
    event = _good_event(dialect, "rollout_started")
    event["payload"]["type"] = "no_such_variant"
    errors = list(_validator(event_schema(DIALECTS[dialect])).iter_errors(event))
    assert len(errors) == 1
    assert "no_such_variant" in errors[0].message and "is not one of" in errors[0].message
    assert list(errors[0].absolute_path) == ["payload", "type"]


def test_serde_semantics_options_may_be_missing_and_null():
    d = DIALECTS["v1"]
    v = _validator(event_schema(d))
    event = _good_event("v1", "inference_completed")
    assert "response_id" not in event["payload"]  # an Option: not required
    event["payload"]["response_id"] = None
    assert not list(v.iter_errors(event))
    del event["thread_id"]
    assert not list(v.iter_errors(event))  # envelope options may be missing too
    event["payload"]["unknown_key"] = 1
    assert not list(v.iter_errors(event))  # serde ignores unknown keys
    assert list(_validator(event_schema(d, strict=True)).iter_errors(event))


def test_payload_kind_is_adjacently_tagged():
    v = _validator(event_schema(DIALECTS["v1"]))
    event = _good_event("v1", "protocol_event_observed")
    ref = event["payload"]["event_payload"]
    ref["kind"] = {"type": "protocol_event", "value": None}
    assert not list(v.iter_errors(event))
    for bad in ("protocol_event", {"type": "ProtocolEvent"}, {"type": "protocol_event", "value": 1}):
        ref["kind"] = bad
        assert list(v.iter_errors(event)), bad


def test_other_metadata_is_required_but_may_be_null():
    v = _validator(event_schema(DIALECTS["v1"]))
    event = _good_event("v1", "other")
    assert event["payload"]["metadata"] is None
    assert not list(v.iter_errors(event))
    del event["payload"]["metadata"]
    assert list(v.iter_errors(event))


def test_integer_ranges_follow_the_rust_types():
    v = _validator(event_schema(DIALECTS["v1"]))
    event = _good_event("v1", "rollout_started")
    for key, bad in (("seq", -1), ("seq", 2**64), ("schema_version", 2**32), ("wall_time_unix_ms", 2**63)):
        e = dict(event, **{key: bad})
        assert list(v.iter_errors(e)), (key, bad)
    assert not list(v.iter_errors(dict(event, seq=2**64 - 1, wall_time_unix_ms=-(2**63))))


def test_v2_only_variants_are_inferred_and_dated():
    v2 = DIALECTS["v2"]
    for tag in ("history_item_accepted", "thread_resumed", "recording_completed"):
        variant = v2.payload.variant(tag)
        assert variant.inferred and variant.since and variant.since >= "0.165.0"
        assert tag not in DIALECTS["v1"].tags
    kind = v2.payload.variant("tool_call_runtime_started").field("kind")
    # 0.165.0 wrote schema 2 without it: the schema leaves it optional, the release facts do not.
    assert not kind.required and kind.since == "0.166.0" and kind.inferred
    assert kind.required_since == "0.166.0"


def test_v2_schema_accepts_a_0165_runtime_start_without_kind():
    event = _good_event("v2", "tool_call_runtime_started")
    event["payload"].pop("kind", None)
    assert not list(_validator(event_schema(DIALECTS["v2"])).iter_errors(event))
    bad = dict(event, payload=dict(event["payload"], kind={"type": "no_such_kind"}))
    assert list(_validator(event_schema(DIALECTS["v2"])).iter_errors(bad))


def test_requirements_for_a_release_follow_required_since():
    v2 = DIALECTS["v2"]
    assert "kind" not in requirements_for(v2, "0.165.0")["tool_call_runtime_started"]
    assert "kind" in requirements_for(v2, "0.166.0")["tool_call_runtime_started"]
    assert "kind" in requirements_for(v2, "0.169.0")["tool_call_runtime_started"]
    # a release does not know the variants of later ones
    assert "recording_completed" not in requirements_for(v2, "0.166.0")
    assert "recording_completed" in variants_for(v2, "0.169.0")
    assert "inference_cancelled" not in variants_for(DIALECTS["v1"], "0.127.0")


@pytest.mark.parametrize("name", ["v1", "v2", "v3"])
def test_schema_version_is_a_const_in_every_document(name):
    d = DIALECTS[name]
    for schema in (event_schema(d), manifest_schema(d), event_schema(d, True), manifest_schema(d, True)):
        assert schema["properties"]["schema_version"]["const"] == d.schema_version
    for other in DIALECTS.values():
        if other is d:
            continue
        manifest = json.loads((corpus_bundles(other.reference_release)[0] / "manifest.json").read_text())
        assert list(_validator(manifest_schema(d)).iter_errors(manifest)), (other.name, name)


def test_v3_model_facts():
    v3 = DIALECTS["v3"]
    assert v3.schema_version == 3 and v3.extends is DIALECTS["v2"] and v3.reference_release == "0.171.0"
    assert v3.layout.ref_key == "shard" and v3.layout.file_for(shard=1) == "payloads/000001.zst"
    assert [r.type for r in v3.layout.record] == ["u16le", "u64le", "bytes", "bytes"]
    assert v3.type("RawPayloadRef").field("shard").type.inner.rust == "u64"  # Option<u64> (absent when omitted)
    assert v3.type("PayloadCapture").tag_key == "status"
    assert v3.payload.variant("inference_started").field("prepared_prompt_payload").required
    assert "path" not in {f.name for f in v3.type("RawPayloadRef").fields}
    assert {"prepared_prompt", "model_item"} <= set(v3.type("RawPayloadKind").values)
    assert "code_cell_wait_target_resolved" in v3.tags and v3.payload.variant("code_cell_wait_target_resolved").inferred
    assert v3.payload.variant("inference_started").field("prepared_prompt_payload").payload_kinds == ("prepared_prompt",)
    code_wait = v3.payload.variant("code_cell_wait_target_resolved")
    assert [f.name for f in code_wait.fields] == ["tool_call_id", "runtime_cell_id"]
    assert not v3.payload.variant("history_item_accepted").field("tool_output_payload").required
    v1, v2 = DIALECTS["v1"], DIALECTS["v2"]
    assert v1.layout.ref_key == v2.layout.ref_key == "path" and v2.layout.file_for(n=7) == "payloads/7.json"


def test_release_annotations_are_versions():
    for d in DIALECTS.values():
        for v in d.payload.variants:
            for since in [v.since] + [f.since for f in v.fields]:
                assert since is None or since == "unreleased" or re.fullmatch(r"0\.\d+\.\d+", since)


def test_corpus_ships_with_the_repo():
    assert len(corpus_bundles("0.164.0")) >= 10 and len(corpus_bundles("0.169.0")) >= 10
    assert len(corpus_bundles("0.171.0")) >= 10
    for bundle in corpus_bundles("0.171.0"):
        assert (bundle.parent / f"{bundle.name}.state.json").is_file()
    assert CORPUS.is_dir()


def test_model_annotations_take_their_declared_values():
    for d in DIALECTS.values():
        assert d.layout.store in (STORE_FILES, STORE_ZSTD_SHARDS), d.name
        for v in d.payload.variants:
            assert v.context in CONTEXTS, (d.name, v.tag, v.context)
            for f in v.fields:
                assert f.read in READS, (d.name, v.tag, f.name, f.read)


def test_nullable_fields_are_never_required():
    for d in DIALECTS.values():
        for v in d.payload.variants:
            for f in v.fields:
                if isinstance(f.type, Nullable):
                    assert not f.required, (v.tag, f.name)


def test_schema_dir_layout():
    assert {"v1", "v2", "v3"} <= {p.name for p in (ROOT / "schema").iterdir() if p.is_dir()}
    assert Path(ROOT / "schema" / "v1" / "event.schema.json").is_file()
