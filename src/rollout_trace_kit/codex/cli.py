"""``rollout-trace codex probe VERSION`` and ``rollout-trace codex releases``."""

from __future__ import annotations

from ..config import HelpFormatter

import argparse
import json
import subprocess
import sys
from pathlib import Path

EXIT_OK, EXIT_FAIL, EXIT_USAGE = 0, 1, 2


def run_probe(args: argparse.Namespace) -> int:
    from .install import InstallError, check_release
    from .probe import probe, scrub, write_record
    from .probe_scenarios import PROBE_SCENARIOS

    unknown = [s for s in args.scenario or [] if s not in PROBE_SCENARIOS]
    if unknown:
        print(f"rollout-trace codex probe: unknown scenario(s) {', '.join(unknown)}; "
              f"known: {', '.join(PROBE_SCENARIOS)}", file=sys.stderr)
        return EXIT_USAGE
    try:
        for version in args.version:
            check_release(version)
    except InstallError as e:
        print(f"rollout-trace codex probe: {e}", file=sys.stderr)
        return EXIT_USAGE
    if args.bodies or args.depths or args.numbers:
        return _probe_bodies(args.version, Path(args.out) if args.out else None, bodies=args.bodies,
                             depths=args.depths, numbers=args.numbers)
    for version in args.version:
        try:
            record = probe(version, keep=args.keep, bundles_dir=Path(args.bundles) if args.bundles else None,
                           fuzz=not args.no_fuzz, scenarios=args.scenario,
                           log=lambda s: print(s, file=sys.stderr, flush=True))
        except InstallError as e:
            print(f"rollout-trace codex probe: {e}", file=sys.stderr)
            return EXIT_USAGE
        except (RuntimeError, subprocess.SubprocessError, OSError) as e:
            print(f"rollout-trace codex probe: {version}: {e}", file=sys.stderr)
            return EXIT_FAIL
        path = write_record(scrub(record), Path(args.out) if args.out else None)
        print(f"wrote {path}")
    return EXIT_OK


def run_path(args: argparse.Namespace) -> int:
    from .install import InstallError, ensure_codex

    try:
        binary = ensure_codex(args.version)
    except InstallError as e:
        print(f"rollout-trace codex path: {e}", file=sys.stderr)
        return EXIT_USAGE
    except (subprocess.SubprocessError, OSError) as e:
        print(f"rollout-trace codex path: {args.version}: {e}", file=sys.stderr)
        return EXIT_FAIL
    if binary is None:
        print(f"rollout-trace codex path: no Codex {args.version} (npm missing?)", file=sys.stderr)
        return EXIT_USAGE
    print(binary)
    return EXIT_OK


def run_missing(args: argparse.Namespace) -> int:
    """Published releases the table lacks (read-only). Exit 1 when one is older than --older-than days."""
    from datetime import datetime, timezone

    from .npm_releases import NpmError, missing, npm_view, overdue

    try:
        found = missing(npm_view())
    except NpmError as e:
        print(f"rollout-trace codex releases: {e}", file=sys.stderr)
        return EXIT_USAGE
    now = datetime.now(timezone.utc)
    late = overdue(found, args.older_than, now)
    if args.format == "json":
        print(json.dumps({"older_than_days": args.older_than, "missing": [
            {"version": m.version, "published": m.published.isoformat() if m.published else None,
             "age_days": None if m.published is None else round(m.age_days(now) or 0, 1), "overdue": m in late}
            for m in found]}, indent=1))
    else:
        for m in found:
            when = f"published {m.published:%Y-%m-%d} ({m.age_days(now):.0f} days ago)" if m.published else "no publish time"
            print(f"{m.version:12} {when}{'' if m in late else '  (recent)'}")
        if found:
            print("probe each: rollout-trace codex probe VERSION --keep; then rollout-trace codex releases --refresh")
        else:
            print("the release table has every published release")
    return EXIT_FAIL if late else EXIT_OK


def run_releases(args: argparse.Namespace) -> int:
    from ..model import releases as rel

    if args.missing:
        if args.refresh:
            print("rollout-trace codex releases: --missing is read-only; it takes no --refresh", file=sys.stderr)
            return EXIT_USAGE
        return run_missing(args)
    if args.refresh:
        proc = subprocess.run(["npm", "view", "@openai/codex", "versions", "--json"], capture_output=True, timeout=120)
        if proc.returncode != 0:
            print(f"rollout-trace codex releases: npm view failed: {proc.stderr.decode()[-300:]}", file=sys.stderr)
            return EXIT_USAGE
        doc = {"format": rel.LIST_FORMAT, "package": "@openai/codex",
               "versions": rel.plain_versions(json.loads(proc.stdout))}
        (rel.data_dir() / "npm-versions.json").write_text(json.dumps(doc, indent=1) + "\n", encoding="utf-8")
        rel.clear_cache()
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


