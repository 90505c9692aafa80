"""Corruptions of the v3 payload store: zstd shards of records, and the refs into them.

Shards are decoded into records, edited, and re-encoded the way Codex writes
them (store.shards.compress_records), or their compressed bytes are cut or
spoiled directly. A record referenced once (not a model_item, which prompts
share) is the usual target, so a broken record breaks one ref only.
"""

from __future__ import annotations

import io

from ..bundle import PAYLOADS
from ..bundle import Special
from ..model.types import STORE_ZSTD_SHARDS
from ..validate.rules.store import MAX_SHARD_BYTES
from ..store.shards import HEADER, ZSTD_LEVEL, compress_records, encode_record, read_records
from ._edit import Editor
from ._ops_common import pick, refs, result
from .corruptions import corruption

Records = list[tuple[bytes, bytes]]  # (id, body) of each record of a shard, in order


class Store:
    """The shards of a bundle being edited, decoded on demand."""

    def __init__(self, ed: Editor):
        self.ed = ed
        self.layout = ed.layout
        self._records: dict[str, Records] = {}

    def rel(self, shard: int) -> str:
        return self.layout.file_for(shard=shard)

    def number(self, rel: str) -> int | None:
        """``n`` when ``rel`` is the layout's file of shard n, else None."""
        stem = rel.rpartition("/")[2].partition(".")[0]
        if not (stem.isascii() and stem.isdigit()):
            return None
        n = int(stem)
        return n if self.rel(n) == rel else None

    def shards(self) -> list[str]:
        return sorted(r for r in self.ed.bundle.payloads if self.number(r) is not None)

    def pick_shard(self, rnd) -> str | None:
        return pick(rnd, self.shards())

    def records(self, rel: str) -> Records:
        """The shard's records (a copy to edit and ``put`` back)."""
        if rel not in self._records:
            self._records[rel] = [(r.id, bytes(r.body)) for r in read_records(io.BytesIO(self.ed.bundle.payloads[rel]))
                                  if not hasattr(r, "code") and r.body is not None]  # a body over the read cap is not kept
        return list(self._records[rel])

    def put(self, rel: str, records: Records) -> None:
        """The shard holds these records, written as Codex writes them."""
        self._records[rel] = records
        self.ed.bundle.payloads[rel] = compress_records(records)

    def put_stream(self, rel: str, raw: bytes) -> None:
        """The shard holds this decompressed stream, compressed as Codex does (one sealed frame)."""
        from ..store.shards import _compressor
        from ..store.zstd import ZstdCompressor

        c = _compressor(ZSTD_LEVEL, True)
        self.ed.bundle.payloads[rel] = c.compress(raw, ZstdCompressor.FLUSH_BLOCK) + c.flush(ZstdCompressor.FLUSH_FRAME)

    def lines_using(self, rel: str) -> list[int]:
        """Lines of the refs that name this shard."""
        n = self.number(rel)
        return [i for i, _, ref in refs(self.ed) if ref.get("shard") == n]

    def users(self) -> dict[tuple[int, str], list]:
        out: dict = {}
        for i, pointer, ref in refs(self.ed):
            if "shard" in ref:  # an omitted payload's ref uses no record
                out.setdefault((ref["shard"], ref["raw_payload_id"]), []).append((i, pointer, ref))
        return out

    def owned(self, *, kinds=None):
        """(line, pointer, ref) of top-level refs that alone use their record (which exists)."""
        users = self.users()
        present = {(self.number(rel), rid.decode("utf-8", "replace"))
                   for rel in self.shards() for rid, _ in self.records(rel)}
        for key, uses in users.items():
            if len(uses) != 1 or key not in present:
                continue
            i, pointer, ref = uses[0]
            if pointer.count("/") != 2 or ref.get("capture") is not None:
                continue
            if kinds is None or ref["kind"]["type"] in kinds:
                yield i, pointer, ref

    def pick_owned(self, rnd, **kw):
        return pick(rnd, list(self.owned(**kw)))

    def body_of(self, ref) -> tuple[str, int]:
        """(shard rel, record index) of a ref's record."""
        rel = self.rel(ref["shard"])
        rid = ref["raw_payload_id"].encode()
        for k, (r, _) in enumerate(self.records(rel)):
            if r == rid:
                return rel, k
        raise KeyError(ref["raw_payload_id"])

    def body(self, ref) -> bytes:
        rel, k = self.body_of(ref)
        return self.records(rel)[k][1]

    def set_body(self, ref, body: bytes) -> None:
        rel, k = self.body_of(ref)
        recs = self.records(rel)
        recs[k] = (recs[k][0], body)
        self.put(rel, recs)

    def record_id(self, n: int) -> bytes:
        """The id a writer gives record ``n``."""
        return self.layout.payload_id_for(n).encode()


