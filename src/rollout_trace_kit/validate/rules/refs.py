"""Payload references: where they point, what they name, and the files themselves.

The kit never follows a path out of the bundle and never opens anything but
a regular file (a FIFO would block forever), so a hostile ref is a finding,
not a hang or a read of someone else's file.
"""

from __future__ import annotations

import os
import re
import stat
from collections import OrderedDict
from typing import Callable

import msgspec

from ... import files
from ...model.types import STORE_FILES, release_key
from ..catalogue import R, S, W, invariant
from ..context import Context, Where
from ..findings import Severity
from ..lines import (
    HEAD_BYTES, KIT_DEPTH_LIMIT, LoneSurrogate, OverflowingNumber, TooDeepToBuild, json_depth, loads_body, loads_large_body,
    prefix_problem,
)
from .layout import PAYLOADS, irregular
from .ref_sites import compile_sites, refs_at


PATH_CONFINED = invariant(
    "REF.PATH_CONFINED",
    f"A payload path is relative, normalised (no `.`, `..`, empty or backslash segments) and inside `{PAYLOADS}/`, and no symlink takes it out of the bundle.",
    v1=W, v2=W, v3=None,
    source=f"payload.rs: \"Path relative to the trace bundle root\"; writer.rs writes {PAYLOADS}/{{n}}.json",
    notes="The reference reducers open the path joined to the bundle as the OS resolves it (an absolute path, "
    f"`..` or a symlink that lands inside the bundle is read; `{PAYLOADS}/2.json/` is \"Not a directory\"). "
    "The kit opens it the same way when it resolves inside the bundle (a writer-profile finding); "
    "a path that leads out it never reads: for a payload the reducer reads, that finding names the reducer profile.",
)
FILE_EXISTS = invariant(
    "REF.FILE_EXISTS",
    "Every referenced payload file exists.",
    v1=W, v2=W, v3=None,
    source='writer.rs › write_json_payload writes the file before returning the ref; reducer: "open payload {id}"',
    notes="For the payloads the reference reducer opens, a missing file fails the reducer: the finding then names the reducer profile.",
)
REGULAR_FILE = invariant(
    "REF.REGULAR_FILE",
    "A referenced payload is a regular file: not a directory, FIFO, socket or device.",
    v1=W, v2=W, v3=None,
    source="writer.rs › write_json_payload (File::create); the 0.169.0 reducer hangs on a FIFO",
)
PAYLOAD_JSON = invariant(
    "REF.JSON",
    "A referenced payload file holds one valid JSON document.",
    v1=W, v2=W, v3=None,
    source='writer.rs › to_writer_pretty; reducer: "parse payload {id}"',
)
TOO_LARGE = invariant(
    "REF.SIZE_LIMIT",
    "A payload file the kit must parse is no larger than its payload limit (256 MiB unless --max-payload-bytes says otherwise).",
    v1=W, v2=R,
    source="kit limit: bounded memory",
    notes="Past the limit the kit declined to judge the payload: an error in every profile (never 'ok'), and "
    "compat names no reader. So does a payload whose parse would build more than 128 MiB of Python objects "
    "(estimated from its containers and strings, those inside strings not counted; --max-payload-bytes does not "
    "move it): the kit checks its syntax only. A payload whose first bytes already show it is not JSON (valid JSON then NUL "
    "bytes: \"trailing characters\") is REF.JSON instead. Where the reducer does not open the payload (v1 "
    "fields no handler reads), a writer-profile finding.",
    kit_only=True,
    declines=True,
)
NESTING = invariant(
    "REF.NESTING",
    "A payload body nests no deeper than the reference reducer parses it: 127 levels for the kinds serde_json "
    "parses into a value (the body's outer object is 1); the kinds it does not parse, any depth.",
    v1=W, v2=R, v3=R,
    source='serde_json: "recursion limit exceeded" ("parse payload {id}"); the limit of each kind is measured '
    "(model: Dialect.body_depth_limits; a runtime body's by its runtime's kind, runtime_depth_limits, or with "
    "`--release` that release's measured reducer.runtime_depths; an accepted history item's by its ref field, "
    "field_depth_limits; a multi-agent call's invocation, when its activity reads it, deferred_depth_limits)",
    notes="Where the reducer does not open the payload (v1 fields no handler reads), a writer-profile finding.",
)
ID_CONSISTENT = invariant(
    "REF.ID_CONSISTENT",
    "A raw_payload_id always names the same path, and a path is named by one raw_payload_id.",
    v1=W, v2=W, v3=None,
    source="writer.rs › write_json_payload: one fresh ordinal per payload",
)
NAMING = invariant(
    "REF.NAMING",
    f"Payload ids are `raw_payload:{{n}}` (n >= 1) and live at `{PAYLOADS}/{{n}}.json`.",
    v1=W, v2=W, v3=None,
    source="writer.rs › write_json_payload",
)
KIND = invariant(
    "REF.KIND",
    "A ref's kind is the one writers use for its field (inference_started.request_payload is inference_request, and so on).",
    v1=S, v2=S,
    source="producers in thread.rs/inference.rs (upstream-rules A.4); the reducer never checks kind",
)
KIND_CHECKED = invariant(
    "REF.KIND_CHECKED",
    "A ref whose kind the reference reducer checks (model: Field.kind_checked_since) has the kind writers use there: "
    "0.171.0 rejects an inference start whose request or prepared prompt ref has another kind.",
    v1=None, v2=None, v3=R,
    source='0.171.0 reducer: "inference {id} has mislabeled request evidence" (measured; 0.169.0 and 0.169.1 accept it)',
)
ORPHAN = invariant(
    "REF.ORPHAN",
    f"Every file in `{PAYLOADS}/` is referenced by some event.",
    v1=S, v2=S, v3=None,
    source="writer is best-effort: a payload whose event failed to append is orphaned (upstream-rules D.2)",
    severity=Severity.WARNING,
)

