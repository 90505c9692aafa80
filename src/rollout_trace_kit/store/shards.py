"""Schema-3 payload shards: zstd frames around a stream of records.

A decompressed shard is records back to back, each ``u16`` LE id length,
``u64`` LE body length, the id bytes, the body bytes. The reader streams a
shard one record at a time: memory is bounded by one record body (capped),
a decompression bomb or a huge declared length ends in a :class:`ShardError`
value, never in an exception or an out-of-memory.

The writer appends records the way Codex 0.171.0 does: one frame per shard
(checksummed), a block flushed after every record so a crash loses at most
the record being written, and a new shard once the next record would take
the current one past the rotation size.
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Iterator, Protocol, Union, cast

import msgspec
from msgspec.structs import replace

from ..model.common import ZSTD_SHARDS
from .empty_blocks import REFUSES_EMPTY_COMPRESSED, EmptyBlocksAsRaw
from .zstd import CompressionParameter, ZstdCompressor, ZstdDecompressor, ZstdError

# A record's header: its length fields as the model's layout states them (id length, body length).
_LENGTH_CODES = {"u16le": "H", "u64le": "Q"}
_LENGTHS = tuple(f for f in ZSTD_SHARDS.record if f.length_of)
HEADER = struct.Struct("<" + "".join(_LENGTH_CODES[f.type] for f in _LENGTHS))
HEADER_SIZE = HEADER.size  # 10
MAX_ID_LENGTH = (1 << 8 * struct.calcsize("<" + _LENGTH_CODES[_LENGTHS[0].type])) - 1  # what the id length can say

# Error codes of ShardError (the validator maps each to an invariant).
FRAME_CORRUPT = "frame_corrupt"  # zstd refused the data (bad magic, bad block, checksum mismatch)
TRAILING_GARBAGE = "trailing_garbage"  # bytes after the last complete frame that are no frame
FRAME_TRUNCATED = "frame_truncated"  # the file ends inside a frame (no end of frame / checksum)
HEADER_CUT = "header_cut"  # a complete stream ends inside a record header
LENGTH_BEYOND = "length_beyond"  # a record's id or body runs past the end of the stream
ID_TOO_LONG = "id_too_long"  # id length over the reader's cap
SHARD_TOO_LARGE = "shard_too_large"  # decompressed bytes over the reader's cap (a bomb)
TOO_MANY_FRAMES = "too_many_frames"  # frames over the reader's cap (each costs a decompressor)
TOO_MANY_RECORDS = "too_many_records"  # records over the reader's cap (each costs time and a little memory)
UNREADABLE = "unreadable"  # an OSError while reading
_REFUSED = (FRAME_CORRUPT, TRAILING_GARBAGE)  # what zstd's refusal is reported as


@dataclass(frozen=True)
class Limits:
    """Caps on what one shard may make the reader hold or produce."""

    max_shard_bytes: int = 4 << 30  # decompressed bytes of one shard
    max_record_bytes: int = 256 << 20  # one record body held in memory; bigger ones are skipped
    max_id_bytes: int = 1024  # writers write `raw_payload:N`; a u16 allows 64 KiB
    # Writers write one frame per shard. Each frame costs a fresh decompressor (~70 us), so
    # a file of millions of empty or skippable frames would take hours without this cap.
    max_frames: int = 1024
    # Codex shards (8 MiB) hold thousands of records; a 1 GiB shard of empty ones would hold
    # ~50 million, each costing the reader microseconds and its caller an index entry.
    max_records: int = 1 << 20


class Record(msgspec.Struct, gc=False):  # made in C, not by a dataclass's __init__ in Python: one per record read
    id: bytes
    body: bytes | bytearray | None  # None: over Limits.max_record_bytes (skipped, not held); a bytearray from BIG_BODY on
    offset: int  # decompressed offset of the record header
    length: int  # declared body length


@dataclass(frozen=True)
class ShardError:
    code: str
    message: str
    offset: int  # decompressed offset of the record concerned (or of the end of the stream)
    lost_id: bytes | None = None  # id of the record cut short, when its id was complete
    compressed_offset: int | None = None  # where in the file, for frame errors


Item = Union[Record, ShardError]


class Readable(Protocol):
    def read(self, n: int = -1, /) -> bytes: ...


def encode_record(rid: bytes, body: bytes) -> bytes:
    """One record as it sits in the decompressed stream."""
    return HEADER.pack(len(rid), len(body)) + rid + body


def shard_name(n: int) -> str:
    """The file name of shard ``n`` (zero-padded to 6 digits, wider when it must be)."""
    return ZSTD_SHARDS.shard_name(n)


# A body from this size on is copied once into a buffer of its exact size as it streams in,
# so the reader holds it once (not in its working buffer, a slice and a copy: 3x).
BIG_BODY = 1 << 20


class _Parser:
    """Cuts a decompressed byte stream into records; holds at most one record."""

    def __init__(self, limits: Limits):
        self.limits = limits
        self.buf = bytearray()
        self.base = 0  # stream offset of buf[0]
        self.skip = 0  # body bytes still to discard (or to fill) of the record in `skipped`
        self.skipped: Record | None = None
        self.fill: bytearray | None = None  # the big body being filled (skip bytes still to come)
        self.total = 0
        self.records = 0

    def _too_many(self, offset: int) -> ShardError | None:
        """Count one more record; past the cap, the error that stops the reader."""
        self.records += 1
        if self.records <= self.limits.max_records:
            return None
        return ShardError(
            TOO_MANY_RECORDS,
            f"holds more than {self.limits.max_records} records (the reader's cap); reading stopped at offset {offset}",
            offset,
        )

    def feed(self, out: bytes) -> list[Item]:
        """The records ``out`` completes, in order; a ShardError ends the list (and the stream).
        A list, not a generator: each record then costs an append, not a generator's resumption
        at each level of the readers that relay it."""
        items: list[Item] = []
        self.total += len(out)
        if self.total > self.limits.max_shard_bytes:
            items.append(ShardError(
                SHARD_TOO_LARGE,
                f"decompresses to more than {self.limits.max_shard_bytes} bytes (the reader's cap); "
                "reading stopped",
                self.total,
            ))
            return items
        if self.skip:
            n = min(self.skip, len(out))
            fill = self.fill
            if fill is not None:
                at = len(fill) - self.skip
                with memoryview(out) as view:
                    fill[at : at + n] = view[:n]
            self.skip -= n
            self.base += n
            out = out[n:]
            if self.skip:
                return items
            assert self.skipped is not None  # set together with skip
            stop = self._too_many(self.skipped.offset)
            if stop:
                items.append(stop)
                return items
            done = self.skipped if fill is None else replace(self.skipped, body=fill)
            self.skipped = self.fill = None
            items.append(done)
        buf = self.buf
        data: bytes | bytearray
        if buf and len(buf) > len(out):
            buf += out  # a record longer than a block, filled piece by piece (no copy of the whole per piece)
            data = buf
        elif buf:
            # The start of a record held over: one bytes object of it and the block (one copy of at
            # most twice the block), whose slices are then bytes already, as below. Cutting every
            # record of the block from a bytearray would copy each twice.
            data = bytes(buf) + out
            buf.clear()
        else:  # nothing held over: records are cut from ``out`` itself, each copied once (not twice)
            data = out
        copy = data.__class__ is bytearray
        plain = cast(bytes, data)  # what data is when not copy
        pos, end_of_data = 0, len(data)
        unpack = HEADER.unpack_from
        max_id, max_body, max_records = self.limits.max_id_bytes, self.limits.max_record_bytes, self.limits.max_records
        append = items.append
        while end_of_data - pos >= HEADER_SIZE:
            idl, bl = unpack(data, pos)
            if idl > max_id:
                items.append(ShardError(
                    ID_TOO_LONG,
                    f"record at offset {self.base + pos} declares an id of {idl} bytes "
                    f"(the reader's cap is {max_id})",
                    self.base + pos,
                ))
                return items
            id_end = pos + HEADER_SIZE + idl
            if id_end > end_of_data:
                break
            if bl > max_body:
                rid = bytes(data[pos + HEADER_SIZE : id_end])
                rec = Record(rid, None, self.base + pos, bl)
                have = end_of_data - id_end
                if have >= bl:
                    pos = id_end + bl
                    stop = self._too_many(rec.offset)
                    items.append(stop or rec)
                    if stop:
                        return items
                    continue
                self.skip, self.skipped = bl - have, rec
                self.base += end_of_data
                buf.clear()
                return items
            body_end = id_end + bl
            if bl >= BIG_BODY:
                rec = Record(bytes(data[pos + HEADER_SIZE : id_end]), None, self.base + pos, bl)
                fill = bytearray(bl)
                have = min(end_of_data - id_end, bl)
                with memoryview(data) as view:
                    fill[:have] = view[id_end : id_end + have]
                if have < bl:  # the rest streams in (see the top)
                    self.skip, self.skipped, self.fill = bl - have, rec, fill
                    self.base += end_of_data
                    buf.clear()
                    return items
                stop = self._too_many(rec.offset)
                if stop:
                    items.append(stop)
                    return items
                items.append(replace(rec, body=fill))
                pos = body_end
                continue
            if body_end > end_of_data:
                break
            if self.records >= max_records:  # _too_many's test first, inline (a hot loop)
                stop = self._too_many(self.base + pos)
                if stop:
                    items.append(stop)
                    return items
            else:
                self.records += 1
            if copy:
                append(Record(bytes(data[pos + HEADER_SIZE : id_end]), bytes(data[id_end:body_end]), self.base + pos, bl))
            else:  # data is bytes: its slices are bytes already
                append(Record(plain[pos + HEADER_SIZE : id_end], plain[id_end:body_end], self.base + pos, bl))
            pos = body_end
        if copy:
            if pos:
                del buf[:pos]
        elif pos < end_of_data:
            buf += data[pos:]  # the start of a record the next block ends
        self.base += pos
        return items


    def finish(self, sealed: bool, cut_message: str) -> ShardError | None:
        """The end of the stream: None if it ended on a record boundary and the frame was complete."""
        end = self.base + len(self.buf)
        lost, at = None, end
        if self.skipped is not None:
            lost, at = self.skipped.id, self.skipped.offset
            what = (
                f"record {_show(lost)} at offset {at} declares {self.skipped.length} body bytes, "
                f"but the stream ends {self.skip} bytes short"
            )
            code = LENGTH_BEYOND
        elif self.buf:
            at = self.base
            if len(self.buf) < HEADER_SIZE:
                code = HEADER_CUT
                what = f"the stream ends {len(self.buf)} bytes into the header of a record at offset {at}"
            else:
                idl, bl = HEADER.unpack_from(self.buf, 0)
                if len(self.buf) >= HEADER_SIZE + idl:
                    lost = bytes(self.buf[HEADER_SIZE : HEADER_SIZE + idl])
                code = LENGTH_BEYOND
                what = (
                    f"record {_show(lost)}at offset {at} declares a "
                    f"{idl}-byte id and {bl} body bytes, but only {len(self.buf) - HEADER_SIZE} bytes follow its header"
                )
        elif sealed:
            return None
        else:
            return ShardError(FRAME_TRUNCATED, cut_message + "; every record before the cut is complete", end)
        if not sealed:
            return ShardError(FRAME_TRUNCATED, f"{cut_message}; {what}", at, lost)
        return ShardError(code, what, at, lost)


def _show(rid: bytes | None) -> str:
    if rid is None:
        return ""
    return repr(rid.decode("utf-8", "replace")) + " "


def read_records(f: BinaryIO, limits: Limits = Limits(), chunk: int = 1 << 20) -> Iterator[Item]:
    """Yield the records of one shard file in order; a ShardError, if any, comes last.
    (:func:`read_record_batches`, one record at a time.)"""
    for batch in read_record_batches(f, limits, chunk):
        yield from batch


def read_record_batches(f: BinaryIO, limits: Limits = Limits(), chunk: int = 1 << 20) -> Iterator[list[Item]]:
    """Yield the records of one shard file in order, as the lists each decompressed piece
    completes (a hot loop then iterates lists, not generators); a ShardError, if any, comes last.

    Frames follow each other (skippable frames are skipped, as zstd does); a
    record may span frames. ``f`` is read in ``chunk``-byte pieces and each
    decompression call produces at most ``chunk`` bytes.

    A shard the linked libzstd refuses is read once more, as libzstd 1.5 (Codex's) reads it,
    when the library is one that refuses empty compressed blocks (:mod:`.empty_blocks`); the
    records already yielded are not yielded again.
    """
    start = _tell(f)
    yielded = 0
    for batch in _read_batches(f, limits, chunk):
        last = batch[-1]
        if (isinstance(last, ShardError) and last.code in _REFUSED and REFUSES_EMPTY_COMPRESSED
                and start is not None and _rewind(f, start)):
            # the items before the refusal (its batch holds the error alone) were yielded already
            yield from _skip_items(_read_batches(EmptyBlocksAsRaw(f), limits, chunk), yielded + len(batch) - 1)
            return
        yielded += len(batch)
        yield batch


def _tell(f: BinaryIO) -> int | None:
    try:
        return f.tell() if f.seekable() else None
    except (OSError, ValueError, AttributeError):
        return None


def _rewind(f: BinaryIO, start: int) -> bool:
    try:
        f.seek(start)
    except (OSError, ValueError):
        return False
    return True


def _skip_items(batches: Iterator[list[Item]], n: int) -> Iterator[list[Item]]:
    for batch in batches:
        if n >= len(batch):
            n -= len(batch)
            continue
        yield batch[n:]
        n = 0


def _read_batches(f: Readable, limits: Limits, chunk: int) -> Iterator[list[Item]]:
    parser = _Parser(limits)
    dec = ZstdDecompressor()
    frames = 0
    started = False  # the current decompressor has been given input
    data = b""
    consumed = 0  # compressed bytes handed to decompressors
    frame_start = 0
    while True:
        if dec.eof:
            frames += 1
            data = dec.unused_data
            consumed -= len(data)
            frame_start = consumed
            dec, started = ZstdDecompressor(), False
        if not data and dec.needs_input:
            if consumed > limits.max_shard_bytes:
                # Compressed bytes never outgrow their content by much: past the cap, the file is
                # skippable frames or padding (a sparse 4 GiB skippable frame reads for seconds).
                yield [ShardError(
                    SHARD_TOO_LARGE,
                    f"is more than {limits.max_shard_bytes} bytes on disk (the reader's cap); reading stopped",
                    parser.total, None, consumed,
                )]
                return
            try:
                data = f.read(chunk)
            except OSError as e:
                yield [ShardError(UNREADABLE, f"cannot be read: {e.strerror}", parser.total, None, consumed)]
                return
            if not data:
                break
        if not started and frames >= limits.max_frames:
            yield [ShardError(
                TOO_MANY_FRAMES,
                f"holds more than {limits.max_frames} zstd frames (the reader's cap; writers write one per "
                f"shard); reading stopped at byte {frame_start}",
                parser.total,
                None,
                frame_start,
            )]
            return
        try:
            out = dec.decompress(data, chunk)
        except ZstdError as e:
            if not started and frames:
                yield [ShardError(
                    TRAILING_GARBAGE,
                    f"{frames} complete frame(s) end at byte {frame_start}, then come bytes that are "
                    f"not a zstd frame ({e})",
                    parser.total,
                    None,
                    frame_start,
                )]
            else:
                yield [ShardError(
                    FRAME_CORRUPT,
                    f"zstd cannot decompress frame {frames + 1} (starting at byte {frame_start}): {e}",
                    parser.total,
                    None,
                    frame_start,
                )]
            return
        consumed += len(data)
        started = started or bool(data)
        data = b""
        if out:
            items = parser.feed(out)
            if items:
                yield items
                if isinstance(items[-1], ShardError):
                    return
    sealed = not started or dec.eof
    problem = parser.finish(
        sealed, f"the file ends inside frame {frames + 1} (at byte {consumed}, no end of frame)"
    )
    if problem is not None:
        yield [problem]


def iter_shard(path: str | Path, limits: Limits = Limits()) -> Iterator[Item]:
    """:func:`read_records` on a path (regular files only: anything else is UNREADABLE)."""
    for batch in iter_shard_batches(path, limits):
        yield from batch


def iter_shard_batches(path: str | Path, limits: Limits = Limits()) -> Iterator[list[Item]]:
    """:func:`read_record_batches` on a path (regular files only: anything else is UNREADABLE)."""
    from ..files import open_regular

    try:
        f = open_regular(path)
    except OSError as e:
        yield [ShardError(UNREADABLE, f"cannot be opened: {e.strerror or e}", 0)]
        return
    with f:
        yield from read_record_batches(f, limits)


# -- writing --------------------------------------------------------------------------

ROTATE_BYTES = 8 << 20  # measured on 0.171.0: a shard closes before a record would take it past 8 MiB
ZSTD_LEVEL = 3  # the zstd crate's default level
WINDOW_LOG = 23  # 8 MiB window: with level 3 and a block flush per record, Codex's shards byte for byte


def _compressor(level: int, checksum: bool) -> ZstdCompressor:
    return ZstdCompressor(
        options={
            CompressionParameter.compression_level: level,
            CompressionParameter.checksum_flag: int(checksum),
            CompressionParameter.window_log: WINDOW_LOG,
        }
    )


class ShardWriter:
    """Appends records to one open shard file: one frame, a block flushed after each record."""

    def __init__(self, f: BinaryIO, level: int = ZSTD_LEVEL, checksum: bool = True):
        self.f = f
        self.comp = _compressor(level, checksum)
        self.size = 0  # decompressed bytes written
        self.records = 0

    def append(self, rid: bytes, body: bytes) -> None:
        data = encode_record(rid, body)
        self.f.write(self.comp.compress(data, ZstdCompressor.FLUSH_BLOCK))
        self.f.flush()
        self.size += len(data)
        self.records += 1

    def seal(self) -> None:
        """End the frame (its checksum): the shard is complete."""
        self.f.write(self.comp.flush(ZstdCompressor.FLUSH_FRAME))
        self.f.flush()


class StoreWriter:
    """The payload store of one bundle: ``payloads/000001.zst`` and on, rotated by size."""

    def __init__(self, directory: str | os.PathLike, rotate_bytes: int = ROTATE_BYTES, level: int = ZSTD_LEVEL):
        self.dir = Path(directory)
        self.rotate_bytes = rotate_bytes
        self.level = level
        self.shard = 0
        self.current: ShardWriter | None = None
        self._file: BinaryIO | None = None

    def append(self, rid: bytes, body: bytes) -> int:
        """Write one record; return the number of the shard that holds it."""
        framed = HEADER_SIZE + len(rid) + len(body)
        cur = self.current
        if cur is None or (cur.records and cur.size + framed > self.rotate_bytes):
            cur = self._open_next()
        cur.append(rid, body)
        return self.shard

    def _open_next(self) -> ShardWriter:
        self.close()
        self.shard += 1
        self.dir.mkdir(parents=True, exist_ok=True)
        self._file = open(self.dir / shard_name(self.shard), "wb")
        self.current = ShardWriter(self._file, self.level)
        return self.current

    def close(self) -> None:
        if self.current is not None:
            self.current.seal()
            assert self._file is not None  # opened with current
            self._file.close()
            self.current = self._file = None


def plan_shards(sizes: list[int], rotate_bytes: int = ROTATE_BYTES) -> list[int]:
    """The shard number (from 1) of each record of framed size ``sizes[i]``, as the writer rotates."""
    out, shard, used = [], 0, 0
    for size in sizes:
        if shard == 0 or (used and used + size > rotate_bytes):
            shard, used = shard + 1, 0
        used += size
        out.append(shard)
    return out


def compress_records(records: list[tuple[bytes, bytes]], level: int = ZSTD_LEVEL, checksum: bool = True) -> bytes:
    """A whole shard file in memory, as ShardWriter writes it (generators, tests)."""
    comp = _compressor(level, checksum)
    parts = [comp.compress(encode_record(rid, body), ZstdCompressor.FLUSH_BLOCK) for rid, body in records]
    parts.append(comp.flush(ZstdCompressor.FLUSH_FRAME))
    return b"".join(parts)
