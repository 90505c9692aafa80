"""The validator's writer profile on a bundle the writer left, its findings mapped to operations."""

from __future__ import annotations

from pathlib import Path

from ...model.common import EnvelopeKey as E
from ...validate import Options, Profile, Severity, validate_bundle
from ...validate.catalogue import declines
from ...bundle import TRACE
from ...files import read_capped
from .caps import SLACK, log_cap, payload_cap
from .findings import Findings
from .session import Session
from .text import printable


def validator_findings(bundle: Path, session: Session, f: Findings, *, partial_ok: bool, dialect: str, extra: int = 0) -> None:
    """Validate ``bundle``; each finding names the operation whose event (line or seq) broke the rule.

    ``extra``: bytes of an in-flight event that may also be on disk.
    """
    # The validator's caps, from what the writer was asked to write: a hostile bundle (a 2 GiB
    # line, a huge payload) costs a finding, not the validator's default 64 MiB line buffer.
    payloads = [payload_cap(op.args["body"]) for op in session.script.ops if op.cmd == "write_payload"]
    options = Options(
        profile=Profile.WRITER,
        dialect=dialect,
        partial_ok=partial_ok,
        max_line_bytes=min(Options.max_line_bytes, 2 * max(session.longest_answer, extra) + SLACK),
        max_payload_bytes=min(Options.max_payload_bytes, max(payloads, default=SLACK)),
        releases=False,  # the writer profile judges the writer; which releases read the bundle is compat's question
    )
    report = validate_bundle(bundle, options)
    seq_to_op: dict[object, int] = {}  # keyed by the seq the writer answered, whatever it was
    line_to_op: dict[int, int] = {}
    for j, (op_index, _) in enumerate(session.sent_events):
        line_to_op[j + 1] = op_index  # includes an in-flight event, which has no answer
        if j < len(session.answers):
            seq_to_op.setdefault(session.answers[j].get(E.SEQ), op_index)
    data = read_capped(bundle / TRACE, log_cap(session.answered_bytes, extra)).data or b""
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
        where = printable(f"{finding.file or 'bundle'}") + (f":{finding.line}" if finding.line else "")
        where += f", seq {finding.seq}" if finding.seq is not None else ""
        # a cap or form the kit does not judge: the script is not passed, yet the writer is not blamed
        declined = "the kit declined to judge this (its own limit, not a writer fault): " if declines(finding.invariant) else ""
        f.add(finding.invariant, f"{where}: {declined}{printable(finding.message)}", op, seq=finding.seq, severity=severity)

