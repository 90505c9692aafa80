"""``rollout-trace fuzz-reducer`` and ``rollout-trace replay``."""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

from ... import escape
from ...config import HelpFormatter
from ...output import OutputError, Report, add_output_arguments, check_writable, console
from ...writer.core import written_dialects
from ...validate import Profile
from ..command import ReducerCommand

EXIT_OK, EXIT_FAIL, EXIT_USAGE = 0, 1, 2


def _command(args) -> ReducerCommand:
    return ReducerCommand(args.cmd, input=args.input, timeout=args.timeout)


def run_fuzz(args: argparse.Namespace) -> int:
    from .fuzz import Campaign, per_invariant
    from .known import Known, KnownResultsError, judge, updated
    from .report import print_human, render_json, render_junit, report_dict, summary

    try:
        command = _command(args)
        profile = Profile.parse(args.profile)
        known = Known.load(args.known) if args.known else Known()
    except (ValueError, KnownResultsError) as e:
        print(f"rollout-trace fuzz-reducer: {e}", file=sys.stderr)
        return EXIT_USAGE
    from ...generators import CORRUPTIONS

    from ...suggest import unknown_message

    unknown = [i for i in args.invariant or [] if i not in CORRUPTIONS]
    if unknown:
        print(f"rollout-trace fuzz-reducer: {unknown_message('invariant', unknown, CORRUPTIONS)}", file=sys.stderr)
        return EXIT_USAGE
    if args.update and not args.known:
        print("rollout-trace fuzz-reducer: --update needs --known FILE", file=sys.stderr)
        return EXIT_USAGE
    try:
        check_writable(args.output)
    except OutputError as e:
        print(f"rollout-trace fuzz-reducer: {e}", file=sys.stderr)
        return EXIT_USAGE
    campaign = Campaign(
        command,
        args.dialect,
        examples=args.examples,
        seed=args.seed,
        jobs=args.jobs,
        profile=profile,
        invariants=args.invariant,
        repro_dir=Path(args.repro_dir) if args.repro_dir else None,
        shrink=not args.no_shrink,
    )
    started = time.monotonic()
    results = campaign.run()
    table = per_invariant(results)
    verdict = judge(table, known)
    doc = report_dict(args.cmd, args.dialect, profile.label, args.seed, results, table, verdict,
                      len(campaign.skipped), time.monotonic() - started)
    if args.update:
        updated(table, known).save(args.known)
        print(f"wrote {escape.path(args.known)}", file=sys.stderr)
    try:
        with Report(args.output) as out:
            if args.format == "json":
                out.write(render_json(doc))
            elif args.format == "junit":
                out.write(render_junit(doc, results))
            else:
                print_human(doc, file=out, color=args.color if args.output in (None, "-") else "never", quiet=args.quiet)
    except OutputError as e:
        print(f"rollout-trace fuzz-reducer: {e}", file=sys.stderr)
        return EXIT_USAGE
    ok = verdict.ok or args.update
    if not args.quiet and not (args.format == "human" and args.output in (None, "-")):
        console(sys.stderr if args.output in (None, "-") else sys.stdout, args.color).print(
            ("ok: " if ok else "FAIL: ") + summary(doc)
        )
    return EXIT_OK if ok else EXIT_FAIL


def run_replay(args: argparse.Namespace) -> int:
    from .cases import Case, CaseSpec
    from .fuzz import classify
    from ...bundle import Bundle

    d = Path(args.case_dir)
    try:
        meta = json.loads((d / "case.json").read_text())
        command = _command(args)
    except (OSError, ValueError) as e:
        print(f"rollout-trace replay: {escape.path(d)}: {escape.display(e)}", file=sys.stderr)
        return EXIT_USAGE
    spec = CaseSpec(**meta["case"])
    case = Case(spec, Bundle(None), frozenset(meta["expected"]), meta["must_reject"])
    with tempfile.TemporaryDirectory(prefix="rtk-replay-") as tmp:
        # a copy, so a reducer that writes into its input cannot change the saved case
        bundle = Path(shutil.copytree(d / "bundle", Path(tmp) / "bundle", symlinks=True, copy_function=_copy_entry))
        outcome = command.run(bundle, Path(tmp) / "work")
    result, behaviour, detail = classify(case, outcome)
    want = "reject" if case.must_reject else ("accept" if case.valid else "accept or reject")
    print(escape.display(f"{spec.id}: {result} ({behaviour}; expected: {want}){': ' + detail if detail else ''}"))
    return EXIT_OK if result == "pass" else EXIT_FAIL


def _copy_entry(src: str, dst: str) -> None:
    """Copy a file, or recreate a FIFO (opening one to copy it would block forever)."""
    import os
    import stat

    if stat.S_ISFIFO(os.lstat(src).st_mode):
        os.mkfifo(dst)
    else:
        shutil.copy2(src, dst)


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--cmd",
        required=True,
        help="the reducer command; {bundle} is the bundle directory, {output} a file for its JSON result "
        "(without {bundle} the path is the last argument, or stdin with --input stdin)",
    )
    p.add_argument("--input", choices=["argv", "stdin"], default="argv",
                   help="where the bundle path goes without {bundle}")
    p.add_argument("--timeout", type=float, default=30.0, help="seconds per run before the process group is killed")


def add_reducer_parsers(sub) -> None:
    p = sub.add_parser(
        "fuzz-reducer",
        help="fuzz a reducer command with valid and labelled-corrupt bundles",
        description="Exit 0: every case as expected (or listed in --known); 1: failures or stale known results; 2: usage.",
        formatter_class=HelpFormatter,
    )
    _common(p)
    p.add_argument("--dialect", choices=written_dialects(), default="v2", help="dialect of the generated bundles")
    p.add_argument("--examples", type=int, default=200, help="cases to run")
    p.add_argument("--seed", type=int, default=0, help="the same seed gives the same cases")
    p.add_argument("--jobs", "-j", type=int, default=2, help="cases run in parallel")
    p.add_argument("--profile", default="reducer", choices=[pr.label for pr in Profile],
                   help="the rules the reducer claims to enforce")
    p.add_argument("--invariant", action="append", help="only this invariant (repeatable)")
    p.add_argument("--known", help="known-results file (JSON): allowed failures, each with a reason")
    p.add_argument("--update", action="store_true", help="rewrite --known from this run")
    p.add_argument("--repro-dir", default="reducer-fuzz-failures", help="where shrunk failing cases are saved")
    p.add_argument("--no-shrink", action="store_true", help="save failing cases as found, without shrinking them")
    add_output_arguments(p, ("human", "json", "junit"))
    p.set_defaults(func=run_fuzz)

    q = sub.add_parser("replay", help="run a reducer command on a saved failing case", formatter_class=HelpFormatter)
    q.add_argument("case_dir", metavar="DIR")
    _common(q)
    q.set_defaults(func=run_replay)
