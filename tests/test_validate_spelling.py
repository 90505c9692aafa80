"""How a line is spelled: Python's json.dumps defaults stay on the fast path; a bundle whose
valid lines take the slow path (another spelling) says so, with the first place it differs."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import orjson
import pytest

from rollout_trace_kit.validate import Options, Profile, validate_bundle
from rollout_trace_kit.validate import engine
from rollout_trace_kit.validate.report import print_human, render_json
from rollout_trace_kit.validate.rules import schema

from .conftest import corpus_bundles

BUNDLES = [corpus_bundles("0.169.0")[0], corpus_bundles("0.171.0")[0]]
ACCENTS = "-é€😀"  # two-byte, three-byte and four-byte UTF-8: \u00e9, \u20ac and a surrogate pair


def _respell(source: Path, target: Path, dumps) -> Path:
    """A copy of ``source`` whose turn ids end in non-ASCII text, its lines written by ``dumps``."""
    shutil.copytree(source, target)
    lines = [json.loads(line) for line in (source / "trace.jsonl").read_text(encoding="utf-8").splitlines()]
    turns = {line["payload"]["codex_turn_id"] for line in lines if line["payload"]["type"] == "codex_turn_started"}

    def accented(value):
        if isinstance(value, dict):
            return {k: accented(v) for k, v in value.items()}
        if isinstance(value, list):
            return [accented(v) for v in value]
        return value + ACCENTS if value in turns else value

    (target / "trace.jsonl").write_bytes(b"".join(dumps(accented(line)) + b"\n" for line in lines))
    return target


def _canonical(doc) -> bytes:
    return orjson.dumps(doc)  # serde_json's spelling: compact, UTF-8 as it is


def _seen(report) -> list:
    return [(f.invariant, f.line, f.message) for f in report.findings]


@pytest.mark.parametrize("bundle", BUNDLES, ids=lambda p: p.parent.name)
@pytest.mark.parametrize(
    "dumps",
    [
        lambda doc: json.dumps(doc).encode(),  # every default: ", " and ": ", \uXXXX escapes
        lambda doc: json.dumps(doc, separators=(",", ":")).encode(),  # compact, ASCII escapes
        lambda doc: json.dumps(doc, ensure_ascii=False).encode(),  # spaced, UTF-8 as it is
    ],
    ids=["defaults", "compact-ascii", "spaced-utf8"],
)
def test_python_json_dumps_spellings_stay_on_the_fast_path_with_the_same_verdict(bundle, dumps, tmp_path, monkeypatch):
    canonical = _respell(bundle, tmp_path / "canonical", _canonical)
    python = _respell(bundle, tmp_path / "python", dumps)
    assert "é".encode() in (canonical / "trace.jsonl").read_bytes()
    slow: list = []
    real = schema._slow
    monkeypatch.setattr(schema, "_slow", lambda ctx, raw, *a: slow.append(raw.number) or real(ctx, raw, *a))
    for profile in Profile:
        want = validate_bundle(canonical, Options(profile=profile))
        got = validate_bundle(python, Options(profile=profile))
        assert _seen(got) == [(i, n, m.replace(str(canonical), str(python))) for i, n, m in _seen(want)]
        assert got.notes == []
    assert slow == [], f"lines {slow[:5]} left the fast path"


def test_an_escape_that_means_another_character_is_not_taken_for_the_same_document():
    canonical = orjson.dumps({"a": "é"})
    assert schema.respelled(canonical, b'{"a": "\\u00e9"}')
    assert schema.respelled(canonical, b'{"a":"\\u00e9"}')
    assert not schema.respelled(canonical, b'{"a": "\\u00e8"}')
    assert not schema.respelled(canonical, b'{"a":"\\u00e9","b":1}')
    assert schema.respelled(orjson.dumps({"a": "😀"}), b'{"a": "\\ud83d\\ude00"}')


@pytest.mark.parametrize("bundle", BUNDLES, ids=lambda p: p.parent.name)
def test_a_bundle_of_valid_lines_off_the_fast_path_says_why_it_is_slow(bundle, tmp_path, monkeypatch, capsys):
    # Keys sorted: valid (serde reads any key order), but not the canonical spelling, so every
    # line takes the slow path. Nothing said why a bundle took 3x as long (issue 21).
    sorted_keys = _respell(bundle, tmp_path / "sorted", lambda doc: json.dumps(doc, sort_keys=True).encode())
    lines = len((sorted_keys / "trace.jsonl").read_bytes().splitlines())
    want = validate_bundle(bundle, Options())
    quiet = validate_bundle(sorted_keys, Options())
    assert quiet.notes == [], f"{lines} lines are under the note's threshold ({engine.SLOW_NOTE_LINES})"

    monkeypatch.setattr(engine, "SLOW_NOTE_LINES", 1)
    got = validate_bundle(sorted_keys, Options())
    assert [f.invariant for f in got.findings] == [f.invariant for f in want.findings]
    assert len(got.notes) == 1
    note = got.notes[0]
    assert note.startswith(f"slow path: {lines} of {lines} lines are valid but not spelled in the canonical form")
    # line 1 sorted: "codex_turn_id" comes first where the canonical form has "schema_version"
    assert "the first, line 1, differs at byte 2: 'codex_turn_id" in note
    assert "where the canonical form has 'schema_version" in note
    assert json.loads(render_json([got]))["bundles"][0]["notes"] == [note]
    print_human([got], color="never")
    assert "note: slow path:" in capsys.readouterr().out

    assert validate_bundle(bundle, Options()).notes == []  # the canonical bundle: no note


def test_a_report_read_back_keeps_its_notes_and_an_older_one_has_none():
    from rollout_trace_kit.validate.findings import BundleReport

    report = validate_bundle(BUNDLES[0], Options(profile=Profile.WRITER))
    report.notes = ["slow path: ..."]
    back = BundleReport.from_dict(json.loads(json.dumps(report.to_dict())))
    assert back.notes == ["slow path: ..."]
    older = report.to_dict()
    del older["notes"]
    assert BundleReport.from_dict(older).notes == []
