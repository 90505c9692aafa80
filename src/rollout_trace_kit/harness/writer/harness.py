"""Drive a trace writer under test and check what it leaves on disk.

The harness starts the writer (any program speaking the driver protocol,
:mod:`.protocol`) as a subprocess, plays a :class:`~.scripts.Script`
to it, and checks:

1. **every step**: after each answer and before the next request, the disk
   is what the answers promise (the manifest after ``create``, the payload
   file after ``write_payload``, the flushed line after ``append_event``),
   the log only grows, and no line on disk points at a missing payload;
2. **the final bundle**: after ``close`` the bundle holds exactly the script
   and passes the validator's writer profile;
3. **crash-consistency**: for every operation ``k`` (or a sample), a fresh
   writer is killed with SIGKILL right after answering ``k`` (or, with
   ``inflight``, while performing ``k + 1``), and the bundle it leaves must be
   a valid prefix of the script.

Every finding names a check: a ``WRITER.*`` id of :mod:`.checks`, or
the validator invariant that was broken, with the operation index.
"""

from __future__ import annotations

import os
import queue
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import orjson

from ...model import facts, get_dialect
from ...model.common import FILE_PER_PAYLOAD
from ...writer.core import manifest_record
from ...validate import Options, Profile, Severity, validate_bundle
from ...validate.rules.refs import confinement_problem
from ...compilers.canonical import EventError, canonical_event, canonical_payload, dumps
from . import checks as C
from .protocol import PROTOCOL_VERSION, message_errors
from .scripts import Op, Script, substitute

MANIFEST, TRACE, PAYLOADS = FILE_PER_PAYLOAD.file_names  # every layout keeps these names
MAX_REPEATS = 5  # findings of one check in one phase before they are summarised


# --- findings ------------------------------------------------------------------------------


@dataclass
class Finding:
    check: str  # a WRITER.* id or a validator invariant id
    message: str
    op: int | None = None  # operation index in the script (0 is create)
    phase: str = "run"  # "run", "final", "crash after op K", "crash during op K"
    severity: Severity = Severity.ERROR
    seq: int | None = None

    def to_dict(self) -> dict:
        return {
            "check": self.check,
            "severity": self.severity.value,
            "phase": self.phase,
            "op": self.op,
            "seq": self.seq,
            "message": self.message,
        }


@dataclass
class ScriptResult:
    script: str
    dialect: str
    ops: int
    events: int
    payloads: int
    findings: list[Finding] = field(default_factory=list)
    crash_points: list[int] = field(default_factory=list)
    crash_mode: str = "after"
    skipped: str | None = None
    implementation: dict | None = None
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.skipped is None and not any(f.severity is Severity.ERROR for f in self.findings)

    def ids(self) -> set[str]:
        return {f.check for f in self.findings}

    def error_ids(self) -> set[str]:
        return {f.check for f in self.findings if f.severity is Severity.ERROR}

    def to_dict(self) -> dict:
        return {
            "script": self.script,
            "dialect": self.dialect,
            "ok": self.ok,
            "skipped": self.skipped,
            "ops": self.ops,
            "events": self.events,
            "payloads": self.payloads,
            "crash_mode": self.crash_mode,
            "crash_points": self.crash_points,
            "seconds": round(self.seconds, 3),
            "findings": [f.to_dict() for f in self.findings],
        }


class Findings:
    """Collects findings of one phase, summarising a check that repeats."""

    def __init__(self, phase: str):
        self.phase = phase
        self.items: list[Finding] = []
        self.counts: dict[str, int] = {}

    def add(self, check: C.WriterCheck | str, message: str, op: int | None, *, seq=None, severity=None) -> None:
        cid = check.id if isinstance(check, C.WriterCheck) else check
        if severity is None:
            severity = check.severity if isinstance(check, C.WriterCheck) else Severity.ERROR
        n = self.counts.get(cid, 0) + 1
        self.counts[cid] = n
        if n <= MAX_REPEATS:
            self.items.append(Finding(cid, message, op, self.phase, severity, seq))

    def done(self) -> list[Finding]:
        out = list(self.items)
        for cid, n in self.counts.items():
            if n > MAX_REPEATS:
                sev = next(f.severity for f in self.items if f.check == cid)
                out.append(Finding(cid, f"... and {n - MAX_REPEATS} more like these", None, self.phase, sev))
        return out


# --- the writer process ------------------------------------------------------------------------


class WriterDied(Exception):
    pass


class WriterTimeout(Exception):
    pass


