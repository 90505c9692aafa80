"""fuzz-reducer --release R: bundles as Codex release R writes them (its dialect and the writer
facts of the release table), judged by R's rules (validate --release R); replay honours it."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from rollout_trace_kit.generators import build_bundle
from rollout_trace_kit.generators._release import FEATURES, NotWritable, reading_release, writing_release
from rollout_trace_kit.model import DIALECTS, releases
from rollout_trace_kit.validate import Options, Profile, validate_bundle

from ._helpers import kit_reducer


def _representatives(make) -> list[str]:
    """The representative release of every measured epoch for which ``make`` raises no NotWritable."""
    out = []
    for e in releases.table_epochs():
        if e.status == "unknown":
            continue
        try:
            make(e.representative.version)
        except NotWritable:
            continue
        out.append(e.representative.version)
    return out


WRITABLE = _representatives(writing_release)


def test_every_epoch_with_a_writer_record_is_writable_but_the_first():
    assert {"0.164.0", "0.165.0", "0.169.0", "0.171.0"} <= set(WRITABLE)
    with pytest.raises(NotWritable, match="never seen writing"):
        writing_release("0.124.0")  # its writer was not seen writing a turn
    with pytest.raises(NotWritable, match="not a Codex release"):
        writing_release("9.9.9")


@pytest.mark.parametrize("version", WRITABLE)
def test_bundles_as_a_release_writes_are_clean_by_its_rules(version, tmp_path):
    w = writing_release(version)
    for seed in range(2):
        path = build_bundle(w.dialect.name, seed=seed, events=70 + 40 * seed, release=version).write(tmp_path / f"b{seed}")
        for profile in (Profile.REDUCER, Profile.WRITER):
            report = validate_bundle(path, Options(profile=profile, release=version, dialect=w.dialect.name))
            assert report.ok and not report.findings, (profile, [(f.invariant, f.message) for f in report.findings])


@pytest.mark.parametrize("dialect", ["v1", "v2", "v3"])
def test_the_reference_release_writes_what_the_releases_mode_writes(dialect):
    ref = DIALECTS[dialect].reference_release
    assert writing_release(ref).features == frozenset(FEATURES)
    a, b = build_bundle(dialect, seed=4, events=150, release=ref), build_bundle(dialect, seed=4, events=150)
    assert a.lines == b.lines and a.payloads == b.payloads


def test_0_165_0_writes_v2_without_the_runtime_kind_and_ends_with_rollout_ended():
    b = build_bundle("v2", seed=3, events=200, release="0.165.0")
    events = [json.loads(line)["payload"] for line in b.lines]
    assert events[-1]["type"] == "rollout_ended" and "recording_completed" not in {e["type"] for e in events}
    runtimes = [e for e in events if e["type"] == "tool_call_runtime_started"]
    assert runtimes and all("kind" not in e for e in runtimes)
    assert len(b.lines) == 200  # the event budget holds
    with pytest.raises(ValueError, match="writes v2, not v1"):
        build_bundle("v1", seed=3, events=60, release="0.165.0")


def _fuzz(tmp_path, cmd, *extra):
    return subprocess.run(
        [sys.executable, "-m", "rollout_trace_kit", "fuzz-reducer", "--cmd", cmd, "--seed", "1", "--jobs", "1",
         "--format", "json", "--repro-dir", str(tmp_path / "repro"), *extra],
        capture_output=True, text=True, cwd=tmp_path, timeout=600,
    )


def test_a_campaign_as_0_165_0_writes_is_judged_by_its_rules_and_replay_honours_it(tmp_path):
    """The kit's reducer judging as 0.165.0 passes; judging by the dialect's rules (0.169.0's: a
    runtime needs its kind) it rejects valid 0.165.0 bundles, and the saved case replays the same."""
    args = ("--release", "0.165.0", "--examples", "14", "--invariant", "SEQ.NO_GAP", "--invariant", "THREAD.UNKNOWN")
    out = _fuzz(tmp_path, kit_reducer("--release", "0.165.0"), *args)
    doc = json.loads(out.stdout)
    assert out.returncode == 0 and doc["ok"], out.stderr
    assert doc["release"] == "0.165.0" and doc["dialect"] == "v2" and doc["results"]["pass"] == doc["cases"] > 0
    (tmp_path / "strict").mkdir()
    out = _fuzz(tmp_path / "strict", kit_reducer(), *args)
    doc = json.loads(out.stdout)
    assert out.returncode == 1 and doc["new_failures"] == ["VALID"], doc["failures"][:2]
    f = doc["failures"][0]
    assert "EVENT.RELEASE_REQUIRED_FIELD" in f["detail"] and "-release=" not in f["id"]
    saved = json.loads((tmp_path / "strict" / "repro" / f["id"] / "case.json").read_text())
    assert saved["case"]["release"] == "0.165.0"
    again = subprocess.run([sys.executable, "-m", "rollout_trace_kit", "replay", str(tmp_path / "strict" / "repro" / f["id"]),
                            "--cmd", kit_reducer()], capture_output=True, text=True, timeout=300)
    assert again.returncode == 1 and again.stdout.startswith(f"{f['id']}: fail (rejects; expected: accept)"), again.stdout


@pytest.mark.parametrize("extra,message", [
    (("--release", "0.124.0"), "never seen writing"),
    (("--release", "9.9.9"), "not a Codex release"),
    (("--release", "0.165.0", "--dialect", "v1"), "writes dialect v2, not --dialect v1"),
    (("--release", "0.128.0", "--mode", "schema"), "requires body keys the generators do not write"),
])
def test_a_release_the_generators_cannot_follow_is_a_usage_error(tmp_path, extra, message):
    out = _fuzz(tmp_path, kit_reducer(), "--examples", "2", *extra)
    assert out.returncode == 2 and message in out.stderr and "Traceback" not in out.stderr, out.stderr


@pytest.mark.parametrize("release", [None, "0.165.0"])
def test_cases_are_judged_the_same_without_the_compatible_release_verdicts(release, tmp_path):
    """judge_case skips the per-epoch compat verdicts (a speed-up): the findings, and so each
    case's must_reject, are those of a full validate, RELEASE rules included."""
    from rollout_trace_kit.conformance.reducer.cases import build_case, judge_case, plan_cases

    for spec in plan_cases("v2", 12, 5, release=release):
        case = build_case(spec)
        if case is None:
            continue
        path = case.bundle.write(tmp_path / spec.id)
        judge_case(case, path, Profile.REDUCER)
        full = validate_bundle(path, Options(profile=Profile.REDUCER, dialect="v2", release=release))
        assert case.must_reject == (not full.ok), spec.id


