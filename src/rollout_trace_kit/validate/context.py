"""The state one bundle check carries: where we are, and where findings go."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from pathlib import Path
from typing import Any, Callable, TypedDict

from ..model.types import Dialect
from ..bundle import TRACE
from .findings import Finding, Invariant, Profile, Severity

if TYPE_CHECKING:
    from .rules.release import BundleSummary


@dataclass
class Options:
    profile: Profile = Profile.WRITER
    dialect: str | Dialect | None = None  # force a dialect (a name or a Dialect) instead of reading the manifest
    max_line_bytes: int = 64 * 1024 * 1024
    max_payload_bytes: int = 256 * 1024 * 1024
    max_findings: int = 1000
    partial_ok: bool = False  # crash-consistency mode: a partial last line / missing end is a warning
    release: str | None = None  # judge as this Codex release's reader and writer would (RELEASE.* rules)
    releases: bool = True  # state the compatible releases (and with ``release``, apply the RELEASE rules)
    # told (events, bytes) as the event log is read, for a progress bar; not part of the verdict
    progress: Callable[[int, int], None] | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        for name, least in (("max_findings", 1), ("max_line_bytes", 1), ("max_payload_bytes", 0)):
            value = getattr(self, name)
            if type(value) is not int or value < least:
                raise ValueError(f"{name.replace('_', '-')} must be a whole number >= {least}, not {value!r}")
        if self.release is not None:
            from ..model import releases

            rel = releases.release(self.release)
            if rel is None or rel.record is None:
                known = [r.version for r in releases.table() if r.record is not None]
                raise ValueError(f"release: no facts for Codex {self.release} (probed or inferred: "
                                 f"{known[0]}..{known[-1]}; see `rollout-trace codex releases`)")


class Where(TypedDict):
    """Where a finding is, as keyword arguments of :meth:`Context.report`."""

    file: str
    line: int | None
    seq: int | None


@dataclass
class Context:
    bundle: Path
    options: Options
    dialect: Dialect | None = None
    manifest: dict[str, Any] | None = None
    findings: list[Finding] = field(default_factory=list)
    truncated: bool = False
    # Findings past max_findings are not kept, but they still count in the verdict.
    dropped_errors: int = 0
    dropped_warnings: int = 0
    events: int = 0  # events in the log, counted by the pass over it
    # position of the event being checked
    line: int | None = None
    seq: int | None = None
    summary: "BundleSummary | None" = None  # what the release rules need (rules/release.py)
    # valid lines the fast path could not take (spelled unlike the canonical form): why a check is slow
    respelled_lines: int = 0
    respelled_first: str | None = None  # where and how the first one differs
    _unenforced: frozenset[str] | None = None  # release_unenforced, once computed
    _caps_listed: set[str] = field(default_factory=set)  # declining invariants listed past max_findings

    @property
    def profile(self) -> Profile:
        return self.options.profile

    def level_of(self, inv: Invariant, level: Profile | None = None) -> Profile | None:
        """The profile ``inv`` is checked in here: ``level`` if given, else its catalogue level."""
        if level is not None:
            return level
        if self.dialect is None:
            return min(inv.levels.values())
        from .catalogue import level_in

        lv = level_in(inv, self.dialect)
        if lv is Profile.REDUCER and inv.id in self.release_unenforced:
            return Profile.WRITER  # `--release`'s reducer reads a bundle breaking it (measured): a writer rule there
        return lv

    @property
    def release_unenforced(self) -> frozenset[str]:
        """The reducer-level rules `--release`'s reducer was measured not to enforce (release data)."""
        if self._unenforced is None:
            self._unenforced = frozenset()
            if self.options.release is not None:
                from ..model import releases
                from .rules.release import unenforced_rules

                rel = releases.release(self.options.release)
                if rel is not None and rel.record is not None:
                    self._unenforced = unenforced_rules(rel)
        return self._unenforced

    def _listed_past_cap(self, inv: Invariant) -> bool:
        """A cap the kit reached (a ``declines`` invariant) is listed past max_findings: a million
        findings before it (a zstd bomb's duplicate records) never leave "the kit declined" unsaid.
        The first of each such invariant only, so the list stays bounded."""
        if not inv.declines or inv.id in self._caps_listed:
            return False
        self._caps_listed.add(inv.id)
        return True

    def wants(self, inv: Invariant, level: Profile | None = None) -> bool:
        """Whether ``inv`` (at ``level``, default its catalogue level) is checked in this run."""
        lv = self.level_of(inv, level)
        return lv is not None and lv <= self.profile

    def report(
        self,
        inv: Invariant,
        message: str,
        *,
        level: Profile | None = None,
        file: str = TRACE,
        line: int | None = -1,
        seq: int | None = -1,
        pointer: str = "",
        related_seq: int | None = None,
        severity: Severity | None = None,
    ) -> None:
        lv = self.level_of(inv, level)
        if lv is None or lv > self.profile:
            return
        if len(self.findings) >= self.options.max_findings and not self._listed_past_cap(inv):
            self.truncated = True
            if (severity or inv.severity) is Severity.ERROR:
                self.dropped_errors += 1
            else:
                self.dropped_warnings += 1
            return
        line = self.line if line == -1 else line
        if line is not None and file != TRACE:
            # Every line number the kit knows is a trace.jsonl line: a finding about a payload file
            # or a shard read through an event's ref points at that event (its message names the
            # file), never at the file with the event's line (payloads/3.json:17 in every format).
            file = TRACE
        self.findings.append(
            Finding(
                invariant=inv.id,
                severity=severity or inv.severity,
                profile=lv,
                message=message,
                bundle=str(self.bundle),
                file=file,
                line=line,
                seq=self.seq if seq == -1 else seq,
                pointer=pointer,
                related_seq=related_seq,
            )
        )
