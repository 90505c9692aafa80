"""``rollout-trace fuzz-reducer``, ``rollout-trace fuzz-reducer merge`` and ``rollout-trace replay``.

Exit 0: as expected; 1: failures (or stale known results); 2: usage or environment
errors, each said in one line (never a traceback), and an oracle asked for by name that
never applied (the report is written first).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shlex
import stat
import sys
import tempfile
import time
from pathlib import Path

from ... import escape
from ...bundle import MAX_READ_BYTES
from ...config import HelpFormatter
try:
    from ...generators._plan import MODES
except ImportError:  # a generators dependency missing: a run then says how to get it (cases.corruptions)
    MODES = {}
from ...output import OutputError, add_output_arguments, check_writable
from ...progress import Progress, add_run_arguments, check_jobs, seconds_value
from ...model import DEFAULT_DIALECT
from ...writer.core import written_dialects
from ..command import REJECT_EXIT, ReducerCommand, parse_reject_exit, scratch_root
from .claims import LABELS as CLAIMS, Claim

EXIT_OK, EXIT_FAIL, EXIT_USAGE = 0, 1, 2
MAX_CASE_BYTES = 1 << 20  # a saved case.json: a case, its outcome and two output tails of 2000 bytes


class UsageError(Exception):
    """Exit 2 with this message."""


class _PreflightFailed(UsageError):
    """A preflight message: lines of its own, the reducer's output in them escaped already."""


def _fail(prog: str, message: str, *, escaped: bool = False) -> int:
    # messages name paths and quote files (a report, a known-results file, a case) anyone may have made
    print(f"rollout-trace {prog}: {message if escaped else escape.display(message)}", file=sys.stderr)
    return EXIT_USAGE


def _command(args, reject_exit: tuple[int, ...] | None = None) -> ReducerCommand:
    codes = parse_reject_exit(args.reject_exit) if args.reject_exit is not None else (reject_exit or REJECT_EXIT)
    return ReducerCommand(args.cmd, input=args.input, timeout=args.timeout, reject_exit=codes)


def creatable_dir(path: str, what: str) -> None:
    p = Path(os.path.abspath(path))
    while not p.exists():
        p = p.parent
    if not p.is_dir() or not os.access(p, os.W_OK | os.X_OK):
        raise UsageError(f"{what} {path}: cannot create it under {p}")


def parse_shard(text: str | None) -> tuple[int, int]:
    if not text:
        return (1, 1)
    try:
        i, n = (int(x) for x in text.split("/"))
    except ValueError:
        raise UsageError(f"--shard {text!r}: expected I/N, for example 2/4") from None
    if not 1 <= i <= n:
        raise UsageError(f"--shard {text}: I must be between 1 and N")
    return (i, n)


def run_fuzz(args: argparse.Namespace) -> int:
    try:
        return _run_fuzz(args)
    except (UsageError, OutputError) as e:
        return _fail("fuzz-reducer", str(e), escaped=isinstance(e, _PreflightFailed))