# Parsing builds Python objects far larger than the bytes (`[{},{},...]`: about 25x). A
# payload whose estimated parse cost is over this is checked as JSON without building it.
PARSE_BUDGET = 128 * 1024 * 1024
# Parsed payloads kept for the next ref that names the same file (so 1,000 refs to one
# file read and parse it once); the most recent is kept whatever its size.
CACHE_BUDGET = 64 * 1024 * 1024
CACHE_ENTRIES = 64


_STRING = re.compile(rb'"[^"\\]*+(?:\\.[^"\\]*+)*+"')  # a JSON string (unrolled: no per-character alternation)


def parse_cost(data: bytes) -> int:
    """Rough bytes of Python objects parsing ``data`` builds (containers, strings, the rest). Brackets and
    quotes inside strings build nothing: over the budget by the quick count, they are counted again outside
    strings (a 20 MB string of `{` is no 20 million objects)."""
    cost = 2 * len(data) + 72 * (data.count(b"{") + data.count(b"[")) + 28 * data.count(b'"')
    if cost <= PARSE_BUDGET:
        return cost
    bare = _STRING.sub(b'""', data)
    return 2 * len(data) + 72 * (bare.count(b"{") + bare.count(b"[")) + 28 * bare.count(b'"')


class _Load:
    """What reading one payload file gave: a body, or why there is none."""

    __slots__ = ("body", "problem", "detail", "cost", "depth", "surrogate", "overflow")

    def __init__(self, body=None, problem: str | None = None, detail: str = "", cost: int = 0, depth: int = 0):
        self.body = body
        self.depth = depth  # how deep the body nests (0 when it cannot pass any body depth limit)
        self.surrogate = False  # valid JSON but for a lone surrogate: only a reducer that parses the kind fails
        self.overflow = False  # holds a number beyond f64: releases whose serde_json refuses it fail (number_range)
        self.problem = problem  # None, "missing", "unreadable", "irregular", "too_large", "json", "unparsed"
        self.detail = detail
        self.cost = cost


_UNPARSED = object()  # valid JSON, too costly to build: its body is not checked
# orjson holds about 13x a large input while it parses (its value pool); msgspec holds only what
# it builds. A body from this size on takes msgspec, and is built only within PARSE_BUDGET.
LARGE_BODY = 1 << 20


def loads_by_size(data, long_digits: bool | None = None):
    """``data`` parsed by :func:`loads_body`, or from LARGE_BODY bytes on by :func:`loads_large_body`
    (``long_digits``: as loads_body's)."""
    return loads_large_body(data) if len(data) >= LARGE_BODY else loads_body(data, long_digits)


def parse_bounded(data):
    """``data`` parsed, or _UNPARSED for valid JSON too costly to build. Raises what
    :func:`loads_by_size` raises."""
    if len(data) >= LARGE_BODY and parse_cost(data) > PARSE_BUDGET:
        msgspec.json.decode(data, type=msgspec.Raw)  # the syntax, without building anything
        return _UNPARSED
    return loads_by_size(data)


def body_depth(data: bytes, body, limits: tuple[int, int]) -> int:
    """How deep a parsed body nests, as far as the (shallowest, deepest) limits need: 0 when
    it has too few brackets to pass any."""
    if data.count(b"[") + data.count(b"{") <= limits[0]:
        return 0
    return json_depth(body, limits[1])


def depth_limit_of(dialect) -> Callable[[str], int | None]:
    """``dialect.body_depth_limit`` as one dict lookup (it is asked once per payload body)."""
    table: dict[str, int] = {}
    for kind, depth in dialect.body_depth_limits:
        table.setdefault(kind, depth)  # the model's first entry for a kind wins, as body_depth_limit reads it
    return table.get


