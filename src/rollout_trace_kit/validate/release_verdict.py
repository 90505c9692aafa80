"""Verdicts per release: the RELEASE.* findings for ``--release``, and the compatible range.

``validate --release R`` is the dialect's pass over the bundle, less the dialect rules R's
measured facts replace (:data:`SUPERSEDED`), plus the RELEASE rules of R (:func:`.rules.release.judge`).
A release whose reducer takes every schema_version reads the bundle as its own dialect
(:func:`reads_as`): 0.164.0 reads a v3 bundle with its v1 types ("missing field `path`").

``compat`` judges one release per epoch (a run of releases with equal facts) from the same
findings with the same function (:func:`epoch_verdicts`), so the two agree: R reads the bundle
exactly when ``validate --profile reducer --release R`` is clean (warnings allowed), and R could
have written it exactly when ``validate --profile writer --release R`` is; each release ruled out
gets its first reason.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

from ..model.common import EnvelopeKey as E, ManifestKey
from ..files import open_regular, read_capped
from ..model.types import Dialect
from .catalogue import declines
from .context import Options
from .findings import Finding, Profile, Severity
from .lines import DEFAULT_MAX_LINE_BYTES
from .rules.layout import (CONFINED, IS_DIRECTORY, MANIFEST, MANIFEST_JSON, MANIFEST_PRESENT, MAX_MANIFEST_BYTES,
                           TRACE, TRACE_PRESENT, leads_out)
from .rules import schema
from .rules.lifecycle import RELEASE_REQUIRED
from .rules.order import AFTER_ROLLOUT_ENDED, TERMINAL_PRESENT
from .rules.release import SCHEMA_ACCEPTED, SUMMARY_CAP, BundleSummary, judge, judge_reader


# Every release's reducer parses each line with serde_json: a line these rules fail at the
# reducer level stops every reader, whatever schema_version it reads.
_UNREADABLE_LINE = frozenset({schema.UTF8.id, schema.JSON.id, schema.TRUNCATED.id})
# Every release's replay_bundle opens and parses manifest.json, then opens trace.jsonl, whatever
# schema_version it reads: a bundle failing these has no reader (0.164.0 ignores schema_version).
_UNOPENED = frozenset({IS_DIRECTORY.id, MANIFEST_PRESENT.id, MANIFEST_JSON.id, TRACE_PRESENT.id})

# Dialect rules that `--release` replaces with the release's own facts: its terminal events
# (RELEASE.TERMINAL), what it writes after rollout_ended (RELEASE.AFTER_ROLLOUT_ENDED), the fields
# its reducer requires (RELEASE.FIELD_REQUIRED; EVENT.RELEASE_REQUIRED_FIELD is the reference release's).
SUPERSEDED = frozenset({TERMINAL_PRESENT.id, AFTER_ROLLOUT_ENDED.id, RELEASE_REQUIRED.id})


def reads_as(release) -> Dialect | None:
    """The dialect ``release``'s reducer reads every bundle as, when it takes every schema_version
    (the releases up to 0.164.0 ignore it); None: it reads only its own, as the bundle's dialect."""
    from ..model import dialect_for_schema_version

    accepted = release.schema_versions_accepted
    own = release.schema_version
    if not release.get("has_reducer") or accepted is None or not accepted - {own}:
        return None
    return dialect_for_schema_version(own)


def options_for(options: Options) -> Options:
    """The options of a check with ``--release``: a release that reads every bundle as its own
    dialect forces it (unless the caller forced one)."""
    from ..model import releases

    if options.release is None or options.dialect is not None:
        return options
    rel = releases.release(options.release)
    dialect = reads_as(rel) if rel is not None else None
    return options if dialect is None else dataclasses.replace(options, dialect=dialect.name)


def release_findings(findings: list[Finding], summary: BundleSummary, release, dialect: Dialect | None, *,
                     bundle: str = "", partial_ok: bool = False) -> list[Finding]:
    """The findings ``validate --release`` reports: the pass's, less :data:`SUPERSEDED`, plus the
    release's own (RELEASE.* first: they name the release), each at its level in ``dialect``."""
    from .catalogue import level_in

    added = []
    for f in judge(summary, release, dialect_terminal=dialect.terminal_variants if dialect else (),
                   partial_ok=partial_ok):
        level = level_in(f.invariant, dialect) if dialect is not None else min(f.invariant.levels.values())
        if level is None:
            continue
        added.append(Finding(invariant=f.invariant.id, severity=f.severity or f.invariant.severity, profile=level,
                             message=f.message, bundle=bundle, file=f.file, line=f.line))
    return added + [unenforced(f, release) for f in findings if f.invariant not in SUPERSEDED]


