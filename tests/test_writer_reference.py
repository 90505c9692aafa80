"""The reference writer API: byte-compatible with Codex, strict about the model."""

from __future__ import annotations

import json
import math

import orjson
import pytest

from rollout_trace_kit.bundle import Bundle
from rollout_trace_kit.conformance.writer.scripts import (
    lifecycle_script,
    replay_clock,
    script_from_bundle,
    write_script,
)
from rollout_trace_kit.validate import Options, Profile, validate_bundle
from rollout_trace_kit.writer import EventError, TraceWriter, WriterError
from rollout_trace_kit.compilers.canonical import dumps, pretty, ryu_float

from .conftest import corpus_bundles, written_corpus_bundles

IDS = dict(trace_id="t-1", rollout_id="r-1", root_thread_id="r-1")


def test_bundles_of_a_store_the_writer_does_not_write_are_refused_by_name(monkeypatch):
    from rollout_trace_kit.conformance.writer import scripts
    from rollout_trace_kit.conformance.writer.scripts import ScriptError, script_from_bundle
    from rollout_trace_kit.model import DIALECTS

    for bundle in sorted(set(corpus_bundles()) - set(written_corpus_bundles())):
        with pytest.raises(ScriptError, match="store"):
            script_from_bundle(bundle)
    # The writers write every shipped store today, so that loop runs zero times: take each
    # store away from them in turn and check its bundles are refused, naming dialect and store.
    monkeypatch.setattr(scripts, "writes_store", lambda dialect: False)
    for d in DIALECTS.values():
        bundle = corpus_bundles(d.reference_release)[0]
        with pytest.raises(ScriptError, match=f"dialect {d.name} keeps payloads in a {d.layout.store} store"):
            script_from_bundle(bundle)


