"""Output oracles of the reducer harness: each catches the faulty reducer it is for, and the
transforms it applies keep a bundle's meaning (issue 12)."""

from __future__ import annotations

import json
import shlex
import subprocess
import sys

import pytest

from rollout_trace_kit.generators import build_bundle
from rollout_trace_kit.conformance.reducer.oracles import (
    CODEX_STATE, TRANSFORMS, OracleError, coverage_gaps, entity_ids, first_differences, parse_normalizer,
    transformed, transforms_for,
)
from rollout_trace_kit.validate import Options, Profile, validate_bundle

from ._helpers import PY, REDUCERS, kit_reducer
from ._codex_tier import HANG_TIMEOUT

ORACLES = ["--oracle", "metamorphic", "--oracle", "coverage", "--normalize", "codex-state"]


def fuzz(tmp_path, cmd, *extra, examples=6, dialect="v2"):
    out = subprocess.run(
        [sys.executable, "-m", "rollout_trace_kit", "fuzz-reducer", "--cmd", cmd, "--dialect", dialect, "--seed", "3",
         "--examples", str(examples), "--format", "json", "--no-shrink", "--repro-dir", str(tmp_path / "repro"),
         "--invariant", "SEQ.NO_GAP", *ORACLES, *extra],
        capture_output=True, text=True, cwd=tmp_path, timeout=600,
    )
    assert out.returncode in (0, 1), out.stderr
    return out.returncode, json.loads(out.stdout)


# -- the transforms keep the meaning -------------------------------------------------------


@pytest.mark.parametrize("dialect", ["v1", "v2", "v3"])
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_each_transform_keeps_a_valid_bundle_valid_in_the_reducer_profile(tmp_path, dialect, seed):
    bundle = build_bundle(dialect, seed=seed, events=60)
    allowed = transforms_for(dialect, Profile.REDUCER)
    # the reducer profile allows them all; v3 refs find a shard by number, so its shards are not renamed
    sharded = {"rename-payloads"} if dialect == "v3" else set()
    assert {t.name for t in allowed} == {t.name for t in TRANSFORMS} - sharded
    for t in allowed:
        out = transformed(bundle, dialect, (t,), seed)
        assert out.lines != bundle.lines or out.payloads != bundle.payloads or t.name in ("move", "crlf"), t.name
        report = validate_bundle(out.write(tmp_path / t.name), Options(profile=Profile.REDUCER, dialect=dialect))
        assert report.ok, (t.name, [f.invariant for f in report.findings])
    every = transformed(bundle, dialect, allowed, seed)
    assert validate_bundle(every.write(tmp_path / "all"), Options(profile=Profile.REDUCER, dialect=dialect)).ok


@pytest.mark.parametrize("dialect", ["v1", "v2", "v3"])
def test_every_transform_survives_the_others_in_the_all_at_once_rewrite(dialect):
    """The metamorphic oracle runs all transforms at once (each alone only after a difference):
    a transform that re-encodes the lines after `whitespace` undid it, so no spaced event line
    ever reached a reducer and one that fails on them passed the oracle."""
    from rollout_trace_kit.conformance.reducer.oracles import UNKNOWN_KEY

    bundle = build_bundle(dialect, seed=5, events=40)
    every = transformed(bundle, dialect, transforms_for(dialect, Profile.REDUCER), 5)
    events = [line for line in every.lines if line.strip()]
    assert len(events) == len(bundle.lines) and len(every.lines) > len(events)  # blank lines between
    assert all(line.startswith(b" {") and b" , " in line and b" : " in line for line in events)  # whitespace
    assert all(UNKNOWN_KEY.encode() in line for line in events)  # unknown keys
    assert all(next(iter(e)) == "payload" for e in every.events())  # key order: reversed (the envelope ends with it)
    assert all(next(iter(e)) != "payload" for e in bundle.events())
    assert every.line_terminator == b"\r\n"
    if dialect != "v3":
        assert all(p.startswith("payloads/renamed-") for p in every.payloads)


