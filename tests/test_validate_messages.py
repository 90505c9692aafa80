"""Messages that say what is there (issue 18, item 8): absence is named, one fault gets one finding."""

from __future__ import annotations

import subprocess
import sys

import orjson
import pytest

from rollout_trace_kit.bundle import Bundle, dumps_pretty
from rollout_trace_kit.validate import Options, Profile, validate_bundle


def _without_schema_version(b: Bundle, events: bool) -> Bundle:
    b = b.copy()
    manifest = orjson.loads(b.manifest)
    del manifest["schema_version"]
    b.manifest = dumps_pretty(manifest)
    if events:
        b.lines = [orjson.dumps({k: v for k, v in orjson.loads(x).items() if k != "schema_version"}) for x in b.lines]
    return b


def test_a_manifest_without_schema_version_says_so(tmp_path, load_corpus):
    path = _without_schema_version(load_corpus("0.169.0", "basic"), events=True).write(tmp_path / "b")
    report = validate_bundle(path, Options(profile=Profile.STRICT))
    [finding] = [f for f in report.findings if f.invariant == "BUNDLE.DIALECT_KNOWN"]
    assert "the manifest has no schema_version" in finding.message
    assert "the first event has no schema_version" in finding.message
    assert "None" not in finding.message


def test_a_null_schema_version_is_shown_as_json(tmp_path, load_corpus):
    b = load_corpus("0.169.0", "basic").copy()
    manifest = orjson.loads(b.manifest)
    manifest["schema_version"] = None
    b.manifest = dumps_pretty(manifest)
    b.lines = [orjson.dumps({**orjson.loads(x), "schema_version": None}) for x in b.lines]
    report = validate_bundle(b.write(tmp_path / "b"), Options(profile=Profile.STRICT))
    [finding] = [f for f in report.findings if f.invariant == "BUNDLE.DIALECT_KNOWN"]
    assert "manifest schema_version null" in finding.message and "None" not in finding.message


@pytest.mark.parametrize("command", [["compat"], ["validate"]])
def test_summaries_name_a_missing_schema_version(tmp_path, load_corpus, command):
    path = _without_schema_version(load_corpus("0.169.0", "basic"), events=True).write(tmp_path / "b")
    out = subprocess.run([sys.executable, "-m", "rollout_trace_kit.cli", *command, str(path)],
                         capture_output=True, text=True).stdout
    assert "no schema_version" in out
    assert "schema_version None" not in out


def _break_last(b: Bundle, edit) -> Bundle:
    b = b.copy()
    last = orjson.loads(b.lines[-1])
    edit(last)
    b.lines[-1] = orjson.dumps(last)
    return b


@pytest.mark.parametrize("release,edit", [
    ("0.164.0", lambda e: e["payload"].update(status="bogus")),  # rollout_ended with a status no enum has
    ("0.169.0", lambda e: e.update(seq="x")),  # recording_completed with a seq that is not an integer
    ("0.171.0", lambda e: e["payload"].update(extra={"type": 1}) or e.update(wall_time_unix_ms="soon")),
])
def test_a_malformed_terminal_event_is_one_finding_not_a_missing_terminal(tmp_path, load_corpus, release, edit):
    path = _break_last(load_corpus(release, "basic"), edit).write(tmp_path / "b")
    report = validate_bundle(path, Options(profile=Profile.STRICT))
    assert "EVENT.SCHEMA" in report.ids()
    assert "ORDER.TERMINAL_PRESENT" not in report.ids(), [(f.invariant, f.message) for f in report.findings]


def test_a_last_event_of_another_type_still_lacks_the_terminal(tmp_path, load_corpus):
    path = _break_last(load_corpus("0.169.0", "basic"), lambda e: e["payload"].update(type="recording_complete")).write(tmp_path / "b")
    assert "ORDER.TERMINAL_PRESENT" in validate_bundle(path, Options(profile=Profile.STRICT)).ids()
