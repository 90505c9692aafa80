"""Hostile input gets a finding: never a traceback, never a hang, never a write."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import orjson
import pytest

from rollout_trace_kit.bundle import Bundle, Special
from rollout_trace_kit.validate import Options, Profile, validate_bundle

from .conftest import CORPUS


@pytest.fixture
def bundle(load_corpus) -> Bundle:
    return load_corpus("0.164.0", "basic")


def _lines_dicts(b: Bundle) -> list[dict]:
    return [orjson.loads(x) for x in b.lines]


def _check(tmp_path, b: Bundle, profile=Profile.STRICT, **kw):
    d = b.write(tmp_path / "bundle")
    started = time.monotonic()
    report = validate_bundle(d, Options(profile=profile, **kw))
    assert time.monotonic() - started < 30
    return report


def _ids_at(report):
    return {(f.invariant, f.line) for f in report.findings}


def _replace_line(b: Bundle, n: int, data: bytes) -> Bundle:
    b = b.copy()
    b.lines[n - 1] = data
    return b


def _first_ref(b: Bundle, kind: str = "inference_request"):
    for n, e in enumerate(_lines_dicts(b), 1):
        for v in e["payload"].values():
            if isinstance(v, dict) and v.get("kind", {}).get("type") == kind:
                return n, e, v
    raise AssertionError("no ref")


def _with_ref_path(b: Bundle, path: str) -> tuple[Bundle, int]:
    n, e, ref = _first_ref(b)
    ref["path"] = path
    return _replace_line(b, n, orjson.dumps(e)), n


def test_path_traversal_is_confined(tmp_path, bundle):
    (tmp_path / "secret.json").write_text('{"input": []}')
    b, n = _with_ref_path(bundle, "payloads/../../secret.json")
    r = _check(tmp_path, b)
    assert ("REF.PATH_CONFINED", n) in _ids_at(r)
    reducer = _check(tmp_path / "r", b, Profile.REDUCER)
    assert [f.invariant for f in reducer.findings] == ["REF.PATH_CONFINED"]  # the reducer reads this one


def test_absolute_path_is_confined(tmp_path, bundle):
    b, n = _with_ref_path(bundle, "/etc/hostname")
    assert ("REF.PATH_CONFINED", n) in _ids_at(_check(tmp_path, b))


def test_symlink_out_of_the_bundle(tmp_path, bundle):
    outside = tmp_path / "outside.json"
    outside.write_text('{"input": []}')
    n, e, ref = _first_ref(bundle)
    b = bundle.copy()
    del b.payloads[ref["path"]]
    b.specials[ref["path"]] = Special("symlink", str(outside))
    r = _check(tmp_path, b)
    assert any(f.invariant == "REF.PATH_CONFINED" and "symlink" in f.message for f in r.findings)


def test_fifo_payload_does_not_hang(tmp_path, bundle):
    n, e, ref = _first_ref(bundle)
    b = bundle.copy()
    del b.payloads[ref["path"]]
    b.specials[ref["path"]] = Special("fifo")
    r = _check(tmp_path, b)
    assert ("REF.REGULAR_FILE", n) in _ids_at(r)


def test_directory_where_a_file_should_be(tmp_path, bundle):
    n, e, ref = _first_ref(bundle)
    b = bundle.copy()
    del b.payloads[ref["path"]]
    b.specials[ref["path"]] = Special("dir")
    assert ("REF.REGULAR_FILE", n) in _ids_at(_check(tmp_path, b))

    b2 = bundle.copy()
    b2.has_trace = False
    b2.specials["trace.jsonl"] = Special("dir")
    assert [f.invariant for f in _check(tmp_path / "2", b2).findings] == ["BUNDLE.TRACE_PRESENT"]

    b3 = bundle.copy()
    b3.manifest = None
    b3.specials["manifest.json"] = Special("dir")
    assert "BUNDLE.MANIFEST_PRESENT" in _check(tmp_path / "3", b3).ids()


def test_huge_line_is_skipped_with_bounded_memory(tmp_path, bundle):
    b = bundle.copy()
    b.lines.insert(3, b'{"x": "' + b"a" * (3 * 1024 * 1024) + b'"}')
    r = _check(tmp_path, b, max_line_bytes=1024 * 1024)
    assert ("LINE.TOO_LONG", 4) in _ids_at(r)


def test_deep_nesting(tmp_path, bundle):
    deep = b"[" * 10_000 + b"]" * 10_000
    b = _replace_line(bundle, 5, b'{"schema_version":1,"seq":5,"payload":' + deep + b"}")
    r = _check(tmp_path, b)
    assert ("LINE.NESTING", 5) in _ids_at(r)


@pytest.mark.parametrize("arrays,rejected", [(125, False), (126, True)])
def test_nesting_inside_the_payload_follows_serdes_limit(tmp_path, bundle, arrays, rejected):
    # measured on both reducers: 125 arrays inside "payload" pass, 126 fail
    assert b"protocol_event_observed" in bundle.lines[2]  # a line nothing later depends on
    line = bundle.lines[2].replace(b'"payload":{', b'"payload":{"zz":' + b"[" * arrays + b"]" * arrays + b",", 1)
    r = _check(tmp_path, _replace_line(bundle, 3, line), Profile.REDUCER)
    assert _ids_at(r) == ({("LINE.NESTING", 3)} if rejected else set())


def test_deep_unknown_envelope_key_is_a_writer_finding(tmp_path, bundle):
    # readers skip an unknown envelope key at any depth; the kit cannot parse 10,000 levels
    line = bundle.lines[4].replace(b'"seq":5', b'"seq":5,"zz":' + b"[" * 10_000 + b"]" * 10_000, 1)
    b = _replace_line(bundle, 5, line)
    assert not [f for f in _check(tmp_path / "r", b, Profile.REDUCER).findings if f.invariant == "LINE.NESTING"]
    w = _check(tmp_path / "w", b, Profile.WRITER)
    assert [(f.invariant, f.profile) for f in w.findings if f.line == 5] == [("LINE.NESTING", Profile.WRITER)]


def test_invalid_utf8(tmp_path, bundle):
    line = bundle.lines[4].replace(b'"type"', b'"t\xffpe"', 1)
    r = _check(tmp_path, _replace_line(bundle, 5, line))
    assert ("LINE.UTF8", 5) in _ids_at(r)


def test_bom(tmp_path, bundle):
    r = _check(tmp_path, _replace_line(bundle, 1, b"\xef\xbb\xbf" + bundle.lines[0]))
    f = [f for f in r.findings if f.line == 1]
    assert f and f[0].invariant == "LINE.JSON" and "byte order mark" in f[0].message


def test_crlf_is_a_writer_finding_only(tmp_path, bundle):
    b = bundle.copy()
    b.line_terminator = b"\r\n"
    r = _check(tmp_path, b)
    assert {f.invariant for f in r.findings} == {"LINE.CRLF"}
    assert not _check(tmp_path / "r", b, Profile.REDUCER).findings


@pytest.mark.parametrize("literal", [b"NaN", b"Infinity", b"-Infinity"])
def test_nan_and_infinity(tmp_path, bundle, literal):
    line = bundle.lines[4].replace(b'"seq":5', b'"seq":' + literal, 1)
    assert ("LINE.JSON", 5) in _ids_at(_check(tmp_path, _replace_line(bundle, 5, line)))


def test_duplicate_keys(tmp_path, bundle):
    line = bundle.lines[4].replace(b'"seq":5', b'"seq":5,"seq":5', 1)
    r = _check(tmp_path, _replace_line(bundle, 5, line), Profile.REDUCER)
    assert _ids_at(r) == {("LINE.DUPLICATE_KEY", 5)}


def test_duplicate_keys_the_model_knows_fail_the_reducer_unknown_ones_do_not(tmp_path, bundle):
    # measured on 0.164.0 and 0.169.0: "duplicate field `agent_path`"; a repeated unknown key is ignored
    known = bundle.lines[1].replace(b'"agent_path":"/root"', b'"agent_path":"/x","agent_path":"/root"', 1)
    kind = bundle.lines[1].replace(b'"kind":{"type":"session_metadata"}', b'"kind":{"type":"x","type":"session_metadata"}', 1)
    unknown = bundle.lines[1].replace(b'"agent_path":"/root"', b'"agent_path":"/root","zz":1,"zz":2', 1)
    for line, level in ((known, Profile.REDUCER), (kind, Profile.REDUCER), (unknown, Profile.WRITER)):
        assert line != bundle.lines[1]
        r = _check(tmp_path / f"{level.label}{len(line)}", _replace_line(bundle, 2, line), Profile.STRICT)
        assert [(f.invariant, f.line, f.profile) for f in r.findings if f.invariant == "LINE.DUPLICATE_KEY"] == [
            ("LINE.DUPLICATE_KEY", 2, level)
        ]


@pytest.mark.parametrize(
    "key,value",
    [("seq", 2**64), ("seq", -1), ("wall_time_unix_ms", 2**63), ("schema_version", 2**32), ("seq", 10**400)],
)
def test_integers_out_of_range(tmp_path, bundle, key, value):
    old = orjson.loads(bundle.lines[4])[key]
    line = bundle.lines[4].replace(f'"{key}":{old}'.encode(), f'"{key}":{value}'.encode(), 1)
    r = _check(tmp_path, _replace_line(bundle, 5, line))
    assert ("EVENT.SCHEMA", 5) in _ids_at(r)


def test_float_integer(tmp_path, bundle):
    line = bundle.lines[4].replace(b'"seq":5', b'"seq":5.0', 1)
    r = _check(tmp_path, _replace_line(bundle, 5, line))
    assert ("EVENT.INTEGER_FORM", 5) in _ids_at(r)
    assert "EVENT.SCHEMA" not in r.ids()


def test_lone_surrogate(tmp_path, bundle):
    line = bundle.lines[0].replace(b'"rollout_started"', b'"rollout_started","x":"\\ud800"', 1)
    assert ("LINE.JSON", 1) in _ids_at(_check(tmp_path, _replace_line(bundle, 1, line)))


def test_empty_files(tmp_path, bundle):
    b = bundle.copy()
    b.lines, b.payloads = [], {}
    # An empty log: both reducers accept it; a finished writer never leaves one.
    assert not _check(tmp_path / "1r", b, Profile.REDUCER).findings
    assert _check(tmp_path / "1", b).ids() == {"ORDER.TERMINAL_PRESENT"}

    b2 = bundle.copy()
    b2.manifest = b""
    assert "BUNDLE.MANIFEST_JSON" in _check(tmp_path / "2", b2).ids()

    n, e, ref = _first_ref(bundle)
    b3 = bundle.copy()
    b3.payloads[ref["path"]] = b""
    assert ("REF.JSON", n) in _ids_at(_check(tmp_path / "3", b3))


def test_not_a_bundle(tmp_path):
    r = validate_bundle(tmp_path / "missing")
    assert r.ids() == {"BUNDLE.IS_DIRECTORY"}
    (tmp_path / "file").write_text("x")
    assert validate_bundle(tmp_path / "file").ids() == {"BUNDLE.IS_DIRECTORY"}
    empty = tmp_path / "empty"
    empty.mkdir()
    assert validate_bundle(empty).ids() == {"BUNDLE.MANIFEST_PRESENT", "BUNDLE.TRACE_PRESENT", "BUNDLE.DIALECT_KNOWN"}


def test_garbage_everywhere_never_raises(tmp_path):
    rng = __import__("random").Random(7)
    for i in range(30):
        d = tmp_path / f"g{i}"
        (d / "payloads").mkdir(parents=True)
        (d / "manifest.json").write_bytes(bytes(rng.randrange(256) for _ in range(rng.randrange(200))))
        (d / "trace.jsonl").write_bytes(
            b"\n".join(bytes(rng.randrange(256) for _ in range(rng.randrange(300))) for _ in range(5))
        )
        report = validate_bundle(d, Options(profile=Profile.STRICT, dialect=rng.choice([None, "v1", "v2"])))
        assert report.findings


def _snapshot(d: Path) -> dict:
    out = {}
    for p in sorted(d.rglob("*")):
        st = p.lstat()
        out[str(p)] = (st.st_mode, st.st_size, st.st_mtime_ns, hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else None)
    return out


def test_validator_never_writes_into_the_bundle(tmp_path):
    d = tmp_path / "b"
    shutil.copytree(CORPUS / "codex-0.169.0" / "multi_agent_v2", d)
    before = _snapshot(d)
    for p in [d, *d.rglob("*")]:
        p.chmod(0o555 if p.is_dir() else 0o444)
    try:
        for profile in Profile:
            assert validate_bundle(d, Options(profile=profile)).findings == []
        out = subprocess.run(
            [sys.executable, "-m", "rollout_trace_kit", "validate", "--format", "json", str(d)],
            capture_output=True,
            cwd=tmp_path,
        )
        assert out.returncode == 0, out.stderr
    finally:
        for p in [d, *d.rglob("*")]:
            p.chmod(0o755 if p.is_dir() else 0o644)
    assert _snapshot(d) == before
    assert sorted(os.listdir(d)) == ["manifest.json", "payloads", "trace.jsonl"]