def _run_fuzz(args: argparse.Namespace) -> int:
    from .known import Known, KnownResultsError
    from .oracles import OracleError, parse_oracles

    if args.examples < 1:
        raise UsageError(f"--examples must be >= 1, not {args.examples}")
    try:
        check_jobs(args.jobs)
    except ValueError as e:
        raise UsageError(str(e)) from None
    args.dialect = campaign_dialect(args)
    shard = parse_shard(args.shard)
    if shard[1] > 1 and args.seed is None:
        raise UsageError("--shard needs --seed: every shard must plan the same campaign")
    try:
        command = _command(args)
        claim = Claim.parse(args.profile)
        known = Known.load(args.known) if args.known else Known()
    except (ValueError, KnownResultsError) as e:
        raise UsageError(str(e)) from None
    if args.update and not args.known:
        raise UsageError("--update needs --known FILE")
    check_writable(args.output, f"--output {args.output}")
    if args.update:
        check_writable(args.known, f"--known {args.known}")
    if args.repro_dir:
        creatable_dir(args.repro_dir, "--repro-dir")
    from .cases import corruptions

    try:
        CORRUPTIONS = corruptions()
    except ImportError as e:
        raise UsageError(str(e)) from None
    unknown = [i for i in args.invariant or [] if i not in CORRUPTIONS]
    if unknown:
        from ...suggest import unknown_message

        raise UsageError(unknown_message("invariant", unknown, CORRUPTIONS))
    try:
        oracles = parse_oracles(args.oracle, args.normalize, args.skip_transform)
    except OracleError as e:
        raise UsageError(str(e)) from None
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(2**31)
    print(f"rollout-trace fuzz-reducer: seed {seed} (repeat with --seed {seed})", file=sys.stderr)

    from .preflight import PreflightError, preflight

    try:
        preflight(command, args.dialect, oracles, release=args.release)
    except PreflightError as e:
        raise _PreflightFailed(str(e)) from None

    from .fuzz import Campaign

    bar = Progress("fuzz-reducer", "cases", args.progress)
    campaign = Campaign(
        command,
        args.dialect,
        examples=args.examples,
        seed=seed,
        jobs=args.jobs,
        claim=claim,
        invariants=args.invariant,
        mode=args.mode,
        release=args.release,
        repro_dir=Path(args.repro_dir) if args.repro_dir else None,
        shrink=not args.no_shrink,
        oracles=oracles,
        shard=shard,
        progress=bar,
        replay_extra=_replay_extra(args),
        known=known,
    )
    started = time.monotonic()
    with bar:
        campaign.run()
    from .report import build_report

    doc = build_report(campaign, args.cmd, known, time.monotonic() - started,
                       examples=args.examples, timeout=args.timeout, known_file=args.known)
    code = _finish(doc, campaign.results, args, known)
    unapplied = oracles_never_applied(doc, oracles.explicit)
    if unapplied and code != EXIT_USAGE:
        for line in unapplied:
            print(f"rollout-trace fuzz-reducer: {escape.display(line)}", file=sys.stderr)
        return EXIT_USAGE
    return code


def campaign_dialect(args: argparse.Namespace) -> str:
    """The dialect of the campaign: ``--dialect``, or the one ``--release`` writes (both: they must agree)."""
    if args.release is None:
        return args.dialect or DEFAULT_DIALECT
    try:
        from ...generators._release import NotWritable, campaign_release
    except ImportError as e:
        raise UsageError(f"--release needs the bundle generators, which need {e.name or 'a missing module'}") from None
    try:
        dialect = campaign_release(args.release, args.mode).dialect.name
    except NotWritable as e:
        raise UsageError(f"--release {e}") from None
    if args.dialect is not None and args.dialect != dialect:
        raise UsageError(f"--release {args.release} writes dialect {dialect}, not --dialect {args.dialect}")
    return dialect


def oracles_never_applied(doc: dict, explicit) -> list[str]:
    """Why the run must end in exit 2: each oracle asked for by name that never applied, or,
    with ``all``, every oracle never applied."""
    o = doc.get("oracles") or {}
    never = o.get("never_applied") or {}
    named = [n for n in explicit if n in never]
    if not named and never and set(never) >= set(o.get("enabled") or []):
        named = list(never)
    return [f"oracle {n} never applied: {never[n]}" for n in named]


def _replay_extra(args) -> str:
    """The options a replay needs besides the case and --cmd, shell-quoted."""
    out = []
    if args.input != "argv":
        out += ["--input", args.input]
    if args.timeout != 30.0:
        out += ["--timeout", repr(args.timeout)]
    if args.reject_exit is not None and parse_reject_exit(args.reject_exit) != REJECT_EXIT:
        out += ["--reject-exit", ",".join(map(str, parse_reject_exit(args.reject_exit)))]
    for o in args.oracle or []:
        out += ["--oracle", o]
    for n in args.normalize or []:
        out += ["--normalize", n]
    for s in args.skip_transform or []:
        out += ["--skip-transform", s]
    return "".join(" " + shlex.quote(x) for x in out)


def _finish(doc: dict, results, args, known) -> int:
    """Write the report (and the known results), and a console summary when the report goes elsewhere."""
    from .known import updated
    from .report import print_human, render

    if args.update:
        updated(doc["invariants"], known).save(args.known)
        print(f"wrote {args.known}", file=sys.stderr)
    to_file = bool(args.output and args.output != "-")
    if args.format == "human":
        import io

        buf = io.StringIO()
        print_human(doc, file=buf, color=args.color if not to_file else "never", quiet=args.quiet)
        text = buf.getvalue()
    else:
        text = render(doc, args.format, results)
    try:
        if to_file:
            from ...output import open_output

            with open_output(args.output) as f:
                f.write(text)
        else:
            sys.stdout.write(text)
    except OSError as e:
        return _fail("fuzz-reducer", f"cannot write {args.output}: {e.strerror}")
    if (to_file or args.format != "human") and not args.quiet:
        print_human(doc, file=sys.stderr, summary_only=True, color=args.color)
    return EXIT_OK if (doc["ok"] or args.update) else EXIT_FAIL