def depth_limits(dialect) -> tuple[int, int]:
    """(shallowest, deepest) body depth limit of the dialect's kinds."""
    depths = [d for _, d in dialect.body_depth_limits] or [KIT_DEPTH_LIMIT]
    return min(depths), max(depths)


def report_depth(ctx: Context, rid: str, kind: str, depth: int, limit: int, pointer: str, level) -> None:
    deeper = f"more than {KIT_DEPTH_LIMIT}" if depth > KIT_DEPTH_LIMIT else f"at least {depth}"
    ctx.report(
        NESTING,
        f"payload {rid} ({kind}) nests {deeper} levels; the reference reducer parses a {kind} body "
        f"no deeper than {limit} (serde_json's recursion limit)",
        pointer=pointer,
        level=level,
    )


def _head_problem(full: str, follow_symlinks: bool) -> str | None:
    """Why the first bytes of a payload too large to read show it is not JSON (valid JSON then
    NUL bytes: "trailing characters"), or None when they do not tell."""
    try:
        with files.open_regular(full, follow_symlinks=follow_symlinks) as f:
            head = f.read(HEAD_BYTES)
    except OSError:
        return None
    return prefix_problem(head)


def check_kind(ctx: Context, ref, tag: str, field, pointer: str) -> None:
    kind = ref.kind.type
    if field.payload_kinds and kind not in field.payload_kinds:
        if _kind_checked(ctx, field):
            ctx.report(
                KIND_CHECKED,
                f"{tag}.{field.name} has kind {kind!r}, not {' or '.join(field.payload_kinds)}: reducers since Codex "
                f"{field.kind_checked_since} reject it (mislabeled evidence)",
                pointer=pointer + "/kind/type",
            )
            return
        ctx.report(
            KIND,
            f"{tag}.{field.name} has kind {kind!r}; writers use {' or '.join(field.payload_kinds)}",
            pointer=pointer + "/kind/type",
        )


def _kind_checked(ctx: Context, field) -> bool:
    """Whether the dialect's reference reducer rejects a ref of another kind in ``field`` (release data)."""
    since = field.kind_checked_since
    return since is not None and ctx.dialect is not None and release_key(since) <= release_key(ctx.dialect.reference_release)


def confinement_problem(path: str) -> str | None:
    if not path:
        return "is empty"
    if path.startswith("/") or re.match(r"[A-Za-z]:", path) or path.startswith("\\"):
        return "is absolute"
    if "\\" in path:
        return "uses backslashes"
    if "\x00" in path:
        return "contains a NUL byte"
    parts = path.split("/")
    if ".." in parts:
        return "climbs out with '..'"
    if any(p in ("", ".") for p in parts):
        return NOT_NORMALISED
    if parts[0] != PAYLOADS or len(parts) < 2:
        return f"is not inside {PAYLOADS}/"
    return None


NOT_NORMALISED = "is not normalised"


def _safe_to_read(problem: str | None) -> bool:
    """Paths that stay inside the bundle once the OS resolves them (symlinks are checked after)."""
    return problem is None or problem == NOT_NORMALISED or problem.startswith("is not inside")


def _ordinal_pattern(pattern: str) -> re.Pattern:
    """A regex matching what a Layout pattern (holding ``{n}``) gives for a canonical n >= 1
    (at most 4,000 digits, as Layout's own parser)."""
    prefix, _, suffix = pattern.partition("{n}")
    return re.compile(re.escape(prefix) + r"([1-9][0-9]{0,3999})" + re.escape(suffix))


def _opened_by_release(release: str | None) -> dict[tuple[str, str, str | None], bool]:
    if release is None:
        return {}
    from ...model import releases
    from .release import payloads_opened

    rel = releases.release(release)
    return payloads_opened(rel) if rel is not None and rel.record is not None else {}


