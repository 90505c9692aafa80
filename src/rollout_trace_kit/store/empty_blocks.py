"""A compressed zstd block of size 0, read as libzstd 1.5 reads it, whatever libzstd the kit links.

libzstd up to 1.5.7 (the library Codex links: its binaries hold none of 1.6.0's new error
messages) decodes any block whose size field is 0 as an empty block, whatever its type says.
libzstd 1.6.0 (backports.zstd 1.8.1 on) refuses a *compressed* one ("Data corruption detected").
Codex's reducer therefore accepts a shard the newer library refuses. The shard reader, when the
linked library refuses such a block (:data:`REFUSES_EMPTY_COMPRESSED`, measured at import), reads
a refused shard again through :class:`EmptyBlocksAsRaw`, which hands zstd such a block as the
raw empty block it decodes to. A one-off differential run of the shard reader under the two
libraries (session 15, a script not shipped: 50,000 mutated shards, bit flips aimed at frame and
block headers) found this rule and no other; the codex tier's differential run is the lasting check.
"""

from __future__ import annotations

import re

from typing import BinaryIO

from .zstd import ZstdDecompressor, ZstdError

FRAME_MAGIC = 0xFD2FB528
SKIPPABLE_MAGIC = 0x184D2A50  # the low 4 bits are free
SKIPPABLE_MASK = 0xFFFFFFF0
RLE, COMPRESSED = 1, 2  # Block_Type values (0 is raw)
# Headers the rewriter reads (about a microsecond each) before it passes the rest as is. Codex
# flushes a block per record, so its shards hold as many blocks as records (Limits.max_records
# caps those alike); a hostile shard of a billion 3-byte blocks would otherwise take an hour.
MAX_HEADERS = 1 << 20


# Block headers of empty blocks that are not a frame's last, raw (0) or compressed (2 << 1): a
# hostile shard holds millions of them, which one at a time take about a microsecond each.
_EMPTY_RUN = re.compile(rb"(?:[\x00\x04]\x00\x00)+")


def _header_size(descriptor: int) -> int:
    """Bytes of a frame header after the magic number, from its Frame_Header_Descriptor."""
    single_segment = (descriptor >> 5) & 1
    content_size = (1 if single_segment else 0, 2, 4, 8)[descriptor >> 6]
    return 1 + (0 if single_segment else 1) + (0, 1, 2, 4)[descriptor & 3] + content_size


class EmptyBlocksAsRaw:
    """A reader of a zstd stream (``read(n)``) that rewrites the header of each compressed block
    of size 0 to a raw block of size 0 (its Last_Block bit kept); every other byte passes as is.

    It walks frame and block headers only (payloads are counted past, never held); bytes after
    something that is no frame, or after ``max_headers`` headers, pass as they are."""

    def __init__(self, f: BinaryIO, max_headers: int = MAX_HEADERS):
        self._f = f
        self._headers_left = max_headers
        self._buf = bytearray()  # read, not yet handed on: at most one header's bytes after a scan
        self._skip = 0  # bytes to pass before the next header
        self._state = "frame"  # the next header: "frame", "block", or "none" (pass the rest)
        self._checksum = False  # the current frame ends with a 4-byte checksum
        self._eof = False

    def read(self, n: int = -1, /) -> bytes:
        while True:
            out = self._scan()
            if out or self._eof:
                return out
            data = self._f.read(n if n > 0 else 1 << 20)
            if not data:
                self._eof = True
                out, self._buf = bytes(self._buf), bytearray()
                return out
            self._buf += data

    def _scan(self) -> bytes:
        buf, p = self._buf, 0
        while True:
            if self._skip:
                step = min(self._skip, len(buf) - p)
                p += step
                self._skip -= step
                if self._skip:
                    break
            if self._state == "none" or not self._headers_left:
                p = len(buf)
                break
            if self._state == "frame":
                if len(buf) - p < 5:
                    break
                magic = int.from_bytes(buf[p:p + 4], "little")
                if magic == FRAME_MAGIC:
                    descriptor = buf[p + 4]
                    self._checksum = bool((descriptor >> 2) & 1)
                    self._skip, self._state = 4 + _header_size(descriptor), "block"
                elif magic & SKIPPABLE_MASK == SKIPPABLE_MAGIC:
                    if len(buf) - p < 8:
                        break
                    self._skip = 8 + int.from_bytes(buf[p + 4:p + 8], "little")
                else:
                    self._state = "none"
                self._headers_left -= 1
                continue
            if len(buf) - p < 3:  # a block header
                break
            run = _EMPTY_RUN.match(buf, p, min(len(buf), p + 3 * self._headers_left))
            if run is not None:  # empty blocks before the last, one after another: all at once, in C
                end = run.end()
                buf[p:end] = bytes(end - p)  # each a raw block of size 0 that is not the last
                self._headers_left -= (end - p) // 3
                p = end
                continue
            header = int.from_bytes(buf[p:p + 3], "little")
            self._headers_left -= 1
            last, kind, size = header & 1, (header >> 1) & 3, header >> 3
            if kind == COMPRESSED and size == 0:
                buf[p] = last  # raw, size 0: the same Last_Block bit
            self._skip = 3 + (1 if kind == RLE else size)  # an RLE block's payload is one byte
            if last:
                self._skip += 4 if self._checksum else 0
                self._state = "frame"
        out = bytes(buf[:p])
        del buf[:p]
        return out


def _refuses_empty_compressed() -> bool:
    """Whether the linked libzstd refuses a frame whose only block is compressed and empty."""
    frame = FRAME_MAGIC.to_bytes(4, "little") + bytes((0x00, 0x00)) + bytes((1 | COMPRESSED << 1, 0, 0))
    try:
        ZstdDecompressor().decompress(frame)
    except ZstdError:
        return True
    return False


REFUSES_EMPTY_COMPRESSED = _refuses_empty_compressed()
