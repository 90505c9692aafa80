"""The validator's fast path agrees with jsonschema, the referee, on the published schema.

Events from the real corpus and minimal events built from the model are
mutated at random (keys dropped or added, values retyped, nulled, pushed past
integer bounds, enums misspelt, nested objects broken) and judged three ways:
by ``jsonschema`` on the schema file, by the msgspec fast path alone, and by
the validator's full line check.
"""

from __future__ import annotations

import copy
import json

import jsonschema
import msgspec
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rollout_trace_kit.model import DIALECTS
from rollout_trace_kit.compilers.json_schema import event_schema
from rollout_trace_kit.compilers.msgspec_types import typed

from .conftest import ROOT, corpus_bundles
from .test_spec import _good_event


def _base_events(dialect: str) -> list[dict]:
    release = DIALECTS[dialect].reference_release
    events = []
    for b in corpus_bundles(release):
        events.extend(json.loads(line) for line in (b / "trace.jsonl").read_text().splitlines())
    events.extend(_good_event(dialect, tag) for tag in DIALECTS[dialect].tags)
    return events


BASES = {d: _base_events(d) for d in DIALECTS}
REFEREES = {
    d: jsonschema.Draft202012Validator(json.loads((ROOT / "schema" / d / "event.schema.json").read_text()))
    for d in DIALECTS
}
ODD_VALUES = [None, 0, -1, 1.5, 2.0, 2**63, 2**64, "", "x", "running", "no_such", True, [], [1], {}, {"type": "x"}]


def _paths(obj, prefix=()):
    yield prefix
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from _paths(v, prefix + (k,))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield from _paths(v, prefix + (i,))


def _get(obj, path):
    for p in path:
        obj = obj[p]
    return obj


@st.composite
def mutated_events(draw, dialect):
    event = json.loads(json.dumps(draw(st.sampled_from(BASES[dialect]))))
    for _ in range(draw(st.integers(0, 3))):
        paths = [p for p in _paths(event) if p]
        path = draw(st.sampled_from(paths))
        parent, key = _get(event, path[:-1]), path[-1]
        op = draw(st.sampled_from(["drop", "retype", "add", "tag"]))
        if op == "drop" and isinstance(parent, dict):
            del parent[key]
        elif op == "retype":
            parent[key] = copy.deepcopy(draw(st.sampled_from(ODD_VALUES)))
        elif op == "add" and isinstance(parent, dict):
            parent[draw(st.sampled_from(["extra", "value", "type", "kind"]))] = copy.deepcopy(draw(st.sampled_from(ODD_VALUES)))
        elif op == "tag" and isinstance(parent, dict) and "type" in parent:
            parent["type"] = draw(st.sampled_from(list(DIALECTS[dialect].tags) + ["model", "generic", "nope"]))
    return event


def _has_float_int_or_big(event) -> bool:
    """Values where serde (and so the fast path) deliberately differs from JSON Schema."""
    return any(
        (isinstance(v, float) and v.is_integer()) or (isinstance(v, int) and not isinstance(v, bool) and v >= 2**63)
        for v in (_get(event, p) for p in _paths(event))
    )


@pytest.mark.parametrize("dialect", sorted(DIALECTS))
@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_fast_path_agrees_with_jsonschema(dialect, data):
    event = data.draw(mutated_events(dialect))
    line = json.dumps(event, separators=(",", ":")).encode()
    referee_ok = REFEREES[dialect].is_valid(event)
    try:
        typed(DIALECTS[dialect]).decoder.decode(line)
        fast_ok = True
    except (msgspec.ValidationError, msgspec.DecodeError):
        fast_ok = False
    if fast_ok:
        assert referee_ok, f"fast path accepted an event the schema rejects: {event}"
    elif not _has_float_int_or_big(event):
        assert not referee_ok, f"fast path rejected an event the schema accepts: {event}"


# How producers spell a line: compact (serde, orjson) and Python's json.dumps defaults
# (", " and ": ", with and without ASCII escapes), which the fast path also takes.
SPELLINGS = [
    lambda e: json.dumps(e, separators=(",", ":")).encode(),
    lambda e: json.dumps(e).encode(),
    lambda e: json.dumps(e, ensure_ascii=False).encode(),
]


