"""Corruptions of payload references and payload files.

Where the broken ref is one the reference reducer opens (thread metadata,
inference request and response, tool invocation, ...), the validator reports
the finding at the reducer profile; ``reducer_level`` says so.
"""

from __future__ import annotations

import io
import os
from dataclasses import replace
from pathlib import Path

from ..bundle import PAYLOADS, Bundle, Special
from ..model.types import STORE_ZSTD_SHARDS
from ..validate import Options
from ._edit import Editor
from ._ops_common import owned_refs, payload_kinds, pick, reducer_reads, result
from .corruptions import corruption

SIZE_LIMIT = Options.max_payload_bytes  # the validator's default --max-payload-bytes


class OversizeBundle(Bundle):
    """A bundle whose listed payload files are padded to a size with trailing spaces.

    The padding keeps the file the same JSON document, so a reducer that parses it
    accepts it; only the kit's size limit is crossed.
    """

    def __init__(self, *args, oversize: dict[str, int] | None = None, **kw):
        super().__init__(*args, **kw)
        self.oversize = dict(oversize or {})

    def write(self, directory: str | Path) -> Path:
        d = super().write(directory)
        chunk = b" " * (8 << 20)
        for rel, size in self.oversize.items():
            with open(d / rel, "ab") as f:
                left = size - f.tell()
                while left > 0:
                    f.write(chunk[: min(left, len(chunk))])
                    left -= len(chunk)
        return d

    def copy(self) -> "OversizeBundle":
        return OversizeBundle(**vars(Bundle.copy(self)), oversize=self.oversize)

    def tar_bytes(self) -> bytes:
        import tarfile

        base = Bundle.copy(self)
        for rel in self.oversize:
            base.payloads.pop(rel, None)
        buf = io.BytesIO(base.tar_bytes())
        with tarfile.open(fileobj=buf, mode="a") as tar:
            for rel, size in self.oversize.items():
                data = self.payloads[rel]
                info = tarfile.TarInfo(rel)
                info.size = size
                tar.addfile(info, _Padded(data, size))
        return buf.getvalue()


class _Padded(io.RawIOBase):
    def __init__(self, data: bytes, size: int):
        self.data, self.size, self.pos = data, size, 0

    def readable(self) -> bool:
        return True

    def readinto(self, b) -> int:
        n = min(len(b), self.size - self.pos)
        head = self.data[self.pos : self.pos + n]
        b[: len(head)] = head
        b[len(head) : n] = b" " * (n - len(head))
        self.pos += n
        return n


def _pick_ref(ed: Editor, dialect, rnd):
    """(line, pointer, ref, read by the reference reducer) of an owned ref."""
    return pick(rnd, [(i, p, r, reducer_reads(ed, dialect, i, p)) for i, p, r in owned_refs(ed)])


def _level(invariant: str, read: bool) -> list[str]:
    return [invariant] if read else []


@corruption("REF.FILE_EXISTS", "A referenced payload file is missing.")
def _missing_file(bundle, dialect, rnd):
    ed = Editor(bundle, dialect)
    got = _pick_ref(ed, dialect, rnd)
    if got is None:
        return None
    i, pointer, ref, read = got
    del ed.bundle.payloads[ref["path"]]
    return result(ed, "REF.FILE_EXISTS", i, reducer_level=_level("REF.FILE_EXISTS", read), note=pointer)


