"""Published Codex releases that the release table lacks (``rollout-trace codex releases --missing``).

Read-only: it asks npm (``npm view @openai/codex versions time --json``) and compares with
the committed list and records; it never writes into the installed package (``--refresh``
does that, on purpose). A release the table lacks cannot be judged: ``--release`` refuses it.
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from datetime import datetime, timezone

from ..model import releases as rel
from ..model.types import release_key

PACKAGE = "@openai/codex"


class NpmError(Exception):
    pass


@dataclass(frozen=True)
class Missing:
    version: str
    published: datetime | None  # None: npm gave no time for it

    def age_days(self, now: datetime) -> float | None:
        return None if self.published is None else (now - self.published).total_seconds() / 86400


def npm_view(timeout: float = 120) -> dict:
    """``{"versions": [...], "time": {version: ISO time}}`` of the package, as npm gives them."""
    try:
        proc = subprocess.run(["npm", "view", PACKAGE, "versions", "time", "--json"], capture_output=True,
                              stdin=subprocess.DEVNULL, timeout=timeout)
    except (OSError, subprocess.SubprocessError) as e:
        raise NpmError(f"npm view failed: {e}") from e
    if proc.returncode != 0:
        raise NpmError(f"npm view failed: {proc.stderr.decode('utf-8', 'replace')[-300:]}")
    try:
        doc = json.loads(proc.stdout)
    except ValueError as e:
        raise NpmError(f"npm view printed no JSON: {e}") from e
    if not isinstance(doc, dict) or not isinstance(doc.get("versions"), list):
        raise NpmError("npm view printed no version list")
    return doc


def _time(raw: object) -> datetime | None:
    if not isinstance(raw, str):
        return None
    try:
        t = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        return None
    return t if t.tzinfo else t.replace(tzinfo=timezone.utc)


def missing(doc: dict, table_versions: list[str] | None = None) -> list[Missing]:
    """Plain releases npm lists, from the first trace writer on, that the table lacks; oldest first."""
    have = set(table_versions if table_versions is not None else (r.version for r in rel.table()))
    raw_times = doc.get("time")
    times: dict = raw_times if isinstance(raw_times, dict) else {}
    versions = [v for v in rel.plain_versions([v for v in doc["versions"] if isinstance(v, str)])
                if release_key(v) >= release_key(rel.FIRST_RELEASE) and v not in have]
    return [Missing(v, _time(times.get(v))) for v in sorted(versions, key=release_key)]


def overdue(found: list[Missing], days: float, now: datetime | None = None) -> list[Missing]:
    """Those published more than ``days`` ago (a release without a time counts: nobody can tell its age)."""
    now = now or datetime.now(timezone.utc)
    return [m for m in found if (age := m.age_days(now)) is None or age > days]
