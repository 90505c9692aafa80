"""``rollout-trace validate`` and ``rollout-trace invariants``."""

from __future__ import annotations

import argparse
import json
import os
import stat
import sys
from pathlib import Path

from .. import escape
from ..links import invariant_url
from ..model import DIALECTS
from ..bundle import MANIFEST, TRACE
from ..files import LOOP, loops

from .context import Options
from .findings import Profile
from ..output import OutputError, Report, add_output_arguments, check_writable
from .report import FORMATS, RENDERERS, print_human

EXIT_OK, EXIT_FINDINGS, EXIT_USAGE = 0, 1, 2


def looks_like_bundle(path: Path) -> bool:
    """A directory holding a manifest or an event log; a dangling link to one counts (a finding, not a skip)."""
    return any(os.path.lexists(path / name) for name in (MANIFEST, TRACE))


# A directory of bundles is searched this deep and through at most this many entries; a cap
# reached is a KIT.SEARCH_CAP finding for the directory where the search stopped, never "ok".
MAX_SEARCH_DEPTH = 32
MAX_SEARCH_ENTRIES = 1_000_000


def find_bundles(path: Path, unsearched: dict[Path, str] | None = None) -> list[Path]:
    """A bundle, or every bundle below a directory (sorted), without following symlinks: a
    symlink to a directory (a bundle or a tree of them) or a dangling one is listed itself, and
    judged a finding by :func:`fleet.linked_report`. ``path`` itself is followed when it is a link.
    Hidden directories (``.git``, ``.venv``) are not bundles and are not searched. A directory
    no one may list is listed (judged: a finding); where a cap stops the search, the directory is
    listed and ``unsearched`` says why (a finding, see :func:`fleet.unsearched_report`)."""
    if looks_like_bundle(path):
        return [path]
    found: list[Path] = []
    budget = [MAX_SEARCH_ENTRIES]
    stopped = unsearched if unsearched is not None else {}
    _search(path, MAX_SEARCH_DEPTH, found, stopped, budget)
    return found


def _search(path: Path, depth: int, found: list[Path], stopped: dict[Path, str], budget: list[int]) -> None:
    if budget[0] <= 0:
        stopped[path] = f"not searched: the search of a directory of bundles stops after {MAX_SEARCH_ENTRIES:,} entries"
        found.append(path)
        return
    try:
        with os.scandir(path) as it:
            entries = []
            for e in it:
                budget[0] -= 1
                if budget[0] < 0:
                    break
                if not e.name.startswith("."):  # hidden: .git, .venv, .tox are not bundles
                    entries.append(e)
    except OSError:
        found.append(path)  # a directory no one may list: judged (a finding), never skipped
        return
    if budget[0] < 0:
        stopped[path] = f"searched in part: the search of a directory of bundles stops after {MAX_SEARCH_ENTRIES:,} entries"
        found.append(path)
        return
    children = []  # (path, is a symlink), sorted: directories and symlinks only
    for e in sorted(entries, key=lambda e: e.name):
        try:
            if e.is_symlink() or e.is_dir(follow_symlinks=False):
                children.append((path / e.name, e.is_symlink()))
        except OSError:
            continue
    if depth == 0 and any(not link for _, link in children):
        stopped[path] = (f"not searched: bundles are searched {MAX_SEARCH_DEPTH} directories deep; name a directory "
                         "nearer to them")
        found.append(path)
        return
    for child, link in children:
        if link:
            # a link to a directory (a bundle, or a tree of them) or a dangling one: listed, judged a
            # finding (never followed, never skipped); a link to a file is no bundle, as a file is not
            if child.is_dir() or not child.exists():
                found.append(child)
        elif looks_like_bundle(child):
            found.append(child)
        else:
            _search(child, depth - 1, found, stopped, budget)


def links_met(bundles: list[Path], paths: list) -> frozenset[Path]:
    """The symbolic links the search met below the ``paths`` named (a PATH named is followed): each is
    a finding, never followed."""
    given = {Path(p) for p in paths}
    return frozenset(b for b in bundles if b not in given and b.is_symlink())


class UsageError(Exception):
    pass


