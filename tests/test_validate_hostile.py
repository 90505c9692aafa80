"""Hostile input gets a finding: never a traceback, never a hang, never a write."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
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
    return validate_bundle(d, Options(profile=profile, **kw))


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


def test_a_dangling_payload_link_is_named_so_as_the_bundle_reader_names_it(tmp_path, bundle):
    """validate said "does not exist" where Bundle.read said "a dangling symbolic link": one wording now."""
    n, e, ref = _first_ref(bundle)
    b = bundle.copy()
    del b.payloads[ref["path"]]
    b.specials[ref["path"]] = Special("symlink", "nowhere.json")  # inside the bundle, to nothing
    r = _check(tmp_path, b)
    [f] = [f for f in r.findings if f.invariant == "REF.FILE_EXISTS"]
    assert f.message.endswith(f"{ref['path']} is a dangling symbolic link"), f.message
    assert Bundle.read(tmp_path / "bundle").unread == {ref["path"]: "a dangling symbolic link"}


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


@pytest.mark.parametrize("digits", [5_000, 100_000])
def test_an_integer_of_thousands_of_digits_in_an_unknown_key_is_read_as_readers_skip_it(tmp_path, bundle, digits):
    # 0.169.0 accepts 5,000 digits in an unknown envelope key (measured: exit 0); the kit said
    # LINE.JSON ("Exceeds the limit (4300 digits) for integer string conversion") in every profile
    line = bundle.lines[4].replace(b'"seq":5', b'"seq":5,"zz":-' + b"7" * digits, 1)
    r = _check(tmp_path / "r", _replace_line(bundle, 5, line), Profile.REDUCER)
    assert [f for f in r.findings if f.line == 5] == []
    w = _check(tmp_path / "w", _replace_line(bundle, 5, line), Profile.WRITER)
    assert [f.invariant for f in w.findings if f.line == 5 and "digits" in f.message] == ["LINE.JSON"]  # noted
    # in a key readers read, it fails them: a finding, never "ok"
    line = bundle.lines[4].replace(b'"seq":5', b'"seq":' + b"7" * digits, 1)
    r = _check(tmp_path / "k", _replace_line(bundle, 5, line), Profile.REDUCER)
    assert ("LINE.JSON", 5) in _ids_at(r)


HUGE_BODY = b'{"a": ' + b"7" * 10_000 + b"}"


def _read_as_beyond_f64(report) -> None:
    """Read like 1e400 (tests/test_reducer_verdicts_numbers.py: measured), never Python's digit-limit advice."""
    assert not [f for f in report.findings if "set_int_max" in f.message or f.invariant in ("REF.JSON", "STORE.BODY_JSON")], \
        report.findings
    old = [f for f in report.findings if f.invariant == "RELEASE.NUMBER_RANGE"]
    assert old and "number beyond f64" in old[0].message, report.findings  # 0.125.0 refuses it


def test_a_payload_integer_of_ten_thousand_digits_is_a_number_beyond_f64(tmp_path, bundle):
    """The REF.JSON finding relayed Python's message ('... use sys.set_int_max_str_digits() to increase
    the limit'); the reducers read such a literal as they read 1e400."""
    b = bundle.copy()
    b.payloads[sorted(b.payloads)[0]] = HUGE_BODY
    _read_as_beyond_f64(validate_bundle(b.write(tmp_path / "b"), Options(profile=Profile.REDUCER, release="0.125.0")))


def test_a_shard_record_integer_of_ten_thousand_digits_is_a_number_beyond_f64(tmp_path):
    from rollout_trace_kit.store.shards import Record, compress_records, read_records

    from .conftest import corpus_bundles

    d = tmp_path / "b"
    shutil.copytree(corpus_bundles("0.171.0")[0], d)
    [shard] = (d / "payloads").glob("*.zst")
    records = [(r.id, bytes(r.body)) for r in read_records(open(shard, "rb")) if isinstance(r, Record)]
    records[0] = (records[0][0], HUGE_BODY)
    shard.write_bytes(compress_records(records))
    report = validate_bundle(d, Options(profile=Profile.REDUCER))
    assert not [f for f in report.findings if "set_int_max" in f.message or f.invariant == "STORE.BODY_JSON"], report.findings


def test_fragments_holding_an_integer_of_ten_thousand_digits_splice():
    """0.171.0 reads such fragments (a 5,000-digit case in tests/test_reducer_verdicts_bodies.py, measured);
    they were refused in the kit's words past Python's 4,300-digit limit."""
    from types import SimpleNamespace

    from rollout_trace_kit.validate.rules.bodies import check_fragments

    said: list[str] = []
    ctx = SimpleNamespace(report=lambda inv, message, **kw: said.append(message))
    ref = SimpleNamespace(raw_payload_id="raw_payload:9", parts=[object()])
    check_fragments(ctx, ['{"a": ' + "7" * 10_000 + ', "b": ', "}"], ref, "/payload/x")
    check_fragments(ctx, ['{"a": ' + "7" * 10_000 + ', "b": ', "} x"], ref, "/payload/y")
    [message] = said  # the second only: its trailing text
    assert "do not make JSON with its parts: Extra data" in message, message


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


