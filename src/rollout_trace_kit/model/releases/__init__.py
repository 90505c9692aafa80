"""Codex releases as data: what each published release writes and what its reducer reads.

Each probed release has a record in ``data/VERSION.json`` written by
``rollout-trace codex probe VERSION`` (measured, never typed in). ``data/npm-versions.json``
lists every published release (``rollout-trace codex releases --refresh``). A release
that was not probed itself takes its facts from its probed neighbours when both ends
of its range agree (``inferred``); where they differ it stays ``unknown`` until a probe
of the middle (bisection) settles it. Runs of releases with equal facts are epochs.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from ..types import release_key

RECORD_FORMAT = "rollout-trace-kit/codex-release/1"
LIST_FORMAT = "rollout-trace-kit/codex-versions/1"
FIRST_RELEASE = "0.124.0"  # the first release with a trace writer

# What makes two releases the same epoch: the record minus what says who measured it and how it went
# in detail (exit codes and per-scenario notes vary with the machine, not the release).
_NOT_FACTS = ("release", "probed", "probed_with")


def data_dir() -> Path:
    return Path(str(resources.files(__name__))) / "data"


# Scenarios whose events are a race: a child thread may end before or after the parent's
# rollout_ended (measured: Codex 0.169.0, multi_agent_v2, 2 runs of 3); an interrupted or killed
# run ends wherever the signal lands (0.128.0 vs 0.131.0: tool_call_runtime_ended or not).
# Their order and per-scenario variant facts are kept in the record but not compared.
RACY_ORDER = frozenset({"multi_agent_v1", "multi_agent_v2", "multi_agent_resume", "killed", "interrupt",
                        "interrupt_inference"})


# Reducer facts measured on each epoch's first release only (`probe --bodies`, `probe --depths`): not
# what makes an epoch (yet); a release not measured itself takes its epoch's first release's.
_MEASURED_ON_FIRST = ("body_required", "runtime_depths", "payloads_opened", "envelope_rules", "number_range")
# The places of ``reducer.number_range`` (`probe --numbers`): whether the reducer refuses a number beyond
# f64 there (serde_json's "number out of range").
NUMBER_IN_EVENT_PAYLOAD, NUMBER_IN_PAYLOAD_BODY = "event_payload", "payload_body"


def facts_of(record: dict[str, Any]) -> dict[str, Any]:
    """The comparable facts of a record."""
    out = {k: v for k, v in record.items() if k not in _NOT_FACTS}
    if isinstance(out.get("reducer"), dict):
        out["reducer"] = {k: v for k, v in out["reducer"].items() if k not in _MEASURED_ON_FIRST}
    writer = dict(out.get("writer") or {})
    scenarios = writer.get("scenarios") or {}
    steady = [s for name, s in scenarios.items() if name not in RACY_ORDER]
    if "after_rollout_ended" in writer:
        writer["after_rollout_ended"] = sorted({t for s in steady for t in s.get("after_rollout_ended") or []})
    if "terminal_events" in writer:
        writer["terminal_events"] = sorted({t for s in steady for t in s.get("terminal") or []})
    writer["scenarios"] = {name: {k: v for k, v in s.items()
                                  if k in ("own_reducer_accepts", "bundles") or (k == "variants" and name not in RACY_ORDER)}
                           for name, s in scenarios.items()}
    out["writer"] = writer
    return out


@dataclass(frozen=True)
class Release:
    version: str
    status: str  # "probed" | "inferred" | "unknown"
    record: dict[str, Any] | None  # the measured record, or the neighbours' shared facts
    inferred_from: tuple[str, str] | None = None

    @property
    def facts(self) -> dict[str, Any] | None:
        return facts_of(self.record) if self.record is not None else None

    def get(self, *path: str, default: Any = None) -> Any:
        value: Any = self.record
        for key in path:
            if not isinstance(value, dict):
                return default
            value = value.get(key)
        return default if value is None else value

    @property
    def schema_version(self) -> int | None:
        v = self.get("schema_version")
        return v if isinstance(v, int) else None

    @property
    def reducer_variants(self) -> frozenset[str] | None:
        v = self.get("reducer", "variants")
        return frozenset(v) if v is not None else None

    @property
    def schema_versions_accepted(self) -> frozenset[int] | None:
        v = self.get("reducer", "schema_versions_accepted")
        return frozenset(v) if v is not None else None

    @property
    def writer_variants(self) -> frozenset[str] | None:
        v = self.get("writer", "variants")
        return frozenset(v) if v is not None else None

    def required_fields(self, variant: str) -> frozenset[str]:
        return frozenset(self.get("reducer", "required_fields", variant, default=[]))

    @property
    def accepts_breaking(self) -> frozenset[str]:
        """Invariants the reducer is measured not to enforce: the probe's fuzz saw it accept a corrupt
        bundle breaking them (``reducer.fuzz.ignored``, less the hangs and crashes), so the kit errs
        towards accepting. Empty when the fuzz says nothing: not run, failed, or the reducer rejected
        even the valid bundles (0.165.0 and 0.166.0 do not know the fuzz's recording_completed)."""
        fuzz = self.get("reducer", "fuzz")
        if not isinstance(fuzz, dict) or "error" in fuzz or fuzz.get("rejects_valid") is not False:
            return frozenset()
        return frozenset(fuzz.get("ignored") or ()) - frozenset(fuzz.get("hangs") or ()) - frozenset(fuzz.get("crashes") or ())


@dataclass(frozen=True)
class Epoch:
    first: str
    last: str
    releases: tuple[Release, ...] = field(default_factory=tuple)

    @property
    def representative(self) -> Release:
        return next((r for r in self.releases if r.status == "probed"), self.releases[0])

    @property
    def status(self) -> str:
        return self.representative.status

    @property
    def versions(self) -> list[str]:
        return [r.version for r in self.releases]


def load_records(directory: Path | None = None) -> dict[str, dict[str, Any]]:
    root = directory or data_dir()
    out = {}
    for path in sorted(root.glob("*.json")):
        if not path.stem[:1].isdigit():
            continue
        doc = json.loads(path.read_text(encoding="utf-8"))
        if doc.get("format") == RECORD_FORMAT:
            out[doc["release"]] = doc
    return dict(sorted(out.items(), key=lambda kv: release_key(kv[0])))


def published(directory: Path | None = None) -> list[str]:
    """Every published release from the first writer on (the committed npm list)."""
    doc = json.loads(((directory or data_dir()) / "npm-versions.json").read_text(encoding="utf-8"))
    return sorted((v for v in doc["versions"] if release_key(v) >= release_key(FIRST_RELEASE)), key=release_key)


def plain_versions(all_versions: list[str]) -> list[str]:
    """x.y.z releases only (no platform builds, no pre-releases)."""
    out = []
    for v in all_versions:
        parts = v.split(".")
        if len(parts) == 3 and all(p.isdigit() for p in parts):
            out.append(v)
    return sorted(set(out), key=release_key)


def build_table(records: dict[str, dict[str, Any]], versions: list[str]) -> list[Release]:
    """Every release of ``versions``: probed, inferred from equal neighbours, or unknown."""
    everything = sorted(set(versions) | set(records), key=release_key)
    probed = [v for v in everything if v in records]
    facts = {v: facts_of(records[v]) for v in probed}  # each record's once (every kit process builds the table)
    table = []
    seen = 0  # probed releases before v (everything is in order)
    for v in everything:
        if v in records:
            table.append(Release(v, "probed", records[v]))
            seen += 1
            continue
        before = probed[seen - 1] if seen else ""
        after = probed[seen] if seen < len(probed) else ""
        if before and after and facts[before] == facts[after]:
            table.append(Release(v, "inferred", records[before], (before, after)))
        else:
            table.append(Release(v, "unknown", None, (before, after)))
    return table


def epochs(table: list[Release]) -> list[Epoch]:
    """Runs of consecutive releases with equal facts (a run of unknown releases is one epoch)."""
    out: list[list[Release]] = []
    last_facts = None
    for r in table:
        facts = r.facts
        if out and (out[-1][-1].status == "unknown") == (r.status == "unknown") and last_facts == facts:
            out[-1].append(r)
        else:
            out.append([r])
        last_facts = facts
    return [Epoch(rs[0].version, rs[-1].version, tuple(rs)) for rs in out]


@lru_cache(maxsize=1)
def table() -> tuple[Release, ...]:
    return tuple(build_table(load_records(), published()))


@lru_cache(maxsize=1)
def table_epochs() -> tuple[Epoch, ...]:
    """The epochs of the published table (computed once: comparing facts is not free)."""
    return tuple(epochs(list(table())))


def epoch_of(version: str) -> Epoch | None:
    return next((e for e in table_epochs() if version in e.versions), None)


def clear_cache() -> None:
    table.cache_clear()
    table_epochs.cache_clear()


def release(version: str) -> Release | None:
    return next((r for r in table() if r.version == version), None)


def bisect_next(table_: list[Release]) -> list[str]:
    """The releases to probe next: the middle of every unknown range."""
    out, run = [], []
    for r in table_ + [Release("", "probed", None)]:
        if r.status == "unknown":
            run.append(r.version)
        elif run:
            out.append(run[len(run) // 2])
            run = []
    return out


# The reducer facts the probe reads from serde's "expected one of" lists: the name in the record,
# and where (the variant whose first event is edited, the path to the tagged value). The model
# type at that place says which of its values the list is about (generators/_release.py).
REDUCER_ENUM_SITES: dict[str, tuple[str, tuple[str, ...]]] = {
    "tool_kinds": ("tool_call_started", ("kind", "type")),
    "requester_kinds": ("tool_call_started", ("requester", "type")),
    "summary_kinds": ("tool_call_started", ("summary", "type")),
    "execution_statuses": ("codex_turn_ended", ("status",)),
    "rollout_statuses": ("rollout_ended", ("status",)),
    "code_cell_statuses": ("code_cell_initial_response", ("status",)),
}


# The schema_version values the probe tries on a release's reducer (codex/probe.py): whether it
# accepts another value is unmeasured (a warning, never an error, when a bundle holds one).
PROBED_SCHEMA_VERSIONS = range(0, 6)