def _stream(records: Records) -> bytes:
    """The decompressed bytes of a shard holding ``records``."""
    return b"".join(encode_record(r, b) for r, b in records)


# -- frames -----------------------------------------------------------------------------------
@corruption(
    "STORE.FRAME",
    "A shard does not decompress: its frame magic or checksum is spoiled, or it holds the records uncompressed.",
    edits_store=STORE_ZSTD_SHARDS,
)
def _frame(bundle, dialect, rnd):
    ed = Editor(bundle, dialect)
    st = Store(ed)
    rel = st.pick_shard(rnd)
    if rel is None:
        return None
    data = bytearray(ed.bundle.payloads[rel])
    how = rnd.choice(["magic", "checksum", "raw"])
    if how == "magic":
        data[rnd.randrange(4)] ^= 0xFF
    elif how == "checksum":
        data[-1 - rnd.randrange(4)] ^= 1 << rnd.randrange(8)
    else:
        data = bytearray(_stream(st.records(rel)))
    ed.bundle.payloads[rel] = bytes(data)
    return result(ed, "STORE.FRAME", None, note=f"{rel}: {how}")


@corruption(
    "STORE.TRAILING_GARBAGE",
    "Bytes that are not a zstd frame follow the last frame of a shard.",
    edits_store=STORE_ZSTD_SHARDS,
)
def _trailing_garbage(bundle, dialect, rnd):
    ed = Editor(bundle, dialect)
    st = Store(ed)
    rel = st.pick_shard(rnd)
    if rel is None:
        return None
    junk = rnd.choice([b"GARBAGE!", b"\x00" * 16, b"{\"not\": \"a frame\"}\n", bytes(range(1, 40))])
    ed.bundle.payloads[rel] += junk
    return result(ed, "STORE.TRAILING_GARBAGE", None, note=f"{rel} + {len(junk)} bytes")


@corruption(
    "STORE.FRAME_TRUNCATED",
    "A shard of a completed recording ends inside its frame: its checksum (the frame's end) is cut off.",
    edits_store=STORE_ZSTD_SHARDS,
)
def _frame_truncated(bundle, dialect, rnd):
    ed = Editor(bundle, dialect)
    st = Store(ed)
    if not ed.lines_of("recording_completed"):
        return None
    rel = st.pick_shard(rnd)
    if rel is None:
        return None
    ed.bundle.payloads[rel] = ed.bundle.payloads[rel][: -rnd.randint(1, 4)]
    return result(ed, "STORE.FRAME_TRUNCATED", None, note=rel)


# -- records -----------------------------------------------------------------------------------------
@corruption(
    "STORE.RECORD_HEADER_CUT",
    "A sealed shard's record stream ends inside a record header (1 to 9 bytes of it).",
    edits_store=STORE_ZSTD_SHARDS,
)
def _header_cut(bundle, dialect, rnd):
    ed = Editor(bundle, dialect)
    st = Store(ed)
    rel = st.pick_shard(rnd)
    if rel is None:
        return None
    header = HEADER.pack(13, rnd.randint(2, 5000))
    st.put_stream(rel, _stream(st.records(rel)) + header[: rnd.randint(1, 9)])
    return result(ed, "STORE.RECORD_HEADER_CUT", None, note=rel)