# -- the hostile-input suite: one row per class of attack ---------------------------------------
# Each row: (class, how it is built, expected). The bundle is a copy of the shipped 0.169.0
# "basic" bundle (30 events; line 2 names payloads/1.json, line 3 payloads/2.json, line 10
# an inference request). Expected: (invariant ID that must be reported, whether the bundle
# must fail); the report must never hold KIT.INTERNAL_ERROR.

BASIC = CORPUS / "codex-0.169.0" / "basic"


def _events(d: Path) -> list[bytes]:
    return (d / "trace.jsonl").read_bytes().split(b"\n")[:-1]


def _write_events(d: Path, lines: list[bytes]) -> None:
    (d / "trace.jsonl").write_bytes(b"".join(x + b"\n" for x in lines))


def _edit_event(n: int, fn):
    def build(d: Path):
        lines = _events(d)
        e = orjson.loads(lines[n - 1])
        out = fn(e)
        lines[n - 1] = out if isinstance(out, bytes) else orjson.dumps(e if out is None else out)
        _write_events(d, lines)

    return build


def _raw_line(n: int, old: bytes, new: bytes):
    def build(d: Path):
        lines = _events(d)
        assert old in lines[n - 1]
        lines[n - 1] = lines[n - 1].replace(old, new, 1)
        _write_events(d, lines)

    return build


def _manifest(raw: bytes):
    def build(d: Path):
        (d / "manifest.json").write_bytes(raw)

    return build


def _manifest_field(key: str, literal: bytes):
    def build(d: Path):
        m = orjson.loads((d / "manifest.json").read_bytes())
        m[key] = "__X__"
        (d / "manifest.json").write_bytes(orjson.dumps(m).replace(b'"__X__"', literal))

    return build


def _replace_file(rel: str, kind: str, target: str = ""):
    def build(d: Path):
        p = d / rel
        if p.is_dir() and not p.is_symlink():
            shutil.rmtree(p)
        elif p.exists() or p.is_symlink():
            p.unlink()
        if kind == "fifo":
            os.mkfifo(p)
        elif kind == "dir":
            p.mkdir()
        elif kind == "symlink":
            p.symlink_to(target.replace("{tmp}", str(d.parent)))
        elif kind == "missing":
            pass

    return build


def _append(data: bytes):
    def build(d: Path):
        with open(d / "trace.jsonl", "ab") as f:
            f.write(data)

    return build


def _ref(n: int, field: str, rid: str | None = None, path: str | None = None, rename: bool = False):
    """Point the ref in ``field`` of event ``n`` elsewhere (moving its file when ``rename``)."""

    def build(d: Path):
        def fn(e):
            ref = e["payload"][field]
            if rename:
                os.rename(d / ref["path"], d / path)
            if rid is not None:
                ref["raw_payload_id"] = rid
            if path is not None:
                ref["path"] = path

        _edit_event(n, fn)(d)

    return build


def _payload(rel: str, data: bytes | None = None, size: int | None = None):
    def build(d: Path):
        with open(d / rel, "wb") as f:
            if data is not None:
                f.write(data)
            if size is not None:
                f.truncate(size)

    return build


def _steps(*builders):
    def build(d: Path):
        for b in builders:
            b(d)

    return build


def _payloads_symlink(d: Path):
    other = d.parent / "elsewhere"
    other.mkdir()
    (other / "secret-1.json").write_text("{}")
    (other / "secret-2.json").write_text("{}")
    shutil.copytree(d / "payloads", other, dirs_exist_ok=True)
    shutil.rmtree(d / "payloads")
    (d / "payloads").symlink_to(other)


def _many_refs_to_one_file(d: Path):
    lines = _events(d)
    e = orjson.loads(lines[2])  # protocol_event_observed -> payloads/2.json
    tail = lines[3:]
    extra = []
    for i in range(1000):
        e = dict(e, seq=4 + i)
        extra.append(orjson.dumps(e))
    renum = []
    for k, line in enumerate(tail):
        ev = orjson.loads(line)
        ev["seq"] = 1004 + k
        renum.append(orjson.dumps(ev))
    _write_events(d, lines[:3] + extra + renum)


def _seq(value: bytes):
    return _raw_line(5, b'"seq":5', b'"seq":' + value)


