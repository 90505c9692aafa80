"""Payload references: where they point, what they name, and the files themselves.

The kit never follows a path out of the bundle and never opens anything but
a regular file (a FIFO would block forever), so a hostile ref is a finding,
not a hang or a read of someone else's file.
"""

from __future__ import annotations

import os
import re
import stat

import orjson

from ..catalogue import R, S, W, invariant
from ..context import Context
from ..findings import Severity
from .layout import PAYLOADS


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
        return "is not normalised"
    if parts[0] != PAYLOADS or len(parts) < 2:
        return f"is not inside {PAYLOADS}/"
    return None


class RefChecker:
    """Checks every ref of every event; remembers ids and paths to catch reuse."""

    def __init__(self, ctx: Context):
        self.ctx = ctx
        self.bundle = ctx.bundle
        self.bundle_real = os.path.realpath(ctx.bundle)
        self.canonical_seen = bytearray()  # bitmap of ordinals n seen as raw_payload:n <-> payloads/n.json
        self.id_to_path: dict[str, str] = {}  # non-canonical refs only
        self.path_to_id: dict[str, str] = {}
        self.check_files = ctx.profile >= W
        # v2's reducer opens every referenced payload by the end of the replay; v1's only
        # the ones its handlers read (model: Dialect.reducer_reads_every_ref, Field.read)
        self.every_ref_read = ctx.dialect.reducer_reads_every_ref
        self.layout = ctx.dialect.layout  # payload ids and file names (model Layout)

    # -- identity ----------------------------------------------------------------
    def _mark(self, n: int) -> None:
        byte, bit = divmod(n, 8)
        if byte >= len(self.canonical_seen):
            self.canonical_seen.extend(b"\0" * (byte + 1 - len(self.canonical_seen) + 1024))
        self.canonical_seen[byte] |= 1 << bit

    def _seen_canonical(self, n: int) -> bool:
        byte, bit = divmod(n, 8)
        return byte < len(self.canonical_seen) and bool(self.canonical_seen[byte] & (1 << bit))

    def identity(self, rid: str, path: str, pointer: str) -> None:
        ctx = self.ctx
        layout = self.layout
        ni, np_ = layout.id_ordinal(rid), layout.file_ordinal(path)
        if ni is not None and ni == np_:
            self._mark(ni)
            if rid in self.id_to_path or path in self.path_to_id:
                self._conflict(rid, path, pointer)
            return
        if ctx.wants(NAMING):
            ctx.report(
                NAMING,
                f"ref {rid!r} -> {path!r}: writers name payloads {layout.payload_id} at {layout.payload_file}",
                pointer=pointer,
            )
        # A non-canonical ref clashes with a canonical one of the same id or path.
        for n in (ni, np_):
            if n is not None and self._seen_canonical(n):
                self._conflict_msg(
                    pointer, f"ref {rid!r} -> {path!r} reuses {layout.payload_id_for(n)} / {layout.file_for(n=n)}"
                )
                break
        self._conflict(rid, path, pointer)

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
    def check(self, ref, tag: str, field, pointer: str, read_by_reducer: bool):
        """Check one RawPayloadRef; return the parsed payload when it was read, else None."""
        ctx = self.ctx
        read_by_reducer = read_by_reducer or self.every_ref_read
        level = R if read_by_reducer else None
        self.identity(ref.raw_payload_id, ref.path, pointer)
        check_kind(ctx, ref, tag, field, pointer)
        if not (read_by_reducer or self.check_files):
            return None
        problem = confinement_problem(ref.path)
        # Inside the bundle but outside payloads/ is still safe to read (and the reducer reads it).
        safe = problem is None or problem.startswith("is not inside")
        full = os.path.join(self.bundle, ref.path) if safe else None
        if safe:
            real = os.path.realpath(full)
            if not real.startswith(self.bundle_real + os.sep):
                problem, safe = "leaves the bundle through a symlink", False
        if problem is not None:
            unread = read_by_reducer and not safe
            suffix = "; the reference reducer would read outside the bundle, the kit does not" if unread else ""
            ctx.report(
                PATH_CONFINED,
                f"{ref.raw_payload_id} path {ref.path!r} {problem}{suffix}",
                pointer=pointer + "/path",
                level=R if unread else None,
            )
            if not safe:
                return None
        try:
            st = os.stat(full)
        except FileNotFoundError:
            ctx.report(FILE_EXISTS, f"{ref.raw_payload_id}: {ref.path} does not exist", pointer=pointer + "/path", level=level)
            return None
        except OSError as e:
            ctx.report(FILE_EXISTS, f"{ref.raw_payload_id}: {ref.path} cannot be read: {e.strerror}", pointer=pointer + "/path", level=level)
            return None
        if not stat.S_ISREG(st.st_mode):
            what = "a directory" if stat.S_ISDIR(st.st_mode) else "not a regular file (FIFO, socket or device)"
            ctx.report(REGULAR_FILE, f"{ref.raw_payload_id}: {ref.path} is {what}", pointer=pointer + "/path", level=level)
            return None
        if st.st_size > ctx.options.max_payload_bytes:
            ctx.report(
                TOO_LARGE,
                f"{ref.raw_payload_id}: {ref.path} is {st.st_size} bytes, over the kit's payload limit; not parsed",
                pointer=pointer + "/path",
            )
            return None
        try:
            with open(full, "rb") as f:
                data = f.read(ctx.options.max_payload_bytes + 1)
        except OSError as e:
            ctx.report(FILE_EXISTS, f"{ref.raw_payload_id}: {ref.path} cannot be read: {e.strerror}", pointer=pointer + "/path", level=level)
            return None
        try:
            return orjson.loads(data)
        except orjson.JSONDecodeError as e:
            ctx.report(
                PAYLOAD_JSON,
                f"{ref.raw_payload_id}: {ref.path} is not valid JSON: {e}",
                file=ref.path,
                pointer=pointer + "/path",
                level=level,
            )
            return None

    # -- end -----------------------------------------------------------------------------
    def finish(self) -> None:
        ctx = self.ctx
        if not ctx.wants(ORPHAN):
            return
        folder = self.bundle / PAYLOADS
        try:
            entries = os.scandir(folder)
        except OSError:
            return
        with entries:
            for entry in entries:
                rel = f"{PAYLOADS}/{entry.name}"
                n = self.layout.file_ordinal(rel)
                if n is not None and self._seen_canonical(n):
                    continue
                if rel in self.path_to_id:
                    continue
                ctx.report(ORPHAN, f"{rel} is not referenced by any event", file=rel, line=None, seq=None)
