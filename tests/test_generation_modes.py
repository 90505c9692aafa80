"""The two generation modes: "releases" (what Codex writes) and "schema" (what the schema allows).

A schema-mode campaign of 200 cases reaches every variant, tool kind, payload kind and enum
value of its dialect (issue 19: a reducer that crashes on a rarely written tool kind must not
pass a campaign), every schema-mode bundle is valid (the kit's reducer profile; the codex tier
runs the real reducers on them), and the model coverage says what a campaign exercised.
"""

from __future__ import annotations

import json

import pytest

from rollout_trace_kit.bundle import Bundle
from rollout_trace_kit.conformance.reducer.cases import VALID, CaseSpec, build_case, eligible_invariants, plan_cases
from rollout_trace_kit.conformance.reducer.coverage import Coverage, universe
from rollout_trace_kit.generators import MODES, build_bundle
from rollout_trace_kit.model import DIALECTS
from rollout_trace_kit.validate import Options, Profile, validate_bundle
from rollout_trace_kit.writer.core import written_dialects

DIALECTS_WRITTEN = written_dialects()

FULL = ("variants", "tool_kinds", "payload_kinds", "enum_values", "field_presence")


def campaign_coverage(dialect: str, mode: str, examples: int = 200, seed: int = 0, valid_only: bool = False) -> Coverage:
    cov = Coverage(DIALECTS[dialect], frozenset(eligible_invariants(dialect)))
    for spec in plan_cases(dialect, examples, seed, mode=mode):
        if valid_only and spec.invariant != VALID:
            continue
        case = build_case(spec)
        if case is None:
            continue
        if not case.valid:
            cov.observe_invariant(spec.invariant)
        cov.observe_lines(case.bundle.lines)
    return cov


@pytest.mark.parametrize("dialect", DIALECTS_WRITTEN)
def test_a_200_case_schema_campaign_covers_the_dialects_vocabulary(dialect):
    """Every variant, kind, enum value and field form of each dialect is reached (an optional field
    that is not Nullable has no null form: coverage.forms_of); no exemption list."""
    report = campaign_coverage(dialect, "schema").report()
    for category in FULL:
        assert report[category]["missing"] == [], (category, report[category])


@pytest.mark.parametrize("dialect", DIALECTS_WRITTEN)
@pytest.mark.parametrize("seed", range(3))
def test_the_valid_cases_alone_reach_every_variant_kind_enum_value_and_field_form(dialect, seed):
    """Coverage by construction: the 40 valid bundles of a 200-case plan reach every variant, tool
    kind, payload kind, enum value and optional-field form, whatever corruptions a seed draws,
    except what the model says no valid bundle holds (the `other` variant; v2's and v3's runtime
    start without `kind`), which the report names with why, and which no valid bundle holds. Before
    the plan started its k-th valid bundle with the k-th feature turn and each widened value's
    cycle k values on, v3's valid cases never held agent_result_observed, thread_resumed or the
    agent_result payload kind (a spawned child did not fit the budgets), nor v1's and v2's
    carried_payload absent, and a seed could miss a tool kind (seed 9: v3's close_agent)."""
    report = campaign_coverage(dialect, "schema", seed=seed, valid_only=True).report()
    for category in FULL:
        assert report[category]["missing"] == sorted(report[category]["never_valid"]), (category, report[category])
    assert report["variants"]["never_valid"] == {"other": "no reducer implements it: every one rejects the event"}


def test_never_valid_comes_from_the_model():
    """The variants no reducer implements (Variant.unimplemented) and the optional fields the judging
    release's reducer requires (Field.required_since), left out: no hand list."""
    from rollout_trace_kit.model.facts import never_valid, unimplemented_variants

    v2 = DIALECTS["v2"]
    assert unimplemented_variants(v2) == {"other"}
    assert {k: set(v) for k, v in never_valid(v2).items()} == {
        "variants": {"other"}, "field_forms": {"tool_call_runtime_started.kind=absent", "tool_call_runtime_started.kind=null"}}
    # 0.165.0 wrote runtime starts without `kind`, and its reducer reads them
    assert never_valid(v2, "0.165.0")["field_forms"] == {}
    assert set(never_valid(DIALECTS["v1"])["variants"]) == {"other"}
    assert never_valid(DIALECTS["v1"])["field_forms"] == {}
    report = Coverage(v2).report()
    assert report["field_presence"]["never_valid"] == {
        "tool_call_runtime_started.kind=absent": "Codex 0.169.0's reducer requires it (reducers since 0.166.0)"}


