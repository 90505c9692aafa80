"""The fleet table: findings per invariant, release and bundle, as rows for JSON Lines.

The rows are plain dicts of strings and numbers, so any engine that maps a function over
many inputs can build the table: Dask's distributed scheduler in the fleets guide
(``client.map(judge_rows, paths)``), a process pool, or a loop. pandas
(``read_json(lines=True)``) and DuckDB (``FROM 'findings.jsonl'``) read the file.

Columns (:data:`COLUMNS`): ``bundle``, ``dialect``, ``release`` (the Codex release the
bundle was judged as, ``None`` for the spec alone), ``profile``, ``ok`` (the bundle's
verdict), ``invariant``, ``severity`` and ``findings`` (how many of that invariant and
severity). A bundle without findings has one row whose ``invariant`` is ``None`` and
``findings`` 0, so every bundle judged is in the table. Findings past ``max_findings``
are not listed one by one: they count in a row whose ``invariant`` is ``"(not listed)"``.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

from .context import Options
from .findings import BundleReport, Profile

COLUMNS = ("bundle", "dialect", "release", "profile", "ok", "invariant", "severity", "findings")
NOT_LISTED = "(not listed)"


def finding_rows(report: BundleReport, release: str | None = None) -> list[dict[str, Any]]:
    """The table's rows for one bundle's report."""
    base = {"bundle": report.bundle, "dialect": report.dialect, "release": release,
            "profile": report.profile.label, "ok": report.ok}
    counted = Counter((f.invariant, f.severity.value) for f in report.findings)
    if report.dropped_errors:
        counted[(NOT_LISTED, "error")] += report.dropped_errors
    if report.dropped_warnings:
        counted[(NOT_LISTED, "warning")] += report.dropped_warnings
    if not counted:
        return [{**base, "invariant": None, "severity": None, "findings": 0}]
    return [{**base, "invariant": inv, "severity": sev, "findings": n} for (inv, sev), n in sorted(counted.items())]


class NotABundle(str):
    """A path :func:`bundle_paths` lists that is no bundle to judge: ``why`` says what it is
    (a symbolic link met in the tree, or a directory where a search cap stopped). A ``str``
    (pickled whole, so it reaches a Dask worker with its ``why``); :func:`judge_rows` gives it
    the finding ``validate`` gives it."""

    why: str
    link: bool

    def __new__(cls, path: str, why: str = "", link: bool = False) -> "NotABundle":
        self = super().__new__(cls, path)
        self.why, self.link = why, link
        return self


def judge_rows(bundle: str, release: str | None = None, profile: str = "writer") -> list[dict[str, Any]]:
    """Validate one bundle (as ``release`` would read and write it, when given) and return its
    rows: the function to map over a fleet. Never raises for a bad bundle (findings instead)."""
    from .engine import validate_bundle
    from .fleet import linked_report, unsearched_report

    options = Options(profile=Profile.parse(profile), release=release)
    if isinstance(bundle, NotABundle):  # as validate judges it: a link, or a cap reached (never "ok")
        report = (linked_report(Path(bundle), options) if bundle.link
                  else unsearched_report(Path(bundle), options, bundle.why))
    else:
        report = validate_bundle(bundle, options)
    return finding_rows(report, release)


def bundle_paths(root: str | Path) -> list[str]:
    """Every bundle below ``root`` (sorted), as ``validate`` walks a directory. A symlink to a
    directory (or a dangling one) is listed, and so is a directory that cannot be listed or
    where a search cap stopped: each is a finding from :func:`judge_rows`, as from ``validate``
    (links and caps as :class:`NotABundle`); no directory is skipped silently."""
    from .cli import find_bundles, links_met

    top = Path(root)
    unsearched: dict[Path, str] = {}
    out: list[str] = []
    found = find_bundles(top, unsearched)
    links = links_met(found, [top])  # the root itself is followed, as validate's PATH is
    for b in found:
        if b in unsearched:
            out.append(NotABundle(str(b), unsearched[b]))
        elif b in links:
            out.append(NotABundle(str(b), link=True))
        else:
            out.append(str(b))
    return out
