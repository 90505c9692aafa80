"""The differential engine (``rollout-trace codex diff``) without Codex: mutators, shrinker,
report, exit codes and escaping, with fake references standing in for the real reducer."""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path

import pytest

from rollout_trace_kit.bundle import Bundle
from rollout_trace_kit.cli import main
from rollout_trace_kit.codex.diff import mutators
from rollout_trace_kit.codex.diff.engine import run
from rollout_trace_kit.codex.diff.judge import (
    DISAGREE, KIT_ACCEPTS, KIT_REJECTS, RefVerdict, judge, kit_verdict, python_reference, rust_error, write_bundle,
)
from rollout_trace_kit.codex.diff.report import page, report_dict, save_cases
from rollout_trace_kit.codex.diff.seeds import generated_seeds, real_seeds
from rollout_trace_kit.codex.diff.shrink import shrink
from rollout_trace_kit.codex.diff.view import bodies, ref_sites
from rollout_trace_kit.generators import build_bundle

RELEASE = {"v1": "0.164.0", "v2": "0.169.0", "v3": "0.171.0"}
REDUCERS = Path(__file__).parent / "reducers"


@pytest.fixture(scope="module")
def seed_bundles():
    """One real and one generated bundle per dialect."""
    out = {}
    for d in RELEASE:
        real = [b for name, b in real_seeds(d) if name.endswith("/tools")]
        out[d] = [real[0], build_bundle(d, 7, events=60)]
    return out


def _same(a: Bundle, b: Bundle) -> bool:
    return (a.manifest, a.lines, a.payloads, a.specials) == (b.manifest, b.lines, b.payloads, b.specials)


def _decoded_bodies(b: Bundle) -> list[bytes]:
    return [body for _, _, body in bodies(b)]


def _refs(b: Bundle) -> list[dict]:
    return [s.ref for s in ref_sites(b)]


def _layer_changed(layer: str, before: Bundle, after: Bundle) -> bool:
    """The mutant differs from its seed in the part of the bundle its layer names (and only there
    for the layers that do not touch the event log)."""
    lines_same = before.lines == after.lines
    files_same = (before.payloads, before.specials) == (after.payloads, after.specials)
    if layer in ("value", "order"):
        return not lines_same and files_same
    if layer == "ref":
        return not lines_same and files_same and _refs(before) != _refs(after)
    if layer == "body":
        return lines_same and _decoded_bodies(before) != _decoded_bodies(after)
    if layer == "store":
        return lines_same and not files_same
    raise AssertionError(layer)


def test_the_mix_gives_a_fifth_at_least_to_body_ref_and_store():
    assert sum(mutators.MIX.values()) == 100
    assert all(mutators.MIX[layer] >= 20 for layer in ("body", "ref", "store"))
    assert {m.layer for m in mutators.registry()} == set(mutators.LAYERS)


@pytest.mark.parametrize("dialect", list(RELEASE))
def test_each_mutator_is_deterministic_and_changes_its_layer(dialect, seed_bundles):
    applied: dict[str, int] = {}
    for seed in seed_bundles[dialect]:
        is_store = dialect == "v3"
        for m in mutators.registry():
            if not m.fits(is_store):
                continue
            for s in range(6):
                a, b = seed.copy(), seed.copy()
                ok_a, ok_b = m.apply(a, random.Random(s)), m.apply(b, random.Random(s))
                assert ok_a == ok_b, m.name
                assert _same(a, b), f"{m.name} is not deterministic for seed {s}"
                if ok_a and not _same(a, seed):
                    assert _layer_changed(m.layer, seed, a), f"{m.name} (seed {s}) changed another layer"
                    applied[m.name] = applied.get(m.name, 0) + 1
    fitting = {m.name for m in mutators.registry() if m.fits(dialect == "v3")}
    # every mutator that fits the dialect changed one of its seeds, but the prompt ones where
    # the dialect has no prepared prompts
    missing = fitting - set(applied) - {"body.fragments", "ref.parts"}
    assert not missing, missing


