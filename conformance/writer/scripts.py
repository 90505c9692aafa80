"""Scripts of writer operations: what the harness asks a writer under test to do.

A :class:`Script` is a lifecycle-valid sequence of protocol operations:
``create``, then ``write_payload`` and ``append_event`` in an order that
keeps every payload before the first event that points to it, then ``close``.
Events refer to payloads by *handle* (``{"$payload": h}``, the ``h``-th
``write_payload`` of the script); the harness replaces each handle with the
``RawPayloadRef`` the writer answered, so a script never assumes how a writer
names its files.

Scripts come from named sources (``--script SOURCE:ARG``):

* ``corpus:codex-0.169.0/tools`` replays a real bundle of the shipped corpus
  (``corpus:codex-0.169.0`` replays every bundle of that release);
* ``bundle:PATH`` replays any bundle directory, for example one a generator wrote;
* ``lifecycle:v1`` / ``lifecycle:v2`` is a small hand-written lifecycle that also
  stresses JSON encoding (escapes, non-ASCII, deep nesting, large integers);
* ``file:PATH`` loads a script saved with :meth:`Script.to_json`;
* ``gen:v2:500:7`` replays a deterministic generated bundle of 500 events
  (seed 7) from :func:`rollout_trace_kit.generators.build_bundle`.

More sources plug in with :func:`register_script_source`;
:func:`script_from_bundle` turns any in-memory
:class:`~rollout_trace_kit.bundle.Bundle` into a script, so the Hypothesis
strategies (``rollout_trace_kit.generators.bundles``) feed the harness directly
(tests/test_writer_harness.py does).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import orjson

from ...model.common import EnvelopeKey as E, ManifestKey
from ...corpus import corpus_root

from ...bundle import MANIFEST, PAYLOADS, TRACE, Bundle, TooLarge
from ...model import DEFAULT_DIALECT, DIALECTS, dialect_for_schema_version, facts
from ...model.types import STORE_FILES, STORE_ZSTD_SHARDS, Dialect, Struct
from ...model.common import ZSTD_SHARDS, ManifestKey
from ...writer.core import writes_store, written_dialects
from .wide import dumps as wide_dumps, loads, unwritable  # bodies and lines as the validator reads them: 1e400 and 4,301 digits included

HANDLE_KEY = "$payload"
OPERATIONS = ("create", "write_payload", "append_event", "close")


class ScriptError(ValueError):
    """A script source could not produce a script."""


@dataclass
class Op:
    """One protocol operation (the request minus ``id``; ``create`` minus ``dir``)."""

    cmd: str
    args: dict = field(default_factory=dict)
    handle: int | None = None  # write_payload: its handle (1-based)
    note: str = ""  # where it came from, for messages ("seq 7", ...)
    wide: bool = False  # holds what orjson cannot write (a number beyond f64...): sent by wide.dumps (Script.check)

    def to_dict(self) -> dict:
        out = {"cmd": self.cmd, **self.args}
        if self.handle is not None:
            out["handle"] = self.handle
        if self.note:
            out["note"] = self.note
        return out


@dataclass
class Script:
    name: str
    dialect: str
    ops: list[Op]

    @property
    def events(self) -> int:
        return sum(op.cmd == "append_event" for op in self.ops)

    @property
    def payloads(self) -> int:
        return sum(op.cmd == "write_payload" for op in self.ops)

    def check(self) -> "Script":
        """Raise ScriptError unless the script is well-formed (handles defined before use)."""
        if self.dialect not in DIALECTS:
            raise ScriptError(f"{self.name}: unknown dialect {self.dialect!r}")
        if not self.ops or self.ops[0].cmd != "create" or self.ops[-1].cmd != "close":
            raise ScriptError(f"{self.name}: a script starts with create and ends with close")
        written = 0
        for i, op in enumerate(self.ops):
            op.wide = op.cmd in ("write_payload", "append_event") and unwritable(op.args)
            if op.cmd not in OPERATIONS or (op.cmd in ("create", "close") and 0 < i < len(self.ops) - 1):
                raise ScriptError(f"{self.name}: operation {i} is {op.cmd!r} in the middle of the script")
            if op.cmd == "write_payload":
                written += 1
                if op.handle != written:
                    raise ScriptError(f"{self.name}: operation {i} has handle {op.handle}, expected {written}")
            elif op.cmd == "append_event":
                for h in handles_in(op.args.get(E.PAYLOAD)):
                    if not 1 <= h <= written:
                        raise ScriptError(f"{self.name}: operation {i} uses payload handle {h} before it is written")
        return self

    def to_json(self) -> str:
        """The script as JSON text (a number beyond f64 as a literal such as 1e400: wide.dumps)."""
        doc = {"name": self.name, "dialect": self.dialect, "ops": [op.to_dict() for op in self.ops]}
        return wide_dumps(doc, option=orjson.OPT_INDENT_2).decode("utf-8")

    @classmethod
    def from_json(cls, text: str | bytes) -> "Script":
        """A script saved by :meth:`to_json`, read as the validator reads a payload body (wide.loads)."""
        try:
            obj = loads(text.encode("utf-8") if isinstance(text, str) else text)
            ops = []
            for raw in obj["ops"]:
                raw = dict(raw)
                cmd = raw.pop("cmd")
                handle = raw.pop("handle", None)
                note = raw.pop("note", "")
                ops.append(Op(cmd, raw, handle, note))
            return cls(obj["name"], obj["dialect"], ops).check()
        except (ValueError, KeyError, TypeError, RecursionError) as e:
            raise ScriptError(f"not a script file: {e}") from None


def handles_in(value) -> list[int]:
    """The payload handles a payload (with placeholders) uses, in order."""
    out: list[int] = []
    stack = [value]
    while stack:
        v = stack.pop()
        if isinstance(v, dict):
            if HANDLE_KEY in v:  # v3 refs keep their parts (more handles) beside the handle
                out.append(v[HANDLE_KEY])
                stack.extend(reversed([x for k, x in v.items() if k != HANDLE_KEY]))
            else:
                stack.extend(reversed(list(v.values())))
        elif isinstance(v, list):
            stack.extend(reversed(v))
    return out


def substitute(value, refs: dict[int, dict]):
    """``value`` with every ``{"$payload": h}`` replaced by ``refs[h]``."""
    if isinstance(value, dict):
        if set(value) == {HANDLE_KEY}:
            return refs[value[HANDLE_KEY]]
        if HANDLE_KEY in value:  # a v3 ref with parts or a capture: the written ref, then those keys
            ref = dict(refs[value[HANDLE_KEY]])
            ref.update({k: substitute(v, refs) for k, v in value.items() if k != HANDLE_KEY})
            return ref
        return {k: substitute(v, refs) for k, v in value.items()}
    if isinstance(value, list):
        return [substitute(v, refs) for v in value]
    return value


class ScriptBuilder:
    """Write a script by hand: ``p = b.payload(kind, body)`` then ``b.event({... "x_payload": p})``."""

    def __init__(self, name: str, dialect: str, *, trace_id: str, rollout_id: str, root_thread_id: str):
        self.name = name
        self.dialect = dialect
        self.ops = [
            Op(
                "create",
                {"dialect": dialect, ManifestKey.TRACE_ID: trace_id, ManifestKey.ROLLOUT_ID: rollout_id,
                 ManifestKey.ROOT_THREAD_ID: root_thread_id},
            )
        ]
        self._handles = 0

    def payload(self, kind: str, body, note: str = "") -> dict:
        self._handles += 1
        self.ops.append(Op("write_payload", {"kind": kind, "body": body}, self._handles, note))
        return {HANDLE_KEY: self._handles}

    def event(self, payload: dict, *, thread_id: str | None = None, codex_turn_id: str | None = None, note: str = "") -> None:
        self.ops.append(
            Op(
                "append_event",
                {"context": {"thread_id": thread_id, "codex_turn_id": codex_turn_id}, "payload": payload},
                note=note,
            )
        )

    def build(self) -> Script:
        return Script(self.name, self.dialect, [*self.ops, Op("close")]).check()


# --- replaying a bundle ---------------------------------------------------------------------


def _refs(dialect: Dialect, payload) -> list[dict]:
    """The well-typed refs of an event payload, where the model puts them."""
    return [ref for _, ref, _ in facts.iter_refs(dialect, payload) if _well_typed(dialect, ref)]


def _ref_fields(dialect: Dialect) -> tuple[frozenset[str], frozenset[str]]:
    ref = dialect.type_as("RawPayloadRef", Struct)
    return frozenset(f.name for f in ref.fields if f.required), frozenset(f.name for f in ref.fields)


def _well_typed(dialect: Dialect, v: dict) -> bool:
    """A ref a writer could have answered: the model's keys, a string id, a kind object, a locator."""
    required, known = _ref_fields(dialect)
    loc = v.get(dialect.layout.ref_key)
    return (
        required <= set(v) <= known
        and isinstance(v.get("kind"), dict)
        and isinstance(v.get("raw_payload_id"), str)
        and (isinstance(loc, str) if dialect.layout.store == STORE_FILES else type(loc) is int)
    )


