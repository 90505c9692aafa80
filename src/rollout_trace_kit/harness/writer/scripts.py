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

from ...corpus import corpus_root

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import orjson

from ...bundle import Bundle
from ...model import DIALECTS, dialect_for_schema_version

HANDLE_KEY = "$payload"
REF_KEYS = frozenset({"raw_payload_id", "kind", "path"})
LOCATORS = ("path", "shard")  # how a ref finds its payload: a file (v1, v2) or a shard (v3)
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
            if op.cmd not in OPERATIONS or (op.cmd in ("create", "close") and 0 < i < len(self.ops) - 1):
                raise ScriptError(f"{self.name}: operation {i} is {op.cmd!r} in the middle of the script")
            if op.cmd == "write_payload":
                written += 1
                if op.handle != written:
                    raise ScriptError(f"{self.name}: operation {i} has handle {op.handle}, expected {written}")
            elif op.cmd == "append_event":
                for h in handles_in(op.args.get("payload")):
                    if not 1 <= h <= written:
                        raise ScriptError(f"{self.name}: operation {i} uses payload handle {h} before it is written")
        return self

    def to_json(self) -> str:
        return json.dumps(
            {"name": self.name, "dialect": self.dialect, "ops": [op.to_dict() for op in self.ops]},
            indent=1,
            ensure_ascii=False,
        )

    @classmethod
    def from_json(cls, text: str) -> "Script":
        try:
            obj = json.loads(text)
            ops = []
            for raw in obj["ops"]:
                raw = dict(raw)
                cmd = raw.pop("cmd")
                handle = raw.pop("handle", None)
                note = raw.pop("note", "")
                ops.append(Op(cmd, raw, handle, note))
            return cls(obj["name"], obj["dialect"], ops).check()
        except (ValueError, KeyError, TypeError) as e:
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
                {"dialect": dialect, "trace_id": trace_id, "rollout_id": rollout_id, "root_thread_id": root_thread_id},
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

_CANONICAL = re.compile(r"raw_payload:([1-9][0-9]*)\Z")
_CANONICAL_PATH = re.compile(r"payloads/([1-9][0-9]*)\.json\Z")


def _is_ref(v) -> bool:
    return (
        isinstance(v, dict) and "raw_payload_id" in v and isinstance(v.get("kind"), dict)
        and any(k in v for k in LOCATORS) and (set(v) == REF_KEYS or "shard" in v)
    )


def _refs(value) -> list[dict]:
    out: list[dict] = []
    stack = [value]
    while stack:
        v = stack.pop()
        if _is_ref(v):
            out.append(v)
            if v.get("parts"):  # v3: parts are written before the payload they make up
                stack.extend(reversed(v["parts"]))
        elif isinstance(v, dict):
            stack.extend(reversed(list(v.values())))
        elif isinstance(v, list):
            stack.extend(reversed(v))
    return out


def _replace_refs(value, handle_of: dict[str, int]):
    if _is_ref(value):
        extra = {k: _replace_refs(v, handle_of) for k, v in value.items() if k not in ("raw_payload_id", "kind") + LOCATORS}
        return {HANDLE_KEY: handle_of[value["raw_payload_id"]], **extra}
    if isinstance(value, dict):
        return {k: _replace_refs(v, handle_of) for k, v in value.items()}
    if isinstance(value, list):
        return [_replace_refs(v, handle_of) for v in value]
    return value


