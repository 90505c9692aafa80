"""The pytest plugin, tested with pytester: cases are a collector's items, options can sit in
the ini file, known failures are xfails and stale entries fail the session."""

from __future__ import annotations

import json

from ._helpers import kit_reducer

pytest_plugins = ["pytester"]

FORGET = kit_reducer("--forget", "SEQ.NO_GAP")
CORRECT = kit_reducer()


def _ini(pytester, cmd: str, **extra) -> None:
    settings = {"reducer_cmd": cmd, "reducer_examples": "6", "reducer_seed": "2",
                "reducer_invariant": ["SEQ.NO_GAP", "THREAD.UNKNOWN"], **extra}
    lines = ["[tool.pytest.ini_options]"] + [f"{k} = {json.dumps(v)}" for k, v in settings.items()]
    pytester.makefile(".toml", pyproject="\n".join(lines) + "\n")


def test_collect_only_lists_the_cases_from_the_ini_file(pytester):
    _ini(pytester, FORGET)
    result = pytester.runpytest_subprocess("--collect-only", "-q", "-p", "no:cacheprovider")
    ids = [l for l in result.outlines if l.startswith("reducer::")]
    assert len(ids) == 6 and all(i.startswith(("reducer::v2-VALID-", "reducer::v2-SEQ.NO_GAP-", "reducer::v2-THREAD.UNKNOWN-"))
                                 for i in ids)
    assert result.ret == 0
    tree = pytester.runpytest_subprocess("--collect-only", "-p", "no:cacheprovider")
    tree.stdout.fnmatch_lines(["*<ReducerSuite reducer>*", "*<ReducerCase v2-SEQ.NO_GAP-*>*"])


def test_failures_carry_the_finding_and_a_replay_and_the_command_line_wins(pytester):
    _ini(pytester, CORRECT)  # the ini's reducer is correct; the command line's forgets a rule
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--reducer-cmd", FORGET)
    outcomes = result.parseoutcomes()
    assert result.ret == 1 and outcomes["failed"] >= 1 and outcomes["passed"] >= 3
    result.stdout.fnmatch_lines([
        "*fail v2-SEQ.NO_GAP-*: accepted a bundle breaking SEQ.NO_GAP*",
        "*kit finding: SEQ.NO_GAP [[]reducer[]] trace.jsonl, line *, seq *",
        "*replay: rollout-trace replay */reducer-fuzz-failures/v2-SEQ.NO_GAP-* --cmd *--forget SEQ.NO_GAP*",
    ])
    assert all(l.split()[1].startswith("reducer::v2-SEQ.NO_GAP-") for l in result.outlines if l.startswith("FAILED "))


def test_known_failures_are_xfails_and_stale_entries_fail_the_session(pytester):
    known = pytester.path / "known.json"
    known.write_text(json.dumps({"format": "rollout-trace-kit/known-results/1",
                                 "entries": {"SEQ.NO_GAP": {"behaviour": "accepts", "reason": "test"}}}))
    _ini(pytester, FORGET, reducer_known=str(known))
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    assert result.ret == 0 and result.parseoutcomes()["xfailed"] >= 1
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--reducer-cmd", CORRECT)
    assert result.ret == 1
    result.stdout.fnmatch_lines(["*stale known result SEQ.NO_GAP*"])


def test_a_reducer_that_cannot_start_is_a_usage_error(pytester):
    _ini(pytester, "no-such-reducer-xyz {bundle}")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    assert result.ret in (2, 4)  # interrupted / usage error: never a passing or failing run
    assert "preflight: the reducer cannot start" in "\n".join(result.outlines + result.errlines)
    bad = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--reducer-examples", "0")
    assert bad.ret == 4 and any("examples must be >= 1" in l for l in bad.errlines)


def test_output_oracles_from_the_ini_file(pytester):
    drop = kit_reducer("--drop-entity", "thread")
    _ini(pytester, drop, reducer_oracle=["coverage"])
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    assert result.ret == 1
    result.stdout.fnmatch_lines(["*wrong-output v2-VALID-*: coverage: the output lacks thread *"])