class WriterProcess:
    """The writer under test: JSON lines in, JSON lines out, standard error kept for messages."""

    def __init__(self, argv: Sequence[str], *, cwd: str | None = None, env: dict | None = None):
        self._stderr = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(
            list(argv),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            cwd=cwd,
            env=env,
            start_new_session=True,  # its own process group: SIGKILL reaches wrapper scripts' children
        )
        self._lines: queue.Queue = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self._lines.put(line)
        self._lines.put(None)

    def send(self, obj: dict) -> None:
        assert self.proc.stdin is not None
        try:
            self.proc.stdin.write(orjson.dumps(obj) + b"\n")
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError):
            raise WriterDied(f"the writer closed its standard input (exit status {self.proc.poll()})") from None

    def receive(self, timeout: float) -> bytes:
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise WriterTimeout(f"no answer within {timeout:g} s")
            try:
                line = self._lines.get(timeout=left)
            except queue.Empty:
                continue
            if line is None:
                rc = self.proc.wait(timeout=5)
                raise WriterDied(f"the writer exited (status {rc}) without answering")
            if line.strip():
                return line

    def kill(self) -> None:
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                self.proc.kill()
        self.proc.wait()
        # the group may hold children that outlive the leader
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass

    def close_stdin(self) -> None:
        try:
            if self.proc.stdin:
                self.proc.stdin.close()
        except OSError:
            pass

    def stderr_tail(self, n: int = 600) -> str:
        try:
            self._stderr.seek(0)
            data = self._stderr.read()
        except (OSError, ValueError):
            return ""
        text = data.decode("utf-8", "replace").strip()
        return text[-n:]

    def cleanup(self) -> None:
        self.kill()
        for s in (self.proc.stdin, self.proc.stdout):
            try:
                if s:
                    s.close()
            except OSError:
                pass
        self._stderr.close()


# --- JSON helpers ------------------------------------------------------------------------------------


