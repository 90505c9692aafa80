"""The real Codex writer (opt-in tier, --codex): codex exec against the mock Responses API.

The mock (rollout_trace_kit.codex.mock_responses) is tested in the plain
tier; running the published binaries is the opt-in tier that .ci/run turns on.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections import Counter

import orjson
import pytest

from rollout_trace_kit.bundle import Bundle
from rollout_trace_kit.model import DIALECTS
from rollout_trace_kit.model.types import STORE_ZSTD_SHARDS
from rollout_trace_kit.codex.install import REFERENCE_RELEASES, trace_reduce
from rollout_trace_kit.codex.mock_responses import MockResponses, Turn, function_call, message
from rollout_trace_kit.codex.exec_writer import SCENARIOS, run_codex_exec
from rollout_trace_kit.conformance.writer.scripts import replay_clock, script_from_bundle, write_script
from rollout_trace_kit.validate import Options, Profile, validate_bundle

from ._helpers import assert_cut_short_verdicts

# --- the mock, without Codex ----------------------------------------------------------------


def _post(url: str, body: dict) -> tuple[int, dict, bytes]:
    req = urllib.request.Request(url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=5) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


def _sse(data: bytes) -> list[dict]:
    events = []
    for block in data.decode().split("\n\n"):
        lines = dict(line.split(": ", 1) for line in block.splitlines() if ": " in line)
        if lines:
            payload = json.loads(lines["data"])
            assert payload["type"] == lines["event"]
            events.append(payload)
    return events


def test_mock_streams_the_scripted_turns_then_the_fallback():
    turns = [Turn([function_call("exec_command", {"cmd": "true"}, call_id="c1")]), Turn([message("bye")])]
    with MockResponses(turns) as server:
        assert server.base_url.startswith("http://127.0.0.1:")
        status, headers, data = _post(f"{server.base_url}/responses", {"model": "m", "input": []})
        assert status == 200 and headers["Content-Type"] == "text/event-stream" and headers["x-request-id"] == "mock-req-1"
        events = _sse(data)
        assert [e["type"] for e in events] == ["response.created", "response.output_item.done", "response.completed"]
        assert json.loads(events[1]["item"]["arguments"]) == {"cmd": "true"}
        assert events[2]["response"]["id"] == "resp-1" and events[2]["response"]["usage"]["total_tokens"] == 2
        assert _sse(_post(f"{server.base_url}/responses", {})[2])[1]["item"]["content"][0]["text"] == "bye"
        assert _sse(_post(f"{server.base_url}/responses", {})[2])[1]["item"]["content"][0]["text"] == "done"
        assert [r.body for r in server.response_requests][0] == {"model": "m", "input": []}


def test_mock_http_errors_failed_streams_and_unknown_paths():
    with MockResponses([Turn(http_status=500), Turn([message("x")], failed=True)]) as server:
        status, _, data = _post(f"{server.base_url}/responses", {})
        assert status == 500 and json.loads(data)["error"]["message"] == "mock provider error"
        events = _sse(_post(f"{server.base_url}/responses", {})[2])
        assert events[-1]["type"] == "response.failed" and events[-1]["response"]["error"]["code"] == "server_error"
        assert _post(f"{server.base_url}/chat/completions", {})[0] == 404
        assert len(server.response_requests) == 2 and len(server.requests) == 3


# --- the published binaries -------------------------------------------------------------------------


def _events(bundle) -> list[dict]:
    return [orjson.loads(line) for line in (bundle / "trace.jsonl").read_bytes().splitlines()]


def _tail(bundle, n: int = 6) -> list[str]:
    """The variants of the log's last ``n`` lines (a line that does not parse: its first bytes)."""
    tail = []
    for line in (bundle / "trace.jsonl").read_bytes().splitlines()[-n:]:
        try:
            tail.append(orjson.loads(line)["payload"]["type"])
        except (orjson.JSONDecodeError, KeyError, TypeError):
            tail.append(repr(line[:80]))
    return tail


def _scenario_shape(name: str, events: list[dict]) -> None:
    """What each scenario must have made Codex record."""
    types = Counter(e["payload"]["type"] for e in events)
    ends = {e["payload"]["type"]: e["payload"] for e in events}
    if name == "plain":
        assert types["inference_completed"] == 1 and types["tool_call_started"] == 0
    elif name == "tools":
        assert types["inference_completed"] == 3
        started = [e["payload"] for e in events if e["payload"]["type"] == "tool_call_started"]
        assert [s["kind"] for s in started] == [{"type": "exec_command"}, {"type": "other", "name": "no_such_tool"}]
        tool_ends = [e["payload"]["status"] for e in events if e["payload"]["type"] == "tool_call_ended"]
        assert tool_ends == ["completed", "failed"]  # the unknown tool fails
    elif name == "tool_fail":
        assert ends["tool_call_runtime_ended"]["status"] == "failed"
    elif name in ("provider_error", "stream_failed"):
        assert types["inference_failed"] == 1 and types["inference_completed"] == 0
    else:  # pragma: no cover
        raise AssertionError(name)


@pytest.mark.codex
@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
@pytest.mark.parametrize("dialect", sorted(REFERENCE_RELEASES))
def test_real_codex_bundles_validate_clean_in_the_writer_profile(codex_binaries, dialect, scenario, tmp_path):
    release = REFERENCE_RELEASES[dialect]
    sc = SCENARIOS[scenario]
    run = run_codex_exec(codex_binaries[dialect], sc, tmp_path)
    assert not run.timed_out
    assert (run.returncode == 0) == sc.expect_success, run.stderr[-2000:]
    assert run.requests == len(sc.turns) and run.other_requests == []
    assert len(run.bundles) == 1, run.stderr[-2000:]
    bundle = run.bundles[0]

    report = validate_bundle(bundle, Options(profile=Profile.WRITER))
    assert report.dialect == dialect
    told = ([f.to_dict() for f in report.findings], _tail(bundle), run.returncode, run.stderr[-1000:])
    if report.findings and not sc.expect_success and _tail(bundle, 1) == ["rollout_ended"]:
        # Codex exiting on an error can lose its last event, recording_completed, under load (0.169.0's
        # stream_failed, twice in seven runs of the codex tier here, none in 52 runs made to catch it;
        # its reducer accepts the log)
        assert_cut_short_verdicts(bundle, release)
    else:
        assert report.findings == [], told
    events = _events(bundle)
    assert report.events == len(events) > 8
    _scenario_shape(scenario, events)

    reduced = trace_reduce(codex_binaries[dialect], bundle, tmp_path / "state.json")
    assert reduced.accepted, f"Codex {release} reducer: {reduced.first_error}"

    # the reference writer, replaying this fresh bundle with its times, writes the same bytes
    original = Bundle.read(bundle)
    again = Bundle.read(write_script(script_from_bundle(original), tmp_path / "again", clock=replay_clock(original)))
    assert again.manifest == original.manifest and again.lines == original.lines
    if DIALECTS[dialect].layout.store == STORE_ZSTD_SHARDS:  # shards: the same compressed bytes
        assert again.payloads == original.payloads
    else:  # one JSON file per payload: the same documents
        assert {p: orjson.loads(d) for p, d in again.payloads.items()} == {
            p: orjson.loads(d) for p, d in original.payloads.items()
        }
