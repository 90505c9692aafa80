"""RELEASE.* rules: each operator's break is caught with exactly its IDs by `validate --release`.

The operator picks the release to judge with; `--release` must add exactly the expected
RELEASE IDs to what the same bundle gets without it (the dialect's own findings of an
edit, e.g. EVENT.SCHEMA for a removed field the dialect also requires, stay as they are).
"""

from __future__ import annotations

import random
import tempfile
from pathlib import Path

import pytest

from rollout_trace_kit.bundle import MANIFEST, Bundle
from rollout_trace_kit.corpus import bundles, corpus_root, releases as corpus_releases
from rollout_trace_kit.generators import CORRUPTIONS, FEATURES, expand, feature_plan
from rollout_trace_kit.model import releases as rel
from rollout_trace_kit.validate import CATALOGUE, Options, Profile, validate_bundle
from rollout_trace_kit.validate.release_verdict import options_for

RELEASE_IDS = sorted(i for i, inv in CATALOGUE.items() if inv.release_only)


def pool() -> list[tuple[str, Bundle]]:
    out = [(d, expand(feature_plan(FEATURES, seed=11), d)) for d in ("v1", "v2")]
    for release in corpus_releases():
        for b in bundles(release):
            out.append(({1: "v1", 2: "v2"}.get(Bundle.read(b).manifest_dict().get("schema_version"), "?"), Bundle.read(b)))
    return [(d, b) for d, b in out if d in ("v1", "v2")]


POOL = pool()


def check(bundle: Bundle, options: Options):
    with tempfile.TemporaryDirectory() as tmp:
        return validate_bundle(bundle.write(Path(tmp) / "b"), options)


def test_release_rules_are_declared_with_operators():
    assert RELEASE_IDS == ["RELEASE.AFTER_ROLLOUT_ENDED", "RELEASE.BODY_REQUIRED", "RELEASE.FIELD_REQUIRED",
                           "RELEASE.NUMBER_RANGE", "RELEASE.PAYLOAD_KIND_KNOWN",
                           "RELEASE.SCHEMA_ACCEPTED", "RELEASE.TERMINAL", "RELEASE.TOOL_KIND_KNOWN",
                           "RELEASE.VARIANT_KNOWN", "RELEASE.WRITER_SCHEMA", "RELEASE.WRITER_VARIANT"]
    assert all(i in CORRUPTIONS for i in RELEASE_IDS)


@pytest.mark.parametrize("invariant", RELEASE_IDS)
def test_release_corruption_caught_with_exactly_its_ids(invariant):
    hits = 0
    for n, (dialect, bundle) in enumerate(POOL):
        c = CORRUPTIONS[invariant].apply(bundle, dialect, random.Random(n))
        if c is None:
            continue
        hits += 1
        assert c.release and invariant in c.expected
        # the release reads the bundle as its own dialect when it takes every schema_version (0.164.0 and before)
        reads = options_for(Options(profile=Profile.STRICT, release=c.release)).dialect
        # releases=False: the findings alone (which releases read the bundle is compat's business, tested apart)
        base = {i for i in check(c.bundle, Options(profile=Profile.STRICT, dialect=reads, releases=False)).ids()}
        judged = check(c.bundle, Options(profile=Profile.STRICT, release=c.release, releases=False))
        added = judged.ids() - base
        assert added == set(c.expected), (c, sorted(added), [f.message for f in judged.findings][:5])
        primary = [f for f in judged.findings if f.invariant == invariant]
        if c.line is not None and invariant != "RELEASE.FIELD_REQUIRED":
            assert any(f.line == c.line for f in primary), (c, [(f.line, f.message) for f in primary])
        # the writer rule is strict only: the reducer profile sees the reader rules alone
        reducer = check(c.bundle, Options(profile=Profile.REDUCER, release=c.release, releases=False)).ids()
        assert "RELEASE.WRITER_VARIANT" not in reducer
    assert hits, f"no bundle of the pool offers a place for {invariant} with the measured releases"


def test_real_bundles_are_clean_as_their_own_release():
    """Every shipped real bundle, judged strictly as the release that wrote it, has no RELEASE finding."""
    checked = 0
    for release in corpus_releases():
        if rel.release(release) is None or rel.release(release).record is None:
            continue
        for b in bundles(release):
            report = validate_bundle(b, Options(profile=Profile.STRICT, release=release))
            assert not {i for i in report.ids() if i.startswith("RELEASE.")}, (b, report.findings[:3])
            assert release in ",".join(report.releases["readers"]) or any(
                _in_range(release, r) for r in report.releases["readers"]), (b, report.releases)
            checked += 1
    assert checked