def script_from_bundle(bundle: Bundle | str | Path, name: str | None = None) -> Script:
    """A script that makes a writer write ``bundle`` again.

    Payloads are written in their ordinal order, each before the first event
    that refers to it; files nobody refers to (orphans) are written in their
    ordinal place too, so a writer numbering from 1 reproduces the ordinals.
    """
    if not isinstance(bundle, Bundle):
        name = name or str(bundle)
        bundle = Bundle.read(bundle)
    name = name or "bundle"
    if bundle.manifest is None:
        raise ScriptError(f"{name}: no manifest.json")
    try:
        manifest = orjson.loads(bundle.manifest)
    except orjson.JSONDecodeError as e:
        raise ScriptError(f"{name}: manifest.json is not JSON: {e}") from None
    dialect = dialect_for_schema_version(manifest.get("schema_version"))
    if dialect is None:
        raise ScriptError(f"{name}: unknown schema_version {manifest.get('schema_version')!r}")
    b = ScriptBuilder(
        name,
        dialect.name,
        trace_id=manifest["trace_id"],
        rollout_id=manifest["rollout_id"],
        root_thread_id=manifest["root_thread_id"],
    )
    events = bundle.events()
    records = _records(bundle) if dialect.name not in ("v1", "v2") else {}

    # Every payload to write: key -> (kind, path); ordered by ordinal, then by first use.
    order: list[tuple[tuple, str, str, str]] = []  # (sort key, raw_payload_id, kind, path)
    seen: set[str] = set()
    first_use = 0
    for ev in events:
        for r in _refs(ev.get("payload")):
            rid = r["raw_payload_id"]
            if rid in seen:
                continue
            seen.add(rid)
            first_use += 1
            m = _CANONICAL.match(rid) if isinstance(rid, str) else None
            key = (0, int(m.group(1))) if m else (1, first_use)
            order.append((key, rid, r["kind"].get("type"), r.get("path", rid)))
    referenced_paths = {p for _, _, _, p in order}
    for path in bundle.payloads if not records else ():
        m = _CANONICAL_PATH.match(path)
        if path not in referenced_paths and m:
            # an orphan: its kind is unknowable; protocol_event is a neutral choice
            order.append(((0, int(m.group(1))), f"orphan:{path}", "protocol_event", path))
    for rid in records:
        m = _CANONICAL.match(rid)
        if rid not in referenced_paths and m:
            order.append(((0, int(m.group(1))), f"orphan:{rid}", "protocol_event", rid))
    order.sort(key=lambda t: t[0])

    def body(path: str, rid: str):
        data = records.get(path) if records else bundle.payloads.get(path)
        if data is None:
            raise ScriptError(f"{name}: {rid} points at {path}, which the bundle does not hold")
        try:
            return orjson.loads(data)
        except orjson.JSONDecodeError as e:
            raise ScriptError(f"{name}: {path} is not JSON: {e}") from None

    handle_of: dict[str, int] = {}
    pending = list(order)
    for ev in events:
        needed = {r["raw_payload_id"] for r in _refs(ev.get("payload"))} - set(handle_of)
        while needed:
            _, rid, kind, path = pending.pop(0)
            b.payload(kind, body(path, rid), note=f"{path}")
            handle_of[rid] = b._handles
            needed.discard(rid)
        ctx = {"thread_id": ev.get("thread_id"), "codex_turn_id": ev.get("codex_turn_id")}
        b.event(_replace_refs(ev.get("payload"), handle_of), **ctx, note=f"seq {ev.get('seq')}")
    for _, rid, kind, path in pending:
        b.payload(kind, body(path, rid), note=f"{path} (orphan)")
    return b.build()


def _records(bundle: Bundle) -> dict[str, bytes]:
    """v3: every record of every shard, id -> body (scripts are small)."""
    import io

    from ...store.shards import Record, read_records

    out: dict[str, bytes] = {}
    for rel in sorted(bundle.payloads):
        if rel.endswith(".zst"):
            for r in read_records(io.BytesIO(bundle.payloads[rel])):
                if isinstance(r, Record) and r.body is not None:
                    out.setdefault(r.id.decode("utf-8", "replace"), r.body)
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


