"""The release table: measured records, their shape, and coverage of every published release."""

from __future__ import annotations

import json

import pytest

from rollout_trace_kit.model import releases as rel
from rollout_trace_kit.model.types import release_key

RECORDS = rel.load_records()
MACHINE = ("/root/", "/home/", "/tmp/", "/Users/", "/private/", ".cache/", "node_modules")


def test_records_have_the_documented_shape():
    assert RECORDS, "no release record"
    for version, r in RECORDS.items():
        assert r["format"] == rel.RECORD_FORMAT and r["release"] == version and r["probed"] is True
        assert r["probed_with"].startswith("rollout-trace-kit ")
        assert r["schema_version"] is None or isinstance(r["schema_version"], int)
        assert isinstance(r["has_reducer"], bool)
        writer = r["writer"]
        assert isinstance(writer["scenarios"], dict) and writer["scenarios"]
        for name, s in writer["scenarios"].items():
            assert {"exit", "bundles", "variants", "terminal", "after_rollout_ended"} <= set(s), (version, name)
        if r["schema_version"] is not None:
            assert set(writer["variants"]) == {v for s in writer["scenarios"].values() for v in s["variants"]}
        if r["has_reducer"] and r["reducer"] is not None:
            red = r["reducer"]
            assert set(red["variants"] or []) >= set(writer.get("variants") or []), version  # it reads what it writes
            assert all(isinstance(n, int) for n in red["schema_versions_accepted"])
            assert isinstance(red["required_fields"], dict)
        else:
            assert r["reducer"] is None


def test_records_hold_no_machine_paths():
    for version in RECORDS:
        text = (rel.data_dir() / f"{version}.json").read_text()
        for marker in MACHINE:
            assert marker not in text, (version, marker)


def test_every_published_release_is_probed_or_inferred():
    table = list(rel.table())
    versions = [r.version for r in table]
    assert versions == sorted(versions, key=release_key)
    assert set(rel.published()) <= set(versions)
    assert versions[0] == rel.FIRST_RELEASE
    unknown = [r.version for r in table if r.status == "unknown"]
    assert not unknown, f"not probed nor inferred (run `rollout-trace codex bisect`): {unknown}"
    for r in table:
        if r.status == "inferred":
            lo, hi = r.inferred_from
            assert rel.facts_of(RECORDS[lo]) == rel.facts_of(RECORDS[hi])
            assert release_key(lo) < release_key(r.version) < release_key(hi)


def test_epochs_partition_the_table_into_runs_of_equal_facts():
    table = list(rel.table())
    eps = rel.epochs(table)
    assert [v for e in eps for v in e.versions] == [r.version for r in table]
    for a, b in zip(eps, eps[1:]):
        assert a.representative.facts != b.representative.facts or "unknown" in (a.status, b.status)
    for e in eps:
        assert len({json.dumps(r.facts, sort_keys=True) for r in e.releases}) == 1


def test_inference_needs_equal_ends():
    a = {"format": rel.RECORD_FORMAT, "release": "1.0.0", "probed": True, "probed_with": "k", "schema_version": 1,
         "has_reducer": False, "writer": {"scenarios": {}}, "reducer": None}
    b = dict(a, release="1.0.3")
    c = dict(a, release="1.0.3", schema_version=2)
    same = rel.build_table({"1.0.0": a, "1.0.3": b}, ["1.0.0", "1.0.1", "1.0.2", "1.0.3"])
    assert [r.status for r in same] == ["probed", "inferred", "inferred", "probed"]
    differ = rel.build_table({"1.0.0": a, "1.0.3": c}, ["1.0.0", "1.0.1", "1.0.2", "1.0.3"])
    assert [r.status for r in differ] == ["probed", "unknown", "unknown", "probed"]
    assert rel.bisect_next(differ) == ["1.0.2"]
    assert [e.versions for e in rel.epochs(same)] == [["1.0.0", "1.0.1", "1.0.2", "1.0.3"]]


def test_release_pages_render_every_epoch():
    from rollout_trace_kit.docsgen.releases_page import epoch_slug, release_pages

    pages = release_pages()
    index = pages["reference/releases/index.md"]
    for e in rel.epochs(list(rel.table())):
        if e.status != "unknown":
            assert f"reference/releases/{epoch_slug(e)}.md" in pages
            assert f"({epoch_slug(e)}.md)" in index


@pytest.mark.parametrize("fmt", ["human", "json"])
def test_releases_command(capsys, fmt):
    from rollout_trace_kit.cli import main

    assert main(["codex", "releases", "--format", fmt]) == 0
    out = capsys.readouterr().out
    if fmt == "json":
        doc = json.loads(out)
        assert [r["version"] for r in doc["releases"]] == [r.version for r in rel.table()]
    else:
        assert rel.FIRST_RELEASE in out


