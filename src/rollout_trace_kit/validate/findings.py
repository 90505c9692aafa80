"""Findings, profiles and the invariant catalogue entry type."""

from __future__ import annotations

import enum
from typing import Any
from dataclasses import dataclass, field


class Profile(enum.IntEnum):
    """Checking profiles; each includes the ones before it."""

    REDUCER = 1  # exactly what the reference reducer of the dialect rejects
    WRITER = 2  # + what the reference writer guarantees
    STRICT = 3  # + hardening no Codex component checks

    @property
    def label(self) -> str:
        return self.name.lower()

    @classmethod
    def parse(cls, text: str) -> "Profile":
        try:
            return cls[text.upper()]
        except KeyError:
            raise ValueError(f"unknown profile {text!r}; known: reducer, writer, strict") from None


class Severity(enum.Enum):
    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True)
class Invariant:
    """One rule of the format, as data.

    ``levels`` maps a dialect name to the weakest profile that enforces the rule in
    that dialect; a dialect that is missing does not have the rule.
    """

    id: str
    meaning: str
    levels: dict[str, Profile]
    source: str
    severity: Severity = Severity.ERROR
    notes: str = ""
    kit_only: bool = False  # about the kit (a limit, a bug), not the format: reducer fuzzing skips it
    release_only: bool = False  # checked only against one Codex release's facts (``validate --release``)
    declines: bool = False  # a kit cap: reaching it the kit declined to judge (an error, no reader in compat)

    def level(self, dialect: str) -> Profile | None:
        return self.levels.get(dialect)

    def active(self, dialect: str, profile: Profile) -> bool:
        lv = self.levels.get(dialect)
        return lv is not None and lv <= profile


@dataclass(frozen=True)
class Finding:
    invariant: str
    severity: Severity
    profile: Profile
    message: str
    bundle: str = ""
    file: str = ""  # relative to the bundle: "trace.jsonl", "manifest.json", "payloads/3.json"
    line: int | None = None
    seq: int | None = None
    pointer: str = ""  # JSON pointer inside the line or file
    related_seq: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "invariant": self.invariant,
            "severity": self.severity.value,
            "profile": self.profile.label,
            "bundle": self.bundle,
            "file": self.file,
            "line": self.line,
            "seq": self.seq,
            "pointer": self.pointer,
            "message": self.message,
            "related_seq": self.related_seq,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Finding":
        return cls(**{**d, "severity": Severity(d["severity"]), "profile": Profile.parse(d["profile"])})


@dataclass
class BundleReport:
    bundle: str
    dialect: str | None
    profile: Profile
    findings: list[Finding] = field(default_factory=list)
    events: int = 0
    truncated: bool = False  # findings beyond --max-findings were dropped
    dropped_errors: int = 0  # ... of which errors: they still fail the bundle
    dropped_warnings: int = 0
    releases: dict[str, Any] | None = None  # compatible Codex releases: {"schema_version", "readers", "writers", "unknown"}
    notes: list[str] = field(default_factory=list)  # about the check, not the bundle's conformance (why it was slow)

    @property
    def ok(self) -> bool:
        return not self.dropped_errors and not any(f.severity is Severity.ERROR for f in self.findings)

    def ids(self) -> set[str]:
        return {f.invariant for f in self.findings}

    def to_dict(self) -> dict[str, Any]:
        """The report as the JSON formats hold it (unescaped: the formats escape)."""
        return {
            "bundle": self.bundle,
            "dialect": self.dialect,
            "profile": self.profile.label,
            "ok": self.ok,
            "events": self.events,
            "truncated": self.truncated,
            "dropped": {"errors": self.dropped_errors, "warnings": self.dropped_warnings},
            "findings": [f.to_dict() for f in self.findings],
            "releases": self.releases,
            "notes": self.notes,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "BundleReport":
        return cls(bundle=d["bundle"], dialect=d["dialect"], profile=Profile.parse(d["profile"]),
                   findings=[Finding.from_dict(f) for f in d["findings"]], events=d["events"],
                   truncated=d["truncated"], dropped_errors=d["dropped"]["errors"],
                   dropped_warnings=d["dropped"]["warnings"], releases=d["releases"], notes=d.get("notes", []))