def run_bisect(args: argparse.Namespace) -> int:
    """Probe the middle of every unknown range until none is left (or --max probes ran)."""
    import time
    from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait

    from ..model import releases as rel

    started: set[str] = set()
    failed: set[str] = set()
    running: dict = {}

    def one(version: str) -> int:
        argv = [sys.executable, "-m", "rollout_trace_kit", "codex", "probe", version]
        if args.bundles:
            argv += ["--bundles", args.bundles]
        return subprocess.run(argv, stdin=subprocess.DEVNULL, timeout=3600).returncode

    with ThreadPoolExecutor(max_workers=args.jobs) as pool:
        while True:
            rel.clear_cache()
            todo = [v for v in rel.bisect_next(list(rel.table())) if v not in started and v not in failed]
            while todo and len(running) < args.jobs and len(started) < args.max:
                v = todo.pop(0)
                started.add(v)
                print(f"bisect: probing {v}", file=sys.stderr, flush=True)
                running[pool.submit(one, v)] = v
            if not running:
                break
            done, _ = wait(list(running), return_when=FIRST_COMPLETED)
            for fut in done:
                v = running.pop(fut)
                if fut.result() != 0:
                    failed.add(v)
                    print(f"bisect: probe of {v} failed", file=sys.stderr, flush=True)
            time.sleep(0.1)
    rel.clear_cache()
    left = rel.bisect_next(list(rel.table()))
    print(f"bisect: probed {len(started)}; unknown ranges left: {len(left)}")
    return EXIT_OK if not left else EXIT_FAIL


def _probe_bodies(versions: list[str], out: Path | None, *, bodies: bool = True, depths: bool = False,
                  numbers: bool = False) -> int:
    """``probe --bodies`` / ``--depths`` / ``--numbers``: add ``reducer.body_required`` / ``reducer.runtime_depths``,
    ``payloads_opened`` and ``envelope_rules`` / ``reducer.number_range`` to existing records (no writer run)."""
    from .probe import measure_bodies, write_record
    from .probe_depths import measure_depths, measure_reads
    from .probe_numbers import measure_numbers

    for version in versions:
        try:
            record = measure_reads(version, measure_depths(version)) if depths else None
            record = measure_bodies(version, record) if bodies else record
            record = measure_numbers(version, record) if numbers else record
            if record is None:
                raise RuntimeError("nothing to measure: give --bodies, --depths or --numbers")
        except (RuntimeError, subprocess.SubprocessError, OSError, KeyError) as e:
            print(f"rollout-trace codex probe: {version}: {e}", file=sys.stderr)
            return EXIT_FAIL
        print(f"wrote {write_record(record, out)}")
    return EXIT_OK


def add_codex_parser(sub) -> None:
    codex = sub.add_parser("codex", formatter_class=HelpFormatter, help="published Codex releases: probe one, print the release table")
    csub = codex.add_subparsers(dest="codex_command", required=True)
    p = csub.add_parser("probe", formatter_class=HelpFormatter, help="install a release from npm, measure its writer and reducer, write its record")
    p.add_argument("version", nargs="+", metavar="VERSION")
    p.add_argument("--keep", action="store_true", help="keep the install (default: delete it unless a reference release)")
    p.add_argument("--bundles", metavar="DIR", help="also save the bundles it wrote under DIR/codex-VERSION/")
    p.add_argument("--scenario", action="append", help="only this scenario (repeatable)")
    p.add_argument("--no-fuzz", action="store_true", help="skip the fuzz run of its reducer")
    p.add_argument("--out", metavar="DIR", help="where to write VERSION.json (default: the package's release data)")
    p.add_argument("--bodies", action="store_true",
                   help="only measure the payload-body keys its reducer requires (on the kit's corpus) into its record")
    p.add_argument("--depths", action="store_true",
                   help="only measure what its reducer reads (on the kit's corpus) into its record: how deep each runtime "
                   "body, which payloads it opens, which envelope ordering rules it enforces")
    p.add_argument("--numbers", action="store_true",
                   help="only measure which numbers its reducer refuses (1e400 in an event payload, in a payload body) "
                   "into its record")
    p.set_defaults(func=run_probe)
    q = csub.add_parser("releases", formatter_class=HelpFormatter, help="the release table: epochs, probed and inferred releases")
    q.add_argument("--format", choices=["human", "json"], default="human")
    q.add_argument("--refresh", action="store_true", help="refresh the list of published releases from npm first")
    q.add_argument("--missing", action="store_true",
                   help="list releases npm publishes that the table lacks (read-only); exit 1 if one is older than --older-than")
    q.add_argument("--older-than", type=float, default=0.0, metavar="DAYS",
                   help="with --missing: fail only for releases published more than DAYS ago (default 0)")
    q.set_defaults(func=run_releases)
    b = csub.add_parser("bisect", formatter_class=HelpFormatter, help="probe the middle of every range whose probed ends differ, until none is left")
    b.add_argument("--jobs", type=int, default=2, help="probes at once (default 2)")
    b.add_argument("--max", type=int, default=100, help="stop after this many probes")
    b.add_argument("--bundles", metavar="DIR", help="save the probes' bundles under DIR")
    b.set_defaults(func=run_bisect)
    w = csub.add_parser("path", formatter_class=HelpFormatter, help="print the native codex binary of a release (installing it if needed)")
    w.add_argument("version", metavar="VERSION")
    w.set_defaults(func=run_path)
    from .diff.cli import add_diff_parser

    add_diff_parser(csub)
