"""``rollout-trace conformance build|run|tarball``: the suite as data, regenerated, run, packed."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ...config import HelpFormatter
from ...escape import display
from ...progress import seconds_value
from . import SUITE_VERSION, suite_root

EXIT_OK, EXIT_FAIL, EXIT_USAGE = 0, 1, 2


def _cmd_build(args: argparse.Namespace) -> int:
    from .build import build, stale, write

    root = Path(args.root) if args.root else suite_root()
    built = build()
    if args.check:
        bad = stale(root, built)
        for rel in bad[:20]:
            print(f"stale: {display(rel)}", file=sys.stderr)
        if bad:
            print(f"rollout-trace conformance build: {len(bad)} file(s) stale; run `rollout-trace conformance build`",
                  file=sys.stderr)
            return EXIT_FAIL
        print(f"conformance suite {SUITE_VERSION}: {len(built.cases)} case(s), up to date")
        return EXIT_OK
    n = write(root, built)
    print(f"conformance suite {SUITE_VERSION}: {len(built.cases)} case(s), {n} file(s) written under {display(str(root))}")
    return EXIT_OK


def _cmd_run(args: argparse.Namespace) -> int:
    from .run import run_suite, run_writer_cases

    if sum(x is not None and x is not False for x in (args.profile, args.release, args.writer)) != 1:
        print("rollout-trace conformance run: give one of --profile, --release or --writer", file=sys.stderr)
        return EXIT_USAGE
    root = Path(args.root) if args.root else suite_root()
    try:
        if args.writer:
            outcomes = run_writer_cases(root, args.cmd, dialects=args.dialect or None, only=args.only)
        else:
            outcomes = run_suite(root, args.cmd, profile=args.profile, release=args.release,
                                 dialects=args.dialect or None, timeout=args.timeout, only=args.only)
    except (OSError, ValueError, KeyError, TypeError, AttributeError, RecursionError) as e:
        # --root names a folder someone else made: its index or a case file is not what INTERPRETING.md says
        print(f"rollout-trace conformance run: {display(str(root))} does not hold a readable suite "
              f"({type(e).__name__}: {display(e)})", file=sys.stderr)
        return EXIT_USAGE
    for n, o in enumerate(outcomes, 1):
        word = {"pass": "ok", "fail": "not ok", "skip": "ok"}[o.status]
        tail = f" # SKIP {o.detail}" if o.status == "skip" else (f" # {display(o.detail)}" if o.detail else "")
        print(f"{word} {n} {display(o.case)}{tail}")
    failed = sum(o.status == "fail" for o in outcomes)
    print(f"# {len(outcomes)} case(s): {sum(o.status == 'pass' for o in outcomes)} pass, {failed} fail, "
          f"{sum(o.status == 'skip' for o in outcomes)} skip")
    if not outcomes:
        print("rollout-trace conformance run: no case selected", file=sys.stderr)
        return EXIT_USAGE
    if all(o.status == "skip" for o in outcomes):  # nothing was checked: never "ok"
        print(f"rollout-trace conformance run: no selected case has an expected verdict"
              f"{' for Codex ' + display(args.release) if args.release else ''}", file=sys.stderr)
        return EXIT_USAGE
    return EXIT_FAIL if failed else EXIT_OK


def _cmd_tarball(args: argparse.Namespace) -> int:
    from .pack import pack

    try:
        out = pack(suite_root(), Path(args.out))
    except OSError as e:  # a FIFO no one reads, a full disk, a directory in the way
        print(f"rollout-trace conformance tarball: cannot write {display(args.out)}: {display(e.strerror or str(e))}",
              file=sys.stderr)
        return EXIT_USAGE
    print(f"wrote {display(str(out))}")
    return EXIT_OK


def add_conformance_parser(sub) -> None:
    p = sub.add_parser("conformance", help="the conformance suite as data: build (--check), run, tarball",
                       formatter_class=HelpFormatter)
    verbs = p.add_subparsers(dest="verb", required=True)
    b = verbs.add_parser("build", help="regenerate the cases from the model and the generators",
                         formatter_class=HelpFormatter)
    b.add_argument("--check", action="store_true", help="write nothing; exit 1 if a case file is stale")
    b.add_argument("--root", help="the suite's folder (default: the installed conformance/)")
    b.set_defaults(func=_cmd_build)
    r = verbs.add_parser("run", help="run the bundle cases against a command (exit 0 accepts, 1 rejects)",
                         formatter_class=HelpFormatter)
    r.add_argument("--cmd", required=True, help="command run per case; {bundle}, {out} and {dialect} are replaced")
    r.add_argument("--profile", choices=("reducer", "writer", "strict"), help="expect this profile's verdicts")
    r.add_argument("--release", help="expect the reducer verdicts of the epoch holding this Codex release")
    r.add_argument("--writer", action="store_true",
                   help="the command is a trace writer (writer driver protocol): run the writer cases")
    r.add_argument("--dialect", action="append", help="only the cases of this dialect (repeatable)")
    r.add_argument("--only", help="only the cases whose id contains this text")
    r.add_argument("--timeout", type=seconds_value, default=60.0, help="seconds per case")
    r.add_argument("--root", help="the suite's folder (default: the installed conformance/)")
    r.set_defaults(func=_cmd_run)
    t = verbs.add_parser("tarball", help="pack the suite as a plain folder (no Python needed to use it)",
                         formatter_class=HelpFormatter)
    t.add_argument("out", help="the .tar.gz to write")
    t.set_defaults(func=_cmd_tarball)