EMPTY_PATH = "an empty PATH (an unset variable?): name a bundle or a directory of bundles"


def bundles_of_paths(paths: list[str], unsearched: dict[Path, str] | None = None) -> list[Path]:
    """The bundles the PATHs name; ``unsearched`` receives the directories a search cap stopped at
    (each listed among the bundles, to be judged a KIT.SEARCH_CAP finding)."""
    bundles: list[Path] = []
    for raw in paths:
        if not raw:  # an unset variable in CI: never "the current directory"
            raise UsageError(EMPTY_PATH)
        p = Path(raw)
        shown = escape.path(raw)
        if raw.startswith("corpus:") and not p.exists():
            p = shipped(raw)
        if not p.exists():
            raise UsageError(f"{shown}: {LOOP if loops(p) else 'no such file or directory'}")
        if not p.is_dir():  # a file (or FIFO) where a bundle should be: hostile input, BUNDLE.IS_DIRECTORY's finding
            bundles.append(p)
            continue
        found = find_bundles(p, unsearched)
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
        if not raw:
            raise UsageError(EMPTY_PATH)
        p = Path(raw)
        if p.is_dir() and looks_like_bundle(p):
            seen.setdefault(p, None)
            continue
        b = bundle_of(p)
        if b is not None:
            seen.setdefault(b, None)
    return list(seen)


def refuse_writing_into(targets: list[str], bundles: list[Path]) -> None:
    """The kit never writes into a bundle it checks: ``-o``, ``--report`` and ``--state`` there are usage errors."""
    files = [t for t in targets if t and t != "-"]
    if not files:
        return
    inside = {os.path.realpath(b) for b in bundles}
    for target in files:
        resolved = Path(os.path.realpath(target))
        for parent in (resolved, *resolved.parents):  # the bundle itself too (check-writer --keep BUNDLE)
            if str(parent) in inside:
                raise UsageError(f"{escape.path(target)} is inside the bundle {escape.path(parent)}, "
                                 "which this run checks: the kit never writes into a bundle it checks")
        linked = _hard_link_into(target, bundles)
        if linked is not None:
            raise UsageError(f"{escape.path(target)} is a hard link to {escape.path(linked)}, which this run "
                             "checks: writing it would truncate that file; the kit never writes into a bundle it checks")


def _hard_link_into(target: str, bundles: list[Path]) -> Path | None:
    """The file of a bundle that ``target`` is another name of (the same inode: writing one
    truncates the other), or None. Only a file with more than one name is looked for."""
    try:
        st = os.stat(target)
    except OSError:
        return None
    if not stat.S_ISREG(st.st_mode) or st.st_nlink < 2:
        return None
    for bundle in bundles:
        for top, _, names in os.walk(bundle):  # symlinks not followed: only what the bundle holds
            for name in names:
                path = os.path.join(top, name)
                try:
                    other = os.stat(path, follow_symlinks=False)
                except OSError:
                    continue
                if (other.st_dev, other.st_ino) == (st.st_dev, st.st_ino):
                    return Path(path)
    return None


def run_validate(args: argparse.Namespace) -> int:
    from ..progress import check_jobs

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
        check_jobs(args.jobs)
    except ValueError as e:
        print(f"rollout-trace validate: --{escape.display(str(e)).lstrip('-')}", file=sys.stderr)
        return EXIT_USAGE
    targets = [args.output, *(t for _, t in args.report), *([args.state] if args.state else [])]
    unsearched: dict[Path, str] = {}
    try:
        for target in targets:
            check_writable(target)
        bundles = bundles_of_files(args.paths) if args.changed else bundles_of_paths(args.paths, unsearched)
        refuse_writing_into(targets, bundles)
    except (OutputError, UsageError) as e:
        print(f"rollout-trace validate: {escape.display(str(e))}", file=sys.stderr)
        return EXIT_USAGE
    if not bundles:  # --changed, and no changed file belongs to a bundle
        if not args.quiet:
            print("rollout-trace validate: no bundle among the changed files", file=sys.stderr)
        return EXIT_OK
    try:
        tally = _judge_all(args, options, bundles, unsearched)
    except OutputError as e:
        print(f"rollout-trace validate: {escape.display(str(e))}", file=sys.stderr)
        return EXIT_USAGE
    ok = tally.failing == 0
    if not args.quiet and not (args.format == "human" and args.output in (None, "-")):
        # the report went elsewhere: the console still gets the verdict (counts only: printed as it is,
        # without importing Rich for one line)
        print(("ok: " if ok else "FAIL: ") + tally.text(), file=sys.stderr if args.output in (None, "-") else sys.stdout)
    return EXIT_OK if ok else EXIT_FINDINGS