def _shown(value) -> str:
    """A value from a bundle, short, for a one-line message."""
    text = ascii(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _replace_refs(dialect: Dialect, payload, handle_of: dict[str, int]):
    """``payload`` with each ref replaced by the handle of its payload (copies only the paths to refs).

    Refs inside refs (v3 parts) are replaced first and stay beside their holder's handle,
    with its other keys (a capture): the writer's answer gives only id, kind and locator.
    """
    out = dict(payload) if isinstance(payload, dict) else payload
    sites = [pointer for pointer, ref, _ in facts.iter_refs(dialect, payload) if _well_typed(dialect, ref)]
    for pointer in sorted(sites, key=lambda p: p.count("/"), reverse=True):  # innermost first
        steps = [int(p) if p.isdigit() else p for p in pointer.split("/")[2:]]
        parent = out
        for step in steps[:-1]:
            child = parent[step]
            parent[step] = child = dict(child) if isinstance(child, dict) else list(child)
            parent = child
        ref = parent[steps[-1]]
        extra = {k: v for k, v in ref.items() if k not in ("raw_payload_id", "kind", dialect.layout.ref_key)}
        parent[steps[-1]] = {HANDLE_KEY: handle_of[ref["raw_payload_id"]], **extra}
    return out


def script_from_bundle(bundle: Bundle | str | Path, name: str | None = None) -> Script:
    """A script that makes a writer write ``bundle`` again.

    Payloads are written in their ordinal order, each before the first event
    that refers to it; files nobody refers to (orphans) are written in their
    ordinal place too, so a writer numbering from 1 reproduces the ordinals.
    """
    if not isinstance(bundle, Bundle):
        from ...validate.lines import DEFAULT_MAX_LINE_BYTES  # the validator's line cap: a longer line is refused

        name = name or str(bundle)
        try:
            bundle = Bundle.read(bundle, MAX_BUNDLE_BYTES, max_line=DEFAULT_MAX_LINE_BYTES)
        except TooLarge as e:
            raise ScriptError(f"{name}: {e}") from None
    name = name or "bundle"
    _refuse_unread(bundle, name, lambda rel: rel in (MANIFEST, TRACE, PAYLOADS))
    if bundle.manifest is None:
        raise ScriptError(f"{name}: no {MANIFEST}")
    try:
        manifest = orjson.loads(bundle.manifest)
    except orjson.JSONDecodeError as e:
        raise ScriptError(f"{name}: {MANIFEST} is not JSON: {e}") from None
    if not isinstance(manifest, dict):
        raise ScriptError(f"{name}: {MANIFEST} is not a JSON object")
    dialect = dialect_for_schema_version(manifest.get(ManifestKey.SCHEMA_VERSION))
    if dialect is None:
        raise ScriptError(f"{name}: unknown schema_version {_shown(manifest.get(ManifestKey.SCHEMA_VERSION))}")
    if not writes_store(dialect):
        raise ScriptError(f"{name}: dialect {dialect.name} keeps payloads in a {dialect.layout.store} store, "
                          "which script replay does not read yet")
    layout = dialect.layout
    for key in ("trace_id", "rollout_id", "root_thread_id"):
        if not isinstance(manifest.get(key), str):
            what = "lacks" if key not in manifest else "has no string"
            raise ScriptError(f"{name}: {MANIFEST} {what} {key}; a script replays a bundle's ids")
    sharded = layout.store == STORE_ZSTD_SHARDS
    # a payload file (or shard) the replay would write, not any entry of payloads/ (a stray directory)
    _refuse_unread(bundle, name, lambda rel: rel.endswith(ZSTD_SHARDS.payload_suffix) if sharded
                   else layout.file_ordinal(rel) is not None)
    records = _records(bundle, name) if sharded else None
    b = ScriptBuilder(
        name,
        dialect.name,
        trace_id=manifest[ManifestKey.TRACE_ID],
        rollout_id=manifest[ManifestKey.ROLLOUT_ID],
        root_thread_id=manifest[ManifestKey.ROOT_THREAD_ID],
    )
    events = _events(bundle, name)

    # Every payload to write: key -> (kind, path); ordered by ordinal, then by first use.
    order: list[tuple[tuple, str, str, str]] = []  # (sort key, raw_payload_id, kind, path)
    seen: set[str] = set()
    first_use = 0
    for ev in events:
        for r in _refs(dialect, ev.get(E.PAYLOAD)):
            rid = r["raw_payload_id"]
            if rid in seen:
                continue
            seen.add(rid)
            first_use += 1
            ordinal = layout.id_ordinal(rid) if isinstance(rid, str) else None
            sort_key = (0, ordinal) if ordinal is not None else (1, first_use)
            order.append((sort_key, rid, r["kind"].get("type"), rid if records is not None else r[layout.ref_key]))
    referenced_paths = {p for _, _, _, p in order}
    for rid in records or ():  # v3: a record is found by its id
        ordinal = layout.id_ordinal(rid)
        if rid not in referenced_paths and ordinal is not None:
            order.append(((0, ordinal), f"orphan:{rid}", "protocol_event", rid))
    for path in bundle.payloads if records is None else ():
        ordinal = layout.file_ordinal(path)
        if path not in referenced_paths and ordinal is not None:
            # an orphan: its kind is unknowable; protocol_event is a neutral choice
            order.append(((0, ordinal), f"orphan:{path}", "protocol_event", path))
    order.sort(key=lambda t: t[0])

    def body(path: str, rid: str):
        data = bundle.payloads.get(path) if records is None else records.get(path)
        if data is None and path in bundle.unread:  # a FIFO, a loop... under a name no ordinal gives
            raise ScriptError(f"{name}: {rid} points at {path}, which is {bundle.unread[path]}")
        if data is None:
            raise ScriptError(f"{name}: {rid} points at {path}, which the bundle does not hold")
        try:
            return loads(data)
        except (ValueError, RecursionError) as e:
            raise ScriptError(f"{name}: {path} is not JSON: {e}") from None

    handle_of: dict[str, int] = {}
    pending = list(order)
    for ev in events:
        needed = {r["raw_payload_id"] for r in _refs(dialect, ev.get(E.PAYLOAD))} - set(handle_of)
        while needed:
            _, rid, kind, path = pending.pop(0)
            b.payload(kind, body(path, rid), note=f"{path}")
            handle_of[rid] = b._handles
            needed.discard(rid)
        ctx = {E.THREAD_ID: ev.get(E.THREAD_ID), E.TURN_ID: ev.get(E.TURN_ID)}
        b.event(_replace_refs(dialect, ev.get(E.PAYLOAD), handle_of), **ctx, note=f"seq {ev.get(E.SEQ)}")
    for _, rid, kind, path in pending:
        b.payload(kind, body(path, rid), note=f"{path} (orphan)")
    return b.build()


def _refuse_unread(bundle: Bundle, name: str, needed: Callable[[str], bool]) -> None:
    """A file the replay ``needed`` that Bundle.read found but could not read (a FIFO, a loop, a
    device, a directory, unreadable), or a missing log: the source cannot make the script. A usage
    error naming the file and why, never a script without it that blames the writer for what is missing."""
    missing_log = {TRACE: "missing"} if not bundle.has_trace and TRACE not in bundle.unread else {}
    for rel, why in {**bundle.unread, **missing_log}.items():
        if needed(rel):
            raise ScriptError(f"{name}: {rel} is {why}; a script replays every file of the bundle")


def _events(bundle: Bundle, name: str) -> list[dict]:
    """Every line of the trace as an event object. A line that is not one cannot be replayed: the
    source cannot make the script (a usage error, exit 2, as for any script source that fails),
    never a script that drops it and lets the writer pass on the rest (Bundle.events skips it)."""
    events = []
    for n, line in enumerate(bundle.lines, 1):
        try:
            ev = loads(line)
        except (ValueError, RecursionError):
            raise ScriptError(f"{name}: line {n} of {TRACE} is not JSON; a script replays every line") from None
        if not isinstance(ev, dict):
            raise ScriptError(f"{name}: line {n} of {TRACE} is not a JSON object; a script replays every line")
        events.append(ev)
    return events


def _records(bundle: Bundle, name: str) -> dict[str, bytes]:
    """v3: every record of every shard, id -> body (scripts are small: the shards together
    decompress to at most MAX_BUNDLE_BYTES, or the bundle is refused)."""
    import io

    from ...store.shards import SHARD_TOO_LARGE, Limits, Record, ShardError, read_records

    out: dict[str, bytes] = {}
    left = MAX_BUNDLE_BYTES
    for rel in sorted(bundle.payloads):
        if rel.endswith(ZSTD_SHARDS.payload_suffix):
            for r in read_records(io.BytesIO(bundle.payloads[rel]), Limits(max_shard_bytes=left)):
                if isinstance(r, ShardError) and r.code == SHARD_TOO_LARGE:
                    raise ScriptError(f"{name}: its shards decompress to more than {MAX_BUNDLE_BYTES} bytes "
                                      "(the replay's cap)")
                if isinstance(r, Record):
                    left -= 10 + len(r.id) + r.length
                    if r.body is not None:
                        out.setdefault(r.id.decode("utf-8", "replace"), bytes(r.body))
    return out


# --- the hand-written lifecycle -------------------------------------------------------------------

# Strings a JSON encoder gets wrong most often: escapes, control characters, the
# two line separators JavaScript treats specially, non-BMP characters.
AWKWARD = "quote \" backslash \\ slash / tab \t nl \n cr \r nul \u0000 esc \u001b del \u007f ls \u2028 ps \u2029 é 中 🚀"


def _deep(n: int):
    v: object = "bottom"
    for i in range(n):
        v = [v] if i % 2 else {"d": v}
    return v


LIFECYCLE_SCENARIO = "basic"  # a corpus run with a thread, a turn, inferences and tool calls

STRESS = {
    "awkward": AWKWARD,
    "ints": [0, -1, 2**53 + 1, 2**63 - 1, -(2**63)],
    "floats": [0.5, -1.25, 1e-7, 3.0e20],
    "empty": [{}, [], ""],
    "bools": [True, False, None],
    "deep": _deep(60),
    "long": "x" * 70_000,
}


def lifecycle_script(dialect: str) -> Script:
    """A real lifecycle of ``dialect`` that also stresses JSON encoding.

    The events are the ``basic`` corpus run of the dialect's reference release (so its
    variants and fields are what that release writes, nothing typed here); awkward
    strings go into the first tool summary, the first tool result also carries escapes,
    deep nesting and extreme numbers, and an orphan payload is written before close.
    """
    if dialect not in DIALECTS:
        raise ScriptError(f"unknown dialect {dialect!r}")
    d = DIALECTS[dialect]
    base = corpus_root() / f"codex-{d.reference_release}" / LIFECYCLE_SCENARIO
    script = script_from_bundle(base, f"lifecycle:{dialect}")
    result = next(op for op in script.ops if op.cmd == "write_payload" and op.args["kind"] == "tool_result")
    body = result.args["body"]
    result.args["body"] = {**body, "stress": STRESS} if isinstance(body, dict) else {"body": body, "stress": STRESS}
    start = next(op for op in script.ops if op.cmd == "append_event" and op.args[E.PAYLOAD]["type"] == "tool_call_started")
    summary = start.args[E.PAYLOAD]["summary"]
    if "input_preview" in summary:
        summary["input_preview"] = f"{summary['input_preview'] or ''} {AWKWARD}"
    orphan = {"note": "an orphan: written, never referenced (allowed, upstream-rules D.2)"}
    script.ops.insert(-1, Op("write_payload", {"kind": "protocol_event", "body": orphan}, script.payloads + 1, "orphan"))
    return script.check()


# --- sources ----------------------------------------------------------------------------------------

ScriptSource = Callable[[str], list[Script]]
SOURCES: dict[str, tuple[ScriptSource, str]] = {}


def register_script_source(prefix: str, source: ScriptSource, help: str = "") -> None:
    """Make ``--script PREFIX:ARG`` call ``source(ARG)`` (a list of scripts)."""
    SOURCES[prefix] = (source, help)




def _corpus(arg: str) -> list[Script]:
    root = corpus_root()
    if not root.is_dir():
        raise ScriptError(f"the corpus is not here ({root}); use bundle:PATH")
    rel = arg.strip("/")
    if rel and not rel.startswith("codex-"):
        rel = f"codex-{rel}"
    target = root / rel if rel else root
    if (target / MANIFEST).is_file():
        bundles = [target]
    else:
        # a folder: the bundles of the dialects the kit's writers write
        written = {DIALECTS[n].schema_version for n in written_dialects()}
        bundles = sorted(
            p.parent for p in target.glob(f"**/{MANIFEST}") if orjson.loads(p.read_bytes()).get("schema_version") in written
        )
    if not bundles:
        raise ScriptError(f"no corpus bundle matches {arg!r} (under {root})")
    return [script_from_bundle(p, f"corpus:{p.relative_to(root)}") for p in bundles]


def _empty(source: str) -> ScriptError:
    """``SOURCE:`` with no path: an unset variable in CI, never "the current directory"."""
    return ScriptError(f"{source}: names no path (an unset variable?): name a {'bundle directory' if source == 'bundle' else 'file'}")


def _bundle(arg: str) -> list[Script]:
    if not arg:
        raise _empty("bundle")
    from ...files import LOOP, loops

    p = Path(arg)
    if loops(p):
        raise ScriptError(f"{arg}: not a bundle directory: {LOOP}")
    if not os.path.lexists(p / MANIFEST):
        raise ScriptError(f"{arg}: not a bundle directory (no {MANIFEST})")
    return [script_from_bundle(p, f"bundle:{arg}")]  # a manifest that cannot be read: named by Bundle.read


def _lifecycle(arg: str) -> list[Script]:
    names = [arg] if arg else written_dialects()
    return [lifecycle_script(d) for d in names]


MAX_SCRIPT_BYTES = 1 << 30
# bundle:DIR and corpus: replay a bundle held in memory (its lines, parsed events, payloads):
# its files together are capped well below what that costs in memory.
MAX_BUNDLE_BYTES = 256 << 20
# gen:DIALECT:EVENTS builds its bundle in memory too: a cap of the same order (about 30 MB of
# events), so a typo of a few digits is refused, not generated until memory runs out.
MAX_GENERATED_EVENTS = 100_000


def _file(arg: str) -> list[Script]:
    from ...files import read_capped  # regular files only: a FIFO or a device is refused, not read forever

    if not arg:
        raise _empty("file")
    got = read_capped(arg, MAX_SCRIPT_BYTES)
    if got.data is None or got.problem:
        raise ScriptError(f"{arg}: {'no such file or directory' if got.missing else got.problem}")
    try:
        text = got.data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ScriptError(f"{arg}: not UTF-8 (byte {e.start})") from None
    return [Script.from_json(text)]


def _generated(arg: str) -> list[Script]:
    """``gen:DIALECT[:EVENTS[:SEED]]``: a deterministic generated bundle (generators.build_bundle)."""
    parts = arg.split(":") if arg else []
    dialect = parts[0] if parts else DEFAULT_DIALECT
    try:
        events = int(parts[1]) if len(parts) > 1 else 200
        seed = int(parts[2]) if len(parts) > 2 else 0
    except ValueError:
        raise ScriptError(f"gen:{arg}: expected gen:DIALECT[:EVENTS[:SEED]]") from None
    if dialect not in DIALECTS:
        raise ScriptError(f"gen:{arg}: unknown dialect {dialect!r}")
    if events > MAX_GENERATED_EVENTS:  # the bundle and its script are held in memory
        raise ScriptError(f"gen:{arg}: at most {MAX_GENERATED_EVENTS:,} events")
    from ...generators import build_bundle
    try:
        bundle = build_bundle(dialect, seed, events=events)
    except ValueError as e:
        raise ScriptError(f"gen:{arg}: {e}") from None
    return [script_from_bundle(bundle, f"gen:{dialect}:{events}:{seed}")]


register_script_source("corpus", _corpus, "replay real bundles: corpus:codex-0.169.0/tools, corpus:codex-0.164.0")
register_script_source("bundle", _bundle, "replay any bundle directory: bundle:PATH")
register_script_source("lifecycle", _lifecycle, "the hand-written lifecycle: lifecycle:v1, lifecycle:v2")
register_script_source("file", _file, "a saved script: file:PATH")
register_script_source("gen", _generated, "a deterministic generated bundle: gen:v2:EVENTS:SEED")


def load_scripts(spec: str) -> list[Script]:
    """Scripts named by ``SOURCE:ARG``."""
    prefix, sep, arg = spec.partition(":")
    if not sep or prefix not in SOURCES:
        known = ", ".join(f"{p}:" for p in SOURCES)
        raise ScriptError(f"unknown script source {spec!r}; known: {known}")
    return SOURCES[prefix][0](arg)


def default_scripts(dialect: str) -> list[Script]:
    """The hand-written lifecycle and every corpus bundle of the dialect's reference release."""
    from ...codex.install import REFERENCE_RELEASES

    scripts = [lifecycle_script(dialect)]
    if corpus_root().is_dir():
        scripts += _corpus(f"codex-{REFERENCE_RELEASES[dialect]}")
    return scripts


def write_script(script: Script, bundle_dir: str | Path, *, clock=None) -> Path:
    """Play ``script`` in-process with the reference writer (no protocol, no checks).

    ``clock`` is passed to :meth:`TraceWriter.create`: replaying a bundle's own times
    (``started_at_unix_ms`` then each event's ``wall_time_unix_ms``) reproduces it byte for byte.
    """
    from ...writer import TraceWriter

    writer: TraceWriter | None = None
    refs: dict[int, dict] = {}
    for op in script.ops:
        if op.cmd == "create":
            ids = {k: op.args[k] for k in ("trace_id", "rollout_id", "root_thread_id")}
            writer = TraceWriter.create(bundle_dir, dialect=script.dialect, clock=clock, **ids)
        elif writer is None:
            raise ScriptError(f"{script.name}: {op.cmd} before create")
        elif op.cmd == "write_payload":
            assert op.handle is not None  # every write_payload op has its handle
            refs[op.handle] = writer.write_json_payload(op.args["kind"], op.args["body"])
        elif op.cmd == "append_event":
            ctx = op.args["context"]
            writer.append_with_context(
                substitute(op.args[E.PAYLOAD], refs), thread_id=ctx["thread_id"], codex_turn_id=ctx["codex_turn_id"]
            )
        elif op.cmd == "close":
            writer.close()
    return Path(bundle_dir)


def replay_clock(bundle: Bundle):
    """A clock that returns the bundle's own times: its manifest's, then each event's."""
    assert bundle.manifest is not None  # a bundle replayed has a manifest (its script was made from it)
    times = [orjson.loads(bundle.manifest)["started_at_unix_ms"]] + [e[E.WALL_TIME] for e in bundle.events()]
    it = iter(times)
    return lambda: next(it)
