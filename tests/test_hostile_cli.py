"""A red-team pass over the command line: each test pins a bug found by attacking a subcommand
(hostile files, processes and arguments) and checks the fix: a finding or a usage error (exit
2) with a message, never a traceback, a hang or "ok"."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest

RT = [sys.executable, "-m", "rollout_trace_kit"]


def _rt(*args: str, timeout: float = 120, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([*RT, *args], capture_output=True, timeout=timeout, **kw)


# --- the report cannot be written: a full disk is an environment error --------------------------

@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs Linux's /dev/full (writes fail with ENOSPC)")
@pytest.mark.parametrize("command", [
    ["invariants", "-o", "/dev/full"],
    ["validate", "corpus:codex-0.164.0/basic", "--format", "json", "-o", "/dev/full"],
    ["validate", "corpus:codex-0.164.0/basic", "--format", "jsonl", "-o", "/dev/full"],
])
def test_a_full_disk_under_the_report_is_exit_2_without_a_traceback(command):
    proc = _rt(*command)
    assert proc.returncode == 2, proc
    assert b"Traceback" not in proc.stderr
    assert b"No space left on device (/dev/full)" in proc.stderr  # where: the write error names no file


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs Linux's /dev/full (writes fail with ENOSPC)")
def test_a_full_disk_under_stdout_is_exit_2_without_a_traceback():
    with open("/dev/full", "wb") as full:
        proc = subprocess.run([*RT, "invariants"], stdout=full, stderr=subprocess.PIPE, timeout=120)
    assert proc.returncode == 2
    assert b"Traceback" not in proc.stderr and b"No space left on device" in proc.stderr


# --- validate --state: a file someone else may have put there ------------------------------------

@pytest.mark.parametrize("kind", ["fifo", "device"])
def test_a_state_file_that_is_not_regular_is_a_usage_error(tmp_path, kind):
    state = tmp_path / "state.jsonl"
    if kind == "fifo":
        os.mkfifo(state)  # opening it to read would wait for a writer forever
    else:
        state.symlink_to("/dev/zero")  # endless bytes, no newline
    proc = _rt("validate", "corpus:codex-0.164.0/basic", "--state", str(state), timeout=60)
    assert proc.returncode == 2, proc
    assert b"Traceback" not in proc.stderr and b"--state" in proc.stderr


def test_a_damaged_state_line_is_judged_again_not_a_traceback(tmp_path):
    import json

    state = tmp_path / "state.jsonl"
    first = _rt("validate", "corpus:codex-0.164.0/basic", "--state", str(state), "-q")
    assert first.returncode == 0, first
    doc = json.loads(state.read_bytes())
    doc["report"] = {"findings": "not a list"}  # the right kit, options, path and key; a broken report
    deep = "[" * 100_000 + "]" * 100_000  # json.loads raises RecursionError, not ValueError
    state.write_text(json.dumps(doc) + "\n" + deep + "\n")
    again = _rt("validate", "corpus:codex-0.164.0/basic", "--state", str(state), "--format", "json")
    assert again.returncode == 0, again
    assert b"Traceback" not in again.stderr
    assert json.loads(again.stdout)["bundles"][0]["ok"] is True
    assert len(state.read_bytes().splitlines()) == 3  # judged again: its line appended


def test_state_lines_longer_than_the_cap_are_skipped_in_pieces(monkeypatch):
    import io

    from rollout_trace_kit.validate import state

    monkeypatch.setattr(state, "MAX_LINE_BYTES", 8)
    data = b'{"a":1}\n' + b"x" * 100 + b"\n" + b'{"b":2}\n'
    got = list(state._lines(io.BytesIO(data)))
    assert got[0] == b'{"a":1}\n' and got[2] == b'{"b":2}\n'
    assert len(got[1]) == 101 and b"x" not in got[1]  # skipped, its length kept for the offsets


# --- check-writer --script gen:DIALECT:EVENTS ----------------------------------------------------

def test_a_generated_script_has_an_event_cap(monkeypatch):
    from rollout_trace_kit import generators
    from rollout_trace_kit.conformance.writer.scripts import ScriptError, load_scripts

    asked = []

    def fake_build(dialect, seed, *, events, **kw):
        asked.append(events)  # before the cap: 99,999,999,999 events generated in memory
        raise ValueError("not built in this test")

    monkeypatch.setattr(generators, "build_bundle", fake_build)
    with pytest.raises(ScriptError, match="at most"):
        load_scripts("gen:v2:99999999999:0")
    assert asked == []


# --- an empty path option: an unset variable in CI ------------------------------------------------

@pytest.mark.parametrize("command", [
    ["schema", "--out", ""],  # wrote the schema files into the current directory
    ["validate", "corpus:codex-0.164.0/basic", "-o", ""],  # wrote the report to stdout
    ["validate", "corpus:codex-0.164.0/basic", "--state", ""],  # ran without a state file
    ["invariants", "-o", ""],
    ["fuzz-reducer", "--cmd", "true", "--repro-dir", "", "--examples", "1"],
    ["conformance", "tarball", ""],
])
def test_an_empty_path_option_is_a_usage_error_and_writes_nothing(tmp_path, command):
    proc = _rt(*command, cwd=tmp_path)
    assert proc.returncode == 2, proc
    assert b"is empty (an unset variable?)" in proc.stderr
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("command", [
    ["replay", "--cmd", "true", ""],  # replayed the current directory when it held a saved case
    ["check-writer", "--cmd", "true", "--script", "bundle:"],  # replayed the bundle in the current directory
    ["check-writer", "--cmd", "true", "--script", "file:"],
])
def test_an_empty_path_argument_is_a_usage_error_never_the_current_directory(tmp_path, command):
    import shutil

    from rollout_trace_kit.corpus import corpus_root

    shutil.copytree(corpus_root() / "codex-0.169.0" / "plain", tmp_path / "bundle")  # a saved case's shape
    shutil.copytree(corpus_root() / "codex-0.169.0" / "plain", tmp_path, dirs_exist_ok=True)  # and a bundle's
    (tmp_path / "case.json").write_text("{}")
    proc = _rt(*command, cwd=tmp_path)
    assert proc.returncode == 2 and b"Traceback" not in proc.stderr, proc
    assert b"unset variable" in proc.stderr and b"case.json" not in proc.stderr, proc.stderr


# --- the kit never writes into a bundle it checks, even from inside it ----------------------------

def test_validating_the_current_directory_writes_nothing_into_it(tmp_path):
    import shutil

    from rollout_trace_kit.corpus import corpus_root

    bundle = tmp_path / "bundle"
    shutil.copytree(corpus_root() / "codex-0.164.0" / "basic", bundle)
    before = sorted(p.name for p in bundle.iterdir())
    # a cold Hypothesis cache: its Unicode table is written where Hypothesis keeps its files
    env = {**os.environ, "ROLLOUT_TRACE_KIT_CACHE": str(tmp_path / "cache")}
    proc = _rt("validate", ".", "-q", cwd=bundle, env=env)
    assert proc.returncode == 0, proc
    assert sorted(p.name for p in bundle.iterdir()) == before  # no .hypothesis/ in the bundle


def test_hypothesis_keeps_its_files_in_the_kits_cache_whenever_a_command_imports_it(tmp_path):
    """A command that only validates does not import Hypothesis (its cost: cli._hypothesis_home); one that does
    gets its home pointed at the kit's cache before Hypothesis can write anything."""
    code = ("import sys\n"
            "from rollout_trace_kit.cli import main\n"
            "assert main(['validate', '-q', 'corpus:codex-0.164.0/plain']) == 0\n"
            "print('hypothesis' in sys.modules)\n"
            "import hypothesis.configuration as c\n"
            "print(getattr(c, '__hypothesis_home_directory'))\n")
    env = {**os.environ, "ROLLOUT_TRACE_KIT_CACHE": str(tmp_path / "cache")}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, env=env,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == ["False", str(tmp_path / "cache" / "hypothesis")]