HOSTILE = [
    # manifest.json
    ("manifest null", _manifest(b"null\n"), ("BUNDLE.MANIFEST_SCHEMA", True)),
    ("manifest array", _manifest(b"[]\n"), ("BUNDLE.MANIFEST_SCHEMA", True)),
    ("manifest number", _manifest(b"42\n"), ("BUNDLE.MANIFEST_SCHEMA", True)),
    ("manifest string", _manifest(b'"s"\n'), ("BUNDLE.MANIFEST_SCHEMA", True)),
    ("manifest boolean", _manifest(b"true\n"), ("BUNDLE.MANIFEST_SCHEMA", True)),
    ("manifest empty object", _manifest(b"{}"), ("BUNDLE.MANIFEST_SCHEMA", True)),
    ("manifest schema_version 2.0", _manifest_field("schema_version", b"2.0"), ("BUNDLE.MANIFEST_SCHEMA", True)),
    ("manifest started_at float", _manifest_field("started_at_unix_ms", b"1000.0"), ("BUNDLE.MANIFEST_SCHEMA", True)),
    ("manifest started_at 1e3", _manifest_field("started_at_unix_ms", b"1e3"), ("BUNDLE.MANIFEST_SCHEMA", True)),
    ("manifest schema_version 99", _manifest_field("schema_version", b"99"), ("BUNDLE.MANIFEST_VERSION", True)),
    ("manifest trace_id a number", _manifest_field("trace_id", b"7"), ("BUNDLE.MANIFEST_SCHEMA", True)),
    ("manifest raw_event_log renamed", _manifest_field("raw_event_log", b'"x.jsonl"'), ("BUNDLE.LAYOUT_NAMES", True)),
    ("manifest missing", _replace_file("manifest.json", "missing"), ("BUNDLE.MANIFEST_PRESENT", True)),
    ("manifest a directory", _replace_file("manifest.json", "dir"), ("BUNDLE.MANIFEST_PRESENT", True)),
    ("manifest a FIFO", _replace_file("manifest.json", "fifo"), ("BUNDLE.MANIFEST_PRESENT", True)),
    ("manifest -> /dev/zero", _replace_file("manifest.json", "symlink", "/dev/zero"), ("BUNDLE.CONFINED", True)),  # out: never read
    ("manifest dangling symlink", _replace_file("manifest.json", "symlink", "/nonexistent/x"), ("BUNDLE.CONFINED", True)),
    ("manifest dangling symlink inside", _replace_file("manifest.json", "symlink", "gone.json"), ("BUNDLE.MANIFEST_PRESENT", True)),
    ("manifest 2 MB", _manifest(b'{"x":"' + b"a" * 2_000_000 + b'"}'), ("BUNDLE.MANIFEST_JSON", True)),
    ("manifest not UTF-8", _manifest(b'{"schema_version":2,"x":"\xff"}'), ("BUNDLE.MANIFEST_JSON", True)),
    ("manifest duplicate key", _manifest(b'{"schema_version":2,"schema_version":2}'), ("BUNDLE.MANIFEST_JSON", True)),
    ("manifest NaN", _manifest(b'{"schema_version":NaN}'), ("BUNDLE.MANIFEST_JSON", True)),
    ("manifest BOM", _manifest(b"\xef\xbb\xbf" + BASIC.joinpath("manifest.json").read_bytes()), ("BUNDLE.MANIFEST_JSON", True)),
    ("manifest nested 100k deep", _manifest(b"[" * 100_000 + b"]" * 100_000), ("BUNDLE.MANIFEST_JSON", True)),
    ("manifest empty file", _manifest(b""), ("BUNDLE.MANIFEST_JSON", True)),
    # trace.jsonl as a file
    ("trace missing", _replace_file("trace.jsonl", "missing"), ("BUNDLE.TRACE_PRESENT", True)),
    ("trace a directory", _replace_file("trace.jsonl", "dir"), ("BUNDLE.TRACE_PRESENT", True)),
    ("trace a FIFO", _replace_file("trace.jsonl", "fifo"), ("BUNDLE.TRACE_PRESENT", True)),
    ("trace -> /dev/zero", _replace_file("trace.jsonl", "symlink", "/dev/zero"), ("BUNDLE.CONFINED", True)),
    ("trace -> /dev/urandom", _replace_file("trace.jsonl", "symlink", "/dev/urandom"), ("BUNDLE.CONFINED", True)),
    ("trace sparse 2 GiB NUL tail", lambda d: os.truncate(d / "trace.jsonl", 2 << 30), ("LINE.TRUNCATED", True)),
    ("trace 4 KiB NUL tail", _append(b"\0" * 4096), ("LINE.TRUNCATED", True)),
    ("trace line of NULs", _append(b"\0" * 100 + b"\n"), ("LINE.JSON", True)),
    ("trace 70 MB garbage line", _append(b"\x01garbage" * 8_750_000 + b"\n"), ("LINE.JSON", True)),
    ("trace 70 MB NUL line", _append(b"\0" * 70_000_000 + b"\n"), ("LINE.JSON", True)),
    ("trace line over the limit, JSON so far", _append(b'{"x":"' + b"a" * 68_000_000 + b'"}\n'), ("LINE.TOO_LONG", True)),
    # lines
    ("invalid UTF-8", _raw_line(5, b'"type"', b'"t\xffpe"'), ("LINE.UTF8", True)),
    ("byte order mark", _raw_line(1, b"{", b"\xef\xbb\xbf{"), ("LINE.JSON", True)),
    ("NaN seq", _seq(b"NaN"), ("LINE.JSON", True)),
    ("Infinity seq", _seq(b"Infinity"), ("LINE.JSON", True)),
    ("lone surrogate", _raw_line(1, b'"rollout_started"', b'"rollout_started","x":"\\ud800"'), ("LINE.JSON", True)),
    ("blank line", _raw_line(5, b"{", b"\n{"), ("LINE.BLANK", True)),
    ("CRLF line", _raw_line(5, b"}}", b"}}\r"), ("LINE.CRLF", True)),
    ("partial last line", lambda d: os.truncate(d / "trace.jsonl", (d / "trace.jsonl").stat().st_size - 10), ("LINE.TRUNCATED", True)),
    ("payload nested 10k deep", _raw_line(3, b'"payload":{', b'"payload":{"zz":' + b"[" * 10_000 + b"]" * 10_000 + b","), ("LINE.NESTING", True)),
    ("duplicate key", _seq(b"5,\"seq\":5"), ("LINE.DUPLICATE_KEY", True)),
    ("event is null", _edit_event(5, lambda e: b"null"), ("EVENT.SCHEMA", True)),
    ("event is an array", _edit_event(5, lambda e: b"[]"), ("EVENT.SCHEMA", True)),
    ("event is a number", _edit_event(5, lambda e: b"7"), ("EVENT.SCHEMA", True)),
    ("unknown payload type", _raw_line(3, b'"type":"protocol_event_observed"', b'"type":"zz"'), ("EVENT.UNKNOWN_TYPE", True)),
    ("seq as a float", _seq(b"5.0"), ("EVENT.INTEGER_FORM", True)),
    ("seq 2**64", _seq(str(2**64).encode()), ("EVENT.SCHEMA", True)),
    ("seq with 5,000 digits", _seq(b"9" * 5000), ("LINE.JSON", True)),
    ("seq negative", _seq(b"-1"), ("EVENT.SCHEMA", True)),
    ("seq gap", _seq(b"7"), ("SEQ.NO_GAP", True)),
    ("seq repeated", _seq(b"4"), ("SEQ.INCREASING", True)),
    ("empty log", lambda d: (d / "trace.jsonl").write_bytes(b""), ("ORDER.TERMINAL_PRESENT", True)),
    ("event after recording_completed", lambda d: _write_events(d, _events(d) + [_events(d)[-1].replace(b'"seq":30', b'"seq":31')]), ("ORDER.AFTER_RECORDING_COMPLETED", True)),
    ("other variant", _raw_line(3, b'"type":"protocol_event_observed"', b'"type":"other"'), ("EVENT.SCHEMA", True)),
    # payload refs
    ("ref raw_payload:8000000000", _ref(3, "event_payload", "raw_payload:8000000000", "payloads/8000000000.json", rename=True), (None, False)),
    ("ref raw_payload:10^24", _ref(3, "event_payload", f"raw_payload:{10**24}", f"payloads/{10**24}.json", rename=True), (None, False)),
    ("ref id of 5,000 digits", _ref(3, "event_payload", "raw_payload:" + "7" * 5000, "payloads/" + "7" * 5000 + ".json"), ("REF.FILE_EXISTS", True)),
    ("ref payloads/./2.json", _ref(3, "event_payload", path="payloads/./2.json"), ("REF.PATH_CONFINED", True)),
    ("ref payloads//2.json", _ref(3, "event_payload", path="payloads//2.json"), ("REF.PATH_CONFINED", True)),
    ("ref climbs out", _ref(3, "event_payload", path="payloads/../../x.json"), ("REF.PATH_CONFINED", True)),
    ("ref absolute", _ref(3, "event_payload", path="/etc/passwd"), ("REF.PATH_CONFINED", True)),
    ("ref with a NUL", _ref(3, "event_payload", path="payloads/2.json\0"), ("REF.PATH_CONFINED", True)),
    ("ref backslashes", _ref(3, "event_payload", path="payloads\\2.json"), ("REF.PATH_CONFINED", True)),
    ("payload symlink out", _replace_file("payloads/2.json", "symlink", "/etc/hostname"), ("REF.PATH_CONFINED", True)),
    ("payload -> /dev/zero", _replace_file("payloads/2.json", "symlink", "/dev/zero"), ("REF.PATH_CONFINED", True)),
    ("payload a FIFO", _replace_file("payloads/2.json", "fifo"), ("REF.REGULAR_FILE", True)),
    ("payload a directory", _replace_file("payloads/2.json", "dir"), ("REF.REGULAR_FILE", True)),
    ("payload missing", _replace_file("payloads/2.json", "missing"), ("REF.FILE_EXISTS", True)),
    ("payload dangling symlink", _replace_file("payloads/2.json", "symlink", "missing.json"), ("REF.FILE_EXISTS", True)),
    ("payload not JSON", _payload("payloads/2.json", b"{nope"), ("REF.JSON", True)),
    ("payload empty", _payload("payloads/2.json", b""), ("REF.JSON", True)),
    ("payload sparse 2 GiB", _payload("payloads/2.json", size=2 << 30), ("REF.JSON", True)),  # its first bytes are NULs
    ("payloads/ a file", _steps(lambda d: shutil.rmtree(d / "payloads"), _payload("payloads", b"{}")), ("REF.FILE_EXISTS", True)),
    ("payloads/ missing", lambda d: shutil.rmtree(d / "payloads"), ("REF.FILE_EXISTS", True)),
    ("payloads/ a symlink elsewhere", _payloads_symlink, ("REF.PATH_CONFINED", True)),
    ("orphan payload", _payload("payloads/99.json", b"{}"), ("REF.ORPHAN", False)),
    ("orphan directory in payloads/", lambda d: (d / "payloads" / "sub").mkdir(), ("REF.ORPHAN", False)),
    ("one id, two paths", _ref(4, "event_payload", rid="raw_payload:2"), ("REF.ID_CONSISTENT", True)),
    ("non-canonical id", _ref(3, "event_payload", rid="payload-two"), ("REF.NAMING", True)),
    ("1,000 refs to one payload", _many_refs_to_one_file, (None, False)),
    ("75 MB [{},{},...] protocol payload", _payload("payloads/2.json", b"[" + b"{}," * 25_000_000 + b"{}]"), (None, False)),
    ("75 MB [{},{},...] inference request", _payload("payloads/5.json", b"[" + b"{}," * 25_000_000 + b"{}]"), ("REF.SIZE_LIMIT", True)),
    ("75 MB [{},{},...] tool invocation payload", _payload("payloads/9.json", b"[" + b"{}," * 25_000_000 + b"{}]"), ("REF.SIZE_LIMIT", True)),
]