@corruption(
    "STORE.LENGTH_BEYOND_SHARD",
    "A record's declared body length runs past the end of its shard (a few bytes, or u64::MAX), "
    "or a last record is cut short.",
    edits_store=STORE_ZSTD_SHARDS,
)
def _length_beyond(bundle, dialect, rnd):
    ed = Editor(bundle, dialect)
    st = Store(ed)
    rel = st.pick_shard(rnd)
    if rel is None:
        return None
    recs = st.records(rel)
    head = _stream(recs[:-1])
    rid, body = recs[-1]
    how = rnd.choice(["plus", "u64max", "cut", "extra"])
    if how == "plus":
        tail = HEADER.pack(len(rid), len(body) + rnd.randint(1, 100)) + rid + body
    elif how == "u64max":
        tail = HEADER.pack(len(rid), 2**64 - 1) + rid + body
    elif how == "cut":
        tail = encode_record(rid, body)[: -rnd.randint(1, len(body))] if body else encode_record(rid, body)[:-1]
    else:
        extra = st.record_id(999999)
        tail = encode_record(rid, body) + HEADER.pack(len(extra), 500) + extra + b"{}"
    st.put_stream(rel, head + tail)
    return result(ed, "STORE.LENGTH_BEYOND_SHARD", None, note=f"{rel}: {how}")


@corruption(
    "STORE.RECORD_ID",
    "A record and every ref to it are renamed to an id that is not raw_payload:{n} (UTF-8: only the "
    "writer profile minds), or an extra record's id is not UTF-8 (the reducer fails; it is unreferenced: "
    "STORE.UNREFERENCED too).",
    edits_store=STORE_ZSTD_SHARDS,
)
def _record_id(bundle, dialect, rnd):
    ed = Editor(bundle, dialect)
    st = Store(ed)
    if rnd.random() < 0.5:
        got = st.pick_owned(rnd)
        if got is None:
            return None
        i, pointer, ref = got
        shard, k = st.body_of(ref)
        new = rnd.choice(["custom-id", "raw_payload:03", "payload-7", "", "raw payload 1"])
        recs = st.records(shard)
        recs[k] = (new.encode(), recs[k][1])
        st.put(shard, recs)
        ed.touch(i)
        ref["raw_payload_id"] = new
        return result(ed, "STORE.RECORD_ID", None, note=f"renamed to {new!r}")
    rel = st.pick_shard(rnd)
    if rel is None:
        return None
    recs = st.records(rel)
    recs.insert(rnd.randint(0, len(recs)), (rnd.choice([b"\xff\xfe", b"raw_payload:\xc3"]), b"{}"))
    st.put(rel, recs)
    return result(ed, "STORE.RECORD_ID", None, also=["STORE.UNREFERENCED"], reducer_level=["STORE.RECORD_ID"],
                  note="id not UTF-8")


@corruption(
    "STORE.DUPLICATE_RECORD",
    "A shard holds a second record with the id of another (an identical copy or a different body, "
    "right after it or at the end).",
    edits_store=STORE_ZSTD_SHARDS,
)
def _duplicate(bundle, dialect, rnd):
    ed = Editor(bundle, dialect)
    st = Store(ed)
    rel = st.pick_shard(rnd)
    if rel is None:
        return None
    recs = st.records(rel)
    k = rnd.randrange(len(recs))
    rid, body = recs[k]
    copy = (rid, body if rnd.random() < 0.5 else b'{"duplicate":true}')
    recs.insert(rnd.choice([k + 1, len(recs)]), copy)
    st.put(rel, recs)
    return result(ed, "STORE.DUPLICATE_RECORD", None, note=f"{rel}: {rid.decode()}")


