"""The ``store`` layer: the v3 shard store's bytes (zstd frames, records, record headers,
shard files) and, for v1 and v2, the payload files that stand in for it."""

from __future__ import annotations

import random
import struct

from ....bundle import MANIFEST, PAYLOADS, Special
from ....model.common import ZSTD_SHARDS
from ....store.empty_blocks import FRAME_MAGIC, SKIPPABLE_MAGIC
from ....store.shards import HEADER, compress_records, encode_record
from ....store.zstd import CompressionParameter, ZstdCompressor
from ..view import records, set_records, shard_paths
from . import Mutator

GARBAGE = (b"\x00", b"\n", b" ", b"x", b"\x00" * 64, b"\xff\xfe", b"{}", FRAME_MAGIC.to_bytes(4, "little"))


def _frame(data: bytes, checksum: bool = True) -> bytes:
    comp = ZstdCompressor(options={CompressionParameter.checksum_flag: int(checksum)})
    return comp.compress(data, ZstdCompressor.FLUSH_FRAME)


def _skippable(data: bytes) -> bytes:
    return struct.pack("<II", SKIPPABLE_MAGIC, len(data)) + data


def _shard(bundle, rng: random.Random) -> str | None:
    shards = shard_paths(bundle)
    return rng.choice(shards) if shards else None


# -- v3: the shard's bytes ------------------------------------------------------------------

def truncate(bundle, rng: random.Random) -> bool:
    shard = _shard(bundle, rng)
    if not shard or not bundle.payloads[shard]:
        return False
    data = bundle.payloads[shard]
    cut = rng.choice((len(data) - 1, len(data) - 4, rng.randrange(len(data))))
    bundle.payloads[shard] = data[:max(cut, 0)]
    return True


def flip(bundle, rng: random.Random) -> bool:
    shard = _shard(bundle, rng)
    if not shard or not bundle.payloads[shard]:
        return False
    data = bytearray(bundle.payloads[shard])
    i = rng.randrange(len(data))
    data[i] ^= 1 << rng.randrange(8)
    bundle.payloads[shard] = bytes(data)
    return True


def append(bundle, rng: random.Random) -> bool:
    shard = _shard(bundle, rng)
    if not shard:
        return False
    data = bundle.payloads[shard]
    op = rng.randrange(5)
    if op == 0:
        extra = rng.choice(GARBAGE)
    elif op == 1:
        extra = _skippable(b"skip" * rng.randrange(4))
    elif op == 2:
        extra = _frame(b"")  # an empty frame
    elif op == 3:
        extra = data  # the whole shard again: every record twice
    else:
        extra = _frame(encode_record(b"raw_payload:99999", b"{}"), checksum=rng.random() < 0.5)
    bundle.payloads[shard] = data + extra
    return True


def reframe(bundle, rng: random.Random) -> bool:
    """The same records in other frames: split anywhere (a record may span frames), with or
    without checksums, skippable frames between."""
    shard = _shard(bundle, rng)
    recs = records(bundle, shard) if shard else None
    if not recs:
        return False
    stream = b"".join(encode_record(i, b) for i, b in recs)
    cuts = sorted(rng.sample(range(1, len(stream)), min(rng.randrange(1, 4), len(stream) - 1))) if len(stream) > 1 else []
    pieces = [stream[a:b] for a, b in zip([0, *cuts], [*cuts, len(stream)])]
    out = b""
    for piece in pieces:
        out += _frame(piece, checksum=rng.random() < 0.5)
        if rng.random() < 0.2:
            out += _skippable(b"")
    bundle.payloads[shard] = out
    return True


def header(bundle, rng: random.Random) -> bool:
    """A record header that lies: id or body length off by one, or past the stream."""
    shard = _shard(bundle, rng)
    recs = records(bundle, shard) if shard else None
    if not recs:
        return False
    i = rng.randrange(len(recs))
    parts = [encode_record(rid, body) for rid, body in recs]
    rid, body = recs[i]
    idlen, bodylen = len(rid), len(body)
    op = rng.randrange(5)
    if op == 0:
        bodylen += 1
    elif op == 1:
        bodylen = max(bodylen - 1, 0)
    elif op == 2:
        idlen += 1
    elif op == 3:
        bodylen = 2**64 - 1
    else:
        idlen = 0xFFFF
    parts[i] = HEADER.pack(idlen, bodylen) + rid + body
    bundle.payloads[shard] = _frame(b"".join(parts))
    return True


def record_edit(bundle, rng: random.Random) -> bool:
    """Records duplicated (same or other body), dropped, reordered or renamed."""
    shard = _shard(bundle, rng)
    recs = records(bundle, shard) if shard else None
    if not recs or shard is None:
        return False
    i = rng.randrange(len(recs))
    op = rng.randrange(6)
    if op == 0:
        recs.insert(rng.randrange(len(recs) + 1), recs[i])
    elif op == 1:
        recs.insert(rng.randrange(len(recs) + 1), (recs[i][0], b"{}"))
    elif op == 2:
        del recs[i]
    elif op == 3:
        rng.shuffle(recs)
    elif op == 4:
        recs[i] = (rng.choice((b"raw_payload:99999", b"raw_payload:01", b"", b"\xff", recs[i][0] + b" ")), recs[i][1])
    else:
        j = rng.randrange(len(recs))
        recs[i], recs[j] = (recs[i][0], recs[j][1]), (recs[j][0], recs[i][1])  # bodies swapped
    set_records(bundle, shard, recs)
    return True