def _loop(name: str, ring: int):
    """``name`` a symbolic link to itself (ring 1) or one of a ring of two links."""
    def build(d: Path) -> None:
        path = d / name
        if path.exists():
            path.unlink()
        other = path.with_name(path.name + ".ring")
        path.symlink_to(path.name if ring == 1 else other.name)
        if ring == 2:
            other.symlink_to(path.name)
    return build


LOOPS = [("manifest.json", "BUNDLE.MANIFEST_PRESENT"), ("trace.jsonl", "BUNDLE.TRACE_PRESENT"),
         ("payloads/2.json", "REF.FILE_EXISTS")]


@pytest.mark.parametrize("ring", [1, 2])
@pytest.mark.parametrize("name,invariant", LOOPS, ids=[n for n, _ in LOOPS])
def test_a_symlink_loop_is_said_to_be_a_loop(tmp_path, name, invariant, ring):
    """A link to itself or a ring of two: 'a symbolic link loop (ELOOP)', under the same invariant as
    a missing file (it was 'unreadable (Too many levels of symbolic links)', the OS's words)."""
    d = tmp_path / "b"
    shutil.copytree(BASIC, d)
    _loop(name, ring)(d)
    report = validate_bundle(d, Options(profile=Profile.REDUCER))
    said = [f.message for f in report.findings if f.invariant == invariant]
    assert said and all(m.endswith("is a symbolic link loop (ELOOP)") for m in said), said