def test_transforms_that_break_a_writer_promise_are_off_for_writer_and_strict_reducers():
    writer = {t.name for t in transforms_for("v2", Profile.WRITER)}
    strict = {t.name for t in transforms_for("v2", Profile.STRICT)}
    assert {"blank-lines", "crlf", "rename-payloads"}.isdisjoint(writer)
    assert "unknown-keys" in writer and "unknown-keys" not in strict
    assert {"key-order", "whitespace", "omit-nulls", "move"} <= strict
    assert "crlf" not in {t.name for t in transforms_for("v2", Profile.REDUCER, ("crlf",))}


def test_omit_nulls_drops_only_optional_fields():
    bundle = build_bundle("v2", seed=4, events=40)
    out = transformed(bundle, "v2", tuple(t for t in TRANSFORMS if t.name == "omit-nulls"), 4)
    before, after = bundle.events(), out.events()
    assert any("thread_id" not in e for e in after) and all("seq" in e and "payload" in e for e in after)
    assert len(before) == len(after)


# -- normalizers, differences, coverage --------------------------------------------------------


def test_normalizer_pointers_wildcards_and_callables():
    doc = {"raw_payloads": {"a": {"path": "p/1", "kind": 1}, "b": {"path": "p/2"}}, "t": [1, {"x": 2, "y": 3}]}
    assert CODEX_STATE(doc) == {"raw_payloads": {"a": {"kind": 1}, "b": {}}, "t": [1, {"x": 2, "y": 3}]}
    n = parse_normalizer(["/t/*/x", "/raw_payloads/a"])
    assert n(doc) == {"raw_payloads": {"b": {"path": "p/2"}}, "t": [1, {"y": 3}]}
    assert doc["t"][1] == {"x": 2, "y": 3}  # the input is left alone
    f = parse_normalizer(["json:dumps"])
    assert f([1]) == "[1]"
    for bad in ("nope", "no_such_module_xyz:f", "json:no_such_function"):
        with pytest.raises(OracleError):
            parse_normalizer([bad])


def test_first_differences_are_readable_pointers():
    diff = first_differences({"a": {"b": [1, 2, 3]}, "c": 1, "d": "x"}, {"a": {"b": [1, 5]}, "c": 1, "e": 2})
    assert diff == ["/a/b/1: expected 2, got 5", "/a/b/2: missing (expected 3)", "/d: missing (expected \"x\")",
                    "/e: unexpected 2"]


def test_coverage_names_the_missing_entity_and_ignores_outputs_without_ids():
    bundle = build_bundle("v2", seed=5, events=80)
    ids = entity_ids(bundle, "v2")
    kinds = {k for k, _ in ids}
    assert {"thread", "turn", "inference call"} <= kinds
    full = json.dumps({"ids": [i for _, i in ids]}).encode()
    assert coverage_gaps(bundle, "v2", full) == []
    kind, dropped = ids[-1]
    partial = json.dumps({"ids": [i for _, i in ids[:-1]]}).encode()
    assert coverage_gaps(bundle, "v2", partial) == [f"{kind} {dropped}"]
    assert coverage_gaps(bundle, "v2", b'{"events": 3}') is None  # carries no ids: not applicable
    assert coverage_gaps(bundle, "v2", None) is None


# -- the oracles catch faulty reducers, and pass correct ones -------------------------------------------


def test_a_correct_reducer_passes_every_output_oracle(tmp_path):
    rc, doc = fuzz(tmp_path, kit_reducer(), examples=6)
    assert rc == 0, doc["failures"]
    results = doc["oracles"]["results"]
    assert results["metamorphic"]["pass"] == results["coverage"]["pass"] == doc["invariants"]["VALID"]["cases"] >= 1
    assert doc["oracles"]["normalizer"] == "codex-state"
    assert set(doc["oracles"]["transforms"]) == {t.name for t in TRANSFORMS}


