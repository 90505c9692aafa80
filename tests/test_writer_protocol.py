"""The writer driver protocol: its committed schema, and the reference adapter speaking it."""

from __future__ import annotations

import io
import json
import re

import jsonschema
import orjson
import pytest

from rollout_trace_kit.writer.core import written_dialects

from rollout_trace_kit.conformance.writer import protocol
from rollout_trace_kit.conformance.writer.protocol import COMMANDS, PROTOCOL_VERSION, message_errors, schema_files
from rollout_trace_kit.conformance.writer.checks import WRITER_CHECKS
from rollout_trace_kit.writer import adapter

from .conftest import ROOT

GUIDE = ROOT / "docs" / "guides" / "writer-protocol.md"


def test_committed_protocol_schema_matches_the_definition():
    """The drift test: regenerate with `python -m rollout_trace_kit.conformance.writer.protocol schema`."""
    for rel, text in schema_files().items():
        path = ROOT / "schema" / rel
        assert path.is_file(), f"{path} is missing"
        assert path.read_text(encoding="utf-8") == text, f"{path} is stale"
    committed = {str(p.relative_to(ROOT / "schema")) for p in (ROOT / "schema" / "protocol").glob("*.json")}
    assert committed == set(schema_files())


def test_protocol_schema_is_valid_2020_12_and_versioned():
    schema = json.loads((ROOT / "schema" / protocol.SCHEMA_FILE).read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["x-protocol-version"] == PROTOCOL_VERSION
    assert schema["$id"].endswith("/schema/" + protocol.SCHEMA_FILE)
    for c in COMMANDS:
        assert f"request.{c.name}" in schema["$defs"] and f"response.{c.name}" in schema["$defs"]


def test_adapter_speaks_the_same_version():
    assert adapter.PROTOCOL_VERSION == PROTOCOL_VERSION


def _session(lines: list[dict]) -> list[dict]:
    stdin = io.BytesIO(b"".join(orjson.dumps(x) + b"\n" for x in lines))
    stdout = io.BytesIO()
    assert adapter.serve(stdin, stdout) == 0
    return [orjson.loads(x) for x in stdout.getvalue().splitlines()]


def test_reference_adapter_answers_are_valid_protocol_lines(tmp_path):
    d = str(tmp_path / "b")
    requests = [
        {"cmd": "start", "id": 0, "version": 1},
        {"cmd": "create", "id": 1, "dir": d, "dialect": "v2", "trace_id": "t", "rollout_id": "r", "root_thread_id": "r"},
        {"cmd": "write_payload", "id": 2, "kind": "session_metadata", "body": {"a": 1}, "body_json": '{"a":1}'},
        {"cmd": "append_event", "id": 3, "context": {"thread_id": None, "codex_turn_id": None},
         "payload": {"type": "rollout_started", "trace_id": "t", "root_thread_id": "r"}},
        {"cmd": "close", "id": 4},
        {"cmd": "stop", "id": 5},
    ]
    full = jsonschema.Draft202012Validator(protocol.protocol_schema())
    for req in requests:
        assert not message_errors("request", req), req
        assert not list(full.iter_errors(req))
    answers = _session(requests)
    assert [a["id"] for a in answers] == [r["id"] for r in requests]
    for req, ans in zip(requests, answers):
        assert ans["ok"] is True, ans
        assert not message_errors(f"response.{req['cmd']}", ans), ans
        assert not list(full.iter_errors(ans))
    assert answers[0]["capabilities"]["dialects"] == written_dialects()
    assert {"v1", "v2"} <= set(written_dialects())
    assert answers[2]["ref"]["path"] == "payloads/1.json"
    assert answers[3]["event"]["seq"] == 1


@pytest.mark.parametrize(
    "requests, kind, text",
    [
        ([{"cmd": "start", "id": 0, "version": 99}], "unsupported", "protocol version 1"),
        ([{"cmd": "create", "id": 0}], "invalid_request", "first request must be start"),
        ([{"cmd": "start", "id": 0, "version": 1}, {"cmd": "fly", "id": 1}], "unsupported", "unknown command"),
        (
            [{"cmd": "start", "id": 0, "version": 1},
             {"cmd": "append_event", "id": 1, "context": {"thread_id": None, "codex_turn_id": None}, "payload": {}}],
            "invalid_request",
            "no bundle",
        ),
    ],
)
def test_adapter_errors_are_protocol_error_answers(requests, kind, text):
    last = _session(requests)[-1]
    assert last["ok"] is False and last["error"]["kind"] == kind and text in last["error"]["message"]
    assert not message_errors("error", last)


def test_an_event_outside_the_model_is_refused_as_invalid_request(tmp_path):
    answers = _session(
        [
            {"cmd": "start", "id": 0, "version": 1},
            {"cmd": "create", "id": 1, "dir": str(tmp_path / "b"), "dialect": "v1", "trace_id": "t",
             "rollout_id": "r", "root_thread_id": "r"},
            {"cmd": "append_event", "id": 2, "context": {"thread_id": None, "codex_turn_id": None},
             "payload": {"type": "recording_completed"}},
        ]
    )
    assert answers[-1]["ok"] is False and answers[-1]["error"]["kind"] == "invalid_request"
    assert (tmp_path / "b" / "trace.jsonl").read_bytes() == b""


def test_schema_rejects_malformed_messages():
    assert message_errors("request", {"cmd": "create", "id": 1, "dir": "/x"})  # missing ids, dialect
    assert message_errors("request", {"cmd": "write_payload", "id": 1, "kind": "nope", "body": 1, "body_json": "1"})
    assert message_errors("response.write_payload", {"id": 1, "ok": True, "ref": {"raw_payload_id": "x"}})
    assert message_errors("response.start", {"id": 0, "ok": True, "version": 1, "implementation": {"name": "x"},
                                             "capabilities": {"dialects": []}})


def test_the_guide_documents_every_command_and_check():
    text = GUIDE.read_text(encoding="utf-8")
    for c in COMMANDS:
        assert f"`{c.name}`" in text, f"the guide does not describe {c.name}"
        for f in c.request:
            assert f"`{f.name}`" in text, f"the guide does not describe {c.name}.{f.name}"
    rows = dict(re.findall(r"^\| `(WRITER\.[A-Z_]+)` \| (.+?) \|$", text, re.M))
    assert set(rows) == set(WRITER_CHECKS), "the guide's table of checks is not the catalogue"
    for cid, check in WRITER_CHECKS.items():
        assert rows[cid] == check.meaning, f"{cid}: the guide's meaning differs from writer_checks.py"
    assert f"version {PROTOCOL_VERSION}" in text


def test_the_guide_examples_are_valid_protocol_lines():
    text = GUIDE.read_text(encoding="utf-8")
    blocks = [json.loads(b) for b in re.findall(r"^```json\n(.*?)^```$", text, re.M | re.S)]
    assert len(blocks) >= 10
    requests = {b["id"]: b for b in blocks if "cmd" in b}
    for b in blocks:
        if "cmd" in b:
            assert not message_errors("request", b), b
        else:
            cmd = requests[b["id"]]["cmd"]
            assert not message_errors(f"response.{cmd}", b), b


@pytest.mark.parametrize("args, code, out", [
    (["--help"], 0, "usage: rollout-trace-writer"),
    (["--version"], 0, "rollout-trace-writer "),
])
def test_the_writer_entry_point_answers_help_and_version(args, code, out):
    """`rollout-trace-writer --help` printed nothing and exited 0 (it read standard input as a session)."""
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-m", "rollout_trace_kit.writer", *args], input=b"",
                          capture_output=True, timeout=60)
    assert proc.returncode == code and out in proc.stdout.decode(), proc


def test_the_writer_entry_point_refuses_an_unknown_argument():
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-m", "rollout_trace_kit.writer", "--nope"], input=b"",
                          capture_output=True, timeout=60)
    assert proc.returncode == 2 and b"unrecognized arguments: --nope" in proc.stderr and not proc.stdout, proc
