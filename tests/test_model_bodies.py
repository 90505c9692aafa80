"""Payload-body contracts live in the model (issue 18, item 3): the validator, the generators
and the reference page read them from ``model/bodies.py``."""

from __future__ import annotations

import json

from rollout_trace_kit.docsgen.model_pages import bodies_page
from rollout_trace_kit.generators import _bodies as generated
from rollout_trace_kit.model import DIALECTS
from rollout_trace_kit.model import bodies as B
from rollout_trace_kit.validate.rules import bodies as rules


def test_every_model_item_type_of_the_model_is_one_the_validator_normalises():
    assert rules.ITEM_TYPES == frozenset(B.ITEM_TYPE)
    assert rules.ROLES == frozenset(B.MESSAGE_ROLES)
    assert B.unsupported_item_type() not in B.ITEM_TYPE and B.unsupported_role() not in B.MESSAGE_ROLES


def test_the_examples_hold_what_their_contracts_say():
    for c in B.BODIES:
        example = c.example
        if c.shape == "object":
            assert isinstance(example, dict), c.where
            for key in c.keys:
                assert not key.required or key.name in example, (c.where, key.name)
        elif c.shape == "array of strings":
            assert isinstance(example, list) and all(isinstance(x, str) for x in example), c.where
        for name in ("input", "output_items", "input_history", "replacement_history"):
            for item in example.get(name, []) if isinstance(example, dict) else []:
                assert rules.item_problem(item) is None, (c.where, item)


def test_the_prepared_prompt_example_splices_into_json():
    fragments = B.prompt_fragments(2)
    item = json.dumps(B.MODEL_ITEM_EXAMPLE)
    assert json.loads(B.splice(fragments, [item, item]))["input"] == [B.MODEL_ITEM_EXAMPLE] * 2
    assert json.loads(B.splice(B.prompt_fragments(0), []))["input"] == []


def test_every_ref_field_a_contract_names_is_in_the_model():
    for c in B.BODIES:
        for where in c.where:
            variant, _, field = where.partition(".")
            if variant == "RawPayloadRef":
                continue
            held = [d for d in DIALECTS.values() if d.name in c.dialects and variant in d.tags
                    and field in {f.name for f in d.ref_fields(variant)}]
            assert held, f"{where}: no dialect of {c.dialects} has that ref field"


def test_the_reference_page_shows_every_body_with_an_example():
    page = bodies_page(list(DIALECTS.values()))
    for c in B.BODIES:
        assert f"## `{c.kind}` in `{c.where[0]}`" in page
    assert page.count('example "Example body"') == len(B.BODIES)
    for t in B.ITEM_TYPES:
        assert f"| `{t.tag}` |" in page


def test_generators_take_the_prompt_fragments_from_the_model():
    assert generated.prompt_fragments is B.prompt_fragments
    assert generated.PROMPT_TAIL == B.PROMPT_TAIL


def test_every_place_the_generators_write_has_its_contract():
    places = [v for k, v in vars(generated).items() if k.isupper() and isinstance(v, tuple) and len(v) == 2
              and isinstance(v[0], str) and "." in v[0]]
    assert len(places) >= 12
    for where, kind in places:
        c = B.contract(where, kind)
        assert where in c.where and kind in (None, c.kind)


def test_the_realistic_bodies_already_hold_what_their_contracts_require(monkeypatch):
    # conform() carries a contract change into the generators; today's realistic shapes need none of it
    monkeypatch.setattr(generated, "conform", lambda body, place: body)
    items = [generated.input_message("m", B.USER, "hi"), generated.assistant_message("a", "ok"),
             generated.function_call("f", "exec_command", None, "{}", "c"), generated.compaction_item("k", "x")]
    built = {
        generated.REQUEST: generated.inference_request(items, "t"),
        generated.RESPONSE: generated.inference_response("r", "q", items[1:3]),
        generated.CHECKPOINT: generated.compaction_checkpoint(items[:1], items[3:]),
        generated.EXEC_BEGIN: generated.exec_begin("c", "1", "t", 0, ["ls"]),
        generated.EXEC_END: generated.exec_end("c", "1", "t", 0, ["ls"], "out", 0),
        generated.ACTIVITY: generated.spawn_started("c", 0, "01a2139c-be82-7122-b5b2-7c62fb23c95b", "/root/x"),
        generated.INVOCATION: generated.invocation("exec_command", None, arguments="{}"),
        generated.RESULT: generated.error_result("no"),
        generated.AGENT_MESSAGE_BODY: generated.agent_message("a", "/root", "/root/x", [generated.text_part("go")], "t", 0.0),
    }
    for place, body in built.items():
        assert set(B.required_keys(B.contract(*place))) <= set(body), place
    for item in items:
        assert rules.item_problem(item) is None
