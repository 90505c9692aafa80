"""What must be on disk after each answer, before the next request.

After ``create`` the manifest, after ``write_payload`` the payload file, after
``append_event`` the flushed line; at every step the log only grows and no line
on disk points at a missing payload. Every file is read through
:func:`rollout_trace_kit.files.read_capped`, with a cap derived from what the writer was asked
to write, so a hostile bundle (a FIFO, ``/dev/zero``, a huge file) costs a
finding, not a hang or gigabytes.
"""

from __future__ import annotations

import io
import os

import orjson

from ...model.common import EnvelopeKey as E, ManifestKey
from ...compilers.canonical import EventError, canonical_event, dumps
from ...model import facts
from ...model.types import STORE_ZSTD_SHARDS
from ...store.shards import Record, read_records, shard_name
from ...writer.core import manifest_record
from ...validate.rules.refs import confinement_problem
from . import checks as C
from ...bundle import MANIFEST, PAYLOADS, TRACE
from ...files import is_regular, lacks, read_capped
from ...validate.rules.layout import MAX_MANIFEST_BYTES
from .caps import log_cap, payload_cap, split_log
from .jsondiff import first_difference, json_equal, short
from .scripts import Op
from .session import Session
from .text import printable
from .wide import loads as wide_loads

# v3 payloads are records: a location is "payloads/{shard:06}.zst#{raw_payload_id}".
RECORD_SEP = "#"

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
        self.log_problem_reported = False
        self.layout = self.dialect.layout
        self.sharded = self.layout.store == STORE_ZSTD_SHARDS

    # -- per operation ----------------------------------------------------------------------------
    def after(self, i: int, op: Op, reply: dict) -> None:
        if op.cmd == "create":
            self.after_create(i, reply)
        elif op.cmd == "write_payload":
            self.after_payload(i, op, reply)
        self.sync_log(i, final=False)

    def after_create(self, i: int, reply: dict) -> None:
        req = reply["_request"]
        got = read_capped(self.bundle / MANIFEST, MAX_MANIFEST_BYTES)
        if got.data is None or got.problem:
            self.f.add(C.MANIFEST_MATCHES, f"op {i} (create): {MANIFEST} {lacks(got.problem)} when create is answered", i)
            return
        data = got.data
        try:
            disk = orjson.loads(data)
        except orjson.JSONDecodeError as e:
            self.f.add(C.MANIFEST_MATCHES, f"op {i} (create): {MANIFEST} is not complete JSON when create is answered: {e}", i)
            return
        self.manifest = disk if isinstance(disk, dict) else None
        if not json_equal(reply["manifest"], disk):
            self.f.add(C.ECHO_MISMATCH, f"op {i} (create): answered manifest differs from {MANIFEST} at {first_difference(reply['manifest'], disk)}", i)
        want = manifest_record(
            self.dialect, trace_id=req["trace_id"], rollout_id=req["rollout_id"], root_thread_id=req["root_thread_id"], started_at=0
        )
        del want["started_at_unix_ms"]  # the writer's clock
        for key, value in want.items():
            got_value = disk.get(key) if isinstance(disk, dict) else None
            if not json_equal(value, got_value):
                self.f.add(C.MANIFEST_MATCHES, f"op {i} (create): {MANIFEST} {key} is {short(got_value)}, expected {short(value)}", i)
        if isinstance(disk, dict) and type(disk.get("started_at_unix_ms")) is not int:
            self.f.add(C.MANIFEST_MATCHES, f"op {i} (create): {MANIFEST} started_at_unix_ms is not an integer", i)
        if isinstance(disk, dict) and set(want) <= set(disk):
            ordered = {f.name: disk[f.name] for f in self.dialect.manifest.fields if f.name in disk}
            try:
                canonical = dumps(ordered, indent=True)
            except (EventError, RecursionError):
                canonical = None
            if canonical != data:
                self.f.add(C.CANONICAL_FORM, f"op {i} (create): {MANIFEST} is not serde's pretty JSON in model order", i)

    def after_payload(self, i: int, op: Op, reply: dict) -> None:
        ref = reply["ref"]
        rid, path, kind = ref["raw_payload_id"], self.location(ref), ref["kind"].get("type")
        if path is None:  # the protocol takes a ref shaped for any dialect: this one's locator may be missing
            self.f.add(C.REF_MATCHES, f"op {i} (write_payload): the ref has no {self.layout.ref_key} "
                       f"locating a {self.dialect.name} payload: {short(ref)}", i)
            return
        if kind != op.args["kind"]:
            self.f.add(C.REF_MATCHES, f"op {i} (write_payload): asked for kind {short(op.args['kind'])}, the ref says {short(kind)}", i)
        if rid in self.bodies or path in self.seen_paths:
            self.f.add(C.REF_MATCHES, f"op {i} (write_payload): {short(rid)} -> {short(path)} reuses an id or path handed out before", i)
        n = self.layout.id_ordinal(rid)
        if n is None or (not self.sharded and path != self.layout.file_for(n=n)):
            naming = "STORE.RECORD_ID" if self.sharded else "REF.NAMING"
            self.f.add(naming, f"op {i} (write_payload): ref {short(rid)} -> {short(path)}; writers name payloads "
                       f"{self.layout.payload_id} at {self.layout.payload_file}", i)
        self.bodies[rid] = op.args["body"]
        self.paths[rid] = path
        self.seen_paths.add(path)
        problem = self.payload_problem(rid, path, op.args["body"], i, canonical=True)
        if problem:
            self.f.add(C.PAYLOAD_ON_ANSWER, f"op {i} (write_payload): when the answer came, {problem}", i)

    def location(self, ref: dict) -> str | None:
        """Where a ref's payload is: its file (v1, v2), or shard file and record id (v3)."""
        value = ref.get(self.layout.ref_key)
        if not self.sharded:
            return value if isinstance(value, str) else None
        if type(value) is not int or value < 1:
            return None
        return f"{PAYLOADS}/{shard_name(value)}{RECORD_SEP}{ref['raw_payload_id']}"

    def refs(self, payload) -> list[dict]:
        """The well-typed refs of an event payload, where the model puts them (parts included)."""
        return [r for _, r, _ in facts.iter_refs(self.dialect, payload)
                if isinstance(r.get("raw_payload_id"), str) and self.location(r) is not None]  # iter_refs gives objects

    def record_problem(self, rid: str, loc: str, body, i: int | None, canonical: bool) -> str | None:
        """v3: the record is in its shard, complete, and holds the body sent (compact, as Codex writes it)."""
        rel = loc.split(RECORD_SEP, 1)[0]
        full = self.bundle / rel
        if not os.path.realpath(full).startswith(os.path.realpath(self.bundle) + os.sep):
            return f"{printable(rel)} leaves the bundle through a symlink"
        got = read_capped(full, log_cap(self.s.answered_bytes) + payload_cap(body) * 2)
        if got.data is None:
            return f"{printable(rel)} {lacks(got.problem)}"
        found = None
        for item in read_records(io.BytesIO(got.data)):
            if isinstance(item, Record) and item.id == rid.encode("utf-8", "surrogatepass"):
                found = item
                break
        if found is None:
            return f"{printable(rel)} holds no complete record {printable(rid)}"
        return self._same_body(f"record {printable(rid)} of {printable(rel)}", f"record {printable(rid)}",
                               found.body, body, i, canonical, pretty=False)

    def payload_problem(self, rid: str, path: str, body, i: int | None, canonical: bool = False) -> str | None:
        if self.sharded:
            return self.record_problem(rid, path, body, i, canonical)
        shown = printable(path)
        confined = confinement_problem(path)
        if confined:
            return f"{printable(rid)} path {short(path)} {confined}"
        full = self.bundle / path
        if not os.path.realpath(full).startswith(os.path.realpath(self.bundle) + os.sep):
            return f"{printable(rid)} path {short(path)} leaves the bundle through a symlink"
        got = read_capped(full, payload_cap(body))
        if got.data is None:
            return f"{shown} {lacks(got.problem)}"
        if got.problem:
            return f"{shown} is {got.problem}; the body sent is far smaller"
        return self._same_body(shown, shown, got.data, body, i, canonical, pretty=True)

    def _same_body(self, what: str, named: str, data: bytes | bytearray | None, body, i: int | None, canonical: bool,
                   pretty: bool) -> str | None:
        """``data`` on disk holds ``body``; the first body not in serde's form (pretty for payload
        files, compact for shard records) is a warning. ``data`` None: a record with no body."""
        try:
            disk = wide_loads(data) if data is not None else None  # as the script's body was read
        except (ValueError, RecursionError) as e:
            return f"{what} is not complete JSON ({e})"
        if not json_equal(body, disk):
            return f"{what} differs from the body sent at {first_difference(body, disk)}"
        if canonical and not self.canonical_warned:
            try:
                want = dumps(body, indent=pretty)
            except (EventError, RecursionError):
                want = None
            if want is not None and data != want:
                self.canonical_warned = True
                form = "pretty" if pretty else "compact"
                self.f.add(C.CANONICAL_FORM, f"op {i}: {named} is not serde's {form} JSON (first such payload)", i)
        return None

    # -- the log ----------------------------------------------------------------------------------------
    def read_log(self, i: int) -> bytes | None:
        """trace.jsonl, at most what the acknowledged events can fill (plus one line); None if unreadable."""
        got = read_capped(self.bundle / TRACE, len(self.log) + log_cap(self.s.answered_bytes))
        if got.missing:
            return None
        if got.problem:
            if not self.log_problem_reported:
                self.log_problem_reported = True  # once: it stays so until the writer fixes it
                check = C.APPEND_ONLY if got.data is not None else "BUNDLE.TRACE_PRESENT"
                self.f.add(check, f"op {i}: {TRACE} is {got.problem}; the steps after leave the log to the final validation", i)
            return None  # what the harness can read no longer pairs with operations
        return got.data

    def sync_log(self, i: int, final: bool) -> None:
        """Check trace.jsonl against everything acknowledged up to operation ``i``."""
        data = self.read_log(i)
        if data is None:
            if self.s.answers and not self.log_problem_reported:
                self.f.add(C.EVENT_FLUSHED, f"op {i}: {TRACE} does not exist, {len(self.s.answers)} event(s) acknowledged", i)
            return
        if not data.startswith(self.log):
            n = next((k for k, (a, b) in enumerate(zip(self.log, data)) if a != b), min(len(self.log), len(data)))
            self.f.add(C.APPEND_ONLY, f"op {i}: {TRACE} changed at byte {n}, inside what was already written", i)
            self.log = b""
            self.lines_checked = 0
            self.prev_seq = None
            self.referenced.clear()
        lines, tail = split_log(data)
        acked = len(self.s.answers)
        if len(lines) > acked:
            self.f.add(C.APPEND_ONLY, f"op {i}: {TRACE} holds {len(lines)} lines, but only {acked} event(s) were appended", i)
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
                f"op {i}: {what}, {TRACE} holds {len(lines)} complete line(s) but {acked} event(s) were "
                f"acknowledged: the event(s) of op {', '.join(map(str, ops))} are not on disk",
                ops[0],
            )
        elif tail and len(lines) >= acked:
            self.f.add(C.EVENT_FLUSHED, f"op {i}: {TRACE} ends in a partial line ({len(tail)} bytes) after the answer", i)
        # no line on disk may point at a missing payload, at any moment
        for path, (rid, line_no) in self.referenced.items():
            if not is_regular(self.bundle / path.split(RECORD_SEP, 1)[0]):
                self.f.add(C.PAYLOAD_BEFORE_EVENT, f"op {i}: {printable(path)} ({printable(rid)}, referenced by line {line_no}) has disappeared", i)

    def check_line(self, j: int, line: bytes, i: int) -> None:
        op_index, sent = self.s.sent_events[j]
        answer = self.s.answers[j]
        where = f"op {op_index} (append_event, line {j + 1})"
        try:
            disk = wide_loads(line)  # as the script's events were read
        except (ValueError, RecursionError) as e:
            self.f.add(C.EVENT_MATCHES, f"{where}: the line is not JSON: {e}", op_index)
            return
        if not isinstance(disk, dict):
            self.f.add(C.EVENT_MATCHES, f"{where}: the line is not a JSON object", op_index)
            return
        seq = disk.get(E.SEQ)
        if type(seq) is int:
            if self.prev_seq is None and seq != 1:
                self.f.add("SEQ.STARTS_AT_ONE", f"{where}: the first event has seq {seq}, expected 1", op_index, seq=seq)
            elif self.prev_seq is not None and seq <= self.prev_seq:
                self.f.add("SEQ.INCREASING", f"{where}: seq {seq} after seq {self.prev_seq}: repeated or out of order", op_index, seq=seq)
            elif self.prev_seq is not None and seq != self.prev_seq + 1:
                self.f.add("SEQ.NO_GAP", f"{where}: seq jumps from {self.prev_seq} to {seq}", op_index, seq=seq)
            self.prev_seq = seq if self.prev_seq is None else max(seq, self.prev_seq)
        else:
            self.f.add(C.EVENT_MATCHES, f"{where}: seq is {short(seq)}, not an integer", op_index)
            seq = None
        if disk.get(E.SCHEMA_VERSION) != self.dialect.schema_version:
            self.f.add("ENVELOPE.SCHEMA_VERSION", f"{where}: schema_version {short(disk.get(E.SCHEMA_VERSION))}, the dialect writes {self.dialect.schema_version}", op_index, seq=seq)
        rollout = self.manifest.get(ManifestKey.ROLLOUT_ID) if self.manifest else None
        if rollout is not None and disk.get(E.ROLLOUT_ID) != rollout:
            self.f.add("ENVELOPE.ROLLOUT_ID", f"{where}: rollout_id {short(disk.get(E.ROLLOUT_ID))} is not the manifest's", op_index, seq=seq)
        if type(disk.get(E.WALL_TIME)) is not int:
            self.f.add(C.EVENT_MATCHES, f"{where}: wall_time_unix_ms is {short(disk.get(E.WALL_TIME))}, not an integer", op_index, seq=seq)
        for key in (E.THREAD_ID, E.TURN_ID):
            if key not in disk or disk[key] != sent["context"][key]:
                self.f.add(C.EVENT_MATCHES, f"{where}: envelope {key} is {short(disk.get(key))}, the context sent {short(sent['context'][key])}", op_index, seq=seq)
        if not json_equal(sent[E.PAYLOAD], disk.get(E.PAYLOAD)):
            self.f.add(C.EVENT_MATCHES, f"{where}: payload differs from the one sent at /payload{first_difference(sent[E.PAYLOAD], disk.get(E.PAYLOAD))}", op_index, seq=seq)
        if not json_equal(answer, disk):
            self.f.add(C.ECHO_MISMATCH, f"{where}: the answered event differs from the line at {first_difference(answer, disk)}", op_index, seq=seq)
        try:
            canonical = dumps(canonical_event(self.dialect, disk))
        except (EventError, RecursionError):
            canonical = None
        if canonical is not None and canonical != line:
            self.f.add(C.CANONICAL_FORM, f"{where}: the line is not Codex's compact JSON in model order", op_index, seq=seq)
        for ref in self.refs(disk.get(E.PAYLOAD)):
            rid, path = ref["raw_payload_id"], self.location(ref)
            assert path is not None  # refs() keeps the refs it can locate
            body = self.bodies.get(rid)
            problem: str | None
            if rid not in self.bodies:
                problem = f"{printable(rid)} was never answered to a write_payload"
            elif self.paths.get(rid) != path:
                problem = f"{printable(rid)} was answered with path {short(self.paths.get(rid))}, the line says {short(path)}"
            else:
                problem = self.payload_problem(rid, path, body, op_index)
            if problem:
                self.f.add(C.PAYLOAD_BEFORE_EVENT, f"{where}: the line is on disk but {problem}", op_index, seq=seq)
            else:
                self.referenced.setdefault(path, (rid, j + 1))

    # -- after close ------------------------------------------------------------------------------------------
    def final(self, i: int) -> None:
        self.sync_log(i, final=True)
        data = self.read_log(i)
        lines, tail = split_log(data or b"")
        if data is None and self.log_problem_reported:
            pass  # already reported; the validator judges what is there
        elif len(lines) != len(self.s.answers) or tail:
            self.f.add(
                C.BUNDLE_MATCHES,
                f"op {i} (close): {TRACE} holds {len(lines)} complete line(s){' and a partial one' if tail else ''}, "
                f"the script appended {len(self.s.answers)}",
                i,
            )
        for rid, path in self.paths.items():
            problem = self.payload_problem(rid, path, self.bodies[rid], i)
            if problem:
                self.f.add(C.BUNDLE_MATCHES, f"op {i} (close): {problem}", i)
