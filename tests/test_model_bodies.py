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
