"""The shard codec: round trips, real Codex shards, and every way a shard can be broken."""

from __future__ import annotations

import io
import struct

import pytest

from rollout_trace_kit.corpus import corpus_root
from rollout_trace_kit.store import shards
from rollout_trace_kit.store.shards import (
    Limits,
    Record,
    ShardError,
    StoreWriter,
    compress_records,
    encode_record,
    plan_shards,
    read_records,
)
from rollout_trace_kit.store.zstd import ZstdCompressor

CORPUS = corpus_root() / "codex-0.171.0"  # the shipped real 0.171.0 bundles


def recs(n: int, size: int = 40) -> list[tuple[bytes, bytes]]:
    return [(f"raw_payload:{i}".encode(), b'{"n":%d,"pad":"%s"}' % (i, b"x" * size)) for i in range(1, n + 1)]


def read(data: bytes, **kw) -> tuple[list[Record], ShardError | None]:
    out, err = [], None
    for item in read_records(io.BytesIO(data), **kw):
        if isinstance(item, ShardError):
            assert err is None, "an error is always the last item"
            err = item
        else:
            assert err is None, "nothing follows an error"
            out.append(item)
    return out, err


def test_round_trip_one_frame():
    rs = recs(50)
    got, err = read(compress_records(rs))
    assert err is None
    assert [(r.id, r.body) for r in got] == rs
    assert got[1].offset == shards.HEADER_SIZE + len(rs[0][0]) + len(rs[0][1])


def test_small_chunks_and_records_across_frames():
    rs = recs(30, size=3000)
    raw = b"".join(encode_record(*r) for r in rs)
    # frames cut at arbitrary points, even inside a header: the record stream spans them
    data = b""
    for a, b in ((0, 7), (7, 20_000), (20_000, len(raw))):
        c = ZstdCompressor()
        data += c.compress(raw[a:b]) + c.flush()
    skippable = b"\x50\x2a\x4d\x18" + struct.pack("<I", 3) + b"abc"
    got, err = read(skippable + data + skippable, chunk=97)
    assert err is None
    assert [(r.id, r.body) for r in got] == rs


def test_real_codex_shards_read_cleanly():
    seen = 0
    for shard in sorted(CORPUS.glob("*/payloads/*.zst")):
        got, err = read(shard.read_bytes())
        assert err is None, (shard, err)
        ids = [r.id for r in got]
        assert ids and all(i.startswith(b"raw_payload:") for i in ids)
        seen += 1
    assert seen >= 12


