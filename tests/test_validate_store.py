"""The v3 payload store as the validator sees it: crash images, lost payloads, real bundles."""

from __future__ import annotations

import shutil

import pytest

from rollout_trace_kit.store.shards import read_records
from rollout_trace_kit.validate import Options, Profile, Severity, validate_bundle
from rollout_trace_kit.writer import TraceWriter

from .conftest import corpus_bundles

ROOT_ID = "01a22880-16b2-7e42-b864-79798e4b670e"


def _crashed_writer(tmp_path, records: int = 6):
    """A v3 bundle as a writer killed before `close` leaves it: the shard's frame is still open."""
    w = TraceWriter.create(tmp_path / "live", dialect="v3", clock=lambda: 1795975812797,
                           trace_id="t-1", rollout_id=ROOT_ID, root_thread_id=ROOT_ID)
    w.append({"type": "rollout_started", "trace_id": "t-1", "root_thread_id": ROOT_ID})
    meta = w.write_json_payload("session_metadata", {"thread_id": ROOT_ID, "agent_path": "/root"})
    w.append({"type": "thread_started", "thread_id": ROOT_ID, "agent_path": "/root", "metadata_payload": meta})
    for i in range(records - 1):
        ref = w.write_json_payload("protocol_event", {"type": "warning", "message": "x" * 300 + str(i)})
        w.append({"type": "protocol_event_observed", "event_type": "warning", "event_payload": ref})
    image = tmp_path / "crash"
    shutil.copytree(tmp_path / "live", image)  # what is on disk at the kill
    w.close()
    return image


def test_a_crash_image_is_a_warning_that_counts_what_survived(tmp_path):
    image = _crashed_writer(tmp_path)
    reducer = validate_bundle(image, Options(profile=Profile.REDUCER))
    assert reducer.findings == [], [f.message for f in reducer.findings]  # 0.171.0 replays what survived
    writer = validate_bundle(image, Options(profile=Profile.WRITER, partial_ok=True))
    cut = [f for f in writer.findings if f.invariant == "STORE.FRAME_TRUNCATED"]
    assert len(cut) == 1 and cut[0].severity is Severity.WARNING
    assert "6 complete record(s) survive" in cut[0].message and "raw_payload:6" in cut[0].message
    assert writer.ids() == {"STORE.FRAME_TRUNCATED", "ORDER.TERMINAL_PRESENT"}

def test_a_shard_cut_after_rollout_ended_is_a_warning_even_without_partial_ok(tmp_path):
    # measured: 3 of 12 SIGINT runs of 0.171.0 wrote rollout_ended, then exited before
    # recording_completed and before sealing the shard (tests/test_release_own_bundles.py)
    image = _crashed_writer(tmp_path)
    strict = validate_bundle(image, Options(profile=Profile.WRITER))
    assert [f.severity for f in strict.findings if f.invariant == "STORE.FRAME_TRUNCATED"] == [Severity.ERROR]
    with open(image / "trace.jsonl", "ab") as f:
        f.write(b'{"schema_version":3,"seq":8,"wall_time_unix_ms":1795975812797,"rollout_id":"%s",'
                b'"thread_id":null,"codex_turn_id":null,"payload":{"type":"rollout_ended","status":"completed"}}\n'
                % ROOT_ID.encode())
    ended = validate_bundle(image, Options(profile=Profile.WRITER))
    cut = [f for f in ended.findings if f.invariant == "STORE.FRAME_TRUNCATED"]
    assert [f.severity for f in cut] == [Severity.WARNING] and "the rollout ended first" in cut[0].message
    assert validate_bundle(image, Options(profile=Profile.REDUCER)).findings == []



