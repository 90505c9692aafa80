"""Bundle layout: the directory, the manifest and the event log file."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import BinaryIO

from ...files import ESCAPES, IRREGULAR, TOO_LARGE, Escapes, open_regular, read_capped, refused
from ...model import DIALECTS, dialect_for_schema_version
from ...model.types import Int, unwrap
from ..catalogue import R, W, invariant
from ..context import Context, Where
from ..findings import Severity
from ..lines import DuplicateKey, strict_loads
from . import schema
from .schema import describe_errors, manifest_fast_ok, manifest_referee, version_const

# Every layout keeps these names (the bundle module's): the manifest is found before the dialect is known.
from ...bundle import MANIFEST, PAYLOADS, TRACE  # noqa: E402
from ...model.common import EnvelopeKey, ManifestKey  # noqa: E402
MAX_MANIFEST_BYTES = 1024 * 1024

IS_DIRECTORY = invariant(
    "BUNDLE.IS_DIRECTORY",
    "The bundle path is a directory.",
    v1=R, v2=R,
    source=f"reducer/mod.rs › replay_bundle (opens <bundle>/{MANIFEST})",
)
MANIFEST_PRESENT = invariant(
    "BUNDLE.MANIFEST_PRESENT",
    f"`{MANIFEST}` exists and is a readable regular file.",
    v1=R, v2=R,
    source="reducer/mod.rs › replay_bundle (raw io error when it cannot be opened)",
)
MANIFEST_JSON = invariant(
    "BUNDLE.MANIFEST_JSON",
    f"`{MANIFEST}` is one valid UTF-8 JSON document (no duplicate keys, no NaN).",
    v1=R, v2=R,
    source=f'reducer/mod.rs › replay_bundle: "read {{bundle}}/{MANIFEST}"',
)
MANIFEST_SCHEMA = invariant(
    "BUNDLE.MANIFEST_SCHEMA",
    f"`{MANIFEST}` matches the manifest schema of its dialect (every field present, right types).",
    v1=R, v2=R,
    source="bundle.rs › TraceBundleManifest (no serde defaults)",
)
DIALECT_KNOWN = invariant(
    "BUNDLE.DIALECT_KNOWN",
    "The bundle's dialect can be told: the manifest's (or else the first event's) schema_version is one the kit models.",
    v1=R, v2=R,
    source="kit: every check needs the dialect's model",
    notes="A requirement of the kit, not of the readers: 0.164.0 ignores schema_version; use --dialect to check anyway.",
    kit_only=True,
)
MANIFEST_VERSION = invariant(
    "BUNDLE.MANIFEST_VERSION",
    "The manifest's schema_version is the dialect's version.",
    v1=W, v2=R,
    source='writer.rs › TraceWriter::create writes TRACE_MANIFEST_SCHEMA_VERSION; 0.169.0 reducer: '
    '"trace schema S cannot establish accepted history" (0.164.0 ignores it)',
)
LAYOUT_NAMES = invariant(
    "BUNDLE.LAYOUT_NAMES",
    f"`raw_event_log` is `{TRACE}` and `payloads_dir` is `{PAYLOADS}` (readers open the fixed names).",
    v1=W, v2=W,
    source=f"bundle.rs constants; reducer/mod.rs always opens {TRACE}",
)
INTERNAL_ERROR = invariant(
    "KIT.INTERNAL_ERROR",
    "The kit checked the whole bundle: an internal error is a bug of the kit, reported as a finding instead of a traceback.",
    v1=R, v2=R,
    source="kit: bad input must end in a finding",
    kit_only=True,
)
NOT_LINKED = invariant(
    "BUNDLE.NOT_LINKED",
    f"`{MANIFEST}` and `{TRACE}` are files of the bundle itself, not symbolic links.",
    v1=W, v2=W,
    source="writer.rs › TraceWriter::create creates both files; the 0.164.0, 0.169.0 and 0.171.0 reducers "
    "follow a symbolic link there, inside or out of the bundle (measured: the same output as the files')",
    notes="A link that stays inside the bundle is read as the reducers read it. One that leads out of the "
    "bundle the kit never follows: BUNDLE.CONFINED.",
)
CONFINED = invariant(
    "BUNDLE.CONFINED",
    f"The kit reads `{MANIFEST}` and `{TRACE}` only inside the bundle: a symbolic link there that "
    "leads out of the bundle is not followed, and the bundle is not judged.",
    v1=R, v2=R,
    source="kit: a bundle under check never makes the kit read (and quote in its findings) a file elsewhere; "
    "the 0.164.0, 0.169.0 and 0.171.0 reducers follow the link (measured)",
    notes="The kit declined to judge: an error in every profile (never 'ok'), and compat names no reader. "
    "Copy the file into the bundle to check it.",
    kit_only=True,
    declines=True,
)
SEARCH_CAP = invariant(
    "KIT.SEARCH_CAP",
    "Every bundle below a directory of bundles is found: the search stays within the kit's caps on depth "
    "and on directory entries (hidden directories, such as `.git`, are not bundles and are not searched).",
    v1=R, v2=R,
    source="kit limit: a directory of bundles is searched 32 directories deep, through at most 1,000,000 entries",
    notes="Reported for the directory where the search stopped: the kit declined to judge what lies below it "
    "(an error, never 'ok'); name a directory nearer to the bundles.",
    kit_only=True,
    declines=True,
)
TRACE_PRESENT = invariant(
    "BUNDLE.TRACE_PRESENT",
    f"`{TRACE}` exists and is a readable regular file.",
    v1=R, v2=R,
    source='reducer/mod.rs › replay_bundle: "open trace event log {path}"',
)
TRACE_CHANGED = invariant(
    "BUNDLE.TRACE_CHANGED",
    f"`{TRACE}` does not change while it is checked: the check reads the log up to its size at the start.",
    v1=R, v2=R,
    source="kit: a log still being appended to is checked as it was when the check began",
    severity=Severity.WARNING,
    notes="A writer still running (or a crash-recovery copy in progress) appends meanwhile; check again once it stops.",
    kit_only=True,
)


def _json_kind(obj) -> str:
    if obj is None:
        return "null"
    if isinstance(obj, bool):
        return "a boolean"
    return {list: "an array", str: "a string", int: "a number", float: "a number"}.get(type(obj), type(obj).__name__)


def irregular(kind: str) -> str:
    """How findings name a file that is not regular (``kind`` from :func:`files.kind_of`)."""
    return kind if kind == "a directory" else "not a regular file (FIFO, socket or device)"


def _problem(why: str | None, problem: str | None) -> str:
    """A :mod:`files` problem as findings word it."""
    return irregular(problem or "") if why == IRREGULAR else problem or "unreadable"


def check_bundle_dir(ctx: Context) -> bool:
    if not ctx.bundle.is_dir():
        what = "missing" if not ctx.bundle.exists() else "not a directory"
        ctx.report(IS_DIRECTORY, f"bundle path {ctx.bundle} is {what}", file="", line=None, seq=None)
        return False
    return True


def leads_out(bundle: Path, name: str) -> str | None:
    """Where the symbolic link ``bundle/name`` points, when it leads out of the bundle; else None
    (not a link, missing, or a link that stays inside)."""
    path = os.path.join(bundle, name)
    if not os.path.islink(path):
        return None
    if os.path.realpath(path).startswith(os.path.realpath(bundle) + os.sep):
        return None
    try:
        return os.readlink(path)
    except OSError as e:
        return f"? ({e.strerror})"


def check_links(ctx: Context) -> bool:
    """Whether the kit may read the manifest and the log: a symbolic link to either is a finding,
    and one that leads out of the bundle stops the check (the kit never reads outside it)."""
    for name in (MANIFEST, TRACE):
        here: Where = dict(file=name, line=None, seq=None)
        out = leads_out(ctx.bundle, name)
        if out is not None:
            ctx.report(CONFINED, f"{name} is a symbolic link out of the bundle (to {out!r}); the reference reducers "
                       "read it, the kit never reads outside the bundle: it declined to judge the bundle", **here)
            return False
        if os.path.islink(ctx.bundle / name):
            try:
                target = os.readlink(ctx.bundle / name)
            except OSError as e:
                target = f"? ({e.strerror})"
            ctx.report(NOT_LINKED, f"{name} is a symbolic link (to {target!r}) inside the bundle; writers write "
                       "a file (the reducers follow the link, and so does the kit)", **here)
    return True


def _swapped(ctx: Context, name: str) -> None:
    """``name`` passed check_links, then its open met a symbolic link out of the bundle: one
    swapped in meanwhile (the open never follows it, see files.open_regular's ``within``)."""
    ctx.report(CONFINED, f"{name} became a symbolic link (or a link on its way changed) while the kit "
               "opened it; the kit never reads outside the bundle: it declined to judge the bundle",
               file=name, line=None, seq=None)


def declined(ctx: Context) -> bool:
    """Whether the kit declined to judge the bundle (BUNDLE.CONFINED)."""
    return any(f.invariant == CONFINED.id for f in ctx.findings)


def load_manifest(ctx: Context) -> bool:
    """Read and check the manifest, then choose the dialect (ctx.dialect); False when the kit
    declines to judge the bundle (its manifest leads out of it)."""
    got = read_capped(ctx.bundle / MANIFEST, MAX_MANIFEST_BYTES, keep_prefix=False, within=ctx.bundle)
    if got.why == ESCAPES:
        _swapped(ctx, MANIFEST)
        return False
    _check_manifest(ctx, got)
    return True


def _check_manifest(ctx: Context, got) -> None:
    here: Where = dict(file=MANIFEST, line=None, seq=None)
    if got.why == TOO_LARGE:
        ctx.report(MANIFEST_JSON, f"{MANIFEST} is larger than {MAX_MANIFEST_BYTES} bytes", **here)
        return
    if got.data is None:
        ctx.report(MANIFEST_PRESENT, f"{MANIFEST} is {_problem(got.why, got.problem)}", **here)
        return
    raw = got.data
    # serde skips the value of a key the manifest type does not define (any depth, a lone
    # surrogate, a repeated key inside: measured on 0.164.0, 0.169.0 and 0.171.0)
    known = frozenset(f.name for d in DIALECTS.values() for f in d.manifest.fields)
    skipped: list[str] = []
    try:
        obj = strict_loads(raw.decode("utf-8"), known, skipped)
    except UnicodeDecodeError as e:
        ctx.report(MANIFEST_JSON, f"{MANIFEST} is not valid UTF-8 at byte {e.start}", **here)
        return
    except DuplicateKey as e:
        for owner, key in e.repeats:
            read = owner is e.value and key in known
            ctx.report(
                MANIFEST_JSON,
                f"{MANIFEST} repeats key {key!r}" + ("" if read else " (inside or of an unknown key: readers ignore it)"),
                level=None if read else W,
                **here,
            )
        obj = e.value
    except (ValueError, RecursionError) as e:
        ctx.report(MANIFEST_JSON, f"{MANIFEST} is not valid JSON: {e}", **here)
        return
    for what in skipped:
        ctx.report(MANIFEST_JSON, f"{MANIFEST}: {what}", level=W, **here)
    if isinstance(obj, list) and obj:  # serde's sequence form, which the reducers read (measured)
        ctx.report(schema.SEQUENCE_FORM, f"{MANIFEST} is a JSON array, not an object (serde's sequence form): the kit "
                   "declined to judge it", **here)
    elif not isinstance(obj, dict):
        # serde wants a map: `null`, `[]`, `42`, `"s"` or `true` fail every reader.
        ctx.report(MANIFEST_SCHEMA, f"{MANIFEST} holds {_json_kind(obj)}, not an object", **here)
    if not isinstance(obj, dict):
        forced = ctx.options.dialect  # a name, or a Dialect built on the model (tests, extensions)
        if forced:
            ctx.dialect = DIALECTS[forced] if isinstance(forced, str) else forced
        return
    ctx.manifest = obj
    version = obj.get(ManifestKey.SCHEMA_VERSION)
    if ctx.options.dialect:
        forced = ctx.options.dialect  # a name, or a Dialect built on the model (tests, extensions)
        ctx.dialect = DIALECTS[forced] if isinstance(forced, str) else forced
    else:
        ctx.dialect = dialect_for_schema_version(version)
    if ctx.dialect is None:
        return  # decided later from the first event, or reported there
    check_manifest_schema(ctx, obj)


def check_manifest_schema(ctx: Context, obj) -> None:
    assert ctx.dialect is not None  # callers check the manifest once the dialect is chosen
    here: Where = dict(file=MANIFEST, line=None, seq=None)
    if not manifest_fast_ok(ctx.dialect, obj):
        referee = manifest_referee(ctx.dialect)
        errors = [e for e in referee.iter_errors(obj) if not version_const(e)]
        for pointer, message in describe_errors(errors, "manifest", referee.schema):
            ctx.report(MANIFEST_SCHEMA, message, pointer=pointer, **here)
        if errors:
            ctx.manifest = None
            return
    floats = [f.name for f in ctx.dialect.manifest.fields if isinstance(unwrap(f.type), Int) and isinstance(obj.get(f.name), float)]
    for name in floats:
        # JSON Schema's "integer" takes 2.0; serde's u32/i64 do not.
        ctx.report(
            MANIFEST_SCHEMA,
            f"manifest {name} is written as a float ({obj[name]!r}); readers want an integer literal",
            pointer=f"/{name}",
            **here,
        )
    if floats:
        ctx.manifest = None
        return
    if obj[ManifestKey.SCHEMA_VERSION] != ctx.dialect.schema_version:
        ctx.report(
            MANIFEST_VERSION,
            f"manifest schema_version is {obj['schema_version']}, but the {ctx.dialect.name} "
            f"dialect writes {ctx.dialect.schema_version}",
            pointer="/schema_version",
            **here,
        )
    layout = ctx.dialect.layout
    for key, want in ((ManifestKey.EVENT_LOG, layout.event_log), (ManifestKey.PAYLOADS_DIR, layout.payloads_dir)):
        if obj[key] != want:
            ctx.report(
                LAYOUT_NAMES,
                f"manifest {key} is {obj[key]!r}; writers write {want!r} and readers open {want!r} whatever it says",
                pointer=f"/{key}",
                **here,
            )


def dialect_from_first_event(ctx: Context, first_line: bytes | None) -> None:
    """No dialect from the manifest: take the first event's schema_version."""
    version = obj = None
    if first_line:
        try:
            obj = strict_loads(first_line.decode("utf-8", "replace"))
            version = obj.get(EnvelopeKey.SCHEMA_VERSION) if isinstance(obj, dict) else None
        except ValueError:
            pass
    ctx.dialect = dialect_for_schema_version(version)
    if ctx.dialect is None:
        known = ", ".join(str(d.schema_version) for d in DIALECTS.values())
        ctx.report(
            DIALECT_KNOWN,
            f"cannot tell the dialect: {_schema_version_of('manifest', ctx.manifest)}, "
            f"{_schema_version_of('first event', obj)}; known versions: {known} (use --dialect to force one)",
            file=MANIFEST,
            line=None,
            seq=None,
        )
    elif ctx.manifest is not None:
        check_manifest_schema(ctx, ctx.manifest)


def _schema_version_of(what: str, obj) -> str:
    """How ``obj`` (the parsed manifest or first event) states its schema_version, absence included."""
    if not isinstance(obj, dict):
        return f"no {what} object"
    key = ManifestKey.SCHEMA_VERSION  # the envelope's has the same name (EnvelopeKey.SCHEMA_VERSION)
    if key not in obj:
        return f"the {what} has no {key}"
    value = json.dumps(obj[key], ensure_ascii=True)  # null, not Python's None
    return f"{what} schema_version {value if len(value) <= 40 else value[:37] + '...'}"


def store_readable(ctx: Context, stores) -> bool:
    """Whether the validator reads the payload store of the bundle's dialect (``stores``)."""
    assert ctx.dialect is not None  # asked once the dialect is chosen
    store = ctx.dialect.layout.store
    if store in stores:
        return True
    ctx.report(
        DIALECT_KNOWN,
        f"dialect {ctx.dialect.name} (schema_version {ctx.dialect.schema_version}) keeps its payloads in a "
        f"{store} store, which this validator does not read yet; nothing was checked",
        file=MANIFEST,
        line=None,
        seq=None,
    )
    return False


def open_trace(ctx: Context) -> BinaryIO | None:
    """``trace.jsonl`` opened for reading, or None (reported) when it is not a readable regular file
    or leads out of the bundle (then the kit declines: see :func:`declined`)."""
    try:
        return open_regular(ctx.bundle / TRACE, within=ctx.bundle)
    except Escapes:
        _swapped(ctx, TRACE)
        return None
    except OSError as e:  # missing, not regular, unreadable, a loop: in the words every reader uses
        got = refused(ctx.bundle / TRACE, e)
    ctx.report(TRACE_PRESENT, f"{TRACE} is {_problem(got.why, got.problem)}", file=TRACE, line=None, seq=None)
    return None


def report_trace_changed(ctx: Context, was: int, now: int) -> None:
    how = f"grew from {was} to {now} bytes" if now > was else f"shrank from {was} to {now} bytes"
    ctx.report(
        TRACE_CHANGED,
        f"{TRACE} {how} while it was checked; the first {was} bytes were checked",
        file=TRACE,
        line=None,
        seq=None,
    )
