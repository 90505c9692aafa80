"""fuzz-reducer and replay are hard to misconfigure, explain their runs, and keep every child
and pipe bounded (issues 12 and 13)."""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import stat
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from rollout_trace_kit.conformance.command import TAIL, ReducerCommand
from rollout_trace_kit.conformance.reducer.cases import eligible_invariants, plan_cases

from ._helpers import PY, REDUCERS, kit_reducer, process_gone, read_until_closed

RTK = [sys.executable, "-m", "rollout_trace_kit"]


def rtk(*args, cwd, timeout=600, **kw):
    return subprocess.run([*RTK, *args], capture_output=True, text=True, cwd=cwd, timeout=timeout, **kw)


# -- the command runner -----------------------------------------------------------------------


@pytest.mark.parametrize("status", [0, 1])
def test_a_background_child_does_not_outlive_its_case(tmp_path, status):
    marker = f"317.{uuid.uuid4().int % 10**9}"
    cmd = ReducerCommand(f"{PY} {REDUCERS / 'background_child.py'} {marker} {status} {{bundle}}", timeout=20)
    outcome = cmd.run(tmp_path, tmp_path / "work")
    # the child (sleep 317 s) holds the pipes: killing the group frees them, else the run would time out
    assert outcome.returncode == status and not outcome.timed_out
    assert process_gone(marker)


def test_a_shell_background_child_does_not_outlive_its_case(tmp_path):
    marker = f"317.{uuid.uuid4().int % 10**9}"
    cmd = ReducerCommand(f"sh -c '(sleep {marker} &); exit 1'", timeout=20)
    outcome = cmd.run(tmp_path, tmp_path / "work")
    assert outcome.returncode == 1
    assert process_gone(marker)


def test_what_a_reducer_prints_is_kept_to_a_bounded_tail(tmp_path):
    outcome = ReducerCommand(f"{PY} {REDUCERS / 'flood.py'} 8000000", timeout=60).run(tmp_path, tmp_path / "w")
    assert outcome.returncode == 0
    assert len(outcome.stderr_tail.encode()) <= TAIL and outcome.stderr_tail.endswith("LAST LINE\n")
    assert len(outcome.stdout_tail.encode()) <= TAIL


def test_the_reducer_runs_in_the_callers_directory_with_absolute_paths(tmp_path):
    (tmp_path / "toy.py").write_text(
        "import json, os, sys\n"
        "b, o = sys.argv[1], sys.argv[2]\n"
        "assert os.path.isabs(b) and os.path.isabs(o), (b, o)\n"
        "open(o, 'w').write('{}')\n"
        "sys.exit(0 if os.path.isfile(os.path.join(b, 'manifest.json')) else 1)\n"
    )
    out = rtk("fuzz-reducer", "--cmd", f"{PY} toy.py {{bundle}} {{output}}", "--examples", "4", "--seed", "1",
              "--invariant", "BUNDLE.MANIFEST_PRESENT", "--format", "json", "--no-shrink", cwd=tmp_path)
    doc = json.loads(out.stdout)
    assert doc["invariants"]["VALID"]["accepts"] == doc["invariants"]["VALID"]["cases"] > 0, out.stderr
    assert doc["invariants"]["BUNDLE.MANIFEST_PRESENT"]["rejects"] > 0


# -- misconfiguration ends in exit 2 with a message ------------------------------------------


@pytest.mark.parametrize(
    "cmd, message",
    [
        ("no-such-reducer-xyz {bundle}", "preflight: the reducer cannot start"),
        (f"{PY} -c 'import os, signal; os.kill(os.getpid(), signal.SIGSEGV)' {{bundle}}", "preflight: the reducer crashed"),
        (f"{PY} -c 'import sys; print(\"no thanks\", file=sys.stderr); sys.exit(1)' {{bundle}}",
         "preflight: the reducer rejected on the shipped valid bundle codex-0.169.0/tools (exit 1); it printed:\n  no thanks"),
        (f"{PY} -c 'import sys; print(\"no thanks\", file=sys.stderr); sys.exit(4)' {{bundle}}",
         "preflight: the reducer crashed on the shipped valid bundle codex-0.169.0/tools: exit 4, outside the contract "
         "(0 accepts, 1 rejects): no thanks"),
        (f"{PY} -c 'import time; time.sleep(600)' {{bundle}}", "preflight: the reducer ran past --timeout 1 s"),
        (f"{PY} -c pass {{bundle}} {{output}}", "wrote no JSON to {output}"),
    ],
)
def test_a_reducer_that_cannot_handle_a_real_bundle_stops_the_run(tmp_path, cmd, message):
    # a run that waited for the sleeping reducer would outlast rtk's timeout (TimeoutExpired)
    out = rtk("fuzz-reducer", "--cmd", cmd, "--examples", "50", "--timeout", "1", cwd=tmp_path, timeout=120)
    assert out.returncode == 2 and message in out.stderr, out.stderr
    assert "Traceback" not in out.stderr
    assert not (tmp_path / "reducer-fuzz-failures").exists()