# -- the model's release annotations against the measured records ----------------------------------------
# `since` and `required_since` in the model are typed in; the records are measured. These tests keep
# the two in step: a new probe that moves a first release fails here until the model follows.

def _first(pred) -> str | None:
    """The first release of the table (probed, or inferred from equal neighbours) for which ``pred`` holds."""
    return next((r.version for r in rel.table() if r.record is not None and pred(r)), None)


def _dialect_span(d) -> list[rel.Release]:
    return [r for r in rel.table() if r.schema_version == d.schema_version and r.record is not None]


def test_dialect_release_ranges_are_the_measured_ones():
    from rollout_trace_kit.model import DIALECTS
    from rollout_trace_kit.model.common import FIRST_RELEASE

    assert FIRST_RELEASE == _first(lambda r: r.get("has_reducer") is True)
    for d in DIALECTS.values():
        span = [r.version for r in _dialect_span(d) if r.get("has_reducer") is True]
        assert d.releases == (span[0], span[-1]), d.name
        assert rel.release(d.reference_release).status == "probed", d.name
        assert d.schema_version in rel.release(d.reference_release).schema_versions_accepted


def test_variant_since_is_the_first_release_whose_reducer_reads_it():
    """`since` of a payload variant: the first reducer that reads it (None: every reducer does)."""
    from rollout_trace_kit.model import DIALECTS
    from rollout_trace_kit.model.common import FIRST_RELEASE

    for d in DIALECTS.values():
        for v in d.payload.variants:
            first = _first(lambda r: v.tag in (r.reducer_variants or ()))
            want = "unreleased" if first is None else None if first == FIRST_RELEASE else first
            assert v.since == want, (d.name, v.tag, v.since, first)


def test_field_since_is_the_first_release_that_writes_it():
    """`since` of a payload field: the first release writing it; None: it came with its variant."""
    from rollout_trace_kit.model import DIALECTS

    for d in DIALECTS.values():
        for v in d.payload.variants:
            variant_written = _first(lambda r: v.tag in r.get("writer", "fields", default={}))
            for f in v.fields:
                written = _first(lambda r: f.name in r.get("writer", "fields", default={}).get(v.tag, ()))
                if f.since == "unreleased":
                    assert written is None, (d.name, v.tag, f.name)
                elif f.since is not None:
                    assert written == f.since, (d.name, v.tag, f.name, f.since, written)
                elif written is not None:  # never written in a probe: nothing to compare
                    assert written == variant_written, (d.name, v.tag, f.name, "first written", written)


def test_required_fields_agree_with_the_measured_reducers():
    """A required field every measured reducer of the dialect requires, an optional one none does;
    `required_since` is the first release whose reducer requires it, and every later one does."""
    from rollout_trace_kit.model import DIALECTS

    def measured(releases, tag):
        return [r for r in releases if tag in r.get("reducer", "required_fields", default={})]

    everyone = [r for r in rel.table() if r.record is not None]
    for d in DIALECTS.values():
        span = [r for r in _dialect_span(d) if r.get("has_reducer") is True]
        for v in d.payload.variants:
            for f in v.fields:
                if f.required_since is not None:
                    requiring = [r.version for r in measured(everyone, v.tag) if f.name in r.required_fields(v.tag)]
                    later = [r.version for r in measured(everyone, v.tag)
                             if release_key(r.version) >= release_key(f.required_since)]
                    assert requiring == later and requiring[0] == f.required_since, (d.name, v.tag, f.name, requiring)
                    continue
                readers = measured(span, v.tag)
                requiring = [r.version for r in readers if f.name in r.required_fields(v.tag)]
                assert requiring == ([r.version for r in readers] if f.required else []), (d.name, v.tag, f.name)


def test_model_vocabulary_is_the_reference_reducers():
    """Variants, payload kinds and every enum the probe asks a reducer about (tool kinds, statuses, ...):
    the model's values are what the dialect's reference release's reducer was measured to accept."""
    from rollout_trace_kit.codex.probe import ENUMS
    from rollout_trace_kit.model import DIALECTS
    from rollout_trace_kit.model.types import Named, TaggedUnion, unwrap

    for d in DIALECTS.values():
        r = rel.release(d.reference_release)
        assert set(d.tags) == r.reducer_variants, d.name
        assert set(d.type("RawPayloadKind").values) == set(r.get("reducer", "payload_kinds")), d.name
        for name, (variant, path) in ENUMS.items():
            t = unwrap(d.payload.variant(variant).field(path[0]).type)
            assert isinstance(t, Named), (d.name, name)
            named = d.type(t.name)
            values = named.tags if isinstance(named, TaggedUnion) else named.values
            assert set(values) == set(r.get("reducer", name)), (d.name, name)