def lifecycle_script(dialect: str) -> Script:
    """A small lifecycle every dialect shares: one thread, a turn, two inferences, a tool call."""
    if dialect not in DIALECTS:
        raise ScriptError(f"unknown dialect {dialect!r}")
    root = "019a0000-0000-7000-8000-000000000001"
    turn = "019a0000-0000-7000-8000-0000000000a1"
    b = ScriptBuilder(
        f"lifecycle:{dialect}",
        dialect,
        trace_id="0b8f7e2c-1d2a-4c3b-9e4f-5a6b7c8d9e0f",
        rollout_id=root,
        root_thread_id=root,
    )
    in_turn = {"thread_id": root, "codex_turn_id": turn}
    b.event({"type": "rollout_started", "trace_id": "0b8f7e2c-1d2a-4c3b-9e4f-5a6b7c8d9e0f", "root_thread_id": root})
    meta = b.payload(
        "session_metadata",
        {"thread_id": root, "agent_path": "/root", "task_name": None, "nickname": None, "agent_role": None,
         "session_source": "exec", "cwd": "/home/dev/project", "model": "gpt-5.5", "provider_name": "mock"},
    )
    b.event({"type": "thread_started", "thread_id": root, "agent_path": "/root", "metadata_payload": meta})
    b.event({"type": "codex_turn_started", "codex_turn_id": turn, "thread_id": root}, **in_turn)
    user = {"type": "message", "role": "user", "content": [{"type": "input_text", "text": f"say hi {AWKWARD}"}]}
    req1 = b.payload("inference_request", {"model": "gpt-5.5", "stream": True, "input": [user]})
    inference = {"thread_id": root, "codex_turn_id": turn, "model": "gpt-5.5", "provider_name": "mock"}
    b.event({"type": "inference_started", "inference_call_id": "inf-1", **inference, "request_payload": req1}, **in_turn)
    call = {"type": "function_call", "id": "fc-1", "name": "exec_command",
            "arguments": "{\"cmd\": \"echo hi\"}", "call_id": "call-1"}
    resp1 = b.payload("inference_response", {"response_id": "resp-1", "output_items": [call]})
    b.event({"type": "inference_completed", "inference_call_id": "inf-1", "response_id": "resp-1",
             "upstream_request_id": "req-1", "response_payload": resp1}, **in_turn)
    inv = b.payload("tool_invocation", {"tool_name": "exec_command", "tool_namespace": None,
                                        "payload": {"type": "function", "arguments": call["arguments"]}})
    b.event({"type": "tool_call_started", "tool_call_id": "call-1", "model_visible_call_id": "call-1",
             "code_mode_runtime_tool_id": None, "requester": {"type": "model"}, "kind": {"type": "exec_command"},
             "summary": {"type": "generic", "label": "exec_command", "input_preview": call["arguments"],
                         "output_preview": None},
             "invocation_payload": inv}, **in_turn)
    command = {"call_id": "call-1", "command": ["/bin/bash", "-lc", "echo hi"], "cwd": "/home/dev/project"}
    begin = b.payload("tool_runtime_event", command)
    started = {"type": "tool_call_runtime_started", "tool_call_id": "call-1"}
    if dialect != "v1":
        started["kind"] = {"type": "exec_command"}
    started["runtime_payload"] = begin
    b.event(started, **in_turn)
    end = b.payload("tool_runtime_event", {**command, "aggregated_output": "hi\n", "exit_code": 0,
                                           "duration": {"secs": 0, "nanos": 6599}, "status": "completed"})
    b.event({"type": "tool_call_runtime_ended", "tool_call_id": "call-1", "status": "completed",
             "runtime_payload": end}, **in_turn)
    stress = {
        "type": "direct_response",
        "response_item": {"type": "function_call_output", "call_id": "call-1", "output": f"hi\n{AWKWARD}"},
        "stress": {"awkward": AWKWARD, "ints": [0, -1, 2**53 + 1, 2**63 - 1, -(2**63)],
                   "floats": [0.5, -1.25, 1e-7, 3.0e20], "empty": [{}, [], ""], "bools": [True, False, None],
                   "deep": _deep(60), "long": "x" * 70_000},
    }
    result = b.payload("tool_result", stress)
    b.event({"type": "tool_call_ended", "tool_call_id": "call-1", "status": "completed", "result_payload": result},
            **in_turn)
    b.payload("protocol_event", {"note": "an orphan: written, never referenced (allowed, upstream-rules D.2)"})
    output = {"type": "function_call_output", "call_id": "call-1", "output": "hi\n"}
    req2 = b.payload("inference_request", {"model": "gpt-5.5", "stream": True, "input": [user, call, output]})
    b.event({"type": "inference_started", "inference_call_id": "inf-2", **inference, "request_payload": req2}, **in_turn)
    msg = {"type": "message", "role": "assistant", "id": "msg-2",
           "content": [{"type": "output_text", "text": f"done {AWKWARD}"}]}
    resp2 = b.payload("inference_response", {"response_id": "resp-2", "output_items": [msg]})
    b.event({"type": "inference_completed", "inference_call_id": "inf-2", "response_id": "resp-2",
             "upstream_request_id": None, "response_payload": resp2}, **in_turn)
    b.event({"type": "codex_turn_ended", "codex_turn_id": turn, "status": "completed"}, **in_turn)
    b.event({"type": "thread_ended", "thread_id": root, "status": "completed"})
    b.event({"type": "rollout_ended", "status": "completed"})
    if dialect != "v1":
        b.event({"type": "recording_completed"})
    return b.build()


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
    if (target / "manifest.json").is_file():
        bundles = [target]
    else:
        bundles = sorted(p.parent for p in target.glob("**/manifest.json"))
    if not bundles:
        raise ScriptError(f"no corpus bundle matches {arg!r} (under {root})")
    return [script_from_bundle(p, f"corpus:{p.relative_to(root)}") for p in bundles]


