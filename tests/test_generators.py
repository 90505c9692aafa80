"""Generators: leaf strategies, lifecycle-valid bundles, the fast builder, shrinking."""

from __future__ import annotations

import inspect
import os
import tarfile
import tempfile
from io import BytesIO
from pathlib import Path

import msgspec
import orjson
import pytest

from rollout_trace_kit.writer.core import written_dialects
from hypothesis import HealthCheck, find, given, settings
from hypothesis import strategies as st

import rollout_trace_kit.generators as gen
from rollout_trace_kit.bundle import Bundle
from rollout_trace_kit.generators import (
    FEATURES,
    build_bundle,
    bundles,
    events,
    expand,
    feature_plan,
    payload_bodies,
    payload_refs,
)
from rollout_trace_kit.model import DIALECTS
from rollout_trace_kit.compilers.json_schema import event_schema
from rollout_trace_kit.compilers.msgspec_types import typed
from rollout_trace_kit.validate import Options, Profile, validate_bundle
from rollout_trace_kit.validate.rules import bodies

DIALECT_NAMES = written_dialects()  # the dialects the kit's writers (and so its generators) write
# Property runs stay short by default; RTK_GENERATOR_EXAMPLES=500 makes them a long run.
EXAMPLES = int(os.environ.get("RTK_GENERATOR_EXAMPLES", "25"))
FAST = settings(max_examples=EXAMPLES, deadline=None, database=None, suppress_health_check=list(HealthCheck))


def findings(bundle: Bundle) -> dict[str, list]:
    """Findings per profile for a bundle written to a fresh directory."""
    with tempfile.TemporaryDirectory() as tmp:
        path = bundle.write(Path(tmp) / "bundle")
        return {
            p.label: [(f.invariant, f.line, f.message) for f in validate_bundle(path, Options(profile=p)).findings]
            for p in Profile
        }


def assert_valid(bundle: Bundle) -> None:
    got = findings(bundle)
    assert all(not v for v in got.values()), (bundle, got)


# -- the public surface ------------------------------------------------------------------------
def test_all_lists_every_public_name_and_each_is_documented():
    # dir(): the strategies are imported when first used (module __getattr__), so not yet in vars()
    public = {n for n in dir(gen) if not n.startswith("_") and not inspect.ismodule(getattr(gen, n)) and n != "annotations"}
    assert set(gen.__all__) == public
    for name in gen.__all__:
        obj = getattr(gen, name)
        if callable(obj) and not isinstance(obj, type(st.integers())):
            assert inspect.getdoc(obj), f"{name} has no doc string"
    assert "hypothesis-jsonschema" in gen.__doc__ and "hand-written" in gen.__doc__


# -- leaf strategies ---------------------------------------------------------------------------
@pytest.mark.parametrize("dialect", DIALECT_NAMES)
def test_events_are_valid_against_the_published_schema_and_the_typed_model(dialect):
    import jsonschema

    d = DIALECTS[dialect]
    strict = jsonschema.Draft202012Validator(event_schema(d, strict=True))
    decoder = typed(d).decoder

    @FAST
    @given(events(dialect))
    def check(event):
        assert list(event) == [f.name for f in d.envelope.fields]
        errors = [e.message for e in strict.iter_errors(event)]
        assert not errors, errors
        decoded = decoder.decode(orjson.dumps(event))
        assert decoded.payload.__struct_config__.tag == event["payload"]["type"]

    check()


@pytest.mark.parametrize("dialect", DIALECT_NAMES)
def test_events_of_each_variant_have_its_fields_in_model_order(dialect):
    d = DIALECTS[dialect]

    @settings(FAST, max_examples=min(EXAMPLES, 5))
    @given(st.data())
    def check(data):
        for variant in d.payload.variants:
            payload = data.draw(events(dialect, variant.tag))["payload"]
            assert payload["type"] == variant.tag
            assert list(payload)[1:] == [f.name for f in variant.fields if f.name in payload]
            assert {f.name for f in variant.fields if f.required} <= set(payload)

    check()


