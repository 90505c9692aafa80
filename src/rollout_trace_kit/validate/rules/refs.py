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

import msgspec
import orjson

from ... import files
from ...model.types import STORE_FILES
from ..catalogue import R, S, W, invariant
from ..context import Context, Where
from ..findings import Severity
from .layout import PAYLOADS, irregular


PATH_CONFINED = invariant(
    "REF.PATH_CONFINED",
    "A payload path is relative, normalised (no `.`, `..`, empty or backslash segments) and inside `payloads/`, and no symlink takes it out of the bundle.",
    v1=W, v2=W, v3=None,
    source="payload.rs: \"Path relative to the trace bundle root\"; writer.rs writes payloads/{n}.json",
    notes="The reference reducers join the path to the bundle and read wherever it points; the kit never does. "
    "For a payload the reducer reads, the finding names the reducer profile.",
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
    v1=W, v2=W,
    source="kit limit: bounded memory",
    severity=Severity.WARNING,
    kit_only=True,
)
ID_CONSISTENT = invariant(
    "REF.ID_CONSISTENT",
    "A raw_payload_id always names the same path, and a path is named by one raw_payload_id.",
    v1=W, v2=W, v3=None,
    source="writer.rs › write_json_payload: one fresh ordinal per payload",
)
NAMING = invariant(
    "REF.NAMING",
    "Payload ids are `raw_payload:{n}` (n >= 1) and live at `payloads/{n}.json`.",
    v1=W, v2=W, v3=None,
    source="writer.rs › write_json_payload",
)
KIND = invariant(
    "REF.KIND",
    "A ref's kind is the one writers use for its field (inference_started.request_payload is inference_request, and so on).",
    v1=S, v2=S,
    source="producers in thread.rs/inference.rs (upstream-rules A.4); the reducer never checks kind",
)
ORPHAN = invariant(
    "REF.ORPHAN",
    "Every file in `payloads/` is referenced by some event.",
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


def parse_cost(data: bytes) -> int:
    """Rough bytes of Python objects parsing ``data`` builds (containers, strings, the rest)."""
    return 2 * len(data) + 72 * (data.count(b"{") + data.count(b"[")) + 28 * data.count(b'"')


class _Load:
    """What reading one payload file gave: a body, or why there is none."""

    __slots__ = ("body", "problem", "detail", "cost")

    def __init__(self, body=None, problem: str | None = None, detail: str = "", cost: int = 0):
        self.body = body
        self.problem = problem  # None, "missing", "unreadable", "irregular", "too_large", "json", "unparsed"
        self.detail = detail
        self.cost = cost


_UNPARSED = object()  # valid JSON, too costly to build: its body is not checked


def check_kind(ctx: Context, ref, tag: str, field, pointer: str) -> None:
    kind = ref.kind.type
    if field.payload_kinds and kind not in field.payload_kinds:
        ctx.report(
            KIND,
            f"{tag}.{field.name} has kind {kind!r}; writers use {' or '.join(field.payload_kinds)}",
            pointer=pointer + "/kind/type",
        )


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
        try:
            with os.scandir(folder) as entries:
                for entry in entries:
                    n = layout.file_ordinal(f"{PAYLOADS}/{entry.name}")
                    if n is not None and entry.is_file(follow_symlinks=False):
                        self.regular.add(n)
                    else:
                        self.others.append(entry.name)
        except OSError:
            return
        self.listed = True


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
        self.check_files = ctx.profile >= W
        # v2's reducer opens every referenced payload by the end of the replay; v1's only
        # the ones its handlers read (model: Dialect.reducer_reads_every_ref, Field.read)
        assert ctx.dialect is not None  # the pass over events starts once the dialect is known
        self.every_ref_read = ctx.dialect.reducer_reads_every_ref
        self.layout = ctx.dialect.layout  # payload ids and file names (model Layout)
        # The same answers as Layout.id_ordinal / file_ordinal, as one regex match each (hot path).
        self._id_re = _ordinal_pattern(self.layout.payload_id)
        self._file_re = _ordinal_pattern(self.layout.payload_file) if self.layout.store == STORE_FILES else None
        self._dir: PayloadDir | None = None
        self._loads: OrderedDict[str, _Load] = OrderedDict()  # recent payload reads, by path
        self._cached_cost = 0

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
        old_path = self.id_to_path.setdefault(rid, path)
        old_id = self.path_to_id.setdefault(path, rid)
        if old_path != path:
            self._conflict_msg(pointer, f"{rid} names {path!r} here but {old_path!r} before")
        if old_id != rid:
            self._conflict_msg(pointer, f"{path!r} is named {rid} here but {old_id} before")

    def _conflict_msg(self, pointer: str, message: str) -> None:
        self.ctx.report(ID_CONSISTENT, message, pointer=pointer)

    # -- one ref ---------------------------------------------------------------------
    def check(self, ref, tag: str, field, pointer: str, read_by_reducer: bool, null_body=None):
        """Check one RawPayloadRef; return the parsed payload when it was read, else None
        (a payload that is JSON ``null`` is returned as ``null_body``)."""
        ctx = self.ctx
        wants_body = read_by_reducer
        read_by_reducer = read_by_reducer or self.every_ref_read
        key = self.identity(ref.raw_payload_id, ref.path, pointer)
        check_kind(ctx, ref, tag, field, pointer)
        if not (read_by_reducer or self.check_files):
            return None
        if key is not None and key in self.payload_dir.regular:
            # Listed as a plain file of the real payloads/ directory: inside the bundle.
            load = self._load(self.bundle_str + os.sep + ref.path, False)
        else:
            full = self._locate(ref, pointer, read_by_reducer)
            if full is None:
                return None
            load = self._load(full, True)
        if load.problem is None:
            return null_body if load.body is None else load.body
        self._report_load(load, ref, pointer, R if read_by_reducer else None, wants_body)
        return None

    def _locate(self, ref, pointer: str, read_by_reducer: bool) -> str | None:
        """The file a ref names, resolved, or None (reported) when the kit must not read it."""
        problem = confinement_problem(ref.path)
        # `payloads/./1.json` or `payloads//1.json` stay inside: read them as the OS resolves
        # them; outside payloads/ but inside the bundle is safe too (the reducer reads it).
        safe = _safe_to_read(problem)
        full = None
        if safe:
            full = os.path.realpath(os.path.join(self.bundle_str, ref.path))
            if not full.startswith(self.bundle_real + os.sep):
                problem, safe = "leaves the bundle through a symlink", False
        if problem is not None:
            unread = read_by_reducer and not safe
            suffix = "; the reference reducer would read outside the bundle, the kit does not" if unread else ""
            self.ctx.report(
                PATH_CONFINED,
                f"{ref.raw_payload_id} path {ref.path!r} {problem}{suffix}",
                pointer=pointer + "/path",
                level=R if unread else None,
            )
        return full if safe else None

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
        got = files.read_capped(full, limit, follow_symlinks=follow_symlinks, keep_prefix=False)
        if got.why == files.MISSING:
            return _Load(problem="missing")
        if got.why == files.IRREGULAR:
            return _Load(problem="irregular", detail=irregular(got.problem or ""))
        if got.why == files.TOO_LARGE:
            return _Load(problem="too_large", detail=str(got.size) if got.size > limit else f"more than {limit}")
        if got.data is None:
            return _Load(problem="unreadable", detail=got.problem or "unreadable")
        data = got.data
        cost = parse_cost(data) if len(data) * 74 > PARSE_BUDGET else 2 * len(data)
        if cost > PARSE_BUDGET:
            # Check the syntax without building anything.
            try:
                msgspec.json.decode(data, type=msgspec.Raw)
            except msgspec.DecodeError as e:
                return _Load(problem="json", detail=str(e))
            return _Load(problem="unparsed", detail=str(cost), cost=0)
        try:
            return _Load(orjson.loads(data), cost=cost)
        except orjson.JSONDecodeError as e:
            return _Load(problem="json", detail=str(e))

    def _report_load(self, load: _Load, ref, pointer: str, level, wants_body: bool) -> None:
        ctx, rid, path = self.ctx, ref.raw_payload_id, ref.path
        where = pointer + "/path"
        if load.problem == "missing":
            ctx.report(FILE_EXISTS, f"{rid}: {path} does not exist", pointer=where, level=level)
        elif load.problem == "unreadable":
            ctx.report(FILE_EXISTS, f"{rid}: {path} is {load.detail}", pointer=where, level=level)
        elif load.problem == "irregular":
            ctx.report(REGULAR_FILE, f"{rid}: {path} is {load.detail}", pointer=where, level=level)
        elif load.problem == "too_large":
            ctx.report(TOO_LARGE, f"{rid}: {path} is {load.detail} bytes, over the kit's payload limit; not parsed", pointer=where)
        elif load.problem == "json":
            ctx.report(PAYLOAD_JSON, f"{rid}: {path} is not valid JSON: {load.detail}", file=path, pointer=where, level=level)
        elif load.problem == "unparsed" and wants_body:
            ctx.report(
                TOO_LARGE,
                f"{rid}: {path} is valid JSON, but parsing it would take about {int(load.detail) >> 20} MiB; "
                "its body was not parsed or checked",
                pointer=where,
            )

    # -- end -----------------------------------------------------------------------------
    def finish(self) -> None:
        ctx = self.ctx
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
