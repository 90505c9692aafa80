"""Fleets of bundles (issue 21, items 4 and 5): streaming, parallel judging that survives a
worker's death, resumable runs, and a tree walk that neither follows nor skips what it meets."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from rollout_trace_kit.corpus import corpus_root
from rollout_trace_kit.validate import Options
from rollout_trace_kit.validate.fleet import judge

from . import fleet_checks
from ._helpers import pid_running

RTK = [sys.executable, "-m", "rollout_trace_kit"]
TOOLS = corpus_root() / "codex-0.169.0" / "tools"


def rtk(*args, cwd, timeout=300):
    return subprocess.run([*RTK, *args], capture_output=True, text=True, cwd=cwd, timeout=timeout)


def tree(root: Path, names) -> list[Path]:
    out = []
    for name in names:
        shutil.copytree(TOOLS, root / name)
        out.append(root / name)
    return out


# -- judge(): completion order, a worker's death ----------------------------------------------


def test_results_come_in_completion_order(tmp_path):
    bundles = tree(tmp_path, ["a-slow", "b", "c", "d"])
    order = [i for i, _ in judge(bundles, Options(), 2, check=fleet_checks.slow_first)]
    assert sorted(order) == [0, 1, 2, 3] and order[-1] == 0  # the slow first bundle finishes last


def test_a_bundle_whose_worker_always_dies_gets_an_internal_error_finding(tmp_path):
    bundles = tree(tmp_path, ["a", "b", "poison", "c", "d", "e"])
    said: list[str] = []
    reports = dict(judge(bundles, Options(), 2, check=fleet_checks.poison_dies, warn=said.append))
    assert sorted(reports) == list(range(6))
    poisoned = reports[2]
    assert not poisoned.ok and [f.invariant for f in poisoned.findings] == ["KIT.INTERNAL_ERROR"]
    assert "died, twice" in poisoned.findings[0].message
    assert all(reports[i].ok for i in (0, 1, 3, 4, 5))  # the others are judged as usual
    assert said and "a worker process died" in said[0]


def test_a_worker_that_died_once_is_retried_alone_and_judged(tmp_path):
    bundles = tree(tmp_path / "t", ["a", "poison", "b"])
    reports = dict(judge(bundles, Options(), 2, check=fleet_checks.dies_once))
    assert sorted(reports) == [0, 1, 2] and all(r.ok for r in reports.values())
    assert (tmp_path / "t" / "died-once").exists()


def _children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(x) for x in text.split()]


def test_validate_survives_a_worker_killed_from_outside(tmp_path):
    """The OOM killer's way: SIGKILL to one worker of `validate -j 2`. Before: a BrokenProcessPool
    traceback and exit 1; now every bundle is reported, exit by the findings (0 here)."""
    # 40 bundles: the kill follows the first result line at once, the other 39 take seconds
    tree(tmp_path / "fleet", [f"b{n:03d}" for n in range(40)])
    proc = subprocess.Popen([*RTK, "validate", "fleet", "-j", "2", "--format", "jsonl", "--progress", "never"],
                            cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    first = proc.stdout.readline()
    workers = [c for c in _children(proc.pid) if c != proc.pid]
    assert workers, "no worker process found"
    os.kill(workers[0], signal.SIGKILL)
    rest, err = proc.stdout.read(), proc.stderr.read()  # not communicate(): it skips what readline buffered
    proc.wait(timeout=300)
    lines = [json.loads(x) for x in [first, *rest.splitlines()]]
    assert proc.returncode == 0 and "Traceback" not in err, err
    assert sorted(x["bundle"] for x in lines) == [f"fleet/b{n:03d}" for n in range(40)]
    assert "a worker process died" in err


# -- streaming and the whole-run formats --------------------------------------------------------


def test_jsonl_streams_while_sarif_and_junit_are_whole_and_sorted(tmp_path):
    bundles = tree(tmp_path / "fleet", ["c", "a", "b"])
    (bundles[0] / "trace.jsonl").write_text("not json\n")
    out = rtk("validate", "fleet", "-j", "2", "--format", "jsonl", "--report", "sarif=r.sarif",
              "--report", "junit=r.xml", cwd=tmp_path)
    assert out.returncode == 1, out.stderr
    lines = [json.loads(x) for x in out.stdout.splitlines()]
    assert sorted(x["bundle"] for x in lines) == ["fleet/a", "fleet/b", "fleet/c"]
    assert {x["bundle"]: x["ok"] for x in lines} == {"fleet/a": True, "fleet/b": True, "fleet/c": False}
    sarif = json.loads((tmp_path / "r.sarif").read_text())
    assert {r["properties"]["bundle"] for r in sarif["runs"][0]["results"]} == {"fleet/c"}
    suites = [s.get("name") for s in ET.parse(tmp_path / "r.xml").getroot()]
    assert suites == ["fleet/a", "fleet/b", "fleet/c"]
    assert "FAIL: 3 bundle(s), 1 failing" in out.stderr


def test_jsonl_lines_reach_a_reader_before_the_run_ends(tmp_path):
    tree(tmp_path / "fleet", [f"b{n:03d}" for n in range(40)])
    proc = subprocess.Popen([*RTK, "validate", "fleet", "-j", "1", "--format", "jsonl"], cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    first = proc.stdout.readline()
    still_running = proc.poll() is None
    rest = proc.stdout.read()
    proc.wait(timeout=300)
    assert json.loads(first)["ok"] and len(rest.splitlines()) == 39
    assert still_running  # a line came out while 39 bundles were left (flushed per bundle)


# -- resumable runs -----------------------------------------------------------------------------


def _state_lines(path: Path) -> list[dict]:
    return [json.loads(x) for x in path.read_text().splitlines() if x.strip()]


def test_a_rerun_skips_bundles_judged_by_the_same_kit_and_options(tmp_path):
    bundles = tree(tmp_path / "fleet", ["a", "b", "c"])
    state = tmp_path / "state.jsonl"
    first = rtk("validate", "fleet", "--state", str(state), "--format", "json", cwd=tmp_path)
    assert first.returncode == 0 and len(_state_lines(state)) == 3
    again = rtk("validate", "fleet", "--state", str(state), "--format", "json", cwd=tmp_path)
    assert again.returncode == 0 and len(_state_lines(state)) == 3  # nothing judged again
    assert json.loads(again.stdout)["bundles"] == json.loads(first.stdout)["bundles"]  # the same report
    with open(bundles[1] / "trace.jsonl", "a") as f:
        f.write("not json\n")  # b changed: judged again, and now it fails
    changed = rtk("validate", "fleet", "--state", str(state), "--format", "jsonl", cwd=tmp_path)
    assert changed.returncode == 1
    assert [x["path"] for x in _state_lines(state)[3:]] == [str(bundles[1])]  # absolute: any cwd
    strict = rtk("validate", "fleet", "--state", str(state), "--profile", "strict", cwd=tmp_path)
    assert strict.returncode == 1 and len(_state_lines(state)) == 7  # other options: all judged again


def test_a_state_file_cut_mid_line_by_a_crash_is_read_up_to_it(tmp_path):
    tree(tmp_path / "fleet", ["a", "b"])
    state = tmp_path / "state.jsonl"
    rtk("validate", "fleet", "--state", str(state), cwd=tmp_path)
    text = state.read_text()
    cut = _state_lines(state)[-1]["path"]
    state.write_text(text[: len(text) - 40])  # the last line cut short
    again = rtk("validate", "fleet", "--state", str(state), cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    lines = state.read_text().split("\n")
    assert len(_state_lines_ok(lines)) == 2 and json.loads(lines[-2])["path"] == cut  # judged again


def _state_lines_ok(lines: list[str]) -> list[dict]:
    out = []
    for x in lines:
        try:
            out.append(json.loads(x))
        except ValueError:
            pass
    return out


# -- the tree walk and the paths (item 5) --------------------------------------------------------


@pytest.mark.parametrize("args", [["validate", ""], ["compat", ""], ["validate", "--changed", ""]])
def test_an_empty_path_is_a_usage_error(tmp_path, args):
    tree(tmp_path, ["here"])  # the current directory holds a bundle: "" must not mean "."
    out = rtk(*args, cwd=tmp_path / "here")
    assert out.returncode == 2 and "empty PATH" in out.stderr and "Traceback" not in out.stderr


def test_a_bundle_of_dangling_symlinks_in_a_tree_is_a_finding(tmp_path):
    tree(tmp_path / "fleet", ["good"])
    broken = tmp_path / "fleet" / "broken"
    broken.mkdir()
    (broken / "manifest.json").symlink_to(tmp_path / "gone-manifest.json")
    (broken / "trace.jsonl").symlink_to(tmp_path / "gone-trace.jsonl")
    out = rtk("validate", "fleet", "--format", "json", cwd=tmp_path)
    doc = json.loads(out.stdout)
    assert out.returncode == 1 and [b["bundle"] for b in doc["bundles"]] == ["fleet/broken", "fleet/good"]
    assert "BUNDLE.CONFINED" in {f["invariant"] for f in doc["bundles"][0]["findings"]}  # links out: never followed


def test_a_symlinked_bundle_in_a_tree_is_a_finding_but_one_named_is_judged(tmp_path):
    [real] = tree(tmp_path, ["real"])
    tree(tmp_path / "fleet", ["good"])
    (tmp_path / "fleet" / "linked").symlink_to(real)
    out = rtk("validate", "fleet", "--format", "json", cwd=tmp_path)
    doc = json.loads(out.stdout)
    assert out.returncode == 1 and [b["bundle"] for b in doc["bundles"]] == ["fleet/good", "fleet/linked"]
    [finding] = doc["bundles"][1]["findings"]
    assert finding["invariant"] == "BUNDLE.IS_DIRECTORY" and "symbolic link" in finding["message"]
    named = rtk("validate", "fleet/linked", cwd=tmp_path)  # named on the command line: followed
    assert named.returncode == 0, named.stdout


def _links_of_every_kind(tmp_path) -> list[str]:
    """A tree holding a good bundle and a symbolic link of each kind to a directory (a dangling
    one included); the names of the links, sorted."""
    [real] = tree(tmp_path, ["real"])
    tree(tmp_path / "outside" / "dir-of-bundles", ["b"])
    tree(tmp_path / "fleet", ["good"])
    links = {"dangling": tmp_path / "gone", "in-tree": tmp_path / "fleet" / "good", "out-bundle": real,
             "out-dir-of-bundles": tmp_path / "outside" / "dir-of-bundles"}
    for name, target in links.items():
        (tmp_path / "fleet" / name).symlink_to(target)
    (tmp_path / "fleet" / "file-link").symlink_to(real / "manifest.json")  # a file: no bundle, as a file is not
    return sorted(links)


@pytest.mark.parametrize("command", ["validate", "compat"])
def test_every_symlinked_directory_in_a_tree_is_a_finding_never_a_skip(tmp_path, command):
    links = _links_of_every_kind(tmp_path)
    out = rtk(command, "fleet", "--format", "json", cwd=tmp_path)
    doc = json.loads(out.stdout)
    assert out.returncode == 1, out.stderr
    # the dangling link and the link to a directory of bundles were skipped silently before
    assert [b["bundle"] for b in doc["bundles"]] == sorted(["fleet/good", *(f"fleet/{n}" for n in links)])
    if command == "validate":
        for b in doc["bundles"]:
            if b["bundle"] != "fleet/good":
                [finding] = b["findings"]
                assert finding["invariant"] == "BUNDLE.IS_DIRECTORY" and "symbolic link" in finding["message"]
        assert "(dangling)" in doc["bundles"][0]["findings"][0]["message"]


def test_a_symlink_loop_in_a_tree_or_named_is_said_to_be_a_loop_not_dangling(tmp_path):
    tree(tmp_path / "fleet", ["good"])
    (tmp_path / "fleet" / "self").symlink_to("self")
    (tmp_path / "fleet" / "a").symlink_to("b")
    (tmp_path / "fleet" / "b").symlink_to("a")
    out = rtk("validate", "fleet", "--format", "json", cwd=tmp_path)
    doc = json.loads(out.stdout)
    assert out.returncode == 1 and [b["bundle"] for b in doc["bundles"]] == ["fleet/a", "fleet/b", "fleet/good",
                                                                            "fleet/self"]
    for b in doc["bundles"][:2] + doc["bundles"][3:]:
        [finding] = b["findings"]
        assert finding["invariant"] == "BUNDLE.IS_DIRECTORY" and "(a loop: ELOOP)" in finding["message"], finding
        assert "dangling" not in finding["message"]
    named = rtk("validate", "fleet/self", cwd=tmp_path)  # said "no such file or directory" before
    assert named.returncode == 2 and "fleet/self: a symbolic link loop (ELOOP)" in named.stderr, named


def test_compat_says_why_a_bundle_was_not_judged(tmp_path):
    links = _links_of_every_kind(tmp_path)
    doc = json.loads(rtk("compat", "fleet", "--format", "json", cwd=tmp_path).stdout)
    rows = {b["bundle"]: b for b in doc["bundles"]}
    for name in links:  # only {"bundle": ...} before: no reader, and no word of why
        [why] = rows[f"fleet/{name}"]["not_judged"]
        assert why["invariant"] == "BUNDLE.IS_DIRECTORY" and "symbolic link" in why["message"]
    assert "not_judged" not in rows["fleet/good"]
    human = rtk("compat", "fleet", cwd=tmp_path).stdout
    assert human.count("not judged: BUNDLE.IS_DIRECTORY: a symbolic link") == len(links)


def test_a_symlink_named_on_the_command_line_is_followed_as_documented(tmp_path):
    _links_of_every_kind(tmp_path)
    (tmp_path / "fleet-link").symlink_to(tmp_path / "fleet")
    out = rtk("validate", "fleet-link", "--format", "json", cwd=tmp_path)
    doc = json.loads(out.stdout)  # searched through the link named; the links below it are findings
    assert "fleet-link/good" in [b["bundle"] for b in doc["bundles"]] and len(doc["bundles"]) == 5
    guide = (Path(__file__).parent.parent / "docs" / "guides" / "fleets.md").read_text(encoding="utf-8")
    assert "a PATH given on the command line is followed when it is a symlink" in guide


def test_the_fleet_table_gives_links_and_caps_the_findings_validate_gives(tmp_path, monkeypatch):
    import pickle

    from rollout_trace_kit.validate import cli
    from rollout_trace_kit.validate.table import bundle_paths, judge_rows

    links = _links_of_every_kind(tmp_path)
    for n in range(5):
        (tmp_path / "fleet" / "zz" / f"d{n}").mkdir(parents=True)
    monkeypatch.setattr(cli, "MAX_SEARCH_ENTRIES", 8)  # the search stops in fleet/zz
    paths = bundle_paths(tmp_path / "fleet")
    assert [os.path.basename(p) for p in paths] == sorted(["good", *links, "zz"])
    rows = {os.path.basename(p): judge_rows(pickle.loads(pickle.dumps(p))) for p in paths}  # as Dask ships them
    assert [(r["invariant"], r["ok"]) for r in rows["good"]] == [(None, True)]
    for name in links:
        assert [(r["invariant"], r["ok"]) for r in rows[name]] == [("BUNDLE.IS_DIRECTORY", False)], name
    # BUNDLE.MANIFEST_PRESENT, TRACE_PRESENT and DIALECT_KNOWN before: the directory judged as a bundle
    assert [(r["invariant"], r["ok"]) for r in rows["zz"]] == [("KIT.SEARCH_CAP", False)]


@pytest.mark.parametrize("option", ["-o", "--report", "--state"])
def test_an_output_that_is_a_hard_link_into_a_bundle_under_check_is_refused(tmp_path, option):
    [bundle] = tree(tmp_path / "fleet", ["a"])
    before = (bundle / "trace.jsonl").read_bytes()
    os.link(bundle / "trace.jsonl", tmp_path / "out")  # another name of the same file: opened for writing, it was truncated
    args = {"-o": ["-o", "out"], "--report": ["--report", "sarif=out"], "--state": ["--state", "out"]}[option]
    out = rtk("validate", "fleet", *args, cwd=tmp_path)
    assert out.returncode == 2 and "is a hard link to" in out.stderr and "never writes into a bundle" in out.stderr
    assert (bundle / "trace.jsonl").read_bytes() == before


@pytest.mark.parametrize("option", ["-o", "--report", "--state"])
def test_an_output_inside_a_bundle_under_check_is_refused(tmp_path, option):
    [bundle] = tree(tmp_path / "fleet", ["a"])
    before = (bundle / "trace.jsonl").read_bytes()
    target = str(bundle / "trace.jsonl")
    args = {"-o": ["-o", target], "--report": ["--report", f"sarif={target}"], "--state": ["--state", target]}[option]
    out = rtk("validate", "fleet", *args, cwd=tmp_path)
    assert out.returncode == 2 and "never writes into a bundle it checks" in out.stderr
    assert (bundle / "trace.jsonl").read_bytes() == before
    out = rtk("validate", "fleet", "-o", str(bundle / "payloads" / "new.txt"), cwd=tmp_path)
    assert out.returncode == 2 and not (bundle / "payloads" / "new.txt").exists()


# -- Ctrl-C and SIGTERM --------------------------------------------------------------------------


def _children(pid: int) -> list[int]:
    """The processes whose parent is ``pid`` (from /proc: Linux)."""
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            if int(stat.rpartition(")")[2].split()[1]) == pid:
                out.append(int(entry))
    return out


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_signal_ends_a_fleet_run_and_its_workers(tmp_path, sig):
    """Ctrl-C (SIGINT) or SIGTERM to `validate -j 2` ends the run and its workers: the parent once
    died of SIGTERM and left them waiting on their task queue for good, and the pool could be
    interrupted inside its locks (interrupts.py)."""
    tree(tmp_path / "fleet", [f"b{n:03d}" for n in range(300)])
    proc = subprocess.Popen([*RTK, "validate", "fleet", "-j", "2", "--format", "jsonl"], cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))  # as from a terminal
    try:
        assert json.loads(proc.stdout.readline())["ok"]  # the pool is judging bundles
        workers = _children(proc.pid)
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=120)  # a hang fails here
        left = [p for p in workers if pid_running(p)]  # before the cleanup below kills them
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)  # whatever outlived the parent
        except ProcessLookupError:
            pass
    assert proc.returncode == (130 if sig == signal.SIGINT else -signal.SIGTERM), err
    assert "Traceback" not in err
    assert len(workers) == 2 and not left
    assert len(out.splitlines()) < 299  # stopped, not judged to the end


def _judge_signalled_after_the_first(bundles, sig: int, seen: list[int]) -> None:
    """judge(bundles, jobs=2), noting each bundle's index in ``seen``; ``sig`` to this process after the first."""
    for i, _ in judge(bundles, Options(), jobs=2):
        seen.append(i)
        if len(seen) == 1:
            os.kill(os.getpid(), sig)


