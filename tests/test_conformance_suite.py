"""The conformance suite as data (conformance/cases): current, well-formed, complete, and
runnable without Python (the Node.js runner shown in the docs runs here)."""

from __future__ import annotations

import json
import random
import re
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import jsonschema
import pytest

from rollout_trace_kit.conformance.suite import CASES, EXPECTED_SCHEMA, INDEX, suite_root
from rollout_trace_kit.conformance.suite.build import build, stale
from rollout_trace_kit.conformance.suite.run import run_suite
from rollout_trace_kit.corpus import bundles, corpus_root, releases as corpus_releases
from rollout_trace_kit.generators.corruptions import applicable
from rollout_trace_kit.model import DIALECTS
from rollout_trace_kit.model.nonstatic import NON_STATIC, WHILE_RUNNING
from rollout_trace_kit.model.reducer_errors import REDUCER_ERRORS
from rollout_trace_kit.model.releases import table_epochs
from rollout_trace_kit.validate import CATALOGUE

from .conftest import ROOT

SUITE = suite_root()
NODE_RUNNER = SUITE / "runners" / "node" / "run.mjs"
RT = str(Path(sys.executable).parent / "rollout-trace")


def index() -> dict:
    return json.loads((SUITE / CASES / INDEX).read_text(encoding="utf-8"))


def expected_files() -> list[dict]:
    return [json.loads((SUITE / row["expected"]).read_text(encoding="utf-8")) for row in index()["cases"]]


def test_the_suite_is_where_the_card_puts_it():
    assert SUITE == ROOT / "conformance"
    assert corpus_root() == SUITE / "corpus"


@pytest.fixture(scope="module")
def built():
    """A fresh build (about 30 s, more on a loaded machine: built once for the tests that need one)."""
    return build()


@pytest.mark.slow  # a full rebuild
def test_the_cases_are_up_to_date(built):
    """`rollout-trace conformance build --check` in-process: a fresh build equals the committed files."""
    assert stale(SUITE, built) == [], "run `rollout-trace conformance build`"


def _longest_run_byte_by_byte(data: bytes) -> tuple[int, int]:
    """(where, how long): the first longest run of one byte, the way the build once found it."""
    best_at, best_len, i = 0, 0, 0
    while i < len(data):
        j = i
        while j < len(data) and data[j] == data[i]:
            j += 1
        if j - i > best_len:
            best_at, best_len = i, j - i
        i = j
    return best_at, best_len


def test_a_big_files_recipe_step_is_its_head_longest_run_and_tail():
    from rollout_trace_kit.conformance.suite.build import _big_file_step

    rnd = random.Random(0)
    alphabet = b'ab"\\n\x00]^-[.'  # bytes a character class must escape among them
    for _ in range(2000):
        data = bytes(rnd.choice(alphabet) for _ in range(rnd.randrange(1, 40)))
        step = _big_file_step("payloads/1.json", data)
        at, length = _longest_run_byte_by_byte(data)
        assert (len(step["head"].encode()), step["count"]) == (at, length), data
        assert (step["head"] + step["fill"] * step["count"] + step["tail"]).encode() == data


