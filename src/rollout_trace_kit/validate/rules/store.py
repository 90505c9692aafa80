"""The schema-3 payload store: refs resolved through zstd shards, and the shards themselves.

Shards are streamed (rollout_trace_kit.store.shards), never loaded whole: each
referenced shard has a cursor that advances as refs ask for records further
on. Codex writes a record just before the event that points to it, so the
records read ahead and not yet asked for stay few; their bodies are held up
to a cap. A body asked for again once passed (a second ref to one record, or
a read-ahead past the cap) comes from the shard's spill: the first such ask
copies the records passed so far into an anonymous temporary file (outside
the bundle), and from then on the cursor copies every record it reads there,
so a shard is decompressed at most twice whatever its refs ask. What is
remembered of every record is a bit or two (canonical ids) or a dict entry
(other ids), so memory follows the bundle's shard count, not its payload bytes.

Measured on the 0.171.0 reducer (issue 11 notes): it opens a shard when an
event first refers to it and indexes it whole (a duplicate id fails even if
unreferenced; a record cut short in a sealed frame fails), reads every
referenced record by the end of the replay, follows symlinks, ignores files
it is not asked for, and hangs on a FIFO.
"""

from __future__ import annotations

import os
import re
from array import array
from typing import Any, Callable, Iterator, TypedDict
from dataclasses import dataclass, field as dc_field, replace

import msgspec
import orjson

from ... import files
from ...model.common import ZSTD_SHARDS
from ...store import shards as codec
from ...store.empty_blocks import MAX_HEADERS
from ..catalogue import R, S, W, invariant
from ..context import Context
from ..findings import Profile, Severity
from . import bodies
from .layout import PAYLOADS, irregular
from .ref_forms import RefForms, describe, difference, ref_form
from .ref_sites import compile_sites, refs_at
from ..lines import KIT_DEPTH_LIMIT, LoneSurrogate, OverflowingNumber, TooDeepToBuild, has_long_digits, loads_body
from .refs import (
    LARGE_BODY, TOO_LARGE, _UNPARSED, body_depth, check_kind, depth_limit_of, depth_limits, parse_bounded as _parse,
    parse_cost,
    report_depth,
)

class _OlderLevels(TypedDict):
    v1: Profile | None
    v2: Profile | None


class _At(TypedDict):  # where a shard finding is (keyword arguments of Context.report)
    file: str
    pointer: str


_V3: _OlderLevels = {"v1": None, "v2": None}  # rules of the v3 shard store only

FRAME = invariant(
    "STORE.FRAME",
    "A shard file is zstd frames that decompress cleanly (valid blocks, matching checksums).",
    **_V3, v3=R,
    source='0.171.0 reducer: "decompress shard {path}" (a flipped byte, a file that is not zstd, a directory)',
    notes="Blocks are judged as Codex's libzstd (1.5) judges them, whichever libzstd the kit links: a "
    "compressed block of size 0 is an empty block (libzstd 1.6.0 refuses it; Codex 0.171.0 accepts it, "
    f"measured), within a shard's first {MAX_HEADERS:,} block headers.",
)
TRAILING_GARBAGE = invariant(
    "STORE.TRAILING_GARBAGE",
    "Nothing but zstd frames (skippable ones included) follows the last frame of a shard.",
    **_V3, v3=R,
    source='0.171.0 reducer: "decompress shard {path}" for bytes after the frame (measured)',
)
FRAME_TRUNCATED = invariant(
    "STORE.FRAME_TRUNCATED",
    "Every shard's frame is complete (ends with its checksum). Only the last shard of a recording "
    "that never completed may be cut, as a crash leaves it; the records after the cut are lost.",
    **_V3, v3=R,
    source='0.171.0 reducer: "missing footer in payload shard {n}" unless the recording is unclosed and '
    "the shard is its last (measured); writer: one frame per shard, sealed on rotation and on close",
    notes="A cut last shard of an unfinished recording is a writer-profile finding (a warning with "
    "--partial-ok) that lists the payloads lost; the reducer replays what survived. After rollout_ended it "
    "is a warning: an interrupted 0.171.0 run may exit between rollout_ended and sealing its shard "
    "(3 of 12 SIGINT probe runs).",
)
HEADER_CUT = invariant(
    "STORE.RECORD_HEADER_CUT",
    "A complete shard ends on a record boundary, not inside a record's 10-byte header.",
    **_V3, v3=R,
    source='0.171.0 reducer: "partial record in sealed shard {n}"',
)
LENGTH_BEYOND = invariant(
    "STORE.LENGTH_BEYOND_SHARD",
    "A record's id and body lengths stay within its shard.",
    **_V3, v3=R,
    source='0.171.0 reducer: "partial record in sealed shard {n}" (also for a u64::MAX length)',
)
RECORD_ID = invariant(
    "STORE.RECORD_ID",
    "A record id is `raw_payload:{n}` (n >= 1) in UTF-8.",
    **_V3, v3=W,
    source='writer: raw_payload:{n}; 0.171.0 reducer: "invalid utf-8 sequence ..." for an id that is not UTF-8, '
    "any other id is accepted when the refs use it",
    notes="An id that is not UTF-8 fails the reducer when it indexes the shard: that finding names the reducer profile.",
)
DUPLICATE_RECORD = invariant(
    "STORE.DUPLICATE_RECORD",
    "A payload id has one record: a shard never holds two records of one id, nor do two shards.",
    **_V3, v3=R,
    source='0.171.0 reducer: "duplicate payload {id} in shard {n}" (even for identical copies, even unreferenced)',
    notes="Across shards the reducer does not notice (it indexes each shard alone): a writer-profile finding.",
)
REF_SHARD = invariant(
    "STORE.REF_SHARD",
    f"A ref's shard exists: `{ZSTD_SHARDS.payload_file}`.",
    **_V3, v3=R,
    source='0.171.0 reducer: "open shard {path}"',
)
REF_RECORD = invariant(
    "STORE.REF_RECORD",
    "A ref's record is in the shard it names.",
    **_V3, v3=R,
    source='0.171.0 reducer: "missing payload {id} in shard {n}" (every ref is read by the end of the replay)',
)
UNREFERENCED = invariant(
    "STORE.UNREFERENCED",
    "Every record of every shard is referenced by some event.",
    **_V3, v3=S,
    source="writer is best-effort: a record whose event failed to append is orphaned; the reducer ignores it",
    severity=Severity.WARNING,
)
SHARD_NAME = invariant(
    "STORE.SHARD_NAME",
    f"`{PAYLOADS}/` holds only shards named `{{n:06}}.zst` (n >= 1) that stay inside the bundle.",
    **_V3, v3=W,
    source=f"writer: {PAYLOADS}/{{shard:06}}.zst from 1; the 0.171.0 reducer opens exactly that name, follows "
    "symlinks and ignores other files",
    notes="A shard that a symlink takes out of the bundle is not read by the kit; when an event refers "
    "to it the finding names the reducer profile.",
)
REGULAR_FILE = invariant(
    "STORE.REGULAR_FILE",
    "A shard is a regular file: not a directory, FIFO, socket or device.",
    **_V3, v3=R,
    source='0.171.0 reducer: "decompress shard" on a directory, hangs on a FIFO (measured); the kit never opens one',
)
BODY_JSON = invariant(
    "STORE.BODY_JSON",
    "A referenced record's body is one JSON document.",
    **_V3, v3=R,
    source='0.171.0 reducer: "invalid payload {id}" / "parse payload {id}" (every referenced record is parsed)',
)
CAPTURE = invariant(
    "STORE.CAPTURE",
    "A ref's `capture` agrees with its record: `truncated` keeps exactly the record's body length, less than "
    "`original_bytes`; `omitted` has no shard; a ref without a shard is `omitted`.",
    **_V3, v3=R,
    source='0.171.0 reducer: "invalid retained length", "omitted payload has a shard", "payload omitted by size limit" (measured)',
    notes="A truncated record is not parsed (the reducer does not): its body checks are skipped.",
)
KIND_CONFLICT = invariant(
    "STORE.KIND_CONFLICT",
    "Every ref to one payload is the same ref: the same kind, shard, capture and parts (an explicit "
    "`complete` capture counts as none, empty `parts` as none).",
    **_V3, v3=R,
    source='0.171.0 reducer: "conflicting references for payload {id}" for a kind, a shard, a capture or '
    "parts that differ (measured)",
    notes="The ID predates the other components: it names any conflict between two refs to one payload id.",
)
MAX_SHARD_BYTES = 1 << 30  # Codex shards stay near 8 MiB; one record is at most its 64 MiB capture
# Decompressed bytes read from all shards together: symlinks (which the reducer follows) to
# one large shard would otherwise multiply the reading time; reaching it is an error.
MAX_BUNDLE_BYTES = 4 << 30
# Records read from all shards together: the per-shard cap alone lets symlinks (which the
# reducer follows) to one shard of tiny records multiply the reading time without bound.
MAX_BUNDLE_RECORDS = 1 << 23
SIZE_LIMIT = invariant(
    "STORE.SIZE_LIMIT",
    f"A shard stays within the kit's caps ({MAX_SHARD_BYTES >> 30} GiB decompressed, "
    f"{codec.Limits.max_frames:,} zstd frames, {codec.Limits.max_records:,} records; "
    f"{MAX_BUNDLE_RECORDS:,} records and {MAX_BUNDLE_BYTES >> 30} GiB decompressed in all shards together): "
    "past one the kit stops reading it.",
    **_V3, v3=R,
    source="kit limit: a zstd bomb must end in a finding, not in memory or time exhaustion",
    notes="Past a cap the kit declined to judge the bundle: an error in every profile (never 'ok'), and compat "
    "names no reader.",
    kit_only=True,
    declines=True,
)

