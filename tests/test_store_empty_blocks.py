"""A compressed zstd block of size 0 reads as the empty block Codex's libzstd (1.5) reads it as,
whichever libzstd the kit links (1.6.0 refuses it: the kit then reads the shard once more)."""

from __future__ import annotations

import io
import struct

import pytest

from rollout_trace_kit.store.empty_blocks import FRAME_MAGIC, EmptyBlocksAsRaw
from rollout_trace_kit.store.shards import ShardError, compress_records, read_record_batches, read_records

from .test_store_shards import read, recs

EMPTY_COMPRESSED = bytes((2 << 1, 0, 0))  # Block_Type compressed, Block_Size 0, not last
EMPTY_COMPRESSED_LAST = bytes((1 | 2 << 1, 0, 0))


def _frame(*blocks: bytes, checksum: bytes | None = None) -> bytes:
    """A frame of the given block bytes (header + payload each): window 1 KiB, no content size."""
    descriptor = 0x04 if checksum is not None else 0x00
    return struct.pack("<IBB", FRAME_MAGIC, descriptor, 0x00) + b"".join(blocks) + (checksum or b"")


def _raw(data: bytes, last: bool = False) -> bytes:
    return (int(last) | len(data) << 3).to_bytes(3, "little") + data


def _rle(byte: bytes, size: int, last: bool = False) -> bytes:
    return (int(last) | 1 << 1 | size << 3).to_bytes(3, "little") + byte


def _last_block(data: bytes) -> int:
    """The offset of the last block header of a one-frame, checksummed shard the kit's writer wrote
    (its empty raw last block: the writer flushes a block per record, then ends the frame)."""
    assert data[-7:-4] == bytes((1, 0, 0))
    return len(data) - 7


def test_an_empty_compressed_last_block_reads_as_the_empty_block():
    rs = recs(40)
    data = bytearray(compress_records(rs))
    data[_last_block(data)] = EMPTY_COMPRESSED_LAST[0]
    got, err = read(bytes(data))
    assert err is None and [(r.id, r.body) for r in got] == rs


@pytest.mark.parametrize("chunk", [64, 1 << 20])
def test_an_empty_compressed_block_mid_frame_loses_and_repeats_no_record(chunk):
    rs = recs(60)
    data = compress_records(rs)
    pos = 6  # past magic, descriptor and window (the writer's frames have no content size)
    while pos < len(data) // 2:  # to a block boundary past the middle, header by header
        header = int.from_bytes(data[pos:pos + 3], "little")
        pos += 3 + (1 if (header >> 1) & 3 == 1 else header >> 3)
    mutated = data[:pos] + EMPTY_COMPRESSED + data[pos:]
    got = [item for batch in read_record_batches(io.BytesIO(mutated), chunk=chunk) for item in batch]
    assert not any(isinstance(i, ShardError) for i in got)
    assert [(r.id, r.body) for r in got] == rs