def test_a_v3_shard_symlink_loop_is_said_to_be_a_loop(tmp_path):
    from .conftest import corpus_bundles

    d = tmp_path / "b"
    shutil.copytree(corpus_bundles("0.171.0")[0], d)
    [shard] = (d / "payloads").glob("*.zst")
    _loop(f"payloads/{shard.name}", 1)(d)
    report = validate_bundle(d, Options(profile=Profile.REDUCER))
    said = [f.message for f in report.findings if f.invariant == "STORE.REF_SHARD"]
    assert said and all(m.endswith("is a symbolic link loop (ELOOP)") for m in said), said


def _rss_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


@pytest.mark.parametrize("name,build,expected", HOSTILE, ids=[row[0] for row in HOSTILE])
def test_hostile_input_gets_its_finding(tmp_path, name, build, expected):
    d = tmp_path / "b"
    shutil.copytree(BASIC, d)
    build(d)
    want, fails = expected
    for profile in Profile:
        report = validate_bundle(d, Options(profile=profile))
        assert "KIT.INTERNAL_ERROR" not in report.ids(), [f.message for f in report.findings]
        if profile is Profile.STRICT:
            assert report.ok is not fails, (name, [(f.invariant, f.message) for f in report.findings][:5])
            if want is None:
                assert not report.findings, [(f.invariant, f.message) for f in report.findings][:5]
            else:
                assert want in report.ids(), (name, [(f.invariant, f.message) for f in report.findings][:5])


def test_hostile_suite_covers_sixty_classes():
    assert len({row[0] for row in HOSTILE}) == len(HOSTILE) >= 60


# -- the reproductions of issue 13, one by one ------------------------------------------------
def _copy_basic(tmp_path) -> Path:
    d = tmp_path / "b"
    shutil.copytree(BASIC, d)
    return d


def _cli_run(*args):
    return subprocess.run(
        [sys.executable, "-m", "rollout_trace_kit", *map(str, args)], capture_output=True, text=True, timeout=300
    )


@pytest.mark.parametrize("value", ["0", "-5"])
def test_max_findings_below_one_is_a_usage_error(tmp_path, value):
    d = _copy_basic(tmp_path)
    out = _cli_run("validate", "--max-findings", value, d)
    assert out.returncode == 2 and "max-findings" in out.stderr and out.stdout == ""
    with pytest.raises(ValueError):
        Options(max_findings=int(value))


