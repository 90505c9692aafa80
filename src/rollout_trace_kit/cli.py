"""The ``rollout-trace`` command line."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from . import __version__, escape
from .files import IRREGULAR, file_problem, read_capped
from .output import OutputError, write_text


def _schema_files() -> dict[str, str]:
    """Every generated schema file, by path under schema/: the dialects and the writer protocol."""
    from .conformance.writer.protocol import schema_files as protocol_files
    from .model import DIALECTS
    from .compilers.json_schema import schema_files

    return {**schema_files(DIALECTS.values()), **protocol_files()}


def _cmd_schema(args: argparse.Namespace) -> int:
    root = Path(args.out)
    files = _schema_files()
    if args.check:
        stale = [rel for rel, text in files.items() if not _current(root / rel, text)]
        for rel in stale:
            print(f"stale: {escape.path(root / rel)}", file=sys.stderr)
        return 1 if stale else 0
    try:
        for rel, text in files.items():
            path = root / rel
            if not _current(path, text):
                _make_dir(path.parent)
                _refuse_irregular(path)
                write_text(str(path), text)
                print(f"wrote {escape.path(path)}")
    except OutputError as e:
        print(f"rollout-trace schema: {escape.display(str(e))}", file=sys.stderr)
        return 2
    return 0


def _current(path: Path, text: str) -> bool:
    """Whether ``path`` holds exactly ``text``; whatever else is there (not UTF-8, far larger,
    not a regular file) is stale, read no further than the text's own length."""
    want = text.encode("utf-8")
    return read_capped(path, len(want), keep_prefix=False).data == want


def _refuse_irregular(path: Path) -> None:
    """A FIFO (opening it to write waits for a reader forever) or a device in the way is not overwritten."""
    problem = file_problem(path)
    if problem is not None and problem[0] == IRREGULAR:
        raise OutputError(f"cannot write {path}: it is {problem[1]}")


def _make_dir(path: Path) -> None:
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as e:  # a file in the way, or a place no one may create (/proc)
        raise OutputError(f"cannot create {e.filename or path}: {e.strerror or e}") from None


# plain text: argparse prints a description as it is (the module docstring is reStructuredText)
DESCRIPTION = ("Specification and conformance kit for Codex CLI rollout trace bundles: validate bundles, "
               "fuzz reducers, check writers. 'rollout-trace COMMAND --help' gives a command's options.")


# The modules that add the commands' parsers (module under this package, function), in the order
# the help lists them, and the commands each adds. A run that names its command builds that parser
# alone: importing every command's module to build the rest cost each run about 0.04 s (check-writer's
# alone is 16 modules), a tenth of validating a small bundle.
PARSER_MAKERS: list[tuple[str, str, tuple[str, ...]]] = [
    ("validate.cli", "add_validate_parser", ("validate", "invariants")),
    ("conformance.reducer.cli", "add_reducer_parsers", ("fuzz-reducer", "replay")),
    ("conformance.writer.cli", "add_writer_parser", ("check-writer",)),
    ("codex.cli", "add_codex_parser", ("codex",)),
    ("validate.compat_cli", "add_compat_parser", ("compat",)),
    ("conformance.suite.cli", "add_conformance_parser", ("conformance",)),
]
COMMANDS = ("schema", *(c for *_, commands in PARSER_MAKERS for c in commands))


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The command line's parser: every command's, or only the command ``only``'s."""
    import importlib

    parser = argparse.ArgumentParser(prog="rollout-trace", description=DESCRIPTION)
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    from .config import HelpFormatter

    p = sub.add_parser("schema", help="regenerate the JSON Schema files from the spec model",
                       formatter_class=HelpFormatter)
    p.add_argument("--out", default="schema", help="directory to write")
    p.add_argument("--check", action="store_true", help="write nothing; exit 1 if a file is stale")
    p.set_defaults(func=_cmd_schema)

    for module, function, commands in PARSER_MAKERS:
        if only is None or only in commands:
            getattr(importlib.import_module(f".{module}", __package__), function)(sub)
    return parser


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def main(argv: list[str] | None = None) -> int:
    try:
        return _main(argv)
    except KeyboardInterrupt:  # Ctrl-C while the command starts (its imports, its parser): no traceback
        print("rollout-trace: interrupted", file=sys.stderr)
        return 130