def test_other_corruption_is_still_refused_once(monkeypatch):
    from rollout_trace_kit.store import shards

    monkeypatch.setattr(shards, "REFUSES_EMPTY_COMPRESSED", True)  # the second reading, under libzstd 1.5 too
    data = bytearray(compress_records(recs(20)))
    data[_last_block(data)] = EMPTY_COMPRESSED_LAST[0]
    data[len(data) // 2] ^= 0xFF  # a flipped byte in a record's block too
    items = list(read_records(io.BytesIO(bytes(data)), chunk=64))
    errors = [i for i in items if isinstance(i, ShardError)]
    assert len(errors) == 1 and items[-1] is errors[0]
    ids = [i.id for i in items if not isinstance(i, ShardError)]
    assert len(ids) == len(set(ids))  # the second reading yields no record twice


def test_the_rewriting_reader_changes_those_headers_and_nothing_else():
    skippable = struct.pack("<II", 0x184D2A53, 5) + EMPTY_COMPRESSED + b"ab"  # its content is not a block
    one = _frame(_raw(b"hello"), _rle(b"x", 100), EMPTY_COMPRESSED, _raw(EMPTY_COMPRESSED), EMPTY_COMPRESSED_LAST,
                 checksum=EMPTY_COMPRESSED + b"\x00")  # neither a raw block's payload nor the checksum is a header
    two = _frame(_rle(b"\x04", 3), EMPTY_COMPRESSED_LAST)
    garbage = EMPTY_COMPRESSED * 3  # no frame: passed unread
    stream = skippable + one + two + garbage
    want = bytearray(stream)
    headers = [len(skippable) + 6 + 8 + 4, len(skippable) + 6 + 8 + 4 + 3 + 3 + 3,
               len(skippable) + len(one) + 6 + 4]
    for at, last in zip(headers, (0, 1, 1)):
        assert stream[at:at + 3] in (EMPTY_COMPRESSED, EMPTY_COMPRESSED_LAST)
        want[at] = last
    for n in (1, 2, 7, 4096):
        reader, out = EmptyBlocksAsRaw(io.BytesIO(stream)), b""
        while piece := reader.read(n):
            out += piece
        assert out == bytes(want), n


def test_a_hand_built_frame_with_empty_compressed_blocks_decodes():
    from rollout_trace_kit.store.shards import encode_record

    record = encode_record(b"raw_payload:1", b"{}")
    data = _frame(_raw(record[:5]), EMPTY_COMPRESSED, _raw(record[5:]), EMPTY_COMPRESSED_LAST)
    got, err = read(data)
    assert err is None and [(r.id, r.body) for r in got] == [(b"raw_payload:1", b"{}")]


def test_the_rewriter_stops_after_its_cap_of_headers():
    """A shard of very many tiny blocks costs the rewriter a bounded number of header reads."""
    stream = _frame(*[EMPTY_COMPRESSED] * 5, EMPTY_COMPRESSED_LAST)
    reader = EmptyBlocksAsRaw(io.BytesIO(stream), max_headers=4)  # the frame header and 3 blocks
    out = reader.read(1 << 20) + reader.read(1 << 20)
    assert out == stream.replace(EMPTY_COMPRESSED * 3, bytes(9), 1)


def test_a_shard_read_from_the_middle_of_a_file_is_read_again_from_there():
    rs = recs(10)
    data = bytearray(compress_records(rs))
    data[_last_block(data)] = EMPTY_COMPRESSED_LAST[0]
    f = io.BytesIO(b"PREFIX" + bytes(data))
    f.seek(6)
    got = list(read_records(f, chunk=64))
    assert [(r.id, r.body) for r in got] == rs


@pytest.mark.parametrize("cap", [2, 7, 1000, 1 << 20])
def test_runs_of_empty_blocks_are_rewritten_as_one_at_a_time(cap, monkeypatch):
    """Empty blocks one after another (raw or compressed, before the last) are rewritten all at once;
    the bytes are those of one header at a time, whatever the reads' sizes and the cap of headers."""
    import re

    from rollout_trace_kit.store import empty_blocks

    raw_empty = bytes(3)
    blocks = [EMPTY_COMPRESSED] * 5 + [raw_empty, EMPTY_COMPRESSED, _raw(b"ab"), _rle(b"z", 9)] + [raw_empty] * 4
    stream = _frame(*blocks, *[EMPTY_COMPRESSED] * 300, EMPTY_COMPRESSED_LAST) + _frame(EMPTY_COMPRESSED_LAST)

    def rewritten(n: int) -> bytes:
        reader, out = EmptyBlocksAsRaw(io.BytesIO(stream), max_headers=cap), b""
        while piece := reader.read(n):
            out += piece
        return out

    at_once = {n: rewritten(n) for n in (1, 4, 100, 1 << 20)}
    monkeypatch.setattr(empty_blocks, "_EMPTY_RUN", re.compile(rb"(?!)"))  # no run: one header at a time
    for n, out in at_once.items():
        assert out == rewritten(n), n
    if cap == 1 << 20:
        assert EMPTY_COMPRESSED not in at_once[4][:-12]  # every one rewritten (the two last blocks keep their bit)