# --- replay: the copy of a saved case ----------------------------------------------------------

def test_replay_refuses_a_saved_case_larger_than_its_cap(tmp_path, monkeypatch):
    from rollout_trace_kit.conformance.reducer import cli

    src = tmp_path / "bundle"
    (src / "payloads").mkdir(parents=True)
    (src / "manifest.json").write_text("{}")
    with open(src / "payloads" / "1.json", "wb") as f:
        f.truncate(10_000)  # sparse: no disk in the saved case, all of it in a copy
    monkeypatch.setattr(cli, "MAX_CASE_BYTES", 1000, raising=False)
    with pytest.raises(cli.UsageError, match="more than 1000 bytes"):
        cli.copy_case_tree(src, tmp_path / "copy")
    # what fits is copied whole
    (src / "payloads" / "1.json").write_bytes(b"x" * 990)
    cli.copy_case_tree(src, tmp_path / "copy2")
    assert (tmp_path / "copy2" / "payloads" / "1.json").read_bytes() == b"x" * 990


# --- conformance run: the command under test is someone else's --------------------------------

def _first_case(dialect: str = "v2"):
    import json

    from rollout_trace_kit.conformance.suite import CASES, INDEX, suite_root

    root = suite_root()
    row = next(r for r in json.loads((root / CASES / INDEX).read_text())["cases"]
               if r["dialect"] == dialect and r["kind"] == "valid")
    return root, json.loads((root / row["expected"]).read_text())


def test_conformance_run_keeps_a_bounded_tail_of_what_the_command_prints():
    import tracemalloc

    from rollout_trace_kit.conformance.suite.run import run_case

    root, expected = _first_case()
    tracemalloc.start()
    try:
        # 32 MiB on stdout and on stderr, then a rejection of a valid case
        out = run_case(root, expected, "head -c 33554432 /dev/zero; head -c 33554432 /dev/zero >&2; exit 1",
                       profile="reducer", release=None, timeout=300)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert out.status == "fail" and out.detail.startswith("rejected")
    assert peak < 8 << 20, peak  # the whole output was held (twice as text) before


def test_conformance_run_kills_what_the_command_left_behind(tmp_path):
    from ._helpers import process_gone
    from rollout_trace_kit.conformance.suite.run import run_case

    root, expected = _first_case()
    marker = f"{tmp_path}/left-behind"
    # a background child that holds no pipe: the run ends at once, the child would live on
    cmd = f"sh -c 'sleep 600; : {marker}' </dev/null >/dev/null 2>&1 & exit 0"
    out = run_case(root, expected, cmd, profile="reducer", release=None, timeout=300)
    assert out.status == "pass", out
    assert process_gone(marker)