_ID = re.compile(ZSTD_SHARDS.id_regex())
_ID_PREFIX = ZSTD_SHARDS.payload_id.partition("{n}")[0].encode()  # a canonical id: this, then n
_P = len(_ID_PREFIX)


def _canonical_ordinal(rid: bytes) -> int | None:
    """n of a canonical record id (the prefix, then n from 1 in ASCII digits, fewer than 10 of
    them: the ids the bitmaps index), else None."""
    digits = rid[_P:]
    if rid[:_P] == _ID_PREFIX and digits.isdigit() and digits[:1] != b"0" and len(digits) < 10:
        return int(digits)
    return None


_NOTHING = object()  # _resolve: no body (missing, unreadable, not JSON, not parsed)
BUNDLE_CAP = f"the kit reads at most {MAX_BUNDLE_RECORDS} records from all shards together"


def bundle_bytes_cap() -> str:
    return f"the kit reads at most {MAX_BUNDLE_BYTES} decompressed bytes from all shards together"


PENDING_CAP = 16 << 20  # bodies read ahead and not yet asked for (past it: read again when asked)
MAX_BITMAP = 1 << 22  # canonical ids further than this from a shard's first go in its dict
# The bitmaps are pages of 64 ids, made as ids are touched: ids far apart (a ref to
# raw_payload:4000000 in an empty shard) cost a page each, not a bytearray spanning the gap.
PAGE_BITS = 6
PAGE = 1 << PAGE_BITS

# bit flags per record
PRESENT, REFERENCED, CHECKED, BAD_JSON, TOO_BIG = 1, 2, 4, 8, 16
_ALL_SET = bytes([PRESENT | REFERENCED | CHECKED]) * 64  # a page's flags of records resolved ahead


# StoreRefChecker.prepare on (the engine reads it per bundle; a test turns it off to compare)
PREPARE_REFS = True
_NO_ITEMS: list = []  # no list of records at hand (never appended to)
# The refs of a run of events resolved ahead (StoreRefChecker.prepare) take the bodies of at most
# this many records, or bytes, scanned at once for digits a body must be parsed again for.
CLEAN_WINDOW, CLEAN_WINDOW_BYTES = 512, 1 << 20
# Body bytes one call of prepare parses ahead at most: the parsed bodies wait for the run's checks
# (a run of a thousand refs to 1 MiB bodies must not hold a thousand parsed bodies at once), and
# parsed they may take many times their bytes (`[{},{},...]`).
PREPARE_BYTES = 1 << 20