@pytest.mark.parametrize("dialect", sorted(DIALECTS))
@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_validator_line_verdict_agrees_with_jsonschema(dialect, data, tmp_path_factory):
    from rollout_trace_kit.validate.context import Context, Options
    from rollout_trace_kit.validate.findings import Profile
    from rollout_trace_kit.validate.lines import RawLine
    from rollout_trace_kit.validate.rules.schema import _index_tags, decode_event, sequence_forms, version_const

    event = data.draw(mutated_events(dialect))
    line = data.draw(st.sampled_from(SPELLINGS))(event)
    ctx = Context(tmp_path_factory.getbasetemp(), Options(profile=Profile.REDUCER), dialect=DIALECTS[dialect])
    ev, _ = decode_event(ctx, RawLine(1, line, True, False, False, 0))
    ids = {f.invariant for f in ctx.findings}
    # An integer tag serde reads as the variant of that index (TaggedUnion.index_order: measured) is
    # judged as the reducers read it, the variant's name in its place (a writer-level EVENT.VARIANT_INDEX).
    read = copy.deepcopy(event)
    _index_tags(DIALECTS[dialect], read)
    # Another schema_version breaks the schema's const; the line check leaves it to
    # ENVELOPE.SCHEMA_VERSION, whose level differs by dialect (v1's reducer ignores it).
    referee_ok = all(version_const(e) for e in REFEREES[dialect].iter_errors(read))
    if sequence_forms(DIALECTS[dialect], read):
        # serde's sequence form (an object's values as an array), which the reducers read: the kit declines it
        assert not referee_ok and ev is None and ids == {"KIT.SEQUENCE_FORM"}, (ids, event)
    elif referee_ok:
        assert ids <= {"EVENT.INTEGER_FORM"}, ids
        assert (ev is not None) or ids or _has_float_int_or_big(event)
    else:
        assert ev is None and ids & {"EVENT.SCHEMA", "EVENT.UNKNOWN_TYPE"}, (ids, event)


@pytest.mark.parametrize("dialect", sorted(DIALECTS))
def test_strict_schema_matches_unknown_key_findings(dialect, tmp_path):
    from rollout_trace_kit.validate.context import Context, Options
    from rollout_trace_kit.validate.findings import Profile
    from rollout_trace_kit.validate.lines import RawLine
    from rollout_trace_kit.validate.rules.schema import decode_event

    strict = jsonschema.Draft202012Validator(event_schema(DIALECTS[dialect], strict=True))
    for event in BASES[dialect][:40]:
        event = json.loads(json.dumps(event))
        event["payload"]["not_in_the_model"] = 1
        ctx = Context(tmp_path, Options(profile=Profile.STRICT), dialect=DIALECTS[dialect])
        ev, _ = decode_event(ctx, RawLine(1, orjson.dumps(event), True, False, False, 0))
        assert ev is not None
        assert [f.invariant for f in ctx.findings] == ["EVENT.UNKNOWN_KEY"]
        assert not strict.is_valid(event)


def _base_manifests(dialect: str) -> list[dict]:
    """The manifests of the dialect's reference release in the corpus (valid ones to break)."""
    out = [json.loads((b / "manifest.json").read_text()) for b in corpus_bundles(DIALECTS[dialect].reference_release)]
    assert out, dialect
    return out


MANIFEST_REFEREES = {
    d: jsonschema.Draft202012Validator(json.loads((ROOT / "schema" / d / "manifest.schema.json").read_text()))
    for d in DIALECTS
}


@pytest.mark.parametrize("dialect", sorted(DIALECTS))
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_manifest_fast_path_agrees_with_jsonschema(dialect, data):
    from rollout_trace_kit.validate.rules.schema import manifest_fast_ok

    manifest = json.loads(json.dumps(data.draw(st.sampled_from(_base_manifests(dialect)))))
    for _ in range(data.draw(st.integers(0, 3))):
        key = data.draw(st.sampled_from(sorted(manifest) + ["extra"]))
        op = data.draw(st.sampled_from(["drop", "retype"]))
        if op == "drop":
            manifest.pop(key, None)
        else:
            manifest[key] = copy.deepcopy(data.draw(st.sampled_from(ODD_VALUES)))
    referee_ok = MANIFEST_REFEREES[dialect].is_valid(manifest)
    if manifest_fast_ok(DIALECTS[dialect], manifest):
        assert referee_ok, f"fast path accepted a manifest the schema rejects: {manifest}"
    elif not _has_float_int_or_big(manifest):
        assert not referee_ok, f"fast path rejected a manifest the schema accepts: {manifest}"


