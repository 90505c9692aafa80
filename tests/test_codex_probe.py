"""The release probe's pieces that need no real Codex, and one short real probe (opt-in tier)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import urllib.request

import pytest

from rollout_trace_kit.codex import mock_mcp
from rollout_trace_kit.codex.mock_responses import MockResponses, Turn, message
from rollout_trace_kit.codex.edited_copies import read_events
from rollout_trace_kit.codex.probe import _EXPECTED, bundle_facts, scrub
from rollout_trace_kit.codex.probe_scenarios import PROBE_SCENARIOS
from rollout_trace_kit.corpus import bundles


def test_serde_expected_lists_are_parsed():
    err = "Error: parse trace event at line 1: unknown variant `x`, expected one of `a`, `b_c`, `d` at line 1 column 9"
    assert re.findall(r"`([^`]*)`", _EXPECTED.search(err).group(1)) == ["a", "b_c", "d"]
    two = "unknown variant `x`, expected `model` or `code_cell`"
    assert re.findall(r"`([^`]*)`", _EXPECTED.search(two).group(1)) == ["model", "code_cell"]


def test_bundle_facts_of_a_real_bundle():
    plain = next(b for b in bundles("0.169.0") if b.name == "plain")
    facts = bundle_facts(read_events(plain))
    assert facts["schema_versions"] == [2]
    assert facts["variants"][0] == "rollout_started" and facts["terminal"] == "recording_completed"
    assert facts["after_rollout_ended"] == ["recording_completed"]
    assert "tool_call_started" not in facts["variants"]


def test_scrub_removes_machine_paths():
    doc = {"note": "open /tmp/rtk-probe-1/runs/x/traces/a/payloads/3.json failed", "ok": "payloads/3.json"}
    out = scrub(doc)
    assert "/tmp/" not in json.dumps(out) and out["ok"] == "payloads/3.json"


def test_mock_answers_remote_compaction():
    with MockResponses([Turn([message("hi")])], compact_status=200) as server:
        req = urllib.request.Request(server.base_url + "/responses/compact", data=b"{}", method="POST",
                                     headers={"Content-Type": "application/json"})
        body = json.loads(urllib.request.urlopen(req, timeout=10).read())
        assert body["output"][0]["type"] == "compaction"
        assert len(server.compact_requests) == 1 and not server.response_requests


def test_mock_mcp_server_speaks_json_rpc():
    init = mock_mcp.answer({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"protocolVersion": "2025-03-26"}})
    assert init["result"]["protocolVersion"] == "2025-03-26"
    assert mock_mcp.answer({"jsonrpc": "2.0", "method": "notifications/initialized"}) is None
    tools = mock_mcp.answer({"jsonrpc": "2.0", "id": 2, "method": "tools/list"})["result"]["tools"]
    assert [t["name"] for t in tools] == ["echo", "fail"]
    call = mock_mcp.answer({"jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": {"name": "fail"}})
    assert call["result"]["isError"] is True


def test_scenario_classes_cover_the_brief():
    want = {"single_turn", "tools", "failing_tools", "http_500", "stream_failure", "interrupt", "resume",
            "compaction_remote", "compaction_failed", "compaction_local", "code_mode", "mcp", "stdin", "multi_agent_v2"}
    assert want <= set(PROBE_SCENARIOS)


FAKE_NPM = """#!/bin/sh
echo "npm error code ETARGET" >&2
echo "npm error notarget No matching version found for $6." >&2
echo "npm error A complete log of this run can be found in: /somewhere" >&2
exit 1
"""


@pytest.mark.parametrize("argv", [["codex", "probe", "--no-fuzz"], ["codex", "path"]])
@pytest.mark.parametrize("version", ["junk", "../../outside", "0.169", "9.9.9",
                                     "0.169.00", "00.169.0", "0.169.0+build", "0.169.0-alpha.01"])
def test_a_junk_release_is_exit_2_with_a_message_and_leaves_nothing(tmp_path, monkeypatch, capsys, argv, version):
    from rollout_trace_kit.cli import main

    bin_dir, cache = tmp_path / "bin", tmp_path / "cache" / "inner"
    bin_dir.mkdir()
    (bin_dir / "npm").write_text(FAKE_NPM)  # 9.9.9 is a version: the (fake) npm says it does not exist
    (bin_dir / "npm").chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:/usr/bin:/bin")
    monkeypatch.setenv("ROLLOUT_TRACE_KIT_CACHE", str(cache))
    assert main([*argv, version]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err and "CalledProcessError" not in err, err
    assert ("No matching version found" in err) if version == "9.9.9" else ("is not a Codex release version" in err)
    assert not list(tmp_path.glob("cache/**/codex-*"))  # no install directory made, none left (nor outside)


# npm's argv: install --prefix DIR --no-audit --no-fund SPEC; the binary where a platform package puts it
FAKE_NPM_BINARY = """#!/bin/sh
bin="$3/node_modules/@openai/codex-linux-x64/vendor/x86_64-unknown-linux-musl/bin"
mkdir -p "$bin" && touch "$bin/codex" && chmod +x "$bin/codex"
[ -z "$FAKE_NPM_KILL" ] || kill -9 "$PPID"
[ -z "$FAKE_NPM_FAIL" ] || exit 1
"""


def test_an_install_becomes_the_release_only_once_npm_is_done(tmp_path, monkeypatch):
    """npm fills a staging directory: an install npm failed, or one a killed process left half-made
    (binary written, npm not done), is never taken for the release."""
    from rollout_trace_kit.codex.install import InstallError, ensure_codex, install_dir

    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "npm").write_text(FAKE_NPM_BINARY)
    (bin_dir / "npm").chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:/usr/bin:/bin")
    monkeypatch.setenv("ROLLOUT_TRACE_KIT_CACHE", str(tmp_path / "cache"))
    prefix = install_dir("0.169.0")
    staging = prefix.with_name(prefix.name + ".installing")

    monkeypatch.setenv("FAKE_NPM_FAIL", "1")  # npm wrote the binary, then failed
    with pytest.raises(InstallError):
        ensure_codex("0.169.0")
    assert not prefix.exists() and not staging.exists()
    # the installing process killed (SIGKILL) once npm wrote the binary: not the release's binary
    monkeypatch.setenv("FAKE_NPM_KILL", "1")
    killed = subprocess.run([sys.executable, "-c", "from rollout_trace_kit.codex.install import ensure_codex; "
                             "ensure_codex('0.169.0')"], capture_output=True, timeout=60)
    monkeypatch.delenv("FAKE_NPM_KILL")
    assert killed.returncode == -9 and (staging / "node_modules").is_dir()
    assert ensure_codex("0.169.0", install=False) is None
    # what it left is cleared by the next install, not adopted
    with pytest.raises(InstallError):
        ensure_codex("0.169.0")
    assert ensure_codex("0.169.0", install=False) is None and not staging.exists()

    monkeypatch.delenv("FAKE_NPM_FAIL")
    binary = ensure_codex("0.169.0")
    assert binary is not None and binary.is_relative_to(prefix) and not staging.exists()
    assert ensure_codex("0.169.0") == binary  # installed: npm is not run again


@pytest.mark.codex
def test_probe_one_scenario_of_a_reference_release(tmp_path):
    from rollout_trace_kit.cli import main

    assert main(["codex", "probe", "0.169.0", "--scenario", "single_turn", "--scenario", "tools", "--no-fuzz",
                 "--out", str(tmp_path)]) == 0
    record = json.loads((tmp_path / "0.169.0.json").read_text())
    assert record["schema_version"] == 2 and record["has_reducer"] is True
    assert record["reducer"]["schema_versions_accepted"] == [2]
    assert "recording_completed" in record["reducer"]["variants"]
    assert "kind" in record["reducer"]["required_fields"]["tool_call_runtime_started"]
    assert record["writer"]["scenarios"]["single_turn"]["own_reducer_accepts"] is True
    for marker in ("/tmp/", "/root/", "/home/"):
        assert marker not in (tmp_path / "0.169.0.json").read_text()


def test_a_deepened_body_nests_as_deep_as_asked():
    from rollout_trace_kit.codex.probe_depths import deepened
    from rollout_trace_kit.validate.lines import json_depth

    for depth in (2, 127, 128):
        assert json_depth(deepened({"call_id": "c"}, depth), 1000) == depth


def test_an_edited_copy_never_writes_into_the_bundle_it_copies(tmp_path):
    """The probes edit hard-linked copies of corpus bundles: a changed or removed file of the copy
    leaves the original as it was."""
    from rollout_trace_kit.codex.edited_copies import linked_copy, rewrite, rewrite_trace

    original = tmp_path / "b"
    (original / "payloads").mkdir(parents=True)
    (original / "trace.jsonl").write_text('{"payload": {"type": "a"}}\n')
    (original / "payloads" / "1.json").write_text("{}")
    (original / "payloads" / "2.json").write_text("[]")
    before = {p: p.read_bytes() for p in original.rglob("*") if p.is_file()}
    copy = tmp_path / "copy"
    linked_copy(original, copy)
    assert (copy / "payloads" / "2.json").stat().st_ino == (original / "payloads" / "2.json").stat().st_ino
    rewrite_trace(copy, [{"payload": {"type": "b"}}])
    rewrite(copy / "payloads" / "1.json", '{"k": 1}')
    (copy / "payloads" / "2.json").unlink()
    assert read_events(copy) == [{"payload": {"type": "b"}}]
    assert {p: p.read_bytes() for p in original.rglob("*") if p.is_file()} == before


def test_readable_events_drop_unknown_variants_and_renumber_seq():
    from rollout_trace_kit.codex.probe_depths import readable_events

    events = [{"seq": i, "payload": {"type": t}} for i, t in enumerate(("a", "zz", "b", "c"), start=1)]
    kept = readable_events(events, frozenset({"a", "b", "c"}))
    assert [(e["seq"], e["payload"]["type"]) for e in kept] == [(1, "a"), (2, "b"), (3, "c")]
    assert readable_events(events, None) is events


@pytest.mark.codex
def test_what_0_165_0_reads_is_measured_again_as_its_record_says(tmp_path):
    """The reader facts of 0.165.0's record (`codex probe --depths`) measured again: every runtime body read
    127 deep, some payloads never opened, no envelope ordering rule enforced."""
    from rollout_trace_kit.codex.probe_depths import measure_depths, measure_reads
    from rollout_trace_kit.model.releases import load_records

    committed = load_records()["0.165.0"]["reducer"]
    measured = measure_reads("0.165.0", measure_depths("0.165.0"))["reducer"]
    for key in ("runtime_depths", "payloads_opened", "envelope_rules"):
        assert measured[key] == committed[key], key