def test_verdict_counts_findings_the_report_leaves_out(tmp_path):
    # The reproduction: a sparse payload over the limit named by 1,000 refs (1,000
    # findings: its first bytes are NULs), then a line that is not JSON: past --max-findings, still a FAIL.
    d = _copy_basic(tmp_path)
    _payload("payloads/2.json", size=300 << 20)(d)
    _many_refs_to_one_file(d)
    _append(b"not json\n")(d)
    report = validate_bundle(d, Options(profile=Profile.WRITER))
    assert report.truncated and len(report.findings) == 1000
    assert {f.invariant for f in report.findings} == {"REF.JSON"}
    assert report.dropped_errors >= 1 and not report.ok
    out = _cli_run("validate", "--format", "json", d)
    assert out.returncode == 1
    doc = orjson.loads(out.stdout)
    assert doc["ok"] is False and doc["bundles"][0]["dropped"]["errors"] >= 1
    small = _cli_run("validate", "--max-findings", "1", d)
    assert small.returncode == 1 and "FAIL" in small.stdout and "more error(s)" in small.stdout


# VmHWM is this process's own peak (ru_maxrss can carry the forking parent's peak over).
_PEAK = """
import sys
from rollout_trace_kit.validate import validate_bundle, Options, Profile
r = validate_bundle(sys.argv[1], Options(profile=Profile.STRICT))
hwm = next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM:"))
rchar = next(int(l.split()[1]) for l in open("/proc/self/io") if l.startswith("rchar:"))
print(hwm // 1024, rchar >> 20, r.ok, sorted(r.ids()))
"""


def _peak(d: Path) -> tuple[int, str]:
    """(peak RSS in MB, "ok [ids]") of a strict validation of ``d`` in a fresh process."""
    mb, _, rest = _peak_and_read(d)
    return mb, rest


