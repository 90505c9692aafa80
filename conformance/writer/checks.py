"""The checks the writer harness adds to the validator's invariant catalogue.

A harness finding names either one of these ``WRITER.*`` ids or a validator
invariant (``SEQ.NO_GAP``, ``REF.FILE_EXISTS``, ``LINE.TRUNCATED``...) where
the validator's rule is the one broken; ``rollout-trace invariants`` lists
those. These are the rules only a harness can check, because they are about
the moment something reaches the disk or about what the writer was asked to
write.
"""

from __future__ import annotations

from dataclasses import dataclass

from ...bundle import MANIFEST, PAYLOADS, TRACE
from ...validate.findings import Severity


@dataclass(frozen=True)
class WriterCheck:
    id: str
    meaning: str
    severity: Severity = Severity.ERROR


WRITER_CHECKS: dict[str, WriterCheck] = {}


def _check(id: str, meaning: str, severity: Severity = Severity.ERROR) -> WriterCheck:
    if id in WRITER_CHECKS:
        raise ValueError(f"writer check {id} declared twice")
    c = WriterCheck(id, meaning, severity)
    WRITER_CHECKS[id] = c
    return c


PROTOCOL = _check(
    "WRITER.PROTOCOL",
    "The writer answers every request with one protocol line (valid for that command, echoing its id) "
    "within the timeout, speaks the harness's protocol version and stays alive until stop.",
)
OP_FAILED = _check(
    "WRITER.OP_FAILED",
    "The writer performs every operation of a lifecycle-valid script: it never answers ok:false to one.",
)
EXIT = _check(
    "WRITER.EXIT",
    "After stop the writer exits with status 0 within the timeout.",
)
MANIFEST_MATCHES = _check(
    "WRITER.MANIFEST_MATCHES",
    f"When create is answered, {MANIFEST} is complete on disk, equals the manifest the writer answered, "
    "and holds the requested ids, the dialect's schema_version and the fixed names.",
)
PAYLOAD_ON_ANSWER = _check(
    "WRITER.PAYLOAD_ON_ANSWER",
    f"When write_payload is answered, the file its ref names exists inside {PAYLOADS}/ and holds the body sent.",
)
PAYLOAD_BEFORE_EVENT = _check(
    "WRITER.PAYLOAD_BEFORE_EVENT",
    f"No moment exists where {TRACE} holds an event whose payload files are missing or incomplete: "
    "checked after every answer, before the next operation.",
)
REF_MATCHES = _check(
    "WRITER.REF_MATCHES",
    "The ref answered to write_payload has the requested kind, and a fresh id and path never handed out before.",
)
EVENT_FLUSHED = _check(
    "WRITER.EVENT_FLUSHED",
    f"When append_event is answered, its line and newline are in {TRACE} (written and flushed): "
    "a crash right after the answer loses nothing acknowledged.",
)
APPEND_ONLY = _check(
    "WRITER.APPEND_ONLY",
    f"{TRACE} only grows, one line per append_event: earlier bytes never change, "
    "and no line appears that was not asked for.",
)
EVENT_MATCHES = _check(
    "WRITER.EVENT_MATCHES",
    "The line written for append_event holds exactly the payload and context sent, in the dialect's envelope.",
)
ECHO_MISMATCH = _check(
    "WRITER.ECHO_MISMATCH",
    f"The event the writer answers is the event it wrote to {TRACE}.",
)
CANONICAL_FORM = _check(
    "WRITER.CANONICAL_FORM",
    "Files are written as Codex writes them: compact lines with keys in model order, "
    "payloads and manifest pretty-printed (2 spaces, no final newline).",
    Severity.WARNING,
)
BUNDLE_MATCHES = _check(
    "WRITER.BUNDLE_MATCHES",
    f"After close the bundle holds every event and payload of the script, unchanged, and nothing else in {TRACE}.",
)
CRASH_PREFIX = _check(
    "WRITER.CRASH_PREFIX",
    f"After a SIGKILL, {TRACE} holds every acknowledged event, in order, then at most the in-flight one "
    "and at most a partial last line: a prefix of the script.",
)


def meaning(check_id: str) -> str:
    """The one-sentence meaning of a writer check or validator invariant id."""
    if check_id in WRITER_CHECKS:
        return WRITER_CHECKS[check_id].meaning
    from ...validate.catalogue import CATALOGUE, all_invariants

    if not CATALOGUE:
        all_invariants()
    inv = CATALOGUE.get(check_id)
    return inv.meaning if inv else ""
