"""Known-results files: the failures a reducer is allowed to have, each with a reason.

Like protobuf's conformance failure lists: an entry says how the reducer
treats bundles breaking one invariant (``accepts``, ``mixed``, ``crashes``,
``hangs``, ``wrong-output`` (an output oracle failed), ...) and why that is acceptable. An entry that no longer matches
what the run saw fails the run, so the file cannot go stale; ``--update``
rewrites it from the run, keeping the reasons of entries that still hold.

Format (JSON)::

    {"format": "rollout-trace-kit/known-results/1",
     "entries": {"SEQ.NO_GAP": {"behaviour": "accepts", "reason": "v1 leaves seq to the writer"}}}
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

FORMAT = "rollout-trace-kit/known-results/1"
BEHAVIOURS = ("accepts", "rejects", "mixed", "crashes", "hangs", "error", "wrong-output")
NEW_REASON = "TODO: say why this is acceptable (added by --update)"


MAX_JSON_BYTES = 64 << 20  # of a known-results file or a shard's report: far more than either holds


class KnownResultsError(ValueError):
    pass


def read_json(path: str | Path, cap: int = MAX_JSON_BYTES):
    """The parsed JSON of a file the user named; ValueError (saying why) when it is larger than
    ``cap`` bytes, not UTF-8 JSON, or nests too deep to parse. OSError when it cannot be read."""
    from ...files import TOO_LARGE, read_capped

    got = read_capped(path, cap, keep_prefix=False)  # a FIFO or device is refused, never waited on
    if got.why == TOO_LARGE:
        raise ValueError(f"larger than {cap >> 20} MiB")
    if got.data is None:
        raise OSError(f"{got.problem}")  # missing, unreadable, or a FIFO, a device, a directory
    data = got.data
    try:
        return json.loads(data.decode("utf-8"))
    except RecursionError:
        raise ValueError("nested too deep") from None


@dataclass
class Known:
    entries: dict[str, dict] = field(default_factory=dict)

    @classmethod
    def load(cls, path: str | Path) -> "Known":
        p = Path(path)
        if not p.exists():
            return cls()
        try:
            doc = read_json(p)
        except (OSError, ValueError) as e:
            raise KnownResultsError(f"{p}: not a readable JSON file: {e}") from None
        if not isinstance(doc, dict) or doc.get("format") != FORMAT or not isinstance(doc.get("entries"), dict):
            raise KnownResultsError(f'{p}: expected {{"format": "{FORMAT}", "entries": {{...}}}}')
        for inv, entry in doc["entries"].items():
            if not isinstance(entry, dict) or entry.get("behaviour") not in BEHAVIOURS:
                raise KnownResultsError(f"{p}: {inv}: behaviour must be one of {', '.join(BEHAVIOURS)}")
            if not isinstance(entry.get("reason"), str) or not entry["reason"].strip():
                raise KnownResultsError(f"{p}: {inv}: every entry needs a reason")
        return cls(dict(doc["entries"]))

    def save(self, path: str | Path) -> None:
        doc = {"format": FORMAT, "entries": dict(sorted(self.entries.items()))}
        Path(path).write_text(json.dumps(doc, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


@dataclass
class Verdict:
    expected_failures: list[str]  # failing invariants the file allows
    new_failures: list[str]  # failing invariants the file does not allow
    stale: list[tuple[str, str]]  # (invariant, why the entry no longer matches)

    @property
    def ok(self) -> bool:
        return not self.new_failures and not self.stale


def judge(table: dict[str, dict], known: Known) -> Verdict:
    """Compare a run's per-invariant table with the known results."""
    expected, new, stale = [], [], []
    for inv, row in table.items():
        entry = known.entries.get(inv)
        if row["failed"]:
            if entry is not None and entry["behaviour"] == row["summary"]:
                expected.append(inv)
            else:
                new.append(inv)
                if entry is not None:
                    stale.append((inv, f"listed as {entry['behaviour']}, but the run saw {row['summary']}"))
        elif entry is not None and entry["behaviour"] != "hangs":
            # a hang needs one shape (a FIFO where a file goes) that a seed may not make: a run
            # that never reached it proves nothing, so a known hang goes stale only when its
            # cases fail another way
            stale.append((inv, f"listed as {entry['behaviour']}, but every case passed"))
    return Verdict(expected, new, stale)


def updated(table: dict[str, dict], known: Known) -> Known:
    """The known results this run would need: every failing invariant, old reasons kept."""
    entries = {}
    for inv, row in table.items():
        if row["failed"]:
            old = known.entries.get(inv)
            reason = old["reason"] if old and old["behaviour"] == row["summary"] else NEW_REASON
            entries[inv] = {"behaviour": row["summary"], "reason": reason}
    # entries for invariants this run did not cover stay as they are
    for inv, entry in known.entries.items():
        if inv not in table:
            entries[inv] = entry
    return Known(entries)
