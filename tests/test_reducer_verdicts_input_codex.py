"""The minimal bundles of tests/test_reducer_verdicts.py, judged again by the real reducers.

Opt-in tier (``--codex -m codex``): each case's bundle goes through ``codex debug
trace-reduce`` of the dialect's reference release and through the kit's reducer profile,
and the two verdicts must agree. The body depth limits of the model
(``Dialect.body_depth_limits``) are measured again here: their depth is read, one more fails.
"""

from __future__ import annotations

import pytest

from rollout_trace_kit.codex.install import trace_reduce
from rollout_trace_kit.model import DIALECTS

from . import test_reducer_verdicts_input as v

pytestmark = pytest.mark.codex


def _agree(d, dialect, binaries, tmp_path, accepted: bool) -> None:
    real = trace_reduce(binaries[dialect], d, tmp_path / "state.json", timeout=60)
    kit = v.reducer(d)
    assert real.accepted is accepted, real.first_error
    assert kit.ok is accepted, (real.first_error, [(f.invariant, f.message) for f in kit.findings])


@pytest.mark.parametrize("what", v.CONFLICTS)
def test_conflicting_refs(what, codex_binaries, tmp_path):
    _agree(v._twin_ref(tmp_path, v.CONFLICTS[what]), "v3", codex_binaries, tmp_path, False)


@pytest.mark.parametrize("what", v.SAME)
def test_same_refs(what, codex_binaries, tmp_path):
    _agree(v._twin_ref(tmp_path, v.SAME[what]), "v3", codex_binaries, tmp_path, True)


@pytest.mark.parametrize("dialect", ["v1", "v2"])
@pytest.mark.parametrize("form", v.UNREADABLE_FORMS + v.INSIDE_FORMS)
def test_path_forms(dialect, form, codex_binaries, tmp_path):
    d = v._request_path(tmp_path, dialect, form)
    _agree(d, dialect, codex_binaries, tmp_path, form in v.INSIDE_FORMS)


@pytest.mark.parametrize("dialect", list(v.RELEASE))
@pytest.mark.parametrize("value", v.SKIPPED_VALUES)
def test_values_serde_skips(dialect, value, codex_binaries, tmp_path):
    d = v.plain(tmp_path, dialect)
    v._edit_line(d, 1, lambda line: line[:-1] + b',"zz":' + v.SKIPPED_VALUES[value] + b"}")
    text = (d / "manifest.json").read_bytes().rstrip()
    (d / "manifest.json").write_bytes(text[:-1] + b',"zz":' + v.SKIPPED_VALUES[value] + b"}")
    _agree(d, dialect, codex_binaries, tmp_path, True)


@pytest.mark.parametrize("dialect,kind,limit", v._body_kinds(), ids=lambda x: str(x))
def test_body_depth_limits_of_the_model_are_measured(dialect, kind, limit, codex_binaries, tmp_path):
    for depth, accepted in ((limit, True), (limit + 1, False)):
        d, ref = v._ref_of_kind(tmp_path / str(depth), dialect, kind)
        v._deepen_payload(d, dialect, ref, depth)
        _agree(d, dialect, codex_binaries, tmp_path, accepted)


def test_every_limited_kind_is_a_kind_of_its_dialect():
    for d in DIALECTS.values():
        kinds = set(d.type("RawPayloadKind").values)
        assert {k for k, _ in d.body_depth_limits} <= kinds


@pytest.mark.parametrize("dialect", ["v2", "v3"])
@pytest.mark.parametrize("kind,accepted", [("protocol_event", True), ("session_metadata", False)])
def test_lone_surrogates_in_bodies(dialect, kind, accepted, codex_binaries, tmp_path):
    d = v.plain(tmp_path, dialect)
    tag = {"protocol_event": "protocol_event_observed", "session_metadata": "thread_started"}[kind]
    evs = v.events(d)
    payload = evs[v.first(evs, tag)]["payload"]
    v._surrogate_in(d, dialect, payload["event_payload" if kind == "protocol_event" else "metadata_payload"])
    _agree(d, dialect, codex_binaries, tmp_path, accepted)
