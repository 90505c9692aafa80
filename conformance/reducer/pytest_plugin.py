"""pytest plugin: ``pytest --reducer-cmd 'my-reducer {bundle} -o {output}'``.

Runs the same cases as ``rollout-trace fuzz-reducer``, one pytest test each, with
stable ids (``reducer::<dialect>-<invariant>-<case hash>``), so a CI that already
runs pytest gets the reducer suite in its usual report. The cases are the items of
one collector (so ``--collect-only`` lists them); every option can also sit in
``[tool.pytest.ini_options]`` (``reducer_cmd = "..."``, ...), the command line
winning. The seed defaults to 0 here: every pytest-xdist worker must collect the
same items. Failures listed in ``--reducer-known`` are xfails; an entry that no
longer matches fails the session (checked when the session runs in one process,
not under ``-n``). A known hang costs at most one timeout per session, with or
without ``-n``: once one of its cases hung, its other cases are skipped as not run
(a gate of lock files the workers share, :func:`.fuzz.file_hang_gate`).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Literal

import pytest

from ...model import DEFAULT_DIALECT
from ...writer.core import written_dialects

if TYPE_CHECKING:
    from _pytest._code.code import TerminalRepr, TracebackStyle

    from .cases import CaseSpec
    from .fuzz import Campaign, CaseResult
    from .known import Known
    from .oracles import OracleConfig

_STASH_RESULTS = pytest.StashKey["list[CaseResult]"]()
_KNOWN = pytest.StashKey["Known"]()
_ORACLES = pytest.StashKey["OracleConfig"]()
_HANG_GATE_DIR = pytest.StashKey[str]()  # the hang gate's files, shared with pytest-xdist's workers
_GATE_INPUT = "rollout_trace_kit_hang_gate"  # its key in a worker's workerinput

# option name (without --reducer-), ini type, default, help
OPTIONS: tuple[tuple[str, Literal["string", "linelist"], str | list[str] | None, str], ...] = (
    ("cmd", "string", None, "reducer command to fuzz ({bundle}, {output} placeholders)"),
    ("dialect", "string", None, f"dialect of the bundles (a dialect the kit's writer writes; default: the "
     f"release's, else {DEFAULT_DIALECT})"),
    ("release", "string", None, "generate bundles as this Codex release writes them (mode schema: what its reducer reads) and judge by its rules"),
    ("examples", "string", "100", "cases to run"),
    ("seed", "string", "0", "the same seed gives the same cases"),
    ("timeout", "string", "30", "seconds per run before the process group is killed"),
    ("input", "string", "argv", "where the bundle path goes without {bundle}: argv or stdin"),
    ("profile", "string", "reducer", "what the reducer claims: reducer, writer, strict or robustness"),
    ("reject_exit", "string", "1", "the exit status of a clean rejection (several: comma-separated)"),
    ("mode", "string", "releases", "how bundles are generated: releases (as Codex writes) or schema (as the schema allows)"),
    ("known", "string", None, "known-results file: allowed failures, each with a reason"),
    ("invariant", "linelist", [], "only these invariants"),
    ("oracle", "linelist", [], "output oracles: metamorphic, coverage, codex-VERSION, all, module:function"),
    ("normalize", "linelist", [], "what oracles ignore: codex-state, JSON pointers, module:function"),
)


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("rollout-trace reducer conformance")
    for name, kind, default, help_ in OPTIONS:
        flag = f"--reducer-{name.replace('_', '-')}"
        if kind == "linelist":
            group.addoption(flag, action="append", help=f"{help_} (repeatable; ini: reducer_{name})")
        else:
            group.addoption(flag, help=f"{help_} (ini: reducer_{name}; default {default})")
        parser.addini(f"reducer_{name}", help_, type=kind, default=default)


def option(config: pytest.Config, name: str) -> Any:
    """The command line's value, else the ini file's."""
    value = config.getoption(f"--reducer-{name.replace('_', '-')}")
    if value:
        return value
    return config.getini(f"reducer_{name}")


class ReducerSuite(pytest.Collector):
    """Collects one item per planned case; its name makes their ids read ``reducer::<case>``."""

    def __init__(self, *, campaign: Campaign, specs: list[CaseSpec], known: Known, **kw: Any) -> None:
        super().__init__(**kw)
        self.campaign, self.specs, self.known = campaign, specs, known

    def collect(self) -> Iterable[pytest.Item | pytest.Collector]:
        from .preflight import PreflightError, preflight

        try:
            preflight(self.campaign.command, self.campaign.dialect, release=self.campaign.release)
        except PreflightError as e:
            raise pytest.UsageError(f"--reducer-cmd: {e}") from None
        return [ReducerCase.from_parent(self, name=spec.id, spec=spec) for spec in self.specs]


class ReducerCase(pytest.Item):
    def __init__(self, *, spec: CaseSpec, **kw: Any) -> None:
        super().__init__(**kw)
        self.spec = spec
        self.add_marker(pytest.mark.reducer_conformance)

    def runtest(self) -> None:
        from .fuzz import NOT_RUN, PASS

        suite = self.parent
        assert isinstance(suite, ReducerSuite)  # cases are collected by the suite
        campaign, known = suite.campaign, suite.known
        result = campaign.run_case(self.spec)
        if result is None:
            pytest.skip(f"no bundle of this seed offers a place for {self.spec.invariant}")
        if result.result == NOT_RUN:  # a known hang that already hung: not a result (the stale check skips it)
            pytest.skip(result.detail)
        self.config.stash[_STASH_RESULTS].append(result)
        if result.result == PASS:
            return
        entry = known.entries.get(self.spec.invariant)
        if entry is not None and entry["behaviour"] in (result.behaviour, result.result):
            pytest.xfail(f"known: {entry['reason']}")
        campaign.repro_dir = Path(self.config.rootpath) / "reducer-fuzz-failures"
        campaign.save(result)
        from .report import _failure_lines, clean

        raise AssertionError(clean("\n".join(_failure_lines(result.to_dict()))))

    def repr_failure(
        self, excinfo: pytest.ExceptionInfo[BaseException], style: TracebackStyle | None = None
    ) -> str | TerminalRepr:
        if isinstance(excinfo.value, AssertionError):
            return str(excinfo.value)
        return super().repr_failure(excinfo, style)

    def reportinfo(self) -> tuple[Path, None, str]:
        return Path("reducer"), None, f"reducer::{self.spec.id}"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "reducer_conformance: a case of the reducer conformance suite")
    config.stash[_STASH_RESULTS] = []
    workerinput = getattr(config, "workerinput", None)
    if workerinput is not None:
        if _GATE_INPUT in workerinput:
            config.stash[_HANG_GATE_DIR] = workerinput[_GATE_INPUT]
    elif option(config, "cmd"):
        import tempfile

        from ..command import scratch_root

        config.stash[_HANG_GATE_DIR] = tempfile.mkdtemp(prefix="rtk-hang-gate-", dir=scratch_root())


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    """pytest-xdist: each worker gets the controller's hang gate directory."""
    if _HANG_GATE_DIR in node.config.stash:
        node.workerinput[_GATE_INPUT] = node.config.stash[_HANG_GATE_DIR]


