"""What the harness reports: findings, summarised per phase, and one result per script."""

from __future__ import annotations

from dataclasses import dataclass, field

from ...validate import Severity
from . import checks as C

MAX_REPEATS = 5  # findings of one check in one phase before they are summarised
MAX_MESSAGE = 1000  # characters of one message: writer-controlled text is quoted, never dumped


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
    silent_at_start: bool = False  # the writer never answered start (not in the report: its finding says so)

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
            if len(message) > MAX_MESSAGE:
                message = message[: MAX_MESSAGE - 3] + "..."
            self.items.append(Finding(cid, message, op, self.phase, severity, seq))

    def done(self) -> list[Finding]:
        out = list(self.items)
        for cid, n in self.counts.items():
            if n > MAX_REPEATS:
                sev = next(f.severity for f in self.items if f.check == cid)
                out.append(Finding(cid, f"... and {n - MAX_REPEATS} more like these", None, self.phase, sev))
        return out
