"""``rollout-trace codex probe VERSION`` and ``rollout-trace codex releases``."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

EXIT_OK, EXIT_FAIL, EXIT_USAGE = 0, 1, 2


def run_probe(args: argparse.Namespace) -> int:
    from .probe import probe, scrub, write_record
    from .probe_scenarios import PROBE_SCENARIOS

    unknown = [s for s in args.scenario or [] if s not in PROBE_SCENARIOS]
    if unknown:
        print(f"rollout-trace codex probe: unknown scenario(s) {', '.join(unknown)}; "
              f"known: {', '.join(PROBE_SCENARIOS)}", file=sys.stderr)
        return EXIT_USAGE
    for version in args.version:
        try:
            record = probe(version, keep=args.keep, bundles_dir=Path(args.bundles) if args.bundles else None,
                           fuzz=not args.no_fuzz, scenarios=args.scenario,
                           log=lambda s: print(s, file=sys.stderr, flush=True))
        except (RuntimeError, subprocess.SubprocessError, OSError) as e:
            print(f"rollout-trace codex probe: {version}: {e}", file=sys.stderr)
            return EXIT_FAIL
        path = write_record(scrub(record), Path(args.out) if args.out else None)
        print(f"wrote {path}")
    return EXIT_OK


def run_releases(args: argparse.Namespace) -> int:
    from ..model import releases as rel

    if args.refresh:
        proc = subprocess.run(["npm", "view", "@openai/codex", "versions", "--json"], capture_output=True, timeout=120)
        if proc.returncode != 0:
            print(f"rollout-trace codex releases: npm view failed: {proc.stderr.decode()[-300:]}", file=sys.stderr)
            return EXIT_USAGE
        doc = {"format": rel.LIST_FORMAT, "package": "@openai/codex",
               "versions": rel.plain_versions(json.loads(proc.stdout))}
        (rel.data_dir() / "npm-versions.json").write_text(json.dumps(doc, indent=1) + "\n", encoding="utf-8")
        rel.table.cache_clear()
    table = list(rel.table())
    eps = rel.epochs(table)
    if args.format == "json":
        print(json.dumps({
            "releases": [{"version": r.version, "status": r.status, "inferred_from": r.inferred_from,
                          "schema_version": r.schema_version, "has_reducer": r.get("has_reducer")} for r in table],
            "epochs": [{"first": e.first, "last": e.last, "status": e.status, "releases": e.versions} for e in eps],
            "probe_next": rel.bisect_next(table),
        }, indent=1))
        return EXIT_OK
    for e in eps:
        r = e.representative
        span = e.first if e.first == e.last else f"{e.first} .. {e.last}"
        probed = [x.version for x in e.releases if x.status == "probed"]
        print(f"{span:22} {len(e.releases):3} release(s)  {e.status:8}  schema {r.schema_version!s:4}  "
              f"reducer {'yes' if r.get('has_reducer') else ('no' if r.record else '?'):3}  "
              f"probed: {', '.join(probed) or '-'}")
    nxt = rel.bisect_next(table)
    if nxt:
        print(f"probe next (bisection): {' '.join(nxt)}")
    return EXIT_OK


def add_codex_parser(sub) -> None:
    codex = sub.add_parser("codex", help="published Codex releases: probe one, print the release table")
    csub = codex.add_subparsers(dest="codex_command", required=True)
    p = csub.add_parser("probe", help="install a release from npm, measure its writer and reducer, write its record")
    p.add_argument("version", nargs="+", metavar="VERSION")
    p.add_argument("--keep", action="store_true", help="keep the install (default: delete it unless a reference release)")
    p.add_argument("--bundles", metavar="DIR", help="also save the bundles it wrote under DIR/codex-VERSION/")
    p.add_argument("--scenario", action="append", help="only this scenario (repeatable)")
    p.add_argument("--no-fuzz", action="store_true", help="skip the fuzz run of its reducer")
    p.add_argument("--out", metavar="DIR", help="where to write VERSION.json (default: the package's release data)")
    p.set_defaults(func=run_probe)
    q = csub.add_parser("releases", help="the release table: epochs, probed and inferred releases")
    q.add_argument("--format", choices=["human", "json"], default="human")
    q.add_argument("--refresh", action="store_true", help="refresh the list of published releases from npm first")
    q.set_defaults(func=run_releases)