def unenforced(f: Finding, release) -> Finding:
    """``f`` as ``release`` sees it: an error of a rule its reducer is measured not to enforce
    (Release.accepts_breaking) is a warning that says so."""
    if f.severity is not Severity.ERROR or f.invariant not in release.accepts_breaking:
        return f
    return dataclasses.replace(f, severity=Severity.WARNING, message=f"{f.message} (Codex {release.version}'s "
                               "reducer accepted a bundle breaking this rule in the probe's fuzz: measured)")


def first_error(findings: list[Finding], profile: Profile) -> Finding | None:
    """The error a reader meets first: the manifest's, then by line (a release's own finding first
    on its line); one about the whole log last."""
    errors = [f for f in findings if f.severity is Severity.ERROR and f.profile <= profile]
    return min(errors, key=_position, default=None)


def _position(f: Finding) -> tuple[int, int]:
    if f.file == MANIFEST:
        return (0, 0)
    return (1, f.line) if f.line is not None else (2, 0)


def attach(ctx) -> dict | None:
    """Report the RELEASE.* findings of ``--release``; return the compatible releases (or None)."""
    from ..model import releases

    complete_summary(ctx)
    pass_findings = list(ctx.findings)
    if ctx.options.release is not None:  # a release with facts (Options checks it)
        apply_release(ctx, releases.release(ctx.options.release))
    if not ctx.options.releases:
        return None
    # a kit cap reached: no release is named (epoch_verdict), so no pass may read the bundle again
    declined = ctx.dropped_errors > 0 or any(declines(f.invariant) for f in pass_findings)
    sensitive = not declined and (ctx.summary.release_sensitive or any(
        f.severity is Severity.ERROR and f.profile is Profile.REDUCER for f in pass_findings))
    return compat(ctx.summary, pass_findings, ctx.dialect, profile=ctx.profile, partial_ok=ctx.options.partial_ok,
                  truncated=ctx.dropped_errors > 0,
                  rejudge=Rejudge(ctx) if sensitive and ctx.options.release is None else None)


def complete_summary(ctx) -> None:
    """Fill in what the release rules need that the pass may not have recorded (it stopped early)."""
    summary: BundleSummary = ctx.summary
    if not summary.keysets and not any(f.invariant == CONFINED.id for f in ctx.findings):
        # the pass stopped before the events (a dialect or payload store the validator cannot read): read them plainly
        summary = ctx.summary = summarize(ctx.bundle)
    if isinstance(ctx.manifest, dict):
        summary.manifest_schema = ctx.manifest.get(ManifestKey.SCHEMA_VERSION)
    if summary.unreadable_line is None:
        summary.unreadable_line = next((f.line for f in ctx.findings if f.invariant in _UNREADABLE_LINE
                                        and f.profile is Profile.REDUCER), None)
    summary.unopened = summary.unopened or any(f.invariant in _UNOPENED for f in ctx.findings)
    if summary.capped is not None:  # the release rules would judge a part of the bundle: declined, never "ok"
        what, line = summary.capped
        ctx.report(SUMMARY_CAP, f"the bundle holds {what}, past the kit's cap for the release rules: "
                   "the kit declined to judge it as any release", line=line, seq=None)


def apply_release(ctx, release) -> None:
    """The pass's findings as ``release`` reports them (``--release``): less what its facts supersede,
    its unenforced rules as warnings, plus its RELEASE rules."""
    ctx.findings[:] = [unenforced(f, release) for f in ctx.findings if f.invariant not in SUPERSEDED]
    for f in release_findings([], ctx.summary, release, ctx.dialect, partial_ok=ctx.options.partial_ok):
        inv = _catalogued(f.invariant)
        ctx.report(inv, f.message, line=f.line, seq=None, severity=f.severity, file=f.file)


