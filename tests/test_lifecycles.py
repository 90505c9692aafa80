"""The lifecycle facts of the model agree with the dialects: every variant that is about an
entity (its first field is the entity's key) takes part in that entity's lifecycle, each
lifecycle's variants carry its key, and every state is reachable from a start."""

from __future__ import annotations

import pytest

from rollout_trace_kit.bundle import Bundle
from rollout_trace_kit.corpus import bundles as corpus_bundles, releases as corpus_releases
from rollout_trace_kit.docsgen.diagrams import state_diagram
from rollout_trace_kit.generators import FEATURES, expand, feature_plan
from rollout_trace_kit.generators._edit import Editor
from rollout_trace_kit.model import DIALECTS, dialect_for_schema_version
from rollout_trace_kit.model.lifecycles import LIFECYCLES, START, lifecycles
from rollout_trace_kit.validate import Options, Profile, validate_bundle
from rollout_trace_kit.validate.findings import Invariant
from rollout_trace_kit.validate.rules import lifecycle as lifecycle_rules

KEYS = {lc.key: lc for lc in LIFECYCLES}


@pytest.mark.parametrize("name", sorted(DIALECTS))
def test_every_variant_about_an_entity_is_in_its_lifecycle(name):
    d = DIALECTS[name]
    for v in d.payload.variants:
        if v.fields and v.fields[0].name in KEYS:
            lc = KEYS[v.fields[0].name]
            assert v.tag in lc.tags, f"{name}: {v.tag} is about a {lc.entity} but not in its lifecycle"


@pytest.mark.parametrize("name", sorted(DIALECTS))
def test_lifecycle_variants_exist_and_carry_the_key(name):
    d = DIALECTS[name]
    for lc in lifecycles(d):
        assert lc.steps and lc.final
        for s in lc.steps:
            fields = [f.name for f in d.payload.variant(s.tag).fields]
            assert lc.key in fields, f"{name}: {s.tag} has no {lc.key}"
        reached, frontier = {START}, [START]
        while frontier:
            state = frontier.pop()
            for s in lc.steps:
                if s.source == state and s.target not in reached:
                    reached.add(s.target)
                    frontier.append(s.target)
        assert {s.source for s in lc.steps} | set(lc.final) <= reached, lc.entity


def test_v1_threads_cannot_be_resumed_and_v2_threads_can():
    thread = {d: next(lc for lc in lifecycles(DIALECTS[d]) if lc.entity == "thread") for d in ("v1", "v2")}
    assert "thread_resumed" not in thread["v1"].tags and "thread_resumed" in thread["v2"].tags
    assert "thread_resumed" not in state_diagram(thread["v1"])
    assert "ended --> active: thread_resumed" in state_diagram(thread["v2"])


# -- the lifecycle data against the validator's lifecycle checker (validate/rules/lifecycle.py) --------
# The checker is not generated from the data (it holds rules the diagrams do not draw: contexts,
# thread ownership, ...), so these tests tie the two: what the checker accepts in clean bundles is
# a path of each lifecycle, and an event may name an entity not seen yet exactly when its variant
# leaves the lifecycle's start state; an entity leaves the start state once.

LIFECYCLE_IDS = frozenset(v.id for v in vars(lifecycle_rules).values() if isinstance(v, Invariant))
FEATURE_BUNDLES = {name: expand(feature_plan(FEATURES, seed=11), name) for name in sorted(DIALECTS)}


def _clean_bundles() -> dict[str, tuple[str, Bundle]]:
    """label -> (dialect, bundle): the generators' feature bundles and the shipped real ones."""
    out = {f"generated-{name}": (name, b) for name, b in FEATURE_BUNDLES.items()}
    for release in corpus_releases():
        for path in corpus_bundles(release):
            b = Bundle.read(path)
            d = dialect_for_schema_version(b.manifest_dict().get("schema_version"))
            assert d is not None, path
            out[f"{release}/{path.name}"] = (d.name, b)
    return out


CLEAN = _clean_bundles()


def _walk(lc, events) -> list[str]:
    """Replay ``events`` through ``lc``; the steps it has no arrow for."""
    state: dict[str, str] = {}
    stray = []
    for e in events:
        p = e["payload"]
        if p["type"] not in lc.tags:
            continue
        key = p[lc.key]
        here = state.get(key, START)
        to = [s.target for s in lc.steps if s.source == here and s.tag == p["type"]]
        if not to:
            stray.append(f"{lc.entity} {key}: {here} --{p['type']}-->?")
            continue
        state[key] = to[0]
    return stray


@pytest.mark.parametrize("label", sorted(CLEAN))
def test_clean_bundles_follow_the_lifecycles(label, tmp_path):
    """Real Codex bundles and the generators' feature bundles: every entity walks its diagram."""
    name, bundle = CLEAN[label]
    ed = Editor(bundle, name)
    events = [ed.event(i) for i in range(len(ed.events))]
    for lc in lifecycles(DIALECTS[name]):
        stray = _walk(lc, events)
        assert not stray, (label, stray)
    if label.startswith("generated-"):  # the real ones are checked clean by their own tests
        report = validate_bundle(bundle.write(tmp_path / "b"), Options(profile=Profile.STRICT))
        assert not report.ids() & LIFECYCLE_IDS, report.findings[:3]


def _lifecycle_findings_at(bundle: Bundle, line: int, tmp_path) -> set[str]:
    # the findings alone: which releases read the broken bundle is compat's business, tested apart
    report = validate_bundle(bundle.write(tmp_path), Options(profile=Profile.STRICT, releases=False))
    return {f.invariant for f in report.findings if f.line == line and f.invariant in LIFECYCLE_IDS}


@pytest.mark.parametrize("name", sorted(DIALECTS))
def test_only_start_steps_may_name_an_unseen_entity(name, tmp_path):
    """An event naming an entity never seen is accepted iff the lifecycle has a step from START for it."""
    for lc in lifecycles(DIALECTS[name]):
        starts = {s.tag for s in lc.steps if s.source == START}
        for n, tag in enumerate(lc.tags):
            ed = Editor(FEATURE_BUNDLES[name], name)
            i = ed.lines_of(tag)[0]
            ed.touch(i)["payload"][lc.key] = f"never-seen-{lc.entity}-{n}"
            found = _lifecycle_findings_at(ed.done(), i + 1, tmp_path / f"{lc.entity}-{tag}")
            if tag in starts:
                assert not found, (lc.entity, tag, found)
            else:
                assert found, f"{name}: {tag} names an unseen {lc.entity} and the checker accepts it"


@pytest.mark.parametrize("name", ["v1", "v2"])  # Editor.clone copies payload files (file stores)
def test_an_entity_leaves_the_start_state_once(name, tmp_path):
    """A second event of a step from START for the same entity is rejected."""
    for lc in lifecycles(DIALECTS[name]):
        for tag in sorted({s.tag for s in lc.steps if s.source == START}):
            ed = Editor(FEATURE_BUNDLES[name], name)
            i = ed.lines_of(tag)[0]
            ed.insert(i + 1, ed.clone(i))
            assert _lifecycle_findings_at(ed.done(), i + 2, tmp_path / f"{lc.entity}-{tag}"), (lc.entity, tag)
