"""Trace writers that attack the harness instead of failing a check.

    python tests/writers/hostile_writer.py MODE [MARKER]

speaks the driver protocol like ``python -m rollout_trace_kit.writer`` and, by
MODE, tries to hang the harness, exhaust its memory or forge its output. The
harness must answer each with a finding (or a clean pass) within its timeouts
and bounded memory:

* ``fifo-log``: once its first event is answered, trace.jsonl is a FIFO
  (an ``open`` of it blocks until someone writes);
* ``manifest-dev-zero``: manifest.json is a symlink to ``/dev/zero`` (endless bytes);
* ``huge-log``: once its first event is answered, trace.jsonl is 256 MiB longer (a sparse
  run of NUL bytes, as a crash can leave), and later lines follow it;
* ``fifo-payload``: its first payload file is a FIFO;
* ``deep-answer``: its first event holds an array nested 1,000 deep (deeper than Python's
  recursion limit), in the line it writes and in its answer;
* ``huge-answer``: answers its first append_event with a 1 GiB line;
* ``stderr-flood``: writes 512 MiB to standard error at its first append_event, then dies;
* ``leave-child``: starts a child that would sleep for five minutes (``MARKER``, a file
  path, in its command line; its pid appended to that file), and otherwise writes correctly;
* ``deaf``: answers start and create, then never reads its standard input again
  (a large request fills the pipe: writing it must time out, not block forever);
* ``escape-codes``: its name, its stderr and its error message hold terminal escapes,
  BEL and lines that a CI log would take as workflow commands.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "src"))

import orjson  # noqa: E402

from rollout_trace_kit.writer import adapter  # noqa: E402

MODES = ("fifo-log", "huge-log", "fifo-payload", "manifest-dev-zero", "deep-answer", "huge-answer", "stderr-flood", "leave-child", "deaf", "escape-codes")
MiB = 1 << 20
EVIL = "\x1b[2J\x1b]0;owned\x07\n::error file=x.py::forged finding\n  ::add-mask::x ##[error]legacy\n\u202eevil"


class HostileSession(adapter.Session):
    def __init__(self, mode: str, marker: str):
        super().__init__()
        self.mode, self.marker = mode, marker
        self.events = 0

    def cmd_start(self, req):
        out = super().cmd_start(req)
        out["implementation"] = {"name": f"hostile writer ({self.mode})", "language": "python"}
        if self.mode == "leave-child":
            child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)", self.marker])
            with open(self.marker, "a") as f:
                f.write(f"{child.pid}\n")
        if self.mode == "escape-codes":
            out["implementation"]["name"] = EVIL
            sys.stderr.write(EVIL + "\n")
            sys.stderr.flush()
        return out

    def cmd_create(self, req):
        if self.mode == "escape-codes":
            raise adapter.Refused("io", EVIL)
        out = super().cmd_create(req)
        if self.mode == "manifest-dev-zero":
            manifest = Path(req["dir"]) / "manifest.json"
            manifest.unlink()
            manifest.symlink_to("/dev/zero")
        return out

    def cmd_write_payload(self, req):
        out = super().cmd_write_payload(req)
        if self.mode == "fifo-payload" and out["ref"]["raw_payload_id"] == "raw_payload:1":
            path = self.writer.bundle / out["ref"]["path"]
            path.unlink()
            os.mkfifo(path)
        return out

    def cmd_append_event(self, req):
        out = super().cmd_append_event(req)
        self.events += 1
        if self.events == 1 and self.mode == "fifo-log":
            log = self.writer.bundle / "trace.jsonl"
            log.unlink()  # the writer keeps appending to the unlinked file through its descriptor
            os.mkfifo(log)
        if self.events == 1 and self.mode == "huge-log":
            log = self.writer.bundle / "trace.jsonl"
            os.truncate(log, log.stat().st_size + 256 * MiB)
        if self.events == 1 and self.mode == "huge-answer":
            chunk = b"x" * MiB
            for _ in range(1024):
                os.write(1, chunk)
        if self.events == 1 and self.mode == "stderr-flood":
            chunk = b"e" * MiB
            for _ in range(512):
                os.write(2, chunk)
            os._exit(3)
        return out


def deep_event(session: HostileSession, req: dict) -> bytes:
    """Append the event of ``req`` with a 1,000-deep array in its payload; its bytes (orjson writes 255 levels at most)."""
    w = session.writer
    head = {k: v for k, v in req["payload"].items()}
    envelope = orjson.dumps({
        "schema_version": w.dialect.schema_version, "seq": w._next_seq, "wall_time_unix_ms": int(w._clock()),
        "rollout_id": w.manifest["rollout_id"], **req["context"],
    })
    event = envelope[:-1] + b',"payload":' + orjson.dumps(head)[:-1] + b',"deep":' + b"[" * 1000 + b"]" * 1000 + b"}}"
    os.write(w._fd, event + b"\n")
    w._next_seq += 1
    return event


def main() -> int:
    if len(sys.argv) not in (2, 3) or sys.argv[1] not in MODES:
        print(f"usage: hostile_writer.py {{{'|'.join(MODES)}}} [MARKER]", file=sys.stderr)
        return 2
    session = HostileSession(sys.argv[1], sys.argv[2] if len(sys.argv) == 3 else "hostile-child")
    if session.mode == "deep-answer":
        for line in sys.stdin.buffer:
            req = orjson.loads(line)
            if req.get("cmd") == "append_event" and session.events == 0:
                session.events += 1
                reply = b'{"id":%d,"ok":true,"event":%s}' % (req["id"], deep_event(session, req))
                done = False
            else:
                answer, done = adapter.answer(session, line)
                reply = orjson.dumps(answer)
            sys.stdout.buffer.write(reply + b"\n")
            sys.stdout.buffer.flush()
            if done:
                break
        return 0
    if session.mode == "deaf":
        for _ in range(2):  # start, create
            reply, _ = adapter.answer(session, sys.stdin.buffer.readline())
            sys.stdout.buffer.write(orjson.dumps(reply) + b"\n")
            sys.stdout.buffer.flush()
        time.sleep(300)
        return 0
    try:
        return adapter.serve(sys.stdin.buffer, sys.stdout.buffer, session)
    except BrokenPipeError:  # the harness stopped listening, as it should
        return 1


if __name__ == "__main__":
    sys.exit(main())