def test_frame_corrupt_on_flipped_byte():
    data = bytearray(compress_records(recs(20)))
    data[len(data) // 2] ^= 0xFF
    _, err = read(bytes(data))
    assert err.code == shards.FRAME_CORRUPT


def test_not_zstd_at_all():
    got, err = read(b"".join(encode_record(*r) for r in recs(3)))
    assert got == [] and err.code == shards.FRAME_CORRUPT


def test_trailing_garbage_after_last_frame():
    data = compress_records(recs(5))
    got, err = read(data + b"GARBAGE!GARBAGE!")
    assert len(got) == 5
    assert err.code == shards.TRAILING_GARBAGE and err.compressed_offset == len(data)


def test_frame_truncated_keeps_complete_records_and_names_the_lost_one():
    rs = recs(40, size=500)
    data = compress_records(rs)
    got, err = read(data[:-4])  # the checksum only: every record is there
    assert len(got) == 40 and err.code == shards.FRAME_TRUNCATED and err.lost_id is None
    cut = data[: len(data) * 2 // 3]
    got, err = read(cut)
    assert err.code == shards.FRAME_TRUNCATED
    assert 0 < len(got) < 40
    assert [(r.id, r.body) for r in got] == rs[: len(got)]


def test_header_cut_in_sealed_stream():
    raw = b"".join(encode_record(*r) for r in recs(3)) + b"\x0d\x00\x05"
    c = ZstdCompressor()
    got, err = read(c.compress(raw) + c.flush())
    assert len(got) == 3 and err.code == shards.HEADER_CUT


def test_length_beyond_the_shard_names_the_record():
    rs = recs(3)
    raw = b"".join(encode_record(*r) for r in rs[:2]) + encode_record(*rs[2])[:-5]
    c = ZstdCompressor()
    got, err = read(c.compress(raw) + c.flush())
    assert len(got) == 2 and err.code == shards.LENGTH_BEYOND and err.lost_id == b"raw_payload:3"


def test_huge_declared_length_is_a_value_not_an_allocation():
    raw = encode_record(*recs(1)[0]) + struct.pack("<HQ", 13, 2**64 - 1) + b"raw_payload:2" + b"{}"
    c = ZstdCompressor()
    got, err = read(c.compress(raw) + c.flush())
    assert len(got) == 1 and err.code == shards.LENGTH_BEYOND and err.lost_id == b"raw_payload:2"
    assert str(2**64 - 1) in err.message


def test_record_over_the_body_cap_is_skipped_not_held():
    rs = [(b"raw_payload:1", b"[" + b"1," * 5000 + b"1]"), (b"raw_payload:2", b"{}")]
    got, err = read(compress_records(rs), limits=Limits(max_record_bytes=1000), chunk=512)
    assert err is None
    assert got[0].id == b"raw_payload:1" and got[0].body is None and got[0].length == len(rs[0][1])
    assert got[1].body == b"{}"


def test_zstd_bomb_stops_at_the_shard_cap():
    body = b" " * (64 << 20)  # 64 MiB of spaces compress to a few KiB
    data = compress_records([(b"raw_payload:1", body)])
    assert len(data) < 64 << 10
    got, err = read(data, limits=Limits(max_shard_bytes=1 << 20))
    assert got == [] and err.code == shards.SHARD_TOO_LARGE


def test_frames_past_the_frame_cap_stop_the_reader():
    # Each frame costs a fresh decompressor: millions of 8-byte skippable (or empty) frames
    # would keep the reader going for hours, so past the cap it stops with an error.
    data = compress_records(recs(3))
    skippable = struct.pack("<II", 0x184D2A50, 0)
    got, err = read(data + skippable * 4, limits=Limits(max_frames=5))
    assert len(got) == 3 and err is None  # 1 + 4 frames: within the cap
    got, err = read(data + skippable * 100_000, limits=Limits(max_frames=5))
    assert len(got) == 3 and err is not None and err.code == shards.TOO_MANY_FRAMES
    assert err.compressed_offset == len(data) + 4 * len(skippable)
    empty = ZstdCompressor().flush(ZstdCompressor.FLUSH_FRAME)
    _, err = read(data + empty * 2000)  # the default cap
    assert err is not None and err.code == shards.TOO_MANY_FRAMES


def test_records_past_the_record_cap_stop_the_reader():
    data = compress_records(recs(5))
    got, err = read(data, limits=Limits(max_records=5))
    assert len(got) == 5 and err is None
    got, err = read(data, limits=Limits(max_records=3))
    assert [r.id for r in got] == [b"raw_payload:1", b"raw_payload:2", b"raw_payload:3"]
    assert err is not None and err.code == shards.TOO_MANY_RECORDS and err.offset == got[-1].offset + 10 + 13 + len(got[-1].body)
    big = compress_records([(b"raw_payload:1", b"x" * 100), (b"raw_payload:2", b"y" * 100)])
    got, err = read(big, limits=Limits(max_records=1, max_record_bytes=10))  # bodies over the body cap count too
    assert [r.body for r in got] == [None] and err is not None and err.code == shards.TOO_MANY_RECORDS


def test_id_over_its_cap():
    raw = struct.pack("<HQ", 60_000, 2) + b"a" * 60_000 + b"{}"
    c = ZstdCompressor()
    _, err = read(c.compress(raw) + c.flush())
    assert err.code == shards.ID_TOO_LONG


def test_empty_file_has_no_records_and_no_error():
    assert read(b"") == ([], None)


def test_store_writer_rotates_before_a_record_would_pass_the_size(tmp_path):
    rs = recs(10, size=300)
    framed = [shards.HEADER_SIZE + len(i) + len(b) for i, b in rs]
    limit = framed[0] * 3 + 1  # three records fit, the fourth opens a new shard
    w = StoreWriter(tmp_path / "payloads", rotate_bytes=limit)
    where = [w.append(i, b) for i, b in rs]
    w.close()
    assert where == plan_shards(framed, limit) == [1, 1, 1, 2, 2, 2, 3, 3, 3, 4]
    names = sorted(p.name for p in (tmp_path / "payloads").iterdir())
    assert names == ["000001.zst", "000002.zst", "000003.zst", "000004.zst"]
    back = []
    for name in names:
        got, err = read((tmp_path / "payloads" / name).read_bytes())
        assert err is None
        back += [(r.id, r.body) for r in got]
    assert back == rs


def test_a_record_bigger_than_the_rotation_size_sits_alone():
    assert plan_shards([10, 100, 10, 10], rotate_bytes=50) == [1, 2, 3, 3]


def test_writer_flushes_every_record_so_a_cut_file_keeps_them():
    buf = io.BytesIO()
    w = shards.ShardWriter(buf)
    sizes = []
    for rid, body in recs(5, size=2000):
        w.append(rid, body)
        sizes.append(buf.tell())
    # the file as a crash after the third append leaves it: three whole records, frame unsealed
    got, err = read(buf.getvalue()[: sizes[2]])
    assert len(got) == 3 and err.code == shards.FRAME_TRUNCATED and err.lost_id is None
    w.seal()
    assert read(buf.getvalue())[1] is None


def test_shard_name_width():
    assert shards.shard_name(1) == "000001.zst"
    assert shards.shard_name(2**32) == "4294967296.zst"


def test_writer_reproduces_codex_shards_byte_for_byte():
    for name in ("basic", "tools", "plain"):
        real = (CORPUS / name / "payloads" / "000001.zst").read_bytes()
        got, err = read(real)
        assert err is None
        assert compress_records([(r.id, r.body) for r in got]) == real, name


def test_a_big_record_is_held_once_while_it_streams_in():
    # The reader held a big record three times (its working buffer, a slice, a copy).
    import io
    import tracemalloc

    from rollout_trace_kit.store.shards import BIG_BODY, Record, compress_records, read_records

    body = bytes(range(256)) * (BIG_BODY * 16 // 256)
    data = compress_records([(b"raw_payload:1", b"x"), (b"raw_payload:2", body), (b"raw_payload:3", b"y")])
    tracemalloc.start()
    try:
        got = []
        for item in read_records(io.BytesIO(data)):
            assert isinstance(item, Record)
            got.append((item.id, bytes(item.body) if item.id != b"raw_payload:2" else item.body == body))
            peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert got == [(b"raw_payload:1", b"x"), (b"raw_payload:2", True), (b"raw_payload:3", b"y")]
    # the record once, and the decompressor's output buffers (a few MiB whatever the record)
    assert peak <= len(body) + (6 << 20), f"{peak / len(body):.2f}x the record at peak"


@pytest.mark.parametrize("cut", [5, shards.BIG_BODY + 7])
def test_a_big_record_cut_short_names_the_record_and_what_is_missing(cut):
    # A big body streams into a buffer of its own: a stream ending inside it is still
    # LENGTH_BEYOND, naming the record and how many bytes are missing.
    rs = recs(2) + [(b"raw_payload:3", b"b" * (shards.BIG_BODY * 3))]
    raw = b"".join(encode_record(*r) for r in rs)[:-cut]
    c = ZstdCompressor()
    got, err = read(c.compress(raw) + c.flush())
    assert len(got) == 2 and err.code == shards.LENGTH_BEYOND and err.lost_id == b"raw_payload:3"
    assert f"ends {cut} bytes short" in err.message, err.message