class PayloadDir:
    """``payloads/`` listed once: which canonical ``{n}.json`` names are plain regular files.

    A ref to one of those needs no ``realpath`` (the directory is a real one inside the
    bundle and the file is not a symlink); any other ref takes the careful path.
    """

    def __init__(self, bundle, layout):
        self.regular: set = set()  # ordinals of regular, non-symlink payload files
        self.others: list[str] = []  # every other entry name
        self.symlink_target: str | None = None  # payloads/ itself is a symlink (to this)
        self.listed = False
        folder = os.path.join(bundle, PAYLOADS)
        try:
            st = os.lstat(folder)
        except OSError:
            return
        if stat.S_ISLNK(st.st_mode):
            try:
                self.symlink_target = os.readlink(folder)
            except OSError:
                self.symlink_target = "?"
            return
        if not stat.S_ISDIR(st.st_mode):
            return
        # Layout.file_ordinal's answer as one regex match (60,000 names cost 0.1 s the other way),
        # on the entry's name itself when the pattern's folder is payloads/ (no string built per name)
        inside = layout.payload_file.startswith(PAYLOADS + "/") and "/" not in layout.payload_file[len(PAYLOADS) + 1 :]
        match = _ordinal_pattern(layout.payload_file[len(PAYLOADS) + 1 :] if inside else layout.payload_file).fullmatch
        try:
            with os.scandir(folder) as entries:
                for entry in entries:
                    m = match(entry.name if inside else f"{PAYLOADS}/{entry.name}")
                    n = int(m.group(1)) if m is not None else None
                    if n is not None and entry.is_file(follow_symlinks=False):
                        self.regular.add(n)
                    else:
                        self.others.append(entry.name)
        except OSError:
            return
        self.listed = True


# Read-ahead (a second core): one thread reads the payload files named by the next events while
# the checks run; each read is the same read_capped call the checker would make, handed over.
AHEAD_EVENTS = 128  # events per read-ahead chunk; at most two chunks are read ahead
AHEAD_FILES = 512  # files per chunk at most
AHEAD_FILE_BYTES = 16 << 10  # larger files are read when checked (the read-ahead holds <= 16 MiB)


class AheadPlan:
    """Which payload files a run of events names that may be read ahead: canonical paths of plain
    regular files of the real ``payloads/`` directory (as listed once), the same paths the checker
    then reads with ``read_capped(..., follow_symlinks=False)``. The read-ahead thread and the
    worker process (validate/ahead.py) both choose by it."""

    def __init__(self, dialect, bundle_str: str, file_re: "re.Pattern | None", listing: "Callable[[], PayloadDir]"):
        self.dialect = dialect
        self.root = bundle_str + os.sep
        self.file_re = file_re
        self.listing = listing
        self.fields: dict[str, tuple] = {}  # variant -> its ref fields

    @classmethod
    def for_bundle(cls, dialect, bundle_str: str) -> "AheadPlan":
        """A plan that lists ``payloads/`` itself when first asked (in the process that reads)."""
        listed: list[PayloadDir] = []

        def listing() -> PayloadDir:
            if not listed:
                listed.append(PayloadDir(bundle_str, dialect.layout))
            return listed[0]

        return cls(dialect, bundle_str, _ordinal_pattern(dialect.layout.payload_file), listing)

    def paths(self, events, tag_of) -> list[str]:
        fields_of = self.fields
        for cls in {ev.payload.__class__ for ev in events}:  # events with no ref field (turns) walk no further
            tag = tag_of[cls]
            if tag not in fields_of:
                fields_of[tag] = tuple(f.name for f in self.dialect.ref_fields(tag))
            if fields_of[tag]:
                break
        else:
            return []
        regular = self.listing().regular
        file_re = self.file_re
        root = self.root
        paths: list[str] = []
        for ev in events:
            p = ev.payload
            tag = tag_of[type(p)]
            fields = self.fields.get(tag)
            if fields is None:
                fields = self.fields[tag] = tuple(f.name for f in self.dialect.ref_fields(tag))
            for name in fields:
                value = getattr(p, name, None)
                for ref in value if isinstance(value, list) else (value,):
                    path = getattr(ref, "path", None)
                    if path is not None and file_re is not None:
                        m = file_re.fullmatch(path)
                        if m is not None and int(m.group(1)) in regular:
                            paths.append(root + path)
            if len(paths) >= AHEAD_FILES:
                break
        return paths


class ReadAhead:
    """Payload files of events about to be checked, read by one worker thread."""

    def __init__(self, checker: "RefChecker"):
        from concurrent.futures import ThreadPoolExecutor

        self.checker = checker
        self.pool = ThreadPoolExecutor(1, thread_name_prefix="rollout-trace-read-ahead")
        self.plan = checker.ahead_plan()
        self.chunks: list = []  # futures of {full path: Read} (None: nothing to read), oldest first
        self.ready: dict[str, files.Read] = {}

    def submit(self, events, tag_of) -> None:
        """Queue the reads of the canonical, plainly listed payload files these events name."""
        paths = self.plan.paths(events, tag_of)
        # No file to read (a chunk of turns only): no hand-off to the worker, whose round trip
        # through the GIL costs more than the chunk's checks (most on a loaded machine)
        self.chunks.append(
            self.pool.submit(read_many, paths, min(self.checker.ctx.options.max_payload_bytes, AHEAD_FILE_BYTES))
            if paths else None
        )

    def next_chunk(self) -> None:
        """The checks move to the oldest chunk's events: wait for its reads (what is left of
        the chunk before is dropped)."""
        chunk = self.chunks.pop(0) if self.chunks else None
        self.ready = chunk.result() if chunk is not None else {}

    def take(self, full: str) -> tuple[files.Read, bool | None] | None:
        """The read of ``full`` if it was read ahead for the current chunk (once), else None; with it,
        no answer of has_long_digits (this thread reads, the checks scan)."""
        got = self.ready.pop(full, None)
        return None if got is None else (got, None)

    def close(self) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)
        self.chunks.clear()
        self.ready = {}