def _judge_all(args: argparse.Namespace, options: Options, bundles: list[Path], unsearched: dict[Path, str]):
    """Judge every bundle, streaming ``jsonl`` reports as they finish; then the whole-run formats
    (sorted as the bundles are). Returns the run's tally."""
    from contextlib import ExitStack, closing

    from ..progress import Progress
    from .fleet import judge
    from .report import Tally, render_jsonl_line
    from .state import StateFile, bundle_key

    formats = [(args.format, args.output), *args.report]
    whole = [(fmt, target) for fmt, target in formats if fmt != "jsonl"]
    reports: list = [None] * len(bundles) if whole else []
    tally = Tally()
    links = links_met(bundles, args.paths)
    one_bundle = len(bundles) == 1
    with ExitStack() as stack:
        streams = [stack.enter_context(Report(t)) for fmt, t in formats if fmt == "jsonl"]
        bar = stack.enter_context(Progress("validate", "bytes" if one_bundle else "bundles", args.progress,
                                           total=None if one_bundle else len(bundles)))
        if one_bundle and bar.kind != "none":
            options.progress = lambda events, at: bar.update(at, _log_size(bundles[0]), f"{events:,} events")
        state = stack.enter_context(closing(StateFile(args.state, options))) if args.state else None

        def done(i: int, report) -> None:
            for out in streams:
                out.write(render_jsonl_line(report))
                out.flush()
            if whole:
                reports[i] = report
            tally.add(report)
            if not one_bundle:
                bar.update(tally.bundles, note=f"{tally.failing} failing")

        todo, keys = [], {}
        for i, b in enumerate(bundles):
            if state is not None and b not in unsearched:  # a directory a cap stopped at: not walked again
                keys[i] = bundle_key(b)
                earlier = state.judged(b, keys[i])
                if earlier is not None:
                    done(i, earlier)
                    continue
            todo.append(i)
        warn = (lambda msg: print(f"rollout-trace validate: {msg}", file=sys.stderr, flush=True))
        for j, report in judge([bundles[i] for i in todo], options, args.jobs, links=links, warn=warn,
                               unsearched=unsearched):
            i = todo[j]
            if state is not None and i in keys:
                state.record(bundles[i], keys[i], report)
            done(i, report)
    for fmt, target in whole:
        with Report(target) as out:
            if fmt == "human":
                print_human(reports, file=out, color=args.color if target in (None, "-") else "never",
                            quiet=args.quiet)
            else:
                out.write(RENDERERS[fmt](reports))
    return tally


def _log_size(bundle: Path) -> int | None:
    try:
        return (bundle / TRACE).stat().st_size
    except OSError:
        return None


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
    from ..progress import add_run_arguments

    p = sub.add_parser(
        "validate",
        help="check trace bundles against the spec and the invariant catalogue",
        description="Check trace bundles. Exit 0: no errors (warnings alone exit 0); 1: at least one error "
        "(a bundle whose worker process died twice gets a KIT.INTERNAL_ERROR finding); 2: usage or I/O error.",
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
    add_run_arguments(p, "bundles checked")
    p.add_argument("--state", metavar="FILE",
                   help="resume: skip bundles this JSON Lines file judged (same kit, options, path, size and "
                   "mtime) and append each bundle judged now")
    p.add_argument("--max-findings", type=int, default=1000,
                   help="list at most this many findings per bundle (>= 1); the verdict counts the rest")
    p.add_argument("--max-line-bytes", type=int, default=64 * 1024 * 1024, help=f"longest {TRACE} line read")
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
