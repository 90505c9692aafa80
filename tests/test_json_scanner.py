"""The kit's iterative JSON scanner (validate/lines.py: json_syntax_problem, top_level_members), which judges
texts nesting deeper than Python's parser goes (tool-call arguments, prompt fragments, skipped keys): it agrees
with the standard parser's syntax where both work, and its memory does not grow with a text's strings,
nesting or runs of scalars (a 20 MB string cost 2.3 GB, a million `1,` 3 GB, before its repeats were
possessive and its runs taken in one step)."""

from __future__ import annotations

import json
import random
import tracemalloc

import pytest

from rollout_trace_kit.validate.lines import json_syntax_problem, top_level_members

PIECES = ['[', ']', '{', '}', ',', ':', '"a"', '"b"', '1', '0', '01', '-', '1.5', 'e5', ' ', 'null', 'true', '[[', ']]',
          ',1,1', ',"a":1', '"\\u00e9"', '"\\x"', '\t', '"\\"', '[[[', ']]]']


def test_the_scanner_agrees_with_the_standard_parser_on_random_texts():
    rng = random.Random(11)
    for _ in range(30000):
        text = "".join(rng.choice(PIECES) for _ in range(rng.randint(1, 16)))
        try:
            value, ok = json.loads(text), True
        except ValueError:
            value, ok = None, False
        assert (json_syntax_problem(text) is None) is ok, text
        if not ok:
            continue
        kind, members, count = top_level_members(text, frozenset({"a", "b"}), 3)
        if isinstance(value, dict):
            assert kind == "object" and count == len(_pairs(text))
            assert dict((k, json.loads(v)) for k, v in members) == {k: v for k, v in value.items() if k in ("a", "b")}
        elif isinstance(value, list):
            assert kind == "array" and [json.loads(v) for v in members] == value[:4], text
        else:
            assert (kind, members, count) == ("scalar", [], 0)


def _pairs(text: str) -> list:
    pairs: list = []
    json.loads(text, object_pairs_hook=lambda kv: pairs.__setitem__(slice(None), kv) or dict(kv))
    return pairs


HUGE = {
    "a long string with escapes": '["' + "ab\\n" * 1_000_000 + '"]',
    "a million scalars": "[" + "1," * 1_000_000 + "1]",
    "a million members": "{" + ",".join(f'"k{i % 10}":{i}' for i in range(30_000)) + "}",
    "nested a million levels": '{"a":' + "[" * 1_000_000 + "]" * 1_000_000 + "}",
    "cut short a million levels down": "[" * 1_000_000,
}


@pytest.mark.parametrize("name", sorted(HUGE))
def test_memory_does_not_grow_with_the_text(name):
    text = HUGE[name]
    tracemalloc.start()
    try:
        problem = json_syntax_problem(text)
        if problem is None:
            top_level_members(text, frozenset({"a"}), 4)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert (problem is None) is (name != "cut short a million levels down")
    assert peak < 8 << 20, f"{peak >> 20} MiB at peak for {len(text) >> 20} MiB of text"


def test_the_long_digit_scan_by_classes_answers_as_the_regex():
    """has_long_digits scans a long body by byte classes, a short one by the regex: the same answer
    on random bodies either side of the threshold, with the shapes planted at every place."""
    from rollout_trace_kit.validate import lines

    rng = random.Random(0)
    alphabet = b"0123456789eE+-x \"{}:,.\xb2\xd9\xa1"  # superscript two and an Arabic-Indic digit's bytes too
    checked = 0
    for _ in range(3000):
        n = rng.choice([rng.randint(0, 40), rng.randint(lines._SCAN_BY_CLASSES - 40, lines._SCAN_BY_CLASSES + 400)])
        data = bytes(rng.choice(alphabet) for _ in range(n))
        if data and rng.random() < 0.3:  # a shape at a random place, sometimes one short
            shape = rng.choice([b"1" * rng.randint(17, 20), b"9e" + b"9" * rng.randint(2, 4), b"1E-" + b"0" * rng.randint(2, 3)])
            at = rng.randint(0, len(data))
            data = data[:at] + shape + data[at:]
        assert lines.has_long_digits(data) == (lines._LONG_DIGITS.search(data) is not None), data
        checked += len(data) >= lines._SCAN_BY_CLASSES
    assert checked > 1000  # both paths taken


def _outcome(parse, data: bytes):
    try:
        return "value", parse(data)
    except Exception as e:  # noqa: BLE001 - the kind of refusal is what is compared
        return type(e).__name__, getattr(e, "value", None)