@dataclass
class _Shard:
    n: int
    rel: str
    # the record lists of the shard (codec.iter_shard_batches), None once exhausted or never opened
    cursor: Iterator[list[codec.Record | codec.ShardError]] | None = None
    batch: list[codec.Record | codec.ShardError] = dc_field(default_factory=list)  # the cursor's current list
    at: int = 0  # the index in ``batch`` of the next record to read
    clean_to: int = 0  # records of ``batch`` before this index hold no digits has_long_digits looks for
    failed: str | None = None  # why the shard cannot be read (already reported)
    base: int = -1  # canonical ordinal of index 0
    flags: dict[int, bytearray] = dc_field(default_factory=dict)  # page of (canonical n - base) -> bit flags
    others: dict = dc_field(default_factory=dict)  # any other id (bytes) -> bit flags
    pending: dict = dc_field(default_factory=dict)  # id bytes -> body read ahead
    pending_bytes: int = 0
    error: codec.ShardError | None = None  # how the stream ended, if badly
    records: int = 0
    last_id: bytes | None = None
    bundle_capped: bool = False  # read with what the bundle-wide record cap left, not the shard cap
    bytes_capped: bool = False  # read with what the bundle-wide byte cap left, not the shard cap
    bytes_read: int = 0  # decompressed bytes of the records read (headers included)
    spill: "_Spill | None" = None  # bodies of the records passed, once one was asked for again
    run_id: bytes | None = None  # the id of the last duplicate record met, and how many followed it
    run_more: int = 0
    run_last: int = 0  # the number (records) of the run's last duplicate: the next one follows it only at +1

    def key(self, rid: bytes):
        """A record's index into the bitmaps (canonical ids near the shard's first), else its id bytes."""
        n = _canonical_ordinal(rid)
        return rid if n is None else self.key_of_canonical(n, rid)

    def key_of_canonical(self, n: int, rid: bytes):
        """``key(rid)`` for a canonical id whose ordinal ``n`` the caller has parsed."""
        if self.base < 0:
            self.base = n
        i = n - self.base
        return i if 0 <= i < MAX_BITMAP else rid

    def get(self, key) -> int:
        if key.__class__ is int:
            page = self.flags.get(key >> PAGE_BITS)
            return page[key & (PAGE - 1)] if page is not None else 0
        return self.others.get(key, 0)

    def set(self, key, bits: int) -> None:
        if key.__class__ is int:
            page = self.flags.get(key >> PAGE_BITS)
            if page is None:
                page = self.flags[key >> PAGE_BITS] = bytearray(PAGE)
            page[key & (PAGE - 1)] |= bits
        else:
            self.others[key] = self.others.get(key, 0) | bits

    def present_ids(self):
        """Every record id seen, as (id bytes, flags)."""
        for p in sorted(self.flags):
            for j, bits in enumerate(self.flags[p]):
                if bits & PRESENT:
                    yield _ID_PREFIX + b"%d" % (self.base + (p << PAGE_BITS) + j), bits
        for rid, bits in self.others.items():
            if bits & PRESENT:
                yield rid, bits


class _Spill:
    """Bodies of one shard's records, in an anonymous temporary file (never in the bundle).

    Where each body sits is kept per canonical id in pages of 64 (offset, length) pairs,
    else in a dict: a few bytes per record, never the bodies themselves.
    """

    def __init__(self) -> None:
        import tempfile  # here: only a shard whose records are kept aside needs it

        self.file = tempfile.TemporaryFile(prefix="rollout-trace-kit-shard-")
        self.size = 0
        self.unflushed = False
        self.pages: dict[int, array] = {}  # page of keys -> [offset + 1, length] * PAGE (0: not here)
        self.others: dict[bytes, tuple[int, int]] = {}

    def put(self, key, body) -> None:
        """Keep ``body`` for ``key`` (the first record of an id wins, as the reader's index)."""
        if key.__class__ is int:
            page = self.pages.get(key >> PAGE_BITS)
            if page is None:
                page = self.pages[key >> PAGE_BITS] = array("q", bytes(16 * PAGE))
            i = 2 * (key & (PAGE - 1))
            if page[i]:
                return
            page[i], page[i + 1] = self.size + 1, len(body)
        elif key in self.others:
            return
        else:
            self.others[key] = (self.size, len(body))
        self.file.write(body)
        self.size += len(body)
        self.unflushed = True

    def get(self, key) -> bytes | None:
        if key.__class__ is int:
            page = self.pages.get(key >> PAGE_BITS)
            i = 2 * (key & (PAGE - 1))
            if page is None or not page[i]:
                return None
            at, length = page[i] - 1, page[i + 1]
        else:
            at, length = self.others.get(key, (-1, 0))
            if at < 0:
                return None
        if self.unflushed:
            self.file.flush()
            self.unflushed = False
        return os.pread(self.file.fileno(), length, at)

    def close(self) -> None:
        self.file.close()