# -- the schema mode of a release: what its reducer reads ------------------------------------------
READABLE = _representatives(reading_release)


def test_every_epoch_whose_reducer_reads_the_generators_bodies_is_readable():
    assert {"0.162.0", "0.164.0", "0.165.0", "0.169.0", "0.171.0"} <= set(READABLE)
    with pytest.raises(NotWritable, match="exec_command.*stdout"):
        reading_release("0.125.0")  # its reducer requires an exec end's stdout, which the bodies lack


@pytest.mark.parametrize("version", READABLE)
def test_schema_mode_bundles_of_a_release_are_valid_by_its_rules(version, tmp_path):
    r = reading_release(version)
    for seed in range(2):
        path = build_bundle(r.dialect.name, seed=seed, events=90 + 50 * seed, mode="schema",
                            release=version).write(tmp_path / f"b{seed}")
        report = validate_bundle(path, Options(profile=Profile.REDUCER, release=version, dialect=r.dialect.name))
        assert report.ok and not report.findings, [(f.invariant, f.message) for f in report.findings]


def test_schema_mode_of_0_165_0_writes_what_its_reducer_reads_and_no_more():
    """0.165.0's reducer knows neither thread_resumed nor recording_completed (measured): its schema-mode
    bundles hold neither, end with rollout_ended, and still take the tool kinds Codex never writes."""
    assert {"thread_resumed", "recording_completed"}.isdisjoint(reading_release("0.165.0").reads["variants"])
    tags, kinds, forms = set(), set(), set()
    for seed in range(3):
        for line in build_bundle("v2", seed=seed, events=200, mode="schema", release="0.165.0").lines:
            p = json.loads(line)["payload"]
            tags.add(p["type"])
            if p["type"] == "tool_call_started":
                kinds.add(p["kind"]["type"])
            if p["type"] == "tool_call_runtime_started":
                forms.add("present" if "kind" in p else "absent")
    assert p["type"] == "rollout_ended" and not {"thread_resumed", "recording_completed"} & tags
    assert {"mcp", "web", "image_generation"} <= kinds
    assert forms == {"present", "absent"}  # its reducer does not require a runtime start's kind (0.165.0 wrote none)
    whole = build_bundle("v2", seed=0, events=200, mode="schema")  # the dialect's reader: its terminal event
    assert json.loads(whole.lines[-1])["payload"]["type"] == "recording_completed"


def test_a_schema_campaign_of_a_release_covers_its_reducers_vocabulary_and_is_judged_by_its_rules(tmp_path):
    """--release R --mode schema: the kit's reducer judging as R passes, the report says mode and release,
    and the coverage is measured against what R's reducer knows (27 of v2's 29 variants for 0.165.0)."""
    out = _fuzz(tmp_path, kit_reducer("--release", "0.165.0"), "--release", "0.165.0", "--mode", "schema",
                "--examples", "10", "--invariant", "SEQ.NO_GAP", "--invariant", "THREAD.UNKNOWN")
    doc = json.loads(out.stdout)
    assert out.returncode == 0 and doc["ok"], out.stderr
    assert doc["release"] == "0.165.0" and doc["mode"] == "schema" and doc["dialect"] == "v2"
    assert doc["model_coverage"]["variants"]["total"] == len(reading_release("0.165.0").reads["variants"]) == 27
    assert "thread_resumed" not in doc["model_coverage"]["variants"]["missing"]