def test_conformance_run_escapes_a_case_id(monkeypatch, capsys):
    from rollout_trace_kit.conformance.suite import cli, run

    evil = "v2/x\n::add-mask::secret\x1b[31m##[error]y"
    monkeypatch.setattr(run, "run_suite", lambda *a, **k: [run.Outcome(evil, "pass")])
    import argparse

    args = argparse.Namespace(profile="reducer", release=None, writer=False, root=None, cmd="true",
                              dialect=None, timeout=1.0, only=None)
    assert cli._cmd_run(args) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out and "##[" not in out
    assert not any(line.strip().startswith("::") for line in out.splitlines())


@pytest.mark.parametrize("options", [
    ["--profile", "reducer", "--timeout", "0"],  # every case "failed" with "no exit within 0 s"
    ["--profile", "reducer", "--timeout", "nan"],
    ["--release", "0.0.1"],  # no case has a verdict for it: all skipped, and exit 0
])
def test_conformance_run_that_can_check_nothing_is_a_usage_error(options):
    proc = _rt("conformance", "run", "--cmd", "true", "--only", "v2/valid", *options)
    assert proc.returncode == 2, proc
    assert b"Traceback" not in proc.stderr


@pytest.mark.parametrize("index", ["[]", '{"cases": [{"id": "x"}]}', "[" * 100_000 + "]" * 100_000])
def test_conformance_run_on_a_folder_that_is_not_a_suite_is_a_usage_error(tmp_path, index):
    (tmp_path / "cases").mkdir()
    (tmp_path / "cases" / "index.json").write_text(index)
    proc = _rt("conformance", "run", "--profile", "reducer", "--cmd", "true", "--root", str(tmp_path))
    assert proc.returncode == 2, proc
    assert b"Traceback" not in proc.stderr and b"does not hold a readable suite" in proc.stderr


# --- validate DIR: every bundle below it is judged, or the run says why not ----------------------

def _bundle_at(path):
    path.mkdir(parents=True)
    (path / "manifest.json").write_text("{}")


def _good_and_locked(root, monkeypatch):
    """A bundle ``good`` and a directory ``locked`` that listing refuses (chmod 000 as another user
    would see it); returns the real ``os.scandir``."""
    from pathlib import Path

    _bundle_at(root / "good")
    (root / "locked" / "hidden").mkdir(parents=True)
    scan = os.scandir

    def scandir(path):
        if Path(path).name == "locked":
            raise PermissionError(13, "Permission denied", str(path))
        return scan(path)

    monkeypatch.setattr(os, "scandir", scandir)
    return scan


def test_a_directory_no_one_may_list_is_judged_not_skipped(tmp_path, monkeypatch):
    from rollout_trace_kit.validate.cli import find_bundles

    _good_and_locked(tmp_path, monkeypatch)
    assert find_bundles(tmp_path) == [tmp_path / "good", tmp_path / "locked"]


def test_bundles_deep_in_a_tree_are_found_and_hidden_directories_not_searched(tmp_path):
    import json

    _bundle_at(tmp_path / "shallow")
    _bundle_at(tmp_path / "a" / "b" / "c" / "d" / "e" / "deep")
    # a repository's .git: refs nested deeper than any search, and no bundle
    deep_git = tmp_path / ".git" / "refs" / "/".join(f"r{n}" for n in range(40))
    deep_git.mkdir(parents=True)
    proc = _rt("validate", str(tmp_path), "--format", "json")
    assert b"Traceback" not in proc.stderr and b"not searched" not in proc.stderr  # exit 2 before
    judged = [b["bundle"] for b in json.loads(proc.stdout)["bundles"]]
    assert judged == [str(tmp_path / "a" / "b" / "c" / "d" / "e" / "deep"), str(tmp_path / "shallow")]


def test_a_search_cap_reached_is_a_finding_never_ok(tmp_path):
    import json

    from rollout_trace_kit.validate.cli import MAX_SEARCH_DEPTH

    _bundle_at(tmp_path / "shallow")
    deep = tmp_path / "/".join("d" for _ in range(MAX_SEARCH_DEPTH + 2))
    _bundle_at(deep / "bundle")
    for command in (["validate", str(tmp_path), "--format", "json"], ["compat", str(tmp_path), "--format", "json"]):
        proc = _rt(*command)
        assert proc.returncode == 1, proc
        rows = json.loads(proc.stdout)["bundles"]
        stopped = [r for r in rows if r["bundle"] != str(tmp_path / "shallow")]
        assert len(stopped) == 1 and str(deep) not in stopped[0]["bundle"]
        if command[0] == "validate":
            assert [f["invariant"] for f in stopped[0]["findings"]] == ["KIT.SEARCH_CAP"]
            assert "searched 32 directories deep" in stopped[0]["findings"][0]["message"]
        else:
            assert not stopped[0].get("readers")