def pytest_unconfigure(config: pytest.Config) -> None:
    if _HANG_GATE_DIR in config.stash and not hasattr(config, "workerinput"):
        import shutil

        shutil.rmtree(config.stash[_HANG_GATE_DIR], ignore_errors=True)


def _suite(session: pytest.Session) -> ReducerSuite:
    from ..command import ReducerCommand, parse_reject_exit
    from .claims import Claim
    from ...generators._plan import MODES
    from .cases import corruptions, plan_cases
    from .fuzz import Campaign
    from .known import Known, KnownResultsError
    from .oracles import OracleError, parse_oracles

    config = session.config
    try:
        command = ReducerCommand(option(config, "cmd"), input=option(config, "input"),
                                 timeout=float(option(config, "timeout")), reject_exit=parse_reject_exit(option(config, "reject_exit")))
        release = option(config, "release") or None
        dialect = _dialect(option(config, "dialect") or None, release, option(config, "mode"))
        if dialect not in written_dialects():
            raise ValueError(f"reducer dialect must be one of {', '.join(written_dialects())}, not {dialect!r}")
        examples, seed = int(option(config, "examples")), int(option(config, "seed"))
        if examples < 1:
            raise ValueError(f"reducer examples must be >= 1, not {examples}")
        known_path = option(config, "known")
        known = Known.load(known_path) if known_path else Known()
        oracles = parse_oracles(option(config, "oracle"), option(config, "normalize"), None)
        claim = Claim.parse(option(config, "profile"))
        mode = option(config, "mode")
        if mode not in MODES:
            raise ValueError(f"reducer mode must be one of {', '.join(MODES)}, not {mode!r}")
    except (ValueError, KnownResultsError, OracleError) as e:
        raise pytest.UsageError(f"rollout-trace reducer plugin: {e}") from None
    try:
        corruptions()
    except ImportError as e:
        raise pytest.UsageError(f"rollout-trace reducer plugin {e}") from None
    campaign = Campaign(command, dialect, claim=claim, shrink=True, oracles=oracles, known=known, mode=mode,
                        release=release)
    if _HANG_GATE_DIR in config.stash:
        from .fuzz import file_hang_gate, set_gate

        set_gate(file_hang_gate(config.stash[_HANG_GATE_DIR], campaign.known_hangs()))
    specs = plan_cases(dialect, examples, seed, invariants=option(config, "invariant") or None, mode=mode,
                       release=release)
    config.stash[_KNOWN] = known
    config.stash[_ORACLES] = oracles
    return ReducerSuite.from_parent(session, name="reducer", nodeid="reducer", campaign=campaign, specs=specs, known=known)