class StoreRefChecker:
    """The RefChecker of sharded dialects: same interface (check, finish)."""

    def __init__(self, ctx: Context):
        self.ctx = ctx
        self.bundle = ctx.bundle
        self.bundle_real = os.path.realpath(ctx.bundle)
        self.shards: dict[int, _Shard] = {}
        self.forms = RefForms()  # the first ref of every payload id
        assert ctx.dialect is not None  # the pass over events starts once the dialect is known
        self.sites = compile_sites(ctx.dialect)  # where the model puts refs, per variant
        self.checked: set[int] = set()  # id() of the refs of this event already checked (by a handler)
        self.depth_limit = depth_limit_of(ctx.dialect)  # the deepest body of a kind its reducer parses
        self.depth_limits = depth_limits(ctx.dialect)
        self.recording_completed = False  # set by the engine before finish()
        self.pre: dict[int, Any] = {}  # id() of a ref of the events being checked -> its body, resolved ahead
        self.rollout_ended = False  # likewise
        self.limits = codec.Limits(
            max_shard_bytes=MAX_SHARD_BYTES, max_record_bytes=ctx.options.max_payload_bytes,
            max_id_bytes=codec.MAX_ID_LENGTH,
        )

    # -- every ref of an event, from the model ----------------------------------------------
    def after_event(self, payload, tag: str) -> None:
        """Check each ref of the event the handlers did not (rules/ref_sites.py)."""
        sites = self.sites.get(tag)
        if sites is not None:
            checked = self.checked
            for name, steps, field, read in sites:
                if name is not None:  # a top-level ref field: the usual case, kept cheap
                    ref = getattr(payload, name)
                    if ref is not None and id(ref) not in checked:
                        pointer = "/payload/" + name
                        self.check_value(ref, tag, field, pointer)
                    continue
                for ref, pointer in refs_at(payload, steps):
                    if id(ref) not in checked:
                        self.check_value(ref, tag, field, pointer)
        if self.checked:
            self.checked.clear()

    # -- the usual refs of a run, resolved ahead ----------------------------------------------
    def prepare(self, events: list[Any], tag_of: dict[type, str]) -> None:
        """Resolve ahead the refs of ``events`` that _resolve would find plain: each the first ref
        to the next record of an open shard, canonical id, no capture or parts, of a kind its field
        allows, a body of JSON within its depth limit and free of digits loads_body parses again.
        Their state is set as _resolve sets it and their bodies wait in ``pre``, taken by
        check_value; the first ref that is anything else ends it, leaving that ref and those after
        it to _resolve, in order. Such refs give no finding, so resolving them before the events'
        other checks changes no report (a differential test holds it to that); it saves most of a
        ref's cost on a large v3 bundle. All at once when every ref is plain (the usual run of a
        v3 log: _prepare_whole), else one by one (_prepare_each)."""
        refs, kind_sets = self._refs_in_fields(events, tag_of)
        if refs and not self._prepare_whole(refs, kind_sets):
            self._prepare_each(refs, kind_sets)

    def _refs_in_fields(self, events: list[Any], tag_of: dict[type, str]) -> tuple[list[Any], list[Any]]:
        """The refs of ``events`` in their fields, in order, with the kinds each field takes, up
        to the first ref nested in a payload (rare: left to _resolve, with those after it)."""
        sites_of = self.sites
        refs: list[Any] = []
        kind_sets: list[Any] = []
        for ev in events:
            payload = ev.payload
            sites = sites_of.get(tag_of[payload.__class__])
            if sites is None:
                continue
            for name, steps, field, _ in sites:
                if name is None:
                    if next(iter(refs_at(payload, steps)), None) is not None:
                        return refs, kind_sets
                    continue
                ref = getattr(payload, name)
                if ref is not None:
                    refs.append(ref)
                    kind_sets.append(field.payload_kinds)
        return refs, kind_sets

    def _prepare_whole(self, refs: list[Any], kind_sets: list[Any]) -> bool:
        """_prepare_each's work when it would take every one of ``refs``, done a list at a time
        (one comprehension per condition, not one pass of the loop per ref): their records
        follow one another in the shard's current list, under consecutive canonical ids.
        False, with nothing changed, when anything differs."""
        k = len(refs)
        sh = self.shards.get(refs[0].shard)
        if sh is None or sh.cursor is None or sh.failed or sh.spill is not None or sh.base < 0:
            return False
        at, n_shard = sh.at, sh.n
        records: list[Any] = sh.batch[at : at + k]  # Records, unless a ShardError (its .id raises)
        if len(records) < k:
            return False
        try:
            if any(r.shard != n_shard or getattr(r, "capture", None) is not None or getattr(r, "parts", None)
                   for r in refs):
                return False
            kinds = [r.kind.type for r in refs]
            if any(taken and kind not in taken for kind, taken in zip(kinds, kind_sets)):
                return False
            rids = [item.id for item in records]  # AttributeError: a ShardError
            if [r.raw_payload_id.encode("utf-8", "surrogatepass") for r in refs] != rids:
                return False
            ns = [int(rid[_P:]) for rid in rids]  # ValueError: not digits
        except (AttributeError, ValueError, UnicodeError):
            return False
        lo = ns[0]
        # _canonical_ordinal's rule a list at a time (the prefix, ASCII digits, no sign, space or zero
        # before them, from 1, fewer than 10 digits), the ids consecutive
        if [_ID_PREFIX + b"%d" % n for n in ns] != rids or ns != list(range(lo, lo + k)) or lo < 1 or lo + k > 10**9:
            return False
        first = lo - sh.base
        if first < 0 or first + k > MAX_BITMAP:
            return False
        spans = []  # (page, start, end) of the records' flags, each still 0 (never read)
        for p in range(first >> PAGE_BITS, ((first + k - 1) >> PAGE_BITS) + 1):
            a, b = max(first - (p << PAGE_BITS), 0), min(first + k - (p << PAGE_BITS), PAGE)
            page = sh.flags.get(p)
            if page is not None and page.count(0, a, b) != b - a:
                return False
            spans.append((p, a, b))
        bodies = [item.body for item in records]
        if (set(map(type, bodies)) != {bytes} or max(map(len, bodies)) >= LARGE_BODY
                or sum(map(len, bodies)) > PREPARE_BYTES):
            return False
        if has_long_digits(b" ".join(bodies)):
            return False
        try:
            values = list(map(orjson.loads, bodies))
        except orjson.JSONDecodeError:
            return False
        depth_limit = self.depth_limit
        if any(depth_limit(kind) is not None for kind in set(kinds)):
            for kind, body, value in zip(kinds, bodies, values):
                limit = depth_limit(kind)
                if limit is not None and body_depth(body, value, self.depth_limits) > limit:
                    return False
        if not self.forms.first_plain(ns, kinds, n_shard):
            return False
        # as _prepare_each sets them
        for p, a, b in spans:
            page = sh.flags.get(p)
            if page is None:
                page = sh.flags[p] = bytearray(PAGE)
            page[a:b] = _ALL_SET[: b - a]
        sh.at = at + k
        sh.records += k
        sh.bytes_read += k * codec.HEADER_SIZE + sum(map(len, rids)) + sum(item.length for item in records)
        sh.last_id = rids[-1]
        self.pre.update(zip(map(id, refs), values))
        return True

    def _prepare_each(self, refs: list[Any], kind_sets: list[Any]) -> None:
        """prepare, one ref at a time, up to the first that is not plain."""
        pre, shards, forms = self.pre, self.shards, self.forms
        depth_limit, limits, loads = self.depth_limit, self.depth_limits, orjson.loads
        record, header = codec.Record, codec.HEADER_SIZE
        # One shard per call, its place held in locals and written back at the end: a ref to
        # another shard stops the loop (a writer moves to its next shard once in 8 MiB).
        sh: _Shard | None = None
        batch: list = _NO_ITEMS
        at = clean_to = base = shard_n = taken = taken_bytes = body_bytes = 0
        flags: dict[int, bytearray] = {}
        last = b""
        try:
            for ref, kinds in zip(refs, kind_sets):
                if getattr(ref, "capture", None) is not None or getattr(ref, "parts", None):
                    return
                kind = ref.kind.type
                if kinds and kind not in kinds:
                    return
                if sh is None:
                    sh = shards.get(ref.shard)
                    if sh is None or sh.cursor is None or sh.failed or sh.spill is not None or sh.base < 0:
                        sh = None
                        return
                    batch, at, clean_to, flags, base, shard_n = sh.batch, sh.at, sh.clean_to, sh.flags, sh.base, sh.n
                elif ref.shard != shard_n:
                    return
                if at >= len(batch):
                    if not self._next_batch(sh):  # the end of the shard: _advance_to closes the cursor there
                        at = 0
                        return
                    batch, at, clean_to = sh.batch, 0, 0
                item = batch[at]
                if item.__class__ is not record:  # a ShardError
                    return
                body, rid = item.body, item.id
                # (a body from codec.BIG_BODY on, a bytearray, is a large one)
                if not isinstance(body, bytes) or len(body) >= LARGE_BODY or rid != ref.raw_payload_id.encode("utf-8", "surrogatepass"):
                    return
                body_bytes += len(body)
                if body_bytes > PREPARE_BYTES:  # enough parsed ahead for one run: the rest in their turn
                    return
                n = _canonical_ordinal(rid)
                if n is None or not 0 <= n - base < MAX_BITMAP:
                    return
                i = n - base
                page = flags.get(i >> PAGE_BITS)
                if page is not None and page[i & (PAGE - 1)]:  # met before (flags are set on records read)
                    return
                if at >= clean_to:
                    sh.at = at
                    if not _clean(sh, at):
                        return
                    clean_to = sh.clean_to
                try:
                    value = loads(body)
                except orjson.JSONDecodeError:
                    return
                limit = depth_limit(kind)
                if limit is not None and body_depth(body, value, limits) > limit:
                    return
                if forms.first_canonical(n, (kind, shard_n, None, None)) is not None:
                    return  # a conflicting ref (its form was not recorded)
                # as _advance_to reads the record and _resolve checks it
                at += 1
                taken += 1
                taken_bytes += header + len(rid) + item.length
                last = rid
                if page is None:
                    page = flags[i >> PAGE_BITS] = bytearray(PAGE)
                page[i & (PAGE - 1)] = PRESENT | REFERENCED | CHECKED
                pre[id(ref)] = value
        finally:
            if sh is not None:
                sh.at = at
                if taken:
                    sh.records += taken
                    sh.bytes_read += taken_bytes
                    sh.last_id = last

    # -- one ref -------------------------------------------------------------------------
    def check(self, ref, tag: str, field, pointer: str, read_by_reducer: bool, need_body: bool = True, null_body=None,
              tool_kind: str | None = None, by_kind: bool = True):  # as RefChecker's (no v3 release opens by kind)
        """Check one ref (and its parts); return its parsed body when it was read, else None
        (a body that is JSON ``null`` is returned as ``null_body``)."""
        parsed, body = self.check_value(ref, tag, field, pointer, need_body)
        return null_body if parsed and body is None else body

    def check_value(self, ref, tag: str, field, pointer: str, need_body: bool = True):
        """(whether a body was parsed, the body): a JSON `null` body is (True, None)."""
        self.checked.add(id(ref))
        if self.pre:
            value = self.pre.pop(id(ref), _NOTHING)
            if value is not _NOTHING:  # resolved ahead (prepare)
                return True, value
        kinds = field.payload_kinds
        if kinds and ref.kind.type not in kinds:  # check_kind's question, asked here first (a hot call)
            check_kind(self.ctx, ref, tag, field, pointer)
        parts = getattr(ref, "parts", None)
        if parts:
            self._parts(parts, pointer, 0)
            if ref.kind.type != "prepared_prompt":
                # A payload split into parts (over the 64 MiB capture): its body is fragments the
                # reducer reassembles; the kit checks the fragments and each record, not the document.
                value = self._resolve(ref, pointer, True)
                if value is not _NOTHING:
                    bodies.check_fragments(self.ctx, value, ref, pointer)
                return False, None
        value = self._resolve(ref, pointer, need_body)
        return value is not _NOTHING, (None if value is _NOTHING else value)

    def _parts(self, parts, pointer: str, depth: int) -> None:
        for i, part in enumerate(parts):
            ptr = f"{pointer}/parts/{i}"
            self.checked.add(id(part))
            inner = getattr(part, "parts", None)
            # A part with parts of its own is assembled like its ref: fragments around them (measured on 0.171.0)
            value = self._resolve(part, ptr, bool(inner))
            if inner and value is not _NOTHING:
                bodies.check_fragments(self.ctx, value, part, ptr, "part")
            if inner and depth < 64:
                self._parts(inner, ptr, depth + 1)

    def _resolve(self, ref, pointer: str, need_body: bool):
        ctx = self.ctx
        rid_text = ref.raw_payload_id
        rid = rid_text.encode("utf-8", "surrogatepass")
        # The usual ref (no capture, no parts, a canonical id): its form and ordinal without the
        # general helpers' calls (about a third of a ref's cost); the same answers as ref_form,
        # RefForms.first and _Shard.key.
        cap = getattr(ref, "capture", None)
        capture = None if cap is None else _capture(ref)
        form = (ref.kind.type, ref.shard, None, None) if cap is None and not getattr(ref, "parts", None) else ref_form(ref)
        n = _canonical_ordinal(rid)
        old = self.forms.first(rid_text, form) if n is None else self.forms.first_canonical(n, form)
        if old is not None:
            what = difference(old, form)
            ctx.report(
                KIND_CONFLICT,
                f"conflicting references for payload {rid_text}: the {what} differs ({describe(form)} here, "
                f"{describe(old)} before)",
                pointer=pointer + ("/kind/type" if what == "kind" else f"/{what}"),
            )
        if ref.shard is None or (capture and capture[0] == "omitted"):
            self._omitted(ref, capture, pointer)
            return _NOTHING
        sh = self.shards.get(ref.shard)
        if sh is None or sh.failed:
            sh = self._shard(ref.shard, pointer)
            if sh is None:
                return _NOTHING
        key = sh.key(rid) if n is None else sh.key_of_canonical(n, rid)
        flags = sh.get(key)
        page = None  # the bitmap page of a canonical key, once it exists: its bits read and set inline (hot path)
        if not flags & PRESENT:
            body = self._advance_to(sh, rid, key)
            if key.__class__ is int:
                page = sh.flags.get(key >> PAGE_BITS)
            flags = page[key & (PAGE - 1)] if page is not None else sh.get(key)  # what sh.get gives
            if not flags & PRESENT:
                if sh.failed is None:
                    self._report_missing(sh, rid_text, pointer)
                return _NOTHING
        else:
            body = sh.pending.pop(rid, None)
            if body is not None:
                sh.pending_bytes -= len(body)
            elif flags & CHECKED and not need_body and capture is None or flags & TOO_BIG:
                sh.set(key, REFERENCED)
                return _NOTHING
            else:
                body = self._reread(sh, rid)
        if page is not None:
            page[key & (PAGE - 1)] |= REFERENCED  # what sh.set does
        else:
            sh.set(key, REFERENCED)
        if flags & TOO_BIG:  # over the kit's record cap
            if not flags & CHECKED:
                ctx.report(
                    TOO_LARGE,
                    f"{rid_text} in shard {sh.n} is over the kit's payload limit; not parsed: the kit declined to judge it",
                    pointer=pointer,
                )
                sh.set(key, CHECKED)
            return _NOTHING
        if capture is not None and capture[0] == "truncated":
            _, original, retained = capture
            if body is not None and (retained != len(body) or not original > retained):
                ctx.report(
                    CAPTURE,
                    f"{rid_text}: invalid retained length (capture says {retained} of {original} bytes, "
                    f"the record holds {len(body)})",
                    pointer=pointer + "/capture",
                )
            return _NOTHING  # a cut payload is not JSON, and the reducer does not parse it
        if body is None:  # not found again (the shard changed under the kit)
            return _NOTHING
        first = not flags & CHECKED
        try:
            # large bodies past the budget are not built; below LARGE_BODY _parse is loads_body
            value = loads_body(body) if len(body) < LARGE_BODY else _parse(body)
        except LoneSurrogate as e:
            if self.depth_limit(ref.kind.type) is not None:  # a kind the reducer parses: "parse payload"
                if first:
                    ctx.report(BODY_JSON, f"{rid_text} in shard {sh.n} is not valid JSON: {e}", file=sh.rel, pointer=pointer)
                sh.set(key, CHECKED | BAD_JSON)
                return _NOTHING
            value = e.value  # checked for its syntax only, as the reducer does
            depth = body_depth(body, value, self.depth_limits)
        except TooDeepToBuild:
            value, depth = _NOTHING, KIT_DEPTH_LIMIT + 1
        except OverflowingNumber as e:  # read by every release that reads a shard store (0.171.0 on)
            value = e.value
            depth = body_depth(body, value, self.depth_limits)
        except (ValueError, msgspec.DecodeError, RecursionError) as e:
            if first:
                ctx.report(
                    BODY_JSON,
                    f"{rid_text} in shard {sh.n} is not valid JSON: {e}",
                    file=sh.rel,
                    pointer=pointer,
                )
            sh.set(key, CHECKED | BAD_JSON)
            return _NOTHING
        else:
            depth = body_depth(body, value, self.depth_limits)
        if page is not None:
            page[key & (PAGE - 1)] |= CHECKED  # what sh.set does
        else:
            sh.set(key, CHECKED)
        if value is _UNPARSED:
            if first:
                ctx.report(
                    TOO_LARGE,
                    f"{rid_text} in shard {sh.n} is valid JSON, but parsing it would take about "
                    f"{parse_cost(body) >> 20} MiB; its body was not parsed or checked",
                    pointer=pointer,
                )
            return _NOTHING
        limit = self.depth_limit(ref.kind.type)
        if limit is not None and depth > limit:
            if first:
                report_depth(ctx, rid_text, ref.kind.type, depth, limit, pointer, None)
            return _NOTHING
        if value is _NOTHING and first:
            ctx.report(
                TOO_LARGE,
                f"{rid_text} in shard {sh.n} is valid JSON nesting more than {KIT_DEPTH_LIMIT} levels, deeper than "
                "the kit's parsers build; its body was not checked: the kit declined to judge it",
                pointer=pointer,
            )
        return value

    def _omitted(self, ref, capture, pointer: str) -> None:
        if capture is None or capture[0] != "omitted":
            self.ctx.report(
                CAPTURE,
                f"{ref.raw_payload_id} has no shard and its capture is not `omitted`: payload omitted by size limit",
                pointer=pointer,
            )
        elif ref.shard is not None:
            self.ctx.report(
                CAPTURE, f"{ref.raw_payload_id}: omitted payload has a shard ({ref.shard})", pointer=pointer + "/shard"
            )

    def _report_missing(self, sh: _Shard, rid_text: str, pointer: str) -> None:
        why = ""
        err = sh.error
        if err is not None and err.code == codec.FRAME_TRUNCATED:
            why = " (the shard is cut short: lost in a crash, or never written)"
        elif err is not None:
            why = f" (reading the shard stopped early: {err.code.replace('_', ' ')})"
        self.ctx.report(REF_RECORD, f"missing payload {rid_text} in shard {sh.n}{why}", pointer=pointer + "/raw_payload_id")

    # -- shards ----------------------------------------------------------------------------
    def _shard(self, n: int, pointer: str) -> _Shard | None:
        sh = self.shards.get(n)
        if sh is None:
            # A writer fills one shard at a time: read the others to their end now, so at most
            # one zstd decompressor (and its 8 MiB window) is live, not one per shard.
            for other in self.shards.values():
                if other.cursor is not None:
                    self._advance_to(other, None)
            rel = f"{PAYLOADS}/{codec.shard_name(n)}"
            sh = self.shards[n] = _Shard(n, rel)
            self._open(sh, pointer)
        return None if sh.failed else sh

    def _open(self, sh: _Shard, pointer: str) -> None:
        ctx = self.ctx
        here: _At = {"file": sh.rel, "pointer": pointer + "/shard"}
        full = os.path.join(self.bundle, sh.rel)
        if sh.n < 1:
            ctx.report(SHARD_NAME, f"a ref names shard {sh.n}; writers number shards from 1", **here)
        real = os.path.realpath(full)
        if not real.startswith(self.bundle_real + os.sep):
            sh.failed = "outside"
            ctx.report(
                SHARD_NAME,
                f"{sh.rel} leaves the bundle through a symlink; the reference reducer would read it, the kit does not",
                level=R,
                **here,
            )
            return
        problem = files.file_problem(full)
        if problem is not None:
            why, what = problem
            sh.failed = why
            if why == files.MISSING:
                ctx.report(REF_SHARD, f"shard {sh.n} ({sh.rel}) {files.lacks(what)}", **here)
            elif why == files.UNREADABLE:
                ctx.report(REF_SHARD, f"shard {sh.n} ({sh.rel}) is {what}", **here)
            else:
                ctx.report(REGULAR_FILE, f"{sh.rel} is {irregular(what)}; the kit does not open it", **here)
            return
        # Every other shard is read to its end by now (see _shard): their counts are final.
        left = MAX_BUNDLE_RECORDS - sum(other.records for other in self.shards.values())
        if left <= 0:
            sh.failed = "bundle cap"
            ctx.report(SIZE_LIMIT, f"{sh.rel} is not read: {BUNDLE_CAP}; the kit declined to judge it", **here)
            return
        left_bytes = MAX_BUNDLE_BYTES - sum(other.bytes_read for other in self.shards.values())
        if left_bytes <= 0:
            sh.failed = "bundle cap"
            # A cap reached is never "ok": an error in every profile.
            ctx.report(SIZE_LIMIT, f"{sh.rel} is not read: {bundle_bytes_cap()}", level=R,
                       severity=Severity.ERROR, **here)
            return
        sh.bundle_capped = left < self.limits.max_records
        sh.bytes_capped = left_bytes < self.limits.max_shard_bytes
        limits = replace(self.limits, max_records=left) if sh.bundle_capped else self.limits
        limits = replace(limits, max_shard_bytes=left_bytes) if sh.bytes_capped else limits
        sh.cursor = codec.iter_shard_batches(full, limits)

    def _advance_to(self, sh: _Shard, want: bytes | None, want_key=None):
        """Read records of ``sh`` until ``want`` (None: to the end); return want's body.
        ``want_key``: ``sh.key(want)``, when the caller has it (a ref read in order: not twice)."""
        cursor = sh.cursor
        if cursor is None:
            return None
        # once per record: names bound here, the bitmap page of a canonical id set inline
        error, header, flags, key_of = codec.ShardError, codec.HEADER_SIZE, sh.flags, sh.key
        batch, at = sh.batch, sh.at
        while True:
            end = len(batch)
            while at < end:
                item = batch[at]
                at += 1
                if isinstance(item, error):
                    sh.at = at
                    self._stream_error(sh, item)
                    break
                rid, body = item.id, item.body
                sh.records += 1
                sh.bytes_read += header + len(rid) + item.length
                sh.last_id = rid
                key = want_key if rid == want and want_key is not None else key_of(rid)
                bits = PRESENT if body is not None else PRESENT | TOO_BIG
                if key.__class__ is int:
                    page = flags.get(key >> PAGE_BITS)
                    if page is None:
                        page = flags[key >> PAGE_BITS] = bytearray(PAGE)
                    if page[key & (PAGE - 1)] & PRESENT:
                        self._repeated(sh, rid)
                        continue
                    page[key & (PAGE - 1)] |= bits
                else:
                    if sh.get(key) & PRESENT:
                        self._repeated(sh, rid)
                        continue
                    self._check_id(sh, rid)
                    sh.set(key, bits)
                if body is None:
                    if rid == want:
                        sh.at = at
                        return None
                    continue
                if sh.spill is not None:
                    sh.spill.put(key, body)
                if rid == want:
                    sh.at = at
                    return body
                if sh.pending_bytes + len(body) <= PENDING_CAP:
                    sh.pending[rid] = body
                    sh.pending_bytes += len(body)
            else:  # the list is done: the next one (the cursor keeps its place across calls)
                if not self._next_batch(sh):
                    break
                batch, at = sh.batch, 0
                continue
            break  # a stream error (reported)
        sh.cursor = None
        self._end_run(sh)
        return None

    @staticmethod
    def _next_batch(sh: _Shard) -> bool:
        """Move ``sh`` to the cursor's next list of records; False at the end of the shard."""
        sh.batch, sh.at, sh.clean_to = _NO_ITEMS, 0, 0  # the done list goes before the next is read (memory)
        batch = next(sh.cursor, None)  # type: ignore[arg-type]  # called while the cursor is open
        if batch is None:
            return False
        sh.batch = batch
        return True

    def _reread(self, sh: _Shard, want: bytes):
        """The body of an already-read record, from the shard's spill (made on the first ask)."""
        if sh.spill is None:
            # One more pass over the records the cursor has passed, copying their bodies out;
            # the cursor copies the rest as it reads them (_advance_to).
            sh.spill = spill = _Spill()
            passed = sh.records
            full = os.path.join(self.bundle, sh.rel)
            for item in codec.iter_shard(full, self.limits):
                if isinstance(item, codec.ShardError) or not passed:
                    break
                passed -= 1
                if item.body is not None:
                    spill.put(sh.key(item.id), item.body)
        return sh.spill.get(sh.key(want))

    def _check_id(self, sh: _Shard, rid: bytes) -> None:
        ctx = self.ctx
        if _ID.match(rid):
            return
        try:
            rid.decode("utf-8")
        except UnicodeDecodeError:
            ctx.report(
                RECORD_ID,
                f"record id {_show(rid)} in shard {sh.n} is not UTF-8; the reducer fails indexing the shard",
                file=sh.rel, line=None, seq=None, level=R,
            )
            return
        if ctx.wants(RECORD_ID):
            ctx.report(
                RECORD_ID, f"record id {_show(rid)} in shard {sh.n}: writers write {ZSTD_SHARDS.payload_id}",
                file=sh.rel, line=None, seq=None,
            )

    def _duplicate(self, sh: _Shard, rid: bytes, message: str, level) -> None:
        self.ctx.report(DUPLICATE_RECORD, message, file=sh.rel, line=None, seq=None, level=level)

    def _repeated(self, sh: _Shard, rid: bytes) -> None:
        """A record whose id the shard already holds. Duplicates of one id one after another (a zstd
        bomb's tail: a million copies of a record) are two findings, the first and the count of the
        rest, not a million identical ones burying what follows (a cap reached, STORE.SIZE_LIMIT)."""
        if rid == sh.run_id and sh.records == sh.run_last + 1:  # a record of another id between: a new run
            sh.run_more += 1
            sh.run_last = sh.records
            return
        self._end_run(sh)
        sh.run_id, sh.run_last = rid, sh.records
        self._duplicate(sh, rid, f"duplicate payload {_show(rid)} in shard {sh.n}", R)

    def _end_run(self, sh: _Shard) -> None:
        if sh.run_more:
            self._duplicate(sh, sh.run_id or b"", f"duplicate payload {_show(sh.run_id or b'')} in shard {sh.n}, "
                            f"{sh.run_more:,} more time(s), one duplicate after another (one finding for them all)", R)
        sh.run_id, sh.run_more = None, 0

    def _stream_error(self, sh: _Shard, err: codec.ShardError) -> None:
        self._end_run(sh)
        sh.error = err
        if err.code == codec.FRAME_TRUNCATED:
            return  # its level depends on the end of the log: reported by finish()
        sh.failed = err.code  # the reducer fails on the shard as a whole: no finding per ref
        inv, level = {
            codec.FRAME_CORRUPT: (FRAME, None),
            codec.UNREADABLE: (FRAME, None),
            codec.TRAILING_GARBAGE: (TRAILING_GARBAGE, None),
            codec.HEADER_CUT: (HEADER_CUT, None),
            codec.LENGTH_BEYOND: (LENGTH_BEYOND, None),
            codec.ID_TOO_LONG: (RECORD_ID, R),
            codec.SHARD_TOO_LARGE: (SIZE_LIMIT, None),
            codec.TOO_MANY_FRAMES: (SIZE_LIMIT, None),
            codec.TOO_MANY_RECORDS: (SIZE_LIMIT, None),
        }[err.code]
        message, severity = err.message, None
        if err.code == codec.TOO_MANY_RECORDS and sh.bundle_capped:
            message = f"{BUNDLE_CAP}; reading stopped at offset {err.offset}"
        if err.code == codec.SHARD_TOO_LARGE:
            sh.bytes_read = max(sh.bytes_read, err.offset)  # what was decompressed, cut record included
        if err.code == codec.SHARD_TOO_LARGE and sh.bytes_capped:
            message, level, severity = f"{bundle_bytes_cap()}; reading stopped", R, Severity.ERROR
        if inv is SIZE_LIMIT:
            message += "; the kit declined to judge it"
        self.ctx.report(inv, f"{sh.rel}: {message}", file=sh.rel, line=None, seq=None, level=level,
                        severity=severity)

    # -- end ---------------------------------------------------------------------------------
    def finish(self) -> None:
        ctx = self.ctx
        ctx.line = ctx.seq = None
        for sh in self.shards.values():  # the reducer indexes every shard it opens whole
            self._advance_to(sh, None)
            if sh.spill is not None:
                sh.spill.close()
                sh.spill = None
        self._cross_shard_duplicates()
        last = max(self.shards, default=None)
        for sh in self.shards.values():
            if sh.error is not None and sh.error.code == codec.FRAME_TRUNCATED:
                self._truncated(sh, crash=sh.n == last and not self.recording_completed)
        if ctx.wants(UNREFERENCED):
            self._unreferenced()
        if ctx.wants(SHARD_NAME) or ctx.wants(UNREFERENCED):
            self._stray_files()

    def _cross_shard_duplicates(self) -> None:
        """One id in two shards: the reducer indexes shards apart, so only the writer promise breaks."""
        opened = [sh for sh in self.shards.values() if sh.records]
        if len(opened) < 2 or not self.ctx.wants(DUPLICATE_RECORD, W):
            return
        spans = sorted(((sh.base + (min(sh.flags) << PAGE_BITS), sh.base + ((max(sh.flags) + 1) << PAGE_BITS), sh)
                        for sh in opened if sh.flags), key=lambda span: (span[0], span[1], span[2].n))  # never compare shards
        for (lo1, hi1, a), (lo2, hi2, b) in zip(spans, spans[1:]):
            lo, hi = max(lo1, lo2), min(hi1, hi2)
            for p in sorted(b.flags):  # b's pages only: the span between them may be millions of ids
                start = b.base + (p << PAGE_BITS)
                if start + PAGE <= lo or start >= hi:
                    continue
                for n, bits in enumerate(b.flags[p], start):
                    if bits & PRESENT and lo <= n < hi and a.get(n - a.base) & PRESENT:
                        self._duplicate(b, b"", f"payload {ZSTD_SHARDS.payload_id_for(n)} has records in shards {a.n} and {b.n}", W)
        seen: dict[bytes, int] = {}
        for sh in opened:
            for rid in sh.others:
                if rid in seen:
                    self._duplicate(sh, rid, f"payload {_show(rid)} has records in shards {seen[rid]} and {sh.n}", W)
                seen.setdefault(rid, sh.n)

    def _truncated(self, sh: _Shard, crash: bool) -> None:
        err = sh.error
        lost = f"; {_show(err.lost_id)} was being written and is lost" if err is not None and err.lost_id else ""
        after = f", the last {_show(sh.last_id)}" if sh.last_id else ""
        if crash:
            msg = (
                f"{sh.rel} is cut inside its frame (a crash while writing): {sh.records} complete record(s) survive"
                f"{after}{lost}; the reducer replays what survived"
            )
            if self.rollout_ended:  # the writer ended the rollout, then exited before sealing (measured)
                msg += "; the rollout ended first: an interrupted writer may exit before sealing its shard"
            self.ctx.report(
                FRAME_TRUNCATED, msg, file=sh.rel, line=None, seq=None, level=W,
                severity=Severity.WARNING if self.ctx.options.partial_ok or self.rollout_ended else None,
            )
        else:
            why = "the recording completed" if self.recording_completed else f"shard {max(self.shards)} follows it"
            self.ctx.report(
                FRAME_TRUNCATED,
                f"{sh.rel} is cut inside its frame, but {why}: missing footer in payload shard {sh.n} "
                f"({sh.records} complete record(s){after}{lost})",
                file=sh.rel, line=None, seq=None,
            )

    def _unreferenced(self) -> None:
        ctx = self.ctx
        for sh in self.shards.values():
            count, first = 0, None
            for rid, bits in sh.present_ids():
                if not bits & REFERENCED:
                    count += 1
                    first = first or _show(rid)
            if count:
                ctx.report(
                    UNREFERENCED,
                    f"{sh.rel} holds {count} record(s) no event references (the first: {first})",
                    file=sh.rel, line=None, seq=None,
                )

    def _stray_files(self) -> None:
        ctx = self.ctx
        try:
            entries = os.scandir(self.bundle / PAYLOADS)
        except OSError:
            return
        with entries:
            for entry in entries:
                rel = f"{PAYLOADS}/{entry.name}"
                n = ZSTD_SHARDS.shard_of(entry.name)
                if n is not None:
                    if n not in self.shards and ctx.wants(UNREFERENCED):
                        ctx.report(UNREFERENCED, f"shard {rel} is not referenced by any event", file=rel, line=None, seq=None)
                    continue
                ctx.report(
                    SHARD_NAME,
                    f"{rel} is not a shard name ({ZSTD_SHARDS.shard_name_pattern} from {ZSTD_SHARDS.first_shard}); readers never open it",
                    file=rel, line=None, seq=None,
                )