def json_equal(a, b) -> bool:
    """Equality of parsed JSON: booleans are not numbers, numbers compare by value, key order ignored."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return a == b
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(json_equal(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(json_equal(x, y) for x, y in zip(a, b))
    return type(a) is type(b) and a == b


def first_difference(a, b, path: str = "") -> str:
    """A JSON pointer and short description of where ``a`` and ``b`` first differ."""
    if isinstance(a, dict) and isinstance(b, dict):
        for k in list(a) + [k for k in b if k not in a]:
            if k not in a:
                return f"{path}/{k}: unexpected key"
            if k not in b:
                return f"{path}/{k}: missing"
            if not json_equal(a[k], b[k]):
                return first_difference(a[k], b[k], f"{path}/{k}")
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        for i, (x, y) in enumerate(zip(a, b)):
            if not json_equal(x, y):
                return first_difference(x, y, f"{path}/{i}")
    return f"{path or '/'}: expected {_short(a)}, found {_short(b)}"


def _short(v) -> str:
    text = orjson.dumps(v).decode() if not isinstance(v, bytes) else repr(v)
    return text if len(text) <= 80 else text[:77] + "..."


def _refs(dialect, value) -> list[dict]:
    """The refs of an event payload where the model puts them (well-typed ones only)."""
    key = dialect.layout.ref_key
    return [
        r
        for _, r, _ in facts.iter_refs(dialect, value)
        if isinstance(r.get("raw_payload_id"), str) and isinstance(r.get(key), str)
    ]


def _read(path: Path) -> bytes | None:
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError:
        return None


def _split_log(data: bytes) -> tuple[list[bytes], bytes]:
    """Complete lines (without "\\n") and the partial tail."""
    parts = data.split(b"\n")
    return parts[:-1], parts[-1]


# --- one session -----------------------------------------------------------------------------------


@dataclass
class Config:
    argv: list[str]
    timeout: float = 10.0  # per answer
    start_timeout: float = 30.0
    cwd: str | None = None
    env: dict | None = None
    keep: Path | None = None  # keep bundles here instead of deleting them


class Session:
    """One writer process playing one script into one bundle directory."""

    def __init__(self, config: Config, script: Script, bundle: Path, findings: Findings):
        self.config = config
        self.script = script
        self.dialect = get_dialect(script.dialect)
        self.bundle = bundle
        self.f = findings
        self.proc: WriterProcess | None = None
        self.implementation: dict | None = None
        self.refs: dict[int, dict] = {}  # handle -> ref answered
        self.answers: list[dict] = []  # answered events, in order
        self.sent_events: list[tuple[int, dict]] = []  # (op index, expected event sans seq/time)

    # -- protocol ------------------------------------------------------------------------------------
    def open(self) -> str | None:
        """Start the writer and negotiate; None, or why the script cannot run (a skip)."""
        self.proc = WriterProcess(self.config.argv, cwd=self.config.cwd, env=self.config.env)
        reply = self.request({"cmd": "start", "id": 0, "version": PROTOCOL_VERSION}, None, self.config.start_timeout)
        if reply is None:
            return "the writer did not start"
        if not reply.get("ok"):
            return "the writer refused start"
        self.implementation = reply.get("implementation")
        if reply.get("version") != PROTOCOL_VERSION:
            self.f.add(C.PROTOCOL, f"start: the writer speaks version {reply.get('version')!r}, the harness {PROTOCOL_VERSION}", None)
            return "protocol version mismatch"
        dialects = (reply.get("capabilities") or {}).get("dialects") or []
        if self.script.dialect not in dialects:
            return f"the writer does not write dialect {self.script.dialect} (it announces {', '.join(dialects) or 'none'})"
        return None

    def request(self, req: dict, op: int | None, timeout: float | None = None) -> dict | None:
        """Send, await and check one answer; None after a protocol failure (already reported)."""
        assert self.proc is not None
        cmd = req["cmd"]
        where = f"op {op} ({cmd})" if op is not None else cmd
        try:
            self.proc.send(req)
            line = self.proc.receive(timeout or self.config.timeout)
        except (WriterDied, WriterTimeout) as e:
            tail = self.proc.stderr_tail()
            self.f.add(C.PROTOCOL, f"{where}: {e}" + (f"; its stderr ends: {tail}" if tail else ""), op)
            return None
        try:
            reply = orjson.loads(line)
        except orjson.JSONDecodeError as e:
            self.f.add(C.PROTOCOL, f"{where}: the answer is not one JSON line ({e}): {_short(line)}", op)
            return None
        if not isinstance(reply, dict) or reply.get("id") != req["id"]:
            got = reply.get("id") if isinstance(reply, dict) else None
            self.f.add(C.PROTOCOL, f"{where}: the answer has id {got!r}, the request {req['id']}", op)
            return None
        if reply.get("ok") is False:
            errors = message_errors("error", reply)
            if errors:
                self.f.add(C.PROTOCOL, f"{where}: malformed error answer: {errors[0]}", op)
            else:
                err = reply["error"]
                self.f.add(C.OP_FAILED, f"{where}: the writer answered ok:false ({err.get('kind', '?')}): {err.get('message')}", op)
            return None
        errors = message_errors(f"response.{cmd}", reply)
        if errors:
            self.f.add(C.PROTOCOL, f"{where}: the answer is not a valid response.{cmd}: {'; '.join(errors[:3])}", op)
            return None
        return reply

    def stop(self) -> None:
        assert self.proc is not None
        n = len(self.script.ops) + 1
        reply = self.request({"cmd": "stop", "id": n}, None)
        if reply is None:
            return
        try:
            rc = self.proc.proc.wait(timeout=self.config.timeout)
        except subprocess.TimeoutExpired:
            self.f.add(C.EXIT, f"stop: the writer has not exited {self.config.timeout:g} s after answering", None)
            return
        if rc != 0:
            self.f.add(C.EXIT, f"stop: the writer exited with status {rc}", None)

    def build_request(self, i: int, op: Op) -> dict:
        req = {"cmd": op.cmd, "id": i + 1}
        if op.cmd == "create":
            req.update(op.args)
            req["dir"] = str(self.bundle)
            req["dialect"] = self.script.dialect
        elif op.cmd == "write_payload":
            req["kind"] = op.args["kind"]
            req["body"] = op.args["body"]
            req["body_json"] = dumps(op.args["body"]).decode("utf-8")
        elif op.cmd == "append_event":
            payload = substitute(op.args["payload"], self.refs)
            try:
                payload = canonical_payload(self.dialect, payload)
            except EventError:
                pass  # a script may hold what the model rejects; send it as is
            req["context"] = dict(op.args["context"])
            req["payload"] = payload
        return req

    def perform(self, i: int, op: Op) -> dict | None:
        req = self.build_request(i, op)
        reply = self.request(req, i)
        if reply is None:
            return None
        if op.cmd == "write_payload":
            self.refs[op.handle] = reply["ref"]
        elif op.cmd == "append_event":
            self.answers.append(reply["event"])
            self.sent_events.append((i, {"context": req["context"], "payload": req["payload"]}))
        return reply | {"_request": req}

    def close(self) -> None:
        if self.proc is not None:
            self.proc.cleanup()


# --- the disk after every answer -------------------------------------------------------------------


class DiskChecker:
    """What must be on disk after each answer; reports into a Findings."""

    def __init__(self, session: Session):
        self.s = session
        self.f = session.f
        self.bundle = session.bundle
        self.dialect = session.dialect
        self.log = b""  # trace.jsonl as last seen
        self.lines_checked = 0  # complete lines already checked
        self.prev_seq: int | None = None
        self.bodies: dict[str, object] = {}  # raw_payload_id -> body the writer was asked to write
        self.paths: dict[str, str] = {}  # raw_payload_id -> path it answered
        self.seen_paths: set[str] = set()
        self.referenced: dict[str, tuple[str, int]] = {}  # path -> (raw_payload_id, line) of refs in the log
        self.manifest: dict | None = None
        self.canonical_warned = False
        self.unflushed_reported: set[int] = set()  # event indices already reported as not flushed
        self.misaligned = False  # more lines than appends: lines no longer pair with operations

    # -- per operation ----------------------------------------------------------------------------
    def after(self, i: int, op: Op, reply: dict) -> None:
        if op.cmd == "create":
            self.after_create(i, reply)
        elif op.cmd == "write_payload":
            self.after_payload(i, op, reply)
        self.sync_log(i, final=False)

    def after_create(self, i: int, reply: dict) -> None:
        req = reply["_request"]
        data = _read(self.bundle / MANIFEST)
        if data is None:
            self.f.add(C.MANIFEST_MATCHES, f"op {i} (create): manifest.json does not exist when create is answered", i)
            return
        try:
            disk = orjson.loads(data)
        except orjson.JSONDecodeError as e:
            self.f.add(C.MANIFEST_MATCHES, f"op {i} (create): manifest.json is not complete JSON when create is answered: {e}", i)
            return
        self.manifest = disk if isinstance(disk, dict) else None
        if not json_equal(reply["manifest"], disk):
            self.f.add(C.ECHO_MISMATCH, f"op {i} (create): answered manifest differs from manifest.json at {first_difference(reply['manifest'], disk)}", i)
        want = manifest_record(
            self.dialect, trace_id=req["trace_id"], rollout_id=req["rollout_id"], root_thread_id=req["root_thread_id"], started_at=0
        )
        del want["started_at_unix_ms"]  # the writer's clock
        for key, value in want.items():
            got = disk.get(key) if isinstance(disk, dict) else None
            if not json_equal(value, got):
                self.f.add(C.MANIFEST_MATCHES, f"op {i} (create): manifest.json {key} is {_short(got)}, expected {_short(value)}", i)
        if isinstance(disk, dict) and type(disk.get("started_at_unix_ms")) is not int:
            self.f.add(C.MANIFEST_MATCHES, f"op {i} (create): manifest.json started_at_unix_ms is not an integer", i)
        if isinstance(disk, dict) and set(want) <= set(disk):
            ordered = {f.name: disk[f.name] for f in self.dialect.manifest.fields if f.name in disk}
            try:
                canonical = dumps(ordered, indent=True)
            except EventError:
                canonical = None
            if canonical != data:
                self.f.add(C.CANONICAL_FORM, f"op {i} (create): manifest.json is not serde's pretty JSON in model order", i)

    def after_payload(self, i: int, op: Op, reply: dict) -> None:
        ref = reply["ref"]
        layout = self.dialect.layout
        rid, path, kind = ref["raw_payload_id"], ref[layout.ref_key], ref["kind"].get("type")
        if kind != op.args["kind"]:
            self.f.add(C.REF_MATCHES, f"op {i} (write_payload): asked for kind {op.args['kind']!r}, the ref says {kind!r}", i)
        if rid in self.bodies or path in self.seen_paths:
            self.f.add(C.REF_MATCHES, f"op {i} (write_payload): {rid} -> {path} reuses an id or path handed out before", i)
        n = layout.id_ordinal(rid)
        if n is None or path != layout.file_for(n=n):
            self.f.add("REF.NAMING", f"op {i} (write_payload): ref {rid!r} -> {path!r}; writers name payloads {layout.payload_id} at {layout.payload_file}", i)
        self.bodies[rid] = op.args["body"]
        self.paths[rid] = path
        self.seen_paths.add(path)
        problem = self.payload_problem(rid, path, op.args["body"], i, canonical=True)
        if problem:
            self.f.add(C.PAYLOAD_ON_ANSWER, f"op {i} (write_payload): when the answer came, {problem}", i)

    def payload_problem(self, rid: str, path: str, body, i: int | None, canonical: bool = False) -> str | None:
        confined = confinement_problem(path)
        if confined:
            return f"{rid} path {path!r} {confined}"
        full = self.bundle / path
        if not os.path.realpath(full).startswith(os.path.realpath(self.bundle) + os.sep):
            return f"{rid} path {path!r} leaves the bundle through a symlink"
        data = _read(full)
        if data is None:
            return f"{path} does not exist"
        try:
            disk = orjson.loads(data)
        except orjson.JSONDecodeError as e:
            return f"{path} is not complete JSON ({e})"
        if not json_equal(body, disk):
            return f"{path} differs from the body sent at {first_difference(body, disk)}"
        if canonical and not self.canonical_warned:
            try:
                want = dumps(body, indent=True)
            except EventError:
                want = None
            if want is not None and data != want:
                self.canonical_warned = True
                self.f.add(C.CANONICAL_FORM, f"op {i}: {path} is not serde's pretty JSON (first such payload)", i)
        return None

    # -- the log ----------------------------------------------------------------------------------------
    def sync_log(self, i: int, final: bool) -> None:
        """Check trace.jsonl against everything acknowledged up to operation ``i``."""
        data = _read(self.bundle / TRACE)
        if data is None:
            if self.s.answers:
                self.f.add(C.EVENT_FLUSHED, f"op {i}: trace.jsonl does not exist, {len(self.s.answers)} event(s) acknowledged", i)
            return
        if not data.startswith(self.log):
            n = next((k for k, (a, b) in enumerate(zip(self.log, data)) if a != b), min(len(self.log), len(data)))
            self.f.add(C.APPEND_ONLY, f"op {i}: trace.jsonl changed at byte {n}, inside what was already written", i)
            self.log = b""
            self.lines_checked = 0
            self.prev_seq = None
            self.referenced.clear()
        lines, tail = _split_log(data)
        acked = len(self.s.answers)
        if len(lines) > acked:
            self.f.add(C.APPEND_ONLY, f"op {i}: trace.jsonl holds {len(lines)} lines, but only {acked} event(s) were appended", i)
            # lines no longer pair with operations: leave their content to the final validation
            self.misaligned = True
        if not self.misaligned:
            for j in range(self.lines_checked, min(len(lines), acked)):
                self.check_line(j, lines[j], i)
        self.lines_checked = max(self.lines_checked, min(len(lines), acked))
        self.log = data[: sum(len(x) + 1 for x in lines[: self.lines_checked])]
        missing = [j for j in range(len(lines), acked) if j not in self.unflushed_reported]
        if missing:
            # each acknowledged event that is not on disk is reported once, at the first check that misses it
            self.unflushed_reported.update(missing)
            ops = [self.s.sent_events[j][0] for j in missing]
            what = "after close" if final else "when the answer came"
            self.f.add(
                C.EVENT_FLUSHED,
                f"op {i}: {what}, trace.jsonl holds {len(lines)} complete line(s) but {acked} event(s) were "
                f"acknowledged: the event(s) of op {', '.join(map(str, ops))} are not on disk",
                ops[0],
            )
        elif tail and len(lines) >= acked:
            self.f.add(C.EVENT_FLUSHED, f"op {i}: trace.jsonl ends in a partial line ({len(tail)} bytes) after the answer", i)
        # no line on disk may point at a missing payload, at any moment
        for path, (rid, line_no) in self.referenced.items():
            if not (self.bundle / path).is_file():
                self.f.add(C.PAYLOAD_BEFORE_EVENT, f"op {i}: {path} ({rid}, referenced by line {line_no}) has disappeared", i)

    def check_line(self, j: int, line: bytes, i: int) -> None:
        op_index, sent = self.s.sent_events[j]
        answer = self.s.answers[j]
        where = f"op {op_index} (append_event, line {j + 1})"
        try:
            disk = orjson.loads(line)
        except orjson.JSONDecodeError as e:
            self.f.add(C.EVENT_MATCHES, f"{where}: the line is not JSON: {e}", op_index)
            return
        if not isinstance(disk, dict):
            self.f.add(C.EVENT_MATCHES, f"{where}: the line is not a JSON object", op_index)
            return
        seq = disk.get("seq")
        if type(seq) is int:
            if self.prev_seq is None and seq != 1:
                self.f.add("SEQ.STARTS_AT_ONE", f"{where}: the first event has seq {seq}, expected 1", op_index, seq=seq)
            elif self.prev_seq is not None and seq <= self.prev_seq:
                self.f.add("SEQ.INCREASING", f"{where}: seq {seq} after seq {self.prev_seq}: repeated or out of order", op_index, seq=seq)
            elif self.prev_seq is not None and seq != self.prev_seq + 1:
                self.f.add("SEQ.NO_GAP", f"{where}: seq jumps from {self.prev_seq} to {seq}", op_index, seq=seq)
            self.prev_seq = seq if self.prev_seq is None else max(seq, self.prev_seq)
        else:
            self.f.add(C.EVENT_MATCHES, f"{where}: seq is {_short(seq)}, not an integer", op_index)
        if disk.get("schema_version") != self.dialect.schema_version:
            self.f.add("ENVELOPE.SCHEMA_VERSION", f"{where}: schema_version {_short(disk.get('schema_version'))}, the dialect writes {self.dialect.schema_version}", op_index, seq=seq)
        rollout = self.manifest.get("rollout_id") if self.manifest else None
        if rollout is not None and disk.get("rollout_id") != rollout:
            self.f.add("ENVELOPE.ROLLOUT_ID", f"{where}: rollout_id {_short(disk.get('rollout_id'))} is not the manifest's", op_index, seq=seq)
        if type(disk.get("wall_time_unix_ms")) is not int:
            self.f.add(C.EVENT_MATCHES, f"{where}: wall_time_unix_ms is {_short(disk.get('wall_time_unix_ms'))}, not an integer", op_index, seq=seq)
        for key in ("thread_id", "codex_turn_id"):
            if key not in disk or disk[key] != sent["context"][key]:
                self.f.add(C.EVENT_MATCHES, f"{where}: envelope {key} is {_short(disk.get(key))}, the context sent {_short(sent['context'][key])}", op_index, seq=seq)
        if not json_equal(sent["payload"], disk.get("payload")):
            self.f.add(C.EVENT_MATCHES, f"{where}: payload differs from the one sent at /payload{first_difference(sent['payload'], disk.get('payload'))}", op_index, seq=seq)
        if not json_equal(answer, disk):
            self.f.add(C.ECHO_MISMATCH, f"{where}: the answered event differs from the line at {first_difference(answer, disk)}", op_index, seq=seq)
        try:
            canonical = dumps(canonical_event(self.dialect, disk))
        except EventError:
            canonical = None
        if canonical is not None and canonical != line:
            self.f.add(C.CANONICAL_FORM, f"{where}: the line is not Codex's compact JSON in model order", op_index, seq=seq)
        for ref in _refs(self.dialect, disk.get("payload")):
            rid, path = ref["raw_payload_id"], ref[self.dialect.layout.ref_key]
            body = self.bodies.get(rid)
            if rid not in self.bodies:
                problem = f"{rid} was never answered to a write_payload"
            elif self.paths.get(rid) != path:
                problem = f"{rid} was answered with path {self.paths.get(rid)!r}, the line says {path!r}"
            else:
                problem = self.payload_problem(rid, path, body, op_index)
            if problem:
                self.f.add(C.PAYLOAD_BEFORE_EVENT, f"{where}: the line is on disk but {problem}", op_index, seq=seq)
            else:
                self.referenced.setdefault(path, (rid, j + 1))

    # -- after close ------------------------------------------------------------------------------------------
    def final(self, i: int) -> None:
        self.sync_log(i, final=True)
        data = _read(self.bundle / TRACE) or b""
        lines, tail = _split_log(data)
        if len(lines) != len(self.s.answers) or tail:
            self.f.add(
                C.BUNDLE_MATCHES,
                f"op {i} (close): trace.jsonl holds {len(lines)} complete line(s){' and a partial one' if tail else ''}, "
                f"the script appended {len(self.s.answers)}",
                i,
            )
        for rid, path in self.paths.items():
            problem = self.payload_problem(rid, path, self.bodies[rid], i)
            if problem:
                self.f.add(C.BUNDLE_MATCHES, f"op {i} (close): {problem}", i)


# --- the validator, mapped to operations -------------------------------------------------------------


def validator_findings(bundle: Path, session: Session, f: Findings, *, partial_ok: bool, dialect: str) -> None:
    report = validate_bundle(bundle, Options(profile=Profile.WRITER, dialect=dialect, partial_ok=partial_ok))
    seq_to_op = {}
    line_to_op = {}
    for j, (op_index, _) in enumerate(session.sent_events):
        line_to_op[j + 1] = op_index  # includes an in-flight event, which has no answer
        if j < len(session.answers):
            seq_to_op.setdefault(session.answers[j].get("seq"), op_index)
    data = _read(bundle / TRACE) or b""
    last_line = data.count(b"\n") + (0 if data.endswith(b"\n") or not data else 1)
    seen = set()
    for finding in report.findings:
        key = (finding.invariant, finding.file, finding.line, finding.pointer)
        if key in seen:
            continue  # e.g. a partial last line that is not JSON is reported twice (LINE.TRUNCATED)
        seen.add(key)
        op = line_to_op.get(finding.line) if finding.line is not None else None
        if op is None and finding.seq is not None:
            op = seq_to_op.get(finding.seq)
        severity = finding.severity
        if partial_ok and finding.invariant == "ORDER.TERMINAL_PRESENT":
            continue  # a crashed recording has no terminal event: that is what a crash is
        if partial_ok and finding.invariant == "LINE.TRUNCATED" and finding.line == last_line:
            # Crash-consistency mode: a partial last line is reported, not fatal (the validator
            # still names the reducer profile, as an error, when the partial line is not JSON).
            severity = Severity.WARNING
        where = f"{finding.file or 'bundle'}" + (f":{finding.line}" if finding.line else "")
        where += f", seq {finding.seq}" if finding.seq is not None else ""
        f.add(finding.invariant, f"{where}: {finding.message}", op, seq=finding.seq, severity=severity)


# --- running scripts ---------------------------------------------------------------------------------


def _workdir(config: Config, label: str) -> Path:
    if config.keep is not None:
        config.keep.mkdir(parents=True, exist_ok=True)
        return Path(tempfile.mkdtemp(prefix=f"{label}-", dir=config.keep))
    return Path(tempfile.mkdtemp(prefix="rtk-writer-"))


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name)[:60]


def run_script(config: Config, script: Script) -> tuple[ScriptResult, list[Finding]]:
    """Play ``script`` with every step checked; the result and the run's findings."""
    result = ScriptResult(script.name, script.dialect, len(script.ops), script.events, script.payloads)
    f = Findings("run")
    work = _workdir(config, _safe(script.name))
    session = Session(config, script, work / "bundle", f)
    try:
        skip = session.open()
        result.implementation = session.implementation
        if skip:
            if not f.items:
                result.skipped = skip
            return result, f.done()
        disk = DiskChecker(session)
        completed = True
        for i, op in enumerate(script.ops):
            reply = session.perform(i, op)
            if reply is None:
                completed = False
                break
            if op.cmd == "close":
                disk.final(i)
            else:
                disk.after(i, op, reply)
        if completed:
            session.stop()
            final = Findings("final")
            validator_findings(session.bundle, session, final, partial_ok=False, dialect=script.dialect)
            # a step already named the check at that operation: keep one
            seen = {(x.check, x.op) for x in f.items}
            f.items.extend(x for x in final.done() if (x.check, x.op) not in seen)
    finally:
        session.close()
        if config.keep is None:
            shutil.rmtree(work, ignore_errors=True)
    return result, f.done()