def _in_range(version: str, span: str) -> bool:
    from rollout_trace_kit.model.types import release_key

    first, _, last = span.partition("..")
    return release_key(first) <= release_key(version) <= release_key(last or first)


def test_unknown_release_is_a_usage_error(tmp_path, capsys):
    from rollout_trace_kit.cli import main

    b = bundles(corpus_releases()[0])[0]
    assert main(["validate", "--release", "9.9.9", str(b)]) == 2
    assert "no facts for Codex 9.9.9" in capsys.readouterr().err


@pytest.mark.parametrize("release", corpus_releases())
def test_the_fast_path_summary_is_the_summary_of_every_line(release):
    """The validator summarizes fast-path events by class (a class of scalar fields adds
    nothing after its first event); that must equal observing every decoded line."""
    import orjson

    from rollout_trace_kit.compilers.msgspec_types import typed
    from rollout_trace_kit.model import DIALECTS
    from rollout_trace_kit.validate.rules.release import BundleSummary

    bundles_seen = 0
    for path in bundles(release):
        dialect = DIALECTS[{1: "v1", 2: "v2", 3: "v3"}[Bundle.read(path).manifest_dict()["schema_version"]]]
        lines = (path / dialect.layout.event_log).read_bytes().splitlines()
        by_line, by_class = BundleSummary(), BundleSummary()
        for n, data in enumerate(lines, 1):
            by_line.observe(orjson.loads(data), n)
            ev = typed(dialect).decoder.decode(data)
            by_class.observe_typed(ev.schema_version, ev.payload, n)
        for name in ("schema_versions", "keysets", "tool_kinds", "payload_kinds"):
            assert getattr(by_class, name) == getattr(by_line, name), (path.name, name)
        assert by_line.keysets and by_line.schema_versions
        bundles_seen += 1
    assert bundles_seen


def test_a_release_error_past_max_findings_still_fails_the_bundle(tmp_path):
    # One warning fills --max-findings 1; the RELEASE error that follows is dropped from
    # the list, but the verdict must count it (it used to be counted after the report was built).
    import shutil

    from rollout_trace_kit.corpus import corpus_root

    b = tmp_path / "b"
    shutil.copytree(corpus_root() / "codex-0.164.0" / "basic", b)
    (b / "payloads" / "99.json").write_bytes(b"{}")  # REF.ORPHAN, a strict warning
    full = validate_bundle(b, Options(profile=Profile.STRICT, release="0.171.0"))
    assert "RELEASE.SCHEMA_ACCEPTED" in full.ids() and not full.ok
    cut = validate_bundle(b, Options(profile=Profile.STRICT, release="0.171.0", max_findings=1))
    assert cut.ids() == {"REF.ORPHAN"} and cut.truncated
    assert cut.dropped_errors >= 1 and not cut.ok


@pytest.mark.parametrize("where", ["manifest.json", "trace.jsonl"])
def test_deep_nesting_in_a_bundle_of_an_unknown_dialect_is_no_internal_error(tmp_path, where):
    # The pass stops at BUNDLE.DIALECT_KNOWN, so the release verdict reads the files plainly.
    b = tmp_path / "b"
    b.mkdir()
    deep = b"[" * 100_000 + b"]" * 100_000
    (b / "manifest.json").write_bytes(deep if where == "manifest.json" else b'{"schema_version": 9}')
    (b / "trace.jsonl").write_bytes((deep if where == "trace.jsonl" else b'{"schema_version": 9}') + b"\n")
    report = validate_bundle(b, Options(profile=Profile.STRICT, release="0.171.0"))
    assert "KIT.INTERNAL_ERROR" not in report.ids(), [f.message for f in report.findings]
    assert not report.ok and report.releases is not None


@pytest.mark.parametrize("release", ["", "9.9.9", "junk\x1b[31m"])
def test_a_release_without_facts_is_refused_by_the_cli_and_the_library(tmp_path, capsys, release):
    # An empty --release used to be taken as no --release at all (exit 0), and the
    # library ignored an unknown one: the bundle was judged by no release and said ok.
    from rollout_trace_kit.cli import main

    b = bundles(corpus_releases()[0])[0]
    assert main(["validate", "--release", release, str(b)]) == 2
    err = capsys.readouterr().err
    assert "no facts for Codex" in err and "\x1b" not in err
    with pytest.raises(ValueError, match="no facts for Codex"):
        Options(release=release)