class Rejudge:
    """``rejudge(version)``: the findings of ``validate --release version`` for compat's epochs that read
    the bundle their own way. Releases that read it alike (one :func:`_reader_signature`) share one
    pass; each gets its own release step on a copy of it."""

    def __init__(self, ctx) -> None:
        self.ctx = ctx
        self.passes: dict[tuple, Any] = {}

    def __call__(self, version: str) -> list[Finding]:
        import copy

        from ..model import releases
        from .engine import reader_pass

        options = dataclasses.replace(self.ctx.options, release=version, releases=False)
        sig = _reader_signature(self.ctx.dialect, version)
        base = self.passes.get(sig)
        if base is None:
            base = self.passes[sig] = reader_pass(self.ctx.bundle, options)
            complete_summary(base)
        one = copy.copy(base)
        one.findings, one.options = list(base.findings), options
        apply_release(one, releases.release(version))
        return one.findings


def reads_own_way(release, dialect: Dialect | None) -> bool:
    """Whether the kit's pass with ``--release`` differs from the dialect's (the reference reducer's) for
    ``release``: measured reader facts of its own (runtime depths, payloads opened, envelope rules) or
    body rules that end before the reference release."""
    if dialect is None or release.version == dialect.reference_release or not release.get("has_reducer"):
        return False
    return _reader_signature(dialect, release.version) != _reader_signature(dialect, dialect.reference_release)


def refuses_manifest(release, summary: BundleSummary) -> bool:
    """Whether ``release``'s reducer stops at the manifest's schema_version (measured): it reads no
    event, so how it would read them does not matter."""
    found = judge_reader(summary, release)
    return bool(found) and found[0].invariant is SCHEMA_ACCEPTED and found[0].severity is Severity.ERROR \
        and found[0].line is None


def _reader_signature(dialect: Dialect, version: str) -> tuple:
    from ..model import releases
    from .rules import bodies
    from .rules.conversation import response_appends
    from .rules.lifecycle import runtime_depth_table
    from .rules.release import payloads_opened, unenforced_rules

    rel = releases.release(version)
    if rel is None or rel.record is None:
        return ()
    # everything a pass with ``--release`` reads of the release (rules/lifecycle.py, rules/refs.py,
    # context.py): two releases with one signature give one pass (Rejudge shares it)
    return (frozenset(runtime_depth_table(dialect, version).items()), unenforced_rules(rel),
            frozenset(k for k, v in payloads_opened(rel).items() if not v),
            frozenset(bodies.compared_call_content(version).items()), bodies.mcp_invocation_read(version),
            response_appends(version), bodies.agent_message_typed(version), bodies.dispatch_arguments_read(version),
            bodies.numbers_as_f64(version), reads_as(rel))


def _catalogued(invariant_id: str):
    from .catalogue import CATALOGUE

    return CATALOGUE[invariant_id]


def _reason(f: Finding | None) -> dict | None:
    if f is None:
        return None
    return {"invariant": f.invariant, "file": f.file, "line": f.line, "pointer": f.pointer, "message": f.message}


def epoch_verdict(epoch, summary: BundleSummary, findings: list[Finding], dialect: Dialect | None, *,
                  profile: Profile = Profile.WRITER, partial_ok: bool = False, truncated: bool = False,
                  rejudge=None) -> dict:
    """One epoch's verdict from a pass over the bundle as ``dialect``: reads / writes and the first reason
    against each. ``exact``: judged from a pass as the dialect the release reads the bundle as (else from
    the release rules alone, the pass being of another dialect)."""
    rep = epoch.representative
    out: dict[str, Any] = {"releases": _span(epoch.versions), "first": epoch.first, "last": epoch.last,
                           "status": epoch.status}
    if epoch.status == "unknown":
        return {**out, "reads": None, "writes": None, "exact": True, "judged_as": None}
    own = reads_as(rep)
    exact = own is None or (dialect is not None and own.name == dialect.name)
    if exact and rejudge is not None and reads_own_way(rep, dialect) and not refuses_manifest(rep, summary):
        found = rejudge(rep.version)  # the release reads this bundle its own way: its own pass (RELEASE.* included)
    elif exact:
        found = release_findings(findings, summary, rep, dialect, partial_ok=partial_ok)
    else:  # read as another dialect than this pass's: the release rules, and what stops every reader
        found = release_findings([f for f in findings if f.invariant in _UNREADABLE_LINE | _UNOPENED],
                                 summary, rep, own, partial_ok=partial_ok)
    cap = Finding(invariant="KIT.FINDINGS_CAP", severity=Severity.ERROR, profile=Profile.REDUCER,
                  message="errors past --max-findings: the kit declined to judge") if truncated else None
    # a kit cap reached: the kit declined to judge, so it names no reader (issue 18 ruling)
    declined = next((f for f in findings if declines(f.invariant)), None)
    reader = first_error(found, Profile.REDUCER) or declined or cap
    # nor any writer: `validate --release R` fails in every profile (a pass as another dialect included)
    writer = first_error(found, Profile.WRITER) or declined or cap
    has_reducer = bool(rep.get("has_reducer"))
    out.update({
        "reads": (reader is None) if has_reducer else None,
        "reader_reason": _reason(reader) if has_reducer else None,
        # a writer verdict needs the writer-level findings: a reducer-profile pass has none
        "writes": (writer is None) if profile >= Profile.WRITER or writer is not None else None,
        "writer_reason": _reason(writer),
        "exact": exact,
        "judged_as": judged_as.name if (judged_as := own or dialect) is not None else None,
    })
    return out