def test_the_search_stops_after_its_entry_cap_with_a_finding(tmp_path, monkeypatch):
    from rollout_trace_kit.validate import cli

    _bundle_at(tmp_path / "a")
    for n in range(20):
        (tmp_path / "z" / f"f{n}").mkdir(parents=True)
    monkeypatch.setattr(cli, "MAX_SEARCH_ENTRIES", 10)
    unsearched: dict = {}
    found = cli.find_bundles(tmp_path, unsearched)
    assert found == [tmp_path / "a", tmp_path / "z"] and list(unsearched) == [tmp_path / "z"]
    assert "stops after 10 entries" in unsearched[tmp_path / "z"]


def test_the_fleet_table_lists_a_directory_no_one_may_list(tmp_path, monkeypatch):
    from rollout_trace_kit.validate.table import bundle_paths, judge_rows

    scan = _good_and_locked(tmp_path, monkeypatch)
    paths = bundle_paths(tmp_path)
    assert paths == [str(tmp_path / "good"), str(tmp_path / "locked")]  # skipped silently before
    monkeypatch.setattr(os, "scandir", scan)
    rows = judge_rows(paths[1])
    assert rows[0]["ok"] is False and rows[0]["findings"] > 0


@pytest.mark.parametrize("where", ["inside", "itself"])
def test_check_writer_never_keeps_bundles_in_a_bundle_it_replays(tmp_path, where):
    import shutil

    from rollout_trace_kit.corpus import corpus_root

    bundle = tmp_path / "bundle"
    shutil.copytree(corpus_root() / "codex-0.164.0" / "basic", bundle)
    before = sorted(p.name for p in bundle.iterdir())
    keep = bundle / "kept" if where == "inside" else bundle
    proc = _rt("check-writer", "--cmd", f"{sys.executable} -m rollout_trace_kit.writer", "--script",
               f"bundle:{bundle}", "--keep", str(keep), "--crash", "none", "-q", "--progress", "never")
    assert proc.returncode == 2, proc
    assert b"never writes into a bundle" in proc.stderr
    assert sorted(p.name for p in bundle.iterdir()) == before


# --- the release summary's caps: past one the kit declined to judge -------------------------------

@pytest.mark.parametrize("cap", ["MAX_KEYSETS", "MAX_NAMES"])
def test_a_release_summary_cap_reached_is_an_error_never_ok(monkeypatch, cap):
    from rollout_trace_kit.corpus import corpus_root
    from rollout_trace_kit.validate import Options, Profile, validate_bundle
    from rollout_trace_kit.validate.compat_cli import judge_bundle
    from rollout_trace_kit.validate.rules import release

    bundle = corpus_root() / "codex-0.169.0" / "tools"
    assert validate_bundle(bundle, Options(profile=Profile.REDUCER, release="0.169.0")).ok
    monkeypatch.setattr(release, cap, 0)  # every bundle past the cap, as a hostile one is past 64 or 256
    report = validate_bundle(bundle, Options(profile=Profile.REDUCER, release="0.169.0"))
    assert not report.ok  # "ok" before: the rules judged the first key set of each variant alone
    capped = [f for f in report.findings if f.invariant == "KIT.RELEASE_RULES_CAP"]
    assert capped and capped[0].severity.value == "error" and "declined" in capped[0].message
    assert judge_bundle(bundle)["readers"] == []  # compat names no reader


def test_a_bundle_past_the_key_set_cap_fails_validate_release_and_compat(tmp_path):
    import json
    import shutil

    from rollout_trace_kit.corpus import corpus_root
    from rollout_trace_kit.validate.rules.release import MAX_KEYSETS

    bundle = tmp_path / "bundle"
    shutil.copytree(corpus_root() / "codex-0.169.0" / "basic", bundle)
    lines = (bundle / "trace.jsonl").read_bytes().splitlines()
    first = json.loads(lines[0])
    extra = []
    for n in range(MAX_KEYSETS + 1):  # one variant, a key set per event (serde ignores the unknown key)
        ev = json.loads(json.dumps(first))
        ev["payload"][f"x{n}"] = 1
        extra.append(json.dumps(ev).encode())
    (bundle / "trace.jsonl").write_bytes(b"\n".join(lines[:1] + extra + lines[1:]) + b"\n")
    proc = _rt("validate", str(bundle), "--profile", "reducer", "--release", "0.169.0", "--format", "json")
    found = {f["invariant"] for b in json.loads(proc.stdout)["bundles"] for f in b["findings"]}
    assert proc.returncode == 1 and "KIT.RELEASE_RULES_CAP" in found, proc.stdout[-2000:]
    compat = _rt("compat", str(bundle), "--format", "json")
    assert compat.returncode == 1 and json.loads(compat.stdout)["bundles"][0]["readers"] == []


# --- manifest.json and trace.jsonl as symbolic links ----------------------------------------------

def _linked_bundle(tmp_path, name: str, out: bool):
    import shutil

    from rollout_trace_kit.corpus import corpus_root

    bundle = tmp_path / "bundle"
    shutil.copytree(corpus_root() / "codex-0.169.0" / "basic", bundle)
    where = tmp_path / "elsewhere" if out else bundle / "kept"
    where.mkdir()
    (bundle / name).rename(where / name)
    (bundle / name).symlink_to(where / name)
    return bundle