def _bundle(arg: str) -> list[Script]:
    p = Path(arg)
    if not (p / "manifest.json").is_file():
        raise ScriptError(f"{arg}: not a bundle directory (no manifest.json)")
    return [script_from_bundle(p, f"bundle:{arg}")]


def _lifecycle(arg: str) -> list[Script]:
    names = [arg] if arg else list(DIALECTS)
    return [lifecycle_script(d) for d in names]


def _file(arg: str) -> list[Script]:
    try:
        text = Path(arg).read_text(encoding="utf-8")
    except OSError as e:
        raise ScriptError(f"{arg}: {e.strerror}") from None
    return [Script.from_json(text)]


def _generated(arg: str) -> list[Script]:
    """``gen:DIALECT[:EVENTS[:SEED]]``: a deterministic generated bundle (generators.build_bundle)."""
    parts = arg.split(":") if arg else []
    dialect = parts[0] if parts else "v2"
    try:
        events = int(parts[1]) if len(parts) > 1 else 200
        seed = int(parts[2]) if len(parts) > 2 else 0
    except ValueError:
        raise ScriptError(f"gen:{arg}: expected gen:DIALECT[:EVENTS[:SEED]]") from None
    if dialect not in DIALECTS:
        raise ScriptError(f"gen:{arg}: unknown dialect {dialect!r}")
    try:
        from ...generators import build_bundle
    except ImportError as e:  # the generators need the [generators] extra (Hypothesis)
        raise ScriptError(f"gen: needs the generators extra: {e}") from None
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

    writer = None
    refs: dict[int, dict] = {}
    for op in script.ops:
        if op.cmd == "create":
            ids = {k: op.args[k] for k in ("trace_id", "rollout_id", "root_thread_id")}
            writer = TraceWriter.create(bundle_dir, dialect=script.dialect, clock=clock, **ids)
        elif op.cmd == "write_payload":
            refs[op.handle] = writer.write_json_payload(op.args["kind"], op.args["body"])
        elif op.cmd == "append_event":
            ctx = op.args["context"]
            writer.append_with_context(
                substitute(op.args["payload"], refs), thread_id=ctx["thread_id"], codex_turn_id=ctx["codex_turn_id"]
            )
        elif op.cmd == "close":
            writer.close()
    return Path(bundle_dir)


def replay_clock(bundle: Bundle):
    """A clock that returns the bundle's own times: its manifest's, then each event's."""
    times = [orjson.loads(bundle.manifest)["started_at_unix_ms"]] + [e["wall_time_unix_ms"] for e in bundle.events()]
    it = iter(times)
    return lambda: next(it)
