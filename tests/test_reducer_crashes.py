"""Issue 19: a crash apart from a clean rejection, hangs, the robustness claim, user oracles,
oracles that never applied, and saved cases that are the shrunk ones; each with a faulty
fake reducer of its kind (tests/reducers/fragile.py, kit_reducer.py, hang.py)."""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from rollout_trace_kit.conformance.command import ReducerCommand
from rollout_trace_kit.conformance.reducer.api import API_VERSION, BundleFacts, as_result, failed, passed

from ._helpers import PY, REDUCERS, kit_reducer
from ._codex_tier import HANG_TIMEOUT

FRAGILE = f"{PY} {REDUCERS / 'fragile.py'} {{bundle}} {{output}}"


def run(tmp_path, cmd, *extra, examples=12, seed=3):
    tmp_path.mkdir(parents=True, exist_ok=True)
    return subprocess.run(
        [sys.executable, "-m", "rollout_trace_kit", "fuzz-reducer", "--cmd", cmd, "--seed", str(seed),
         "--examples", str(examples), "--format", "json", "--repro-dir", str(tmp_path / "repro"), *extra],
        capture_output=True, text=True, cwd=tmp_path, timeout=600,
    )


def report(out) -> dict:
    assert out.returncode in (0, 1), out.stderr
    return json.loads(out.stdout)


# -- how a run ended --------------------------------------------------------------------------


def _outcome(tmp_path, script: str, reject_exit: int = 1):
    (tmp_path / "r.sh").write_text(script)
    (tmp_path / "b").mkdir(exist_ok=True)
    return ReducerCommand(f"sh {tmp_path / 'r.sh'}", reject_exit=reject_exit).run(tmp_path / "b", tmp_path / "w")


@pytest.mark.parametrize("printed,kind", [
    ("Traceback (most recent call last):\\n  File \"r.py\", line 1\\nKeyError: 'mcp'", "Python traceback"),
    ("thread 'main' panicked at src/main.rs:2:5:\\nno handler", "Rust panic"),
    ("==4242==ERROR: AddressSanitizer: heap-buffer-overflow on address 0x602", "sanitizer report"),
    ("src/r.c:10:5: runtime error: signed integer overflow", "sanitizer report"),
    ("panic: runtime error\\n\\ngoroutine 1 [running]:\\nmain.main()", "Go panic"),
    ("    at Object.<anonymous> (/r.js:1:7)\\n\\nNode.js v20.11.0", "uncaught Node.js exception"),
])
def test_crash_output_on_the_rejection_code_is_a_crash(tmp_path, printed, kind):
    (tmp_path / "printed").write_text(printed.replace("\\n", "\n") + "\n")
    o = _outcome(tmp_path, f"cat {tmp_path / 'printed'} >&2; exit 1\n")
    assert o.signature == kind and o.crash is not None and o.crash.startswith(f"{kind} (exit 1)")


def test_a_clean_rejection_is_not_a_crash_even_quoting_a_traceback_mid_line(tmp_path):
    o = _outcome(tmp_path, "echo 'line 3: the text says Traceback (most recent call last):' >&2; exit 1\n")
    assert o.signature is None and o.crash is None and not o.accepted


def test_a_signature_split_across_reads_and_far_from_the_tail_is_seen(tmp_path):
    # the traceback's first line, then 10,000 lines: it has left the kept tail long before the end
    o = _outcome(tmp_path, "echo 'Traceback (most recent call last):' >&2; seq 1 10000 >&2; exit 1\n")
    assert o.signature == "Python traceback" and "Traceback" not in o.stderr_tail


