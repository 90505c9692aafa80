"""`rollout-trace compat` explains itself and agrees with `validate --release` (issue 18, class 9).

Each release ruled out as reader or writer comes with its first reason; the three wrong
verdicts the issue names are rebuilt here on minimal edits of shipped real bundles.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from rollout_trace_kit.cli import main
from rollout_trace_kit.validate import Options, Profile, validate_bundle
from rollout_trace_kit.validate.cli import shipped
from rollout_trace_kit.validate.compat_cli import judge_bundle
from rollout_trace_kit.model.types import release_key


def _copy(tmp_path: Path, name: str) -> Path:
    b = tmp_path / "b"
    shutil.copytree(shipped(f"corpus:{name}"), b, ignore=shutil.ignore_patterns("*.state.json"))
    return b


def _events(b: Path) -> list[dict]:
    return [json.loads(line) for line in (b / "trace.jsonl").read_text().splitlines()]


def _write(b: Path, events: list[dict]) -> None:
    (b / "trace.jsonl").write_text("".join(json.dumps(e, separators=(",", ":")) + "\n" for e in events))


def _covers(spans: list[str], version: str) -> bool:
    for span in spans:
        first, _, last = span.partition("..")
        if release_key(first) <= release_key(version) <= release_key(last or first):
            return True
    return False


def _epoch(row: dict, version: str) -> dict:
    return next(e for e in row["epochs"]
                if release_key(e["first"]) <= release_key(version) <= release_key(e["last"]))


def test_a_v3_bundle_of_old_variants_is_not_read_by_0_164_0(tmp_path):
    # 0.164.0 takes every schema_version but reads refs by `path`; a v3 ref has a shard instead:
    # "missing field `path`". compat and --release 0.164.0 used to say it reads the bundle.
    b = _copy(tmp_path, "codex-0.171.0/plain")
    old = {"rollout_started", "thread_started", "protocol_event_observed", "codex_turn_started", "inference_started",
           "inference_completed", "codex_turn_ended", "thread_ended", "rollout_ended"}
    kept = [e for e in _events(b) if e["payload"]["type"] in old]
    for n, e in enumerate(kept, 1):
        e["seq"] = n
    _write(b, kept)
    report = validate_bundle(b, Options(profile=Profile.REDUCER, release="0.164.0"))
    assert not report.ok
    assert any("path" in f.message for f in report.findings if f.severity.value == "error"), report.findings[:3]
    row = judge_bundle(b)
    assert not _covers(row["readers"], "0.164.0") and not _covers(row["readers"], "0.125.0")
    why = _epoch(row, "0.164.0")["reader_reason"]
    assert why["line"] == 2 and "path" in why["message"], why


def test_an_omitted_optional_upstream_request_id_leaves_the_release_a_writer(tmp_path):
    # validate --release 0.169.0 is clean; compat said "writable by none" and gave no reason.
    b = _copy(tmp_path, "codex-0.169.0/plain")
    events = _events(b)
    for e in events:
        if e["payload"]["type"] == "inference_completed":
            del e["payload"]["upstream_request_id"]
    _write(b, events)
    assert validate_bundle(b, Options(profile=Profile.WRITER, release="0.169.0")).ok
    assert validate_bundle(b, Options(profile=Profile.STRICT, release="0.169.0")).ok
    row = judge_bundle(b)
    assert _covers(row["writers"], "0.169.0") and _covers(row["readers"], "0.169.0"), row["writers"]


def test_events_of_another_schema_version_rule_the_writer_out_with_a_reason(tmp_path):
    # 23 events with schema_version 1 in a schema_version 2 bundle: compat said "writable by 0.165.0"
    # (it looked at the manifest alone).
    b = _copy(tmp_path, "codex-0.169.0/plain")
    _write(b, [dict(e, schema_version=1) for e in _events(b)])
    assert not validate_bundle(b, Options(profile=Profile.WRITER, release="0.165.0")).ok
    row = judge_bundle(b)
    assert row["writers"] == [] or not any(_covers(row["writers"], v) for v in ("0.165.0", "0.169.0"))
    for v in ("0.165.0", "0.169.0"):
        e = _epoch(row, v)
        assert e["writes"] is False and e["writer_reason"]["line"] == 1, e
        assert e["reads"] is False and e["reader_reason"] is not None


def test_every_release_ruled_out_has_a_reason(capsys):
    row = judge_bundle(shipped("corpus:codex-0.169.0/tools"))
    for e in row["epochs"]:
        if e["status"] == "unknown":
            continue
        if e["reads"] is False:
            assert e["reader_reason"]["invariant"] and e["reader_reason"]["message"], e
        if e["writes"] is False:
            assert e["writer_reason"]["invariant"] and e["writer_reason"]["message"], e
    assert main(["compat", "corpus:codex-0.169.0/tools"]) == 0
    out = capsys.readouterr().out
    assert "not read by 0.171.0: manifest.json RELEASE.SCHEMA_ACCEPTED" in out
    assert "not read by 0.165.0..0.166.0: trace.jsonl:" in out and "recording_completed" in out


def test_epochs_that_read_a_bundle_alike_share_one_pass(tmp_path, monkeypatch):
    """compat reads a bundle again only for releases that read it otherwise than its dialect's
    reference reducer, once per way of reading it, and never for one that stops at the manifest."""
    from rollout_trace_kit.model import DIALECTS, releases
    from rollout_trace_kit.validate import engine
    from rollout_trace_kit.validate import release_verdict as rv

    b = _copy(tmp_path, "codex-0.164.0/plain")
    events = _events(b)
    at = next(i for i, e in enumerate(events) if e["payload"]["type"] == "thread_started")
    events.insert(at + 1, events[at])  # a thread started twice: a reducer-level error
    _write(b, [dict(e, seq=n) for n, e in enumerate(events, 1)])
    passes = []
    real = engine.reader_pass
    monkeypatch.setattr(engine, "reader_pass", lambda *a, **k: passes.append(a[1].release) or real(*a, **k))
    report = validate_bundle(b, Options(profile=Profile.STRICT))
    assert any(f.profile is Profile.REDUCER for f in report.findings if f.severity.name == "ERROR")
    v1 = DIALECTS["v1"]
    summary = rv.summarize(b)
    summary.manifest_schema = 1
    own_way = [e.representative.version for e in releases.table_epochs()
               if rv.reads_as(e.representative) in (None, v1) and rv.reads_own_way(e.representative, v1)]
    reread = [v for v in own_way if not rv.refuses_manifest(releases.release(v), summary)]
    ways = {rv._reader_signature(v1, v) for v in reread}
    assert passes[0] is None and sorted(passes[1:], key=release_key) == passes[1:]
    assert len(passes) == 1 + len(ways) and len(ways) < len(own_way)