def test_mutate_is_a_function_of_the_rng_and_leaves_the_seed_alone(seed_bundles):
    seed = seed_bundles["v3"][0]
    before = seed.copy()
    m1, b1 = mutators.mutate(seed, random.Random("x/1"))
    m2, b2 = mutators.mutate(seed, random.Random("x/1"))
    assert m1 == m2 and _same(b1, b2)
    assert _same(seed, before)


def test_a_clean_seed_is_judged_alike_by_the_kit_and_a_reference_that_accepts(tmp_path, seed_bundles):
    j = judge(seed_bundles["v2"][0], "0.169.0", python_reference(lambda p: (True, "")), scratch=tmp_path)
    assert j.kit.ok and j.outcome == "agree"


def _marker_reference(marker: bytes):
    """A reducer that rejects any bundle whose event log holds ``marker`` (the kit ignores it)."""

    def ref(path: Path) -> tuple[bool, str]:
        data = (path / "trace.jsonl").read_bytes()
        return (marker not in data, "Error: marker found")

    return python_reference(ref)


def _planted(dialect: str = "v2") -> Bundle:
    b = build_bundle(dialect, 3, events=60)
    events = [json.loads(line) for line in b.lines]
    events[30]["payload"]["x_marker"] = 1  # an unknown key: the kit's reducer profile lets it pass
    b.lines[30] = json.dumps(events[30], separators=(",", ":")).encode()
    return b


def test_the_shrinker_reduces_a_planted_disagreement(tmp_path):
    b = _planted()
    ref = _marker_reference(b"x_marker")
    first = judge(b, "0.169.0", ref, scratch=tmp_path)
    assert first.outcome == DISAGREE and first.kit.ok

    def still(c: Bundle) -> bool:
        j = judge(c, "0.169.0", ref, scratch=tmp_path)
        return j.outcome == DISAGREE and j.kit.ok

    small = shrink(b, still, tests=250)
    assert still(small)
    assert len(small.lines) < len(b.lines) // 2, len(small.lines)
    assert len(small.payloads) < len(b.payloads)
    assert any(b"x_marker" in line for line in small.lines)


def test_the_engine_counts_triages_and_shrinks_with_a_fake_reference(tmp_path):
    ref = python_reference(lambda p: (True, ""))  # accepts everything: every kit reject disagrees
    r1 = run("0.169.0", "v2", ref, 40, seed=3, shrink_tests=20, scratch=tmp_path)
    r2 = run("0.169.0", "v2", ref, 40, seed=3, shrink_tests=0, scratch=tmp_path)
    assert [(x.index, x.mutator, x.outcome) for x in r1.results] == [(x.index, x.mutator, x.outcome) for x in r2.results]
    disagreements = [x for x in r1.results if x.outcome == DISAGREE]
    assert disagreements and all(x.direction == KIT_REJECTS for x in disagreements)
    assert sum(c.count for c in r1.cases) == len(disagreements)
    assert len({c.key for c in r1.cases}) == len(r1.cases)
    doc = report_dict([r1], "rollout-trace codex diff ...")
    run_doc = doc["runs"][0]
    assert run_doc["disagree"] == len(disagreements)
    assert run_doc["disagreement_rate"] == round(len(disagreements) / (run_doc["agree"] + run_doc["disagree"]), 5)
    assert sum(x["mutants"] for x in run_doc["by_layer"].values()) == run_doc["mutants"]
    assert "## Rates per layer" in page(doc)
    full = page(doc, [doc])  # a full run's report is the same document
    assert "## Full runs" in full and full.rstrip().endswith("```") and "rollout-trace codex diff ..." in full
    row = f"| 0.169.0 | v2 | 3 | {run_doc['mutants']} | {run_doc['disagree']} |"
    assert row in full.split("## Full runs")[1]


