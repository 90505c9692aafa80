"""``rollout-trace codex diff``: run the differential engine against real Codex reducers.

Exit 0: no disagreement (reference hangs and kit-declined mutants are reported, not failures);
1: disagreements; 2: usage or environment error (no such release, npm missing).
"""

from __future__ import annotations

import argparse
import json
import shlex
import signal
import sys
from pathlib import Path

from ... import escape
from ...config import HelpFormatter
from ...model import DIALECTS
from ...progress import seconds_value

EXIT_OK, EXIT_FAIL, EXIT_USAGE = 0, 1, 2
EPOCH_READER_SHARE = 10  # the oldest reader of each epoch gets 1/10 of --mutations


def epoch_readers() -> list[str]:
    """The oldest release of each reader epoch of the release table that has a reducer."""
    from ...model import releases as rel

    out = []
    for e in rel.table_epochs():
        r = next((x for x in e.releases if x.get("has_reducer")), None)
        if r is not None and r.schema_version:
            out.append(r.version)
    return out


def _plan(args: argparse.Namespace) -> list[tuple[str, int]]:
    releases = [(r, args.mutations) for r in args.release or []]
    if args.epoch_readers:
        named = {r for r, _ in releases}
        releases += [(r, max(args.mutations // EPOCH_READER_SHARE, 1)) for r in epoch_readers() if r not in named]
    return releases


def command_line(args: argparse.Namespace) -> str:
    """The command that makes this report again (no machine paths: ``--out`` is not part of it)."""
    q = shlex.quote
    parts = ["rollout-trace codex diff", *(f"--release {q(r)}" for r in args.release or [])]
    if args.epoch_readers:
        parts.append("--epoch-readers")
    parts += [f"--mutations {args.mutations}", f"--seed {args.seed}", f"--jobs {args.jobs}",
              f"--timeout {args.timeout:g}", f"--shrink-tests {args.shrink_tests}"]
    if args.format == "json" and args.output not in (None, "-"):
        parts.append(f"--format json -o {q(args.output)}")
    return " ".join(parts)


def run_diff(args: argparse.Namespace) -> int:
    from .judge import codex_home, default_scratch

    name = "rollout-trace codex diff"
    # (--timeout is checked by its parser, seconds_value, on the command line and in pyproject.toml)
    if args.mutations < 1 or args.jobs < 1 or args.shrink_tests < 0:
        print(f"{name}: --mutations and --jobs must be >= 1, --shrink-tests >= 0", file=sys.stderr)
        return EXIT_USAGE
    plan = _plan(args)
    if not plan:
        print(f"{name}: name a release (--release R) or --epoch-readers", file=sys.stderr)
        return EXIT_USAGE
    scratch = Path(args.scratch) if args.scratch else default_scratch()
    if scratch is not None and not scratch.is_dir():
        print(f"{name}: --scratch {escape.path(args.scratch)} is not a directory", file=sys.stderr)
        return EXIT_USAGE
    home = codex_home(scratch)  # the reference runs' CODEX_HOME, removed at the end
    # SIGTERM (a CI timeout, `kill`) ends the run as Ctrl-C does, removing what it wrote to
    # /dev/shm; the worker processes, forked later, ignore it and end their chunk (engine._init_worker)
    previous = signal.signal(signal.SIGTERM, _terminated)
    try:
        return _run_plan(args, plan, home.name, scratch)
    finally:
        signal.signal(signal.SIGTERM, previous)
        home.cleanup()


def _terminated(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


def _run_plan(args: argparse.Namespace, plan: list[tuple[str, int]], home: str, scratch: Path | None) -> int:
    from ..install import InstallError, check_release, ensure_codex
    from .engine import run
    from .judge import CodexReference, CommandReference, Reference
    from .report import print_human, report_dict, save_cases, timing_lines
    from .seeds import dialect_of_release

    name = "rollout-trace codex diff"
    jobs = []
    try:
        for release, n in plan:
            check_release(release)
            dialect = args.dialect or dialect_of_release(release)
            reference: Reference
            if args.reference_cmd:
                reference = CommandReference(shlex.split(args.reference_cmd), args.timeout)
            else:
                binary = ensure_codex(release)
                if binary is None:
                    print(f"{name}: no Codex {escape.display(release)} (npm missing?)", file=sys.stderr)
                    return EXIT_USAGE
                reference = CodexReference(binary, args.timeout, Path(home))
            jobs.append((release, dialect, n, reference))
    except (InstallError, ValueError) as e:
        print(f"{name}: {escape.display(str(e))}", file=sys.stderr)
        return EXIT_USAGE
    out = Path(args.out) if args.out else None
    if out is not None and out.exists() and not out.is_dir():
        print(f"{name}: --out {escape.path(args.out)} is not a directory", file=sys.stderr)
        return EXIT_USAGE

    def progress(done: int, total: int) -> None:
        if not args.quiet and (done % 500 == 0 or done == total):
            print(f"  {done}/{total}", file=sys.stderr, flush=True)

    runs = []
    for release, dialect, n, reference in jobs:
        if not args.quiet:
            print(f"{name}: Codex {release} ({dialect}): {n} mutants, seed {args.seed}", file=sys.stderr, flush=True)
        r = run(release, dialect, reference, n, seed=args.seed, jobs=args.jobs, shrink_tests=args.shrink_tests,
                only=args.only, scratch=scratch, progress=progress)
        if out is not None:
            save_cases(r, out)
        runs.append(r)
        if not args.quiet or args.timing:  # not in the report: it varies with the machine
            for line in timing_lines(r):
                print(f"  {line}", file=sys.stderr, flush=True)
    try:
        if args.format == "json":
            doc = report_dict(runs, command_line(args))  # no machine path: it may be committed
            text = json.dumps(doc, indent=1, ensure_ascii=True) + "\n"
            if args.output in (None, "-"):
                sys.stdout.write(text)
            else:
                Path(args.output).write_text(text, encoding="utf-8")
        else:
            doc = report_dict(runs, command_line(args), out)
            print_human(doc, sys.stdout)
    except OSError as e:
        print(f"{name}: cannot write {escape.path(args.output)}: {escape.display(e.strerror or str(e))}", file=sys.stderr)
        return EXIT_USAGE
    return EXIT_FAIL if any(r["disagree"] for r in doc["runs"]) else EXIT_OK


def add_diff_parser(csub) -> None:
    d = csub.add_parser(
        "diff", formatter_class=HelpFormatter,
        help="mutate bundles and compare the kit's reducer profile with the real reducer of a release",
        description="Differential run: mutants of the shipped and generated bundles of the release's dialect, "
                    "judged by `validate --profile reducer --release R` and by `codex debug trace-reduce` of R. "
                    "Exit 0: no disagreement; 1: disagreements; 2: usage or environment error.")
    d.add_argument("--release", action="append", metavar="R", help="a Codex release (repeatable)")
    d.add_argument("--epoch-readers", action="store_true",
                   help=f"also the oldest reader of each reader epoch, with 1/{EPOCH_READER_SHARE} of --mutations "
                        "(installs each release, ~400 MB, if needed)")
    d.add_argument("--mutations", type=int, default=1000, help="mutants per release")
    d.add_argument("--seed", type=int, default=0, help="the run's seed: mutant I is a function of (seed, release, I)")
    d.add_argument("--only", type=int, action="append", metavar="INDEX", help="judge only mutant INDEX (repeatable)")
    d.add_argument("--dialect", choices=list(DIALECTS), help="mutate bundles of this dialect (default: the release's)")
    d.add_argument("--out", metavar="DIR", help="save each disagreement class's shrunk bundle here")
    d.add_argument("--scratch", metavar="DIR",
                   help="write the mutants and the reducers' CODEX_HOME here (default: /dev/shm if there is one, "
                        "else the temporary directory)")
    d.add_argument("--jobs", "-j", type=int, default=1,
                   help="worker processes, each making, writing and judging mutants both ways (use the core count)")
    d.add_argument("--timeout", type=seconds_value, default=10.0, help="seconds before a reducer run counts as a hang")
    d.add_argument("--shrink-tests", type=int, default=100, help="judgements spent shrinking each class (0: none)")
    d.add_argument("--format", choices=["human", "json"], default="human")
    d.add_argument("--output", "-o", metavar="FILE", help="write the report here (default: standard output)")
    d.add_argument("--quiet", "-q", action="store_true", help="no progress on standard error")
    d.add_argument("--timing", action="store_true",
                   help="print where each run's time went, beside its floor (the reducer runs alone), even with -q")
    d.add_argument("--reference-cmd", metavar="CMD",
                   help="a reducer command with {bundle} and {output} instead of the real Codex (tests, other reducers)")
    d.set_defaults(func=run_diff)