@pytest.mark.parametrize("dialect", DIALECTS_WRITTEN)
def test_the_plan_starts_each_valid_bundle_with_the_next_feature_turn(dialect):
    """The schema mode's plan gives its k-th valid case a seed whose bundle tries the k-th feature
    turn first, and that turn always fits the smallest budget of a plan."""
    from rollout_trace_kit.generators._fast import _feature_order, feature_events

    sizes = feature_events(dialect, None, True)
    valid = [s for s in plan_cases(dialect, 200, 0, mode="schema") if s.invariant == VALID]
    firsts = [_feature_order(s.seed, sizes)[0] for s in valid]
    assert firsts == [k % len(sizes) for k in range(len(valid))]
    big = max(sizes)
    assert all(s <= 40 - 7 - 2 for s in sizes if s != big), sizes


@pytest.mark.parametrize("dialect", DIALECTS_WRITTEN)
def test_the_releases_mode_covers_less_than_the_schema_mode(dialect):
    """The releases mode writes what Codex writes: fewer tool kinds and summary variants than
    the schema allows (the gap the schema mode exists for)."""
    releases = campaign_coverage(dialect, "releases", examples=60).report()
    schema = campaign_coverage(dialect, "schema", examples=60).report()
    assert releases["tool_kinds"]["covered"] < schema["tool_kinds"]["covered"] == schema["tool_kinds"]["total"]
    assert releases["enum_values"]["covered"] < schema["enum_values"]["covered"]


@pytest.mark.parametrize("dialect", DIALECTS_WRITTEN)
@pytest.mark.parametrize("seed", range(6))
def test_schema_mode_bundles_are_valid_in_the_reducer_profile(dialect, seed, tmp_path):
    bundle = build_bundle(dialect, seed=seed * 31 + 5, events=60 + 25 * seed, mode="schema")
    path = bundle.write(tmp_path / "b")
    report = validate_bundle(path, Options(profile=Profile.REDUCER, dialect=dialect))
    assert report.ok and not [f for f in report.findings if f.severity.name == "ERROR"], [
        (f.invariant, f.message) for f in report.findings]


def test_schema_mode_is_deterministic_and_differs_from_releases():
    a = build_bundle("v2", seed=7, events=120, mode="schema")
    b = build_bundle("v2", seed=7, events=120, mode="schema")
    r = build_bundle("v2", seed=7, events=120)
    assert a.lines == b.lines and a.payloads == b.payloads
    assert len(a.lines) == len(r.lines) == 120  # the event budget holds in both modes
    assert a.lines != r.lines


def test_an_unknown_mode_is_refused():
    with pytest.raises(ValueError, match="unknown generation mode"):
        build_bundle("v2", seed=1, events=40, mode="wild")
    assert set(MODES) == {"releases", "schema"}


def test_case_ids_of_the_releases_mode_are_unchanged():
    """Known-results files and saved cases name cases by id: adding modes kept the old ids."""
    import hashlib

    spec = CaseSpec("v2", "SEQ.NO_GAP", 12345, 80)
    old = hashlib.sha256(b"v2:SEQ.NO_GAP:12345:80").hexdigest()[:10]
    assert spec.id == f"v2-SEQ.NO_GAP-{old}"
    assert CaseSpec("v2", "SEQ.NO_GAP", 12345, 80, "schema").id != spec.id


def test_coverage_counts_each_form_of_an_optional_field():
    d = DIALECTS["v2"]
    cov = Coverage(d)
    base = {"type": "inference_completed", "inference_call_id": "c", "response_payload": None}
    for extra in ({"upstream_request_id": "x"}, {"upstream_request_id": None}, {}):
        cov.observe_event({"payload": {**base, **extra}})
    forms = {f for f in cov.seen["field_presence"] if f.startswith("inference_completed.upstream_request_id=")}
    assert forms == {f"inference_completed.upstream_request_id={x}" for x in ("present", "null", "absent")}
    assert "inference_completed" in cov.seen["variants"]
    # a line that is not JSON, or an event of no known variant, exercises nothing
    before = {k: set(v) for k, v in cov.seen.items()}
    cov.observe_lines([b"{not json", json.dumps({"payload": {"type": "nope"}}).encode(),
                       json.dumps({"payload": {"type": ["a list"]}}).encode()])
    assert cov.seen == before