@corruption("REF.JSON", "A referenced payload file is not JSON (cut short or garbage).")
def _payload_not_json(bundle, dialect, rnd):
    ed = Editor(bundle, dialect)
    got = _pick_ref(ed, dialect, rnd)
    if got is None:
        return None
    i, pointer, ref, read = got
    data = ed.bundle.payloads[ref["path"]]
    ed.bundle.payloads[ref["path"]] = rnd.choice([data[: max(1, len(data) // 2)], b"", b"{not json}", b"\x00\x01"])
    return result(ed, "REF.JSON", i, reducer_level=_level("REF.JSON", read), note=pointer)


@corruption(
    "REF.NESTING",
    "A payload body of a kind the reducer parses nests one level deeper than it reads (model: Dialect.body_depth_limits).",
)
def _payload_too_deep(bundle, dialect, rnd):
    ed = Editor(bundle, dialect)
    # From v2 on a runtime payload is parsed by its runtime's kind, and only some are read deep
    # (model: Dialect.runtime_depth_limits, a table per runtime kind): this operator draws from the
    # per-kind limits (body_depth_limits) only, and runtime payloads only where no such table exists.
    per_runtime_kind = bool(dialect.runtime_depth_limits)
    limited = [(i, p, r, read) for i, p, r, read in
               ((i, p, r, reducer_reads(ed, dialect, i, p)) for i, p, r in owned_refs(ed))
               if dialect.body_depth_limit(r["kind"]["type"]) is not None and isinstance(ed.body(r["path"]), dict)
               and not (per_runtime_kind and r["kind"]["type"] == "tool_runtime_event")]
    got = pick(rnd, limited)
    if got is None:
        return None
    i, pointer, ref, read = got
    depth = dialect.body_depth_limit(ref["kind"]["type"]) + 1
    body = ed.bundle.payloads[ref["path"]].rstrip()
    inner = b"[" * (depth - 1) + b"]" * (depth - 1)  # the body's object is the first level
    ed.bundle.payloads[ref["path"]] = body[:-1] + (b"," if body[:-1].strip() != b"{" else b"") + b'"zz":' + inner + b"}"
    return result(ed, "REF.NESTING", i, reducer_level=_level("REF.NESTING", read), note=pointer)


@corruption("REF.REGULAR_FILE", "A referenced payload path is a directory or a FIFO, not a file (a FIFO hangs the 0.169.0 reducer).")
def _payload_is_dir(bundle, dialect, rnd):
    ed = Editor(bundle, dialect)
    got = _pick_ref(ed, dialect, rnd)
    if got is None:
        return None
    i, pointer, ref, read = got
    what = rnd.choice(["dir", "fifo"])
    del ed.bundle.payloads[ref["path"]]
    ed.bundle.specials[ref["path"]] = Special(what)
    return result(ed, "REF.REGULAR_FILE", i, reducer_level=_level("REF.REGULAR_FILE", read), note=f"{pointer} ({what})")


@corruption(
    "REF.SIZE_LIMIT",
    f"A payload file is larger than the validator's {SIZE_LIMIT >> 20} MiB payload limit (its JSON padded with spaces).",
)
def _payload_too_large(bundle, dialect, rnd):
    ed = Editor(bundle, dialect)
    got = _pick_ref(ed, dialect, rnd)
    if got is None:
        return None
    i, pointer, ref, read = got
    # the kit declined to judge a payload it must read: an error, at the reducer level when the reducer opens it
    out = result(ed, "REF.SIZE_LIMIT", i, reducer_level=_level("REF.SIZE_LIMIT", read), note=pointer)
    big = OversizeBundle(**vars(out.bundle), oversize={ref["path"]: SIZE_LIMIT + rnd.randint(1, 4096)})
    return replace(out, bundle=big)


@corruption(
    "REF.PATH_CONFINED",
    "A payload ref leads out of the bundle: a symlink to a file outside it, or a path that is absolute "
    f"or climbs out with '..' (such a path is not {PAYLOADS}/{{n}}.json either: REF.NAMING too).",
)
def _path_escapes(bundle, dialect, rnd):
    ed = Editor(bundle, dialect)
    got = _pick_ref(ed, dialect, rnd)
    if got is None:
        return None
    i, pointer, ref, read = got
    level = _level("REF.PATH_CONFINED", read)
    path = ref["path"]
    del ed.bundle.payloads[path]
    if rnd.random() < 0.5:
        ed.bundle.specials[path] = Special("symlink", rnd.choice(["/etc/hostname", "/etc/passwd", "../../outside.json"]))
        return result(ed, "REF.PATH_CONFINED", i, reducer_level=level, note="symlink out of the bundle")
    ed.touch(i)
    ref["path"] = rnd.choice(["../outside.json", f"../{PAYLOADS}/{os.path.basename(path)}", "/etc/hostname",
                              f"{PAYLOADS}/../../{os.path.basename(path)}"])
    return result(ed, "REF.PATH_CONFINED", i, also=["REF.NAMING"], reducer_level=level, note=ref["path"])


@corruption(
    "REF.ID_CONSISTENT",
    "A ref reuses another payload's raw_payload_id for its own file (a non-canonical pair: REF.NAMING too).",
)
def _id_reused(bundle, dialect, rnd):
    ed = Editor(bundle, dialect)
    owned = list(owned_refs(ed))  # in line order
    later = [j for j in range(len(owned)) if owned[j][0] > owned[0][0]]
    if not later:
        return None
    b = owned[pick(rnd, later)]
    a = pick(rnd, [r for r in owned if r[0] < b[0]])
    tag_a = ed.tag(a[0])
    ed.touch(b[0])
    b[2]["raw_payload_id"] = a[2]["raw_payload_id"]
    note = f"{b[1]} reuses {a[2]['raw_payload_id']} of {tag_a} {a[1]}"
    return result(ed, "REF.ID_CONSISTENT", b[0], also=["REF.NAMING"], note=note)


@corruption("REF.NAMING", f"A payload is named otherwise than raw_payload:{{n}} at {PAYLOADS}/{{n}}.json (consistently).")
def _naming(bundle, dialect, rnd):
    ed = Editor(bundle, dialect)
    got = _pick_ref(ed, dialect, rnd)
    if got is None:
        return None
    i, pointer, ref, _ = got
    ed.touch(i)
    n = ref["raw_payload_id"].split(":")[-1]
    if rnd.random() < 0.5:
        new = f"{PAYLOADS}/payload-{n}.json"
        ed.bundle.payloads[new] = ed.bundle.payloads.pop(ref["path"])
        ref["path"] = new
        note = "path renamed"
    else:
        ref["raw_payload_id"] = f"payload-{n}"
        note = "id renamed"
    return result(ed, "REF.NAMING", i, note=note)


def _relabel(ed: Editor, dialect, rnd, refs, kinds_of, invariant: str):
    """Give one of ``refs`` (line, pointer, ref) whose field ``kinds_of(tag, field)`` names kinds a
    payload kind outside them."""
    options = []
    for i, pointer, ref in refs:
        parts = pointer.split("/")
        kinds = kinds_of(ed.tag(i), parts[2]) if len(parts) == 3 else None
        if kinds:
            options.append((i, pointer, ref, kinds))
    got = pick(rnd, options)
    if got is None:
        return None
    i, pointer, ref, kinds = got
    ed.touch(i)
    ref["kind"] = {"type": rnd.choice([k for k in payload_kinds(dialect) if k not in kinds])}
    return result(ed, invariant, i, note=f"{pointer} is {ref['kind']['type']}")


@corruption("REF.KIND", "A ref's kind is not the one writers use for its field.")
def _wrong_kind(bundle, dialect, rnd):
    ed = Editor(bundle, dialect)
    return _relabel(ed, dialect, rnd, owned_refs(ed),
                    lambda tag, name: dialect.payload.variant(tag).field(name).payload_kinds, "REF.KIND")


@corruption(
    "REF.KIND_CHECKED",
    "A ref whose kind the reference reducer checks (an inference start's request or prepared prompt) has another kind.",
    edits_store=None,
)
def _checked_kind(bundle, dialect, rnd):
    from ._ops_store import Store

    ed = Editor(bundle, dialect)
    checked = {(v.tag, f.name): f.payload_kinds for v in dialect.payload.variants for f in v.fields
               if f.kind_checked_since is not None and f.payload_kinds}
    refs = Store(ed).owned() if dialect.layout.store == STORE_ZSTD_SHARDS else owned_refs(ed)
    return _relabel(ed, dialect, rnd, refs, lambda tag, name: checked.get((tag, name)), "REF.KIND_CHECKED")


@corruption("REF.ORPHAN", f"A file in {PAYLOADS}/ is referenced by no event.")
def _orphan(bundle, dialect, rnd):
    ed = Editor(bundle, dialect)
    ed.new_payload("protocol_event", rnd.choice([{}, {"type": "warning", "message": "unreferenced"}, []]))
    return result(ed, "REF.ORPHAN", None)
