"""A model-visible call id reused with `arguments` spelled otherwise (issue 18: found by session 9's 100,000-mutant
`codex diff` of 0.164.0, a string turned into the object it spelled): the reducers compare
the JSON a string holds, not its spelling (model/bodies.py: ItemType.call_content_json). Each pair is two
function_call items of one call id in one request; measured on 0.125.0, 0.143.0, 0.164.0, 0.169.0 and
0.171.0. The Codex tier (``--codex -m codex``) replays every case through its dialect's reference reducer.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from ._helpers import as_release_writes, real_reduce, reducer_errors
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


# -- the summary (issue 18, B1): what the reducers compare is a summary of the content's compact JSON ------------
# (model/bodies.py: ItemType.summary_bytes, SUMMARY_MARK, SUMMARY_CUT_PANICS_UNTIL). Measured on the first and
# reference readers of each epoch: 0.125.0, 0.135.0, 0.164.0 (v1 bundles), 0.165.0, 0.166.0 (v2, ending with
# rollout_ended as they write it), 0.169.0, 0.169.1 (v2), 0.171.0 (v3). Each case is a request's items; byte
# offsets are of the content's compact JSON (serde_json's to_string), not of its text in the bundle. The cut, a
# split character and a number's written length of another release: python -m tests.measure_call_summary R.
READERS = ("0.125.0", "0.135.0", "0.164.0", "0.165.0", "0.166.0", "0.169.0", "0.169.1", "0.171.0")
PANIC = frozenset({"BODY.MODEL_ITEM"})  # 0.165.0 and older: "assertion failed: self.is_char_boundary(new_len)"
E4, E4_OTHER = "\U0001f600", "\U0001f601"  # 4 UTF-8 bytes each


def _compact(value) -> bytes:
    """serde_json's compact JSON of a value without numbers (what json.dumps writes so, UTF-8 unescaped)."""
    return json.dumps(json.loads(value) if isinstance(value, str) else value, separators=(",", ":"),
                      ensure_ascii=False).encode()


