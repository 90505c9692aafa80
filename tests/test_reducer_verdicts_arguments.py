"""A model-visible call id reused with `arguments` spelled otherwise (issue 18: `codex diff --release 0.164.0
--seed 0 --mutations 100000 --only 71125`, a string turned into the object it spelled): the reducers compare
the JSON a string holds, not its spelling (model/bodies.py: ItemType.call_content_json). Each pair is two
function_call items of one call id in one request; measured on 0.125.0, 0.143.0, 0.164.0, 0.169.0 and
0.171.0. The Codex tier (``--codex -m codex``) replays every case through its dialect's reference reducer.
"""

from __future__ import annotations

from typing import Any

from .test_reducer_verdicts_bodies import ALL, USER, Case, call, verdict_tests, with_items

ABSENT = object()
REUSED = frozenset({"BODY.CALL_ID_CONTENT"})


def _call(arguments: Any) -> dict:
    item = call()
    if arguments is ABSENT:
        del item["arguments"]
    else:
        item["arguments"] = arguments
    return item


SAME = [  # (name, first, second): read as one call
    ("string-and-the-object-it-spells", "{}", {}),
    ("object-and-its-string", {"a": 1}, '{"a":1}'),
    ("spaced-string-and-the-object", '{"a": 1}', {"a": 1}),
    ("two-spellings-of-one-object", '{"a":1}', '{ "a" : 1 }'),
    ("string-keeping-the-objects-key-order", '{"b":2,"a":1}', {"b": 2, "a": 1}),
    ("number-string-and-number", "1", 1),
    ("null-string-and-null", "null", None),
    ("true-string-and-true", "true", True),
    ("array-string-and-array", "[1,2]", [1, 2]),
    ("escaped-and-plain-character", '"\\u00e9"', '"\u00e9"'),
    ("repeated-key-and-its-last-value", '{"a":1,"a":2}', '{"a":2}'),
    ("exponent-case-and-plus", "1e2", "1E+2"),
    ("negative-zero-integer", "-0", "0"),
    ("float-object-and-its-string", {"a": 1e16}, '{"a":1e+16}'),
    ("two-unparsed-spellings-of-one-text", "1e400", "1E400"),
    ("both-absent", ABSENT, ABSENT),
]
OTHER = [  # (name, first, second): "model-visible call id ... was reused with different content"
    ("objects-with-keys-in-another-order", {"a": 1, "b": 2}, {"b": 2, "a": 1}),
    ("string-with-keys-in-another-order", '{"a":1,"b":2}', {"b": 2, "a": 1}),
    ("quoted-string-and-plain-text", '"x"', "x"),
    ("number-and-float", "1", 1.0),
    ("decimal-digits", "1.5", "1.50"),
    ("integer-and-exponent", "10", "1e1"),
    ("exponent-digits", "1e02", "1e2"),
    ("negative-zero-float", -0.0, 0.0),
    ("one-and-true", "1", True),
    ("text-and-number", "x", 5),
    ("lone-surrogates-spelled-otherwise", '"\\ud800"', '"\\uD800"'),
    ("nested-past-serde-json's-limit", "[" * 129 + "]" * 129, "[" * 129 + "]" * 129 + " "),
    ("absent-and-null", ABSENT, None),
]
CASES = [
    *(Case(f"arguments-{name}", ALL, with_items([USER, _call(a), _call(b)]), frozenset()) for name, a, b in SAME),
    *(Case(f"arguments-{name}", ALL, with_items([USER, _call(a), _call(b)]), REUSED) for name, a, b in OTHER),
    Case("arguments-nested-within-serde-json's-limit", ALL,
         with_items([USER, _call("[" * 127 + "]" * 127), _call("[" * 127 + "]" * 127 + " ")]), frozenset()),
]
# the kit's reducer profile, and (Codex tier) the real reducer, on every case (verdict_tests)
test_reducer_profile_gives_the_reference_reducers_verdict, test_the_reference_reducer_gives_the_expected_verdict = (
    verdict_tests(CASES))
