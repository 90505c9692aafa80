"""The reference writer behind the writer driver protocol.

``python -m rollout_trace_kit.writer`` reads protocol requests on standard
input and answers on standard output (see
:mod:`rollout_trace_kit.conformance.writer.protocol` and
docs/guides/writer-protocol.md). It is the harness's positive control, and a
worked example for anyone writing an adapter for their own writer: all it
does is map each command to one :class:`~rollout_trace_kit.writer.TraceWriter`
call.
"""

from __future__ import annotations

import sys
from typing import Any, BinaryIO

import orjson

from ..model.common import EnvelopeKey as E
from .. import __version__
from .core import written_dialects
from .core import TraceWriter, WriterError
from ..compilers.canonical import EventError

PROTOCOL_VERSION = 1  # kept in step with conformance.protocol.PROTOCOL_VERSION by a test
IMPLEMENTATION = {
    "name": "rollout-trace-kit reference writer",
    "language": "python",
    "version": __version__,
    "homepage": "https://github.com/rollout-trace-kit/rollout-trace-kit",
}


def _field(req: dict[str, Any], key: str) -> Any:
    """A request field as sent (None if missing); the writer checks its type and says what is wrong."""
    return req.get(key)


class Refused(Exception):
    def __init__(self, kind: str, message: str):
        super().__init__(message)
        self.kind = kind


class Session:
    """One protocol session: at most one bundle."""

    def __init__(self) -> None:
        self.started = False
        self.writer: TraceWriter | None = None
        self.closed = False

    def handle(self, req: dict) -> dict:
        cmd = req.get("cmd")
        handler = getattr(self, f"cmd_{cmd}", None) if isinstance(cmd, str) else None
        if handler is None:
            raise Refused("unsupported", f"unknown command {cmd!r}")
        if cmd != "start" and not self.started:
            raise Refused("invalid_request", "the first request must be start")
        return handler(req)

    def cmd_start(self, req: dict) -> dict:
        if req.get("version") != PROTOCOL_VERSION:
            raise Refused("unsupported", f"this writer speaks protocol version {PROTOCOL_VERSION}, not {req.get('version')!r}")
        self.started = True
        return {
            "version": PROTOCOL_VERSION,
            "implementation": IMPLEMENTATION,
            "capabilities": {"dialects": written_dialects()},
        }

    def cmd_create(self, req: dict) -> dict:
        if self.writer is not None:
            raise Refused("invalid_request", "a session writes one bundle; create was already sent")
        dialect = req.get("dialect")
        if dialect not in written_dialects():
            raise Refused("unsupported", f"dialect {dialect!r} is not one this writer writes ({', '.join(written_dialects())})")
        if not isinstance(req.get("dir"), str):
            raise Refused("invalid_request", "dir must be a string")
        self.writer = TraceWriter.create(
            req["dir"],
            trace_id=_field(req, "trace_id"),
            rollout_id=_field(req, "rollout_id"),
            root_thread_id=_field(req, "root_thread_id"),
            dialect=dialect,
        )
        return {"manifest": self.writer.manifest}

    def _open(self) -> TraceWriter:
        if self.writer is None:
            raise Refused("invalid_request", "no bundle: send create first")
        if self.closed:
            raise Refused("invalid_request", "the bundle is closed")
        return self.writer

    def cmd_write_payload(self, req: dict) -> dict:
        w = self._open()
        if "body" not in req:
            raise Refused("invalid_request", "write_payload needs a body")
        return {"ref": w.write_json_payload(_field(req, "kind"), req["body"])}

    def cmd_append_event(self, req: dict) -> dict:
        w = self._open()
        context = req.get("context")
        if not isinstance(context, dict):
            raise Refused("invalid_request", "append_event needs a context object")
        payload = req.get(E.PAYLOAD)
        if not isinstance(payload, dict):
            raise Refused("invalid_request", "append_event needs a payload object")
        event = w.append_with_context(
            payload, thread_id=context.get("thread_id"), codex_turn_id=context.get("codex_turn_id")
        )
        return {"event": event}

    def cmd_close(self, req: dict) -> dict:
        if self.writer is not None:
            self.writer.close()
        self.closed = True
        return {}

    def cmd_stop(self, req: dict) -> dict:
        self.cmd_close(req)
        return {}


def answer(session: Session, line: bytes) -> tuple[dict, bool]:
    """The answer to one request line, and whether the session is over."""
    try:
        req = orjson.loads(line)
    except orjson.JSONDecodeError as e:
        return {"id": None, "ok": False, "error": {"kind": "invalid_request", "message": f"not JSON: {e}"}}, False
    rid = req.get("id") if isinstance(req, dict) else None
    if not isinstance(req, dict) or type(rid) is not int:
        return {"id": None, "ok": False, "error": {"kind": "invalid_request", "message": "a request is an object with an integer id"}}, False
    try:
        body = session.handle(req)
    except Refused as e:
        return {"id": rid, "ok": False, "error": {"kind": e.kind, "message": str(e)}}, False
    except EventError as e:
        return {"id": rid, "ok": False, "error": {"kind": "invalid_request", "message": str(e)}}, False
    except (WriterError, OSError) as e:
        return {"id": rid, "ok": False, "error": {"kind": "io", "message": str(e)}}, False
    return {"id": rid, "ok": True, **body}, req.get("cmd") == "stop"


def serve(stdin: BinaryIO, stdout: BinaryIO, session: Session | None = None) -> int:
    session = session or Session()
    for line in stdin:
        if not line.strip():
            continue
        reply, done = answer(session, line)
        stdout.write(orjson.dumps(reply) + b"\n")
        stdout.flush()
        if done:
            return 0
    if session.writer is not None:
        session.writer.close()
    return 0


# plain text: argparse prints a description as it is (the module docstring is reStructuredText)
DESCRIPTION = ("The kit's reference writer, speaking the writer driver protocol: it reads protocol requests "
               "on standard input and answers on standard output, one JSON line each "
               "(docs/guides/writer-protocol.md). Run it through 'rollout-trace check-writer --cmd "
               "rollout-trace-writer'; it takes no arguments.")


def main(argv: list[str] | None = None) -> int:
    import argparse

    # --help and --version as every entry point answers them; any other argument is a usage error
    # (exit 2), never a session waiting on standard input
    parser = argparse.ArgumentParser(prog="rollout-trace-writer", description=DESCRIPTION)
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.parse_args(argv)  # None: sys.argv[1:]
    return serve(sys.stdin.buffer, sys.stdout.buffer)


if __name__ == "__main__":
    sys.exit(main())