def _peak_and_read(d: Path) -> tuple[int, int, str]:
    """(peak RSS in MB, MiB the process read, "ok [ids]"): both are counts, whatever the machine's load."""
    out = subprocess.run([sys.executable, "-c", _PEAK, str(d)], capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr
    mb, read, rest = out.stdout.split(" ", 2)
    return int(mb), int(read), rest


@pytest.mark.parametrize("ordinal", [8_000_000_000, 10**24])
def test_huge_ref_ordinals_cost_no_memory(tmp_path, ordinal):
    d = _copy_basic(tmp_path)
    _ref(3, "event_payload", f"raw_payload:{ordinal}", f"payloads/{ordinal}.json", rename=True)(d)
    mb, rest = _peak(d)
    assert rest.strip() == "True []"
    assert mb < 150  # was 1.98 GB: a bitmap sized by the id


def test_ids_are_keyed_by_value_not_by_hash():
    import inspect

    from rollout_trace_kit.validate.rules import lifecycle, refs

    for module in (lifecycle, refs):
        assert "hash(" not in inspect.getsource(module).replace("``hash()``", "")


def test_ids_whose_hashes_all_collide_stay_apart(monkeypatch):
    """The behaviour behind the source check above: with ``hash()`` answering 0 for every id
    in every validator module, each real bundle (hundreds of distinct ids) gets the report it
    gets with the real ``hash``; a checker keying ids by their hash would see them all as one
    and report duplicate starts."""
    import importlib
    import pkgutil

    import rollout_trace_kit.validate as package

    def report(d):
        r = validate_bundle(d, Options(profile=Profile.STRICT))
        return sorted((f.invariant, f.line, f.message) for f in r.findings)

    bundles = sorted(p.parent for p in CORPUS.glob("codex-*/*/manifest.json"))
    assert len({b.parent for b in bundles}) >= 3  # every shipped release, so every dialect
    honest = [report(b) for b in bundles]
    names = [package.__name__] + [m.name for m in pkgutil.walk_packages(package.__path__, package.__name__ + ".")]
    for name in names:
        monkeypatch.setattr(importlib.import_module(name), "hash", lambda _value: 0, raising=False)
    assert [report(b) for b in bundles] == honest


def test_nul_tail_and_garbage_line_are_errors_in_bounded_time_and_memory(tmp_path):
    d = _copy_basic(tmp_path)
    os.truncate(d / "trace.jsonl", 2 << 30)  # as after a crash: a sparse 2 GiB NUL tail
    mb, read, rest = _peak_and_read(d)
    assert read < 512  # MiB of the 2,048: the hole is not read through (334 MiB seen, imports included)
    assert mb < 200 and "False" in rest and "LINE.TRUNCATED" in rest
    g = tmp_path / "g"
    shutil.copytree(BASIC, g)
    _append(bytes(range(1, 10)) * 7_800_000 + b"\n")(g)  # a 70 MB line of garbage
    mb, rest = _peak(g)
    assert mb < 200 and "False" in rest and "LINE.JSON" in rest


def test_one_payload_named_by_many_refs_is_read_once(tmp_path, monkeypatch):
    from rollout_trace_kit.validate.rules import refs

    d = _copy_basic(tmp_path)
    _payload("payloads/2.json", orjson.dumps({"text": "x" * (10 << 20)}))(d)
    _many_refs_to_one_file(d)
    reads: list[str] = []
    real = refs.RefChecker._read
    monkeypatch.setattr(refs.RefChecker, "_read", lambda self, full, flags: reads.append(full) or real(self, full, flags))
    report = validate_bundle(d, Options(profile=Profile.STRICT))  # was 41 s: each ref re-read and re-parsed the file
    assert report.ok and not report.findings
    assert len(reads) == len(set(reads)) == len(os.listdir(d / "payloads"))


def test_a_75_mb_payload_of_empty_objects_is_not_built(tmp_path):
    d = _copy_basic(tmp_path)
    _payload("payloads/9.json", b"[" + b"{}," * 25_000_000 + b"{}]")(d)  # a tool invocation the reducer reads
    mb, rest = _peak(d)
    assert mb < 400  # was 2.44 GB
    assert "REF.SIZE_LIMIT" in rest and "False" in rest  # its body was not checked: the kit declined, an error
    report = validate_bundle(d, Options(profile=Profile.WRITER))
    [f] = report.findings
    assert f.invariant == "REF.SIZE_LIMIT" and "not parsed" in f.message and f.line == 16  # read by the tool_call_started handler


@pytest.mark.parametrize("path", ["payloads/./2.json", "payloads//2.json", "./payloads/2.json"])
def test_paths_that_resolve_inside_are_read_and_not_reducer_findings(tmp_path, path):
    d = _copy_basic(tmp_path)
    _ref(3, "event_payload", path=path)(d)
    assert validate_bundle(d, Options(profile=Profile.REDUCER)).findings == []
    writer = validate_bundle(d, Options(profile=Profile.WRITER))
    confined = [f for f in writer.findings if f.invariant == "REF.PATH_CONFINED"]
    assert len(confined) == 1 and confined[0].profile is Profile.WRITER and "normalised" in confined[0].message
    # and it was read: a broken payload behind the odd path is still caught
    _payload("payloads/2.json", b"{nope")(d)
    assert "REF.JSON" in validate_bundle(d, Options(profile=Profile.REDUCER)).ids()


def test_a_symlinked_payloads_dir_is_a_finding_and_never_listed(tmp_path):
    d = _copy_basic(tmp_path)
    _payloads_symlink(d)
    report = validate_bundle(d, Options(profile=Profile.STRICT))
    assert not [f for f in report.findings if "secret" in f.message or "secret" in f.file]
    [f] = [f for f in report.findings if f.file == "payloads"]
    assert f.invariant == "REF.PATH_CONFINED" and "symlink" in f.message


def test_a_growing_log_is_read_up_to_its_size_at_start(tmp_path, monkeypatch):
    from rollout_trace_kit.validate import engine

    d = _copy_basic(tmp_path)
    size = (d / "trace.jsonl").stat().st_size
    real = engine.read_batches

    def appending(f, *args, **kw):
        for n, item in enumerate(real(f, *args, **kw)):
            if n == 0:  # a writer appends while the check reads
                with open(d / "trace.jsonl", "ab") as w:
                    w.write(b"not json\n" * 1000)
            yield item

    monkeypatch.setattr(engine, "read_batches", appending)
    report = validate_bundle(d, Options(profile=Profile.STRICT))
    assert [(f.invariant, f.severity.value) for f in report.findings] == [("BUNDLE.TRACE_CHANGED", "warning")]
    assert str(size) in report.findings[0].message and report.ok and report.events == 30


def test_a_log_appended_to_by_a_real_writer_does_not_keep_the_check_going(tmp_path):
    import threading

    d = _copy_basic(tmp_path)
    stop, wrote = threading.Event(), threading.Event()

    def writer():
        with open(d / "trace.jsonl", "ab", buffering=0) as w:
            while not stop.is_set():
                w.write(b"x" * 65536)
                wrote.set()

    t = threading.Thread(target=writer)
    t.start()
    try:
        assert wrote.wait(30)  # the log holds garbage before the check starts
        report = validate_bundle(d, Options(profile=Profile.STRICT))  # returns: the writer never stops
    finally:
        stop.set()
        t.join()
    assert "KIT.INTERNAL_ERROR" not in report.ids() and not report.ok


def test_a_large_payload_file_costs_at_most_twice_its_size(tmp_path):
    # orjson holds about 13x a large input while it parses; a large body is parsed by msgspec.
    import json
    import shutil
    import tracemalloc

    from rollout_trace_kit.validate import Options, Profile, validate_bundle

    from .conftest import corpus_bundles

    b = tmp_path / "b"
    shutil.copytree(corpus_bundles("0.169.0")[0], b)
    target = b / "payloads" / "1.json"
    body = json.loads(target.read_text())
    body["pad"] = "m" * (8 << 20)
    target.write_text(json.dumps(body))
    size = target.stat().st_size
    validate_bundle(corpus_bundles("0.169.0")[0], Options(profile=Profile.STRICT))  # imports, caches
    tracemalloc.start()
    try:
        report = validate_bundle(b, Options(profile=Profile.STRICT))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert "REF.JSON" not in report.ids() and "KIT.INTERNAL_ERROR" not in report.ids(), report.ids()
    assert peak <= 2 * size + (1 << 20), f"{peak / size:.2f}x the payload at peak"


def test_reading_payload_files_ahead_changes_no_finding(tmp_path, monkeypatch):
    # A second thread reads the payload files of the next events (the same read_capped call the
    # checker makes); every finding must be the same as with the checker reading them itself.
    import os
    import shutil

    from rollout_trace_kit.validate import Options, Profile, engine, validate_bundle
    from rollout_trace_kit.validate.rules import refs

    from .conftest import corpus_bundles

    b = tmp_path / "b"
    shutil.copytree(corpus_bundles("0.169.0")[0], b)
    payloads = sorted((b / "payloads").iterdir(), key=lambda p: int(p.stem))
    payloads[1].write_text("{not json")
    payloads[2].unlink()
    os.mkfifo(payloads[2])  # never opened: refused by its type
    payloads[3].write_text('"' + "x" * (refs.AHEAD_FILE_BYTES * 2) + '"')  # over the read-ahead's cap
    payloads[4].unlink()
    used = []
    real = refs.ReadAhead.take

    def take(self, full):
        got = real(self, full)
        used.append(got is not None)
        return got

    monkeypatch.setattr(refs.ReadAhead, "take", take)
    monkeypatch.setattr(engine.os, "cpu_count", lambda: 2)  # the read-ahead runs on a machine of 2 cores or more
    monkeypatch.setenv("ROLLOUT_TRACE_KIT_DECODE_AHEAD", "1")  # whatever the machine's load (validate/ahead.py)
    for bundle in [b, *corpus_bundles("0.169.0"), *corpus_bundles("0.164.0")]:
        for profile in (Profile.REDUCER, Profile.STRICT):
            ahead = validate_bundle(bundle, Options(profile=profile))
            with monkeypatch.context() as m:
                m.setattr(engine, "ReadAhead", lambda checker: None)
                alone = validate_bundle(bundle, Options(profile=profile))
            assert [(f.invariant, f.line, f.message) for f in ahead.findings] == [
                (f.invariant, f.line, f.message) for f in alone.findings
            ], bundle
    assert any(used) and {"REF.JSON", "REF.REGULAR_FILE", "REF.FILE_EXISTS"} <= validate_bundle(b).ids()


# --- a symbolic link swapped in between the link check and the open (a TOCTOU window) -------------

@pytest.mark.parametrize("name", ["manifest.json", "trace.jsonl"])
def test_a_link_out_that_the_check_did_not_see_is_never_followed_by_the_open(tmp_path, monkeypatch, name):
    """check_links looks before the open: a link swapped in after it must still not be read
    (the pre-check is taken away here, as if the link appeared right after it)."""
    from rollout_trace_kit.validate.rules import layout

    d = _copy_basic(tmp_path)
    secret = tmp_path / "secret"
    secret.write_bytes((d / name).read_bytes().replace(b'"', b'"SECRET', 1))
    (d / name).unlink()
    (d / name).symlink_to(secret)
    monkeypatch.setattr(layout, "check_links", lambda ctx: True)
    report = validate_bundle(d, Options(profile=Profile.STRICT))
    assert [f.invariant for f in report.findings] == ["BUNDLE.CONFINED"], report.findings
    assert report.findings[0].file == name and "SECRET" not in report.findings[0].message


def _racing_realpath(monkeypatch, when: str, swap):
    """os.path.realpath that runs ``swap()`` once it has resolved a path ending in ``when``:
    the link appears after the resolution, before the open (the window, made deterministic)."""
    real = os.path.realpath
    done = []

    def racing(p, *a, **kw):
        got = real(p, *a, **kw)
        if os.fspath(p).endswith(when) and not done:
            done.append(swap())
        return got

    monkeypatch.setattr(os.path, "realpath", racing)


@pytest.mark.parametrize("where", ["the file", "a directory on the way"])
def test_open_within_refuses_a_link_swapped_in_after_its_resolution(tmp_path, monkeypatch, where):
    from rollout_trace_kit import files

    root, out = tmp_path / "b", tmp_path / "out"
    (root / "sub").mkdir(parents=True)
    (root / "sub" / "f").write_text("inside")
    out.mkdir()
    (out / "f").write_text("secret")
    victim = root / "sub" / "f" if where == "the file" else root / "sub"

    def swap():
        if victim.is_dir():
            shutil.rmtree(victim)
        else:
            victim.unlink()
        victim.symlink_to(out / "f" if where == "the file" else out)

    _racing_realpath(monkeypatch, "f", swap)
    with pytest.raises(files.Escapes):
        files.open_regular(root / "sub" / "f", within=root)
    assert files.read_capped(root / "sub" / "f", 100, within=root).why == files.ESCAPES  # swapped already: a link out


def test_open_within_reads_a_link_that_stays_inside_and_refuses_one_out(tmp_path):
    from rollout_trace_kit import files

    root = tmp_path / "b"
    (root / "sub").mkdir(parents=True)
    (root / "sub" / "f").write_text("inside")
    (root / "in").symlink_to("sub/f")
    (root / "out").symlink_to(tmp_path)
    (root / "loop").symlink_to("loop")
    assert files.read_capped(root / "in", 100, within=root).data == b"inside"
    assert files.read_capped(root / "out", 100, within=root).why == files.ESCAPES
    assert files.read_capped(root / "missing", 100, within=root).why == files.MISSING
    assert files.read_capped(root / "loop", 100, within=root).why == files.UNREADABLE  # as every reader finds it