def _at(byte: int, build, filler: str = "x", at: str = "A", tail: int = 50):
    """``build(text)`` where ``text`` puts ``at`` at byte ``byte`` of the compact JSON of what the reducers
    summarise (``build``'s value: an item, or a JSON text)."""
    head = _compact(build(MARK)).index(MARK.encode())
    size = len(_compact(_json_string(filler))) - len('{"a":""}')
    return build(filler * ((byte - head) // size) + at + "x" * tail)


MARK = "\u2603"  # a character no case holds


def _json_string(text: str) -> str:
    return '{"a":"' + text + '"}'


def _json_string_spelled(text: str) -> str:  # é spelled \u00e9, \n spelled \n: 6 or 2 bytes in the bundle's text
    return '{"a" : "' + text.replace("é", "\\u00e9") + '"}'


def _web(query: str) -> dict:
    return {"type": "web_search_call", "call_id": "call-1", "status": "completed", "action": {"type": "search", "query": query}}


def _tool_search_output(text: str) -> dict:
    return {"type": "tool_search_output", "call_id": "call-1", "status": "completed", "execution": "client",
            "tools": [{"x": text}]}


def _image(result: str) -> dict:
    return {"type": "image_generation_call", "call_id": "call-1", "status": "completed", "result": result}


def _local_shell(command: str) -> dict:
    return {"type": "local_shell_call", "call_id": "call-1", "status": "completed",
            "action": {"type": "exec", "command": [command]}}


RESPONSE = "response"  # in a case's items: those after it are the response's output items


def _pair(build, byte: int, filler: str = "x", first: str = "A", second: str = "B") -> list:
    return [_at(byte, build, filler, first), _at(byte, build, filler, second)]


def _args(build, byte: int, **kw) -> list:
    return [_call(a) for a in _pair(build, byte, **kw)]


_SAME = frozenset()
_F64 = READERS[:2]  # 0.125.0 and 0.135.0: no arbitrary precision (reducer.number_range)
_PANICS = {r: PANIC for r in READERS[:4]}  # 0.125.0 to 0.165.0 (SUMMARY_CUT_PANICS_UNTIL)
_OUTPUTS_COMPARED = {r: REUSED for r in READERS[:4]}  # up to OUTPUTS_COMPARED_UNTIL
SUMMARY_CASES = [  # (name, request items after the user message, the errors by release (default: all releases))
    ("json-text-differing-at-byte-239", _args(_json_string, 239), REUSED),
    ("json-text-differing-at-byte-240", _args(_json_string, 240), _SAME),
    ("json-text-differing-at-byte-241", _args(_json_string, 241), _SAME),
    ("plain-text-differing-at-byte-240", [_call("y" * 240 + "A"), _call("y" * 240 + "B")], REUSED),
    ("plain-text-differing-at-byte-300", [_call("y" * 300 + "A"), _call("y" * 300 + "B")], REUSED),
    ("object-differing-at-byte-239", [_call({"a": "x" * 233 + "A"}), _call({"a": "x" * 233 + "B"})], REUSED),
    ("object-differing-at-byte-250", [_call({"a": "x" * 244 + "A"}), _call({"a": "x" * 244 + "B"})], _SAME),
    ("object-and-a-text-differing-at-byte-250", [_call({"a": "x" * 244 + "A"}), _call('{"a":"' + "x" * 244 + 'B"}')],
     _SAME),
    ("key-order-past-byte-240", [_call('{"a":"' + "x" * 250 + '","b":1,"c":2}'), _call('{"a":"' + "x" * 250 + '","c":2,"b":1}')],
     _SAME),
    ("key-order-before-byte-240", [_call('{"b":1,"c":2,"a":"' + "x" * 250 + '"}'), _call('{"c":2,"b":1,"a":"' + "x" * 250 + '"}')],
     REUSED),
    # the mark: a content of 240 bytes is not one of more whose first 240 bytes it is
    ("string-of-240-bytes-and-one-of-241", [_call('"' + "x" * 238 + '"'), _call('"' + "x" * 238 + 'x"')], REUSED),
    # escapes the text spells longer than serde_json writes them: the compact offset counts
    ("escaped-characters-differing-at-compact-byte-239", _args(_json_string_spelled, 239, filler="é"), REUSED),
    ("escaped-characters-differing-at-compact-byte-240", _args(_json_string_spelled, 240, filler="é"), _SAME),
    ("newlines-differing-at-compact-byte-239", _args(_json_string, 239, filler="\\n"), REUSED),
    ("newlines-differing-at-compact-byte-240", _args(_json_string, 240, filler="\\n"), _SAME),
    # bytes, not characters: 100 two-byte characters, then a difference at character 200 (byte 300)
    ("two-byte-characters-differing-at-character-200", [_call(_json_string("é" * 100 + "x" * 94 + c + "x" * 50))
                                                        for c in "AB"], _SAME),
    # a character the cut splits: dropped by later releases, a panic in older ones
    ("two-byte-character-across-the-cut-differing", _args(_json_string, 239, first="é", second="è"), _PANICS),
    ("four-byte-character-across-the-cut-differing", _args(_json_string, 238, first=E4, second=E4_OTHER), _PANICS),
    ("four-byte-character-ending-at-the-cut-differing", _args(_json_string, 236, first=E4, second=E4_OTHER), REUSED),
    ("four-byte-character-starting-at-the-cut-differing", _args(_json_string, 240, first=E4, second=E4_OTHER), _SAME),
    ("one-call-its-summary-across-a-character", [_call(_at(238, _json_string, at=E4))], _PANICS),
    ("one-call-its-object-summary-across-a-character", [_call(_at(238, lambda t: {"a": t}, at=E4))], _PANICS),
    ("one-call-its-escaped-text-across-a-character", [_call('"' + "\\u00e9" * 130 + '"')], _PANICS),
    ("one-call-plain-text-across-a-character", [_call("y" * 238 + E4 + "y" * 50)], _SAME),
    # a whole item compared (web search, tool search output...): its compact JSON, keys in their order
    ("web-search-differing-at-byte-239", _pair(_web, 239), REUSED),
    ("web-search-differing-at-byte-240", _pair(_web, 240), _SAME),
    ("web-search-with-keys-in-another-order", [_web("q"), {k: _web("q")[k] for k in reversed(_web("q"))}], REUSED),
    ("one-web-search-its-summary-across-a-character", [_at(238, _web, at=E4)], _PANICS),
    ("image-generation-differing-at-byte-239", _pair(_image, 239), REUSED),
    ("image-generation-differing-at-byte-240", _pair(_image, 240), _SAME),
    ("one-image-generation-its-summary-across-a-character", [_at(238, _image, at=E4)], _PANICS),
    ("local-shell-differing-at-byte-239", _pair(_local_shell, 239), REUSED),
    ("local-shell-differing-at-byte-240", _pair(_local_shell, 240), _SAME),
    ("one-local-shell-its-summary-across-a-character", [_at(238, _local_shell, at=E4)], _PANICS),
    # a response's output against its request's input (RESPONSE: the items after it are the response's)
    ("response-json-text-differing-at-byte-239", [_args(_json_string, 239)[0], RESPONSE, _args(_json_string, 239)[1]],
     REUSED),
    ("response-json-text-differing-at-byte-240", [_args(_json_string, 240)[0], RESPONSE, _args(_json_string, 240)[1]],
     _SAME),
    ("response-its-summary-across-a-character", [RESPONSE, _call(_at(238, _json_string, at=E4))], _PANICS),
    ("tool-search-output-differing-at-byte-239", _pair(_tool_search_output, 239), _OUTPUTS_COMPARED),
    ("tool-search-output-differing-at-byte-240", _pair(_tool_search_output, 240), _SAME),
    # numbers: kept as written from 0.143.0 (arbitrary precision, the exponent written e+), read as u64, i64 or
    # f64 before (the releases that refuse 1e400 in a body); written 1e+16 in both ('[1e16,"' is 8 bytes)
    *((f"numbers-{name}", [_call(a), _call(b)], {**{r: errors for r in _F64}, **{r: other for r in READERS[2:]}})
      for name, a, b, errors, other in (
          ("1.5-and-1.50", "1.5", "1.50", _SAME, REUSED),
          ("1e2-and-100.0", "1e2", "100.0", _SAME, REUSED),
          ("1e2-and-1E+2", "1e2", "1E+2", _SAME, _SAME),
          ("1e02-and-1e2", "1e02", "1e2", _SAME, REUSED),
          ("-0-and-0", "-0", "0", REUSED, _SAME),
          ("-0-and--0.0", "-0", "-0.0", _SAME, REUSED),
          ("0.1-and-1e-1", "0.1", "1e-1", _SAME, REUSED),
          ("30-digit-integers-alike-in-17", "1" * 30, "1" * 29 + "2", _SAME, REUSED),
          ("1e400-and-1E400", "1e400", "1E400", REUSED, _SAME),
          ("241-and-242-digit-integers", "1" * 241, "1" * 242, REUSED, _SAME),
          ("after-1e16-differing-at-byte-239", *['[1e16,"' + "x" * 231 + c + '"]' for c in "AB"], REUSED, REUSED),
          ("after-1e16-differing-at-byte-240", *['[1e16,"' + "x" * 232 + c + '"]' for c in "AB"], _SAME, _SAME),
          # 1e15: 1000000000000000.0 (18 bytes) in an f64, 1e+15 (5) as written: the raw byte 230 is 244 or 231
          ("after-1e15-differing-at-raw-byte-230", *['[1e15,"' + "x" * 223 + c + '"]' for c in "AB"], _SAME, REUSED),
      )),
]


def _expected(errors, release: str) -> frozenset:
    return errors.get(release, _SAME) if isinstance(errors, dict) else errors


SUMMARY_PARAMS = [pytest.param(items, release, _expected(errors, release), id=f"{name}-{release}")
                  for name, items, errors in SUMMARY_CASES for release in READERS]


def summary_bundle(items: list, release: str, directory: Path) -> Path:
    """A request of a user message and ``items`` (those after RESPONSE its response's), as ``release`` writes it
    (v2 before 0.167: rollout_ended)."""
    cut = items.index(RESPONSE) if RESPONSE in items else len(items)
    build = with_items([USER, *items[:cut]], items[cut + 1:] if cut < len(items) else None)
    return as_release_writes(build, release).write(directory)


@pytest.mark.parametrize("items,release,expected", SUMMARY_PARAMS)
def test_a_reused_calls_content_is_compared_by_its_summary(tmp_path, items, release, expected):
    assert reducer_errors(summary_bundle(items, release, tmp_path / "b"), release) == expected


@pytest.mark.codex
@pytest.mark.parametrize("items,release,expected", SUMMARY_PARAMS)
def test_the_release_compares_a_reused_calls_content_by_its_summary(tmp_path, items, release, expected):
    run = real_reduce(release, summary_bundle(items, release, tmp_path / "b"), tmp_path)
    assert run.accepted is (not expected), run.stderr[:500]
    assert (run.returncode == 101) is (expected == PANIC), run.stderr[:500]