@pytest.mark.parametrize("bundle", corpus_bundles("0.169.0")[:3] + corpus_bundles("0.171.0")[:3], ids=lambda p: p.name)
def test_python_default_separators_stay_on_the_fast_path_with_the_same_verdict(bundle, tmp_path, monkeypatch):
    # Lines written by json.dumps with its default separators took the slow path (15.5 s
    # against 5.5 s for 8k events written compactly); they hold the same documents.
    import shutil

    from rollout_trace_kit.validate import Options, Profile, validate_bundle
    from rollout_trace_kit.validate.rules import schema

    spaced = tmp_path / "spaced"
    shutil.copytree(bundle, spaced)
    lines = (bundle / "trace.jsonl").read_text(encoding="utf-8").splitlines()
    (spaced / "trace.jsonl").write_text(
        "".join(json.dumps(json.loads(line), ensure_ascii=False) + "\n" for line in lines), encoding="utf-8"
    )
    assert b'": ' in (spaced / "trace.jsonl").read_bytes()
    slow: list = []
    real = schema._slow
    monkeypatch.setattr(schema, "_slow", lambda ctx, raw, *a: slow.append(raw.number) or real(ctx, raw, *a))
    for profile in Profile:
        want = validate_bundle(bundle, Options(profile=profile))
        got = validate_bundle(spaced, Options(profile=profile))
        assert [(f.invariant, f.line, f.message) for f in got.findings] == [
            (f.invariant, f.line, f.message.replace(str(bundle), str(spaced))) for f in want.findings
        ]
    assert slow == [], f"lines {slow[:5]} left the fast path"


@pytest.mark.parametrize("worker", ["0", "1"], ids=["one-process", "decode-ahead"])
def test_a_line_holding_two_events_is_not_read_as_two_lines(worker, tmp_path, monkeypatch):
    # The runs of lines are proven joined by "," into one JSON array: a line `{event},{event}`
    # decoded to two events of a canonical array, so the fast path passed a log the referee
    # (the line check, on each line) rejects, and numbered every later line one too low.
    import shutil

    from rollout_trace_kit.validate import Options, Profile, validate_bundle
    from rollout_trace_kit.validate import ahead

    monkeypatch.setenv(ahead.ENV_SWITCH, worker)
    monkeypatch.setattr(ahead, "AHEAD_MIN_BYTES", 0)
    bundle = tmp_path / "two"
    shutil.copytree(corpus_bundles("0.169.0")[0], bundle)
    lines = (bundle / "trace.jsonl").read_bytes().split(b"\n")
    lines[1:3] = [lines[1] + b"," + lines[2]]
    (bundle / "trace.jsonl").write_bytes(b"\n".join(lines))
    report = validate_bundle(bundle, Options(profile=Profile.WRITER))
    assert report.events == len(lines) - 1  # the last line of the list is the empty tail
    assert ("LINE.JSON", 2) in [(f.invariant, f.line) for f in report.findings]


def _shapes(errors) -> list:
    """What a jsonschema error says and where, its sub-errors included (describe_errors reads them)."""
    return [(e.validator, e.message, tuple(e.absolute_path), tuple(e.absolute_schema_path), _shapes(e.context))
            for e in errors]


DISPATCHING = {}


@pytest.mark.parametrize("strict", [False, True], ids=["schema", "strict"])
@pytest.mark.parametrize("dialect", sorted(DIALECTS))
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_the_union_dispatching_referee_gives_jsonschemas_errors(dialect, strict, data):
    # the slow path's referee tries only the branch of an object's tag (validate.rules.schema.union_dispatching)
    from rollout_trace_kit.validate.rules.schema import union_dispatching

    key = (dialect, strict)
    if key not in DISPATCHING:
        schema = event_schema(DIALECTS[dialect], strict=strict)
        DISPATCHING[key] = (jsonschema.Draft202012Validator(schema),
                            union_dispatching(jsonschema.Draft202012Validator)(schema))
    plain, dispatching = DISPATCHING[key]
    event = data.draw(mutated_events(dialect))
    if data.draw(st.booleans()):  # a payload that is no object, or has no tag
        event["payload"] = data.draw(st.sampled_from([None, 1, "x", [], {}, {"kind": {"type": 3}}]))
    assert _shapes(dispatching.iter_errors(event)) == _shapes(plain.iter_errors(event))
