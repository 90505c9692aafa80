"""``rollout-trace compat BUNDLE...``: the Codex releases that read each bundle, and those that could write it.

Each release ruled out comes with its first reason (file, line, rule). The verdicts are the ones
``validate --release R`` gives (:mod:`.release_verdict`): R reads the bundle exactly when
``validate --profile reducer --release R`` is clean, and could have written it exactly when
``validate --profile writer --release R`` is (warnings allowed).
"""

from __future__ import annotations

from ..config import HelpFormatter

import argparse
import json
import sys
from pathlib import Path

from .cli import UsageError, bundles_of_paths, links_met
from .context import Options
from .findings import Profile

EXIT_OK, EXIT_NONE, EXIT_USAGE = 0, 1, 2


# One pass per bundle as its own dialect, at the writer profile (readers are judged by its reducer-level
# findings, writers by all); one more per dialect some release reads every bundle as (0.164.0 and before: v1).
JUDGING = Options(profile=Profile.WRITER, releases=True)


def needs_passes(releases: dict | None) -> list[str]:
    """The dialects a further pass must read the bundle as (the epochs not judged exactly)."""
    return sorted({v["judged_as"] for v in (releases or {}).get("epochs") or []
                   if not v["exact"] and v.get("judged_as")})


def merge_passes(bundle: Path, own: dict | None, others: dict[str, dict | None],
                 findings: list | None = None) -> dict:
    """The compat row: each epoch judged by the pass as the dialect its release reads the bundle as.
    ``findings``: the own pass's, which say why when no release was judged."""
    from .release_verdict import summarize_verdicts

    doc = own or {}
    verdicts = list(doc.get("epochs") or [])
    for name, other in others.items():
        theirs = (other or {}).get("epochs") or []
        verdicts = [t if (not v["exact"] and v.get("judged_as") == name and t["exact"]) else v
                    for v, t in zip(verdicts, theirs)]
    if not verdicts:  # no verdict at all (a bundle the check declined: a symlink, a search cap): say why
        why = [{"invariant": f.invariant, "message": f.message} for f in findings or []]
        return {"bundle": str(bundle), **doc, **({"not_judged": why} if why else {})}
    return {"bundle": str(bundle), **summarize_verdicts(doc.get("schema_version"), verdicts)}


def judge_bundle(bundle: Path) -> dict:
    """The compat row of one bundle (library use: ``run_compat`` does the same, in parallel)."""
    from dataclasses import replace

    from .engine import validate_bundle

    report = validate_bundle(bundle, JUDGING)
    own = report.releases
    others = {name: validate_bundle(bundle, replace(JUDGING, dialect=name)).releases for name in needs_passes(own)}
    return merge_passes(bundle, own, others, report.findings)


def run_compat(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from .. import escape
    from ..escape import rich_markup as escape_markup
    from .report import schema_version_text
    from ..progress import Progress, check_jobs
    from .fleet import judge

    try:
        check_jobs(args.jobs)
        unsearched: dict[Path, str] = {}
        bundles = bundles_of_paths(args.paths, unsearched)
    except (UsageError, ValueError) as e:
        print(f"rollout-trace compat: {escape.display(str(e))}", file=sys.stderr)
        return EXIT_USAGE
    links = links_met(bundles, args.paths)
    own: list = [None] * len(bundles)
    declined: list = [None] * len(bundles)  # the findings of a bundle no release was judged for
    with Progress("compat", "bundles", args.progress, total=len(bundles)) as bar:
        for n, (i, report) in enumerate(judge(bundles, JUDGING, args.jobs, links=links, unsearched=unsearched), 1):
            own[i] = report.releases
            if not (report.releases or {}).get("epochs"):
                declined[i] = report.findings
            bar.update(n)
    others: list[dict[str, dict | None]] = [{} for _ in bundles]
    for name in sorted({d for r in own for d in needs_passes(r)}):
        todo = [i for i, r in enumerate(own) if name in needs_passes(r)]
        for j, report in judge([bundles[i] for i in todo], replace(JUDGING, dialect=name), args.jobs, links=links,
                               unsearched=unsearched):
            others[todo[j]][name] = report.releases
    rows = [merge_passes(b, r, o, d) for b, r, o, d in zip(bundles, own, others, declined)]
    if args.format == "json":
        print(json.dumps(escape.tree({"bundles": rows}), indent=2, ensure_ascii=False))
    else:
        from ..output import console as make_console

        console = make_console(sys.stdout, args.color)
        for r in rows:
            console.print(f"{escape_markup(r['bundle'])}  [dim]{escape_markup(schema_version_text(r.get('schema_version')))}[/]")
            console.print(f"  read by:  {escape_markup(', '.join(r.get('readers') or []) or 'no probed release')}")
            console.print(f"  written by (could be): {escape_markup(', '.join(r.get('writers') or []) or 'no probed release')}")
            for side, label in (("reader", "not read by"), ("writer", "not written by")):
                for span, why in _reasons(r.get("epochs") or [], side):
                    where = why["file"] + (f":{why['line']}" if why.get("line") else "") + (
                        f" {why['pointer']}" if why.get("pointer") else "")
                    console.print(f"  [dim]{label} {escape_markup(span)}: {escape_markup(where)} "
                                  f"{escape_markup(why['invariant'])}: {escape_markup(why['message'])}[/]")
            for why in r.get("not_judged") or []:
                console.print(f"  not judged: {escape_markup(why['invariant'])}: {escape_markup(why['message'])}")
            if r.get("unknown"):
                console.print(f"  [dim]not probed nor inferred: {escape_markup(', '.join(r['unknown']))}[/]")
    return EXIT_OK if all(r.get("readers") for r in rows) else EXIT_NONE


def _reasons(epochs: list[dict], side: str) -> list[tuple[str, dict]]:
    """(release span, first reason) per run of consecutive epochs ruled out for the same reason."""
    key = "reads" if side == "reader" else "writes"
    runs: list[list] = []  # [first, last, reason, same]
    prev_out = False
    for v in epochs:
        reason = v.get(f"{side}_reason")
        out = v.get(key) is False and reason is not None
        if out and reason is not None:
            same = (reason["invariant"], reason["file"], reason.get("line"))
            if prev_out and runs and runs[-1][3] == same:
                runs[-1][1] = v["last"]
            else:
                runs.append([v["first"], v["last"], reason, same])
        prev_out = out
    return [(a if a == b else f"{a}..{b}", reason) for a, b, reason, _ in runs]


def add_compat_parser(sub) -> None:
    p = sub.add_parser(
        "compat",
        help="which Codex releases read each bundle, and which could have written it (and why not)",
        description="Judged once per epoch of the release table, as `validate --release` judges: a release "
        "reads a bundle exactly when `validate --profile reducer --release R` is clean, and could have "
        "written it exactly when `validate --profile writer --release R` is. Each release ruled out gets "
        "its first reason. Exit 0: every bundle has a reader; 1: some bundle has none; 2: usage.",
        formatter_class=HelpFormatter,
    )
    p.add_argument("paths", nargs="+", metavar="BUNDLE")
    p.add_argument("--format", choices=["human", "json"], default="human", help="report format")
    from ..output import add_color_argument
    from ..progress import add_run_arguments

    add_color_argument(p)  # the human report dims its reasons, as validate's does
    add_run_arguments(p, "bundles judged")
    p.set_defaults(func=run_compat)