def test_a_body_the_long_digit_scan_flags_reads_as_the_standard_library_reads_it(monkeypatch):
    """A body the byte scan flags is read again by the standard library unless orjson's reading of
    it holds no float (then every number was exact): random bodies with the scan's shapes in strings,
    in integers either side of 64 bits and in exponents, read as the standard library alone reads them,
    and one whose only shape is in a string is not read twice."""
    from rollout_trace_kit.validate import lines

    rng = random.Random(7)
    numbers = ["7", "-12", "18446744073709551615", "18446744073709551616", "-9223372036854775809",
               "12345678901234567890123", "1.5", "2e10", "9e123", "1E-400", "1e400", "-0.0"]
    strings = ["x", "ab9e123cd", "1234567890123456789012", "KJ8e999+Z", "caf\u00e9"]

    def value(depth: int):
        pick = rng.random()
        if depth < 3 and pick < 0.3:
            return "{" + ",".join(f'"k{i}":{value(depth + 1)}' for i in range(rng.randint(0, 3))) + "}"
        if depth < 3 and pick < 0.5:
            return "[" + ",".join(value(depth + 1) for _ in range(rng.randint(0, 3))) + "]"
        return rng.choice(numbers) if pick < 0.75 else json.dumps(rng.choice(strings))

    flagged = 0
    for _ in range(2000):
        data = value(0).encode()
        flagged += lines.has_long_digits(data)
        assert _outcome(lines.loads_body, data) == _outcome(lines._loads_exact, data), data
    assert flagged > 500
    again = []
    monkeypatch.setattr(lines, "_loads_exact", lambda data: again.append(data))
    assert lines.loads_body(b'{"s":"ab9e123cd","n":[1,18446744073709551615]}') == {"s": "ab9e123cd",
                                                                                    "n": [1, 18446744073709551615]}
    assert again == []
    lines.loads_body(b'{"s":"ab9e123cd","n":18446744073709551616}')  # beyond u64: orjson's float is not exact
    assert len(again) == 1


def test_the_syntax_answer_is_the_standard_librarys():
    """serde_syntax_problem lets orjson answer first: on 20,000 JSON texts broken at random (lone
    surrogates, control characters, NaN, long integers, cut and doubled brackets), it says what
    serde_text says, message included."""
    from rollout_trace_kit.validate.lines import serde_syntax_problem, serde_text

    rng = random.Random(5)
    base = ['{"a":[1,2,{"b":"c\\u00e9"}],"d":null,"e":true,"f":-1.5e3}', "[1,2,3]", '"x"', '{"k":"v","k":1}',
            "[[[]]]", '{"a":"\\ud83d\\ude00"}', "[" + "1" * 4301 + "]", "[1e400]"]
    pieces = [*'{}[]",:0123456789-+.eE \\ntruefalsnul\u00e9\ud800\x01\t\ufeff', "\\u", "\\ud800", "NaN", "Infinity",
              "1" * 20]
    taken = 0
    for _ in range(20000):
        text = rng.choice(base)
        for _ in range(rng.randint(0, 3)):
            i = rng.randint(0, len(text))
            text = text[:i] + rng.choice(pieces) + text[i:] if rng.random() < 0.5 else text[:i] + text[i + 1 :]
        expected = serde_text(text)[1]
        assert serde_syntax_problem(text) == expected, text
        taken += expected is None
    assert 2000 < taken < 18000  # both answers, many times


def test_a_large_text_is_answered_by_the_standard_library_alone(monkeypatch):
    """orjson holds more memory than the standard library on a large document: from
    _ORJSON_SYNTAX_MAX characters on, serde_syntax_problem does not call it."""
    from rollout_trace_kit.validate import lines

    called = []
    real = lines.orjson.loads
    monkeypatch.setattr(lines, "orjson", type("O", (), {"loads": staticmethod(lambda t: called.append(len(t)) or real(t)),
                                                         "JSONDecodeError": lines.orjson.JSONDecodeError}))
    small, large = "[1]", "[" + "1," * (lines._ORJSON_SYNTAX_MAX // 2) + "1]"
    assert lines.serde_syntax_problem(small) is None and lines.serde_syntax_problem(large) is None
    assert lines.serde_syntax_problem(large[:-1]) == lines.serde_text(large[:-1])[1] is not None
    assert called == [len(small)]


@pytest.mark.parametrize("depth", [1025, 2000, 100_000])
def test_a_valid_body_deeper_than_orjson_builds_is_too_deep_not_invalid(depth):
    """orjson stops at 1,024 levels, and its message for it changed wording across versions ("Recursion
    limit reached", "depth limit exceeded"): the kit measures it. A valid body past the limit is
    TooDeepToBuild (a nesting finding), an invalid one still a syntax error."""
    from rollout_trace_kit.validate.lines import TooDeepToBuild, loads_body

    with pytest.raises(TooDeepToBuild):
        loads_body(b'{"a":' + b"[" * depth + b"]" * depth + b"}")
    with pytest.raises(ValueError) as bad:
        loads_body(b'{"a":' + b"[" * depth + b"]" * (depth - 1) + b"}")
    assert not isinstance(bad.value, TooDeepToBuild)


@pytest.mark.parametrize("release", ["0.169.0", "0.171.0"])
def test_a_payload_nested_past_orjson_s_limit_is_a_nesting_finding(release, tmp_path):
    from rollout_trace_kit.bundle import Bundle
    from rollout_trace_kit.codex.diff.view import bodies, set_body
    from rollout_trace_kit.validate import Options, Profile, validate_bundle

    from .conftest import corpus_bundles

    b = Bundle.read(next(p for p in corpus_bundles(release) if p.name == "tools"))
    key, rid, _ = next(x for x in bodies(b) if x[1] == "raw_payload:1")
    set_body(b, key, b'{"a":' + b"[" * 2000 + b"]" * 2000 + b"}")
    report = validate_bundle(b.write(tmp_path / "b"), Options(profile=Profile.REDUCER))
    assert [f.invariant for f in report.findings] == ["REF.NESTING"], [(f.invariant, f.message) for f in report.findings]