# -- refs --------------------------------------------------------------------------------------------
@corruption(
    "STORE.REF_SHARD",
    "A ref names a shard that does not exist (its record is then unreferenced: STORE.UNREFERENCED "
    "too), or a shard file is deleted.",
    edits_store=STORE_ZSTD_SHARDS,
)
def _ref_shard(bundle, dialect, rnd):
    ed = Editor(bundle, dialect)
    st = Store(ed)
    shards = st.shards()
    if rnd.random() < 0.5:
        got = st.pick_owned(rnd)
        if got is None:
            return None
        i, pointer, ref = got
        ed.touch(i)
        ref["shard"] = len(shards) + rnd.randint(1, 5)
        return result(ed, "STORE.REF_SHARD", i, also=["STORE.UNREFERENCED"], note=f"{pointer} -> shard {ref['shard']}")
    rel = pick(rnd, shards)
    if rel is None:
        return None
    users = st.lines_using(rel)
    if not users:
        return None
    del ed.bundle.payloads[rel]
    return result(ed, "STORE.REF_SHARD", min(users), note=f"{rel} deleted")


@corruption(
    "STORE.REF_RECORD",
    "A referenced record is missing from its shard.",
    edits_store=STORE_ZSTD_SHARDS,
)
def _ref_record(bundle, dialect, rnd):
    ed = Editor(bundle, dialect)
    st = Store(ed)
    got = st.pick_owned(rnd)
    if got is None:
        return None
    i, pointer, ref = got
    rel, k = st.body_of(ref)
    recs = st.records(rel)
    del recs[k]
    st.put(rel, recs)
    return result(ed, "STORE.REF_RECORD", i, note=pointer)


@corruption(
    "STORE.UNREFERENCED",
    "A shard holds a record no event references.",
    edits_store=STORE_ZSTD_SHARDS,
)
def _unreferenced(bundle, dialect, rnd):
    ed = Editor(bundle, dialect)
    st = Store(ed)
    rel = st.pick_shard(rnd)
    if rel is None:
        return None
    recs = st.records(rel)
    recs.insert(rnd.randint(0, len(recs)), (st.record_id(10**6 + rnd.randrange(1000)),
                                            rnd.choice([b"{}", b'{"type":"warning"}', b"not json"])))
    st.put(rel, recs)
    return result(ed, "STORE.UNREFERENCED", None, note=rel)


@corruption(
    "STORE.SHARD_NAME",
    f"{PAYLOADS}/ holds a file that is not a shard name (1.zst, 000001.ZST, 000001.zst.tmp, junk.txt), or a "
    "shard is a symlink out of the bundle (the kit does not read it: a reducer-profile finding).",
    edits_store=STORE_ZSTD_SHARDS,
)
def _shard_name(bundle, dialect, rnd):
    ed = Editor(bundle, dialect)
    st = Store(ed)
    shards = st.shards()
    if not shards:
        return None
    if rnd.random() < 0.5:
        name = rnd.choice(["1.zst", "000001.ZST", "000001.zst.tmp", "junk.txt", "0000001.zst", "000000.zst"])
        ed.bundle.payloads[f"{ed.layout.payloads_dir}/{name}"] = ed.bundle.payloads[shards[0]]
        return result(ed, "STORE.SHARD_NAME", None, note=name)
    rel = rnd.choice(shards)
    users = st.lines_using(rel)
    if not users:
        return None
    del ed.bundle.payloads[rel]
    ed.bundle.specials[rel] = Special("symlink", rnd.choice(["/etc/hostname", "../../outside.zst"]))
    return result(ed, "STORE.SHARD_NAME", min(users), reducer_level=["STORE.SHARD_NAME"], note=f"{rel} symlink")


@corruption(
    "STORE.REGULAR_FILE",
    "A referenced shard is a directory or a FIFO (a FIFO hangs the 0.171.0 reducer).",
    edits_store=STORE_ZSTD_SHARDS,
)
def _shard_not_regular(bundle, dialect, rnd):
    ed = Editor(bundle, dialect)
    st = Store(ed)
    rel = st.pick_shard(rnd)
    if rel is None:
        return None
    users = st.lines_using(rel)
    if not users:
        return None
    what = rnd.choice(["dir", "fifo"])
    del ed.bundle.payloads[rel]
    ed.bundle.specials[rel] = Special(what)
    return result(ed, "STORE.REGULAR_FILE", min(users), note=f"{rel} ({what})")