def test_the_universe_is_what_events_can_hold():
    u = universe(DIALECTS["v2"])
    assert "exec_command" in u["tool_kinds"] and "other" in u["variants"]
    assert "ToolCallSummary.wait_agent" in u["enum_values"]
    # v2's events hold no v3-only type
    assert not any(e.startswith("PayloadCapture.") for e in u["enum_values"])


def test_fuzz_report_carries_the_mode_and_model_coverage(tmp_path):
    """A campaign's JSON report states its mode and its model coverage (the accepting fake
    reducer: no reducer run matters here)."""
    import subprocess
    import sys

    from .conftest import ROOT

    out = tmp_path / "r.json"
    reducer = f"{sys.executable} {ROOT / 'tests' / 'reducers' / 'accept_all.py'} {{bundle}} {{output}}"
    proc = subprocess.run(
        [sys.executable, "-m", "rollout_trace_kit", "fuzz-reducer", "--cmd", reducer, "--dialect", "v1",
         "--examples", "12", "--seed", "3", "--mode", "schema", "--jobs", "1", "--format", "json", "-o", str(out),
         "--repro-dir", str(tmp_path / "rf")],
        capture_output=True, text=True, timeout=300, cwd=tmp_path,
    )
    assert proc.returncode in (0, 1), proc.stderr
    doc = json.loads(out.read_text())
    assert doc["mode"] == "schema"
    cov = doc["model_coverage"]
    assert cov["tool_kinds"]["total"] == 12 and cov["tool_kinds"]["covered"] >= 8, cov["tool_kinds"]
    assert set(cov) == {"variants", "tool_kinds", "payload_kinds", "enum_values", "field_presence", "invariants"}


def test_the_campaigns_model_coverage_is_observed_by_the_workers_as_a_rebuild_would():
    """Each result carries what its case exercised (observed where the case was built); the
    campaign's coverage from those equals the one rebuilt from the specs."""
    import sys

    from rollout_trace_kit.conformance.command import ReducerCommand
    from rollout_trace_kit.conformance.reducer.fuzz import Campaign

    from .conftest import ROOT

    reducer = f"{sys.executable} {ROOT / 'tests' / 'reducers' / 'accept_all.py'} {{bundle}} {{output}}"
    campaign = Campaign(ReducerCommand(reducer), "v3", examples=10, seed=4, jobs=1, mode="schema")
    results = campaign.run()
    assert results and all(r.coverage is not None for r in results)
    carried = campaign.model_coverage()
    for r in results:
        r.coverage = None  # the rebuild path
    assert campaign.model_coverage() == carried == campaign_coverage("v3", "schema", examples=10, seed=4).report()


def test_the_console_names_what_no_valid_bundle_holds_apart_from_what_is_missing():
    from rollout_trace_kit.conformance.reducer.coverage import console_lines

    report = campaign_coverage("v2", "schema", valid_only=True).report()
    lines = console_lines(report)
    variants = next(line for line in lines if line.lstrip().startswith("variants:"))
    assert variants == "  variants: 28/29; in no valid bundle (model), not reached: other", variants
    assert not any("missing:" in line for line in lines), lines


@pytest.mark.parametrize("dialect,release", [("v1", None), ("v2", None), ("v3", None), ("v2", "0.165.0")])
def test_schema_mode_bundles_have_exactly_the_events_asked_for(dialect, release):
    """The feature turns are fitted by the events they were measured writing (not by
    turn_event_bound's bound): the budget still holds exactly, from the smallest up."""
    for events in range(12, 230, 7):
        for seed in (events, events * 31 + 1):
            try:
                bundle = build_bundle(dialect, seed=seed, events=events, mode="schema", release=release)
            except ValueError:  # below the dialect's smallest bundle
                assert events < 16
                continue
            assert len(bundle.lines) == events, (events, seed)
