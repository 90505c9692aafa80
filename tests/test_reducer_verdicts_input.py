"""Issue 18's wrong-verdict classes of parsing, refs and the store, each on a minimal bundle.

Every case was judged by the real reducers (0.164.0 for v1, 0.169.0 for v2, 0.171.0 for
v3) before it was written down here; the comment of each test gives their verdict.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import orjson
import pytest

from rollout_trace_kit.store.shards import read_records
from rollout_trace_kit.validate import Options, Profile, validate_bundle

from .conftest import CORPUS

RELEASE = {"v1": "0.164.0", "v2": "0.169.0", "v3": "0.171.0"}
SHARD = "payloads/000001.zst"


def plain(tmp_path: Path, dialect: str) -> Path:
    """The smallest real bundle of the dialect (the corpus's `plain`), copied to edit."""
    d = tmp_path / f"plain-{dialect}"
    shutil.copytree(CORPUS / f"codex-{RELEASE[dialect]}" / "plain", d)
    return d


def events(d: Path) -> list[dict]:
    return [orjson.loads(line) for line in (d / "trace.jsonl").read_bytes().splitlines()]


def write(d: Path, evs: list, renumber: bool = True) -> None:
    """Write the events back (dicts, or raw lines as bytes), seq renumbered from 1."""
    out = []
    for n, e in enumerate(evs, 1):
        if isinstance(e, dict):
            e = dict(e, seq=n) if renumber else e
            out.append(orjson.dumps(e, option=orjson.OPT_PASSTHROUGH_DATACLASS) if _small(e) else _dumps_big(e))
        else:
            out.append(e)
    (d / "trace.jsonl").write_bytes(b"".join(line + b"\n" for line in out))


def _small(value) -> bool:
    """Whether orjson can write ``value`` (its integers fit in 64 bits)."""
    try:
        orjson.dumps(value)
    except orjson.JSONEncodeError:
        return False
    return True


def _dumps_big(value) -> bytes:
    import json

    return json.dumps(value, separators=(",", ":")).encode()


def first(evs: list[dict], tag: str) -> int:
    return next(i for i, e in enumerate(evs) if e["payload"]["type"] == tag)


def reducer(d: Path, **kw):
    return validate_bundle(d, Options(profile=Profile.REDUCER, **kw))


def record_lengths(d: Path) -> dict[str, int]:
    with open(d / SHARD, "rb") as f:
        return {r.id.decode(): len(r.body) for r in read_records(f) if getattr(r, "body", None) is not None}


# -- class 1: an integer above i64::MAX -----------------------------------------------------


def _truncated_capture(d: Path, ref: dict, original: int) -> None:
    ref["capture"] = {"status": "truncated", "original_bytes": original, "retained_bytes": record_lengths(d)[ref["raw_payload_id"]]}


def test_a_u64_above_i64_keeps_the_event_checked(tmp_path):
    # 0.171.0 accepts a capture whose original_bytes is 2**63 (a u64) ...
    d = plain(tmp_path, "v3")
    evs = events(d)
    started = evs[first(evs, "thread_started")]
    _truncated_capture(d, started["payload"]["metadata_payload"], 2**63)
    write(d, evs)
    assert reducer(d).findings == []
    # ... and rejects the same event as a second start: "duplicate thread start for ..."
    evs.insert(first(evs, "thread_started") + 1, orjson.loads(_dumps_big(started)))
    write(d, evs)
    assert reducer(d).ids() == {"THREAD.DUPLICATE_START"}


def test_a_seq_above_i64_keeps_a_v1_event_checked(tmp_path):
    # 0.164.0 ignores seq: "duplicate thread start for ..." for a second start whose seq is 2**63
    d = plain(tmp_path, "v1")
    evs = events(d)
    i = first(evs, "thread_started")
    evs.insert(i + 1, dict(evs[i], seq=2**63))
    write(d, evs, renumber=False)
    assert reducer(d).ids() == {"THREAD.DUPLICATE_START"}


def test_a_u64_above_i64_keeps_the_refs_of_its_event_checked(tmp_path):
    # 0.171.0: "missing payload raw_payload:99 in shard 1"; the kit saw no ref at all
    d = plain(tmp_path, "v3")
    evs = events(d)
    ref = evs[first(evs, "protocol_event_observed")]["payload"]["event_payload"]
    ref["shard"] = 1
    ref["raw_payload_id"] = "raw_payload:99"
    ref["capture"] = {"status": "truncated", "original_bytes": 2**64 - 1, "retained_bytes": 3}
    write(d, evs)
    assert reducer(d).ids() == {"STORE.REF_RECORD"}


def test_a_shard_number_above_i64_is_looked_for(tmp_path):
    # 0.171.0: "open shard .../payloads/9223372036854775808.zst"
    d = plain(tmp_path, "v3")
    evs = events(d)
    evs[first(evs, "protocol_event_observed")]["payload"]["event_payload"]["shard"] = 2**63
    write(d, evs)
    assert reducer(d).ids() == {"STORE.REF_SHARD"}


# -- class 2: two refs to one payload id that differ ------------------------------------------


def _part(rid: str, kind: str) -> dict:
    return {"raw_payload_id": rid, "kind": {"type": kind}, "shard": 1}


def _twin_ref(tmp_path, change) -> Path:
    """`plain` v3 with its first protocol event repeated, the copy's ref changed by ``change``."""
    d = plain(tmp_path, "v3")
    evs = events(d)
    i = first(evs, "protocol_event_observed")
    twin = orjson.loads(orjson.dumps(evs[i]))
    change(d, twin["payload"]["event_payload"])
    evs.insert(i + 1, twin)
    write(d, evs)
    return d


def _truncated_as_stored(d: Path, ref: dict, original: int = 10**7) -> None:
    _truncated_capture(d, ref, original)


CONFLICTS = {  # 0.171.0: "conflicting references for payload raw_payload:2" for each
    "shard": lambda d, r: (shutil.copy(d / SHARD, d / "payloads/000002.zst"), r.update(shard=2)),
    "capture": _truncated_as_stored,
    "parts": lambda d, r: r.update(parts=[_part("raw_payload:1", "session_metadata")]),
    "omitted": lambda d, r: (r.pop("shard"), r.update(capture={"status": "omitted", "original_bytes": 10**8})),
    "kind": lambda d, r: r.update(kind={"type": "session_metadata"}),
}
SAME = {  # 0.171.0 accepts each: the same ref written another way
    "identical": lambda d, r: None,
    "explicit complete capture": lambda d, r: r.update(capture={"status": "complete"}),
    "empty parts": lambda d, r: r.update(parts=[]),
    "kind value null": lambda d, r: r["kind"].update(value=None),
    "key order": lambda d, r: (r.clear(), r.update(shard=1, kind={"type": "protocol_event"}, raw_payload_id="raw_payload:2")),
}


@pytest.mark.parametrize("what", CONFLICTS)
def test_two_refs_to_one_payload_that_differ_conflict(tmp_path, what):
    report = reducer(_twin_ref(tmp_path, CONFLICTS[what]))
    # parts on a ref that is not a prompt also make its body fragments (BODY.PREPARED_PROMPT)
    assert report.ids() - {"BODY.PREPARED_PROMPT"} == {"STORE.KIND_CONFLICT"}, report.findings
    conflict = next(f for f in report.findings if f.invariant == "STORE.KIND_CONFLICT")
    assert f"the {what if what != 'omitted' else 'shard'} differs" in conflict.message


@pytest.mark.parametrize("what", SAME)
def test_two_refs_written_differently_are_the_same_ref(tmp_path, what):
    assert reducer(_twin_ref(tmp_path, SAME[what])).findings == []


def test_two_truncated_captures_of_different_sizes_conflict(tmp_path):
    def change(d, ref):
        _truncated_as_stored(d, ref, 10**7 + 1)

    d = _twin_ref(tmp_path, change)
    evs = events(d)
    _truncated_as_stored(d, evs[first(evs, "protocol_event_observed")]["payload"]["event_payload"])
    write(d, evs)
    assert reducer(d).ids() == {"STORE.KIND_CONFLICT"}


# -- classes 8 and 10: ref paths, opened as the reducer opens them -----------------------------


def _request_path(tmp_path, dialect: str, form: str) -> Path:
    """`plain` with the first inference request's path (read by both reducers) rewritten:
    ``{n}`` is its ordinal, ``{bundle}`` the bundle's absolute path."""
    d = plain(tmp_path, dialect)
    evs = events(d)
    ref = evs[first(evs, "inference_started")]["payload"]["request_payload"]
    n = ref["path"].split("/")[1].split(".")[0]
    ref["path"] = form.format(n=n, bundle=d, name=d.name)
    write(d, evs)
    return d


# 0.164.0 and 0.169.0: "open payload raw_payload:N" (the OS's "Not a directory", "No such file")
UNREADABLE_FORMS = ["payloads/{n}.json/", "payloads/{n}.json//", "payloads/{n}.json/.", "payloads/nodir/../{n}.json"]
# 0.164.0 and 0.169.0 read these: they resolve to the payload inside the bundle
INSIDE_FORMS = ["payloads/../payloads/{n}.json", "{bundle}/payloads/{n}.json", "../{name}/payloads/{n}.json",
                "{bundle}/../{name}/payloads/{n}.json"]


@pytest.mark.parametrize("dialect", ["v1", "v2"])
@pytest.mark.parametrize("form", UNREADABLE_FORMS)
def test_a_path_the_os_cannot_open_fails_the_reducer(tmp_path, dialect, form):
    report = reducer(_request_path(tmp_path, dialect, form))
    assert report.ids() == {"REF.FILE_EXISTS"}, report.findings


@pytest.mark.parametrize("dialect", ["v1", "v2"])
@pytest.mark.parametrize("form", INSIDE_FORMS)
def test_a_path_that_resolves_inside_the_bundle_is_read_by_the_reducer(tmp_path, dialect, form):
    d = _request_path(tmp_path, dialect, form)
    assert reducer(d).findings == []
    writer = validate_bundle(d, Options(profile=Profile.WRITER))
    assert "REF.PATH_CONFINED" in writer.ids()  # writers write payloads/{n}.json
    # and it was read: a broken payload behind it is caught
    evs = events(d)
    rel = evs[first(evs, "inference_started")]["payload"]["request_payload"]["path"]
    target = Path(rel) if rel.startswith("/") else d / rel
    target.write_bytes(b"{nope")
    assert reducer(d).ids() == {"REF.JSON"}


# -- class 7: payload bodies nested past serde_json's recursion limit ------------------------


def _deepened(text: bytes, depth: int) -> bytes:
    """A body object with an unknown key whose arrays take the whole body to ``depth`` levels."""
    body = orjson.loads(text)
    inner = b"[" * (depth - 1) + b"]" * (depth - 1)
    return orjson.dumps(body)[:-1] + (b"," if body else b"") + b'"zz":' + inner + b"}"


def _deepen_payload(d: Path, dialect: str, ref: dict, depth: int) -> None:
    if dialect == "v3":
        from rollout_trace_kit.store.shards import compress_records

        rel = f"payloads/{ref['shard']:06d}.zst"
        with open(d / rel, "rb") as f:
            records = [(r.id, r.body) for r in read_records(f)]
        rid = ref["raw_payload_id"].encode()
        (d / rel).write_bytes(compress_records([(i, _deepened(b, depth) if i == rid else b) for i, b in records]))
    else:
        (d / ref["path"]).write_bytes(_deepened((d / ref["path"]).read_bytes(), depth))


def _body_kinds():
    """(dialect, kind, limit) of every kind with a measured depth limit."""
    from rollout_trace_kit.model import DIALECTS

    return [(name, kind, limit) for name in RELEASE for kind, limit in DIALECTS[name].body_depth_limits]


def _ref_of_kind(tmp_path: Path, dialect: str, kind: str):
    from rollout_trace_kit.model import DIALECTS
    from rollout_trace_kit.model.facts import iter_refs

    for scenario in ("basic", "compaction", "tools"):
        d = tmp_path / f"{scenario}-{dialect}"
        if not d.exists():
            shutil.copytree(CORPUS / f"codex-{RELEASE[dialect]}" / scenario, d)
        for e in events(d):
            for _, ref, _ in iter_refs(DIALECTS[dialect], e["payload"]):
                if ref["kind"]["type"] == kind and not ref.get("parts") and not ref.get("capture"):
                    return d, ref
    raise AssertionError(f"no {kind} ref in the corpus of {dialect}")


@pytest.mark.parametrize("dialect,kind,limit", _body_kinds(), ids=lambda v: str(v))
def test_a_body_deeper_than_its_kind_is_parsed_fails_the_reducer(tmp_path, dialect, kind, limit):
    # measured: `limit` levels read, one more "parse payload raw_payload:N"
    d, ref = _ref_of_kind(tmp_path, dialect, kind)
    original = (d / ref["path"]).read_bytes() if dialect != "v3" else None
    _deepen_payload(d, dialect, ref, limit)
    assert "REF.NESTING" not in reducer(d).ids()
    if original is not None:
        (d / ref["path"]).write_bytes(original)
        _deepen_payload(d, dialect, ref, limit + 1)
    else:
        shutil.rmtree(d)
        d, ref = _ref_of_kind(tmp_path, dialect, kind)
        _deepen_payload(d, dialect, ref, limit + 1)
    report = reducer(d)
    assert "REF.NESTING" in report.ids(), report.findings


@pytest.mark.parametrize("dialect", list(RELEASE))
def test_a_kind_the_reducer_does_not_parse_is_read_at_any_depth(tmp_path, dialect):
    d, ref = _ref_of_kind(tmp_path, dialect, "protocol_event")  # measured: read 300 levels deep
    _deepen_payload(d, dialect, ref, 300)
    assert reducer(d).findings == []


# -- class 10: findings on bundles Codex reads ---------------------------------------------


def _edit_line(d: Path, n: int, edit) -> None:
    lines = (d / "trace.jsonl").read_bytes().splitlines()
    lines[n] = edit(lines[n])
    (d / "trace.jsonl").write_bytes(b"".join(line + b"\n" for line in lines))


SKIPPED_VALUES = {  # each read by 0.164.0, 0.169.0 and 0.171.0 inside an unknown envelope or manifest key
    "lone surrogate": b'"\\ud800"',
    "1e400": b"1e400",
    "big integer": str(2**70).encode(),
    "duplicate key": b'{"a":1,"a":2}',
    "600 levels": b"[" * 600 + b"]" * 600,
    "20000 levels": b"[" * 20000 + b"]" * 20000,
}


@pytest.mark.parametrize("dialect", list(RELEASE))
@pytest.mark.parametrize("value", SKIPPED_VALUES)
def test_a_value_serde_skips_in_an_unknown_envelope_key_is_no_reducer_finding(tmp_path, dialect, value):
    d = plain(tmp_path, dialect)
    _edit_line(d, 1, lambda line: line[:-1] + b',"zz":' + SKIPPED_VALUES[value] + b"}")
    assert reducer(d).findings == []
    strict = validate_bundle(d, Options(profile=Profile.STRICT))
    assert strict.ids() <= {"EVENT.UNKNOWN_KEY", "LINE.JSON", "LINE.NESTING", "LINE.DUPLICATE_KEY"}, strict.findings
    assert "EVENT.UNKNOWN_KEY" in strict.ids()  # the line was read, not skipped


@pytest.mark.parametrize("dialect", list(RELEASE))
@pytest.mark.parametrize("value", SKIPPED_VALUES)
def test_a_value_serde_skips_in_an_unknown_manifest_key_is_no_reducer_finding(tmp_path, dialect, value):
    d = plain(tmp_path, dialect)
    text = (d / "manifest.json").read_bytes().rstrip()
    (d / "manifest.json").write_bytes(text[:-1] + b',"zz":' + SKIPPED_VALUES[value] + b"}")
    assert reducer(d).findings == []
    assert validate_bundle(d, Options(profile=Profile.STRICT)).ids() <= {"BUNDLE.MANIFEST_JSON"}


@pytest.mark.parametrize("dialect", list(RELEASE))
def test_a_lone_surrogate_inside_the_payload_still_fails(tmp_path, dialect):
    # serde buffers the tagged payload: 0.164.0, 0.169.0 and 0.171.0 say "parse trace event line 2"
    d = plain(tmp_path, dialect)
    _edit_line(d, 1, lambda line: line.replace(b'"payload":{', b'"payload":{"zz":"\\ud800",', 1))
    assert "LINE.JSON" in reducer(d).ids()


@pytest.mark.parametrize("dialect", ["v1", "v2"])
def test_a_number_too_large_for_f64_in_a_body_is_read(tmp_path, dialect):
    # 0.164.0 and 0.169.0 accept `"zz": -1e400` in an inference request; orjson refuses it
    d = plain(tmp_path, dialect)
    evs = events(d)
    path = d / evs[first(evs, "inference_started")]["payload"]["request_payload"]["path"]
    text = path.read_bytes().rstrip()
    path.write_bytes(text[:-1] + b',"zz":-1e400}')
    assert reducer(d).findings == []


# -- class 3: a cap reached is an error in every profile and dialect -------------------------


def _assert_declined(d: Path, invariant: str, **options) -> None:
    """Every profile says ``invariant`` as an error (the kit declined), and compat names no reader."""
    for profile in Profile:
        report = validate_bundle(d, Options(profile=profile, **options))
        found = [f for f in report.findings if f.invariant == invariant]
        assert found and all(f.severity.value == "error" for f in found), (profile, report.findings)
        assert not report.ok and "declined" in found[0].message
        assert report.releases is not None and report.releases["readers"] == [], report.releases


@pytest.mark.parametrize("dialect", list(RELEASE))
def test_a_line_over_the_line_limit_is_declined_not_ok(tmp_path, dialect):
    d = plain(tmp_path, dialect)
    _edit_line(d, 2, lambda line: line[:-1] + b',"zz":"' + b"a" * 4096 + b'"}')
    _assert_declined(d, "LINE.TOO_LONG", max_line_bytes=2048)


@pytest.mark.parametrize("dialect", ["v1", "v2"])
def test_a_payload_over_the_payload_limit_is_declined_not_ok(tmp_path, dialect):
    d = plain(tmp_path, dialect)
    evs = events(d)
    path = d / evs[first(evs, "inference_started")]["payload"]["request_payload"]["path"]
    path.write_bytes(path.read_bytes() + b" " * 4096)  # valid JSON, padded past the lowered cap
    _assert_declined(d, "REF.SIZE_LIMIT", max_payload_bytes=2048)


@pytest.mark.parametrize("dialect", ["v1", "v2"])
def test_valid_json_then_a_sparse_nul_tail_past_the_limit_is_trailing_characters(tmp_path, dialect):
    # 0.169.0 on valid JSON followed by NUL bytes: "trailing characters"; the kit said "not parsed", exit 0
    d = plain(tmp_path, dialect)
    evs = events(d)
    path = d / evs[first(evs, "inference_started")]["payload"]["request_payload"]["path"]
    size = path.stat().st_size
    os.truncate(path, size + (1 << 20))  # a sparse NUL tail: no disk written
    report = reducer(d, max_payload_bytes=size + 1024)
    assert report.ids() == {"REF.JSON"} and "trailing characters" in report.findings[0].message


def _many_frames(d: Path, frames: int) -> None:
    import struct

    with open(d / SHARD, "ab") as f:
        f.write(struct.pack("<II", 0x184D2A50, 0) * frames)  # empty skippable frames


def test_frames_past_the_shard_cap_are_declined_not_ok(tmp_path):
    d = plain(tmp_path, "v3")
    _many_frames(d, 2000)  # the cap is 1024 frames
    _assert_declined(d, "STORE.SIZE_LIMIT")


def test_records_past_the_shard_cap_are_declined_not_ok(tmp_path, monkeypatch):
    import functools

    from rollout_trace_kit.store import shards

    d = plain(tmp_path, "v3")
    with open(d / SHARD, "rb") as f:
        records = [(r.id, r.body) for r in read_records(f)]
    (d / SHARD).write_bytes(shards.compress_records(records + [(b"raw_payload:%d" % (900 + i), b"{}") for i in range(40)]))
    monkeypatch.setattr(shards, "Limits", functools.partial(shards.Limits, max_records=len(records) + 5))
    _assert_declined(d, "STORE.SIZE_LIMIT")


def _surrogate_in(d: Path, dialect: str, ref: dict) -> None:
    def add(text: bytes) -> bytes:
        return text.rstrip()[:-1] + b',"zz":"\\ud800"}'

    if dialect == "v3":
        from rollout_trace_kit.store.shards import compress_records

        with open(d / SHARD, "rb") as f:
            records = [(r.id, r.body) for r in read_records(f)]
        rid = ref["raw_payload_id"].encode()
        (d / SHARD).write_bytes(compress_records([(i, add(b) if i == rid else b) for i, b in records]))
    else:
        (d / ref["path"]).write_bytes(add((d / ref["path"]).read_bytes()))


@pytest.mark.parametrize("dialect", ["v2", "v3"])
@pytest.mark.parametrize("kind,accepted", [("protocol_event", True), ("session_metadata", False)])
def test_a_lone_surrogate_in_a_body_fails_only_the_kinds_the_reducer_parses(tmp_path, dialect, kind, accepted):
    # 0.169.0 and 0.171.0 check a protocol event's syntax only (accepted); a session metadata
    # body they parse: "parse payload raw_payload:1"
    d = plain(tmp_path, dialect)
    tag = {"protocol_event": "protocol_event_observed", "session_metadata": "thread_started"}[kind]
    evs = events(d)
    payload = evs[first(evs, tag)]["payload"]
    _surrogate_in(d, dialect, payload["event_payload" if kind == "protocol_event" else "metadata_payload"])
    report = reducer(d)
    assert report.ok is accepted, report.findings