def test_a_signal_the_process_ignores_leaves_a_fleet_run_whole(tmp_path):
    """A job a shell starts in the background ignores SIGINT: one sent to it mid-run must not stop the
    pool's workers and drop the bundles they held (the run went on without them)."""
    bundles = tree(tmp_path, [f"b{n:02d}" for n in range(40)])
    before = signal.signal(signal.SIGINT, signal.SIG_IGN)
    seen: list[int] = []
    try:
        _judge_signalled_after_the_first(bundles, signal.SIGINT, seen)
    finally:
        signal.signal(signal.SIGINT, before)
    assert sorted(seen) == list(range(40))


def test_a_signal_whose_handler_returns_still_stops_a_fleet_run(tmp_path):
    """The run's workers are gone once a signal stopped it: where the caller's handler returns, the
    run ends with KeyboardInterrupt rather than go on without the bundles they held."""
    bundles = tree(tmp_path, [f"b{n:02d}" for n in range(40)])
    calls = []
    before = signal.signal(signal.SIGTERM, lambda signum, frame: calls.append(signum))
    seen: list[int] = []
    try:
        with pytest.raises(KeyboardInterrupt):
            _judge_signalled_after_the_first(bundles, signal.SIGTERM, seen)
    finally:
        signal.signal(signal.SIGTERM, before)
    assert calls == [signal.SIGTERM] and len(seen) < 40