@FAST
@given(payload_refs(("inference_request",)))
def test_payload_refs_follow_the_writer_naming(ref):
    n = ref["raw_payload_id"].removeprefix("raw_payload:")
    assert ref == {"raw_payload_id": f"raw_payload:{n}", "kind": {"type": "inference_request"}, "path": f"payloads/{n}.json"}
    assert int(n) >= 1


@FAST
@given(st.data())
def test_payload_bodies_have_the_shapes_the_reducers_parse(data):
    request = data.draw(payload_bodies("inference_request"))
    assert all(bodies.item_problem(i) is None for i in request["input"])
    response = data.draw(payload_bodies("inference_response"))
    assert all(bodies.item_problem(i) is None for i in response["output_items"])
    checkpoint = data.draw(payload_bodies("compaction_checkpoint"))
    assert isinstance(checkpoint["input_history"], list) and isinstance(checkpoint["replacement_history"], list)
    metadata = data.draw(payload_bodies("session_metadata"))
    assert isinstance(metadata["agent_path"], str)
    assert isinstance(data.draw(payload_bodies("protocol_event"))["type"], str)


# -- lifecycle-valid bundles ------------------------------------------------------------------------
@pytest.mark.parametrize("dialect", DIALECT_NAMES)
def test_generated_bundles_have_no_findings_in_any_profile(dialect):
    @FAST
    @given(bundles(dialect, max_threads=3))
    def check(bundle):
        assert_valid(bundle)

    check()


@pytest.mark.parametrize("dialect", DIALECT_NAMES)
def test_a_plan_with_every_feature_writes_every_variant_but_other(dialect):
    bundle = expand(feature_plan(FEATURES), dialect)
    assert_valid(bundle)
    written = {orjson.loads(line)["payload"]["type"] for line in bundle.lines}
    assert written == set(DIALECTS[dialect].tags) - {"other"}


def test_requested_features_occur():
    @FAST
    @given(bundles("v2", max_turns=1, max_rounds=0, features={"mcp", "spawn"}))
    def check(bundle):
        tags = [orjson.loads(line)["payload"]["type"] for line in bundle.lines]
        assert "mcp_tool_call_correlation_assigned" in tags
        assert tags.count("thread_started") >= 2
        assert "agent_result_observed" in tags

    check()


def test_size_options_bound_the_bundle():
    @FAST
    @given(bundles("v1", max_turns=1, max_rounds=1, max_calls=1, max_threads=1, text_bytes=4000))
    def check(bundle):
        threads = sum(b'"thread_started"' in line for line in bundle.lines)
        assert threads == 1
        assert len(bundle.lines) < 60
        biggest = max(len(v) for v in bundle.payloads.values())
        assert biggest > 4000  # the texts (prompts, answers) are about text_bytes long

    check()


def test_bundles_write_read_back_and_stream_identically(tmp_path):
    bundle = expand(feature_plan({"exec", "code_cell"}), "v2")
    path = bundle.write(tmp_path / "b")
    again = Bundle.read(path)
    assert again.lines == bundle.lines and again.payloads == bundle.payloads and again.manifest == bundle.manifest
    assert b"".join(bundle.trace_bytes()) == (path / "trace.jsonl").read_bytes()
    with tarfile.open(fileobj=BytesIO(bundle.tar_bytes())) as tar:
        assert set(tar.getnames()) == {"manifest.json", "trace.jsonl", *bundle.payloads}


def test_lines_are_what_the_writer_writes():
    """Compact JSON in model key order: the validator's fast path re-encodes each line byte for byte."""
    bundle = expand(feature_plan(FEATURES), "v2")
    td = typed(DIALECTS["v2"])
    for line in bundle.lines:
        assert td.encoder.encode(td.decoder.decode(line)) == line
    for data in bundle.payloads.values():
        assert data == orjson.dumps(orjson.loads(data), option=orjson.OPT_INDENT_2)