def crash_points(script: Script, crash: str | int) -> list[int]:
    """Operations after which to kill: every one before close, or ``n`` evenly spread."""
    last = len(script.ops) - 2  # the op before close
    every = list(range(0, last + 1))
    if crash in ("every", "all"):
        return every
    if crash in ("none", 0, "0"):
        return []
    n = int(crash)
    if n >= len(every):
        return every
    if n == 1:
        return [last]
    return sorted({round(k * last / (n - 1)) for k in range(n)})


def run_crash(config: Config, script: Script, k: int, mode: str = "after", delay: float = 0.0) -> list[Finding]:
    """Kill a fresh writer after operation ``k`` (``mode="after"``: once it answered ``k``;
    ``"inflight"``: ``delay`` seconds after sending ``k + 1``) and check what it left."""
    phase = f"crash after op {k}" if mode == "after" else f"crash during op {k + 1}"
    f = Findings(phase)
    work = _workdir(config, f"{_safe(script.name)}-crash-{k}")
    session = Session(config, script, work / "bundle", f)
    try:
        skip = session.open()
        if skip:
            return f.done()
        for i in range(k + 1):
            if session.perform(i, script.ops[i]) is None:
                return f.done()  # already reported; the run without a crash reports it too
        inflight = None
        if mode == "inflight" and k + 1 < len(script.ops):
            inflight = k + 1
            req = session.build_request(inflight, script.ops[inflight])
            session.proc.send(req)
            if delay:
                time.sleep(delay)
            if script.ops[inflight].cmd == "append_event":
                session.sent_events.append((inflight, {"context": req["context"], "payload": req["payload"]}))
        session.proc.kill()
        check_crash_state(session, f, k, inflight)
    finally:
        session.close()
        if config.keep is None:
            shutil.rmtree(work, ignore_errors=True)
    return f.done()