def run_merge(args: argparse.Namespace) -> int:
    from .known import Known, KnownResultsError, read_json
    from .report import ReportMergeError, merge_reports

    try:
        known = Known.load(args.known) if args.known else Known()
        check_writable(args.output, f"--output {args.output}")
        docs = []
        for path in args.reports:
            try:
                docs.append(read_json(path))
            except (OSError, ValueError) as e:
                raise UsageError(f"{path}: not a readable JSON report: {e}") from None
        doc = merge_reports(docs, args.reports, known)
    except (UsageError, OutputError, KnownResultsError, ReportMergeError) as e:
        return _fail("fuzz-reducer merge", str(e))
    args.update = False
    code = _finish(doc, None, args, known)
    unapplied = oracles_never_applied(doc, (doc.get("oracles") or {}).get("explicit") or [])
    if unapplied and code != EXIT_USAGE:  # never applied in any shard: not in the whole campaign either
        for line in unapplied:
            print(f"rollout-trace fuzz-reducer merge: {escape.display(line)}", file=sys.stderr)
        return EXIT_USAGE
    return code


# -- replay -------------------------------------------------------------------------------


def run_replay(args: argparse.Namespace) -> int:
    try:
        return _run_replay(args)
    except UsageError as e:
        return _fail("replay", str(e))


def _load_case(d: Path):
    from .cases import Case, CaseSpec
    from ...bundle import Bundle

    from ...files import read_capped

    # a saved case may come from anyone: case.json may be a FIFO, a link to /dev/zero, huge
    got = read_capped(d / "case.json", MAX_CASE_BYTES)
    if got.problem:
        raise UsageError(f"{d}: cannot read case.json: it is {got.problem}")
    try:
        meta = json.loads(got.data or b"")
    except (ValueError, RecursionError) as e:
        raise UsageError(f"{d}: cannot read case.json: {type(e).__name__}: {e}") from None
    try:
        spec = CaseSpec(**meta["case"])
        if not all(isinstance(getattr(spec, k), t) for k, t in (("dialect", str), ("invariant", str), ("seed", int),
                                                                 ("events", int), ("mode", str), ("release", (str, type(None))))):
            raise TypeError("wrong field types")
        from ...model import DIALECTS

        if spec.dialect not in DIALECTS:
            raise ValueError(f"unknown dialect {spec.dialect!r}")
        expected = frozenset(str(x) for x in meta.get("expected", []))
        must_reject = meta["must_reject"]
        if not isinstance(must_reject, bool):
            raise TypeError("must_reject is not a boolean")
        case_id = meta.get("id") if isinstance(meta.get("id"), str) else spec.id
        claim = Claim.parse(meta.get("profile", "reducer"))
        saved = meta.get("reject_exit", list(REJECT_EXIT))
        if not isinstance(saved, list) or not all(type(c) is int for c in saved):
            raise TypeError("reject_exit is not a list of exit statuses")
        reject_exit = parse_reject_exit(",".join(map(str, saved)))
        verdicts = meta.get("oracles") or {}
        failed_oracles = [str(k) for k, v in verdicts.items() if v == "fail"] if isinstance(verdicts, dict) else []
    except (KeyError, TypeError, ValueError, AttributeError) as e:
        raise UsageError(f"{d}/case.json: not a saved case ({type(e).__name__}: {e})") from None
    return Case(spec, Bundle(None), expected, must_reject), case_id, claim, reject_exit, failed_oracles


def _saved_oracles(failed: list[str]) -> tuple[list[str], list[str]]:
    """The oracles a replay without --oracle judges with: the kit's own that the case failed; and
    the user oracles it failed, which a saved case never imports (it may come from anyone)."""
    from .oracles import COVERAGE, DIFFERENTIAL_PREFIX, METAMORPHIC

    own = [o for o in failed if o in (METAMORPHIC, COVERAGE) or o.startswith(DIFFERENTIAL_PREFIX)]
    return own, [o for o in failed if o not in own]