@pytest.mark.parametrize("bundle", written_corpus_bundles(), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_replaying_a_real_bundle_reproduces_codex_bytes(bundle, tmp_path):
    """Manifest and every line byte for byte; payloads byte for byte wherever Codex's
    file is plain serde pretty JSON (request payloads embed a compact RawValue, which a
    JSON value cannot carry: those are compared as JSON)."""
    original = Bundle.read(bundle)
    out = write_script(script_from_bundle(original), tmp_path / "b", clock=replay_clock(original))
    again = Bundle.read(out)
    assert again.manifest == original.manifest
    assert again.lines == original.lines and again.trailing_newline
    assert set(again.payloads) == set(original.payloads)
    if any(p.endswith(".zst") for p in original.payloads):  # v3: the shards' record streams
        for path, data in original.payloads.items():
            assert _records(again.payloads[path]) == _records(data), path
            assert again.payloads[path] == data, path  # even the zstd bytes (level 3, 8 MiB window)
        return
    exact = 0
    for path, data in original.payloads.items():
        if pretty(orjson.loads(data)) == data:
            assert again.payloads[path] == data, path
            exact += 1
        else:
            assert b'"tools": [{' in data  # the one known non-pretty part of Codex payloads
            assert orjson.loads(again.payloads[path]) == orjson.loads(data), path
    assert exact > len(original.payloads) // 2


def _records(shard: bytes) -> list:
    import io

    from rollout_trace_kit.store.shards import read_records

    out = [(r.id, r.body) if hasattr(r, "body") else r.code for r in read_records(io.BytesIO(shard))]
    assert out, "a shard holds records"
    return out


@pytest.mark.parametrize("dialect", ["v1", "v2"])
def test_lifecycle_written_by_the_reference_writer_is_clean_in_the_strict_profile(dialect, tmp_path):
    out = write_script(lifecycle_script(dialect), tmp_path / "b")
    report = validate_bundle(out, Options(profile=Profile.STRICT))
    # the lifecycle writes one orphan payload on purpose (allowed: upstream-rules D.2)
    assert report.ids() == {"REF.ORPHAN"}, [f.message for f in report.findings]
    assert report.ok


def _writer(tmp_path, dialect="v2", **kw) -> TraceWriter:
    return TraceWriter.create(tmp_path / "b", dialect=dialect, clock=lambda: 1234, **IDS, **kw)


def test_layout_and_envelope(tmp_path):
    w = _writer(tmp_path)
    assert (tmp_path / "b" / "payloads").is_dir()
    assert (tmp_path / "b" / "trace.jsonl").read_bytes() == b""
    manifest = (tmp_path / "b" / "manifest.json").read_bytes()
    assert not manifest.endswith(b"\n")
    assert json.loads(manifest) == {
        "schema_version": 2,
        "trace_id": "t-1",
        "rollout_id": "r-1",
        "root_thread_id": "r-1",
        "started_at_unix_ms": 1234,
        "raw_event_log": "trace.jsonl",
        "payloads_dir": "payloads",
    }
    ref = w.write_json_payload("session_metadata", {"b": 1, "a": [1, {}]})
    assert ref == {"raw_payload_id": "raw_payload:1", "kind": {"type": "session_metadata"}, "path": "payloads/1.json"}
    assert (tmp_path / "b" / "payloads" / "1.json").read_bytes() == b'{\n  "b": 1,\n  "a": [\n    1,\n    {}\n  ]\n}'
    ev = w.append({"root_thread_id": "r-1", "trace_id": "t-1", "type": "rollout_started"})  # any key order in
    line = (tmp_path / "b" / "trace.jsonl").read_bytes()
    assert line == (
        b'{"schema_version":2,"seq":1,"wall_time_unix_ms":1234,"rollout_id":"r-1","thread_id":null,'
        b'"codex_turn_id":null,"payload":{"type":"rollout_started","trace_id":"t-1","root_thread_id":"r-1"}}\n'
    )
    assert list(ev) == ["schema_version", "seq", "wall_time_unix_ms", "rollout_id", "thread_id", "codex_turn_id", "payload"]
    ev2 = w.append_with_context(
        {"type": "thread_started", "thread_id": "r-1", "agent_path": "/root"}, thread_id=None, codex_turn_id=None
    )
    assert ev2["seq"] == 2 and ev2["payload"]["metadata_payload"] is None  # Option: written as null
    w.close()


def test_skip_if_none_fields_are_omitted_not_null(tmp_path):
    w = _writer(tmp_path)
    ev = w.append({"type": "history_item_accepted", "item_id": "i", "agent_message_payload": None})
    assert ev["payload"] == {"type": "history_item_accepted", "item_id": "i"}
    assert b"agent_message_payload" not in (tmp_path / "b" / "trace.jsonl").read_bytes()


@pytest.mark.parametrize(
    "payload, message",
    [
        ({"type": "rollout_started", "trace_id": "t"}, "required field"),
        ({"type": "rollout_started", "trace_id": "t", "root_thread_id": "r", "extra": 1}, "has no field 'extra'"),
        ({"type": "thread_ended", "thread_id": "x", "status": "done"}, "is not a RolloutStatus"),
        ({"type": "nope"}, "is not a variant"),
        ({"type": "recording_completed"}, "is not a variant of RawTraceEventPayload in dialect v1"),
        ({"type": "other", "kind": "k", "summary": "s", "payloads": [], "metadata": math.nan}, "NaN"),
        ({"type": "other", "kind": "k", "summary": "s", "payloads": [], "metadata": 2**64}, "64 bits"),
        ({"type": "rollout_started", "trace_id": 5, "root_thread_id": "r"}, "expected a string"),
    ],
)
def test_events_outside_the_model_are_refused_and_consume_no_seq(tmp_path, payload, message):
    w = _writer(tmp_path, dialect="v1")
    with pytest.raises(EventError, match=message):
        w.append(payload)
    ev = w.append({"type": "rollout_started", "trace_id": "t-1", "root_thread_id": "r-1"})
    assert ev["seq"] == 1
    assert (tmp_path / "b" / "trace.jsonl").read_bytes().count(b"\n") == 1


def test_refuses_to_reuse_a_bundle_directory(tmp_path):
    _writer(tmp_path).close()
    with pytest.raises(WriterError, match="refusing to reuse"):
        _writer(tmp_path)


def test_payload_kind_and_json_are_checked(tmp_path):
    w = _writer(tmp_path)
    with pytest.raises(EventError, match="RawPayloadKind"):
        w.write_json_payload("bogus", {})
    with pytest.raises(EventError, match="Infinity"):
        w.write_json_payload("tool_result", {"x": math.inf})
    assert not any((tmp_path / "b" / "payloads").iterdir())
    assert w.write_json_payload("tool_result", 1)["raw_payload_id"] == "raw_payload:1"


def test_closed_writer_refuses(tmp_path):
    w = _writer(tmp_path)
    w.close()
    with pytest.raises(WriterError, match="closed"):
        w.append({"type": "recording_completed"})


def test_after_a_failed_append_every_later_append_fails(tmp_path):
    w = _writer(tmp_path)
    import os

    os.close(w._fd)  # the descriptor goes bad under the writer
    with pytest.raises(WriterError):
        w.append({"type": "recording_completed"})
    w._fd = os.open(os.devnull, os.O_WRONLY)
    with pytest.raises(WriterError, match="no longer writable"):
        w.append({"type": "recording_completed"})
    assert w.next_seq == 1


@pytest.mark.parametrize(
    "value, text",
    [
        (3e20, "3e20"),
        (1e16, "1e16"),
        (1e15, "1000000000000000.0"),
        (1e-7, "1e-7"),
        (0.00001, "0.00001"),
        (1e-6, "1e-6"),
        (1.0, "1.0"),
        (-0.0, "-0.0"),
        (0.1, "0.1"),
        (1.5e300, "1.5e300"),
        (5e-324, "5e-324"),
        (12345678901234567890.0, "1.2345678901234567e19"),
    ],
)
def test_floats_are_formatted_as_serde_json_does(value, text):
    assert ryu_float(value) == text
    assert float(text) == value
    assert dumps({"x": [value]}) == f'{{"x":[{text}]}}'.encode()
    assert pretty({"x": value}) == f'{{\n  "x": {text}\n}}'.encode()


def test_pure_python_encoder_matches_orjson_when_there_are_no_floats():
    from rollout_trace_kit.compilers.canonical import _encode

    value = {"a": ["\u0000\u001f\u007f\u2028é🚀\"\\", {}, [], None, True, -(2**63), 2**64 - 1], "b": {"c": {}}}
    for indent in (0, None):
        out: list[str] = []
        _encode(value, out, indent)
        want = orjson.dumps(value, option=orjson.OPT_INDENT_2) if indent == 0 else orjson.dumps(value)
        assert "".join(out).encode() == want


def test_v3_writer_rotates_shards_and_seals_them_on_close(tmp_path, monkeypatch):
    from rollout_trace_kit.store import shards
    from rollout_trace_kit.writer import core

    monkeypatch.setattr(core, "ROTATE_BYTES", 3 * (10 + 13 + 137))  # three records fit, not four
    w = _writer(tmp_path, dialect="v3")
    refs = [w.write_json_payload("protocol_event", {"type": "warning", "message": "x" * 100, "n": i}) for i in range(8)]
    assert [r["shard"] for r in refs] == [1, 1, 1, 2, 2, 2, 3, 3]
    assert refs[0] == {"raw_payload_id": "raw_payload:1", "kind": {"type": "protocol_event"}, "shard": 1}
    crash = (tmp_path / "b" / "payloads" / "000003.zst").read_bytes()  # before close: the frame is open
    assert _records(crash)[-1] == shards.FRAME_TRUNCATED and len(_records(crash)) == 3
    w.close()
    for name, n in (("000001.zst", 3), ("000002.zst", 3), ("000003.zst", 2)):
        recs = _records((tmp_path / "b" / "payloads" / name).read_bytes())
        assert len(recs) == n and all(isinstance(r, tuple) for r in recs), name
    assert orjson.loads(_records((tmp_path / "b" / "payloads" / "000001.zst").read_bytes())[0][1])["n"] == 0


def test_the_float_encoder_refuses_the_nesting_orjson_refuses(tmp_path):
    """A deep value holding a float got a RecursionError out of the writer (and the protocol adapter)."""

    def nested(n: int, leaf: object) -> object:
        for _ in range(n):
            leaf = [leaf]
        return leaf

    for n in (253, 254, 255, 1000):
        try:
            want: object = orjson.dumps(nested(n, 1))
        except orjson.JSONEncodeError:
            want = orjson.JSONEncodeError
        if want is orjson.JSONEncodeError:
            with pytest.raises(orjson.JSONEncodeError):
                dumps(nested(n, 1.5))
        else:
            assert dumps(nested(n, 1.5)) == want.replace(b"1", b"1.5")
    w = _writer(tmp_path)
    with pytest.raises(EventError, match="not serialisable"):
        w.write_json_payload("tool_result", nested(1000, 1.5))
    assert w.write_json_payload("tool_result", nested(254, 1.5))["raw_payload_id"] == "raw_payload:1"
