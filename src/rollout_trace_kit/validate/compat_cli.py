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
    from .engine import validate_bundle
    from ..escape import rich_markup as escape_markup
    from .report import schema_version_text

    try:
        bundles = bundles_of_paths(args.paths)
    except UsageError as e:
        print(f"rollout-trace compat: {e}", file=sys.stderr)
        return EXIT_USAGE
    rows = []
    for b in bundles:
        report = validate_bundle(b, Options(profile=Profile.REDUCER, releases=True))
        rows.append({"bundle": str(b), **(report.releases or {})})
    if args.format == "json":
        print(json.dumps({"bundles": rows}, indent=2, ensure_ascii=False))
    else:
        from rich.console import Console

        console = Console(highlight=False, soft_wrap=True)
        for r in rows:
            console.print(f"{escape_markup(r['bundle'])}  [dim]{escape_markup(schema_version_text(r.get('schema_version')))}[/]")
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
    p.set_defaults(func=run_compat)