def _run_replay(args: argparse.Namespace) -> int:
    from .fuzz import PASS, CaseResult, Job, classify
    from .oracles import OracleError, parse_oracles

    d = Path(args.case_dir)
    if not (d / "bundle").is_dir() or (d / "bundle").is_symlink():
        raise UsageError(f"{d}: no bundle/ directory: not a saved case")
    case, case_id, claim, reject_exit, failed_oracles = _load_case(d)
    names = args.oracle
    if names is None and failed_oracles:
        names, user = _saved_oracles(failed_oracles)
        said = f"judged with the oracle(s) it failed: {', '.join(names)}" if names else ""
        if user:
            said += ("; " if said else "") + ("its user oracle(s) are not imported from a saved case: pass "
                                              + " ".join(f"--oracle {shlex.quote(u)}" for u in user) + " to judge with them")
        print(escape.display(f"replay: {case_id} failed an output oracle; {said}"), file=sys.stderr)
    try:
        command = _command(args, reject_exit)
        oracles = parse_oracles(names, args.normalize, args.skip_transform)
    except (ValueError, OracleError) as e:
        raise UsageError(str(e)) from None
    with tempfile.TemporaryDirectory(prefix="rtk-replay-", dir=scratch_root()) as tmp:
        # a copy, so a reducer that writes into its input cannot change the saved case
        bundle = Path(tmp) / "bundle"
        copy_case_tree(d / "bundle", bundle)
        run = command.run_capture(bundle, Path(tmp) / "work", capture=oracles.any)
        result, behaviour, detail = classify(case, run.outcome)
        r = CaseResult(case.spec, result, behaviour, case.must_reject, sorted(case.expected), run.outcome, detail)
        if oracles.any and result == PASS and behaviour == "accepts":
            from ...bundle import Bundle
            from .judge_output import judge_output

            case.bundle = Bundle.read(bundle)
            judge_output(r, case, run.result, Job(command, claim, case.spec, oracles), Path(tmp))
    want = "reject" if case.must_reject else ("accept" if case.valid else "accept or reject")
    # one line: a case id or a detail from a saved case never breaks it (nor starts a CI command)
    print(escape.display(f"{case_id}: {r.result} ({r.behaviour}; expected: {want}){': ' + r.detail if r.detail else ''}"))
    for line in r.diff:
        print("    " + escape.display(line))
    return EXIT_OK if r.result == PASS else EXIT_FAIL


def copy_case_tree(src: Path, dst: Path) -> None:
    """Copy a saved bundle: regular files and directories; symlinks and FIFOs recreated (never
    opened). Anything else (a device, a socket) is refused: opening one could block or never end."""
    from ...files import open_regular

    kinds = {stat.S_ISCHR: "a character device", stat.S_ISBLK: "a block device", stat.S_ISSOCK: "a socket"}
    left = MAX_CASE_BYTES
    dst.mkdir()
    for root, dirs, files in os.walk(src, followlinks=False):
        rel = Path(root).relative_to(src)
        for name in sorted(dirs + files):
            s, t = Path(root) / name, dst / rel / name
            mode = os.lstat(s).st_mode
            if stat.S_ISLNK(mode):
                os.symlink(os.readlink(s), t)
            elif stat.S_ISDIR(mode):
                t.mkdir()
            elif stat.S_ISREG(mode):
                with open_regular(s, follow_symlinks=False) as src_file, open(t, "xb") as dst_file:
                    # at most what is left of the cap, plus one byte to tell a file that grew
                    copied = _copy_at_most(src_file, dst_file, left + 1)
                left -= copied
                if left < 0:  # a sparse file of gigabytes takes no disk in the case, all of it in the copy
                    raise UsageError(f"{s}: the saved bundle holds more than {MAX_CASE_BYTES} bytes, "
                                     "more than a saved case can: refusing to copy it")
            elif stat.S_ISFIFO(mode):
                os.mkfifo(t)
            else:
                what = next((w for test, w in kinds.items() if test(mode)), "a special file")
                raise UsageError(f"{s} is {what}; a saved case holds only regular files, directories, "
                                 f"symlinks and FIFOs: refusing to copy it")
        dirs[:] = [x for x in dirs if not os.path.islink(Path(root) / x)]


# What replay copies of a saved case (into /dev/shm, memory, when it can): the cap on a bundle
# read whole, which is also what the oracles read of it.
MAX_CASE_BYTES = MAX_READ_BYTES


def _copy_at_most(src, dst, limit: int) -> int:
    """Copy up to ``limit`` bytes from ``src`` to ``dst``; the number copied."""
    done = 0
    while done < limit:
        chunk = src.read(min(1 << 20, limit - done))
        if not chunk:
            break
        dst.write(chunk)
        done += len(chunk)
    return done