# -- shrinking ---------------------------------------------------------------------------------------
def test_a_failing_valid_example_shrinks_to_a_small_valid_bundle():
    """Shrink towards 'a bundle with a code cell': the result is tiny and still valid."""
    shrunk = find(
        bundles("v2", max_turns=3, max_rounds=3, max_calls=2),
        lambda b: any(b'"code_cell_started"' in line for line in b.lines),
        settings=settings(database=None, max_examples=500),
    )
    assert len(shrunk.lines) <= 40, shrunk
    assert shrunk.plan.root.turns[0].rounds[0].calls[0].kind.startswith("code_cell")
    assert_valid(shrunk)


# -- the fast builder ---------------------------------------------------------------------------------
@pytest.mark.parametrize("dialect", DIALECT_NAMES)
@pytest.mark.parametrize("events_, payload_files", [(40, None), (300, 200), (2000, None), (2000, 900)])
def test_build_bundle_has_the_exact_size_and_is_valid(dialect, events_, payload_files):
    bundle = build_bundle(dialect, seed=events_, events=events_, payload_files=payload_files)
    assert len(bundle.lines) == events_
    if payload_files is not None:
        assert payload_count(bundle) == payload_files
    assert_valid(bundle)


def payload_count(bundle: Bundle) -> int:
    """Payload files, or (v3) records in the shards."""
    import io

    from rollout_trace_kit.store.shards import Record, read_records

    if not any(rel.endswith(".zst") for rel in bundle.payloads):
        return len(bundle.payloads)
    return sum(isinstance(r, Record) for data in bundle.payloads.values() for r in read_records(io.BytesIO(data)))


def test_build_bundle_is_deterministic_and_streams_to_disk(tmp_path):
    a = build_bundle("v2", seed=5, events=500)
    b = build_bundle("v2", seed=5, events=500)
    assert a.lines == b.lines and a.payloads == b.payloads
    path = build_bundle("v2", seed=5, events=500, directory=tmp_path / "big")
    assert (path / "trace.jsonl").read_bytes() == b"".join(a.trace_bytes())
    assert {f"payloads/{p.name}" for p in (path / "payloads").iterdir()} == set(a.payloads)
    assert build_bundle("v2", seed=6, events=500).lines != a.lines


def test_build_bundle_refuses_impossible_sizes():
    with pytest.raises(ValueError):
        build_bundle("v1", events=3)
    with pytest.raises(ValueError):
        build_bundle("v2", events=100, payload_files=100)


def test_validator_fast_path_matches_generated_lines_exactly():
    """Every generated line decodes with the typed model and no slow-path surprises."""
    bundle = build_bundle("v1", seed=1, events=800)
    td = typed(DIALECTS["v1"])
    decoded = td.list_decoder.decode(b"[" + b",".join(bundle.lines) + b"]")
    assert td.encoder.encode(decoded) == b"[" + b",".join(bundle.lines) + b"]"
    assert all(isinstance(e, msgspec.Struct) for e in decoded)


def test_generators_refuse_a_store_they_do_not_write_by_name():
    """Every modelled dialect is written today, so a dialect with another store stands in for the next one."""
    from dataclasses import replace

    from rollout_trace_kit.model import DIALECTS

    unwritten = [d for name, d in DIALECTS.items() if name not in written_dialects()]
    v2 = DIALECTS["v2"]
    unwritten.append(replace(v2, name="x-blobs", layout=replace(v2.layout, store="blob_database")))
    for d in unwritten:
        with pytest.raises(ValueError, match=d.layout.store):
            expand(feature_plan(), d)


def test_in_memory_shards_are_the_store_writers_byte_for_byte(tmp_path):
    """The generators' in-memory v3 store rotates and seals as store.shards.StoreWriter does."""
    from rollout_trace_kit.generators._writer import MemoryStore
    from rollout_trace_kit.store.shards import StoreWriter

    records = [(b"raw_payload:%d" % i, b"x" * (i * 7 % 60)) for i in range(1, 40)]
    memory, disk = MemoryStore(), StoreWriter(tmp_path, rotate_bytes=100)
    memory.rotate_bytes = 100
    shards = [memory.append(r, b) for r, b in records]
    assert shards == [disk.append(r, b) for r, b in records] and shards[-1] > 5
    memory.close()
    disk.close()
    assert memory.payloads() == {f"payloads/{p.name}": p.read_bytes() for p in sorted(tmp_path.iterdir())}