def test_a_shard_cut_mid_record_names_the_payloads_lost(tmp_path):
    image = _crashed_writer(tmp_path, records=8)
    shard = image / "payloads" / "000001.zst"
    data = shard.read_bytes()
    shard.write_bytes(data[: len(data) * 2 // 3])  # the disk kept only part of the flushed blocks
    survived = sum(1 for r in read_records(open(shard, "rb")) if hasattr(r, "body"))
    assert 0 < survived < 8
    report = validate_bundle(image, Options(profile=Profile.WRITER, partial_ok=True))
    missing = [f for f in report.findings if f.invariant == "STORE.REF_RECORD"]
    assert len(missing) == 8 - survived
    assert all("cut short" in f.message for f in missing)
    assert {f"raw_payload:{n}" for n in range(survived + 1, 9)} == {f.message.split()[2] for f in missing}
    # the events that point past the cut fail the reducer: the reducer profile says so
    reducer = validate_bundle(image, Options(profile=Profile.REDUCER))
    assert reducer.ids() == {"STORE.REF_RECORD"}


def test_a_sealed_shard_cut_after_the_recording_completed_is_a_reducer_error(tmp_path):
    image = _crashed_writer(tmp_path)
    # the same bytes, but the log says the recording completed: the frame had to be sealed
    with open(image / "trace.jsonl", "ab") as f:
        f.write(b'{"schema_version":3,"seq":8,"wall_time_unix_ms":1795975812797,"rollout_id":"%s",'
                b'"thread_id":null,"codex_turn_id":null,"payload":{"type":"recording_completed"}}\n' % ROOT_ID.encode())
    report = validate_bundle(image, Options(profile=Profile.REDUCER))
    assert report.ids() == {"STORE.FRAME_TRUNCATED"}
    assert "missing footer in payload shard 1" in report.findings[0].message


@pytest.mark.parametrize("bundle", corpus_bundles("0.171.0"), ids=lambda p: p.name)
def test_real_v3_bundles_are_clean_in_every_profile(bundle):
    for profile in Profile:
        report = validate_bundle(bundle, Options(profile=profile))
        assert report.dialect == "v3" and report.findings == [], [(f.invariant, f.message) for f in report.findings]


def test_a_shard_of_a_million_skippable_frames_is_a_kit_limit_not_a_hang(tmp_path):
    import struct

    b = tmp_path / "b"
    shutil.copytree(corpus_bundles("0.171.0")[0], b)
    with open(b / "payloads" / "000001.zst", "ab") as f:
        f.write(struct.pack("<II", 0x184D2A50, 0) * 1_000_000)  # 8 MB of empty skippable frames
    report = validate_bundle(b, Options(profile=Profile.STRICT))
    limit = [f for f in report.findings if f.invariant == "STORE.SIZE_LIMIT"]
    assert len(limit) == 1 and "more than 1024 zstd frames" in limit[0].message, [f.message for f in report.findings]
    assert limit[0].severity is Severity.ERROR  # the kit declined to judge: never "ok"


def test_a_shard_of_more_records_than_the_cap_is_a_kit_limit(tmp_path, monkeypatch):
    # A 1 GiB shard of empty records with odd ids would hold ~70 million of them: measured
    # before the cap, 3 million took 32 s and 574 MB. Here the cap is lowered to 50.
    import functools

    from rollout_trace_kit.store import shards

    b = tmp_path / "b"
    shutil.copytree(corpus_bundles("0.171.0")[0], b)
    shard = b / "payloads" / "000001.zst"
    records = [(r.id, r.body) for r in read_records(open(shard, "rb"))]
    shard.write_bytes(shards.compress_records(records + [(b"%d" % i, b"") for i in range(100)]))
    assert len(records) < 50 < len(records) + 100
    monkeypatch.setattr(shards, "Limits", functools.partial(shards.Limits, max_records=50))
    report = validate_bundle(b, Options(profile=Profile.STRICT))
    limit = [f for f in report.findings if f.invariant == "STORE.SIZE_LIMIT"]
    assert len(limit) == 1 and "more than 50 records" in limit[0].message, [f.message for f in report.findings]


def _bomb_tail(tmp_path, monkeypatch, records: int):
    """A v3 bundle whose shard ends in ``records`` copies of one record: a zstd bomb's tail, each a duplicate;
    the kit's records cap lowered to 200 (the real one is 1,048,576)."""
    import functools

    from rollout_trace_kit.store import shards

    b = tmp_path / "b"
    shutil.copytree(corpus_bundles("0.171.0")[0], b)
    shard = b / "payloads" / "000001.zst"
    kept = [(r.id, r.body) for r in read_records(open(shard, "rb"))]
    shard.write_bytes(shards.compress_records(kept + [(kept[0][0], b"{}")] * records))
    monkeypatch.setattr(shards, "Limits", functools.partial(shards.Limits, max_records=200))
    return b, len(kept)


@pytest.mark.parametrize("max_findings", [1, 5, 1000])
def test_a_cap_reached_is_listed_whatever_max_findings_says(tmp_path, monkeypatch, max_findings):
    """A v3 shard with a zstd-bomb tail: about a million STORE.DUPLICATE_RECORD findings came first,
    so the STORE.SIZE_LIMIT one ('the kit declined') fell past --max-findings and was never listed.
    Here the records cap is lowered to 200."""
    b, kept = _bomb_tail(tmp_path, monkeypatch, 300)
    report = validate_bundle(b, Options(profile=Profile.WRITER, max_findings=max_findings))
    limit = [f.message for f in report.findings if f.invariant == "STORE.SIZE_LIMIT"]
    assert len(limit) == 1 and "more than 200 records" in limit[0], [f.message for f in report.findings][-3:]
    assert report.truncated == (max_findings < 2) and not report.ok


def test_a_run_of_duplicate_records_is_one_finding_with_its_count(tmp_path, monkeypatch):
    """The bomb's tail gave one identical STORE.DUPLICATE_RECORD finding per record (a million of them
    with the real caps), listed before the cap reached; a run of one id is now two findings."""
    b, kept = _bomb_tail(tmp_path, monkeypatch, 300)
    report = validate_bundle(b, Options(profile=Profile.WRITER))
    assert [f.invariant for f in report.findings] == ["STORE.DUPLICATE_RECORD"] * 2 + ["STORE.SIZE_LIMIT"]
    first, rest = (f.message for f in report.findings[:2])
    assert first == "duplicate payload raw_payload:1 in shard 1"
    assert rest.startswith(f"{first}, {200 - kept - 1} more time(s), one duplicate after another"), rest


def _refer_to_shards(b, refs: list[tuple[int, str]]) -> None:
    """Append one protocol_event_observed per (shard, raw_payload_id) before the log's last event."""
    import json

    lines = (b / "trace.jsonl").read_text().splitlines()
    template = next(json.loads(line) for line in lines if '"protocol_event_observed"' in line)
    body, last = lines[:-1], json.loads(lines[-1])
    for shard, rid in refs:
        e = json.loads(json.dumps(template))
        e["seq"] = len(body) + 1
        e["payload"]["event_payload"].update(raw_payload_id=rid, shard=shard)
        body.append(json.dumps(e, separators=(",", ":")))
    last["seq"] = len(body) + 1
    (b / "trace.jsonl").write_text("\n".join(body + [json.dumps(last, separators=(",", ":"))]) + "\n")


def test_refs_far_apart_in_empty_shards_cost_no_span_of_memory(tmp_path):
    # Each shard kept a bytearray from its first canonical id to the furthest one referenced:
    # two refs (raw_payload:1, raw_payload:4194000) into an empty shard file cost 4 MiB, so a
    # 180 KB bundle of 200 such shards took 857 MB (measured by hand).
    import tracemalloc

    b = tmp_path / "b"
    shutil.copytree(corpus_bundles("0.171.0")[0], b)
    shards = range(2, 22)
    for n in shards:
        (b / "payloads" / f"{n:06d}.zst").write_bytes(b"")  # an empty file is an empty shard
    _refer_to_shards(b, [(n, f"raw_payload:{rid}") for n in shards for rid in (1, 4_194_000)])
    tracemalloc.start()
    try:
        report = validate_bundle(b, Options(profile=Profile.REDUCER))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    missing = [f for f in report.findings if f.invariant == "STORE.REF_RECORD"]
    assert len(missing) == 2 * len(shards), [f.message for f in report.findings]
    assert peak < 16 << 20, f"{peak} bytes at peak for {len(shards)} empty shards"


def test_three_shards_of_equal_span_are_duplicates_not_an_internal_error(tmp_path):
    # Shards 2 and 3 link to shard 1 and are first referenced at the same id: their spans
    # were equal, so sorting them compared two _Shard objects (TypeError, KIT.INTERNAL_ERROR).
    import os

    b = tmp_path / "b"
    shutil.copytree(corpus_bundles("0.171.0")[0], b)
    for n in (2, 3):
        os.symlink("000001.zst", b / "payloads" / f"{n:06d}.zst")  # the reducer follows symlinks
    _refer_to_shards(b, [(2, "raw_payload:2"), (3, "raw_payload:2")])
    report = validate_bundle(b, Options(profile=Profile.WRITER))
    assert "KIT.INTERNAL_ERROR" not in report.ids(), [f.message for f in report.findings]
    dup = [f.message for f in report.findings if f.invariant == "STORE.DUPLICATE_RECORD"]
    assert "payload raw_payload:2 has records in shards 2 and 3" in dup, dup


def test_symlinks_to_one_shard_cannot_multiply_the_records_read(tmp_path, monkeypatch):
    # The reducer follows symlinks, so 100 links to one shard of a million tiny records made
    # the kit read 100 million (about 10 minutes); the shards of a bundle now share one cap.
    # Here the cap is lowered to 40 records: shard 1 holds 24 (checked below).
    import os

    from rollout_trace_kit.validate.rules import store

    b = tmp_path / "b"
    shutil.copytree(corpus_bundles("0.171.0")[0], b)
    held = sum(1 for _ in read_records(open(b / "payloads" / "000001.zst", "rb")))
    assert 40 // 2 < held < 40
    for n in (2, 3, 4):
        os.symlink("000001.zst", b / "payloads" / f"{n:06d}.zst")
    _refer_to_shards(b, [(n, "raw_payload:2") for n in (2, 3, 4)])
    monkeypatch.setattr(store, "MAX_BUNDLE_RECORDS", 40)
    monkeypatch.setattr(store, "BUNDLE_CAP", "the kit reads at most 40 records from all shards together")
    read = []
    real = store.codec.iter_shard

    def counting(path, limits):
        for item in real(path, limits):
            read.append(item)
            yield item

    monkeypatch.setattr(store.codec, "iter_shard", counting)
    report = validate_bundle(b, Options(profile=Profile.WRITER))
    limit = [f.message for f in report.findings if f.invariant == "STORE.SIZE_LIMIT"]
    assert "KIT.INTERNAL_ERROR" not in report.ids()
    assert any("at most 40 records from all shards together; reading stopped" in m for m in limit), limit
    assert any(m.startswith("payloads/000004.zst is not read") for m in limit), limit
    assert len(read) <= 40 + 3, len(read)  # at most the cap, plus one end-of-stream item per shard


def _append_records(b, extra: list[tuple[bytes, bytes]]) -> list:
    """Rewrite shard 1 with ``extra`` records after its own; return the records it held."""
    from rollout_trace_kit.store import shards

    shard = b / "payloads" / "000001.zst"
    records = [(r.id, r.body) for r in read_records(open(shard, "rb"))]
    shard.write_bytes(shards.compress_records(records + extra))
    return records


def _counting_shard_reads(monkeypatch) -> list:
    """Every record (and error) the store reader decompresses, in a list."""
    from rollout_trace_kit.validate.rules import store

    read: list = []
    real = store.codec.iter_shard

    def counting(path, limits=store.codec.Limits()):
        for item in real(path, limits):
            read.append(item)
            yield item

    monkeypatch.setattr(store.codec, "iter_shard", counting)
    return read


def test_many_refs_to_a_record_deep_in_a_shard_read_the_shard_a_bounded_number_of_times(tmp_path, monkeypatch):
    # Each ref to a record already passed decompressed the shard again from its start: 3,000
    # refs to a record after 8 MiB took 106 s (Codex: 0.52 s). Here the records between are
    # 40 x 2 KiB and the read-ahead budget is lowered to 4 KiB, so every ref missed it.
    import json

    from rollout_trace_kit.validate.rules import store

    b = tmp_path / "b"
    shutil.copytree(corpus_bundles("0.171.0")[0], b)
    body = json.dumps({"type": "warning", "message": "deep"}).encode()
    filler = [(b"raw_payload:%d" % (1000 + i), b'"%s"' % (b"f" * 2048)) for i in range(40)]
    held = _append_records(b, filler + [(b"raw_payload:2000", body)])
    _refer_to_shards(b, [(1, f"raw_payload:{1000 + i}") for i in range(40)] + [(1, "raw_payload:2000")] * 3000)
    monkeypatch.setattr(store, "PENDING_CAP", 4096)
    read = _counting_shard_reads(monkeypatch)
    report = validate_bundle(b, Options(profile=Profile.STRICT))
    assert "KIT.INTERNAL_ERROR" not in report.ids() and "STORE.REF_RECORD" not in report.ids(), report.ids()
    in_shard = len(held) + len(filler) + 1
    # one pass to index and one to find what was passed: twice the shard, not once per ref
    assert len(read) <= 2 * (in_shard + 1), (len(read), in_shard)


def test_the_shards_of_a_bundle_share_a_byte_cap_and_reaching_it_is_an_error(tmp_path, monkeypatch):
    # Symlinks to one shard (the reducer follows them) multiplied the bytes read without bound;
    # a byte cap now spans all of a bundle's shards. Here it is lowered to 2.5 shards' worth.
    import os

    from rollout_trace_kit.validate.rules import store

    b = tmp_path / "b"
    shutil.copytree(corpus_bundles("0.171.0")[0], b)
    size = sum(10 + len(r.id) + r.length for r in read_records(open(b / "payloads" / "000001.zst", "rb")))
    for n in (2, 3, 4):
        os.symlink("000001.zst", b / "payloads" / f"{n:06d}.zst")
    _refer_to_shards(b, [(n, "raw_payload:2") for n in (2, 3, 4)])
    monkeypatch.setattr(store, "MAX_BUNDLE_BYTES", size * 5 // 2)
    for profile in (Profile.REDUCER, Profile.STRICT):
        report = validate_bundle(b, Options(profile=profile))
        limit = [f for f in report.findings if f.invariant == "STORE.SIZE_LIMIT"]
        assert "KIT.INTERNAL_ERROR" not in report.ids()
        assert limit and all(f.severity is Severity.ERROR for f in limit), [(f.severity, f.message) for f in limit]
        messages = [f.message for f in limit]
        bytes_cap = f"at most {size * 5 // 2} decompressed bytes from all shards together"
        assert any(m.startswith("payloads/000003.zst: ") and bytes_cap in m for m in messages), messages
        assert any(m.startswith("payloads/000004.zst is not read") for m in messages), messages
        assert not report.ok


def test_a_big_record_costs_at_most_twice_its_size(tmp_path):
    # One 255 MiB record took 810 MB: the reader held its working buffer, a slice and a copy,
    # and orjson holds about 13x a large input while parsing. Here the record is 8 MiB.
    import json
    import tracemalloc

    b = tmp_path / "b"
    shutil.copytree(corpus_bundles("0.171.0")[0], b)
    body = json.dumps({"type": "warning", "message": "m" * (8 << 20)}).encode()
    _append_records(b, [(b"raw_payload:2000", body)])
    _refer_to_shards(b, [(1, "raw_payload:2000")])
    validate_bundle(corpus_bundles("0.171.0")[0], Options(profile=Profile.STRICT))  # imports, caches
    tracemalloc.start()
    try:
        report = validate_bundle(b, Options(profile=Profile.STRICT))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert "STORE.BODY_JSON" not in report.ids() and "KIT.INTERNAL_ERROR" not in report.ids(), report.ids()
    assert peak <= 2 * len(body) + (1 << 20), f"{peak / len(body):.2f}x the record at peak"


def test_a_record_too_costly_to_parse_is_checked_as_json_and_said_so(tmp_path, monkeypatch):
    import json

    from rollout_trace_kit.validate.rules import refs

    b = tmp_path / "b"
    shutil.copytree(corpus_bundles("0.171.0")[0], b)
    good = json.dumps({"type": "warning", "message": "m" * (2 << 20)}).encode()
    bad = good[:-1]  # not JSON
    _append_records(b, [(b"raw_payload:2000", good), (b"raw_payload:2001", bad)])
    _refer_to_shards(b, [(1, "raw_payload:2000"), (1, "raw_payload:2001")])
    monkeypatch.setattr(refs, "PARSE_BUDGET", 1 << 20)
    report = validate_bundle(b, Options(profile=Profile.STRICT))
    messages = {f.invariant: f.message for f in report.findings}
    assert "raw_payload:2000 in shard 1 is valid JSON, but parsing it" in messages.get("REF.SIZE_LIMIT", ""), messages
    assert "raw_payload:2001 in shard 1 is not valid JSON" in messages.get("STORE.BODY_JSON", ""), messages


def test_brackets_and_quotes_inside_a_string_are_not_counted_as_objects_a_parse_builds(tmp_path, monkeypatch):
    # A 2 MiB string of `{`, `[` and `"` builds one string, not millions of objects: the quick count said
    # 160 MiB and the kit declined (REF.SIZE_LIMIT) a record the reducers read (the review of session 9).
    import json

    from rollout_trace_kit.validate.rules import refs

    text = "{[\"" * (700 << 10)
    body = json.dumps({"type": "warning", "message": text}).encode()
    quick = 2 * len(body) + 72 * (body.count(b"{") + body.count(b"[")) + 28 * body.count(b'"')
    monkeypatch.setattr(refs, "PARSE_BUDGET", 64 << 20)
    assert quick > refs.PARSE_BUDGET
    assert refs.parse_cost(body) < 8 * len(body)
    b = tmp_path / "b"
    shutil.copytree(corpus_bundles("0.171.0")[0], b)
    _append_records(b, [(b"raw_payload:2000", body)])
    _refer_to_shards(b, [(1, "raw_payload:2000")])
    report = validate_bundle(b, Options(profile=Profile.STRICT))
    assert "REF.SIZE_LIMIT" not in report.ids(), [f.message for f in report.findings]


def test_a_huge_skippable_frame_is_a_kit_limit_not_a_long_read(tmp_path, monkeypatch):
    # A skippable frame may declare up to 4 GiB; 1,024 of them (the frame cap) in a sparse file
    # were read through to the end. Compressed bytes now count against the shard's byte cap.
    import struct

    from rollout_trace_kit.validate.rules import store

    b = tmp_path / "b"
    shutil.copytree(corpus_bundles("0.171.0")[0], b)
    shard = b / "payloads" / "000001.zst"
    with open(shard, "ab") as f:
        f.write(struct.pack("<II", 0x184D2A50, 0xFFFFFFFF))
        f.truncate(shard.stat().st_size + 0xFFFFFFFF)  # sparse: no disk used
    monkeypatch.setattr(store, "MAX_SHARD_BYTES", 8 << 20)
    read = _counting_shard_reads(monkeypatch)
    report = validate_bundle(b, Options(profile=Profile.STRICT))
    limit = [f.message for f in report.findings if f.invariant == "STORE.SIZE_LIMIT"]
    assert any(f"more than {8 << 20} bytes on disk" in m for m in limit), [f.message for f in report.findings]
    assert "KIT.INTERNAL_ERROR" not in report.ids() and len(read) < 100


@pytest.mark.parametrize("odd_id", ["raw_payload:²", "raw_payload:١"])
def test_a_payload_id_of_other_digits_is_its_own_id_not_an_ordinal(tmp_path, odd_id):
    """'²' is a digit to str.isdigit() but not to int(); '١' is 1 to int(). Neither id is
    raw_payload:N (the reducer compares ids as strings): a missing record, no internal error,
    no conflict with raw_payload:1."""
    b = tmp_path / "b"
    shutil.copytree(corpus_bundles("0.171.0")[0], b)
    log = (b / "trace.jsonl").read_text(encoding="utf-8")
    (b / "trace.jsonl").write_text(log.replace('"raw_payload_id":"raw_payload:2"', f'"raw_payload_id":"{odd_id}"', 1),
                                   encoding="utf-8")
    report = validate_bundle(b, Options(profile=Profile.STRICT))
    ids = {f.invariant for f in report.findings}
    assert "KIT.INTERNAL_ERROR" not in ids and "STORE.KIND_CONFLICT" not in ids
    assert any(f.invariant == "STORE.REF_RECORD" and odd_id in f.message for f in report.findings)


def test_duplicates_of_one_id_apart_are_not_called_one_after_another(tmp_path):
    """Duplicates of raw_payload:1, then a record of another id, then more of raw_payload:1: the later
    ones were counted into the first run ('N more time(s), one duplicate after another'), which the
    record between makes untrue. A run is the duplicates with nothing between them."""
    from rollout_trace_kit.store import shards

    b = tmp_path / "b"
    shutil.copytree(corpus_bundles("0.171.0")[0], b)
    shard = b / "payloads" / "000001.zst"
    kept = [(r.id, r.body) for r in read_records(open(shard, "rb"))]
    one, fresh = kept[0], (b"raw_payload:%d" % (len(kept) + 1), b"{}")  # an orphan: no duplicate
    shard.write_bytes(shards.compress_records(kept + [one, one, fresh, one]))
    report = validate_bundle(b, Options(profile=Profile.WRITER))
    got = [f.message for f in report.findings if f.invariant == "STORE.DUPLICATE_RECORD"]
    first = f"duplicate payload {one[0].decode()} in shard 1"
    assert got == [first, f"{first}, 1 more time(s), one duplicate after another (one finding for them all)",
                   first], got
