"""Verdicts per release: the RELEASE.* findings for ``--release``, and the compatible range.

Releases are judged once per epoch (a run of releases with equal facts) from the
one-pass :class:`~.rules.release.BundleSummary`; a release's reducer is taken to
reject a bundle when a RELEASE reader rule fails, when a line is not JSON at all
(every release's reducer stops there), or when the dialect's reducer profile finds
an error and the release reads that dialect's schema_version.
"""

from __future__ import annotations

import json
from pathlib import Path

from ..files import open_regular, read_capped
from .findings import Profile, Severity
from .lines import DEFAULT_MAX_LINE_BYTES
from .rules.layout import (IS_DIRECTORY, MANIFEST, MANIFEST_JSON, MANIFEST_PRESENT, MAX_MANIFEST_BYTES, TRACE,
                           TRACE_PRESENT)
from .rules import schema
from .rules.release import BundleSummary, judge, reader_accepts, writer_could_write


# Every release's reducer parses each line with serde_json: a line these rules fail at the
# reducer level stops every reader, whatever schema_version it reads.
_UNREADABLE_LINE = frozenset({schema.UTF8.id, schema.JSON.id, schema.TRUNCATED.id})
# Every release's replay_bundle opens and parses manifest.json, then opens trace.jsonl, whatever
# schema_version it reads: a bundle failing these has no reader (0.164.0 ignores schema_version).
_UNOPENED = frozenset({IS_DIRECTORY.id, MANIFEST_PRESENT.id, MANIFEST_JSON.id, TRACE_PRESENT.id})


def attach(ctx) -> dict | None:
    """Report the RELEASE.* findings of ``--release``; return the compatible releases (or None)."""
    from ..model import releases

    summary: BundleSummary = ctx.summary
    if not summary.keysets:
        # the pass stopped before the events (a dialect or payload store the validator cannot read): read them plainly
        summary = ctx.summary = summarize(ctx.bundle)
    if isinstance(ctx.manifest, dict):
        summary.manifest_schema = ctx.manifest.get("schema_version")
    if summary.unreadable_line is None:
        summary.unreadable_line = next((f.line for f in ctx.findings if f.invariant in _UNREADABLE_LINE
                                        and f.profile is Profile.REDUCER), None)
    summary.unopened = summary.unopened or any(f.invariant in _UNOPENED for f in ctx.findings)
    if ctx.options.release is not None:  # a release with facts (Options checks it)
        for f in judge(summary, releases.release(ctx.options.release)):
            ctx.report(f.invariant, f.message, line=f.line, seq=None)
    if not ctx.options.releases:
        return None
    from .catalogue import CATALOGUE

    # the dialect's reducer-profile errors, but not the kit's own limits (a store it cannot read yet)
    reducer_errors = any(f.profile is Profile.REDUCER and f.severity is Severity.ERROR
                         and not f.invariant.startswith("RELEASE.")
                         and not (f.invariant in CATALOGUE and CATALOGUE[f.invariant].kit_only)
                         for f in ctx.findings)
    # a kit cap reached: the kit declined to judge, so it names no reader (issue 18 ruling)
    declined = any(f.invariant in CATALOGUE and CATALOGUE[f.invariant].declines for f in ctx.findings)
    return compat(summary, reducer_errors=reducer_errors, dialect_schema=(
        ctx.dialect.schema_version if ctx.dialect is not None else None), declined=declined)


def compat(summary: BundleSummary, *, reducer_errors: bool = False, dialect_schema: int | None = None,
           declined: bool = False) -> dict:
    """Releases whose reducer accepts the bundle and whose writer could have written it
    (``declined``: a kit cap was reached, no release is named a reader)."""
    from ..model import releases

    readers: list[str] = []
    writers: list[str] = []
    unknown: list[str] = []
    for epoch in releases.table_epochs():
        rep = epoch.representative
        if epoch.status == "unknown":
            unknown += epoch.versions
            continue
        reads = not declined and reader_accepts(summary, rep)
        if reads and reducer_errors and dialect_schema is not None and rep.schema_version == dialect_schema:
            reads = False
        if reads:
            readers += epoch.versions
        if writer_could_write(summary, rep):
            writers += epoch.versions
    return {
        "schema_version": summary.schema_version,
        "readers": ranges(readers),
        "writers": ranges(writers),
        "unknown": ranges(unknown),
    }


def ranges(versions: list[str]) -> list[str]:
    """Consecutive published releases as "first..last" (or one version)."""
    from ..model import releases

    order = [r.version for r in releases.table()]
    index = {v: i for i, v in enumerate(order)}
    out: list[list[str]] = []
    for v in sorted(versions, key=lambda v: index.get(v, -1)):
        if out and index.get(v) == index.get(out[-1][-1], -9) + 1:
            out[-1].append(v)
        else:
            out.append([v])
    return [run[0] if len(run) == 1 else f"{run[0]}..{run[-1]}" for run in out]


def summarize(bundle: Path, max_line: int = DEFAULT_MAX_LINE_BYTES) -> BundleSummary:
    """A summary read straight from trace.jsonl (for dialects the validator does not model)."""
    summary = BundleSummary()
    got = read_capped(bundle / MANIFEST, MAX_MANIFEST_BYTES, keep_prefix=False)
    manifest = _loads(got.data) if got.data is not None else None
    if isinstance(manifest, dict):
        summary.manifest_schema = manifest.get("schema_version")
    try:
        with open_regular(bundle / TRACE) as f:
            for n, raw in enumerate(iter(lambda: f.readline(max_line + 1), b""), 1):
                if len(raw) > max_line:
                    break
                obj = _loads(raw)
                if isinstance(obj, dict):
                    summary.observe(obj, n)
                elif raw.strip() and summary.unreadable_line is None:
                    summary.unreadable_line = n
    except OSError:
        pass
    return summary


def _loads(data: bytes):
    """The JSON value, or None when there is none (a line nested past the parser's depth included)."""
    try:
        return json.loads(data)
    except (ValueError, RecursionError):
        return None