@pytest.mark.parametrize("name", ["manifest.json", "trace.jsonl"])
def test_a_link_out_of_the_bundle_is_not_read_and_the_kit_declines(tmp_path, name):
    import json

    bundle = _linked_bundle(tmp_path, name, out=True)
    secret = b"secret-of-someone-else ::error::x"
    (tmp_path / "elsewhere" / name).write_bytes(secret)  # read and quoted in a finding before
    for profile in ("reducer", "writer", "strict"):
        proc = _rt("validate", str(bundle), "--profile", profile, "--format", "json")
        assert proc.returncode == 1, proc  # "ok" before, in the reducer profile, for a real file there
        findings = json.loads(proc.stdout)["bundles"][0]["findings"]
        assert [f["invariant"] for f in findings] == ["BUNDLE.CONFINED"] and b"secret" not in proc.stdout
    compat = _rt("compat", str(bundle), "--format", "json")
    assert compat.returncode == 1 and json.loads(compat.stdout)["bundles"][0]["readers"] == []
    assert b"secret" not in compat.stdout


@pytest.mark.parametrize("name", ["manifest.json", "trace.jsonl"])
def test_a_link_inside_the_bundle_is_read_and_a_writer_finding(tmp_path, name):
    import json

    bundle = _linked_bundle(tmp_path, name, out=False)
    reducer = _rt("validate", str(bundle), "--profile", "reducer", "-q")
    assert reducer.returncode == 0, reducer  # the reducers read it (measured on 0.164.0, 0.169.0, 0.171.0)
    writer = _rt("validate", str(bundle), "--format", "json")
    assert writer.returncode == 1, writer
    assert [f["invariant"] for f in json.loads(writer.stdout)["bundles"][0]["findings"]] == ["BUNDLE.NOT_LINKED"]


# --- a descendant that leaves the process group (setsid) is killed after its run -------------------

SLEEPER = os.path.join(os.path.dirname(__file__), "reducers", "setsid_sleeper.py")
needs_subreaper = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_CHILD_SUBREAPER is Linux's")


@needs_subreaper
@pytest.mark.parametrize("clean_env", [False, True], ids=["inherits", "drops-its-environment"])
def test_fuzz_reducer_kills_a_setsid_descendant(tmp_path, clean_env):
    import uuid

    from ._helpers import process_gone

    marker = f"rtk-setsid-{uuid.uuid4().hex}"
    cmd = f"{sys.executable} {SLEEPER} {{bundle}} {marker}" + (" --clean-env" if clean_env else "")
    proc = _rt("fuzz-reducer", "--cmd", cmd, "--dialect", "v2", "--examples", "3", "--seed", "0", "--jobs", "1",
               "--invariant", "SEQ.NO_GAP", "--no-shrink", "--format", "json", "--repro-dir", str(tmp_path / "r"),
               cwd=tmp_path, timeout=600)
    assert proc.returncode in (0, 1), proc.stderr[-2000:]
    assert process_gone(marker)  # the sleepers lived on for 600 s before


@needs_subreaper
@pytest.mark.parametrize("clean_env", [False, True], ids=["inherits", "drops-its-environment"])
def test_conformance_run_kills_a_setsid_descendant(clean_env):
    import uuid

    from ._helpers import process_gone
    from rollout_trace_kit.conformance.suite.run import run_case

    root, expected = _first_case()
    marker = f"rtk-setsid-{uuid.uuid4().hex}"
    env = "env -i PATH=/usr/bin:/bin " if clean_env else ""
    cmd = f"{env}setsid sh -c 'sleep 600; : {marker}' </dev/null >/dev/null 2>&1 & exit 0"
    out = run_case(root, expected, cmd, profile="reducer", release=None, timeout=300)
    assert out.status == "pass", out
    assert process_gone(marker)


@needs_subreaper
def test_check_writer_kills_a_setsid_descendant_of_the_writer(tmp_path):
    import uuid

    from ._helpers import process_gone
    from rollout_trace_kit.conformance.writer.process import WriterProcess

    marker = f"rtk-setsid-{uuid.uuid4().hex}"
    writer = WriterProcess(["sh", "-c", f"setsid sh -c 'sleep 600; : {marker}' </dev/null >/dev/null 2>&1 & cat"])
    writer.send(b"{}", timeout=30)
    assert writer.receive(timeout=30) == b"{}"
    writer.cleanup()
    assert process_gone(marker)


# --- an output path that is a FIFO no process reads: an error, not a hang --------------------------

@pytest.mark.parametrize("command", [
    ["invariants", "-o", "{fifo}"],
    ["validate", "corpus:codex-0.164.0/basic", "-o", "{fifo}"],
    ["validate", "corpus:codex-0.164.0/basic", "--report", "sarif={fifo}", "-q"],
    ["conformance", "tarball", "{fifo}"],
    ["fuzz-reducer", "--cmd", "true", "--examples", "1", "--repro-dir", "r", "-o", "{fifo}"],
])
def test_an_output_fifo_no_one_reads_is_exit_2_not_a_hang(tmp_path, command):
    fifo = tmp_path / "out.fifo"
    os.mkfifo(fifo)
    proc = _rt(*[c.replace("{fifo}", str(fifo)) for c in command], cwd=tmp_path, timeout=300)  # waited forever before
    assert proc.returncode == 2, proc
    assert b"Traceback" not in proc.stderr and b"a FIFO no process reads" in proc.stderr