def test_a_user_oracle_from_the_ini_file_and_one_that_never_applies_is_a_usage_error(pytester):
    pytester.makepyfile(my_oracles=(
        "from rollout_trace_kit.conformance.reducer.api import failed, not_applicable\n"
        "def no_threads(facts):\n"
        "    return failed(f'{len(facts.threads)} thread(s)') if facts.threads else not_applicable('none')\n"
        "def never(facts):\n"
        "    return not_applicable('judges nothing')\n"))
    _ini(pytester, CORRECT, reducer_oracle=["my_oracles:no_threads"])
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    assert result.ret == 1
    result.stdout.fnmatch_lines(["*wrong-output v2-VALID-*: my_oracles:no_threads: * thread(s)*"])
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--reducer-oracle", "my_oracles:never")
    assert result.ret == 4  # a usage error, like the command's exit 2
    result.stdout.fnmatch_lines(["*oracle my_oracles:never never applied: not applicable to any of the * judges nothing*"])


def test_the_generation_mode_from_the_ini_file(pytester):
    """reducer_mode = "schema" builds the cases as the schema allows (other case ids: the mode
    is part of what rebuilds a case); an unknown mode is a usage error."""
    _ini(pytester, CORRECT, reducer_mode="schema")
    schema_ids = [l for l in pytester.runpytest_subprocess("--collect-only", "-q", "-p", "no:cacheprovider").outlines
                  if l.startswith("reducer::")]
    _ini(pytester, CORRECT)
    release_ids = [l for l in pytester.runpytest_subprocess("--collect-only", "-q", "-p", "no:cacheprovider").outlines
                   if l.startswith("reducer::")]
    assert len(schema_ids) == len(release_ids) == 6 and not set(schema_ids) & set(release_ids)
    _ini(pytester, CORRECT, reducer_mode="schema")
    assert pytester.runpytest_subprocess("-p", "no:cacheprovider").ret == 0  # the kit's own reducer passes
    bad = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--reducer-mode", "wild")
    assert bad.ret == 4 and any("mode must be one of" in l for l in bad.errlines)


def test_a_known_hang_costs_one_timeout_per_session_with_or_without_xdist(pytester):
    """The ruling: a known hang costs at most one timeout per campaign. The planted reducer hangs
    on every corrupt bundle and counts each time it does; the session pays one timeout, the
    other cases of the known hang are skipped as not run, and the stale check does not count them."""
    import uuid

    from ._helpers import PY, REDUCERS

    known = pytester.path / "known.json"
    known.write_text(json.dumps({"format": "rollout-trace-kit/known-results/1",
                                 "entries": {"SEQ.NO_GAP": {"behaviour": "hangs", "reason": "a known hang"}}}))
    for extra in ((), ("-n", "2")):
        count = pytester.path / f"hangs{len(extra)}.txt"
        hang = f"{PY} {REDUCERS / 'hang.py'} {{bundle}} rtk-hang-{uuid.uuid4().hex} {count}"
        _ini(pytester, hang, reducer_known=str(known), reducer_timeout="2", reducer_invariant=["SEQ.NO_GAP"])
        result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-rs", *extra)
        outcomes = result.parseoutcomes()
        assert result.ret == 0, result.outlines[-20:]
        assert len(count.read_text().splitlines()) == 1  # one timeout, however many cases of the hang
        assert outcomes.get("xfailed") == 1 and outcomes.get("passed") == 1 and outcomes.get("skipped") == 4, outcomes
        result.stdout.fnmatch_lines(["*not run: a case of SEQ.NO_GAP, a known hang, already hung*"])


def test_the_release_from_the_ini_file(pytester):
    """reducer_release = "0.165.0": bundles as 0.165.0 writes them, judged by its rules (other case
    ids: the release is part of what rebuilds a case); the kit's reducer judging as 0.165.0 passes."""
    def ids():
        return [l for l in pytester.runpytest_subprocess("--collect-only", "-q", "-p", "no:cacheprovider").outlines
                if l.startswith("reducer::")]

    _ini(pytester, CORRECT)
    plain = ids()
    _ini(pytester, kit_reducer("--release", "0.165.0"), reducer_release="0.165.0")
    as_release = ids()
    assert len(plain) == len(as_release) == 6 and not set(plain) & set(as_release)
    assert pytester.runpytest_subprocess("-p", "no:cacheprovider").ret == 0
    bad = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--reducer-dialect", "v1")
    assert bad.ret == 4 and any("writes dialect v2, not v1" in l for l in bad.errlines)
