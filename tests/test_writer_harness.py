"""The writer harness: the reference writer passes everything, each faulty writer is caught."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from rollout_trace_kit.validate.catalogue import declines
from hypothesis import HealthCheck, given, settings

from rollout_trace_kit.conformance.writer.checks import WRITER_CHECKS, meaning
from rollout_trace_kit.conformance.writer.cli import main as check_writer_main
from rollout_trace_kit.conformance.writer.harness import (
    Config,
    Findings,
    HarnessOptions,
    Session,
    check_crash_state,
    check_writer,
    crash_points,
    json_equal,
    run_crash,
)
from rollout_trace_kit.conformance.writer.scripts import (
    ScriptBuilder,
    ScriptError,
    lifecycle_script,
    load_scripts,
    script_from_bundle,
)
from rollout_trace_kit.generators import bundles
from rollout_trace_kit.validate import Severity

from .conftest import ROOT

PY = sys.executable
REFERENCE = [PY, "-m", "rollout_trace_kit.writer"]
FAULTY = [PY, str(ROOT / "tests" / "writers" / "faulty_writer.py")]
NODE = shutil.which("node")
NODE_WRITER = ROOT / "tests" / "writers" / "node" / "writer.js"


def run(argv, scripts, **options) -> list:
    # Generous waits: on a loaded machine (the README run beside a differential run, load 6 on 2
    # cores) a faulty-writer test gained a WRITER.PROTOCOL finding, which only a late, missing or
    # malformed answer gives; it passed alone. No writer these tests run hangs, so a long wait costs
    # nothing; the tests that measure a timeout set their own.
    return check_writer(Config(list(argv), timeout=120.0, start_timeout=120.0), scripts, HarnessOptions(**options))


# --- the positive control -----------------------------------------------------------------


@pytest.mark.parametrize("dialect", ["v1", "v2"])
def test_reference_writer_passes_every_check_and_every_crash_point(dialect):
    script = lifecycle_script(dialect)
    [result] = run(REFERENCE, [script], crash="every")
    assert result.skipped is None
    assert result.crash_points == list(range(len(script.ops) - 1))  # after create ... after the op before close
    assert result.findings == [], [f.to_dict() for f in result.findings]
    assert result.implementation["language"] == "python"


# 12 crash points spread over each script in the README's run; every one (6 to 7 s a bundle) in
# the slow tier, which .ci/run runs
@pytest.mark.parametrize("crash", [12, pytest.param("every", marks=pytest.mark.slow)])
@pytest.mark.parametrize("spec", ["corpus:codex-0.169.0/tools", "corpus:codex-0.164.0/multi_agent_v2"])
def test_reference_writer_replays_real_bundles_with_a_crash_after_every_operation(spec, crash):
    [script] = load_scripts(spec)
    [result] = run(REFERENCE, [script], crash=crash)
    assert len(script.ops) - 1 > 50
    assert len(result.crash_points) == (len(script.ops) - 1 if crash == "every" else crash)
    assert result.findings == [], [f.to_dict() for f in result.findings]


def test_reference_writer_replays_every_corpus_bundle():
    scripts = load_scripts("corpus:")
    assert len(scripts) == 36  # 12 bundles of each of 0.164.0, 0.169.0 and 0.171.0
    results = run(REFERENCE, scripts, crash="none")
    assert [(r.script, r.findings) for r in results] == [(s.name, []) for s in scripts]


def test_reference_writer_survives_inflight_kills():
    """Killed while it performs an operation: every left-behind bundle is still a valid prefix."""
    [result] = run(REFERENCE, [lifecycle_script("v2")], crash=8, crash_mode="inflight")
    assert len(result.crash_points) == 8
    assert [f for f in result.findings if f.severity is Severity.ERROR] == []


# --- negative controls ------------------------------------------------------------------------

EXPECTED = {
    "event-before-payload": {"WRITER.PAYLOAD_ON_ANSWER", "WRITER.PAYLOAD_BEFORE_EVENT", "REF.FILE_EXISTS"},
    "seq-gap": {"SEQ.NO_GAP"},
    "duplicate-seq": {"SEQ.INCREASING"},
    "no-flush": {"WRITER.EVENT_FLUSHED", "WRITER.CRASH_PREFIX"},
    "wrong-path": {"WRITER.PAYLOAD_ON_ANSWER", "WRITER.PAYLOAD_BEFORE_EVENT", "REF.FILE_EXISTS", "WRITER.BUNDLE_MATCHES"},
    "wrong-name": {"REF.NAMING"},
}


# 6 sampled crash points per faulty writer in the README's run; every point of the v2 script (5 to 8 s
# a writer) in the slow tier, which .ci/run runs
@pytest.mark.parametrize("mode", sorted(EXPECTED))
@pytest.mark.parametrize("dialect,crash", [("v1", 6), ("v2", 6), pytest.param("v2", "every", marks=pytest.mark.slow)])
def test_each_faulty_writer_is_caught_with_the_expected_ids(mode, dialect, crash):
    [result] = run([*FAULTY, mode], [lifecycle_script(dialect)], crash=crash)
    assert not result.ok
    assert result.error_ids() == EXPECTED[mode], [f.to_dict() for f in result.findings][:10]
    for f in result.findings:
        assert f.op is not None or f.message.startswith("... and"), f.to_dict()  # actionable: names the operation
        assert meaning(f.check)


def test_faulty_findings_name_the_operation_that_broke_the_rule():
    script = lifecycle_script("v2")
    [result] = run([*FAULTY, "seq-gap"], [script], crash="none")
    [step] = [f for f in result.findings if f.phase == "run"]
    assert step.check == "SEQ.NO_GAP" and step.seq == 4
    assert script.ops[step.op].cmd == "append_event" and script.ops[step.op].note == "seq 3"  # the third event
    assert sum(op.cmd == "append_event" for op in script.ops[: step.op + 1]) == 3

    [result] = run([*FAULTY, "event-before-payload"], [script], crash="none")
    first = next(f for f in result.findings if f.check == "WRITER.PAYLOAD_BEFORE_EVENT")
    assert first.op == 3 and "payloads/1.json does not exist" in first.message  # thread_started's metadata


def test_a_writer_that_writes_lines_nobody_asked_for_breaks_append_only():
    [result] = run([*FAULTY, "duplicate-line"], [lifecycle_script("v1")], crash="none")
    first = result.findings[0]
    assert first.check == "WRITER.APPEND_ONLY" and first.op == 1 and "2 lines" in first.message
    assert {"WRITER.APPEND_ONLY", "WRITER.BUNDLE_MATCHES", "SEQ.INCREASING"} <= result.error_ids()


def test_a_writer_whose_answers_lie_is_caught():
    [result] = run([*FAULTY, "lying-echo"], [lifecycle_script("v2")], crash=3)
    assert result.error_ids() == {"WRITER.ECHO_MISMATCH", "WRITER.CRASH_PREFIX"}
    assert "/wall_time_unix_ms" in result.findings[0].message


def test_non_canonical_bytes_are_warnings_only():
    [result] = run([*FAULTY, "non-canonical"], [lifecycle_script("v1")], crash=2)
    assert result.ok
    assert result.ids() == {"WRITER.CANONICAL_FORM"}
    assert all(f.severity is Severity.WARNING for f in result.findings)


def test_a_partial_last_line_after_a_crash_is_reported_not_fatal():
    """A writer that stalls in the middle of its second line, killed there."""
    b = ScriptBuilder("tiny", "v2", trace_id="t", rollout_id="r", root_thread_id="r")
    b.event({"type": "rollout_started", "trace_id": "t", "root_thread_id": "r"})
    b.event({"type": "thread_started", "thread_id": "r", "agent_path": "/root", "metadata_payload": None})
    b.event({"type": "thread_ended", "thread_id": "r", "status": "completed"})
    script = b.build()
    findings = run_crash(Config([*FAULTY, "stall-mid-line"]), script, 1, mode="inflight", delay=1.5)
    assert {f.check for f in findings} == {"LINE.TRUNCATED"}
    assert all(f.severity is Severity.WARNING for f in findings)
    assert findings[0].phase == "crash during op 2" and findings[0].op == 2


def test_crash_check_flags_lost_acknowledged_events(tmp_path):
    """check_crash_state on a hand-made state: one event answered, none on disk."""
    script = lifecycle_script("v2")
    f = Findings("crash after op 1")
    s = Session(Config(REFERENCE), script, tmp_path / "b", f)
    (tmp_path / "b" / "payloads").mkdir(parents=True)
    (tmp_path / "b" / "manifest.json").write_text(
        json.dumps({"schema_version": 2, "trace_id": "t", "rollout_id": "r", "root_thread_id": "r",
                    "started_at_unix_ms": 1, "raw_event_log": "trace.jsonl", "payloads_dir": "payloads"}, indent=2)
    )
    (tmp_path / "b" / "trace.jsonl").write_bytes(b"")
    s.answers.append({"seq": 1})
    s.sent_events.append((1, {"context": {}, "payload": {}}))
    check_crash_state(s, f, 1, None)
    [finding] = f.done()
    assert finding.check == "WRITER.CRASH_PREFIX" and "lost" in finding.message


# --- a writer in another language -------------------------------------------------------------


# 6 crash points a script in the README's run (a Node process each); every one (14 s) in the slow tier
@pytest.mark.skipif(NODE is None, reason="node is not installed")
@pytest.mark.parametrize("crash", [6, pytest.param("every", marks=pytest.mark.slow)])
def test_node_writer_is_driven_successfully(crash):
    scripts = [lifecycle_script("v1"), lifecycle_script("v2"), *load_scripts("corpus:codex-0.169.0/plain")]
    results = run([NODE, str(NODE_WRITER)], scripts, crash=crash)
    for r in results:
        assert r.skipped is None and r.findings == [], (r.script, [f.to_dict() for f in r.findings])
        assert len(r.crash_points) == (r.ops - 1 if crash == "every" else min(crash, r.ops - 1))
    assert results[0].implementation["language"] == "javascript"


# --- protocol failures --------------------------------------------------------------------------


def _fake_writer(tmp_path, body: str) -> list[str]:
    path = tmp_path / "fake.py"
    path.write_text("import sys, json\n" + body)
    return [PY, str(path)]


def test_a_writer_that_answers_garbage_breaks_the_protocol(tmp_path):
    argv = _fake_writer(tmp_path, "for line in sys.stdin:\n    print('hello', flush=True)\n")
    [result] = run(argv, [lifecycle_script("v2")], crash="none")
    assert [f.check for f in result.findings] == ["WRITER.PROTOCOL"]
    assert "not one JSON line" in result.findings[0].message


def test_a_writer_that_dies_is_reported_with_its_stderr(tmp_path):
    argv = _fake_writer(tmp_path, "sys.stderr.write('boom: cannot start\\n'); sys.exit(3)\n")
    [result] = run(argv, [lifecycle_script("v2")], crash="none")
    [f] = result.findings
    assert f.check == "WRITER.PROTOCOL" and "boom: cannot start" in f.message


def test_a_writer_that_hangs_times_out(tmp_path):
    argv = _fake_writer(tmp_path, "import time\ntime.sleep(60)\n")
    [result] = check_writer(Config(argv, start_timeout=0.5), [lifecycle_script("v2")], HarnessOptions(crash="none"))
    [f] = result.findings
    assert f.check == "WRITER.PROTOCOL" and "no answer within 0.5 s" in f.message


def test_a_writer_that_never_starts_costs_one_start_timeout_not_one_per_script(tmp_path):
    argv = _fake_writer(tmp_path, "import time\ntime.sleep(60)\n")
    first, *rest = check_writer(Config(argv, start_timeout=2), [lifecycle_script("v2")] * 4, HarnessOptions(crash="none"))
    assert [f.check for f in first.findings] == ["WRITER.PROTOCOL"] and not first.ok
    assert [r.skipped for r in rest] == [f"not run: the writer did not answer start in {first.script}"] * 3


def test_a_script_in_a_dialect_the_writer_does_not_announce_is_skipped(tmp_path):
    body = (
        "for line in sys.stdin:\n"
        "    r = json.loads(line)\n"
        "    print(json.dumps({'id': r['id'], 'ok': True, 'version': 1,\n"
        "        'implementation': {'name': 'v2 only', 'language': 'python'},\n"
        "        'capabilities': {'dialects': ['v2']}}), flush=True)\n"
    )
    [result] = run(_fake_writer(tmp_path, body), [lifecycle_script("v1")], crash="none")
    assert result.skipped == "the writer does not write dialect v1 (it announces v2)"
    assert not result.ok and result.findings == []


# --- scripts ------------------------------------------------------------------------------------------


def test_script_sources_and_round_trip(tmp_path):
    [s] = load_scripts("corpus:codex-0.164.0/plain")
    assert s.dialect == "v1" and s.events == 12 and s.payloads == 7
    assert [op.cmd for op in s.ops[:3]] == ["create", "append_event", "write_payload"]
    path = tmp_path / "s.json"
    path.write_text(s.to_json())
    [again] = load_scripts(f"file:{path}")
    assert again.ops == s.ops and again.name == s.name
    with pytest.raises(ScriptError, match="unknown script source"):
        load_scripts("nope:1")
    with pytest.raises(ScriptError, match="no corpus bundle"):
        load_scripts("corpus:codex-9.9.9")


@pytest.mark.parametrize("line", [b"this is not json", b"", b"[1, 2]"])
def test_a_trace_line_a_script_cannot_replay_is_a_usage_error_never_a_clean_pass(tmp_path, capsys, line):
    """bundle:DIR dropped a line that is not JSON (Bundle.events skips it) and the writer passed on the
    rest (exit 0). The script source cannot make the script: exit 2, naming the line."""
    from rollout_trace_kit.corpus import corpus_root

    bundle = tmp_path / "b"
    shutil.copytree(corpus_root() / "codex-0.169.0" / "plain", bundle)
    lines = (bundle / "trace.jsonl").read_bytes().split(b"\n")
    lines.insert(2, line)
    (bundle / "trace.jsonl").write_bytes(b"\n".join(lines))
    code = check_writer_main(["--cmd", " ".join(REFERENCE), "--script", f"bundle:{bundle}", "--crash", "none",
                              "--progress", "never"])
    err = capsys.readouterr().err
    assert code == 2 and "line 3 of trace.jsonl is not" in err, err


def test_a_handle_used_before_its_payload_is_a_script_error():
    b = ScriptBuilder("bad", "v2", trace_id="t", rollout_id="r", root_thread_id="r")
    b.event({"type": "thread_started", "thread_id": "r", "agent_path": "/root", "metadata_payload": {"$payload": 1}})
    with pytest.raises(ScriptError, match="before it is written"):
        b.build()


def test_crash_point_sampling():
    script = lifecycle_script("v2")
    last = len(script.ops) - 2
    assert crash_points(script, "every") == list(range(last + 1))
    assert crash_points(script, "none") == []
    assert crash_points(script, 3) == [0, last // 2 if last % 2 == 0 else round(last / 2), last]
    assert crash_points(script, 1000) == list(range(last + 1))


def test_json_equal_is_strict_about_booleans():
    assert json_equal({"a": [1, 2.0]}, {"a": [1.0, 2]})
    assert not json_equal(True, 1) and not json_equal(0, False)
    assert not json_equal({"a": None}, {})


def test_every_writer_check_has_a_meaning():
    for cid, check in WRITER_CHECKS.items():
        assert cid.startswith("WRITER.") and check.meaning.endswith(".")
    assert meaning("SEQ.NO_GAP")  # validator ids resolve too


# --- the command line ----------------------------------------------------------------------------------


def test_cli_exit_codes_and_json_report(capsys):
    assert check_writer_main(["--cmd", " ".join(REFERENCE), "--script", "lifecycle:v2", "--crash", "3",
                              "--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["ok"] is True and doc["scripts"][0]["crash_points"] == crash_points(lifecycle_script("v2"), 3)

    cmd = " ".join([*FAULTY, "duplicate-seq"])
    assert check_writer_main(["--cmd", cmd, "--script", "lifecycle:v1", "--crash", "none", "--format", "json"]) == 1
    doc = json.loads(capsys.readouterr().out)
    assert doc["ok"] is False and "SEQ.INCREASING" in doc["checks"]
    assert doc["scripts"][0]["findings"][0]["op"] is not None

    assert check_writer_main(["--cmd", cmd, "--script", "nope:x"]) == 2
    assert check_writer_main(["--cmd", "/nonexistent/writer", "--script", "lifecycle:v2"]) == 2
    assert check_writer_main(["--cmd", cmd, "--dialect", "v2", "--script", "lifecycle:v1"]) == 2
    capsys.readouterr()


def test_cli_human_report_names_ids_ops_and_meanings():
    proc = subprocess.run(
        [PY, "-m", "rollout_trace_kit.conformance.writer.cli", "--cmd", " ".join([*FAULTY, "event-before-payload"]),
         "--script", "lifecycle:v2", "--crash", "4"],
        capture_output=True, text=True, timeout=60,
    )
    assert proc.returncode == 1, proc.stderr
    out = proc.stdout
    assert "FAIL lifecycle:v2 [v2]" in out
    assert "WRITER.PAYLOAD_BEFORE_EVENT [run op 3]" in out
    assert "REF.FILE_EXISTS [" in out and "crash point(s): after op" in out
    assert f"WRITER.PAYLOAD_BEFORE_EVENT: {WRITER_CHECKS['WRITER.PAYLOAD_BEFORE_EVENT'].meaning}" in out


# --- generated scripts ------------------------------------------------------------------------------

def test_generated_source_is_deterministic_and_passes():
    [a] = load_scripts("gen:v2:120:3")
    [b] = load_scripts("gen:v2:120:3")
    assert a.ops == b.ops and a.events == 120
    [result] = run(REFERENCE, [a], crash=6, crash_mode="both")
    assert result.findings == [], [f.to_dict() for f in result.findings]
    with pytest.raises(ScriptError, match="unknown dialect"):
        load_scripts("gen:v9")


@pytest.mark.parametrize("dialect", ["v1", "v2"])
def test_reference_writer_passes_hypothesis_generated_lifecycles(dialect):
    """Scripts drawn from the generators' lifecycle-valid bundles (a few examples, 3 crash points each)."""

    @settings(max_examples=4, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(bundle=bundles(dialect=dialect, max_turns=2, max_threads=2))
    def check(bundle):
        script = script_from_bundle(bundle, f"hypothesis:{dialect}")
        [result] = run(REFERENCE, [script], crash=3)
        assert result.findings == [], [f.to_dict() for f in result.findings]

    check()


# --- hostile writers: the harness stays bounded, ends on time and reports with IDs -------------------

HOSTILE = [PY, str(ROOT / "tests" / "writers" / "hostile_writer.py")]
MAX_HARNESS_RSS_KB = 300 * 1024  # generous: the harness needs about 30 MB; the attacks used 1-3 GB before

# check-writer in a child process that reports its own peak RSS (VmHWM), the writers' not included
_DRIVER = """
import json, sys
from rollout_trace_kit.conformance.writer.cli import main
rc = main(sys.argv[1:])
peak = next(l for l in open('/proc/self/status') if l.startswith('VmHWM'))
print(json.dumps({'rc': rc, 'peak_kb': int(peak.split()[1])}), file=sys.stderr)
"""


def _check_writer_child(tmp_path, argv, *args, timeout=300):
    report = tmp_path / "report.json"
    proc = subprocess.run(
        [PY, "-c", _DRIVER, "--cmd", " ".join(argv), "--format", "json", "-o", str(report), *args],
        capture_output=True, text=True, timeout=timeout,  # a hang fails the test here
    )
    status = json.loads(proc.stderr.strip().splitlines()[-1])
    return status, json.loads(report.read_text())


HOSTILE_EXPECTED = {
    # mode: (the WRITER.* error ids, exactly; validator ids among the errors; a phrase of the first finding)
    "fifo-log": ({"WRITER.CRASH_PREFIX"}, {"BUNDLE.TRACE_PRESENT"}, "trace.jsonl is a FIFO"),
    "huge-log": ({"WRITER.APPEND_ONLY", "WRITER.CRASH_PREFIX"}, {"SEQ.NO_GAP"}, "trace.jsonl is larger than"),
    "fifo-payload": (
        {"WRITER.PAYLOAD_ON_ANSWER", "WRITER.PAYLOAD_BEFORE_EVENT", "WRITER.BUNDLE_MATCHES"},
        {"REF.REGULAR_FILE"},
        "payloads/1.json is a FIFO",
    ),
    "manifest-dev-zero": (
        {"WRITER.MANIFEST_MATCHES", "WRITER.CRASH_PREFIX"},
        {"BUNDLE.CONFINED"},  # a link out of the bundle: never read
        "manifest.json is a device",
    ),
    "deep-answer": ({"WRITER.EVENT_MATCHES"}, {"LINE.NESTING"}, "/payload/deep: unexpected key"),
    "huge-answer": ({"WRITER.PROTOCOL"}, set(), "longer than the harness's cap"),
    "stderr-flood": ({"WRITER.PROTOCOL"}, set(), "exited (status 3) without answering; its stderr ends: [536870912 bytes"),
}


@pytest.mark.parametrize("mode", sorted(HOSTILE_EXPECTED))
def test_hostile_writers_get_findings_in_bounded_memory_and_time(tmp_path, mode):
    """FIFOs for trace.jsonl or a payload, /dev/zero for manifest.json, 256 MiB of NULs in the log,
    JSON nested 1,000 deep, a 1 GiB answer line, 512 MiB of stderr: findings with IDs, no hang,
    no traceback, no gigabytes."""
    status, doc = _check_writer_child(tmp_path, [*HOSTILE, mode], "--script", "lifecycle:v2", "--crash", "3", "--timeout", "60")
    assert status["rc"] == 1
    assert status["peak_kb"] < MAX_HARNESS_RSS_KB, status
    [script] = doc["scripts"]
    writer_ids, validator_ids, phrase = HOSTILE_EXPECTED[mode]
    errors = {f["check"] for f in script["findings"] if f["severity"] == "error"}
    assert {i for i in errors if i.startswith("WRITER.")} == writer_ids, script["findings"]
    assert validator_ids <= errors, script["findings"]
    assert phrase in script["findings"][0]["message"]
    assert all(len(f["message"]) <= 1000 for f in script["findings"])
    # where the kit declined to judge (BUNDLE.CONFINED here), the writer is not blamed for it
    assert all("the kit declined to judge this" in f["message"] for f in script["findings"] if declines(f["check"]))


def _pids_alive(pids: list[int], marker: str) -> list[int]:
    alive = []
    for pid in pids:
        try:
            if marker.encode() in Path(f"/proc/{pid}/cmdline").read_bytes():  # a zombie's is empty
                alive.append(pid)
        except OSError:
            pass
    return alive


def test_the_writers_process_group_is_killed_after_every_session(tmp_path):
    pidfile = tmp_path / f"children-{uuid.uuid4().hex}"
    [result] = run([*HOSTILE, "leave-child", str(pidfile)], [lifecycle_script("v2")], crash=3)
    assert result.findings == [], [f.to_dict() for f in result.findings]  # otherwise a correct writer
    pids = [int(p) for p in pidfile.read_text().split()]
    assert len(pids) == 4  # the run and three crash points each started one child
    deadline = time.monotonic() + 10
    while _pids_alive(pids, str(pidfile)) and time.monotonic() < deadline:
        time.sleep(0.1)  # SIGKILL is delivered asynchronously
    assert _pids_alive(pids, str(pidfile)) == []


def test_writer_text_is_escaped_in_every_report_format(tmp_path):
    """Terminal escapes, BEL, bidi overrides and '::workflow-command::' lines from the writer."""
    argv = " ".join([*HOSTILE, "escape-codes"])
    human = subprocess.run(
        [PY, "-m", "rollout_trace_kit.conformance.writer.cli", "--cmd", argv, "--script", "lifecycle:v2", "--crash", "none"],
        capture_output=True, text=True, timeout=60,
    )
    assert human.returncode == 1, human.stderr
    for raw in ("\x1b", "\x07", "\u202e"):
        assert raw not in human.stdout
    assert not any(line.startswith("::") for line in human.stdout.splitlines())
    assert "WRITER.OP_FAILED [run op 0]" in human.stdout and "\\x1b[2J" in human.stdout and "\\n::error" in human.stdout

    out = subprocess.run(
        [PY, "-m", "rollout_trace_kit.conformance.writer.cli", "--cmd", argv, "--script", "lifecycle:v2", "--crash", "none",
         "--format", "json"],
        capture_output=True, timeout=60,
    ).stdout
    assert out.isascii()
    doc = json.loads(out)
    [finding] = doc["scripts"][0]["findings"]
    assert finding["check"] == "WRITER.OP_FAILED" and "\x1b" not in finding["message"] and "\\x1b" in finding["message"]


@pytest.mark.parametrize(
    "manifest",
    [
        "[]",
        '{"schema_version": 2, "rollout_id": "r", "root_thread_id": "r", "started_at_unix_ms": 1, '
        '"raw_event_log": "trace.jsonl", "payloads_dir": "payloads"}',
        "null",
        '{"schema_version": 2, "trace_id": 7, "rollout_id": "r", "root_thread_id": "r"}',
    ],
)
def test_a_bundle_that_cannot_be_replayed_is_a_one_line_usage_error(tmp_path, capsys, manifest):
    bundle = tmp_path / "d"
    (bundle / "payloads").mkdir(parents=True)
    (bundle / "manifest.json").write_text(manifest)
    (bundle / "trace.jsonl").write_text("")
    assert check_writer_main(["--cmd", " ".join(REFERENCE), "--script", f"bundle:{bundle}"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("rollout-trace check-writer: bundle:") and "Traceback" not in err
    assert "manifest.json" in err


@pytest.mark.parametrize("output", ["/nonexistent/x", "{tmp}"])
def test_an_unwritable_report_path_is_refused_before_the_writer_runs(tmp_path, capsys, output):
    output = output.format(tmp=tmp_path)
    pidfile = tmp_path / "children"
    argv = " ".join([*HOSTILE, "leave-child", str(pidfile)])
    assert check_writer_main(["--cmd", argv, "--script", "lifecycle:v2", "--crash", "none", "-o", output]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"--output {output}" in err and "Traceback" not in err
    assert not pidfile.exists()  # refused before any writer started


def test_a_writer_that_stops_reading_its_input_times_out_the_request():
    """A 1 MiB request to a writer that no longer reads: the pipe fills, the write gives up at the timeout."""
    b = ScriptBuilder("big", "v2", trace_id="t", rollout_id="r", root_thread_id="r")
    body = b.payload("protocol_event", {"text": "x" * (1 << 20)})
    b.event({"type": "rollout_started", "trace_id": "t", "root_thread_id": "r"})
    b.event({"type": "thread_started", "thread_id": "r", "agent_path": "/root", "metadata_payload": body})
    [result] = check_writer(Config([*HOSTILE, "deaf"], timeout=3.0), [b.build()], HarnessOptions(crash="none"))
    [f] = result.findings
    assert f.check == "WRITER.PROTOCOL" and f.op == 1 and "did not read the request within 3 s" in f.message


@pytest.mark.parametrize("kind", ["fifo", "device"])
def test_a_script_file_that_is_not_a_regular_file_is_refused_not_read(tmp_path, capsys, kind):
    path = tmp_path / "script.json"
    if kind == "fifo":
        os.mkfifo(path)  # reading it would block forever
    else:
        path.symlink_to("/dev/zero")  # reading it would never end
    assert check_writer_main(["--cmd", " ".join(REFERENCE), "--script", f"file:{path}"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and ("a FIFO" if kind == "fifo" else "a device") in err


# --- v3: payload records in zstd shards ------------------------------------------------------------


def test_reference_writer_replays_the_v3_corpus():
    scripts = load_scripts("corpus:codex-0.171.0")
    assert len(scripts) == 12
    results = run(REFERENCE, scripts, crash="none")
    assert [(r.script, r.findings) for r in results] == [(s.name, []) for s in scripts]


# 12 crash points in the README's run; every one (11 s) in the slow tier
@pytest.mark.parametrize("crash", [12, pytest.param("every", marks=pytest.mark.slow)])
def test_v3_crash_images_after_and_during_every_operation_are_replayable(crash):
    """Killed after each operation and in the middle of each (a record's zstd block half
    written, the shard's frame open): the reducer profile accepts every image, and the writer
    profile states what survived as a STORE.FRAME_TRUNCATED warning. The shard is sealed
    before recording_completed, so no image holds a completed recording with an open frame."""
    [script] = load_scripts("corpus:codex-0.171.0/basic")
    [result] = run(REFERENCE, [script], crash=crash, crash_mode="both")
    assert len(result.crash_points) == (len(script.ops) - 1 if crash == "every" else crash)
    assert [f.to_dict() for f in result.findings if f.severity is Severity.ERROR] == []
    cut = [f for f in result.findings if f.check == "STORE.FRAME_TRUNCATED"]
    assert cut and all(f.severity is Severity.WARNING and "complete record(s) survive" in f.message for f in cut)
    assert {f.check for f in result.findings} == {"STORE.FRAME_TRUNCATED"}


def test_a_ref_shaped_for_another_dialect_is_a_finding_not_an_assertion():
    # The protocol schema takes a ref shaped for any dialect; the faulty writer answers a v3
    # write_payload with v1's {"path": ...} and no shard. That ended in an AssertionError.
    [result] = run([*FAULTY, "non-canonical"], [lifecycle_script("v3")], crash="none")
    first = next(f for f in result.findings if f.check == "WRITER.REF_MATCHES")
    assert first.op == 2 and "the ref has no shard locating a v3 payload" in first.message
    assert not result.ok


def _check_writer_alone(*args: str) -> tuple[int, str, int]:
    """check-writer run in a fresh process: (exit status, stderr, KiB its peak memory grew during the
    run). A process of its own: ``ru_maxrss`` is a high-water mark, which an earlier test of this one
    may already have raised past what the run needs."""
    code = ("import resource, sys\n"
            "from rollout_trace_kit.conformance.writer.cli import main\n"
            "before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
            "rc = main(sys.argv[1:])\n"
            "print(rc, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before)\n")
    proc = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=600)
    rc, grew = proc.stdout.split()[-2:]
    return int(rc), proc.stderr, int(grew)


def test_a_bundle_too_large_to_replay_is_refused_unread(tmp_path):
    # `--script bundle:DIR` read a sparse 3 GB log into 6.3 GB of memory; the bundle's files
    # together are now capped (a file past the cap is not read at all).
    import shutil

    from rollout_trace_kit.conformance.writer import scripts

    from .conftest import written_corpus_bundles

    bundle = tmp_path / "d"
    shutil.copytree(written_corpus_bundles()[0], bundle)
    with open(bundle / "trace.jsonl", "ab") as f:
        f.truncate(3 << 30)  # sparse: no disk used
    rc, err, grew = _check_writer_alone("--cmd", " ".join(REFERENCE), "--script", f"bundle:{bundle}")
    assert rc == 2
    assert err.count("\n") == 1 and "Traceback" not in err
    assert f"more than {scripts.MAX_BUNDLE_BYTES} bytes" in err, err
    assert grew < (512 << 10), f"{grew} KiB more at peak"  # KiB: far below the 3 GiB it used to read


def test_a_line_past_the_line_cap_is_refused_before_it_is_read_whole(tmp_path):
    # one 200 MB line (within the bundle cap) was read whole, split, parsed and sent: 628 MB at peak
    # (`/usr/bin/time -v rollout-trace check-writer --cmd rollout-trace-writer --script bundle:B --crash none`,
    # before the fix); the validator's line cap (64 MiB) now applies while the log is read, a line at a time
    import shutil

    from .conftest import written_corpus_bundles

    bundle = tmp_path / "d"
    shutil.copytree(written_corpus_bundles()[0], bundle)
    size = (bundle / "trace.jsonl").stat().st_size
    with open(bundle / "trace.jsonl", "ab") as f:
        f.truncate(size + 200_000_000)  # sparse: a 200 MB line of NULs, no disk used
    rc, err, grew = _check_writer_alone("--cmd", " ".join(REFERENCE), "--script", f"bundle:{bundle}")
    assert rc == 2
    assert err.count("\n") == 1 and "Traceback" not in err
    assert "is longer than 67108864 bytes" in err and "LINE.TOO_LONG" in err, err
    assert grew < (160 << 10), f"{grew} KiB more at peak"  # KiB: the line cap and a copy, not 3x the line


def test_bundle_read_keeps_lines_and_a_partial_last_line_as_before(tmp_path):
    from rollout_trace_kit.bundle import Bundle, LineTooLong

    d = tmp_path / "b"
    d.mkdir()
    for data, lines, trailing in [(b"", [], True), (b"\n", [b""], True), (b"a\nbb\n", [b"a", b"bb"], True),
                                  (b"a\nbb", [b"a", b"bb"], False), (b"a\n\nb\r\n", [b"a", b"", b"b\r"], True)]:
        (d / "trace.jsonl").write_bytes(data)
        got = Bundle.read(d, max_line=2)
        assert (got.lines, got.trailing_newline, got.has_trace) == (lines, trailing, True), data
    (d / "trace.jsonl").write_bytes(b"a\nbbb\n")
    with pytest.raises(LineTooLong, match="line 2 is longer than 2 bytes"):
        Bundle.read(d, max_line=2)
    assert Bundle.read(d).lines == [b"a", b"bbb"]  # no line cap unless asked


def test_a_v3_bundle_whose_shards_decompress_past_the_cap_is_refused(monkeypatch):
    from rollout_trace_kit.conformance.writer import scripts

    from .conftest import corpus_bundles

    bundle = corpus_bundles("0.171.0")[0]
    on_disk = sum(p.stat().st_size for p in bundle.rglob("*") if p.is_file())
    monkeypatch.setattr(scripts, "MAX_BUNDLE_BYTES", on_disk + 1)  # read whole, but not decompressed whole
    with pytest.raises(scripts.ScriptError, match="shards decompress to more than"):
        scripts.script_from_bundle(bundle)


def test_a_writers_traceback_is_printed_on_its_own_lines_each_escaped(tmp_path):
    """Issue 19: the traceback came out on one line with literal \\n; each of its lines is now a
    line of the report, escaped on its own and behind a bar (so none starts a workflow command)."""
    script = tmp_path / "w.py"
    script.write_text("import sys\nprint('::error::forged\\x1b[31m', file=sys.stderr)\nraise ValueError('boom')\n")
    out = subprocess.run([sys.executable, "-m", "rollout_trace_kit", "check-writer", "--cmd", f"{sys.executable} {script}",
                          "--script", "lifecycle:v2", "--crash", "0", "--color", "never"],
                         capture_output=True, text=True, timeout=120)
    lines = out.stdout.splitlines()
    assert out.returncode == 1, out.stderr
    assert "      | Traceback (most recent call last):" in lines and "      | ValueError: boom" in lines, out.stdout
    # escaped: a "::" after whitespace (the runner trims lines) is shown as "\\x3a:"
    assert any(l.endswith("its stderr ends: \\x3a:error::forged\\x1b[31m") for l in lines)
    assert not any(l.startswith("::") for l in lines)
    assert "\\nValueError" not in out.stdout


def _replayable_copy(tmp_path) -> Path:
    from rollout_trace_kit.corpus import corpus_root

    bundle = tmp_path / "b"
    shutil.copytree(corpus_root() / "codex-0.169.0" / "plain", bundle)
    for p in [bundle, *bundle.rglob("*")]:
        p.chmod(p.stat().st_mode | 0o200)  # the corpus is read-only; the copy is edited
    return bundle


_IN_PLACE = {  # what a hostile bundle holds instead of a file -> what the message says it is
    "fifo": "is a FIFO",
    "loop": "is a symbolic link loop (ELOOP)",
    "dangling": "is a dangling symbolic link",
    "directory": "is a directory",
    "device": "is a device",
    "unreadable": "is unreadable (Permission denied)",
    "missing": "is missing",
}


def _put_in_place(path: Path, kind: str) -> None:
    path.unlink()
    if kind == "fifo":
        os.mkfifo(path)  # opened blocking, the read would never return
    elif kind == "loop":
        path.symlink_to(path.name)  # ln -s trace.jsonl trace.jsonl
    elif kind == "dangling":
        path.symlink_to("nowhere")
    elif kind == "directory":
        path.mkdir()
    elif kind == "device":
        path.symlink_to("/dev/zero")  # read whole, it never ends
    elif kind == "unreadable":
        path.write_bytes(b"{}")
        path.chmod(0)


@pytest.mark.parametrize("name", ["trace.jsonl", "manifest.json", "payloads/3.json"])
@pytest.mark.parametrize("kind", list(_IN_PLACE))
def test_a_replayed_bundle_file_that_cannot_be_read_is_a_usage_error_naming_it(tmp_path, capsys, kind, name):
    """bundle:DIR with a FIFO or a symlink loop for trace.jsonl read it as empty: the writer was blamed
    (ORDER.TERMINAL_PRESENT, exit 1) for the events the source never sent. Any file the replay cannot
    read is now a usage error (exit 2) naming the file and why, in the words validate uses (files.refused)."""
    if kind == "unreadable" and os.geteuid() == 0:
        pytest.skip("root reads a file of mode 000: no unreadable file can be made")
    bundle = _replayable_copy(tmp_path)
    _put_in_place(bundle / name, kind)
    code = check_writer_main(["--cmd", " ".join(REFERENCE), "--script", f"bundle:{bundle}", "--crash", "none",
                              "--progress", "never"])
    err = capsys.readouterr().err
    assert code == 2, err
    assert err.count("\n") == 1 and "Traceback" not in err
    missing = {"manifest.json": "not a bundle directory (no manifest.json)",  # the messages they had
               "payloads/3.json": "points at payloads/3.json, which the bundle does not hold"}
    assert (missing[name] if kind == "missing" and name in missing else f"{name} {_IN_PLACE[kind]}") in err, err


def test_a_replayed_bundle_that_is_a_symlink_loop_says_so(tmp_path, capsys):
    (tmp_path / "b").symlink_to("b")
    assert check_writer_main(["--cmd", " ".join(REFERENCE), "--script", f"bundle:{tmp_path / 'b'}"]) == 2
    assert "a symbolic link loop (ELOOP)" in capsys.readouterr().err


@pytest.mark.parametrize("option", ["--keep", "--output"])
def test_a_symlink_loop_given_to_write_into_is_named_a_loop(tmp_path, capsys, option):
    """--keep LOOP said "File exists" (mkdir's word for a loop) and -o LOOP "Too many levels of symbolic
    links"; each now says it is a loop, in validate's words (files.LOOP)."""
    (tmp_path / "l").symlink_to("l")
    argv = ["--cmd", " ".join(REFERENCE), "--script", "lifecycle:v2", "--crash", "none", option, str(tmp_path / "l")]
    assert check_writer_main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"{tmp_path / 'l'}: a symbolic link loop (ELOOP)" in err, err


@pytest.mark.skipif(NODE is None, reason="node is not installed")
def test_a_bundle_holding_numbers_beyond_f64_is_replayed_as_validate_reads_it(tmp_path, capsys):
    """bundle:DIR refused a payload holding 1e400 or an integer of 4,301 digits ("number is infinity",
    exit 2) that validate and the reducers of 0.143.0 on read. The replay reads bodies and lines as the
    validator does (refs.loads_by_size) and sends such numbers as JSON literals (wide.dumps): the node
    writer, which writes body_json as it gets it, passes at every crash point."""
    bundle = _replayable_copy(tmp_path)
    body = bundle / "payloads" / "1.json"
    wide = {"big": "1e400", "neg": "-1e400", "digits": "7" * 4301, "u128": str(2**128 - 1)}
    text = body.read_text()
    body.write_text("{" + "".join(f'\n  "{k}": {v},' for k, v in wide.items()) + text[1:])
    from rollout_trace_kit.validate import Options, Profile, validate_bundle

    assert validate_bundle(bundle, Options(profile=Profile.WRITER)).findings == []
    [script] = load_scripts(f"bundle:{bundle}")
    sent = next(op for op in script.ops if op.cmd == "write_payload").args["body"]
    assert sent["big"] == float("inf") and sent["neg"] == -float("inf") and sent["u128"] == 2**128 - 1
    assert sent["digits"] > 10**308  # the validator's stand-in: a number as far beyond f64
    saved = tmp_path / "script.json"
    saved.write_text(script.to_json())  # JSON: 1e400, never Python's Infinity; file: reads it as bundle: did
    assert "Infinity" not in saved.read_text() and '"big": 1e400' in saved.read_text()
    [again] = load_scripts(f"file:{saved}")
    assert next(op for op in again.ops if op.cmd == "write_payload").args["body"] == sent
    keep = tmp_path / "keep"
    code = check_writer_main(["--cmd", f"{NODE} {NODE_WRITER}", "--script", f"bundle:{bundle}", "--crash", "every",
                              "--progress", "never", "--keep", str(keep), "-q"])
    assert code == 0, capsys.readouterr()
    written = next(keep.rglob("payloads/1.json")).read_text()
    assert '"big": 1e400' in written and '"neg": -1e400' in written and f'"u128": {2**128 - 1}' in written


def test_a_replay_refuses_only_the_unreadable_files_it_needs(tmp_path, capsys):
    """A FIFO under payloads/ that no ref names and no ordinal makes an orphan is not the replay's
    business (validate does not read it either); one a ref names under another name is named."""
    bundle = _replayable_copy(tmp_path)
    os.mkfifo(bundle / "payloads" / "notes")
    (bundle / "payloads" / "sub").mkdir()
    [script] = load_scripts(f"bundle:{bundle}")
    assert script.payloads == 7
    trace = bundle / "trace.jsonl"
    trace.write_text(trace.read_text().replace('"payloads/3.json"', '"payloads/notes"'))
    with pytest.raises(ScriptError, match=r"points at payloads/notes, which is a FIFO"):
        load_scripts(f"bundle:{bundle}")