# -- parsers ------------------------------------------------------------------------------


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--cmd",
        required=True,
        help="the reducer command, run in the current directory; {bundle} is the bundle directory, {output} a "
        "file for its JSON result, both absolute (without {bundle} the path is the last argument, or stdin "
        "with --input stdin)",
    )
    p.add_argument("--input", choices=["argv", "stdin"], default="argv", help="where the bundle path goes without {bundle}")
    p.add_argument("--timeout", type=seconds_value, default=30.0,
                   help="seconds per run before the process group is killed (a hang)")
    p.add_argument("--reject-exit", metavar="CODE[,CODE]",
                   help="the exit status of a clean rejection, or several, comma-separated (default 1, what Codex "
                   "uses; replay: the saved case's); "
                   "any other non-zero status, a signal, or a traceback, panic or sanitizer report is a crash")
    p.add_argument("--oracle", action="append",
                   help="judge the output too (repeatable): metamorphic, coverage, codex-VERSION (differential), "
                   "all, or module:function (your own oracle)")
    p.add_argument("--normalize", action="append",
                   help="what oracles ignore when comparing outputs (repeatable): codex-state, a JSON pointer "
                   "(/a/*/b), or module:function")
    p.add_argument("--skip-transform", action="append", help="a metamorphic transform not to apply (repeatable)")


def _report_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--known", help="known-results file (JSON): allowed failures, each with a reason")
    add_output_arguments(p, ("human", "json", "junit", "github"))


def add_reducer_parsers(sub) -> None:
    p = sub.add_parser(
        "fuzz-reducer",
        help="fuzz a reducer command with valid and labelled-corrupt bundles (`fuzz-reducer merge` combines reports)",
        description="Exit 0: every case as expected (or listed in --known); 1: failures or stale known results; "
        "2: usage or environment error. `rollout-trace fuzz-reducer merge REPORT...` combines JSON reports.",
        formatter_class=HelpFormatter,
    )
    _common(p)
    p.add_argument("--dialect", choices=written_dialects(), default=None,
                   help=f"dialect of the generated bundles (default: --release's, else {DEFAULT_DIALECT})")
    p.add_argument("--release", metavar="VERSION",
                   help="generate bundles in this Codex release's dialect and judge them by its rules, as "
                   "`validate --release` does; with --mode releases as it writes them (the writer facts of the "
                   "release table: `rollout-trace codex releases`), with --mode schema everything the schema allows "
                   "that its reducer was measured reading")
    p.add_argument("--examples", type=int, default=200, help="cases to run (at least 1)")
    p.add_argument("--seed", type=int, default=None, help="the same seed gives the same cases (default: random, printed)")
    p.add_argument("--shard", help="I/N: run the I-th of N equal parts of the campaign (needs --seed)")
    add_run_arguments(p, "cases run")
    p.add_argument("--profile", default="reducer", choices=CLAIMS,
                   help="what the reducer claims: the rules it enforces (reducer, writer, strict), or robustness "
                   "(valid bundles accepted, no bundle crashes or hangs it, rejection optional)")
    p.add_argument("--invariant", action="append", help="only this invariant (repeatable)")
    p.add_argument("--mode", choices=sorted(MODES) or None, default="releases",
                   help="how the bundles are generated: " + "; ".join(f"{k}: {v}" for k, v in MODES.items())
                   + " (robustness campaigns use schema)")
    p.add_argument("--update", action="store_true", help="rewrite --known from this run")
    p.add_argument("--repro-dir", default="reducer-fuzz-failures", help="where shrunk failing cases are saved")
    p.add_argument("--no-shrink", action="store_true", help="save failing cases as found, without shrinking them")
    _report_options(p)
    p.set_defaults(func=run_fuzz)

    q = sub.add_parser("replay", help="run a reducer command on a saved failing case", formatter_class=HelpFormatter)
    q.add_argument("case_dir", metavar="DIR")
    _common(q)
    q.set_defaults(func=run_replay)


def merge_parser() -> argparse.ArgumentParser:
    m = argparse.ArgumentParser(
        prog="rollout-trace fuzz-reducer merge",
        formatter_class=HelpFormatter,
        description="Combine the JSON reports of one campaign's shards into one table and one known-results check.",
    )
    m.add_argument("reports", nargs="+", metavar="REPORT")
    _report_options(m)
    m.set_defaults(func=run_merge)
    return m
