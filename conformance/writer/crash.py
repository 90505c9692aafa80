"""Crash-consistency: SIGKILL a fresh writer at an operation, then judge the bundle it left.

For every operation ``k`` (or a sample), a fresh writer is killed, with its
whole process group, right after answering ``k`` (``after``) or while
performing ``k + 1`` (``inflight``); what it left must be a valid prefix of the
script: every acknowledged event, in order, then at most the in-flight one and
a partial last line.
"""

from __future__ import annotations

import shutil
import time

from ...model.common import EnvelopeKey as E
from ...validate import Severity
from . import checks as C
from ...bundle import MANIFEST, TRACE
from ...files import is_regular, read_capped
from .caps import log_cap, split_log
from .findings import Finding, Findings
from .jsondiff import first_difference, json_equal
from .process import WriterDied, WriterTimeout
from .scripts import Script
from .session import Config, Session
from .validation import validator_findings
from .wide import loads as wide_loads
from .workdir import safe_name, workdir


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
    work = workdir(config, f"{safe_name(script.name)}-crash-{k}")
    session = Session(config, script, work / "bundle", f)
    try:
        skip = session.open()
        if skip:
            return f.done()
        for i in range(k + 1):
            if session.perform(i, script.ops[i]) is None:
                return f.done()  # already reported; the run without a crash reports it too
        inflight = None
        extra = 0
        if mode == "inflight" and k + 1 < len(script.ops):
            inflight = k + 1
            req = session.build_request(inflight, script.ops[inflight])
            try:
                sent = session.send(req, wide=script.ops[inflight].wide)
            except (WriterDied, WriterTimeout) as e:
                f.add(C.PROTOCOL, f"op {inflight} ({req['cmd']}): {e}", inflight)
                return f.done()
            if delay:
                time.sleep(delay)
            if script.ops[inflight].cmd == "append_event":
                session.sent_events.append((inflight, {"context": req["context"], "payload": req[E.PAYLOAD]}))
                extra = sent + 1  # the request's line, its newline included
        assert session.proc is not None  # open() started the writer
        session.proc.kill()
        check_crash_state(session, f, k, inflight, extra)
    finally:
        session.close()
        if config.keep is None:
            shutil.rmtree(work, ignore_errors=True)
    return f.done()


def check_crash_state(session: Session, f: Findings, k: int, inflight: int | None, extra: int = 0) -> None:
    """The bundle left by a killed writer must be a valid prefix of what it was sent."""
    bundle = session.bundle
    if not is_regular(bundle / MANIFEST):
        f.add(C.CRASH_PREFIX, f"op {k}: after the crash there is no {MANIFEST} (as a regular file), though create was answered", k)
        return
    validator_findings(bundle, session, f, partial_ok=True, dialect=session.script.dialect, extra=extra)
    got = read_capped(bundle / TRACE, log_cap(session.answered_bytes, extra))
    if got.problem and not got.missing:
        # what the harness may read no longer pairs with the events sent: the validator's findings say the rest
        f.add(C.CRASH_PREFIX, f"op {k}: after the crash {TRACE} is {got.problem}", k)
        return
    data = got.data or b""
    lines, tail = split_log(data)
    acked = len(session.answers)
    allowed = acked + (1 if inflight is not None and session.script.ops[inflight].cmd == "append_event" else 0)
    if len(lines) < acked:
        f.add(
            C.CRASH_PREFIX,
            f"op {k}: after the crash {TRACE} holds {len(lines)} complete line(s), but {acked} event(s) were "
            "acknowledged: acknowledged events were lost (not flushed before answering)",
            k,
        )
    if len(lines) > allowed:
        f.add(C.CRASH_PREFIX, f"op {k}: after the crash {TRACE} holds {len(lines)} lines, only {allowed} event(s) were sent", k)
    for j, line in enumerate(lines[:allowed]):
        op_index, sent = session.sent_events[j]
        try:
            disk = wide_loads(line)  # as the script's events were read
        except (ValueError, RecursionError):
            f.add(C.CRASH_PREFIX, f"op {k}: line {j + 1} is complete but not JSON", op_index)
            continue
        if j < acked:
            same = json_equal(session.answers[j], disk)
            want = session.answers[j]
        else:  # the in-flight event: what was sent, whatever time and seq it got
            same = isinstance(disk, dict) and json_equal(sent[E.PAYLOAD], disk.get(E.PAYLOAD)) and all(
                disk.get(key) == sent["context"][key] for key in ("thread_id", "codex_turn_id")
            )
            want = sent[E.PAYLOAD]
        if not same:
            got_value = disk if j < acked else (disk.get(E.PAYLOAD) if isinstance(disk, dict) else disk)
            f.add(C.CRASH_PREFIX, f"op {k}: line {j + 1} is not the event of op {op_index}: {first_difference(want, got_value)}", op_index)
    if tail and inflight is None:
        # not fatal (the validator reports LINE.TRUNCATED as a warning in this mode), but
        # after an answer nothing should still be in flight
        f.add(C.CRASH_PREFIX, f"op {k}: a partial line was left although the writer had answered every request", k,
              severity=Severity.WARNING)
