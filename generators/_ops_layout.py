"""Corruptions of the bundle layout: the directory, the manifest, the log file."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import orjson

from ..bundle import MANIFEST, TRACE
from ..model.common import EnvelopeKey as E
from ..bundle import Bundle, Special, dumps_pretty
from ..model import DIALECTS
from ..model.common import ManifestKey
from ..model.types import Str, unwrap
from ._edit import Editor
from ._ops_common import result
from .corruptions import corruption


class FileInsteadOfBundle(Bundle):
    """A bundle 'directory' that is a regular file (holding the event log)."""

    def write(self, directory: str | Path) -> Path:
        path = Path(directory)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"".join(self.trace_bytes()))
        return path

    def copy(self) -> "FileInsteadOfBundle":
        return FileInsteadOfBundle(**vars(Bundle.copy(self)))


def _manifest(ed: Editor) -> dict | None:
    try:
        m = orjson.loads(ed.bundle.manifest) if ed.bundle.manifest is not None else None
    except orjson.JSONDecodeError:
        return None
    return m if isinstance(m, dict) else None


def _set_manifest(ed: Editor, manifest) -> None:
    ed.bundle.manifest = dumps_pretty(manifest)


def _unmodelled_versions() -> list[int]:
    """schema_version values no dialect of the model has."""
    top = max(d.schema_version for d in DIALECTS.values())
    return [0, top + 1, top + 5, top + 97]


@corruption("BUNDLE.IS_DIRECTORY", "The bundle path is a regular file, not a directory.", edits_store=None)
def _not_a_directory(bundle, dialect, rnd):
    out = result(Editor(bundle, dialect), "BUNDLE.IS_DIRECTORY", None)
    return replace(out, bundle=FileInsteadOfBundle(**vars(out.bundle)))


@corruption("BUNDLE.MANIFEST_PRESENT", f"{MANIFEST} is missing.", edits_store=None)
def _no_manifest(bundle, dialect, rnd):
    ed = Editor(bundle, dialect)
    ed.bundle.manifest = None
    return result(ed, "BUNDLE.MANIFEST_PRESENT", None)


@corruption("BUNDLE.MANIFEST_JSON", f"{MANIFEST} is cut short (not JSON); the dialect comes from the first event.", edits_store=None)
def _manifest_not_json(bundle, dialect, rnd):
    ed = Editor(bundle, dialect)
    if ed.bundle.manifest is None or len(ed.bundle.manifest) < 2:
        return None
    cut = rnd.randrange(1, len(ed.bundle.manifest) - 1)
    ed.bundle.manifest = ed.bundle.manifest[:cut]
    return result(ed, "BUNDLE.MANIFEST_JSON", None, note=f"manifest cut at byte {cut}")


@corruption("BUNDLE.MANIFEST_SCHEMA", "A required manifest field is missing or has the wrong type.", edits_store=None)
def _manifest_schema(bundle, dialect, rnd):
    ed = Editor(bundle, dialect)
    m = _manifest(ed)
    if m is None:
        return None
    # the model's required keys a writer fills (schema_version: the version operators' own)
    fields = [f for f in dialect.manifest.fields if f.required and f.const is None and f.name in m]
    if not fields:
        return None
    field = rnd.choice(fields)
    key = field.name
    if rnd.random() < 0.5:
        del m[key]
        note = f"{key} removed"
    else:
        m[key] = 42 if isinstance(unwrap(field.type), Str) else "soon"
        note = f"{key} has the wrong type"
    _set_manifest(ed, m)
    return result(ed, "BUNDLE.MANIFEST_SCHEMA", None, note=note)


@corruption(
    "BUNDLE.DIALECT_KNOWN",
    "The manifest and the first event both carry a schema_version no dialect has.",
)
def _dialect_unknown(bundle, dialect, rnd):
    ed = Editor(bundle, dialect)
    m = _manifest(ed)
    if m is None or not ed.events or ed.events[0] is None:
        return None
    version = rnd.choice(_unmodelled_versions())
    m["schema_version"] = version
    _set_manifest(ed, m)
    ed.touch(0)[E.SCHEMA_VERSION] = version
    return result(ed, "BUNDLE.DIALECT_KNOWN", None, note=f"schema_version {version}")


@corruption(
    "BUNDLE.MANIFEST_VERSION",
    "The manifest's schema_version is no dialect's (the events still say which dialect it is).",
)
def _manifest_version(bundle, dialect, rnd):
    ed = Editor(bundle, dialect)
    m = _manifest(ed)
    if m is None:
        return None
    m["schema_version"] = rnd.choice(_unmodelled_versions())
    _set_manifest(ed, m)
    return result(ed, "BUNDLE.MANIFEST_VERSION", None)


@corruption("BUNDLE.LAYOUT_NAMES", "The manifest names another event log file or payload directory.", edits_store=None)
def _layout_names(bundle, dialect, rnd):
    ed = Editor(bundle, dialect)
    m = _manifest(ed)
    if m is None:
        return None
    key = rnd.choice([ManifestKey.EVENT_LOG, ManifestKey.PAYLOADS_DIR])
    m[key] = {ManifestKey.EVENT_LOG: "events.jsonl", ManifestKey.PAYLOADS_DIR: "blobs"}[key]  # names no layout has
    _set_manifest(ed, m)
    return result(ed, "BUNDLE.LAYOUT_NAMES", None, note=key)


@corruption("BUNDLE.TRACE_PRESENT", f"{TRACE} is missing.", edits_store=None)
def _no_trace(bundle, dialect, rnd):
    ed = Editor(bundle, dialect)
    ed.events, ed.raw, ed.dirty = [], [], set()
    ed.bundle.has_trace = False
    return result(ed, "BUNDLE.TRACE_PRESENT", None)


def _moved(bundle: Bundle, name: str, rnd) -> tuple[Bundle, str] | None:
    """``bundle`` with ``name`` (manifest.json or trace.jsonl) moved to another file of the bundle,
    its place left free for a link; the other file's name."""
    out = bundle.copy()
    if name == MANIFEST:
        if out.manifest is None:
            return None
        data, out.manifest = out.manifest, None
    else:
        if not out.has_trace:
            return None
        data, out.has_trace = b"".join(out.trace_bytes()), False
    moved = rnd.choice(["real-", "kept/", ".hidden-"]) + name
    out.payloads[moved] = data
    return out, moved


