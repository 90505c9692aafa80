"""``rollout-trace validate`` and ``rollout-trace invariants``."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .. import escape
from ..links import invariant_url
from ..model import DIALECTS

from .context import Options
from .findings import Profile
from ..output import OutputError, Report, add_output_arguments, check_writable, console
from .report import FORMATS, RENDERERS, print_human, summary

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


class UsageError(Exception):
    pass


def bundles_of_paths(paths: list[str]) -> list[Path]:
    bundles: list[Path] = []
    for raw in paths:
        p = Path(raw)
        shown = escape.path(raw)
        if raw.startswith("corpus:") and not p.exists():
            p = shipped(raw)
        if not p.exists():
            raise UsageError(f"{shown}: no such file or directory")
        if not p.is_dir():
            raise UsageError(f"{shown}: not a directory (a bundle is a directory; --changed takes files)")
        found = find_bundles(p)
        if not found:
            raise UsageError(f"{shown}: no bundle found")
        bundles.extend(found)
    return bundles


def shipped(spec: str) -> Path:
    """``corpus:codex-0.169.0/tools``: a bundle shipped with the kit (as check-writer's scripts name them)."""
    from ..corpus import corpus_root

    rel = spec.removeprefix("corpus:").strip("/")
    target = corpus_root() / rel
    if not rel or ".." in Path(rel).parts or not target.is_dir():
        names = sorted(p.name for p in corpus_root().glob("codex-*"))
        raise UsageError(f"{escape.display(spec)}: no shipped bundle there; shipped: corpus:{', corpus:'.join(names)}")
    return target


def bundle_of(path: Path, depth: int = 3) -> Path | None:
    """The bundle a file belongs to: the nearest directory above it that looks like one."""
    for parent in list(path.parents)[:depth]:
        if looks_like_bundle(parent):
            return parent
    return None


def bundles_of_files(paths: list[str]) -> list[Path]:
    """``--changed``: files as a pre-commit hook passes them -> their bundles, once each, in order.
    Files outside any bundle are ignored; a deleted file still names its bundle."""
    seen: dict[Path, None] = {}
    for raw in paths:
        p = Path(raw)
        if p.is_dir() and looks_like_bundle(p):
            seen.setdefault(p, None)
            continue
        b = bundle_of(p)
        if b is not None:
            seen.setdefault(b, None)
    return list(seen)


def _check(args_tuple):
    from .engine import validate_bundle

    path, options = args_tuple
    return validate_bundle(path, options)


def run_validate(args: argparse.Namespace) -> int:
    try:
        profile = Profile.parse(args.profile)
    except ValueError as e:
        print(f"rollout-trace validate: {escape.display(str(e))}", file=sys.stderr)
        return EXIT_USAGE
    try:
        options = Options(
            profile=profile,
            dialect=args.dialect,
            max_line_bytes=args.max_line_bytes,
            max_payload_bytes=args.max_payload_bytes,
            max_findings=args.max_findings,
            partial_ok=args.partial_ok,
            release=args.release,
        )
        if args.jobs < 1:
            raise ValueError(f"jobs must be a whole number >= 1, not {args.jobs}")
    except ValueError as e:
        print(f"rollout-trace validate: --{escape.display(str(e))}", file=sys.stderr)
        return EXIT_USAGE
    try:
        for target in [args.output, *(t for _, t in args.report)]:
            check_writable(target)
        bundles = bundles_of_files(args.paths) if args.changed else bundles_of_paths(args.paths)
    except (OutputError, UsageError) as e:
        print(f"rollout-trace validate: {escape.display(str(e))}", file=sys.stderr)
        return EXIT_USAGE
    if not bundles:  # --changed, and no changed file belongs to a bundle
        if not args.quiet:
            print("rollout-trace validate: no bundle among the changed files", file=sys.stderr)
        return EXIT_OK
    work = [(b, options) for b in bundles]
    if args.jobs > 1 and len(work) > 1:
        from concurrent.futures import ProcessPoolExecutor

        with ProcessPoolExecutor(max_workers=args.jobs) as pool:
            reports = list(pool.map(_check, work))
    else:
        reports = [_check(w) for w in work]

    ok = all(r.ok for r in reports)
    try:
        for fmt, target in [(args.format, args.output), *args.report]:
            with Report(target) as out:
                if fmt == "human":
                    print_human(reports, file=out, color=args.color if target in (None, "-") else "never",
                                quiet=args.quiet)
                else:
                    out.write(RENDERERS[fmt](reports))
    except OutputError as e:
        print(f"rollout-trace validate: {escape.display(str(e))}", file=sys.stderr)
        return EXIT_USAGE
    if not args.quiet and not (args.format == "human" and args.output in (None, "-")):
        # the report went elsewhere: the console still gets the verdict
        console(sys.stderr if args.output in (None, "-") else sys.stdout, args.color).print(
            ("ok: " if ok else "FAIL: ") + summary(reports)
        )
    return EXIT_OK if ok else EXIT_FINDINGS


INVARIANTS_FORMAT = "rollout-trace-kit/invariants/1"


def run_invariants(args: argparse.Namespace) -> int:
    from .. import __version__
    from ..suggest import unknown_message
    from .catalogue import all_invariants

    invs = all_invariants()
    if args.ids:
        known = {i.id: i for i in invs}
        missing = [x for x in args.ids if x not in known]
        if missing:
            print(f"rollout-trace invariants: {unknown_message('invariant', missing, known)}", file=sys.stderr)
            return EXIT_USAGE
        invs = [known[x] for x in args.ids]
    try:
        with Report(args.output) as out:
            if args.format == "json":
                rows = [
                    {
                        "id": i.id,
                        "meaning": i.meaning,
                        "severity": i.severity.value,
                        "profiles": {d: p.label for d, p in i.levels.items()},
                        "source": i.source,
                        "notes": i.notes,
                        "docs": invariant_url(i.id),
                    }
                    for i in invs
                ]
                doc = {"format": INVARIANTS_FORMAT, "kit_version": __version__, "invariants": rows}
                out.write(json.dumps(doc, indent=2, ensure_ascii=False) + "\n")
            else:
                for i in invs:
                    levels = ", ".join(f"{d}: {p.label}" for d, p in i.levels.items())
                    out.write(f"{i.id:36} {i.severity.value:7} [{levels}] {i.meaning}\n")
    except OutputError as e:
        print(f"rollout-trace invariants: {escape.display(str(e))}", file=sys.stderr)
        return EXIT_USAGE
    return EXIT_OK


def _report_target(value: str) -> tuple[str, str]:
    fmt, sep, target = value.partition("=")
    if not sep or fmt not in FORMATS or not target:
        raise argparse.ArgumentTypeError(f"expected FORMAT=FILE with FORMAT one of {', '.join(FORMATS)}")
    return fmt, target


def add_validate_parser(sub) -> None:
    from ..config import HelpFormatter

    p = sub.add_parser(
        "validate",
        help="check trace bundles against the spec and the invariant catalogue",
        description="Check trace bundles. Exit 0: no errors (warnings alone exit 0); 1: at least one error; "
        "2: usage or I/O error.",
        formatter_class=HelpFormatter,
    )
    p.add_argument("paths", nargs="+", metavar="PATH",
                   help="a bundle directory, a directory of bundles, or a shipped bundle: corpus:codex-0.169.0/tools")
    p.add_argument(
        "--profile",
        default="writer",
        choices=[pr.label for pr in Profile],
        help="reducer: exactly what the reference reducer rejects; writer: + writer guarantees; "
        "strict: + hardening",
    )
    p.add_argument("--dialect", choices=list(DIALECTS), help="force a dialect instead of reading the manifest")
    add_output_arguments(p, FORMATS)
    p.add_argument("--report", action="append", type=_report_target, default=[], metavar="FORMAT=FILE",
                   help="also write this report from the same run (repeatable), e.g. sarif=results.sarif")
    p.add_argument("--changed", action="store_true",
                   help="PATHs are changed files (as pre-commit passes them): check each bundle holding one")
    p.add_argument("--jobs", "-j", type=int, default=1, help="bundles checked in parallel")
    p.add_argument("--max-findings", type=int, default=1000,
                   help="list at most this many findings per bundle (>= 1); the verdict counts the rest")
    p.add_argument("--max-line-bytes", type=int, default=64 * 1024 * 1024, help="longest trace.jsonl line read")
    p.add_argument("--max-payload-bytes", type=int, default=256 * 1024 * 1024, help="largest payload file read")
    p.add_argument(
        "--partial-ok",
        action="store_true",
        help="crash-consistency mode: a partial last line or a missing terminal event is a warning",
    )
    p.add_argument("--release", metavar="VERSION",
                   help="also judge as this Codex release's reducer and writer would (RELEASE.* rules)")
    p.set_defaults(func=run_validate)

    q = sub.add_parser("invariants", help="list the invariant catalogue", formatter_class=HelpFormatter,
                       description="List the invariant catalogue, or the invariants named.")
    q.add_argument("ids", nargs="*", metavar="ID", help="only these invariants (default: all)")
    q.add_argument("--format", choices=["human", "json"], default="human", help="report format")
    q.add_argument("--output", "-o", metavar="FILE", default="-", help="write here ('-': standard output)")
    q.set_defaults(func=run_invariants)
