"""The reducer fuzz harness classifies fake reducers exactly (issue: reducer conformance)."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from rollout_trace_kit.conformance.reducer.cases import build_case

from ._helpers import PY, REDUCERS, kit_reducer, pid_running, process_gone



def fuzz(tmp_path, cmd, *extra, examples=24, dialect="v2", full=False):
    tmp_path.mkdir(parents=True, exist_ok=True)
    seed = [] if "--seed" in extra else ["--seed", "0"]
    out = subprocess.run(
        [sys.executable, "-m", "rollout_trace_kit", "fuzz-reducer", "--cmd", cmd, "--dialect", dialect,
         "--examples", str(examples), "--format", "json", "--repro-dir", str(tmp_path / "repro"), *seed, *extra],
        capture_output=True, text=True, cwd=tmp_path, timeout=600,
    )
    assert out.returncode in (0, 1), out.stderr
    if full:
        return out
    return out.returncode, json.loads(out.stdout)


def test_correct_reducer_passes_everything(tmp_path):
    rc, doc = fuzz(tmp_path, kit_reducer(), examples=30)
    assert rc == 0 and doc["ok"]
    assert doc["results"]["pass"] == doc["cases"] >= 25
    assert doc["invariants"]["VALID"]["accepts"] == doc["invariants"]["VALID"]["cases"] > 0
    # every must-reject row was rejected, every lenient row accepted (the kit's own profile)
    for inv, row in doc["invariants"].items():
        if inv != "VALID":
            assert row["rejects" if row["must_reject"] else "accepts"] == row["cases"], inv


def test_accept_all_fails_exactly_the_rules_it_must_enforce(tmp_path):
    rc, doc = fuzz(tmp_path, f"{PY} {REDUCERS / 'accept_all.py'} {{bundle}} {{output}}", "--no-shrink", examples=40)
    assert rc == 1 and not doc["ok"]
    failed = {inv for inv, row in doc["invariants"].items() if row["failed"]}
    must = {inv for inv, row in doc["invariants"].items() if row["must_reject"]}
    assert failed == must and "VALID" not in failed and len(must) >= 10
    assert set(doc["new_failures"]) == failed
    assert all(f["result"] == "fail" and f["behaviour"] == "accepts" for f in doc["failures"])


def test_forgetting_one_rule_is_pinned_to_that_rule(tmp_path):
    rc, doc = fuzz(
        tmp_path, kit_reducer("--forget", "SEQ.NO_GAP"),
        "--invariant", "SEQ.NO_GAP", "--invariant", "SEQ.INCREASING", "--invariant", "THREAD.UNKNOWN",
        examples=8,
    )
    assert rc == 1
    assert doc["new_failures"] == ["SEQ.NO_GAP"]
    assert doc["invariants"]["SEQ.NO_GAP"]["summary"] == "accepts"
    assert doc["invariants"]["SEQ.INCREASING"]["failed"] == 0
    # the failing case was shrunk and saved, under the failure's own id, with a replay command
    # that reproduces it pasted as is (absolute paths, the real command, shell-quoted)
    failure = doc["failures"][0]
    repro = tmp_path / failure["repro"]  # relative to the run's directory in the JSON report
    assert not Path(failure["repro"]).is_absolute() and repro.name == failure["id"]
    meta = json.loads((repro / "case.json").read_text())
    assert meta["id"] == failure["id"] and meta["case"]["events"] <= meta["original"]["events"]
    assert meta["replay"] == f"rollout-trace replay {shlex.quote(str(repro))} --cmd {shlex.quote(kit_reducer('--forget', 'SEQ.NO_GAP'))}"
    assert failure["finding"]["invariant"] == "SEQ.NO_GAP" and failure["finding"]["seq"] and failure["finding"]["line"]
    bindir = Path(sys.executable).parent
    env = dict(os.environ, PATH=f"{bindir}{os.pathsep}{os.environ['PATH']}")
    again = subprocess.run(["bash", "-c", meta["replay"]], capture_output=True, text=True, cwd="/", env=env)
    assert again.returncode == 1 and f"{failure['id']}: fail (accepts" in again.stdout, again.stdout + again.stderr
    replay = [sys.executable, "-m", "rollout_trace_kit", "replay", str(repro), "--cmd"]
    fixed = subprocess.run([*replay, kit_reducer()], capture_output=True, text=True)
    assert fixed.returncode == 0 and "pass (rejects" in fixed.stdout


def test_crash_on_a_variant_is_a_crash_exactly_where_the_variant_is(tmp_path):
    variant = "mcp_tool_call_correlation_assigned"
    rc, doc = fuzz(tmp_path, kit_reducer("--crash-on", variant), "--no-shrink", examples=16)
    crashed = {f["id"] for f in doc["failures"] if f["result"] == "crash"}
    assert all(f["result"] == "crash" for f in doc["failures"])
    holds = set()
    # rebuild every case the run used and check the crash set is exactly the ones holding the variant
    from rollout_trace_kit.conformance.reducer.cases import plan_cases

    for spec in plan_cases("v2", 16, 0):  # the run's seed (the helper passes --seed 0)
        case = build_case(spec)
        if case is not None and f'"type":"{variant}"'.encode() in b"\n".join(case.bundle.lines):
            holds.add(spec.id)
    assert crashed == holds and crashed, (crashed, holds)
    assert rc == 1


def test_hang_is_a_hang_and_the_process_group_is_killed(tmp_path):
    marker = f"rtk-hang-{uuid.uuid4().hex}"
    rc, doc = fuzz(tmp_path, f"{PY} {REDUCERS / 'hang.py'} {{bundle}} {marker}", "--timeout", "2", "--no-shrink",
                   "--invariant", "SEQ.NO_GAP", "--invariant", "THREAD.UNKNOWN", examples=5)
    assert rc == 1
    rows = doc["invariants"]
    assert rows["VALID"]["accepts"] == rows["VALID"]["cases"] == 1
    assert doc["results"]["hang"] == doc["cases"] - 1 >= 3
    assert {f["behaviour"] for f in doc["failures"]} == {"hangs"}
    assert process_gone(marker)


def test_known_results_cannot_go_stale(tmp_path):
    cmd = kit_reducer("--forget", "SEQ.NO_GAP")
    only = ["--invariant", "SEQ.NO_GAP", "--invariant", "SEQ.INCREASING", "--no-shrink"]
    known = tmp_path / "known.json"
    rc, _ = fuzz(tmp_path, cmd, *only, "--known", str(known), "--update", examples=6)
    entries = json.loads(known.read_text())["entries"]
    assert list(entries) == ["SEQ.NO_GAP"] and entries["SEQ.NO_GAP"]["behaviour"] == "accepts"
    entries["SEQ.NO_GAP"]["reason"] = "test: this reducer leaves seq to the writer"
    known.write_text(json.dumps({"format": "rollout-trace-kit/known-results/1", "entries": entries}))
    rc, doc = fuzz(tmp_path, cmd, *only, "--known", str(known), examples=6)
    assert rc == 0 and doc["expected_failures"] == ["SEQ.NO_GAP"]
    # the reducer got fixed: the entry no longer matches, and the run says so
    rc, doc = fuzz(tmp_path, kit_reducer(), *only, "--known", str(known), examples=6)
    assert rc == 1 and doc["stale_known_results"][0]["invariant"] == "SEQ.NO_GAP"
    # a reasonless entry is refused
    entries["SEQ.NO_GAP"]["reason"] = " "
    known.write_text(json.dumps({"format": "rollout-trace-kit/known-results/1", "entries": entries}))
    out = subprocess.run(
        [sys.executable, "-m", "rollout_trace_kit", "fuzz-reducer", "--cmd", cmd, "--known", str(known)],
        capture_output=True, text=True,
    )
    assert out.returncode == 2 and "needs a reason" in out.stderr


def test_seed_makes_runs_repeatable(tmp_path):
    _, a = fuzz(tmp_path / "a", kit_reducer(), "--seed", "7", examples=10)
    _, b = fuzz(tmp_path / "b", kit_reducer(), "--seed", "7", examples=10)
    assert a["invariants"] == b["invariants"]
    assert [f["id"] for f in a["failures"]] == [f["id"] for f in b["failures"]]
    from rollout_trace_kit.conformance.reducer.cases import plan_cases

    assert plan_cases("v2", 10, 7) == plan_cases("v2", 10, 7) != plan_cases("v2", 10, 8)


def test_stdin_and_argv_modes(tmp_path):
    script = tmp_path / "r.py"
    script.write_text(
        "import sys, os\n"
        "path = sys.stdin.readline().strip() if len(sys.argv) == 1 else sys.argv[1]\n"
        "sys.exit(0 if os.path.isfile(os.path.join(path, 'manifest.json')) else 3)\n"
    )
    for mode in ("stdin", "argv"):
        rc, doc = fuzz(tmp_path / mode, f"{PY} {script}", "--input", mode, "--invariant", "BUNDLE.MANIFEST_PRESENT",
                       "--reject-exit", "3", examples=4)  # exit 3 is this reducer's clean rejection
        rows = doc["invariants"]
        assert rows["VALID"]["accepts"] == rows["VALID"]["cases"]
        assert rows["BUNDLE.MANIFEST_PRESENT"]["rejects"] == rows["BUNDLE.MANIFEST_PRESENT"]["cases"] > 0


def test_the_finding_of_a_valid_case_is_an_error_never_a_warning(tmp_path):
    """A valid schema-mode bundle may carry a strict warning (a payload file whose ref the widener left
    out: REF.ORPHAN); the case's kit finding is none, not the warning (it read as the failure's cause)."""
    from rollout_trace_kit.conformance.reducer.cases import CaseSpec, build_case, judge_case
    from rollout_trace_kit.validate import Options, Profile, validate_bundle

    case = build_case(CaseSpec("v2", "VALID", 803676173, 19, "schema"))
    path = case.bundle.write(tmp_path / "b")
    warned = validate_bundle(path, Options(profile=Profile.STRICT, dialect="v2"))
    assert [f.invariant for f in warned.findings] == ["REF.ORPHAN"] and warned.ok
    assert judge_case(case, path, Profile.STRICT) is None and not case.must_reject


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
@pytest.mark.parametrize("sig", ["SIGINT", "SIGTERM"])
def test_a_signal_ends_a_fuzz_run_with_jobs_and_leaves_no_worker(tmp_path, sig):
    """Ctrl-C or SIGTERM to `fuzz-reducer --jobs 2`: the cases not started are dropped, the running
    ones end, and no worker outlives the run (SIGTERM killed the parent alone, and its workers went
    on running cases)."""
    import signal
    import time

    marker = f"rtk-fuzz-{uuid.uuid4().hex}"  # in the command line of the reducers and of nothing else
    started = tmp_path / "started"
    slow = tmp_path / "slow.py"
    slow.write_text("import sys, time\nopen(sys.argv[3], 'a').write('run\\n')\ntime.sleep(0.3)\n"
                    "open(sys.argv[2], 'w').write('{}')\n")
    cmd = f"{PY} {slow} {{bundle}} {{output}} {started} {marker}"
    proc = subprocess.Popen([sys.executable, "-m", "rollout_trace_kit", "fuzz-reducer", "--cmd", cmd,
                             "--examples", "400", "--jobs", "2", "--seed", "0", "--no-shrink", "--format", "json",
                             "--repro-dir", str(tmp_path / "repro")], cwd=tmp_path, start_new_session=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))  # as from a terminal
    try:
        for _ in range(1200):  # until the pool runs cases: the preflight runs one first (a generous bound)
            if started.exists() and len(started.read_text().splitlines()) >= 4:
                break
            time.sleep(0.05)
        workers = [int(p) for p in subprocess.run(["pgrep", "-P", str(proc.pid)], capture_output=True,
                                                 text=True).stdout.split()]
        proc.send_signal(getattr(signal, sig))
        _, err = proc.communicate(timeout=120)  # a hang fails here
        gone = process_gone(marker) and not [p for p in workers if pid_running(p)]
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)  # whatever outlived the parent
        except ProcessLookupError:
            pass
    assert proc.returncode == (130 if sig == "SIGINT" else -signal.SIGTERM), err
    assert "Traceback" not in err
    assert workers and gone