def _span(versions: list[str]) -> str:
    return versions[0] if len(versions) == 1 else f"{versions[0]}..{versions[-1]}"


def compat(summary: BundleSummary, findings: list[Finding], dialect: Dialect | None, *,
           profile: Profile = Profile.WRITER, partial_ok: bool = False, truncated: bool = False,
           rejudge=None) -> dict:
    """Releases whose reducer accepts the bundle and whose writer could have written it, per epoch.
    ``rejudge(version)``: the findings of a pass with ``--release version``, for an epoch that reads the
    bundle its own way (:func:`reads_own_way`); None when nothing in the bundle can tell it apart."""
    from ..model import releases

    verdicts = [epoch_verdict(e, summary, findings, dialect, profile=profile, partial_ok=partial_ok,
                              truncated=truncated, rejudge=rejudge) for e in releases.table_epochs()]
    return summarize_verdicts(summary.schema_version, verdicts)


def summarize_verdicts(schema_version: Any, verdicts: list[dict]) -> dict:
    from ..model import releases

    def versions(pred) -> list[str]:
        return [v for e, verdict in zip(releases.table_epochs(), verdicts) if pred(verdict) for v in e.versions]

    return {
        "schema_version": schema_version,
        "readers": ranges(versions(lambda v: v["reads"] is True)),
        # None: not judged (a reducer-profile pass has no writer-level findings). One epoch not judged
        # is enough: a reducer-profile pass refuses other dialects' epochs (writes False) but never
        # clears its own, and "none" then named no writer for a bundle Codex wrote
        "writers": (ranges(versions(lambda v: v["writes"] is True))
                    if all(v["writes"] is not None for v in verdicts if v["status"] != "unknown") else None),
        "unknown": ranges(versions(lambda v: v["status"] == "unknown")),
        "epochs": verdicts,
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
    if leads_out(bundle, MANIFEST) is not None or leads_out(bundle, TRACE) is not None:
        return summary  # never read outside the bundle (BUNDLE.CONFINED)
    got = read_capped(bundle / MANIFEST, MAX_MANIFEST_BYTES, keep_prefix=False, within=bundle)
    manifest = _loads(got.data) if got.data is not None else None
    if isinstance(manifest, dict):
        summary.manifest_schema = manifest.get(ManifestKey.SCHEMA_VERSION)
    try:
        with open_regular(bundle / TRACE, within=bundle) as f:
            ended = False
            for n, raw in enumerate(iter(lambda: f.readline(max_line + 1), b""), 1):
                if len(raw) > max_line:
                    break
                obj = _loads(raw)
                if isinstance(obj, dict):
                    summary.observe(obj, n)
                    payload = obj.get(E.PAYLOAD)
                    tag = payload.get("type") if isinstance(payload, dict) else None
                    if isinstance(tag, str):
                        if ended:
                            summary.note_after_rollout_ended(tag, n)
                        ended = ended or tag == "rollout_ended"
                        summary.last_tag = tag
                        summary.rollout_ended = ended
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
