"""``rollout-trace compat BUNDLE...``: the Codex releases that read each bundle, and those that could write it."""

from __future__ import annotations

from ..config import HelpFormatter

import argparse
import json
import sys

from .cli import UsageError, bundles_of_paths
from .context import Options
from .findings import Profile

EXIT_OK, EXIT_NONE, EXIT_USAGE = 0, 1, 2


def run_compat(args: argparse.Namespace) -> int:
    from pathlib import Path

    from .. import escape
    from ..escape import rich_markup as escape_markup
    from ..progress import Progress, check_jobs
    from .fleet import judge

    try:
        check_jobs(args.jobs)
        bundles = bundles_of_paths(args.paths)
    except (UsageError, ValueError) as e:
        print(f"rollout-trace compat: {escape.display(str(e))}", file=sys.stderr)
        return EXIT_USAGE
    given = {Path(p) for p in args.paths}
    links = frozenset(b for b in bundles if b not in given and b.is_symlink())
    reports: list = [None] * len(bundles)
    with Progress("compat", "bundles", args.progress, total=len(bundles)) as bar:
        judged = judge(bundles, Options(profile=Profile.REDUCER, releases=True), args.jobs, links=links)
        for n, (i, report) in enumerate(judged, 1):
            reports[i] = report
            bar.update(n)
    rows = [{"bundle": str(b), **(r.releases or {})} for b, r in zip(bundles, reports)]
    if args.format == "json":
        from .. import escape

        print(json.dumps(escape.tree({"bundles": rows}), indent=2, ensure_ascii=False))
    else:
        from ..output import console as make_console

        console = make_console(sys.stdout, "auto")
        for r in rows:
            console.print(f"{escape_markup(r['bundle'])}  [dim]schema_version {escape_markup(repr(r.get('schema_version')))}[/]")
            console.print(f"  read by:  {escape_markup(', '.join(r.get('readers') or []) or 'no probed release')}")
            console.print(f"  written by (could be): {escape_markup(', '.join(r.get('writers') or []) or 'no probed release')}")
            if r.get("unknown"):
                console.print(f"  [dim]not probed nor inferred: {escape_markup(', '.join(r['unknown']))}[/]")
    return EXIT_OK if all(r.get("readers") for r in rows) else EXIT_NONE


def add_compat_parser(sub) -> None:
    p = sub.add_parser(
        "compat",
        help="which Codex releases read each bundle, and which could have written it",
        description="Judged once per epoch of the release table. Exit 0: every bundle has a reader; "
        "1: some bundle has none; 2: usage.",
        formatter_class=HelpFormatter,
    )
    p.add_argument("paths", nargs="+", metavar="BUNDLE")
    p.add_argument("--format", choices=["human", "json"], default="human", help="report format")
    from ..progress import add_run_arguments

    add_run_arguments(p, "bundles judged")
    p.set_defaults(func=run_compat)