@pytest.mark.parametrize(
    "args, message",
    [
        (["--examples", "0"], "--examples must be >= 1"),
        (["--examples", "-3"], "--examples must be >= 1"),
        (["--jobs", "0"], "--jobs/-j: expected a whole number >= 1 or auto, not 0"),
        (["--timeout", "0"], "--timeout: expected a number of seconds > 0"),
        (["-o", "/nonexistent/x"], "--output /nonexistent/x: directory /nonexistent does not exist"),
        (["--shard", "2/4"], "--shard needs --seed"),
        (["--shard", "5/4", "--seed", "1"], "I must be between 1 and N"),
        (["--shard", "x", "--seed", "1"], "expected I/N"),
        (["--oracle", "sideways"], "--oracle 'sideways'"),
        (["--normalize", "nope"], "--normalize 'nope'"),
        (["--skip-transform", "nope"], "known transforms"),
        (["--update"], "--update needs --known"),
        (["--invariant", "NO.SUCH"], "unknown invariant"),
    ],
)
def test_usage_errors_exit_2_before_any_case_runs(tmp_path, args, message):
    out = rtk("fuzz-reducer", "--cmd", kit_reducer(), *args, cwd=tmp_path, timeout=60)
    assert out.returncode == 2 and message in out.stderr, out.stderr
    assert "Traceback" not in out.stderr and "seed" not in out.stdout