def test_the_committed_full_runs_are_on_the_page_and_name_no_machine_path():
    from rollout_trace_kit.codex.diff.report import load_full
    from rollout_trace_kit.docsgen import reference_pages

    docs = Path(__file__).resolve().parent.parent / "docs"
    full = load_full(docs)
    assert full  # the page publishes them
    text = reference_pages(docs)["reference/differential.md"]
    for doc in full:
        assert doc["command"] in text
        for marker in ("/root/", "/home/", "/tmp/", "/work/", ".cache/"):
            assert marker not in json.dumps(doc), marker
        for r in doc["runs"]:
            assert r["mutants"] == r["mutations"] and f"| {r['release']} | {r['dialect']} | {r['seed']} |" in text


def test_worker_processes_give_the_results_of_one_process(tmp_path):
    ref = python_reference(lambda p: (True, ""))  # accepts everything: the kit's rejects disagree
    one = run("0.169.0", "v2", ref, 30, seed=5, jobs=1, shrink_tests=0, scratch=tmp_path)
    two = run("0.169.0", "v2", ref, 30, seed=5, jobs=2, shrink_tests=0, scratch=tmp_path)
    assert one.results == two.results and one.skipped == two.skipped
    assert [(c.key, c.count, c.example) for c in one.cases] == [(c.key, c.count, c.example) for c in two.cases]
    assert any(r.outcome == DISAGREE for r in two.results)
    assert all(c.shrunk is not None for c in two.cases)  # made again in this process from its index
    assert not list(tmp_path.iterdir())  # every mutant removed
    t = two.timing
    assert t.jobs == 2 and t.reference_runs == len(two.results) and t.floor == t.reference / 2


def test_an_interrupted_pool_run_stops_and_leaves_no_mutant_behind(tmp_path):
    calls = tmp_path / "calls"
    scratch = tmp_path / "scratch"
    scratch.mkdir()

    def ref(path: Path) -> tuple[bool, str]:  # in a worker process: Ctrl-C while judging the fifth
        with calls.open("a") as f:
            f.write("x\n")
        # from the fifth on: two workers that append before either reads would both see six, not five
        if len(calls.read_text().splitlines()) >= 5:
            raise KeyboardInterrupt
        return True, ""

    with pytest.raises(KeyboardInterrupt):
        run("0.169.0", "v2", python_reference(ref), 400, seed=2, jobs=2, shrink_tests=0, scratch=scratch)
    assert len(calls.read_text().splitlines()) < 100  # the chunks not started were dropped
    assert not list(scratch.iterdir())