def test_exit_statuses_outside_the_contract_are_crashes(tmp_path):
    assert _outcome(tmp_path, "exit 2\n").crash.startswith("exit 2, outside the contract (0 accepts, 1 rejects)")
    assert _outcome(tmp_path, "exit 3\n", reject_exit=3).crash is None  # --reject-exit 3: a clean rejection
    assert _outcome(tmp_path, "exit 1\n", reject_exit=3).crash.startswith("exit 1, outside")
    assert _outcome(tmp_path, "exit 2\n", reject_exit=(1, 2)).crash is None  # --reject-exit 1,2
    assert _outcome(tmp_path, "exit 3\n", reject_exit=(1, 2)).crash.startswith("exit 3, outside the contract "
                                                                              "(0 accepts, 1 or 2 rejects)")
    assert _outcome(tmp_path, "kill -SEGV $$\n").crash == "killed by signal SIGSEGV"
    assert _outcome(tmp_path, "echo 'Traceback (most recent call last):' >&2; exit 0\n").crash is None  # accepted


# -- faulty reducers, each caught with the right result kind -----------------------------------------


def test_a_traceback_on_a_rarely_written_tool_kind_is_a_crash_on_valid_and_corrupt_bundles(tmp_path):
    # write_stdin: in about 1 generated bundle of 60, not in the preflight bundle; seed 33 reaches it
    # in a valid case and in a corrupt one (the "as the schema allows" mode reaches every kind)
    doc = report(run(tmp_path, FRAGILE + " --crash-on-kind write_stdin", "--profile", "robustness",
                     "--invariant", "SEQ.NO_GAP", examples=8, seed=33))
    assert not doc["ok"] and doc["results"]["crash"] == 2 and doc["results"]["fail"] == 0
    details = sorted(f["detail"] for f in doc["failures"])
    assert [f["result"] for f in doc["failures"]] == ["crash", "crash"]
    assert details[0].startswith("crash on a bundle breaking SEQ.NO_GAP: Python traceback (exit 1): KeyError: ")
    assert details[1].startswith("crash on a valid bundle: Python traceback (exit 1): KeyError: 'handler for write_stdin'")
    assert doc["invariants"]["VALID"]["summary"] == doc["invariants"]["SEQ.NO_GAP"]["summary"] == "crashes"


def test_a_traceback_on_corrupt_input_fails_robustness_and_a_clean_rejection_passes_it(tmp_path):
    lines = ["--profile", "robustness", "--invariant", "LINE.JSON", "--invariant", "LINE.UTF8"]
    doc = report(run(tmp_path / "crashing", FRAGILE + " --traceback-on-corrupt", *lines, examples=6))
    assert not doc["ok"] and doc["profile"] == "robustness"
    assert {f["result"] for f in doc["failures"]} == {"crash"}
    assert all("Python traceback (exit 1)" in f["detail"] for f in doc["failures"])
    assert doc["invariants"]["LINE.JSON"]["must_reject"] is False  # robustness: rejection optional
    clean = report(run(tmp_path / "clean", FRAGILE, *lines, examples=6))
    assert clean["ok"] and clean["results"]["pass"] == clean["cases"]
    assert clean["invariants"]["LINE.JSON"]["rejects"] >= 1  # rejected cleanly, and that is fine
    # the same reducer claiming the reducer profile must reject everything the profile rejects
    out = run(tmp_path / "accepting", FRAGILE, "--invariant", "SEQ.NO_GAP", "--no-shrink", examples=4)
    assert report(out)["invariants"]["SEQ.NO_GAP"]["summary"] == "accepts" and out.returncode == 1


def test_counts_only_output_asked_for_the_coverage_oracle_is_exit_2(tmp_path):
    out = run(tmp_path, FRAGILE + " --counts-only", "--oracle", "coverage", "--invariant", "SEQ.NO_GAP", examples=4)
    assert out.returncode == 2, out.stderr
    assert "oracle coverage never applied: not applicable to any of the 1 case(s) it was given: the output names " \
           "none of the thread, turn, inference call or tool call ids" in out.stderr
    doc = json.loads(out.stdout)  # the report is written all the same
    assert doc["oracles"]["never_applied"]["coverage"].startswith("not applicable")
    # with --oracle all, an oracle that never applies is reported; exit 2 only when none applied
    out = run(tmp_path / "all", FRAGILE + " --counts-only", "--oracle", "all", "--invariant", "SEQ.NO_GAP",
              "--profile", "robustness", examples=4)
    assert out.returncode == 0 and "oracle coverage never applied" in out.stderr
    assert json.loads(out.stdout)["oracles"]["results"]["metamorphic"]["pass"] == 1