class Shipped:
    """Payload files the worker process read ahead for one run of events (the ReadAhead interface):
    full path -> the fields of its files.Read, then has_long_digits of its bytes (or None), which
    the worker answered while the checks ran (about a tenth of the checking process's time on
    small bodies: the regex costs as much as the parse)."""

    def __init__(self, reads: dict[str, tuple]):
        self.ready = reads

    def take(self, full: str) -> tuple[files.Read, bool | None] | None:
        """The read of ``full`` and has_long_digits of its bytes, if the worker read it, else None."""
        fields = self.ready.pop(full, None)
        return None if fields is None else (files.Read(*fields[:4]), fields[4])

    def close(self) -> None:
        self.ready = {}


def reads_files(ctx: Context) -> bool:
    """Whether the check reads payload files: a file store, in the writer profile or for a reducer
    that opens every ref (RefChecker.check_files, every_ref_read)."""
    d = ctx.dialect
    return d is not None and d.layout.store == STORE_FILES and (ctx.profile >= W or d.reducer_reads_every_ref)


def read_many(paths: list[str], cap: int) -> dict[str, files.Read]:
    """Payload files the listing showed regular (AheadPlan.paths), read as the checks read them."""
    out = {}
    for full in paths:
        got = files.read_listed(full, cap)
        if got.why != files.TOO_LARGE:  # over the read-ahead's cap: the checker reads it itself
            out[full] = got
    return out


def _unread(got: files.Read, full: str, follow_symlinks: bool, limit: int) -> _Load:
    """Why a payload file gave no bytes to parse, as a _Load."""
    if got.why == files.MISSING:
        return _Load(problem="missing", detail=got.problem or "")
    if got.why == files.IRREGULAR:
        return _Load(problem="irregular", detail=irregular(got.problem or ""))
    if got.why == files.TOO_LARGE:
        size = str(got.size) if got.size > limit else f"more than {limit}"
        problem = _head_problem(full, follow_symlinks)
        if problem is not None:  # no need to read further: every reader fails on its first bytes
            return _Load(problem="json", detail=f"{problem} (in its first bytes; the file is {size} bytes)")
        return _Load(problem="too_large", detail=size)
    return _Load(problem="unreadable", detail=got.problem or "unreadable")