def test_the_summary_of_typed_events_is_the_same_with_the_light_path_as_with_the_whole_walk(monkeypatch):
    # Typed events whose keys never vary add only their refs' and tool's kinds (the whole walk
    # per event was a third of a payload-heavy validation): the summary must not change.
    from rollout_trace_kit.validate import engine
    from rollout_trace_kit.validate.rules import release

    from .conftest import corpus_bundles

    def summary_of(bundle):
        made = []

        class Kept(release.BundleSummary):
            def __init__(self, *a, **k):
                super().__init__(*a, **k)
                made.append(self)

        monkeypatch.setattr(engine, "BundleSummary", Kept)
        validate_bundle(bundle, Options())
        s = made[0]
        return s.schema_versions, s.keysets, s.tool_kinds, s.payload_kinds

    light_used = 0
    for bundle in corpus_bundles():
        light = summary_of(bundle)
        with monkeypatch.context() as m:
            m.setattr(release._Varying, "of", staticmethod(lambda cls: None))
            whole = summary_of(bundle)
        assert light == whole, bundle
        light_used += 1
    assert light_used and release._Varying.of(_tool_call_started_class()) is not None


def _tool_call_started_class():
    from rollout_trace_kit.compilers.msgspec_types import typed
    from rollout_trace_kit.model import DIALECTS

    return typed(DIALECTS["v2"]).variant_classes["tool_call_started"]


@pytest.mark.parametrize("version,severity", [(8, "WARNING"), (100, "WARNING"), (3, None)])
def test_a_schema_version_the_probe_never_tried_is_a_warning(tmp_path, version, severity):
    """0.164.0 accepted every schema_version the probe tried (0..5); whether it accepts 8 is not
    measured, so that is a warning that says so (it does accept it). A tried value it refuses is an error."""
    import json
    import shutil

    path = tmp_path / "b"
    shutil.copytree(corpus_root() / "codex-0.164.0" / "plain", path)
    manifest = json.loads((path / MANIFEST).read_text())
    manifest["schema_version"] = version
    (path / MANIFEST).write_text(json.dumps(manifest))
    # 0.165.0 accepts 2 only, and the events' schema_version 1 is a value the probe tried: an error
    for release, want in (("0.164.0", severity), ("0.165.0", "ERROR")):
        report = validate_bundle(path, Options(profile=Profile.REDUCER, release=release))
        got = {f.severity.name for f in report.findings if f.invariant == "RELEASE.SCHEMA_ACCEPTED"}
        assert got == ({want} if want else set()), (release, version, [(f.invariant, f.message) for f in report.findings])
        if want == "WARNING":
            assert any("not tried" in f.message for f in report.findings) and report.ok


def test_a_rule_a_release_is_measured_not_to_enforce_is_a_warning_for_it():
    # 0.167.2 and 0.168.0 accept an agent message whose id is not the acceptance's (their probe's
    # fuzz saw it; measured again on 0.167.2: they never open that payload); 0.169.0 rejects it
    from rollout_trace_kit.conformance.suite import suite_root

    bundle = suite_root() / "cases" / "v2" / "invalid-HISTORY.AGENT_MESSAGE" / "bundle"
    assert "HISTORY.AGENT_MESSAGE" in rel.release("0.167.2").accepts_breaking
    assert "HISTORY.AGENT_MESSAGE" not in rel.release("0.169.0").accepts_breaking
    # 0.167.2: never an error. Its measured payloads_opened (it never opens the payload) leaves the
    # rule nothing to judge; where it would judge, accepts_breaking makes the finding a warning.
    for release, severities in (("0.167.2", {(), ("warning",)}), ("0.169.0", {("error",)})):
        report = validate_bundle(bundle, Options(profile=Profile.REDUCER, release=release, releases=True))
        assert {f.invariant for f in report.findings} <= {"HISTORY.AGENT_MESSAGE"}
        assert tuple(f.severity.value for f in report.findings) in severities, release
    assert "0.167.2..0.168.0" in report.releases["readers"]  # the compatible range is judged alike
    # a fuzz that rejected even the valid bundles says nothing of what the reducer enforces
    assert rel.release("0.165.0").accepts_breaking == frozenset()