ORACLE_FILE = '''
from rollout_trace_kit.conformance.reducer.api import failed, not_applicable, passed

def turns_kept(facts):
    if not isinstance(facts.parsed, dict) or "turns" not in facts.parsed:
        return not_applicable("the output has no turn count")
    if facts.parsed["turns"] != len(facts.turns):
        return failed(f"{facts.parsed['turns']} turn(s) in the output, {len(facts.turns)} in the bundle "
                      f"(last: {facts.turns[-1]})")
    return passed()

def never(facts):
    return not_applicable("this oracle judges nothing")
'''


def test_a_dropped_turn_is_caught_by_a_user_oracle_and_replay_runs_it(tmp_path):
    tmp_path.mkdir(exist_ok=True)
    (tmp_path / "my_oracles.py").write_text(ORACLE_FILE)
    cmd = FRAGILE + " --counts-only --drop-turn"
    doc = report(run(tmp_path, cmd, "--oracle", "my_oracles:turns_kept", "--invariant", "SEQ.NO_GAP", examples=4))
    f = next(f for f in doc["failures"] if f["case"]["invariant"] == "VALID")
    assert f["result"] == "wrong-output" and f["detail"].startswith("my_oracles:turns_kept: ")
    assert "turn(s) in the output" in f["detail"] and "--oracle my_oracles:turns_kept" in f["replay"]
    assert doc["oracles"]["results"]["my_oracles:turns_kept"]["fail"] == 1
    again = subprocess.run([sys.executable, "-m", "rollout_trace_kit", *shlex.split(f["replay"])[1:]],
                           capture_output=True, text=True, cwd=tmp_path, timeout=300)
    # the headline's id and turn are the replay's: the saved case is the one reported
    headline = f["detail"].split(" (saved shrunk")[0]
    assert again.returncode == 1 and f"{f['id']}: wrong-output (accepts; expected: accept): {headline}" in again.stdout
    # a replay without --oracle never imports a user oracle named by a saved case: it says how to ask for it
    bare = subprocess.run([sys.executable, "-m", "rollout_trace_kit", "replay", f["repro"], "--cmd", cmd],
                          capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert "pass --oracle my_oracles:turns_kept to judge with them" in bare.stderr, bare.stderr
    # the same reducer without the bug passes the oracle; one that never applies is exit 2
    assert report(run(tmp_path / "ok", FRAGILE + " --counts-only", "--oracle", f"{tmp_path / 'my_oracles.py'}:turns_kept",
                      "--invariant", "SEQ.NO_GAP", "--profile", "robustness", examples=4))["ok"]
    out = run(tmp_path, FRAGILE, "--oracle", str(tmp_path / "my_oracles.py") + ":never", "--invariant", "SEQ.NO_GAP",
              examples=4)
    assert out.returncode == 2 and "never applied: not applicable to any of the 1 case(s) it was given: " \
                                   "this oracle judges nothing" in out.stderr


def test_a_user_oracle_that_cannot_be_imported_is_exit_2_before_the_run(tmp_path):
    tmp_path.mkdir(exist_ok=True)
    out = run(tmp_path, FRAGILE, "--oracle", "no_such_module:check")
    assert out.returncode == 2 and "--oracle no_such_module:check: cannot import it: ModuleNotFoundError" in out.stderr
    assert "Traceback" not in out.stderr and "seed" not in out.stderr


def test_the_oracle_api_is_typed_and_versioned(tmp_path):
    facts = BundleFacts(API_VERSION, "v2-VALID-x", "v2", tmp_path, True, "VALID", b"{}", {}, turns=("t1",))
    assert facts.api_version == 1 and facts.turns == ("t1",)
    assert as_result(True) == passed() and as_result(False).verdict == "fail" and as_result(None).verdict == "n/a"
    assert as_result(failed("why")).message == "why"
    with pytest.raises(TypeError):
        as_result("yes")


# -- saved cases are the shrunk ones -------------------------------------------------------------


def test_the_saved_case_is_as_small_as_the_headline_says_and_replays_to_the_same_ids(tmp_path):
    doc = report(run(tmp_path, kit_reducer("--drop-entity", "turn"), "--oracle", "coverage",
                     "--invariant", "SEQ.NO_GAP", examples=3, seed=5))
    f = next(f for f in doc["failures"] if f["case"]["invariant"] == "VALID")
    saved = tmp_path / f["repro"]
    lines = len((saved / "bundle" / "trace.jsonl").read_bytes().splitlines())
    meta = json.loads((saved / "case.json").read_text())
    assert f"(saved shrunk: {lines} lines of trace.jsonl instead of " in f["detail"]
    assert meta["case"]["events"] < meta["original"]["events"] and lines < 40
    again = subprocess.run(["bash", "-c", f"cd {shlex.quote(str(tmp_path))} && {sys.executable} -m rollout_trace_kit "
                            + f["replay"].split(" ", 1)[1]], capture_output=True, text=True, timeout=300)
    lacks = f["detail"].split("the output lacks ")[1].split(" (saved")[0]
    assert f"{f['id']}: wrong-output" in again.stdout and f"the output lacks {lacks}" in again.stdout, again.stdout


# -- hangs -----------------------------------------------------------------------------------------


def test_a_known_hang_costs_one_timeout_and_is_not_shrunk(tmp_path):
    tmp_path.mkdir(exist_ok=True)
    known = tmp_path / "known.json"
    known.write_text(json.dumps({"format": "rollout-trace-kit/known-results/1", "entries": {
        "SEQ.NO_GAP": {"behaviour": "hangs", "reason": "a known hang"}}}))
    marker = f"rtk-hang-{uuid.uuid4().hex}"
    out = run(tmp_path, f"{PY} {REDUCERS / 'hang.py'} {{bundle}} {marker}", "--timeout", "2", "--known", str(known),
              "--invariant", "SEQ.NO_GAP", examples=6)
    doc = report(out)
    assert out.returncode == 0 and doc["ok"] and doc["expected_failures"] == ["SEQ.NO_GAP"]
    assert doc["results"]["hang"] == 1 and len(doc["not_run"]) == 4
    assert all(n["why"] == "not run: a case of SEQ.NO_GAP, a known hang, already hung" for n in doc["not_run"])
    meta = json.loads((tmp_path / doc["failures"][0]["repro"] / "case.json").read_text())
    assert meta["case"] == meta["original"]  # a known failure: saved as found, not shrunk again
    # without the known-results file, the hang fails the run and every case runs
    doc = report(run(tmp_path / "unknown", f"{PY} {REDUCERS / 'hang.py'} {{bundle}} {marker}", "--timeout", "2",
                     "--invariant", "SEQ.NO_GAP", "--no-shrink", examples=3))
    assert not doc["ok"] and doc["results"]["hang"] == 2 and doc["not_run"] == []
    assert doc["failures"][0]["detail"].startswith("hang: timed out after")


# -- the real Codex reducers pass every claim they should ---------------------------------------------


@pytest.mark.codex
@pytest.mark.parametrize("mode", ["releases", "schema"])
@pytest.mark.parametrize("claim", ["reducer", "robustness"])
@pytest.mark.parametrize("dialect", ["v1", "v2", "v3"])
def test_real_codex_reducers_pass_their_claims_with_every_oracle_and_no_normalizer(tmp_path, codex_binaries,
                                                                                   dialect, claim, mode):
    from rollout_trace_kit.codex.install import REFERENCE_RELEASES

    release = REFERENCE_RELEASES[dialect]
    known = Path(__file__).parent / "known-results" / f"codex-{release}.json"
    cmd = f"{shlex.quote(str(codex_binaries[dialect]))} debug trace-reduce {{bundle}} -o {{output}}"
    out = run(tmp_path, cmd, "--dialect", dialect, "--profile", claim, "--mode", mode, "--oracle", "all",
              "--known", str(known), "--timeout", str(HANG_TIMEOUT), "--no-shrink", examples=50, seed=19)
    doc = report(out)
    assert out.returncode == 0 and doc["ok"], (doc["new_failures"], doc["stale_known_results"], doc["failures"][:3])
    assert doc["results"]["crash"] == doc["results"]["wrong-output"] == doc["results"]["error"] == 0
    valid = doc["invariants"]["VALID"]["cases"]
    assert doc["oracles"]["never_applied"] == {}
    assert doc["oracles"]["results"]["metamorphic"] == doc["oracles"]["results"]["coverage"] == \
        {"pass": valid, "fail": 0, "n/a": 0}
    # a known hang costs at most one timeout
    assert doc["results"]["hang"] <= len([e for e in json.loads(known.read_text())["entries"].values()
                                          if e["behaviour"] == "hangs"])


def test_merge_of_shards_where_a_named_oracle_never_applied_is_exit_2(tmp_path):
    tmp_path.mkdir(exist_ok=True)
    for i in (1, 2):
        out = run(tmp_path, FRAGILE + " --counts-only", "--oracle", "coverage", "--profile", "robustness",
                  "--invariant", "SEQ.NO_GAP", "--shard", f"{i}/2", "-o", f"shard-{i}.json", examples=6)
        assert out.returncode == 2 and (tmp_path / f"shard-{i}.json").is_file(), out.stderr
    merged = subprocess.run([sys.executable, "-m", "rollout_trace_kit", "fuzz-reducer", "merge", "shard-1.json",
                             "shard-2.json"], capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert merged.returncode == 2 and "oracle coverage never applied" in merged.stderr, merged.stderr


def test_a_known_hang_a_run_never_reached_is_not_stale_but_a_changed_one_is():
    from rollout_trace_kit.conformance.reducer.known import Known, judge

    known = Known({"REF.REGULAR_FILE": {"behaviour": "hangs", "reason": "a FIFO"},
                   "SEQ.NO_GAP": {"behaviour": "accepts", "reason": "lenient"}})
    passed_rows = {"REF.REGULAR_FILE": {"failed": 0, "summary": "rejects"}, "SEQ.NO_GAP": {"failed": 0, "summary": "rejects"}}
    assert [i for i, _ in judge(passed_rows, known).stale] == ["SEQ.NO_GAP"]  # no FIFO this seed: proves nothing
    crashed = {"REF.REGULAR_FILE": {"failed": 1, "summary": "crashes"}}
    assert judge(crashed, known).stale == [("REF.REGULAR_FILE", "listed as hangs, but the run saw crashes")]


def test_a_crash_on_a_tool_kind_codex_never_wrote_is_caught_in_schema_mode_only(tmp_path):
    """The issue's case: a reducer with no handler for `mcp` passes an "as releases write" campaign
    and is caught, as a crash, by the same campaign "as the schema allows"."""
    args = ("--profile", "robustness", "--invariant", "SEQ.NO_GAP", "--no-shrink")
    releases = report(run(tmp_path / "releases", FRAGILE + " --crash-on-kind mcp", *args, examples=8))
    assert releases["ok"]
    schema = report(run(tmp_path / "schema", FRAGILE + " --crash-on-kind mcp", *args, "--mode", "schema", examples=8))
    assert not schema["ok"] and {f["result"] for f in schema["failures"]} == {"crash"}
    assert "Python traceback (exit 1): KeyError: 'handler for mcp'" in schema["failures"][0]["detail"]
