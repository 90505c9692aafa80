"""pytest plugin: ``pytest --reducer-cmd 'my-reducer {bundle} -o {output}'``.

Runs the same cases as ``rollout-trace fuzz-reducer``, one pytest test each,
with stable ids (``reducer::<dialect>-<invariant>-<case hash>``), so a CI
that already runs pytest gets the reducer suite in its usual report. Failures
listed in ``--reducer-known`` are xfails; an entry that no longer matches fails
the session (checked when the session runs in one process, not under ``-n``).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ...writer.core import written_dialects

_STASH_RESULTS = pytest.StashKey[list]()


def pytest_addoption(parser):
    group = parser.getgroup("rollout-trace reducer conformance")
    group.addoption("--reducer-cmd", help="reducer command to fuzz ({bundle}, {output} placeholders)")
    group.addoption("--reducer-dialect", default="v2", choices=written_dialects())
    group.addoption("--reducer-examples", type=int, default=100)
    group.addoption("--reducer-seed", type=int, default=0)
    group.addoption("--reducer-timeout", type=float, default=30.0)
    group.addoption("--reducer-input", default="argv", choices=["argv", "stdin"])
    group.addoption("--reducer-profile", default="reducer")
    group.addoption("--reducer-known", help="known-results file: allowed failures, each with a reason")
    group.addoption("--reducer-invariant", action="append", help="only this invariant (repeatable)")


class ReducerSuite(pytest.Collector):
    """The parent of the generated cases, so their ids read ``reducer::<case>``."""

    def collect(self):
        return []


class ReducerCase(pytest.Item):
    def __init__(self, *, spec, campaign, known, **kw):
        super().__init__(**kw)
        self.spec = spec
        self.campaign = campaign
        self.known = known
        self.add_marker(pytest.mark.reducer_conformance)

    def runtest(self):
        from .fuzz import PASS

        result = self.campaign.run_case(self.spec)
        if result is None:
            pytest.skip(f"no bundle of this seed offers a place for {self.spec.invariant}")
        self.config.stash[_STASH_RESULTS].append(result)
        if result.result == PASS:
            return
        entry = self.known.entries.get(self.spec.invariant)
        if entry is not None and entry["behaviour"] == result.behaviour:
            pytest.xfail(f"known: {entry['reason']}")
        repro = Path(self.config.rootpath) / "reducer-fuzz-failures"
        self.campaign.repro_dir = repro
        self.campaign.save(result)
        raise AssertionError(
            f"{result.result}: {result.detail}\n"
            f"replay: rollout-trace replay {result.repro} --cmd '{self.campaign.command.template}'"
        )

    def repr_failure(self, excinfo):
        if isinstance(excinfo.value, AssertionError):
            return str(excinfo.value)
        return super().repr_failure(excinfo)

    def reportinfo(self):
        return Path("reducer"), None, f"reducer::{self.spec.id}"


def pytest_configure(config):
    config.addinivalue_line("markers", "reducer_conformance: a case of the reducer conformance suite")
    config.stash[_STASH_RESULTS] = []


def pytest_collection_modifyitems(session, config, items):
    cmd = config.getoption("--reducer-cmd")
    if not cmd:
        return
    from ...validate import Profile
    from .cases import plan_cases
    from ..command import ReducerCommand
    from .fuzz import Campaign
    from .known import Known

    command = ReducerCommand(cmd, input=config.getoption("--reducer-input"), timeout=config.getoption("--reducer-timeout"))
    dialect = config.getoption("--reducer-dialect")
    known_path = config.getoption("--reducer-known")
    known = Known.load(known_path) if known_path else Known()
    campaign = Campaign(command, dialect, profile=Profile.parse(config.getoption("--reducer-profile")), shrink=True)
    suite = ReducerSuite.from_parent(session, name="reducer", nodeid="reducer")
    specs = plan_cases(dialect, config.getoption("--reducer-examples"), config.getoption("--reducer-seed"),
                       invariants=config.getoption("--reducer-invariant"))
    for spec in specs:
        items.append(ReducerCase.from_parent(suite, name=spec.id, spec=spec, campaign=campaign, known=known))
    config.stash[_KNOWN] = known


_KNOWN = pytest.StashKey[object]()


def pytest_sessionfinish(session, exitstatus):
    config = session.config
    # Stale entries need every case's result in one process: with pytest-xdist each
    # worker sees only its share, so the check runs only in a single-process session.
    if not config.getoption("--reducer-cmd", default=None) or _KNOWN not in config.stash:
        return
    if hasattr(config, "workerinput"):
        return
    from .fuzz import per_invariant
    from .known import judge

    results = config.stash[_STASH_RESULTS]
    verdict = judge(per_invariant(results), config.stash[_KNOWN])
    if verdict.stale:
        reporter = config.pluginmanager.get_plugin("terminalreporter")
        for inv, why in verdict.stale:
            if reporter:
                reporter.write_line(f"stale known result {inv}: {why}", red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