def check_crash_state(session: Session, f: Findings, k: int, inflight: int | None) -> None:
    """The bundle left by a killed writer must be a valid prefix of what it was sent."""
    bundle = session.bundle
    if not (bundle / MANIFEST).exists():
        f.add(C.CRASH_PREFIX, f"op {k}: after the crash there is no manifest.json, though create was answered", k)
        return
    validator_findings(bundle, session, f, partial_ok=True, dialect=session.script.dialect)
    data = _read(bundle / TRACE) or b""
    lines, tail = _split_log(data)
    acked = len(session.answers)
    allowed = acked + (1 if inflight is not None and session.script.ops[inflight].cmd == "append_event" else 0)
    if len(lines) < acked:
        f.add(
            C.CRASH_PREFIX,
            f"op {k}: after the crash trace.jsonl holds {len(lines)} complete line(s), but {acked} event(s) were "
            "acknowledged: acknowledged events were lost (not flushed before answering)",
            k,
        )
    if len(lines) > allowed:
        f.add(C.CRASH_PREFIX, f"op {k}: after the crash trace.jsonl holds {len(lines)} lines, only {allowed} event(s) were sent", k)
    for j, line in enumerate(lines[:allowed]):
        op_index, sent = session.sent_events[j]
        try:
            disk = orjson.loads(line)
        except orjson.JSONDecodeError:
            f.add(C.CRASH_PREFIX, f"op {k}: line {j + 1} is complete but not JSON", op_index)
            continue
        if j < acked:
            same = json_equal(session.answers[j], disk)
            want = session.answers[j]
        else:  # the in-flight event: what was sent, whatever time and seq it got
            same = isinstance(disk, dict) and json_equal(sent["payload"], disk.get("payload")) and all(
                disk.get(key) == sent["context"][key] for key in ("thread_id", "codex_turn_id")
            )
            want = sent["payload"]
        if not same:
            got = disk if j < acked else (disk.get("payload") if isinstance(disk, dict) else disk)
            f.add(C.CRASH_PREFIX, f"op {k}: line {j + 1} is not the event of op {op_index}: {first_difference(want, got)}", op_index)
    if tail and inflight is None:
        # not fatal (the validator reports LINE.TRUNCATED as a warning in this mode), but
        # after an answer nothing should still be in flight
        f.add(C.CRASH_PREFIX, f"op {k}: a partial line was left although the writer had answered every request", k,
              severity=Severity.WARNING)