@pytest.mark.parametrize("kind", ["thread", "turn", "inference"])
def test_dropping_an_entity_is_caught_by_coverage(tmp_path, kind):
    rc, doc = fuzz(tmp_path, kit_reducer("--drop-entity", kind), examples=4)
    assert rc == 1 and doc["new_failures"] == ["VALID"]
    assert doc["invariants"]["VALID"]["summary"] == "wrong-output"
    assert doc["invariants"]["SEQ.NO_GAP"]["failed"] == 0  # it accepts and rejects exactly right
    assert {f["result"] for f in doc["failures"]} == {"wrong-output"}
    assert all(x["detail"].startswith("coverage: the output lacks " + kind) for x in doc["failures"])
    assert doc["oracles"]["results"]["metamorphic"]["fail"] == 0


def test_output_that_depends_on_bytes_is_caught_by_metamorphic(tmp_path):
    rc, doc = fuzz(tmp_path, kit_reducer("--bytes-dependent"), examples=4)
    assert rc == 1 and doc["new_failures"] == ["VALID"]
    f = doc["failures"][0]
    assert f["result"] == "wrong-output" and f["detail"].startswith("metamorphic: the output changed")
    assert "whitespace" in f["detail"] and "key-order" not in f["detail"]  # key order keeps the size
    assert f["diff"][0].startswith("/log_bytes: expected ")
    assert doc["oracles"]["results"]["coverage"]["fail"] == 0


def test_a_nondeterministic_output_is_caught(tmp_path):
    rc, doc = fuzz(tmp_path, kit_reducer("--nondeterministic"), examples=3)
    assert rc == 1
    # with the normalizer that would silence it, should the difference not be a bug
    assert doc["failures"][0]["detail"] == ("metamorphic: the same bundle run twice gave different outputs "
                                            "(if the difference is not a bug, --normalize /nonce silences it)")
    assert doc["failures"][0]["diff"][0].startswith("/nonce: expected ")


def test_renamed_payloads_are_renamed_in_the_output_before_comparing(tmp_path):
    """The kit reducer reports payload paths, like Codex: rename-payloads maps the old paths to the
    new ones in the first output, so it passes with no normalizer (it failed before issue 19)."""
    out = subprocess.run(
        [sys.executable, "-m", "rollout_trace_kit", "fuzz-reducer", "--cmd", kit_reducer(), "--seed", "3", "--examples", "2",
         "--format", "json", "--invariant", "SEQ.NO_GAP", "--oracle", "metamorphic", "--no-shrink",
         "--repro-dir", str(tmp_path / "r")],
        capture_output=True, text=True, cwd=tmp_path, timeout=600,
    )
    doc = json.loads(out.stdout)
    assert out.returncode == 0, doc["failures"]
    assert "rename-payloads" in doc["oracles"]["transforms"] and doc["oracles"]["normalizer"] == "none"
    assert doc["oracles"]["results"]["metamorphic"] == {"pass": 1, "fail": 0, "n/a": 0}


def test_what_a_transform_did_not_rename_still_fails_naming_the_normalizer(tmp_path):
    """The mapping covers only what the transform renamed: a reducer that writes the payload
    paths with their directory replaced by another name still fails, with the pointers to drop."""
    script = tmp_path / "paths.py"
    script.write_text(
        "import json, os, sys\n"
        "b, o = sys.argv[1], sys.argv[2]\n"
        "names = sorted(os.listdir(os.path.join(b, 'payloads')))\n"
        "json.dump({'files': {str(i): {'name': n} for i, n in enumerate(names)}}, open(o, 'w'))\n"
    )
    out = subprocess.run(
        [sys.executable, "-m", "rollout_trace_kit", "fuzz-reducer", "--cmd", f"{PY} {script} {{bundle}} {{output}}",
         "--seed", "3", "--examples", "2", "--format", "json", "--invariant", "SEQ.NO_GAP", "--oracle", "metamorphic",
         "--no-shrink", "--repro-dir", str(tmp_path / "r")],
        capture_output=True, text=True, cwd=tmp_path, timeout=600,
    )
    f = json.loads(out.stdout)["failures"][0]
    assert out.returncode == 1 and "rename-payloads" in f["detail"]
    assert f["detail"].endswith("(if the difference is not a bug, --normalize '/files/*/name' silences it)")