def _main(argv: list[str] | None) -> int:
    from . import config
    from .suggest import unknown_message

    argv = sys.argv[1:] if argv is None else list(argv)
    _hypothesis_home()
    if argv[:2] == ["fuzz-reducer", "merge"]:  # a verb of fuzz-reducer, which otherwise takes only options
        from .conformance.reducer.cli import merge_parser

        args = merge_parser().parse_args(argv[2:])
        return _run(args)
    first = next((a for a in argv if not a.startswith("-")), None)
    if first is not None and first not in COMMANDS and not {"-h", "--help", "--version"} & set(argv):
        print(f"rollout-trace: {unknown_message('command', [first], COMMANDS)}; "
              f"commands: {', '.join(COMMANDS)}", file=sys.stderr)
        return 2
    try:
        table, origin = config.load()
        # every parser is built for the top-level help, and for a config table (checked against every
        # command's options)
        top_level = first is None or {"-h", "--help", "--version"} & set(argv[: argv.index(first)])
        parser = build_parser(None if top_level or table else first)
        subs = _subparsers(parser)
        if table:
            assert origin is not None  # a table comes from a file
            config.apply(subs, table, origin)
    except config.ConfigError as e:
        print(f"rollout-trace: {e}", file=sys.stderr)
        return 2
    args = parser.parse_args(argv)
    empty = next((dest for dest in PATH_OPTIONS if getattr(args, dest, None) == ""), None)
    if empty is not None:
        # as `validate ""`: an unset variable in CI, never "the current directory" or "stdout"
        flag = f"--{empty.replace('_', '-')}"
        name = flag if any(a == flag or a.startswith(flag + "=") for a in argv) or empty == "output" else empty.upper()
        print(f"rollout-trace {args.command}: {name} is empty (an unset variable?): name a file or directory",
              file=sys.stderr)
        return 2
    return _run(args)


# Options (by dest) that name a file or directory: an empty value is a usage error.
PATH_OPTIONS = ("out", "output", "keep", "repro_dir", "known", "state", "root", "case_dir")


def _run(args: argparse.Namespace) -> int:
    try:
        code = args.func(args)
        sys.stdout.flush()  # inside the try: a reader that left shows up here, not at exit
        return code
    except BrokenPipeError:
        # the reader went away (`rollout-trace invariants | head -1`): no traceback, and no
        # second error when Python flushes stdout at exit
        _drop_stdout()
        return 2
    except KeyboardInterrupt:
        print("rollout-trace: interrupted", file=sys.stderr)
        return 130
    except OSError as e:
        # the environment failed the run (a full disk under -o or stdout, an I/O error): exit 2
        # with what happened, not a traceback and exit 1, which would read as "findings"
        _drop_stdout()
        # a write error carries no file name: where the report went (-o) is the likely place
        target = e.filename or (getattr(args, "output", None) if getattr(args, "output", None) not in (None, "-") else None)
        where = f" ({escape.path(target)})" if target else ""
        command = getattr(args, "command", None) or "fuzz-reducer merge"
        print(f"rollout-trace {command}: {escape.display(e.strerror or e)}{where}", file=sys.stderr)
        return 2


def _hypothesis_home() -> None:
    """Hypothesis keeps its cache in ``.hypothesis/`` of the current directory: `cd BUNDLE &&
    rollout-trace validate .` wrote it into the bundle being checked. The command line points it at
    the kit's cache, when a command imports it: importing it up front cost every command 0.15 to 0.2 s
    of CPU (`/usr/bin/time -f %U+%S python -c 'import hypothesis.configuration'`), most of a small
    validation (a command that only validates never imports it)."""
    module = sys.modules.get("hypothesis.configuration")
    if module is not None:
        _point_hypothesis_home(module)
    elif not any(isinstance(f, _HypothesisHome) for f in sys.meta_path):
        sys.meta_path.insert(0, _HypothesisHome())


def _point_hypothesis_home(module) -> None:
    from .codex.install import cache_dir

    module.set_hypothesis_home_dir(cache_dir() / "hypothesis")


class _HypothesisHome:
    """An import hook: once hypothesis.configuration is executed, point its home at the kit's cache
    (before anything can ask it where to write)."""

    def find_spec(self, name, path=None, target=None):
        if name != "hypothesis.configuration":
            return None
        import importlib.util

        sys.meta_path.remove(self)  # the import system's own finders find the module
        spec = importlib.util.find_spec(name)
        if spec is None or spec.loader is None:
            return spec
        loader = spec.loader
        run = loader.exec_module

        def exec_module(module) -> None:
            run(module)
            _point_hypothesis_home(module)

        loader.exec_module = exec_module  # type: ignore[method-assign]
        return spec


def _drop_stdout() -> None:
    """Point stdout at /dev/null, so the flush at exit cannot fail a second time."""
    import os

    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # no stdout descriptor at all
        pass


if __name__ == "__main__":
    sys.exit(main())