@dataclass
class HarnessOptions:
    crash: str | int = "every"  # "every", "none" or a number of sampled points
    crash_mode: str = "after"  # "after", "inflight" or "both"
    inflight_delay: float = 0.0
    jobs: int = 2


def check_writer(config: Config, scripts: Sequence[Script], options: HarnessOptions | None = None) -> list[ScriptResult]:
    """Run every script, then its crash points; one result per script."""
    options = options or HarnessOptions()
    results = []
    for script in scripts:
        t0 = time.monotonic()
        result, findings = run_script(config, script)
        result.findings.extend(findings)
        aborted = any(f.check in ("WRITER.PROTOCOL", "WRITER.OP_FAILED") for f in result.findings)
        if result.skipped is None and result.implementation is not None and not aborted:
            points = crash_points(script, options.crash)
            modes = ["after", "inflight"] if options.crash_mode == "both" else [options.crash_mode]
            jobs = [(k, m) for m in modes for k in points if not (m == "inflight" and k + 1 >= len(script.ops))]
            result.crash_points = points
            result.crash_mode = options.crash_mode
            with ThreadPoolExecutor(max_workers=max(1, options.jobs)) as pool:
                for found in pool.map(lambda km: run_crash(config, script, km[0], km[1], options.inflight_delay), jobs):
                    result.findings.extend(found)
        result.seconds = time.monotonic() - t0
        results.append(result)
    return results