def test_an_output_pipe_someone_reads_is_written():
    import threading

    read, write = os.pipe()
    got = []
    reader = threading.Thread(target=lambda: got.append(os.read(read, 1 << 20)))
    reader.start()
    proc = _rt("invariants", "-o", f"/proc/self/fd/{write}", pass_fds=(write,))
    os.close(write)
    reader.join(60)
    os.close(read)
    assert proc.returncode == 0, proc
    assert got and b"BUNDLE.IS_DIRECTORY" in got[0]


# --- fuzz-reducer merge: a report is input; its strings never reach the log raw --------------------

def test_the_fuzz_report_summary_escapes_every_string_of_a_merged_report():
    import io

    from rollout_trace_kit.conformance.reducer.report import print_human

    evil = "X\n::error::pwn##[warning]y\r\n::add-mask::z\x1b[31m\u2028::error::ls"
    doc = {
        "failures": [], "expected_failures": [], "new_failures": [evil], "cases": evil, "seconds": 1, "seed": evil,
        "stale_known_results": [],
        "results": {"pass": evil}, "skipped": evil,
        "oracles": {"results": {evil: {"pass": evil, "fail": 0, "n/a": 0}}, "normalizer": evil,
                    "never_applied": {evil: evil}},
        "not_run": [{"invariant": evil}], "mode": evil,
        "model_coverage": {"variants": {"total": 2, "covered": 1, "missing": [evil]}},
        "never_exercised": [evil],
    }
    out = io.StringIO()
    print_human(doc, file=out, summary_only=True, color="never")
    text = out.getvalue()
    assert "\x1b" not in text and "\u2028" not in text and "##[" not in text and "\r" not in text
    assert not any(line.lstrip().startswith("::") for line in text.splitlines()), text
    assert text.count("X") >= 8  # every field printed (escaped), none dropped


# --- conformance run --root: a suite from someone else never writes or reads outside it ----------

def _evil_suite(tmp_path, recipe=None, bundle="cases/v2/x/bundle", expected="cases/v2/x/expected.json"):
    import json

    root = tmp_path / "suite"
    case = root / "cases" / "v2" / "x"
    (case / "bundle").mkdir(parents=True)
    (case / "bundle" / "manifest.json").write_text("{}")
    (root / "cases" / "index.json").write_text(json.dumps(
        {"cases": [{"id": "v2/x", "dialect": "v2", "kind": "invalid", "expected": expected}]}))
    doc = {"id": "v2/x", "dialect": "v2", "kind": "invalid", "bundle": bundle, "recipe": recipe or [],
           "profiles": {p: {"verdict": "invalid", "errors": [], "warnings": []} for p in ("reducer", "writer", "strict")}}
    (case / "expected.json").write_text(json.dumps(doc))
    return root


@pytest.mark.parametrize("attack", ["symlink-then-file", "symlink-then-dir", "final-symlink"])
def test_a_suite_recipe_never_writes_outside_the_bundle_copy(tmp_path, attack):
    victim = tmp_path / "victim"
    victim.mkdir()
    recipe = {
        "symlink-then-file": [{"make": "symlink", "path": "a", "target": str(victim)},
                              {"make": "big_file", "path": "a/owned", "head": "x", "fill": "y", "count": 1, "tail": ""}],
        "symlink-then-dir": [{"make": "symlink", "path": "a", "target": str(victim)},
                             {"make": "dir", "path": "a/sub/owned"}],
        "final-symlink": [{"make": "symlink", "path": "owned", "target": str(victim / "owned")},
                          {"make": "big_file", "path": "owned", "head": "x", "fill": "y", "count": 1, "tail": ""}],
    }[attack]
    root = _evil_suite(tmp_path, recipe)
    proc = _rt("conformance", "run", "--profile", "reducer", "--cmd", "exit 1", "--root", str(root))
    assert list(victim.iterdir()) == []  # written through the symlink before
    assert proc.returncode == 2 and b"Traceback" not in proc.stderr, proc


@pytest.mark.parametrize("where", ["bundle", "expected"])
def test_a_suite_naming_a_path_outside_itself_is_a_usage_error(tmp_path, where):
    outside = tmp_path / "elsewhere"
    (outside / "secret").mkdir(parents=True)
    (outside / "secret" / "manifest.json").write_text("{}")
    kw = {"bundle": "../elsewhere/secret"} if where == "bundle" else {"expected": "/dev/zero"}
    root = _evil_suite(tmp_path, **kw)
    # a command that would show what it was given: it must never be run on the secret
    proc = _rt("conformance", "run", "--profile", "reducer", "--cmd", "ls {bundle}; exit 1", "--root", str(root),
               timeout=120)
    assert proc.returncode == 2 and b"does not hold a readable suite" in proc.stderr, proc


