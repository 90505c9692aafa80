"""The lifecycle facts of the model agree with the dialects: every variant that is about an
entity (its first field is the entity's key) takes part in that entity's lifecycle, each
lifecycle's variants carry its key, and every state is reachable from a start."""

from __future__ import annotations

import pytest

from rollout_trace_kit.docsgen.diagrams import state_diagram
from rollout_trace_kit.model import DIALECTS
from rollout_trace_kit.model.lifecycles import LIFECYCLES, START, lifecycles

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