@corruption(
    "STORE.BODY_JSON",
    "A referenced record's body is not JSON (cut short, empty, garbage, a UTF-8 BOM, trailing bytes).",
    edits_store=STORE_ZSTD_SHARDS,
)
def _body_json(bundle, dialect, rnd):
    ed = Editor(bundle, dialect)
    st = Store(ed)
    got = st.pick_owned(rnd)
    if got is None:
        return None
    i, pointer, ref = got
    body = st.body(ref)
    bad = rnd.choice([body[: max(1, len(body) // 2)], b"", b"{not json}", b"\xef\xbb\xbf" + body, body + b" x"])
    st.set_body(ref, bad)
    return result(ed, "STORE.BODY_JSON", i, note=pointer)


@corruption(
    "STORE.KIND_CONFLICT",
    "A model_item record that two prepared prompts share is given another kind by the later one.",
    edits_store=STORE_ZSTD_SHARDS,
)
def _kind_conflict(bundle, dialect, rnd):
    ed = Editor(bundle, dialect)
    st = Store(ed)
    shared = [uses for uses in st.users().values() if len({i for i, _, _ in uses}) > 1]
    uses = pick(rnd, shared)
    if uses is None:
        return None
    i, pointer, ref = uses[-1]
    if all(u[0] == i for u in uses[:-1]):
        return None
    ed.touch(i)
    old = ref["kind"]["type"]
    ref["kind"] = {"type": rnd.choice([k for k in ("protocol_event", "tool_result", "content_value") if k != old])}
    return result(ed, "STORE.KIND_CONFLICT", i, note=f"{pointer}: {old} -> {ref['kind']['type']}")


@corruption(
    "STORE.CAPTURE",
    "A ref's capture disagrees with its record: truncated with the wrong retained length, or "
    "omitted although it names a shard (its record is then unreferenced: STORE.UNREFERENCED too).",
    edits_store=STORE_ZSTD_SHARDS,
)
def _capture(bundle, dialect, rnd):
    ed = Editor(bundle, dialect)
    st = Store(ed)
    got = st.pick_owned(rnd)
    if got is None:
        return None
    i, pointer, ref = got
    size = len(st.body(ref))
    ed.touch(i)
    tag = getattr(dialect.type("PayloadCapture"), "tag_key", "type")  # the model's tag key ("status")
    if rnd.random() < 0.5:
        ref["capture"] = {tag: "truncated", "original_bytes": size + 1000, "retained_bytes": size + rnd.choice([-1, 1, 7])}
        return result(ed, "STORE.CAPTURE", i, note=f"{pointer}: retained length")
    ref["capture"] = {tag: "omitted", "original_bytes": size}
    return result(ed, "STORE.CAPTURE", i, also=["STORE.UNREFERENCED"], note=f"{pointer}: omitted with a shard")


@corruption(
    "STORE.SIZE_LIMIT",
    f"A shard decompresses to more than the kit's {MAX_SHARD_BYTES >> 30} GiB cap (a zstd bomb after its records: "
    f"one record declaring {2 * MAX_SHARD_BYTES >> 30} GiB of zeros, a few dozen KiB compressed).",
    edits_store=STORE_ZSTD_SHARDS,
)
def _bomb(bundle, dialect, rnd):
    from ..store.zstd import ZstdCompressor

    ed = Editor(bundle, dialect)
    st = Store(ed)
    rel = st.pick_shard(rnd)
    if rel is None:
        return None
    c = ZstdCompressor(level=1)
    rid = st.record_id(999999)
    parts = [c.compress(HEADER.pack(len(rid), 2 * MAX_SHARD_BYTES) + rid)]
    zeros = bytes(16 << 20)
    for _ in range(MAX_SHARD_BYTES // len(zeros) + 2):
        parts.append(c.compress(zeros))
    parts.append(c.flush())
    ed.bundle.payloads[rel] += b"".join(parts)  # a second frame after the shard's own
    return result(ed, "STORE.SIZE_LIMIT", None, note=rel)