def _linked(bundle, dialect, rnd, invariant: str, target):
    """``manifest.json`` or ``trace.jsonl`` moved to another name and linked to from its own:
    ``target(moved name, file name)`` is where the link points."""
    name = rnd.choice([MANIFEST, TRACE])
    out = result(Editor(bundle, dialect), invariant, None, note=name)
    got = _moved(out.bundle, name, rnd)
    if got is None:
        return None
    moved_bundle, moved = got
    moved_bundle.specials[name] = Special("symlink", target(moved, name))
    return replace(out, bundle=moved_bundle)


@corruption("BUNDLE.NOT_LINKED", f"{MANIFEST} or {TRACE} is a symbolic link to a file inside the bundle.",
            edits_store=None)
def _linked_inside(bundle, dialect, rnd):
    return _linked(bundle, dialect, rnd, "BUNDLE.NOT_LINKED", lambda moved, name: moved)


@corruption("BUNDLE.CONFINED", f"{MANIFEST} or {TRACE} is a symbolic link that leads out of the bundle "
            "(to an absolute path, or up with '..').", edits_store=None)
def _linked_out(bundle, dialect, rnd):
    return _linked(bundle, dialect, rnd, "BUNDLE.CONFINED",
                   lambda moved, name: rnd.choice(["/etc/hostname", f"../elsewhere/{name}"]))