def test_every_expected_json_follows_its_schema():
    schema = json.loads((SUITE / EXPECTED_SCHEMA).read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    epochs = [(e.first, e.last) for e in table_epochs()]
    for exp in expected_files():
        errors = [e.message for e in validator.iter_errors(exp)]
        assert errors == [], exp["id"]
        assert [(r["first"], r["last"]) for r in exp["reducers"]] == epochs
        assert (SUITE / exp["bundle"]).is_dir() or exp["breaks"] == ["BUNDLE.IS_DIRECTORY"], exp["id"]
        assert all(step["make"] in NON_STATIC for step in exp.get("recipe", []))


def test_case_ids_are_their_folders_and_unique():
    rows = index()["cases"]
    assert len({r["id"] for r in rows}) == len(rows)
    for r in rows:
        assert r["expected"] == f"{CASES}/{r['id']}/expected.json"
    assert re.fullmatch(r"\d+\.\d+", index()["suite_version"]) and index()["digest"].startswith("sha256:")


def test_every_corruptible_invariant_has_an_invalid_case_per_dialect():
    ids = {r["id"] for r in index()["cases"]}
    for dialect in DIALECTS:
        missing = [inv for inv in applicable(dialect) if f"{dialect}/invalid-{inv}" not in ids and inv not in WHILE_RUNNING]
        assert missing == [], dialect
    for exp in expected_files():
        if exp["kind"] == "invalid":
            # the corruption is seen: the strict profile reports it (an error, or a warning for a
            # rule of warning severity: LINE.TOO_LONG, a kit limit Codex does not have)
            strict = exp["profiles"]["strict"]
            assert strict["errors"] or strict["warnings"], exp["id"]
            # (a kit limit may be reported as another rule when the dialect is forced, as a case's is)
            if not any(CATALOGUE[i].kit_only for i in exp["breaks"]):
                assert set(exp["breaks"]) & set(exp["profiles"]["strict"]["errors"] + exp["profiles"]["strict"]["warnings"])
        else:
            assert all(p["verdict"] == "valid" for p in exp["profiles"].values()), exp["id"]


def test_the_real_bundles_are_valid_cases_with_no_second_copy():
    named = {exp["bundle"] for exp in expected_files() if exp["kind"] == "valid"}
    for release in corpus_releases():
        for b in bundles(release):
            assert b.relative_to(SUITE).as_posix() in named
    copies = [p for p in (SUITE / CASES).rglob("manifest.json")
              if any(p.read_bytes() == (b / "manifest.json").read_bytes() for r in corpus_releases() for b in bundles(r))]
    assert copies == []


def test_cases_that_need_more_than_files_are_listed_in_the_model():
    idx = index()
    assert set(idx["not_static"]) == set(NON_STATIC)
    assert set(idx["while_running"]) == set(WHILE_RUNNING)
    made = {step["make"] for exp in expected_files() for step in exp.get("recipe", [])}
    assert {"dir", "big_file"} <= made  # a payload that is a directory; a line past the kit's cap
    assert [e["name"] for e in idx["reducer_errors"]] == [e.name for e in REDUCER_ERRORS]


def test_the_suite_is_small_enough_to_commit():
    size = sum(p.stat().st_size for p in (SUITE / CASES).rglob("*") if p.is_file())
    assert size < 6 << 20, size


def test_the_python_runner_passes_the_kit_validator_and_catches_a_wrong_one():
    only = "LINE."
    ok = run_suite(SUITE, f"{RT} validate -q --profile writer --dialect {{dialect}} {{bundle}}", profile="writer",
                   dialects=["v2"], only=only)
    assert ok and all(o.status == "pass" for o in ok), [o for o in ok if o.status != "pass"]
    yes = run_suite(SUITE, "true", profile="writer", dialects=["v2"], only=only)  # accepts everything
    assert yes and all(o.status == "fail" for o in yes)  # every LINE.* case is an error (a cap reached too)
    assert [o.status for o in run_suite(SUITE, "true", profile="writer", dialects=["v2"], only="real-plain")] == ["pass"]
    crash = run_suite(SUITE, "exit 3", profile="writer", dialects=["v2"], only="real-plain")
    assert [o.status for o in crash] == ["fail"] and "not a verdict" in crash[0].detail


def test_conformance_run_exit_codes(tmp_path):
    def run(*args):
        return subprocess.run([RT, "conformance", "run", *args], capture_output=True, text=True, timeout=600)

    good = run("--profile", "reducer", "--dialect", "v1", "--only", "real-plain", "--cmd", "true")
    assert good.returncode == 0 and "ok 1 v1/real-plain" in good.stdout
    bad = run("--profile", "reducer", "--dialect", "v1", "--only", "invalid-LINE.JSON", "--cmd", "true")
    assert bad.returncode == 1 and "not ok 1 v1/invalid-LINE.JSON" in bad.stdout
    assert run("--profile", "reducer", "--only", "no-such-case", "--cmd", "true").returncode == 2
    assert run("--cmd", "true").returncode == 2  # neither --profile nor --release


@pytest.mark.slow  # needs the full rebuild
def test_build_check_exit_codes(tmp_path, built, monkeypatch, capsys):
    from rollout_trace_kit.cli import main
    from rollout_trace_kit.conformance.suite import build as build_module

    monkeypatch.setattr(build_module, "build", lambda: built)  # the same build, not a second one
    root = tmp_path / "suite"
    shutil.copytree(SUITE / CASES, root / CASES)
    shutil.copy(SUITE / EXPECTED_SCHEMA, root / EXPECTED_SCHEMA)
    assert main(["conformance", "build", "--check", "--root", str(root)]) == 0
    assert "up to date" in capsys.readouterr().out
    (root / CASES / "v1" / "real-plain" / "expected.json").write_text("{}")
    (root / CASES / "v1" / "extra.json").write_text("{}")
    assert main(["conformance", "build", "--check", "--root", str(root)]) == 1
    err = capsys.readouterr().err
    assert "cases/v1/real-plain/expected.json" in err and "cases/v1/extra.json" in err
    assert main(["conformance", "build", "--root", str(root)]) == 0  # regenerates
    assert stale(root, built) == []


def test_the_tarball_is_a_plain_folder_and_reproducible(tmp_path):
    a, b = tmp_path / "a.tar.gz", tmp_path / "b.tar.gz"
    for out in (a, b):
        subprocess.run([RT, "conformance", "tarball", str(out)], check=True, capture_output=True, timeout=600)
    assert a.read_bytes() == b.read_bytes()
    with tarfile.open(a) as tar:
        names = tar.getnames()
    top = {n.split("/", 1)[0] for n in names}
    assert len(top) == 1 and top.pop().startswith("rollout-trace-conformance-")
    assert not [n for n in names if n.endswith(".py")]
    for want in ("INTERPRETING.md", EXPECTED_SCHEMA, f"{CASES}/{INDEX}", "runners/node/run.mjs",
                 "corpus/codex-0.169.0/plain/manifest.json"):
        assert any(n.endswith("/" + want) for n in names), want


def test_the_node_runner_is_small_and_shown_in_the_docs():
    code = NODE_RUNNER.read_text(encoding="utf-8")
    assert len(code.splitlines()) <= 68  # bundle cases and writer cases, capped reads
    guide = (ROOT / "docs" / "guides" / "conformance-suite.md").read_text(encoding="utf-8")
    shown = re.search(r"^```js\n(.*?)^```$", guide, re.M | re.S)
    assert shown is not None and shown.group(1) == code


@pytest.mark.skipif(shutil.which("node") is None, reason="needs Node.js (the machine's CI has it)")
@pytest.mark.slow  # a kit process per case: minutes
def test_the_node_runner_passes_the_kit_validator_on_a_whole_dialect(tmp_path):
    """No Python in the runner: it reads the tarball's folder; the kit's validator is the command."""
    subprocess.run([RT, "conformance", "tarball", str(tmp_path / "s.tar.gz")], check=True, capture_output=True, timeout=600)
    with tarfile.open(tmp_path / "s.tar.gz") as tar:
        tar.extractall(tmp_path, filter="data")
    (folder,) = [p for p in tmp_path.iterdir() if p.is_dir()]
    cmd = [RT, "validate", "-q", "--profile", "reducer", "--dialect", "{dialect}", "{bundle}"]
    proc = subprocess.run(["node", str(folder / "runners" / "node" / "run.mjs"), str(folder), "--profile", "reducer",
                           "--dialect", "v3", "--", *cmd], capture_output=True, text=True, timeout=1200)
    failing = [line for line in proc.stdout.splitlines() if line.startswith("not ok")]
    assert failing == [], proc.stdout[-3000:]
    n = sum(1 for r in index()["cases"] if r["dialect"] == "v3" and r["kind"] != "writer")
    assert f"# {n} case(s), 0 fail" in proc.stdout and proc.returncode == 0
    # the writer cases: the reference writer passes them; a writer that answers nothing fails them
    runner = str(folder / "runners" / "node" / "run.mjs")
    writer = str(Path(sys.executable).parent / "rollout-trace-writer")
    good = subprocess.run(["node", runner, str(folder), "--writer", "--", writer], capture_output=True, text=True,
                          timeout=600)
    n_writer = sum(1 for r in index()["cases"] if r["kind"] == "writer")
    assert good.returncode == 0 and f"# {n_writer} case(s), 0 fail" in good.stdout, good.stdout + good.stderr
    bad = subprocess.run(["node", runner, str(folder), "--writer", "--", "cat"], capture_output=True, text=True,
                         timeout=600)
    assert bad.returncode == 1 and f"# {n_writer} case(s), {n_writer} fail" in bad.stdout, bad.stdout
    # and it fails a command that accepts everything, with exit 1
    wrong = subprocess.run(["node", str(folder / "runners" / "node" / "run.mjs"), str(folder), "--profile", "reducer",
                            "--dialect", "v3", "--only", "invalid-SEQ", "--", "true"], capture_output=True, text=True,
                           timeout=600)
    assert wrong.returncode == 1 and "not ok" in wrong.stdout


def test_the_reference_writer_passes_the_writer_cases():
    from rollout_trace_kit.conformance.suite.run import run_writer_cases

    writer = str(Path(sys.executable).parent / "rollout-trace-writer")
    outcomes = run_writer_cases(SUITE, writer)
    assert [o.status for o in outcomes] == ["pass"] * len(DIALECTS), outcomes


def test_a_writer_case_compares_modulo_the_volatile_fields_only(tmp_path):
    from rollout_trace_kit.conformance.suite.run import bundle_differences

    exp = json.loads((SUITE / CASES / "v2" / "writer-lifecycle" / "expected.json").read_text())
    want = SUITE / exp["bundle"]

    def variant(edit) -> list[str]:
        b = tmp_path / f"b{len(list(tmp_path.iterdir()))}"
        shutil.copytree(want, b)
        lines = (b / "trace.jsonl").read_bytes().rstrip(b"\n").split(b"\n")
        events = [json.loads(x) for x in lines]
        edit(events)
        (b / "trace.jsonl").write_bytes(b"".join(json.dumps(e, ensure_ascii=False).encode() + b"\n" for e in events))
        return bundle_differences(exp, b, want)

    def retime(events):
        for e in events:
            e["wall_time_unix_ms"] += 17

    def rename_refs(events):  # another naming of the same payloads
        for e in events:
            for v in e["payload"].values():
                if isinstance(v, dict) and "raw_payload_id" in v:
                    v["path"] = "payloads/x-" + v["path"].rsplit("/", 1)[1]

    def drop_event(events):
        del events[3]

    def change_status(events):
        next(e for e in events if "status" in e["payload"])["payload"]["status"] = "not-a-status"

    assert variant(retime) == [] and variant(rename_refs) == []
    assert variant(drop_event) and variant(change_status)


def test_the_node_runner_has_the_python_runners_caps():
    """The Node runner restates the suite's caps (it cannot import them): they must be the Python runner's."""
    import re

    from rollout_trace_kit.conformance.suite.recipe import MAX_BIG_FILE
    from rollout_trace_kit.conformance.suite.run import MAX_CASE_BUNDLE_BYTES, MAX_CASE_FILE_BYTES

    m = re.search(r"const \[MAX_FILE, MAX_BUNDLE, MAX_BIG\] = \[([^\]]+)\]", NODE_RUNNER.read_text(encoding="utf-8"))
    assert m, "run.mjs no longer declares its caps as one line"
    caps = []
    for expr in m.group(1).split(","):
        a, op, b = re.fullmatch(r"\s*(\d+) (<<|\*\*) (\d+)\s*", expr).groups()  # type: ignore[union-attr]
        caps.append(int(a) << int(b) if op == "<<" else int(a) ** int(b))
    assert caps == [MAX_CASE_FILE_BYTES, MAX_CASE_BUNDLE_BYTES, MAX_BIG_FILE]