def record_body(bundle, rng: random.Random) -> bool:
    """One record's body bytes: trailing bytes, a BOM, invalid UTF-8, cut short, emptied."""
    shard = _shard(bundle, rng)
    recs = records(bundle, shard) if shard else None
    if not recs or shard is None:
        return False
    i = rng.randrange(len(recs))
    rid, body = recs[i]
    recs[i] = (rid, _edit_bytes(body, rng))
    set_records(bundle, shard, recs)
    return True


def shard_file(bundle, rng: random.Random) -> bool:
    """Shard files renamed, added, emptied or removed."""
    shard = _shard(bundle, rng)
    if not shard:
        return False
    data = bundle.payloads[shard]
    second = ZSTD_SHARDS.file_for(shard=2)
    suffix = ZSTD_SHARDS.payload_suffix  # shard 1 named too narrow and too wide
    op = rng.randrange(7)
    if op == 0:
        bundle.payloads[second] = data
    elif op == 1:
        bundle.payloads[second] = b""
    elif op == 2:
        bundle.payloads[second] = compress_records([])
    elif op == 3:
        del bundle.payloads[shard]
        bundle.payloads[rng.choice((f"{PAYLOADS}/1{suffix}", f"{PAYLOADS}/0000001{suffix}", second))] = data
    elif op == 4:
        bundle.payloads[shard] = b""
    elif op == 5:
        del bundle.payloads[shard]
    else:
        bundle.payloads[f"{PAYLOADS}/junk.txt"] = b"x"
    return True


# -- v1 and v2: payload files --------------------------------------------------------------

def _edit_bytes(body: bytes, rng: random.Random) -> bytes:
    op = rng.randrange(9)
    if op == 0:
        return body + rng.choice(GARBAGE)
    if op == 1:
        return b"\xef\xbb\xbf" + body
    if op == 2:
        i = body.find(b'"', 1)
        return body[:i + 1] + b"\xff" + body[i + 1:] if i > 0 else body + b"\xff"
    if op == 3:
        return body[:rng.randrange(len(body))] if body else b"x"
    if op == 4:
        return b""
    if op == 5:
        return body + b"\n" + body  # a second JSON value
    if op == 6:
        return b" \n\t" + body + b" \r\n"
    if op == 7:
        return body + b"\x00" * rng.choice((1, 1024))
    return body.replace(b"\n", b"\r\n") + b"//"


def _file(bundle, rng: random.Random) -> str | None:
    files = sorted(p for p in bundle.payloads if not p.endswith(ZSTD_SHARDS.payload_suffix))
    return rng.choice(files) if files else None


def file_bytes(bundle, rng: random.Random) -> bool:
    path = _file(bundle, rng)
    if not path:
        return False
    bundle.payloads[path] = _edit_bytes(bundle.payloads[path], rng)
    return True


def file_entry(bundle, rng: random.Random) -> bool:
    """A payload file removed, renamed, duplicated, replaced by a directory or a symlink."""
    path = _file(bundle, rng)
    if not path:
        return False
    op = rng.randrange(6)
    data = bundle.payloads[path]
    if op == 0:
        del bundle.payloads[path]
    elif op == 1:
        bundle.payloads[f"{PAYLOADS}/99999.json"] = data
    elif op == 2:
        del bundle.payloads[path]
        bundle.specials[path] = Special("dir")
    elif op == 3:
        other = _file(bundle, rng)
        if other is None or other == path:
            return False
        del bundle.payloads[path]
        bundle.specials[path] = Special("symlink", other.rsplit("/", 1)[-1])  # to a payload beside it
    elif op == 4:
        del bundle.payloads[path]
        bundle.specials[path] = Special("symlink", f"../{MANIFEST}")
    else:
        bundle.payloads[f"{PAYLOADS}/junk.txt"] = b"not json"
    return True


MUTATORS = [
    Mutator("store.truncate", "store", truncate, store=True),
    Mutator("store.flip", "store", flip, store=True),
    Mutator("store.append", "store", append, store=True),
    Mutator("store.reframe", "store", reframe, store=True),
    Mutator("store.header", "store", header, store=True),
    Mutator("store.record", "store", record_edit, store=True, weight=2),
    Mutator("store.record_body", "store", record_body, store=True, weight=2),
    Mutator("store.shard_file", "store", shard_file, store=True),
    Mutator("store.file_bytes", "store", file_bytes, store=False, weight=3),
    Mutator("store.file_entry", "store", file_entry, store=False),
]