def test_replay_runs_the_oracles_of_an_oracle_failure(tmp_path):
    rc, doc = fuzz(tmp_path, kit_reducer("--drop-entity", "thread"), examples=2)
    f = doc["failures"][0]
    assert "--oracle metamorphic --oracle coverage --normalize codex-state" in f["replay"]
    again = subprocess.run([sys.executable, "-m", "rollout_trace_kit", *shlex.split(f["replay"])[1:]],
                           capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert again.returncode == 1 and f"{f['id']}: wrong-output" in again.stdout and "coverage" in again.stdout
    # without --oracle, a replay judges with the kit's oracles the case failed (not a bare "pass")
    bare = subprocess.run([sys.executable, "-m", "rollout_trace_kit", "replay", f["repro"], "--cmd",
                           kit_reducer("--drop-entity", "thread")], capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert bare.returncode == 1 and f"{f['id']}: wrong-output" in bare.stdout, (bare.stdout, bare.stderr)
    assert "judged with the oracle(s) it failed: " in bare.stderr


# -- the real Codex reducers pass all three ----------------------------------------------------


@pytest.mark.codex
@pytest.mark.parametrize("dialect,release", [("v1", "0.164.0"), ("v2", "0.169.0")])
def test_real_codex_reducers_pass_every_oracle(tmp_path, codex_binaries, dialect, release):
    cmd = f"{shlex.quote(str(codex_binaries[dialect]))} debug trace-reduce {{bundle}} -o {{output}}"
    out = subprocess.run(
        [sys.executable, "-m", "rollout_trace_kit", "fuzz-reducer", "--cmd", cmd, "--dialect", dialect, "--seed", "11",
         "--examples", "150", "--format", "json", "--timeout", str(HANG_TIMEOUT), "--oracle", "all", "--oracle", f"codex-{release}",
         "--no-shrink"],  # no flag beyond the command: no --normalize
        capture_output=True, text=True, cwd=tmp_path, timeout=1200,
    )
    doc = json.loads(out.stdout)
    # the only failures allowed: the known FIFO hang (whether a seed reaches it depends on the seed)
    assert {(f["case"]["invariant"], f["result"]) for f in doc["failures"]} <= {("REF.REGULAR_FILE", "hang")}, \
        doc["failures"][:3]
    results = doc["oracles"]["results"]
    valid = doc["invariants"]["VALID"]["cases"]
    assert results["metamorphic"] == {"pass": valid, "fail": 0, "n/a": 0} and valid >= 25
    assert results["coverage"] == {"pass": valid, "fail": 0, "n/a": 0}
    assert results[f"codex-{release}"]["fail"] == 0 and results[f"codex-{release}"]["pass"] >= valid
    assert doc["results"]["wrong-output"] == 0


@pytest.mark.codex
def test_differential_shows_the_first_differences_from_the_real_reducer(tmp_path, codex_binaries):
    codex = shlex.quote(str(codex_binaries["v2"]))
    cmd = f"{PY} {REDUCERS / 'codex_tamper.py'} {codex} {{bundle}} {{output}}"
    out = subprocess.run(
        [sys.executable, "-m", "rollout_trace_kit", "fuzz-reducer", "--cmd", cmd, "--seed", "3", "--examples", "4",
         "--format", "json", "--no-shrink", "--invariant", "SEQ.NO_GAP", "--oracle", "codex-0.169.0",
         "--normalize", "codex-state"],
        capture_output=True, text=True, cwd=tmp_path, timeout=600,
    )
    doc = json.loads(out.stdout)
    assert out.returncode == 1 and doc["new_failures"] == ["VALID"]
    f = doc["failures"][0]
    assert f["detail"] == ("codex-0.169.0: the output differs from Codex 0.169.0's "
                           "(if the difference is not a bug, --normalize /status silences it)")
    assert len(f["diff"]) == 1 and f["diff"][0].startswith('/status: expected "') and f["diff"][0].endswith(', got "tampered"')