def test_a_suite_big_file_past_its_cap_is_refused(tmp_path):
    recipe = [{"make": "big_file", "path": "trace.jsonl", "head": "", "fill": "x", "count": 1 << 40, "tail": ""}]
    proc = _rt("conformance", "run", "--profile", "reducer", "--cmd", "exit 1", "--root", str(_evil_suite(tmp_path, recipe)),
               timeout=120)  # a terabyte written to the temporary directory before
    assert proc.returncode == 2 and b"larger than" in proc.stderr, proc


@pytest.mark.parametrize("command", [
    ["fuzz-reducer", "merge", "{fifo}"],
    ["fuzz-reducer", "--cmd", "true", "--known", "{fifo}", "--examples", "1", "--repro-dir", "r"],
])
def test_a_report_or_known_file_that_is_a_fifo_is_exit_2_not_a_hang(tmp_path, command):
    fifo = tmp_path / "in.fifo"
    os.mkfifo(fifo)
    proc = _rt(*[c.replace("{fifo}", str(fifo)) for c in command], cwd=tmp_path, timeout=120)  # waited forever before
    assert proc.returncode == 2 and b"a FIFO" in proc.stderr and b"Traceback" not in proc.stderr, proc


# --- the Node runner (conformance/runners/node/run.mjs): the Python runner's caps and confinement -

NODE_RUNNER = os.path.join(os.path.dirname(__file__), "..", "conformance", "runners", "node", "run.mjs")


