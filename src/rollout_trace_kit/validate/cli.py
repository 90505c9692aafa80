"""``rollout-trace validate`` and ``rollout-trace invariants``."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ..model import DIALECTS
from .context import Options
from .findings import Profile
from .report import FORMATS, print_human, render_github, render_json, render_junit

EXIT_OK, EXIT_FINDINGS, EXIT_USAGE = 0, 1, 2


def looks_like_bundle(path: Path) -> bool:
    return (path / "manifest.json").exists() or (path / "trace.jsonl").exists()


def find_bundles(path: Path, depth: int = 4) -> list[Path]:
    """A bundle, or every bundle below a directory (sorted), without following symlinks."""
    if looks_like_bundle(path) or depth == 0:
        return [path]
    found: list[Path] = []
    try:
        children = sorted(p for p in path.iterdir() if p.is_dir() and not p.is_symlink())
    except OSError:
        return [path]
    for child in children:
        if looks_like_bundle(child):
            found.append(child)
        else:
            found.extend(b for b in find_bundles(child, depth - 1) if looks_like_bundle(b))
    return found


def _check(args_tuple):
    from .engine import validate_bundle

    path, options = args_tuple
    return validate_bundle(path, options)


def run_validate(args: argparse.Namespace) -> int:
    try:
        profile = Profile.parse(args.profile)
    except ValueError as e:
        print(f"rollout-trace validate: {e}", file=sys.stderr)
        return EXIT_USAGE
    options = Options(
        profile=profile,
        dialect=args.dialect,
        max_line_bytes=args.max_line_bytes,
        max_payload_bytes=args.max_payload_bytes,
        max_findings=args.max_findings,
        partial_ok=args.partial_ok,
    )
    bundles: list[Path] = []
    for raw in args.paths:
        p = Path(raw)
        if not p.exists():
            print(f"rollout-trace validate: {raw}: no such file or directory", file=sys.stderr)
            return EXIT_USAGE
        if not p.is_dir():
            print(f"rollout-trace validate: {raw}: not a directory (a bundle is a directory)", file=sys.stderr)
            return EXIT_USAGE
        found = find_bundles(p)
        if not found:
            print(f"rollout-trace validate: {raw}: no bundle found", file=sys.stderr)
            return EXIT_USAGE
        bundles.extend(found)
    work = [(b, options) for b in bundles]
    if args.jobs > 1 and len(work) > 1:
        from concurrent.futures import ProcessPoolExecutor

        with ProcessPoolExecutor(max_workers=args.jobs) as pool:
            reports = list(pool.map(_check, work))
    else:
        reports = [_check(w) for w in work]

    out = sys.stdout
    close = False
    if args.output and args.output != "-":
        try:
            out = open(args.output, "w", encoding="utf-8")
            close = True
        except OSError as e:
            print(f"rollout-trace validate: cannot write {args.output}: {e.strerror}", file=sys.stderr)
            return EXIT_USAGE
    try:
        if args.format == "json":
            out.write(render_json(reports))
        elif args.format == "junit":
            out.write(render_junit(reports))
        elif args.format == "github":
            out.write(render_github(reports))
        else:
            print_human(reports, file=out)
    finally:
        if close:
            out.close()
    return EXIT_OK if all(r.ok for r in reports) else EXIT_FINDINGS


def run_invariants(args: argparse.Namespace) -> int:
    from .catalogue import all_invariants

    invs = all_invariants()
    if args.format == "json":
        rows = [
            {
                "id": i.id,
                "meaning": i.meaning,
                "severity": i.severity.value,
                "profiles": {d: p.label for d, p in i.levels.items()},
                "source": i.source,
                "notes": i.notes,
            }
            for i in invs
        ]
        print(json.dumps(rows, indent=2, ensure_ascii=False))
    else:
        for i in invs:
            levels = ", ".join(f"{d}: {p.label}" for d, p in i.levels.items())
            print(f"{i.id:36} [{levels}] {i.meaning}")
    return EXIT_OK


def add_validate_parser(sub) -> None:
    p = sub.add_parser(
        "validate",
        help="check trace bundles against the spec and the invariant catalogue",
        description="Check trace bundles. Exit 0: no errors; 1: findings; 2: usage or I/O error.",
    )
    p.add_argument("paths", nargs="+", metavar="PATH", help="a bundle directory, or a directory of bundles")
    p.add_argument(
        "--profile",
        default="writer",
        help="reducer: exactly what the reference reducer rejects; writer (default): + writer guarantees; "
        "strict: + hardening",
    )
    p.add_argument("--dialect", choices=list(DIALECTS), help="force a dialect instead of reading the manifest")
    p.add_argument("--format", choices=FORMATS, default="human")
    p.add_argument("--output", "-o", help="write the report here instead of standard output")
    p.add_argument("--jobs", "-j", type=int, default=1, help="bundles checked in parallel")
    p.add_argument("--max-findings", type=int, default=1000, help="stop a bundle after this many findings")
    p.add_argument("--max-line-bytes", type=int, default=64 * 1024 * 1024)
    p.add_argument("--max-payload-bytes", type=int, default=256 * 1024 * 1024)
    p.add_argument(
        "--partial-ok",
        action="store_true",
        help="crash-consistency mode: a partial last line or a missing terminal event is a warning",
    )
    p.set_defaults(func=run_validate)

    q = sub.add_parser("invariants", help="list the invariant catalogue")
    q.add_argument("--format", choices=["human", "json"], default="human")
    q.set_defaults(func=run_invariants)