def _clean(sh: _Shard, at: int) -> bool:
    """Whether record ``at`` of the shard's list is free of the digits has_long_digits looks for;
    sets ``clean_to`` past it as far as a window of the records from it is (one scan of the window:
    a space between bodies, which no such run of digits crosses)."""
    bodies: list[bytes] = []
    size = 0
    for item in sh.batch[at : at + CLEAN_WINDOW]:  # as far as the bodies are bytes and within the bytes
        body = item.body if isinstance(item, codec.Record) else None
        if not isinstance(body, bytes) or size > CLEAN_WINDOW_BYTES:
            break
        bodies.append(body)
        size += len(body)
    end = at + len(bodies)
    if has_long_digits(b" ".join(bodies)):
        end = at + next(j for j, body in enumerate(bodies) if has_long_digits(body))
    sh.clean_to = end
    return at < end


def _capture(ref):
    """(status, original_bytes, retained_bytes) of a ref's capture, or None when it has none (complete)."""
    cap = getattr(ref, "capture", None)
    if cap is None:
        return None
    get: Callable[[str], Any]
    if isinstance(cap, dict):
        status = cap.get("status")
        get = cap.get
    else:
        status = getattr(cap, "status", None) or type(cap).__struct_config__.tag
        get = lambda k: getattr(cap, k, None)  # noqa: E731
    if status == "complete":
        return None
    return status, get("original_bytes"), get("retained_bytes")


def _show(rid: bytes | None) -> str:
    if rid is None:
        return ""
    return repr(rid.decode("utf-8", "replace"))[1:-1]