@pytest.mark.parametrize("group", [True, False], ids=["process-group", "parent-only"])
def test_sigterm_ends_a_pool_run_and_removes_what_it_wrote(tmp_path, group):
    import os
    import signal
    import subprocess
    import time

    scratch = tmp_path / "scratch"
    scratch.mkdir()
    slow = f"{sys.executable} -c 'import time; time.sleep(0.05)'"
    p = subprocess.Popen([sys.executable, "-m", "rollout_trace_kit", "codex", "diff", "--release", "0.169.0",
                          "--mutations", "5000", "--jobs", "2", "--shrink-tests", "0", "--reference-cmd", slow,
                          "--scratch", str(scratch), "-q"], start_new_session=True,
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        for _ in range(600):  # until it judges mutants
            if any(d.name.startswith("rtk-diff-") and "codex-home" not in d.name for d in scratch.iterdir()):
                break
            time.sleep(0.1)
        (os.killpg if group else os.kill)(p.pid, signal.SIGTERM)
        _, err = p.communicate(timeout=60)
    finally:
        try:  # the workers too, should they outlive the parent
            os.killpg(p.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    assert p.returncode == 128 + signal.SIGTERM, err
    assert b"Traceback" not in err
    assert not list(scratch.iterdir())


def test_the_report_gives_the_floor_and_where_the_time_went(tmp_path):
    from rollout_trace_kit.codex.diff.report import timing_lines

    r = run("0.169.0", "v2", python_reference(lambda p: (True, "")), 5, seed=1, shrink_tests=0, scratch=tmp_path)
    text = "\n".join(timing_lines(r))
    assert f"floor: {r.timing.reference_runs} reducer runs" in text
    for part in ("mutants/s", "reducer", "kit", "write and remove", "generate", "load average"):
        assert part in text, part


def test_the_codex_reference_runs_with_the_home_it_is_given(tmp_path):
    from rollout_trace_kit.codex.diff.judge import CodexReference, codex_home

    fake = tmp_path / "codex"  # a stand-in for the native binary: rejects, naming its CODEX_HOME
    fake.write_text("#!/bin/sh\necho \"Error: home=$CODEX_HOME\" >&2\nexit 1\n")
    fake.chmod(0o755)
    with codex_home(tmp_path) as home:
        verdict = CodexReference(fake, 5.0, Path(home))(tmp_path, tmp_path / "state.json")
        assert not verdict.accepted and verdict.first_error == f"Error: home={home}"
    assert not Path(home).exists()


def test_a_reference_hang_is_counted_apart(tmp_path):
    ref = lambda path, out: RefVerdict(False, hang=True)  # noqa: E731
    r = run("0.171.0", "v3", ref, 10, seed=1, shrink_tests=0, scratch=tmp_path)
    assert {x.outcome for x in r.results} == {"reference_hang"}
    assert not r.cases


def test_saved_cases_escape_hostile_strings(tmp_path):
    hostile = "Error: \x1b[31mred\x1b[0m\nforged line\r\u202e"
    r = run("0.169.0", "v2", _hostile_reference(hostile), 30, seed=4, shrink_tests=0, scratch=tmp_path)
    assert r.cases and r.cases[0].key[2] == KIT_ACCEPTS
    saved = save_cases(r, tmp_path / "out")
    assert saved
    for d in saved:
        text = (d / "summary.txt").read_text(encoding="utf-8")
        assert not any(c in text for c in "\x1b\r\u202e"), repr(text)
        assert "forged line" in text and text.count("\n") == len(text.splitlines())
        assert all(not line.startswith("forged") for line in text.splitlines())
        info = json.loads((d / "case.json").read_text())
        assert info["example"]["reducer_error"] == hostile  # the JSON keeps the text (escaped by the encoder)
        assert (d / "bundle" / "trace.jsonl").is_file()


def _hostile_reference(message: str):
    def ref(path: Path) -> tuple[bool, str]:
        return False, message

    return python_reference(ref)


def test_rust_errors_are_one_line_with_their_last_cause():
    stderr = ("Error: parse payload raw_payload:1\n\nCaused by:\n    0: outer\n    1: recursion limit exceeded\n\n"
              "Stack backtrace:\n   0: <unknown>\n")
    assert rust_error(stderr) == "Error: parse payload raw_payload:1: recursion limit exceeded"


def test_an_absolute_ref_path_points_into_the_written_bundle(tmp_path):
    from rollout_trace_kit.codex.diff.mutators.refs import BUNDLE_DIR

    b = build_bundle("v1", 2, events=30)
    b.lines[1] = b.lines[1].replace(b'"path":"payloads/', f'"path":"{BUNDLE_DIR}/payloads/'.encode())
    path = write_bundle(b, tmp_path / "b")
    assert str(path.resolve()).encode() in (path / "trace.jsonl").read_bytes()
    assert kit_verdict(path, "0.164.0").findings is not None


def _cli(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(["codex", "diff", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_exit_codes(capsys, tmp_path):
    accept_all = f"{sys.executable} {REDUCERS / 'accept_all.py'} {{bundle}} {{output}}"
    code, out, _ = _cli(capsys, "--release", "0.169.0", "--mutations", "20", "--seed", "2", "--shrink-tests", "0",
                        "--reference-cmd", accept_all, "-q", "--format", "json")
    assert code == 1  # the kit rejects some mutants that a reducer accepting everything accepts
    doc = json.loads(out)
    assert doc["runs"][0]["disagree"] > 0 and doc["runs"][0]["dialect"] == "v2"

    kit_ref = tmp_path / "kit_ref.py"
    kit_ref.write_text(
        "import sys\nfrom rollout_trace_kit.validate import Options, Profile, validate_bundle\n"
        "r = validate_bundle(sys.argv[1], Options(profile=Profile.REDUCER, release='0.171.0'))\n"
        "sys.exit(0 if r.ok else 1)\n")
    code, out, _ = _cli(capsys, "--release", "0.171.0", "--mutations", "6", "--shrink-tests", "0",
                        "--reference-cmd", f"{sys.executable} {kit_ref} {{bundle}} {{output}}", "-q")
    assert code == 0, out  # the kit agrees with itself
    assert "0 disagreement(s)" in out

    for bad in (["--release", "0.169.00"], ["--release", "0.169.0", "--mutations", "0"], [],
                ["--release", "9.9.9", "--reference-cmd", "true"]):
        code, _, err = _cli(capsys, *bad, "-q")
        assert code == 2, (bad, err)
        assert err.startswith("rollout-trace codex diff:")


def test_cli_only_replays_one_mutant(capsys):
    accept_all = f"{sys.executable} {REDUCERS / 'accept_all.py'} {{bundle}} {{output}}"
    code, out, _ = _cli(capsys, "--release", "0.164.0", "--mutations", "50", "--only", "7", "--shrink-tests", "0",
                        "--reference-cmd", accept_all, "-q", "--format", "json")
    doc = json.loads(out)
    assert doc["runs"][0]["mutants"] + doc["runs"][0]["not_applicable"] == 1


def test_generated_seeds_are_reproducible():
    a = generated_seeds("v3", 5, count=2)
    b = generated_seeds("v3", 5, count=2)
    assert [(n, x.lines, x.payloads) for n, x in a] == [(n, x.lines, x.payloads) for n, x in b]


def test_the_committed_report_is_free_of_machine_paths_and_names_its_command():
    from rollout_trace_kit.codex.diff.report import DOCS_DATA, FORMAT

    root = Path(__file__).resolve().parents[1]
    text = (root / DOCS_DATA).read_text(encoding="utf-8")
    doc = json.loads(text)
    assert doc["format"] == FORMAT
    assert doc["command"].startswith("rollout-trace codex diff ") and f"-o {DOCS_DATA}" in doc["command"]
    for machine in (str(root), str(Path.home()), "/tmp/", "rtk-diff-"):
        assert machine not in text, machine
    assert {r["dialect"] for r in doc["runs"]} == {"v1", "v2", "v3"}
    assert all(r["mutants"] >= 2000 for r in doc["runs"])


def test_epoch_readers_are_the_oldest_reader_of_each_epoch_and_get_a_tenth():
    import argparse

    from rollout_trace_kit.codex.diff.cli import _plan, epoch_readers
    from rollout_trace_kit.model import releases as rel

    readers = epoch_readers()
    assert set(RELEASE.values()) <= set(readers)
    firsts = {e.first for e in rel.table_epochs()}
    assert readers[0] in firsts
    args = argparse.Namespace(release=["0.171.0"], epoch_readers=True, mutations=1000)
    plan = dict(_plan(args))
    assert plan["0.171.0"] == 1000 and plan["0.164.0"] == 100 and len(plan) == len(readers)


def test_the_shrinker_leaves_a_deeply_nested_value_alone():
    """A payload nested 600 levels (the nesting mutator's deepest) made the value pass recurse
    past Python's limit and ended the whole run."""
    b = build_bundle("v1", 3, events=30)
    path = sorted(b.payloads)[3]
    b.payloads[path] = b.payloads[path].rstrip()[:-1] + b',"x_deep":' + b"[" * 600 + b"0" + b"]" * 600 + b"}"

    def still(c: Bundle) -> bool:  # a stand-in for "the same disagreement": the deep value stays
        return path in c.payloads and b"[" * 600 in c.payloads[path]

    small = shrink(b, still, tests=5000)
    assert still(small) and len(small.lines) < len(b.lines)


def test_a_warning_before_the_error_is_not_the_error():
    stderr = ("WARNING: proceeding, even though we could not create PATH aliases: operation would block\n"
              "Error: read payload raw_payload:8\n\nCaused by:\n    Not a directory (os error 20)\n")
    assert rust_error(stderr) == "Error: read payload raw_payload:8: Not a directory (os error 20)"


def test_renumber_keeps_the_rest_of_a_line_as_it_is():
    from rollout_trace_kit.codex.diff.mutators.order import renumber

    b = build_bundle("v2", 1, events=20)
    deep = b.lines[3][:-1] + b',"x":' + b"[" * 600 + b"]" * 600 + b"}"
    b.lines[3] = deep
    b.lines[5], b.lines[6] = b.lines[6], b.lines[5]
    renumber(b)
    assert [json.loads(line)["seq"] for line in b.lines] == list(range(1, 21))
    assert b.lines[3].endswith(b"]" * 600 + b"}")


def test_error_classes_drop_ids_numbers_and_paths():
    from rollout_trace_kit.codex.diff.judge import error_class

    a = error_class("Error: accepted item payload does not match fco_01a22880-207e-77b0-b526-6ac8907e63ce")
    b = error_class("Error: accepted item payload does not match ctco_01a22880-29f5-7ed0-8550-8b43f860ab9d")
    assert a == b == "Error: accepted item payload does not match ID"
    assert error_class("Error: model-visible call id call-2x was reused") == error_class("Error: model-visible call id call-17 was reused")
    assert error_class("Error: open shard BUNDLE/payloads/9.zst: No such file (os error 2)") == "Error: open shard PATH: No such file (os error N)"


@pytest.mark.parametrize("release", ["0.165.0", "0.166.0", "0.167.2"])
def test_every_seed_of_an_older_reader_is_one_it_reads(tmp_path, release):
    """A run for a release judges mutants of bundles that release reads (its own writer's variants: 0.165.0
    and 0.166.0 know no recording_completed); were every seed unreadable, both sides would reject every
    mutant and the run would report 0 disagreements whatever the kit says."""
    from rollout_trace_kit.codex.diff.seeds import seeds
    from rollout_trace_kit.validate import Options, Profile, validate_bundle

    for i, (name, bundle) in enumerate(seeds("v2", 0, generated=2, release=release)):
        report = validate_bundle(bundle.write(tmp_path / str(i)), Options(profile=Profile.REDUCER, release=release))
        assert report.ok, (name, [(f.invariant, f.message) for f in report.findings if f.severity.value == "error"][:3])


def test_a_reference_releases_seeds_are_the_dialects():
    from rollout_trace_kit.codex.diff.seeds import seeds

    for d, release in RELEASE.items():
        mine, plain = seeds(d, 0, generated=2, release=release), seeds(d, 0, generated=2)
        assert [(n, b.lines, b.payloads) for n, b in mine] == [(n, b.lines, b.payloads) for n, b in plain]


class _SlowJudge:
    """A stand-in for engine._Judge: every chunk takes a while and judges nothing."""

    def chunk(self, indexes):
        import time

        from rollout_trace_kit.codex.diff.engine import Timing

        time.sleep(0.02)
        return [(None, Timing()) for _ in indexes]


def test_a_signal_during_a_pool_run_is_acted_on_once_the_pool_is_down():
    """SIGTERM's handler raised wherever the main thread was; inside the pool's queue locks it left one
    held and the run hung forever (seen once in 40 runs). It is noted, the pool shut down, then raised."""
    import multiprocessing
    import os
    import signal
    import traceback

    from rollout_trace_kit.codex.diff import engine

    class Stop(Exception):
        pass

    def stop(signum, frame):
        raise Stop(signum)

    before = signal.signal(signal.SIGTERM, stop)
    got = 0
    try:
        with pytest.raises(Stop) as raised:
            for _ in engine._judged(_SlowJudge(), list(range(4000)), 2):
                got += 1
                if got == 1:
                    os.kill(os.getpid(), signal.SIGTERM)  # while chunks are in flight
    finally:
        signal.signal(signal.SIGTERM, before)
    assert 1 <= got < 4000  # the run stopped early
    frames = [f.name for f in traceback.extract_tb(raised.tb)]
    assert frames[-3:] == ["_judged", "act_on", "stop"], frames  # raised by the generator, at its end: no lock held
    assert signal.getsignal(signal.SIGTERM) is before
    assert not multiprocessing.active_children()  # the pool's workers are gone