class RefChecker:
    """Checks every ref of every event; remembers ids and paths to catch reuse."""

    def __init__(self, ctx: Context):
        self.ctx = ctx
        self.bundle = ctx.bundle
        self.bundle_str = str(ctx.bundle)
        self.bundle_real = os.path.realpath(ctx.bundle)
        # Ids are keyed by their value: canonical ordinals (raw_payload:n <-> payloads/n.json)
        # in a set, so memory follows the refs, never the size of an id.
        self.canonical_seen: set = set()
        self.id_to_path: dict[str, str] = {}  # non-canonical refs only
        self.path_to_id: dict[str, str] = {}
        # id -> path of its latest ref, for ids with a non-canonical ref (a later read by id goes there)
        self.last_path: dict[str, str] = {}
        self.check_files = ctx.profile >= W
        # v2's reducer opens every referenced payload by the end of the replay; v1's only
        # the ones its handlers read (model: Dialect.reducer_reads_every_ref, Field.read)
        assert ctx.dialect is not None  # the pass over events starts once the dialect is known
        self.every_ref_read = ctx.dialect.reducer_reads_every_ref
        # (variant, field, call's tool kind or None) -> whether `--release`'s reducer opens the payload there
        # (measured; release data)
        self.opened = _opened_by_release(ctx.options.release)
        self.overflow = False  # the body :meth:`check` last returned holds a number beyond f64
        self.layout = ctx.dialect.layout  # payload ids and file names (model Layout)
        # The same answers as Layout.id_ordinal / file_ordinal, as one regex match each (hot path).
        self._id_re = _ordinal_pattern(self.layout.payload_id)
        self._file_re = _ordinal_pattern(self.layout.payload_file) if self.layout.store == STORE_FILES else None
        # A canonical ref's path is the file pattern around its id's digits: one comparison, not a second match.
        self._file_prefix, _, self._file_suffix = self.layout.payload_file.partition("{n}")
        self._root = self.bundle_str + os.sep
        self._dir: PayloadDir | None = None
        self.depth_limit = depth_limit_of(ctx.dialect)  # the deepest body of a kind its reducer parses
        self.depth_limits = depth_limits(ctx.dialect)
        self._loads: OrderedDict[str, _Load] = OrderedDict()  # recent payload reads, by path
        self._cached_cost = 0
        self.ahead: ReadAhead | Shipped | None = None  # set by the engine when a second core pays
        self.sites = compile_sites(ctx.dialect)  # where the model puts refs, per variant
        self.checked: set[int] = set()  # id() of the refs of this event already checked (by a handler)

    # -- every ref of an event, from the model ------------------------------------------
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
                        self.check(ref, tag, field, pointer, read)
                    continue
                for ref, pointer in refs_at(payload, steps):
                    if id(ref) not in checked:
                        self.check(ref, tag, field, pointer, read)
        if self.checked:
            self.checked.clear()

    def ahead_plan(self) -> AheadPlan:
        return AheadPlan(self.ctx.dialect, self.bundle_str, self._file_re, lambda: self.payload_dir)

    def adopt_listing(self, listing: PayloadDir) -> None:
        """Take the worker process's listing of ``payloads/`` (the one its reads followed), unless
        this process listed it already."""
        if self._dir is None:
            self._dir = listing

    @property
    def payload_dir(self) -> PayloadDir:
        if self._dir is None:
            self._dir = PayloadDir(self.bundle_str, self.layout)
        return self._dir

    def _id_ordinal(self, rid: str) -> int | None:
        m = self._id_re.fullmatch(rid)
        return int(m.group(1)) if m else None

    def _file_ordinal(self, path: str) -> int | None:
        m = self._file_re.fullmatch(path) if self._file_re is not None else None
        return int(m.group(1)) if m else None

    # -- identity ----------------------------------------------------------------
    def identity(self, rid: str, path: str, pointer: str):
        """Check the id and path of a ref; return its canonical ordinal key, or None."""
        m = self._id_re.fullmatch(rid)
        if m is not None and self._file_re is not None:
            digits = m.group(1)
            # _file_ordinal(path) == the id's ordinal, as one comparison (canonical digits are unique)
            if path == self._file_prefix + digits + self._file_suffix:
                ni = int(digits)
                self.canonical_seen.add(ni)
                if self.id_to_path and (rid in self.id_to_path or path in self.path_to_id):
                    self._conflict(rid, path, pointer)
                return ni
        return self._identity(rid, path, pointer)

    def _identity(self, rid: str, path: str, pointer: str):
        ctx = self.ctx
        layout = self.layout
        ni, np_ = self._id_ordinal(rid), self._file_ordinal(path)
        if ni is not None and ni == np_:
            self.canonical_seen.add(ni)
            if self.id_to_path and (rid in self.id_to_path or path in self.path_to_id):
                self._conflict(rid, path, pointer)
            return ni
        if ctx.wants(NAMING):
            ctx.report(
                NAMING,
                f"ref {rid!r} -> {path!r}: writers name payloads {layout.payload_id} at {layout.payload_file}",
                pointer=pointer,
            )
        # A non-canonical ref clashes with a canonical one of the same id or path.
        for n in (ni, np_):
            if n is not None and n in self.canonical_seen:
                self._conflict_msg(
                    pointer, f"ref {rid!r} -> {path!r} reuses {layout.payload_id_for(n)} / {layout.file_for(n=n)}"
                )
                break
        self._conflict(rid, path, pointer)
        return None

    def _conflict(self, rid: str, path: str, pointer: str) -> None:
        # every ref of an id with a non-canonical ref comes here (identity's fast path too): keep its last path
        self.last_path[rid] = path
        old_path = self.id_to_path.setdefault(rid, path)
        old_id = self.path_to_id.setdefault(path, rid)
        if old_path != path:
            self._conflict_msg(pointer, f"{rid} names {path!r} here but {old_path!r} before")
        if old_id != rid:
            self._conflict_msg(pointer, f"{path!r} is named {rid} here but {old_id} before")

    def _conflict_msg(self, pointer: str, message: str) -> None:
        self.ctx.report(ID_CONSISTENT, message, pointer=pointer)

    def as_read_later(self, ref):
        """``ref`` as a reducer that reads it later by its id finds it: at the path of the id's last ref
        (model/bodies.py: DEFERRED_READ_BY_LAST_REF), or None when that is ``ref``'s own path."""
        path = self.last_path.get(ref.raw_payload_id)
        if path is None or path == ref.path:
            return None
        return msgspec.structs.replace(ref, path=path)

    # -- one ref ---------------------------------------------------------------------
    def check(self, ref, tag: str, field, pointer: str, read_by_reducer: bool, null_body=None,
              tool_kind: str | None = None, again: bool = False, by_kind: bool = True):
        """Check one RawPayloadRef; return the parsed payload when it was read, else None
        (a payload that is JSON ``null`` is returned as ``null_body``). ``tool_kind``: the kind of the
        tool call the event names (where `--release`'s reducer opens a payload by it; ``by_kind`` False:
        the model's read stands, the measurement did not cover the case). ``again``: a ref
        checked at its own event, read later (its id, path and kind are not checked twice)."""
        ctx = self.ctx
        self.checked.add(id(ref))
        self.overflow = False
        wants_body = read_by_reducer
        read_by_reducer = read_by_reducer or self.every_ref_read
        if self.opened and by_kind and not self.opened.get((tag, field.name, tool_kind), self.opened.get((tag, field.name, None), True)):
            read_by_reducer = wants_body = False  # `--release`'s reducer never opens it (measured): no body to check
        if again:
            key = self._file_ordinal(ref.path)  # the file a listed ordinal names is the path itself
        else:
            key = self.identity(ref.raw_payload_id, ref.path, pointer)
            kinds = field.payload_kinds
            if kinds and ref.kind.type not in kinds:  # check_kind's question, asked here first (a hot call)
                check_kind(ctx, ref, tag, field, pointer)
        if not (read_by_reducer or self.check_files):
            return None
        if key is not None and key in (self._dir or self.payload_dir).regular:
            # Listed as a plain file of the real payloads/ directory: inside the bundle.
            load = self._load(self._root + ref.path, False)
        else:
            full = self._locate(ref, pointer, read_by_reducer)
            if full is None:
                return None
            load = self._load(full, True)
        limit = self.depth_limit(ref.kind.type)
        if load.surrogate and (limit is not None or not read_by_reducer):
            # a kind the reducer parses (or a payload only writers promise): the surrogate is an error
            ctx.report(PAYLOAD_JSON, f"{ref.raw_payload_id}: {ref.path} is not valid JSON: a lone UTF-16 surrogate "
                       "in a \\u escape", file=ref.path, pointer=pointer + "/path", level=R if read_by_reducer else None)
            return None
        if limit is not None and load.depth > limit:
            report_depth(ctx, ref.raw_payload_id, ref.kind.type, load.depth, limit, pointer, R if read_by_reducer else W)
            return None
        if load.problem is None:
            if not wants_body and not read_by_reducer and self.opened:
                return None
            self.overflow = load.overflow
            return null_body if load.body is None else load.body
        self._report_load(load, ref, pointer, R if read_by_reducer else None, wants_body)
        return None

    def _locate(self, ref, pointer: str, read_by_reducer: bool) -> str | None:
        """The file a ref names, as the reducer opens it, or None (reported) when the kit must not read it.

        The reducers open ``bundle.join(path)`` as it is (measured on 0.164.0 and 0.169.0): an
        absolute path replaces the bundle, and the OS resolves `..` and symlinks one component
        at a time, so `payloads/nodir/../2.json` and `payloads/2.json/` ("Not a directory")
        fail while `payloads/../payloads/2.json` or an absolute path into the bundle are read.
        The kit opens the same path when it resolves inside the bundle: the open then either
        reads that file or fails as the reducer's does; a path leading elsewhere it never reads.
        """
        path = ref.path
        problem = confinement_problem(path)
        inside = "\x00" not in path
        full = os.path.join(self.bundle_str, path) if inside else None
        if full is not None:
            real = os.path.realpath(full)
            inside = real.startswith(self.bundle_real + os.sep)
            if not inside and _safe_to_read(problem):
                problem = "leaves the bundle through a symlink"
        if problem is not None:
            unread = read_by_reducer and not inside
            suffix = "; the reference reducer would read outside the bundle, the kit does not" if unread else ""
            self.ctx.report(
                PATH_CONFINED,
                f"{ref.raw_payload_id} path {path!r} {problem}{suffix}",
                pointer=pointer + "/path",
                level=R if unread else None,
            )
        return full if inside else None

    def _load(self, full: str, follow_symlinks: bool) -> _Load:
        """Read and parse one file, once for as long as it stays in the cache."""
        cached = self._loads.get(full)
        if cached is not None:
            self._loads.move_to_end(full)
            return cached
        load = self._read(full, follow_symlinks)
        self._loads[full] = load
        self._cached_cost += load.cost
        while len(self._loads) > 1 and (self._cached_cost > CACHE_BUDGET or len(self._loads) > CACHE_ENTRIES):
            _, old = self._loads.popitem(last=False)
            self._cached_cost -= old.cost
        return load

    def _read(self, full: str, follow_symlinks: bool) -> _Load:
        limit = self.ctx.options.max_payload_bytes
        ahead = self.ahead.take(full) if self.ahead is not None and not follow_symlinks else None
        got, long_digits = ahead or (files.read_capped(full, limit, follow_symlinks=follow_symlinks, keep_prefix=False), None)
        data = got.data
        if got.why is not None or data is None:
            return _unread(got, full, follow_symlinks, limit)
        cost = parse_cost(data) if len(data) * 74 > PARSE_BUDGET else 2 * len(data)
        if cost > PARSE_BUDGET:
            # Check the syntax without building anything.
            try:
                msgspec.json.decode(data, type=msgspec.Raw)
            except msgspec.DecodeError as e:
                return _Load(problem="json", detail=str(e))
            return _Load(problem="unparsed", detail=str(cost), cost=0)
        try:
            body = loads_by_size(data, long_digits)
        except LoneSurrogate as e:
            load = _Load(e.value, cost=cost, depth=body_depth(data, e.value, self.depth_limits))
            load.surrogate = True
            return load
        except OverflowingNumber as e:
            load = _Load(e.value, cost=cost, depth=body_depth(data, e.value, self.depth_limits))
            load.overflow = True
            return load
        except TooDeepToBuild:
            return _Load(problem="deep", cost=0, depth=KIT_DEPTH_LIMIT + 1)
        except (ValueError, msgspec.DecodeError, RecursionError) as e:
            return _Load(problem="json", detail=str(e))
        return _Load(body, None, "", cost, body_depth(data, body, self.depth_limits))  # positional: a hot call

    def _report_load(self, load: _Load, ref, pointer: str, level, wants_body: bool) -> None:
        ctx, rid, path = self.ctx, ref.raw_payload_id, ref.path
        where = pointer + "/path"
        if load.problem == "missing":
            ctx.report(FILE_EXISTS, f"{rid}: {path} {files.lacks(load.detail)}", pointer=where, level=level)
        elif load.problem == "unreadable":
            ctx.report(FILE_EXISTS, f"{rid}: {path} is {load.detail}", pointer=where, level=level)
        elif load.problem == "irregular":
            ctx.report(REGULAR_FILE, f"{rid}: {path} is {load.detail}", pointer=where, level=level)
        elif load.problem == "too_large":
            ctx.report(
                TOO_LARGE,
                f"{rid}: {path} is {load.detail} bytes, over the kit's payload limit; not parsed: the kit declined to judge it",
                pointer=where, level=level if level is not None else W,
            )
        elif load.problem == "json":
            ctx.report(PAYLOAD_JSON, f"{rid}: {path} is not valid JSON: {load.detail}", file=path, pointer=where, level=level)
        elif load.problem == "deep" and wants_body:
            ctx.report(
                TOO_LARGE,
                f"{rid}: {path} is valid JSON nesting more than {KIT_DEPTH_LIMIT} levels, deeper than the kit's "
                "parsers build; its body was not checked: the kit declined to judge it",
                pointer=where, level=level if level is not None else W,
            )
        elif load.problem == "unparsed" and wants_body:
            ctx.report(
                TOO_LARGE,
                f"{rid}: {path} is valid JSON, but parsing it would take about {int(load.detail) >> 20} MiB; "
                "its body was not parsed or checked: the kit declined to judge it",
                pointer=where, level=level if level is not None else W,
            )

    # -- end -----------------------------------------------------------------------------
    def finish(self) -> None:
        ctx = self.ctx
        if self.ahead is not None:
            self.ahead.close()
            self.ahead = None
        if not ctx.wants(ORPHAN) and not ctx.wants(PATH_CONFINED):
            return
        listing = self.payload_dir
        here: Where = dict(file=PAYLOADS, line=None, seq=None)
        if listing.symlink_target is not None:
            # Never followed: its files are not the bundle's, and it may lead anywhere.
            ctx.report(
                PATH_CONFINED,
                f"{PAYLOADS}/ is a symlink (to {listing.symlink_target!r}), not a directory of the bundle; "
                "the kit does not follow it",
                **here,
            )
            return
        if not ctx.wants(ORPHAN) or not listing.listed:
            return
        named = self.path_to_id
        names = [self.layout.file_for(n=n) for n in listing.regular if n not in self.canonical_seen]
        names = [rel for rel in names if rel not in named] if named else names
        for name in listing.others:
            rel = f"{PAYLOADS}/{name}"
            n = self.layout.file_ordinal(rel)
            if n is not None and n in self.canonical_seen:
                continue
            if rel not in named:
                names.append(rel)
        for rel in sorted(names, key=lambda n: (len(n), n)):
            ctx.report(ORPHAN, f"{rel} is not referenced by any event", file=rel, line=None, seq=None)