def _node_run(root, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run(["node", NODE_RUNNER, str(root), *args], capture_output=True, text=True, timeout=timeout)


def _huge(path, size: int) -> None:
    with open(path, "wb") as f:  # sparse: no disk, but a reader without a cap takes it all
        f.truncate(size)


@pytest.mark.skipif(shutil.which("node") is None, reason="needs Node.js (the machine's CI has it)")
@pytest.mark.parametrize("attack", ["expected-fifo", "expected-huge", "index-fifo", "expected-dev-zero",
                                    "bundle-outside", "bundle-huge", "bundle-fifo", "big-file-past-cap"])
def test_the_node_runner_refuses_a_hostile_suite_with_exit_2_not_a_hang(tmp_path, attack):
    kw = {"expected-dev-zero": {"expected": "x/../../../../../../../dev/zero"},
          "bundle-outside": {"bundle": "../elsewhere"}}.get(attack, {})
    recipe = [{"make": "big_file", "path": "trace.jsonl", "head": "", "fill": "x", "count": 1 << 40, "tail": ""}]
    root = _evil_suite(tmp_path, recipe if attack == "big-file-past-cap" else None, **kw)
    case = root / "cases" / "v2" / "x"
    (tmp_path / "elsewhere").mkdir()
    if attack.endswith("-fifo"):
        target = {"expected": case / "expected.json", "index": root / "cases" / "index.json",
                  "bundle": case / "bundle" / "trace.jsonl"}[attack.split("-")[0]]
        target.unlink(missing_ok=True)
        os.mkfifo(target)  # read without a cap or a type check: a hang before
    elif attack == "expected-huge":
        _huge(case / "expected.json", (16 << 20) + 1)  # read whole, then a JSON traceback, before
    elif attack == "bundle-huge":
        _huge(case / "bundle" / "trace.jsonl", (256 << 20) + 1)  # copied whole, before
    proc = _node_run(root, "--profile", "reducer", "--", "exit 1")
    assert proc.returncode == 2 and proc.stdout.startswith("Bail out! "), proc
    assert "    at " not in proc.stderr  # no stack trace


@pytest.mark.skipif(shutil.which("node") is None, reason="needs Node.js (the machine's CI has it)")
def test_the_node_runner_escapes_what_a_suite_says(tmp_path):
    import json

    root = _evil_suite(tmp_path)
    evil = "v2/x\n::add-mask::secret ##[error]no\u2028"
    index = json.loads((root / "cases" / "index.json").read_text())
    index["cases"][0]["id"] = evil
    index["reducer_errors"] = []
    (root / "cases" / "index.json").write_text(json.dumps(index))
    proc = _node_run(root, "--profile", "reducer", "--", "exit 0")  # accepts an invalid case: "not ok"
    assert proc.returncode == 1 and "not ok 1 v2/x" in proc.stdout, proc
    assert "##[" not in proc.stdout and "\u2028" not in proc.stdout
    assert not any(line.lstrip().startswith("::") for line in proc.stdout.splitlines()), proc.stdout


# --- durations: NaN made every case a hang at once; inf or 1e308 a traceback in a timer thread ----

@pytest.mark.parametrize("value", ["nan", "inf", "1e308", "-1"])
@pytest.mark.parametrize("command", [
    ["replay", "--cmd", "true", "case", "--timeout"],
    ["fuzz-reducer", "--cmd", "true", "--examples", "1", "--timeout"],
    ["check-writer", "--cmd", "true", "--timeout"],
    ["check-writer", "--cmd", "true", "--inflight-delay"],
    ["conformance", "run", "--cmd", "true", "--profile", "reducer", "--timeout"],
    ["codex", "diff", "--mutations", "1", "--timeout"],
])
def test_a_duration_that_is_not_a_finite_number_of_seconds_is_a_usage_error(tmp_path, command, value):
    proc = _rt(*command, value, cwd=tmp_path, timeout=120)
    assert proc.returncode == 2 and b"Traceback" not in proc.stderr, proc
    assert b"expected a number of seconds" in proc.stderr, proc.stderr


def test_a_duration_from_the_config_file_is_checked_as_on_the_command_line(tmp_path):
    (tmp_path / "pyproject.toml").write_text("[tool.rollout-trace.replay]\ntimeout = nan\n")
    proc = _rt("replay", "--cmd", "true", "case", cwd=tmp_path)
    assert proc.returncode == 2 and b"Traceback" not in proc.stderr, proc
    assert b"timeout = nan" in proc.stderr and b"expected a number of seconds" in proc.stderr, proc.stderr


@pytest.mark.parametrize("attack", ["huge", "deep"])
def test_a_hostile_pyproject_in_the_working_directory_is_exit_2_with_a_message(tmp_path, attack):
    # a checkout someone else made: a 3 GB sparse file was read whole (4.9 GB), a deep one a traceback
    path = tmp_path / "pyproject.toml"
    if attack == "huge":
        with open(path, "wb") as f:
            f.truncate(20 << 20)
    else:
        path.write_text("[tool.x]\na = " + "[" * 100_000 + "]" * 100_000 + "\n")
    proc = _rt("invariants", "-o", os.devnull, cwd=tmp_path)
    assert proc.returncode == 2 and b"Traceback" not in proc.stderr, proc
    assert (b"larger than the 16777216 bytes" if attack == "huge" else b"recursion") in proc.stderr, proc.stderr


def test_a_writer_case_whose_bundle_holds_a_fifo_fails_not_hangs(tmp_path):
    import json
    import shutil

    from rollout_trace_kit.conformance.suite import suite_root

    suite, root = suite_root(), tmp_path / "suite"
    index = json.loads((suite / "cases" / "index.json").read_text())
    [row] = [r for r in index["cases"] if r["id"] == "v2/writer-lifecycle"]
    index["cases"] = [row]
    (root / "cases").mkdir(parents=True)
    (root / "cases" / "index.json").write_text(json.dumps(index))
    shutil.copytree(suite / "cases" / "v2" / "writer-lifecycle", root / "cases" / "v2" / "writer-lifecycle")
    bundle = root / json.loads((root / row["expected"]).read_text())["bundle"]
    (bundle / "manifest.json").unlink()
    os.mkfifo(bundle / "manifest.json")  # read to compare with the written one: a hang before
    writer = os.path.join(os.path.dirname(sys.executable), "rollout-trace-writer")
    proc = _rt("conformance", "run", "--writer", "--cmd", writer, "--root", str(root), timeout=300)
    assert proc.returncode == 1 and b"not ok 1" in proc.stdout and b"is a FIFO" in proc.stdout, proc


@pytest.mark.skipif(shutil.which("node") is None, reason="needs Node.js (the machine's CI has it)")
def test_the_node_runner_never_compares_with_a_bundle_outside_the_suite(tmp_path):
    import json

    from rollout_trace_kit.conformance.suite import suite_root

    suite, root = suite_root(), tmp_path / "suite"
    index = json.loads((suite / "cases" / "index.json").read_text())
    index["cases"] = [r for r in index["cases"] if r["id"] == "v2/writer-lifecycle"]
    (root / "cases").mkdir(parents=True)
    (root / "cases" / "index.json").write_text(json.dumps(index))
    case = root / "cases" / "v2" / "writer-lifecycle"
    shutil.copytree(suite / "cases" / "v2" / "writer-lifecycle", case)
    expected = json.loads((case / "expected.json").read_text())
    shutil.copytree(root / expected["bundle"], tmp_path / "elsewhere")
    expected["bundle"] = "../elsewhere"  # read (and compared with) before
    (case / "expected.json").write_text(json.dumps(expected))
    writer = os.path.join(os.path.dirname(sys.executable), "rollout-trace-writer")
    proc = _node_run(root, "--writer", "--", writer, timeout=300)
    assert proc.returncode == 1 and "not ok 1" in proc.stdout and "leaves" in proc.stdout, proc



@needs_subreaper
def test_a_run_that_ends_never_sweeps_a_run_starting_in_another_thread(monkeypatch):
    """check-writer runs scripts in threads. The last run to end swept "orphans" (children of the kit in
    another session that no live run started) outside the lock, so a writer another thread started meanwhile
    was taken for one and killed: "start: the writer closed its standard input (exit status -9)", a failure
    of test_node_writer_is_driven_successfully now and then. Here the other thread starts its run and its
    child while the sweep is about to look."""
    import subprocess
    import threading

    from rollout_trace_kit.conformance import reaper

    sweeping, started, real = threading.Event(), threading.Event(), reaper._sweep_orphans

    def sweep():
        sweeping.set()
        started.wait(2)  # the main thread's run and child start now, unless the sweep holds them off
        real()

    monkeypatch.setattr(reaper, "_sweep_orphans", sweep)
    ender = threading.Thread(target=lambda: reaper.Run().end())  # the only run: its end sweeps
    ender.start()
    assert sweeping.wait(30)
    run = reaper.Run()
    child = subprocess.Popen(["sleep", "30"], env=run.env, start_new_session=True)
    started.set()
    ender.join()
    alive = child.poll() is None
    child.kill()
    child.wait()
    run.end()
    assert alive
