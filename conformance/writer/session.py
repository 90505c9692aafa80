"""One writer process playing one script: negotiate, send each operation, check each answer."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

import orjson

from ...model.common import EnvelopeKey as E
from ...compilers.canonical import EventError, canonical_payload, dumps
from ...model import get_dialect
from . import checks as C
from .findings import Findings
from .jsondiff import short
from .process import AnswerTooLong, WriterDied, WriterProcess, WriterTimeout
from .protocol import PROTOCOL_VERSION, message_errors
from .scripts import Op, Script, substitute
from .text import printable
from .wide import dumps as wide_dumps, loads as wide_loads

ANSWER_SLACK = 1 << 20  # an answer may be this much longer than twice its request


@dataclass
class Config:
    argv: list[str]
    timeout: float = 10.0  # per answer
    start_timeout: float = 30.0
    cwd: str | None = None
    env: dict | None = None
    keep: Path | None = None  # keep bundles here instead of deleting them


def _errors(definition: str, reply: dict) -> list[str]:
    """The protocol schema's complaints about an answer (one, if it nests too deep to check)."""
    try:
        return message_errors(definition, reply)
    except RecursionError:
        return ["it nests deeper than the harness checks"]


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
        self.answered_bytes = 0  # size of the answers that echoed events: bounds what trace.jsonl may hold
        self.longest_answer = 0  # the longest of them: bounds one line of trace.jsonl
        self.sent_events: list[tuple[int, dict]] = []  # (op index, expected event sans seq/time)
        self.silent_at_start = False  # start went unanswered for start_timeout: the writer never starts

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
            self.f.add(C.PROTOCOL, f"start: the writer speaks version {short(reply.get('version'))}, the harness {PROTOCOL_VERSION}", None)
            return "protocol version mismatch"
        dialects = (reply.get("capabilities") or {}).get("dialects") or []
        if self.script.dialect not in dialects:
            announced = ", ".join(printable(str(d))[:40] for d in dialects[:20]) or "none"
            return f"the writer does not write dialect {self.script.dialect} (it announces {announced})"
        return None

    def send(self, req: dict, timeout: float | None = None, wide: bool = False) -> int:
        """Write one request and return its size in bytes; its answer may be at most about twice that.
        ``wide``: it holds what orjson cannot write (its operation's Op.wide), written by wide.dumps."""
        assert self.proc is not None
        data = wide_dumps(req) if wide else orjson.dumps(req)
        self.proc.max_answer = 2 * len(data) + ANSWER_SLACK
        self.proc.send(data, timeout or self.config.timeout)
        return len(data)

    def request(self, req: dict, op: int | None, timeout: float | None = None, wide: bool = False) -> dict | None:
        """Send, await and check one answer; None after a protocol failure (already reported)."""
        assert self.proc is not None
        cmd = req["cmd"]
        where = f"op {op} ({cmd})" if op is not None else cmd
        try:
            self.send(req, timeout, wide)
            line = self.proc.receive(timeout or self.config.timeout)
        except (WriterDied, WriterTimeout, AnswerTooLong) as e:
            self.silent_at_start = cmd == "start" and isinstance(e, WriterTimeout)
            tail = self.proc.stderr_tail()
            self.f.add(C.PROTOCOL, f"{where}: {e}" + (f"; its stderr ends: {tail}" if tail else ""), op)
            return None
        try:
            reply = wide_loads(line)  # an answer echoes the event sent: read as the script's events were
        except (ValueError, RecursionError) as e:
            self.f.add(C.PROTOCOL, f"{where}: the answer is not one JSON line ({e}): {short(line)}", op)
            return None
        if not isinstance(reply, dict) or reply.get("id") != req["id"]:
            got = reply.get("id") if isinstance(reply, dict) else None
            self.f.add(C.PROTOCOL, f"{where}: the answer has id {short(got)}, the request {req['id']}", op)
            return None
        if reply.get("ok") is False:
            errors = _errors("error", reply)
            if errors:
                self.f.add(C.PROTOCOL, f"{where}: malformed error answer: {printable(errors[0])}", op)
            else:
                err = reply["error"]
                kind, message = printable(str(err.get("kind", "?")))[:80], printable(str(err.get("message")))
                self.f.add(C.OP_FAILED, f"{where}: the writer answered ok:false ({kind}): {message}", op)
            return None
        errors = _errors(f"response.{cmd}", reply)
        if errors:
            self.f.add(C.PROTOCOL, f"{where}: the answer is not a valid response.{cmd}: {printable('; '.join(errors[:3]))}", op)
            return None
        if cmd == "append_event":
            self.answered_bytes += len(line) + 1
            self.longest_answer = max(self.longest_answer, len(line))
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
            req["body_json"] = (wide_dumps if op.wide else dumps)(op.args["body"]).decode("utf-8")
        elif op.cmd == "append_event":
            payload = substitute(op.args[E.PAYLOAD], self.refs)
            try:
                payload = canonical_payload(self.dialect, payload)
            except EventError:
                pass  # a script may hold what the model rejects; send it as is
            req["context"] = dict(op.args["context"])
            req[E.PAYLOAD] = payload
        return req

    def perform(self, i: int, op: Op) -> dict | None:
        req = self.build_request(i, op)
        reply = self.request(req, i, wide=op.wide)
        if reply is None:
            return None
        if op.cmd == "write_payload":
            assert op.handle is not None  # every write_payload op has its handle
            self.refs[op.handle] = reply["ref"]
        elif op.cmd == "append_event":
            self.answers.append(reply["event"])
            self.sent_events.append((i, {"context": req["context"], "payload": req[E.PAYLOAD]}))
        return reply | {"_request": req}

    def close(self) -> None:
        """End the writer's whole process group (whatever state it is in) and its pipes."""
        if self.proc is not None:
            self.proc.cleanup()
