"""Deliberately broken trace writers: the harness's negative controls.

    python tests/writers/faulty_writer.py MODE

speaks the driver protocol like ``python -m rollout_trace_kit.writer`` but
breaks one writer guarantee, chosen by MODE:

* ``event-before-payload``: answers write_payload at once but writes the file
  one event late (after the line of the event that points to it is answered);
* ``seq-gap``: the third event gets seq 4 (one seq skipped);
* ``duplicate-seq``: the third event repeats seq 2;
* ``no-flush``: keeps lines in a 64 KiB buffer that is flushed only at close;
* ``wrong-path``: answers ``payloads/{n}.json`` but writes ``payloads/payload-{n}.json``;
* ``wrong-name``: names payloads ``raw_payload_{n}`` at ``payloads/p{n}.json`` (consistently);
* ``stall-mid-line``: from the second event on, writes half of the line and then
  stalls for a minute (a crash then leaves a partial last line; for crash tests only);
* ``duplicate-line``: writes every line twice;
* ``lying-echo``: answers an event whose wall_time_unix_ms is not the one written;
* ``non-canonical``: conformant, but not byte-compatible with Codex: sorted keys and
  spaces in lines, 4-space indent in payloads (warnings only).
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from rollout_trace_kit.writer import adapter  # noqa: E402
from rollout_trace_kit.writer.core import PAYLOADS, TraceWriter, _create_file  # noqa: E402
from rollout_trace_kit.compilers.canonical import canonical_payload, dumps, event_line  # noqa: E402

MODES = (
    "event-before-payload",
    "seq-gap",
    "duplicate-seq",
    "no-flush",
    "wrong-path",
    "wrong-name",
    "stall-mid-line",
    "non-canonical",
    "duplicate-line",
    "lying-echo",
)


class FaultyWriter(TraceWriter):
    mode = ""

    def _setup(self):
        self.events = 0
        self.deferred: list[tuple[Path, bytes]] = []  # payloads answered, not yet written
        self.owed: list[tuple[Path, bytes]] = []  # payloads whose event is already written
        self.buffer = None
        if self.mode == "no-flush":
            self.buffer = open(self.bundle / "trace.jsonl", "ab", buffering=1 << 16)

    def write_json_payload(self, kind, value):
        mode = self.mode
        if mode not in ("event-before-payload", "wrong-path", "wrong-name", "non-canonical"):
            return super().write_json_payload(kind, value)
        n = self._next_ordinal
        self._next_ordinal += 1
        data = dumps(value, indent=True)
        if mode == "non-canonical":
            data = json.dumps(value, indent=4, sort_keys=True).encode()
            _create_file(self.bundle / PAYLOADS / f"{n}.json", data, False)
            return {"raw_payload_id": f"raw_payload:{n}", "kind": {"type": kind}, "path": f"{PAYLOADS}/{n}.json"}
        if mode == "event-before-payload":
            self.deferred.append((self.bundle / PAYLOADS / f"{n}.json", data))
            return {"raw_payload_id": f"raw_payload:{n}", "kind": {"type": kind}, "path": f"{PAYLOADS}/{n}.json"}
        if mode == "wrong-path":
            _create_file(self.bundle / PAYLOADS / f"payload-{n}.json", data, False)
            return {"raw_payload_id": f"raw_payload:{n}", "kind": {"type": kind}, "path": f"{PAYLOADS}/{n}.json"}
        _create_file(self.bundle / PAYLOADS / f"p{n}.json", data, False)
        return {"raw_payload_id": f"raw_payload_{n}", "kind": {"type": kind}, "path": f"{PAYLOADS}/p{n}.json"}

    def append_with_context(self, payload, *, thread_id=None, codex_turn_id=None):
        self.events += 1
        seq = self._next_seq
        if self.mode == "seq-gap" and self.events >= 3:
            seq += 1
        if self.mode == "duplicate-seq" and self.events >= 3:
            seq -= 1
        event = {
            "schema_version": self.dialect.schema_version,
            "seq": seq,
            "wall_time_unix_ms": int(self._clock()),
            "rollout_id": self.manifest["rollout_id"],
            "thread_id": thread_id,
            "codex_turn_id": codex_turn_id,
            "payload": canonical_payload(self.dialect, payload),
        }
        line = event_line(event) + b"\n"
        if self.mode == "non-canonical":
            line = json.dumps(event, sort_keys=True, ensure_ascii=False).encode() + b"\n"
        for path, data in self.owed:
            _create_file(path, data, False)
        self.owed = self.deferred
        self.deferred = []
        if self.buffer is not None:
            self.buffer.write(line)  # no flush
        elif self.mode == "stall-mid-line" and self.events >= 2:
            half = len(line) // 2
            os.write(self._fd, line[:half])
            time.sleep(60)
            os.write(self._fd, line[half:])
        elif self.mode == "duplicate-line":
            os.write(self._fd, line + line)
        else:
            os.write(self._fd, line)
        self._next_seq += 1
        if self.mode == "lying-echo":
            return {**event, "wall_time_unix_ms": event["wall_time_unix_ms"] + 1}
        return event

    def close(self):
        for path, data in self.owed + self.deferred:
            _create_file(path, data, False)
        self.owed, self.deferred = [], []
        if self.buffer is not None:
            self.buffer.close()
            self.buffer = None
        super().close()


class FaultySession(adapter.Session):
    def cmd_start(self, req):
        out = super().cmd_start(req)
        out["implementation"] = {"name": f"faulty writer ({FaultyWriter.mode})", "language": "python"}
        return out

    def cmd_create(self, req):
        if self.writer is not None:
            raise adapter.Refused("invalid_request", "create was already sent")
        w = FaultyWriter.create(
            req["dir"],
            trace_id=req["trace_id"],
            rollout_id=req["rollout_id"],
            root_thread_id=req["root_thread_id"],
            dialect=req["dialect"],
        )
        w._setup()
        self.writer = w
        return {"manifest": w.manifest}


def main() -> int:
    if len(sys.argv) != 2 or sys.argv[1] not in MODES:
        print(f"usage: faulty_writer.py {{{'|'.join(MODES)}}}", file=sys.stderr)
        return 2
    FaultyWriter.mode = sys.argv[1]
    return adapter.serve(sys.stdin.buffer, sys.stdout.buffer, FaultySession())


if __name__ == "__main__":
    sys.exit(main())