def _dialect(dialect: str | None, release: str | None, mode: str) -> str:
    """The campaign's dialect: the option's, or the one the release writes (both: they must agree)."""
    if release is None:
        return dialect or DEFAULT_DIALECT
    from ...generators._release import campaign_release

    written = campaign_release(release, mode).dialect.name  # NotWritable is a ValueError saying why
    if dialect is not None and dialect != written:
        raise ValueError(f"reducer release {release} writes dialect {written}, not {dialect}")
    return written


def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list[pytest.Item]) -> None:
    if not option(config, "cmd"):
        return
    # the suite's own collect() makes the items (and their collect reports)
    items.extend(session.genitems(_suite(session)))


def pytest_sessionfinish(session: pytest.Session, exitstatus: int | pytest.ExitCode) -> None:
    config = session.config
    # Stale entries need every case's result in one process: with pytest-xdist each
    # worker sees only its share, so the check runs only in a single-process session.
    if _KNOWN not in config.stash or hasattr(config, "workerinput") or config.option.collectonly:
        return
    from .fuzz import per_invariant
    from .known import judge
    from .oracles import never_applied

    results = config.stash[_STASH_RESULTS]
    verdict = judge(per_invariant(results), config.stash[_KNOWN])
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if verdict.stale:
        for inv, why in verdict.stale:
            if reporter:
                reporter.write_line(f"stale known result {inv}: {why}", red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
    # an oracle asked for that never applied: the session is a usage error, like the command's exit 2
    oracles = config.stash[_ORACLES]
    never = never_applied(results, oracles) if results else {}
    named = [n for n in oracles.explicit if n in never] or (list(never) if never and set(never) >= set(oracles.names) else [])
    for name in named:
        if reporter:
            reporter.write_line(f"oracle {name} never applied: {never[name]}", red=True)
    if named:
        session.exitstatus = pytest.ExitCode.USAGE_ERROR
