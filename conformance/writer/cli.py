"""``rollout-trace check-writer``: run the writer harness against any writer.

    rollout-trace check-writer --cmd 'node my-writer.js' --dialect v2 --crash every \\
        --script corpus:codex-0.169.0/tools --format human

Exit 0: every script passed; 1: findings (errors); 2: usage error, the
command could not be started, or no script could run.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from collections import OrderedDict
from pathlib import Path

from ... import __version__, escape
from ...config import HelpFormatter
from ...model import DIALECTS
from ...output import OutputError, Report, add_output_arguments, check_writable, console
from ...progress import Progress, add_run_arguments, check_jobs, delay_value, seconds_value
from ...validate.findings import Severity
from .protocol import PROTOCOL_VERSION
from .checks import meaning
from .playback import HarnessOptions, check_writer
from .findings import Finding, ScriptResult
from .scripts import SOURCES, ScriptError, default_scripts, load_scripts
from .session import Config
from .text import printable

EXIT_OK, EXIT_FINDINGS, EXIT_USAGE = 0, 1, 2
REPORT_FORMAT = "rollout-trace-kit/writer-report/1"


def _crash(value: str):
    if value in ("every", "none"):
        return value
    try:
        n = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError("--crash is every, none or a number of sampled crash points") from None
    if n < 0:
        raise argparse.ArgumentTypeError("--crash N needs N >= 0")
    return n


def add_writer_parser(sub) -> None:
    sources = "; ".join(f"{p}: {h}" for p, (_, h) in SOURCES.items())
    p = sub.add_parser(
        "check-writer",
        help="drive a trace writer through the writer driver protocol and check what it writes",
        description="Drive a trace writer (any program speaking the writer driver protocol on stdin/stdout, "
        "docs/guides/writer-protocol.md) through scripts of operations; check the disk after every answer, "
        "the final bundle (writer profile) and crash-consistency (SIGKILL after each operation). "
        "Exit 0: all scripts pass; 1: findings; 2: usage error or nothing could run.",
        formatter_class=HelpFormatter,
    )
    p.add_argument("--cmd", required=True, help="the writer's command line, e.g. 'node my-writer.js' (split like a shell)")
    p.add_argument("--dialect", choices=list(DIALECTS), help="dialect to test (default: every dialect the writer announces)")
    p.add_argument(
        "--script",
        action="append",
        metavar="SOURCE:ARG",
        help=f"scripts to play (repeatable). {sources}. Default: lifecycle and the corpus of the reference release",
    )
    p.add_argument("--crash", type=_crash, default="every", help="crash points per script: every, none, or N sampled")
    p.add_argument(
        "--crash-mode",
        choices=["after", "inflight", "both"],
        default="after",
        help="kill once the writer answered op k (after), while it performs op k+1 (inflight), or both",
    )
    p.add_argument("--inflight-delay", type=delay_value, default=0.0, metavar="SECONDS", help="inflight: wait this long before the kill")
    p.add_argument("--timeout", type=seconds_value, default=10.0, help="seconds to wait for each answer")
    add_run_arguments(p, "crash runs")
    p.add_argument("--keep", metavar="DIR", help="keep every bundle written under DIR instead of deleting it")
    add_output_arguments(p, ("human", "json"))
    p.set_defaults(func=run_check_writer)


def _scripts(args) -> list:
    scripts = []
    if args.script:
        for spec in args.script:
            scripts.extend(load_scripts(spec))
        if args.dialect:
            wrong = [s.name for s in scripts if s.dialect != args.dialect]
            if wrong:
                raise ScriptError(f"--dialect {args.dialect}, but these scripts are another dialect: {', '.join(wrong)}")
    else:
        for d in [args.dialect] if args.dialect else list(DIALECTS):
            scripts.extend(default_scripts(d))
    return scripts


def _usage(message: str) -> int:
    print(f"rollout-trace check-writer: {printable(message)}", file=sys.stderr)
    return EXIT_USAGE


def run_check_writer(args: argparse.Namespace) -> int:
    try:
        argv = shlex.split(args.cmd)
    except ValueError as e:
        return _usage(f"--cmd: {e}")
    if not argv:
        return _usage("--cmd is empty")
    to_file = args.output and args.output != "-"
    try:
        check_writable(args.output, f"--output {args.output}")  # before a run that may take minutes
        check_jobs(args.jobs)
        scripts = _scripts(args)
    except (ScriptError, OutputError, ValueError) as e:
        return _usage(str(e))
    try:
        # the bundles replayed (bundle:PATH) are read, never written: not -o, nor --keep, there
        from ...validate.cli import UsageError, refuse_writing_into

        replayed = [Path(spec.partition(":")[2]) for spec in (args.script or []) if spec.startswith("bundle:")]
        refuse_writing_into([args.output or "-", *([args.keep] if args.keep else [])], replayed)
    except UsageError as e:
        return _usage(str(e))
    if args.keep:
        from ...files import LOOP, loops

        if loops(args.keep):  # mkdir says "File exists" of a loop
            return _usage(f"--keep {args.keep}: {LOOP}")
        try:
            Path(args.keep).mkdir(parents=True, exist_ok=True)
        except OSError as e:
            return _usage(f"--keep {args.keep}: {e.strerror or e}")
    config = Config(argv, timeout=args.timeout, keep=Path(args.keep) if args.keep else None)
    bar = Progress("check-writer", "scripts", args.progress, total=len(scripts))
    options = HarnessOptions(crash=args.crash, crash_mode=args.crash_mode, inflight_delay=args.inflight_delay,
                             jobs=args.jobs, progress=lambda done, total: bar.update(done))
    try:
        with bar:
            results = check_writer(config, scripts, options)
    except OSError as e:  # the writer could not start, or a temporary directory could not be made
        what = f"cannot run {argv[0]!r}" if e.filename in (None, argv[0]) else str(e.filename)
        return _usage(f"{what}: {e.strerror or e}")
    ran = [r for r in results if r.skipped is None]
    if not args.script and not args.dialect:
        # default run: dialects the writer does not announce are not its business
        results = [r for r in results if r.skipped is None or "does not write dialect" not in r.skipped] or results
    try:
        with Report(args.output) as out:
            if args.format == "json":
                out.write(render_json(results, argv))
            else:
                print_human(results, argv, out, quiet=args.quiet,
                            color=args.color if not to_file else "never")
    except OutputError as e:  # checked before the run; the disk may still fill or vanish meanwhile
        return _usage(str(e))
    ok = bool(ran) and all(r.ok for r in ran)
    if not args.quiet and not (args.format == "human" and not to_file):
        console(sys.stdout if to_file else sys.stderr, args.color).print(("ok: " if ok else "FAIL: ") + summary(results))
    if not ran:
        print("rollout-trace check-writer: no script could run (see the skip reasons)", file=sys.stderr)
        return EXIT_USAGE
    return EXIT_OK if all(r.ok for r in ran) else EXIT_FINDINGS


def render_json(results: list[ScriptResult], argv: list[str]) -> str:
    impl = next((r.implementation for r in results if r.implementation), None)
    ids = sorted({f.check for r in results for f in r.findings})
    doc = {
        "format": REPORT_FORMAT,
        "kit_version": __version__,
        "command": argv,
        "protocol_version": PROTOCOL_VERSION,
        "implementation": impl,
        "ok": all(r.ok for r in results if r.skipped is None) and any(r.skipped is None for r in results),
        "scripts": [r.to_dict() for r in results],
        "checks": {i: meaning(i) for i in ids},
    }
    # escaped for display, and ASCII only: no control, bidi or non-UTF-8 character survives
    return json.dumps(escape.tree(doc), indent=2, ensure_ascii=True) + "\n"


def _grouped(result: ScriptResult):
    """Run and final findings one by one; crash findings grouped by (check, op) across crash points."""
    single: list[Finding] = []
    crash: OrderedDict[tuple[str, int | None, Severity], list[Finding]] = OrderedDict()
    for f in result.findings:
        if f.phase.startswith("crash"):
            crash.setdefault((f.check, f.op, f.severity), []).append(f)
        else:
            single.append(f)
    return single, crash


def summary(results: list[ScriptResult]) -> str:
    ran = [r for r in results if r.skipped is None]
    bad = sum(not r.ok for r in ran)
    return f"{len(ran)} script(s) run, {bad} failing, {len(results) - len(ran)} skipped"


def print_human(results: list[ScriptResult], argv: list[str], out=None, color: str = "auto", quiet: bool = False) -> None:
    from ...output import console as make_console

    m = escape.rich_markup
    c = make_console(out or sys.stdout, color)
    impl = next((r.implementation for r in results if r.implementation), None)
    who = f"{impl.get('name')} ({impl.get('language')}{' ' + str(impl['version']) if impl.get('version') else ''})" if impl else "?"
    c.print(f"check-writer: {m(' '.join(shlex.quote(a) for a in argv))}: {m(who[:200])}, protocol {PROTOCOL_VERSION}")
    ids: set[str] = set()
    for r in results:
        if r.skipped:
            if not quiet:
                c.print(f"[dim]skip[/] {m(r.script)} \\[{m(r.dialect)}]: {m(r.skipped)}")
            continue
        if quiet and r.ok and not r.findings:
            continue
        errs = sum(f.severity is Severity.ERROR for f in r.findings)
        warns = len(r.findings) - errs
        crash = f"{len(r.crash_points)} crash point(s) ({r.crash_mode})" if r.crash_points else "no crash points"
        c.print(
            f"{'[green]ok[/]  ' if r.ok else '[red]FAIL[/]'} {m(r.script)} \\[{m(r.dialect)}]: {r.ops} ops "
            f"({r.events} events, {r.payloads} payloads), {crash}, {errs} error(s), {warns} warning(s), {r.seconds:.1f} s"
        )
        single, crash_groups = _grouped(r)
        for f in single:
            ids.add(f.check)
            op = f" op {f.op}" if f.op is not None else ""
            _print_message(c, f"  {_label(f.severity)} [bold]{m(f.check)}[/] \\[{m(f.phase)}{op}] ", f.message)
        for (check, op, sev), group in crash_groups.items():
            ids.add(check)
            names = list(OrderedDict.fromkeys(g.phase.replace("crash ", "") for g in group))
            phases = ", ".join(names[:6]) + (", ..." if len(names) > 6 else "")
            _print_message(c, f"  {_label(sev)} [bold]{m(check)}[/] \\[{len(names)} crash point(s): {m(phases)}] ",
                           group[0].message)
    if ids:
        c.print("what the ids mean:")
        for i in sorted(ids):
            c.print(f"  {m(i)}: {m(meaning(i))}")
    if not quiet:
        c.print(summary(results))


def _print_message(c, head: str, message: str) -> None:
    """A finding whose message spans lines (a writer's traceback): its first line after ``head``,
    the others below it behind a bar, each escaped on its own (no line can start a workflow command)."""
    m = escape.rich_markup
    first, *rest = message.split("\n")
    c.print(head + m(first))
    for line in rest:
        c.print(f"      | {m(line)}")


def _label(severity: Severity) -> str:
    return "[red]error[/]  " if severity is Severity.ERROR else "[yellow]warning[/]"


def main(argv: list[str] | None = None) -> int:
    """``python -m rollout_trace_kit.conformance.writer.cli ...``: check-writer until cli.py wires it."""
    parser = argparse.ArgumentParser(prog="rollout-trace")
    sub = parser.add_subparsers(dest="command", required=True)
    add_writer_parser(sub)
    args = parser.parse_args(["check-writer", *(sys.argv[1:] if argv is None else argv)])
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
