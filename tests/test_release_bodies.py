"""RELEASE.BODY_REQUIRED: the payload-body keys an epoch's reducer requires (``codex probe --bodies``)."""

from __future__ import annotations

from rollout_trace_kit.model import releases
from rollout_trace_kit.model.facts import body_place
from rollout_trace_kit.model.reducer_errors import classify
from rollout_trace_kit.validate import Options, Profile, validate_bundle
from rollout_trace_kit.validate.rules.release import body_error_class, body_required

from .conftest import CORPUS

EXEC_END = body_place("tool_call_runtime_ended", "runtime_payload", "exec_command")


def _errors(bundle, release):
    report = validate_bundle(bundle, Options(profile=Profile.REDUCER, release=release))
    return [f for f in report.findings if f.invariant == "RELEASE.BODY_REQUIRED"]


def test_an_older_reducer_needs_the_older_exec_response_body():
    # measured: 0.125.0 "parse exec terminal response raw_payload:8 ... missing field `stdout`" on 0.164.0's tools
    found = _errors(CORPUS / "codex-0.164.0" / "tools", "0.125.0")
    assert found and EXEC_END in found[0].message and "stdout" in found[0].message
    assert body_error_class(releases.release("0.125.0"), found[0].message) == "body_terminal_runtime"
    assert _errors(CORPUS / "codex-0.164.0" / "tools", "0.164.0") == []  # its own writer's bundle


def test_a_release_not_measured_takes_its_epochs_first():
    assert releases.release("0.130.0").get("reducer", "body_required") is None  # probed before --bodies
    assert body_required(releases.release("0.130.0")) == body_required(releases.release("0.128.0")) != {}
    assert _errors(CORPUS / "codex-0.164.0" / "tools", "0.130.0")


def test_compat_names_no_reader_the_body_stops():
    report = validate_bundle(CORPUS / "codex-0.164.0" / "tools", Options(profile=Profile.REDUCER))
    assert report.releases is not None and report.releases["readers"][0].startswith("0.162.0")


def test_the_classes_of_the_measured_messages():
    assert classify("Error: missing field `call_id`\n\nStack backtrace:") == "body_field_missing"
    assert classify("Error: parse terminal runtime start payload raw_payload:7\n\nCaused by:\n    missing field `command`") \
        == "body_terminal_runtime"
    assert classify("Error: parse trace event line 3\n\nCaused by:\n    missing field `kind`") == "line_unparsed"


def test_an_exec_end_without_a_runtime_start_needs_no_body_keys(tmp_path):
    # `codex diff --epoch-readers --seed 0` (order.swap): 0.143.0 reads an exec end body lacking stdout
    # when no runtime start made a terminal operation (it does not parse it), and refuses it after one
    from .test_reducer_verdicts_kinds import with_exec_end

    body = {"call_id": "call-1", "process_id": "4242", "exit_code": 0, "aggregated_output": ""}
    alone = with_exec_end(body, started=False)("v1").write(tmp_path / "alone")
    after = with_exec_end(body, started=True)("v1").write(tmp_path / "after")
    for release in ("0.125.0", "0.143.0"):
        assert _errors(alone, release) == [], release
        assert _errors(after, release), release