def test_fuzz_reducer_runs_without_hypothesis(tmp_path):
    """The campaign builds bundles with build_bundle and the corruption operators: Hypothesis, which
    only the strategies need, may be missing (it was a dependency error, exit 2, before the
    strategies were imported lazily)."""
    code = ("import sys; sys.modules['hypothesis'] = None\n"
            "from rollout_trace_kit.cli import main\n"
            f"sys.exit(main(['fuzz-reducer', '--cmd', {kit_reducer()!r}, '--examples', '2', '--seed', '1']))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert out.returncode == 0, out.stderr
    assert "2 cases in " in out.stdout and "Traceback" not in out.stderr


# -- a run that explains itself ------------------------------------------------------------------


def test_the_seed_is_random_by_default_printed_and_repeatable(tmp_path):
    seeds = []
    for _ in range(2):
        out = rtk("fuzz-reducer", "--cmd", kit_reducer(), "--examples", "2", "--format", "json", "--jobs", "1", cwd=tmp_path)
        seeds.append(json.loads(out.stdout)["seed"])
        assert f"seed {seeds[-1]} (repeat with --seed {seeds[-1]})" in out.stderr
    assert seeds[0] != seeds[1]


def test_any_examples_count_spreads_across_rules_and_the_rest_is_listed():
    ids = eligible_invariants("v2")
    for seed in (0, 1, 2):
        plan = plan_cases("v2", 12, seed)
        rules = [s.invariant for s in plan if s.invariant != "VALID"]
        assert len(set(rules)) == len(rules) == 12 - sum(s.invariant == "VALID" for s in plan)
        assert plan[0].invariant == "VALID" or "VALID" in [s.invariant for s in plan]
    # every rule once before any twice, and the order depends on the seed
    plan = [s.invariant for s in plan_cases("v2", len(ids) * 2, 5) if s.invariant != "VALID"]
    assert sorted(set(plan[: len(ids)])) == ids
    assert [s.invariant for s in plan_cases("v2", 12, 0)] != [s.invariant for s in plan_cases("v2", 12, 1)]


def test_report_lists_rules_never_exercised_and_a_console_summary_goes_with_o(tmp_path):
    out = rtk("fuzz-reducer", "--cmd", kit_reducer(), "--examples", "5", "--seed", "2", "--format", "json",
              "-o", "report.json", cwd=tmp_path)
    doc = json.loads((tmp_path / "report.json").read_text())
    assert out.returncode == 0 and out.stdout == ""
    exercised = set(doc["invariants"]) - {"VALID"}
    assert set(doc["never_exercised"]) == set(doc["eligible"]) - exercised and len(doc["never_exercised"]) > 50
    assert "5 cases in" in out.stderr and "never exercised" in out.stderr


def test_a_failure_shows_the_kits_finding_and_reports_hold_no_machine_paths(tmp_path):
    forget = kit_reducer("--forget", "SEQ.NO_GAP")
    out = rtk("fuzz-reducer", "--cmd", forget, "--examples", "3", "--seed", "1", "--invariant", "SEQ.NO_GAP",
              "--no-shrink", "-o", "r.json", "--format", "json", cwd=tmp_path)
    assert out.returncode == 1
    text = (tmp_path / "r.json").read_text()
    doc = json.loads(text)
    assert str(tmp_path) not in text and os.path.expanduser("~") + "/" not in text
    f = doc["failures"][0]
    assert f["repro"] == f"reducer-fuzz-failures/{f['id']}"
    # the console (stderr, as the report went to a file) has the finding and an absolute replay
    assert f"fail {f['id']}: accepted a bundle breaking SEQ.NO_GAP" in out.stderr
    assert "kit finding: SEQ.NO_GAP [reducer] trace.jsonl, line " in out.stderr and ", seq " in out.stderr
    assert f"replay: rollout-trace replay {tmp_path / 'reducer-fuzz-failures' / f['id']} --cmd " in out.stderr


def test_github_format_annotates_each_failure_escaped(tmp_path):
    out = rtk("fuzz-reducer", "--cmd", kit_reducer("--forget", "SEQ.NO_GAP"), "--examples", "3", "--seed", "1",
              "--invariant", "SEQ.NO_GAP", "--no-shrink", "--format", "github", cwd=tmp_path)
    lines = out.stdout.splitlines()
    errors = [l for l in lines if l.startswith("::error title=reducer fail%3A SEQ.NO_GAP::")]
    assert out.returncode == 1 and len(errors) == 2
    assert all("%0A    kit finding: SEQ.NO_GAP" in e for e in errors)
    assert lines[-1].startswith("::notice title=rollout-trace fuzz-reducer::3 cases in")
    assert "3 cases in" in out.stderr  # console summary beside the annotations


# -- shards and merge ----------------------------------------------------------------------------------


def test_shards_split_a_campaign_and_merge_puts_it_back_together(tmp_path):
    cmd = kit_reducer("--forget", "SEQ.NO_GAP")
    common = ["fuzz-reducer", "--cmd", cmd, "--examples", "9", "--seed", "4", "--no-shrink", "--format", "json",
              "--invariant", "SEQ.NO_GAP", "--invariant", "THREAD.UNKNOWN", "--invariant", "TURN.UNKNOWN"]
    whole = json.loads(rtk(*common, cwd=tmp_path).stdout)
    for i in (1, 2, 3):
        rtk(*common, "--shard", f"{i}/3", "-o", f"shard-{i}.json", cwd=tmp_path)
    sizes = [json.loads((tmp_path / f"shard-{i}.json").read_text())["cases"] for i in (1, 2, 3)]
    assert sizes == [3, 3, 3]
    out = rtk("fuzz-reducer", "merge", "shard-1.json", "shard-2.json", "shard-3.json", "--format", "json", cwd=tmp_path)
    merged = json.loads(out.stdout)
    assert out.returncode == 1 and merged["invariants"] == whole["invariants"]
    assert merged["new_failures"] == whole["new_failures"] == ["SEQ.NO_GAP"]
    assert sorted(f["id"] for f in merged["failures"]) == sorted(f["id"] for f in whole["failures"])
    # the campaign's model coverage: what no shard exercised is missing (it was absent from a merge)
    assert merged["model_coverage"] == whole["model_coverage"] and whole["model_coverage"]["variants"]["covered"] > 0
    # one known-results check over the whole campaign
    (tmp_path / "known.json").write_text(json.dumps({"format": "rollout-trace-kit/known-results/1", "entries": {
        "SEQ.NO_GAP": {"behaviour": "accepts", "reason": "test"}}}))
    out = rtk("fuzz-reducer", "merge", "shard-1.json", "shard-2.json", "shard-3.json", "--known", "known.json",
              cwd=tmp_path)
    assert out.returncode == 0 and "1 known, 0 new" in out.stdout
    bad = rtk("fuzz-reducer", "merge", "shard-1.json", "shard-1.json", cwd=tmp_path)
    assert bad.returncode == 2 and "the same shard given twice" in bad.stderr
    (tmp_path / "other.json").write_text(json.dumps(dict(json.loads((tmp_path / "shard-2.json").read_text()), seed=9)))
    bad = rtk("fuzz-reducer", "merge", "shard-1.json", "other.json", cwd=tmp_path)
    assert bad.returncode == 2 and "not shards of one campaign" in bad.stderr


REAL_REPORT = Path(__file__).resolve().parent.parent / "docs" / "data" / "codex-reducer" / "0.169.0.json"


def _edited(**changes) -> str:
    return json.dumps({**json.loads(REAL_REPORT.read_text()), "shard": "2/2", **changes})


@pytest.mark.parametrize("content, message", [
    ("[" * 100_000 + "]" * 100_000, "nested too deep"),
    (_edited(invariants={"X": [1]}), "['invariants']['X']"),
    (_edited(invariants={"X": {"cases": "many"}}), "['invariants']['X']['cases']"),
    (_edited(failures={"a": 1}), "['failures']"),
    (_edited(failures=[{"id": 1}]), "['failures'][0]"),
    (_edited(results=None), "['results']"),
    (_edited(oracles={"results": {"metamorphic": 5}}), "['oracles']['results']['metamorphic']"),
    (_edited(shard=["x"]), "['shard']"),
    (_edited(eligible=5), "['eligible']"),
    (_edited(cases="many"), "['cases']"),
])
def test_merge_of_a_hostile_report_is_exit_2_saying_what_is_wrong(tmp_path, content, message):
    (tmp_path / "bad.json").write_text(content)
    out = rtk("fuzz-reducer", "merge", str(REAL_REPORT), "bad.json", cwd=tmp_path, timeout=60)
    assert out.returncode == 2 and "Traceback" not in out.stderr, out.stderr
    assert "bad.json: not a" in out.stderr and message in out.stderr, out.stderr


def test_merge_reads_at_most_a_capped_prefix_of_a_report_or_known_file(tmp_path):
    big = tmp_path / "big.json"
    with open(big, "wb") as f:
        f.truncate(65 << 20)  # sparse: no disk used
    for args, why in (([str(big)], "larger than 64 MiB"), (["/dev/zero"], "a device"),  # never read at all
                      ([str(REAL_REPORT), "--known", "/dev/zero"], "a device")):
        out = rtk("fuzz-reducer", "merge", *args, cwd=tmp_path, timeout=60)
        assert out.returncode == 2 and why in out.stderr and "Traceback" not in out.stderr, out.stderr


def test_a_known_results_file_nested_too_deep_is_exit_2(tmp_path):
    (tmp_path / "known.json").write_text('{"format": ' + "[" * 100_000 + "]" * 100_000 + "}")
    out = rtk("fuzz-reducer", "merge", str(REAL_REPORT), "--known", "known.json", cwd=tmp_path, timeout=60)
    assert out.returncode == 2 and "known.json: not a readable JSON file: nested too deep" in out.stderr, out.stderr


# -- replay on hostile saved cases ------------------------------------------------------------------


@pytest.fixture(scope="module")
def _saved_case_once(tmp_path_factory):
    where = tmp_path_factory.mktemp("saved-case")
    out = rtk("fuzz-reducer", "--cmd", kit_reducer("--forget", "SEQ.NO_GAP"), "--examples", "2", "--seed", "1",
              "--invariant", "SEQ.NO_GAP", "--no-shrink", "--format", "json", cwd=where)
    return where, json.loads(out.stdout)["failures"][0]["repro"]


@pytest.fixture
def saved_case(_saved_case_once, tmp_path):
    """A saved failure (its directory relative to tmp_path, as the run saved it), a copy of its own:
    tests edit it. The campaign runs once a module (it was a second of each test's setup)."""
    where, repro = _saved_case_once
    shutil.copytree(where / repro, tmp_path / repro, symlinks=True)
    return tmp_path / repro


@pytest.mark.parametrize("content", ["{", "[]", '{"case": {"dialect": "v2"}}', '{"case": 5, "must_reject": true}',
                                     '{"case": {"dialect": "v2", "invariant": "X", "seed": "s", "events": 8}, "must_reject": true}',
                                     '{"case": {"dialect": "v9", "invariant": "X", "seed": 1, "events": 8}, "must_reject": true}',
                                     'null', '"s"'])
def test_replay_of_a_malformed_case_json_is_exit_2(saved_case, content):
    (saved_case / "case.json").write_text(content)
    out = rtk("replay", str(saved_case), "--cmd", kit_reducer(), cwd=saved_case.parent, timeout=60)
    assert out.returncode == 2 and "Traceback" not in out.stderr and "case.json" in out.stderr, out.stderr


@pytest.mark.parametrize("kind", ["fifo", "zero", "huge", "deep"])
def test_replay_of_a_hostile_case_json_is_exit_2_without_hanging(saved_case, kind):
    case_json = saved_case / "case.json"
    case_json.unlink()
    if kind == "fifo":
        os.mkfifo(case_json)  # nobody writes: opening it for reading would wait forever
    elif kind == "zero":
        case_json.symlink_to("/dev/zero")  # endless bytes
    elif kind == "huge":
        with open(case_json, "wb") as f:
            f.truncate(2 << 20)
    else:
        case_json.write_text("[" * 100_000 + "]" * 100_000)
    out = rtk("replay", str(saved_case), "--cmd", kit_reducer(), cwd=saved_case.parent, timeout=60)
    assert out.returncode == 2 and "Traceback" not in out.stderr and "case.json" in out.stderr, out.stderr


def test_replay_refuses_a_socket_and_never_copies_a_device(saved_case):
    payloads = saved_case / "bundle" / "payloads"
    import tempfile

    short = tempfile.mkdtemp(dir="/tmp")  # a socket path must be short; bind there, then move it
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(f"{short}/s")
    os.rename(f"{short}/s", payloads / "sock.json")
    os.rmdir(short)
    try:
        out = rtk("replay", str(saved_case), "--cmd", kit_reducer(), cwd=saved_case.parent, timeout=60)
        assert out.returncode == 2 and "is a socket" in out.stderr and "Traceback" not in out.stderr
    finally:
        sock.close()
        (payloads / "sock.json").unlink()
    try:
        os.mknod(payloads / "zero.json", stat.S_IFCHR | 0o600, os.makedev(1, 5))  # /dev/zero's numbers
    except PermissionError:
        pytest.skip("creating a device node needs root")
    # copying /dev/zero would never end: rtk's timeout (TimeoutExpired) would fail the test
    out = rtk("replay", str(saved_case), "--cmd", kit_reducer(), cwd=saved_case.parent, timeout=60)
    assert out.returncode == 2 and "is a character device" in out.stderr and "refusing to copy" in out.stderr


def test_replay_recreates_fifos_without_opening_them(saved_case):
    os.mkfifo(saved_case / "bundle" / "payloads" / "fifo.json")
    out = rtk("replay", str(saved_case), "--cmd", kit_reducer(), cwd=saved_case.parent, timeout=60)
    assert out.returncode in (0, 1) and "Traceback" not in out.stderr, out.stderr


def test_progress_goes_to_stderr_on_a_terminal(tmp_path):
    import pty

    from rollout_trace_kit.progress import BAR_AFTER

    leader, follower = pty.openpty()
    # a bar once the campaign has lasted BAR_AFTER seconds: each of the 3 cases, one at a time, sleeps
    # that long first (on a fast idle machine the kit's own reducer took 0.8 s for 8 cases: no bar)
    slow = f"sh -c 'sleep {BAR_AFTER}; exec \"$@\"' sh {kit_reducer()}"
    proc = subprocess.Popen([*RTK, "fuzz-reducer", "--cmd", slow, "--examples", "3", "--seed", "1", "--jobs", "1",
                             "--format", "json"], stdout=subprocess.PIPE, stderr=follower, cwd=tmp_path)
    os.close(follower)
    seen = re.sub(rb"\x1b\[[0-9;?]*[A-Za-z]", b"", read_until_closed(leader))
    proc.wait(timeout=300)
    os.close(leader)
    assert b"3/3 cases, 0 not passing" in seen and b"fuzz-reducer" in seen
    piped = rtk("fuzz-reducer", "--cmd", kit_reducer(), "--examples", "2", "--seed", "1", "--format", "json", cwd=tmp_path)
    assert "cases, 0 not passing" not in piped.stderr  # not a terminal: no progress lines


def test_redaction_leaves_no_machine_paths(tmp_path, monkeypatch):
    from rollout_trace_kit.conformance.reducer.report import redact

    monkeypatch.chdir(tmp_path)
    home = os.path.expanduser("~")
    assert redact(f"{tmp_path}/reducer-fuzz-failures/X") == "reducer-fuzz-failures/X"
    assert redact(f"{home}/.cache/codex debug") == "~/.cache/codex debug"
    assert redact("/elsewhere/fails/X --cmd y", "/elsewhere/fails") == "fails/X --cmd y"
    assert redact("cannot open /dev/shm/rtk-fuzz-ab_12/bundle/payloads/1.json") == "cannot open $TMP/bundle/payloads/1.json"
    assert redact("/tmp/rtk-replay-x9/work/output.json") == "$TMP/work/output.json"


def test_usage_errors_escape_the_paths_and_keys_they_name(tmp_path):
    # A report, known-results file or case directory named (or holding a key) with a control
    # character reached the terminal raw in the one-line exit-2 message.
    (tmp_path / "r\x1b[31m.json").write_text("{}")
    (tmp_path / "known.json").write_text(json.dumps(
        {"format": "rollout-trace-kit/known-results/1", "entries": {"X\x1b]0;t\x07": {"behaviour": "zzz"}}}))
    for args in (["fuzz-reducer", "merge", "r\x1b[31m.json"],
                 ["fuzz-reducer", "merge", "r\x1b[31m.json", "-o", "/nonexistent/\x1bx"],
                 ["fuzz-reducer", "merge", "r\x1b[31m.json", "--known", "known.json"],
                 ["replay", "--cmd", "true", "case\x1b[2J"]):
        out = rtk(*args, cwd=tmp_path, timeout=60)
        assert out.returncode == 2 and out.stderr.count("\n") == 1, (args, out.stderr)
        assert "\x1b" not in out.stderr and "\x07" not in out.stderr and "\\x1b" in out.stderr, (args, out.stderr)


# -- help and console text (issue 19, "smaller") ------------------------------------------------


def test_help_texts_say_what_is_true_in_plain_text(tmp_path):
    top = rtk("--help", cwd=tmp_path).stdout
    assert "``" not in top and "conformance kit" in top
    fuzz_help = rtk("fuzz-reducer", "--help", cwd=tmp_path, env=dict(os.environ, COLUMNS="200")).stdout
    examples = next(l for l in fuzz_help.splitlines() if "--examples EXAMPLES " in l)
    assert examples.count("default") == 1, examples
    validate_help = " ".join(rtk("validate", "--help", cwd=tmp_path).stdout.split())
    assert "Exit 0: no errors (warnings alone exit 0); 1: at least one error" in validate_help


def test_off_a_terminal_the_campaign_title_is_one_line(tmp_path):
    long_cmd = f"{kit_reducer()} " + " ".join(["--forget", "NO.SUCH_RULE"] * 8)
    out = rtk("fuzz-reducer", "--cmd", long_cmd, "--examples", "2", "--seed", "1", "--invariant", "SEQ.NO_GAP",
              cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    title = next(l for l in out.stdout.splitlines() if "(dialect v2, profile reducer, seed 1)" in l)
    assert len(title) > 160 and title.startswith(PY.split()[0])
