"""The older v2 readers (0.165.0, 0.166.0, 0.167.2): `validate --profile reducer --release R` gives
R's own verdict, from R's measured facts (release records), on minimal bundles written as R
writes them (the log ends with rollout_ended: 0.165.0 and 0.166.0 know no recording_completed).

The Codex tier (``--codex -m codex``) replays every case through the real reducer of its release.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import pytest

from rollout_trace_kit.bundle import TRACE
from rollout_trace_kit.validate import Options, Profile, validate_bundle

from ._helpers import real_reduce
from .test_reducer_verdicts_bodies import (
    ROOT, TURN, USER, Payloads, call, minimal, output, tool_started, turn, with_items,
)
from .test_reducer_verdicts_dispatch import ACTIVITY, CLOSE_END, SPAWN_END, with_agent_end
from .test_reducer_verdicts_diff23 import EXEC_BEGIN, EXEC_END, PATCH_BEGIN, PATCH_END, READ, TOO_DEEP, with_runtime

OLDER = ("0.165.0", "0.166.0", "0.167.2")
NESTING = frozenset({"REF.NESTING"})
MCP_INVOCATION = frozenset({"BODY.MCP_INVOCATION"})
WAIT_BEGIN = {"call_id": "call-1", "sender_thread_id": "01a2139c-79d1-72d3-817b-c66966ef3cd9", "receiver_thread_ids": []}
WAIT_END = {**WAIT_BEGIN, "statuses": {}}
MCP_BEGIN = {"call_id": "call-1", "invocation": {"server": "mockmcp", "tool": "echo", "arguments": {"text": "x"}}}
MCP_END = {**MCP_BEGIN, "duration": {"secs": 0, "nanos": 1}, "result": {"Ok": {"content": []}}}


def with_mcp_runtime(begin: Any, end: Any) -> Callable[[str], Any]:
    """An MCP tool call (kind ``other``) whose runtime start names its own kind ``mcp``, as Codex writes it."""
    plain = with_runtime("other", begin, end)

    def build(dialect: str) -> Any:
        bundle = plain(dialect)
        lines = []
        for line in bundle.lines:
            event = json.loads(line)
            p = event["payload"]
            if p["type"] == "tool_call_started":
                p["kind"] = {"type": "other", "name": "echo"}
            elif p["type"] == "tool_call_runtime_started":
                p["kind"] = {"type": "mcp", "server": "mockmcp", "tool": "echo"}
            lines.append(json.dumps(event).encode())
        bundle.lines = lines
        return bundle
    return build


def as_written_by(release: str, build: Callable[[str], Any], edit: Callable[[Path], None] | None = None
                  ) -> Callable[[Path], Path]:
    """A v2 minimal bundle whose log ends with rollout_ended, as ``release`` writes it (then ``edit``)."""
    def write(directory: Path) -> Path:
        path = build("v2").write(directory)
        lines = (path / TRACE).read_bytes().splitlines()
        last = json.loads(lines[-1])
        last["payload"] = {"type": "rollout_ended", "status": "completed"}
        (path / TRACE).write_bytes(b"\n".join([*lines[:-1], json.dumps(last).encode()]) + b"\n")
        if edit is not None:
            edit(path)
        return path
    return write


def with_result(result: Any) -> Callable[[str], Any]:
    """An exec_command call that ends with a result payload ``result`` (bytes: stored as they are)."""
    def build(dialect: str) -> Any:
        ps = Payloads(dialect)
        started = tool_started("exec_command")
        ended = {"type": "tool_call_ended", "tool_call_id": "call-1", "status": "completed",
                 "result_payload": ps.add("tool_result", result)}
        return minimal(dialect, [turn(), (ROOT, TURN, started), (ROOT, TURN, ended)], ps.bodies)
    return build


def without_payload(n: int) -> Callable[[Path], None]:
    def edit(path: Path) -> None:
        (path / "payloads" / f"{n}.json").unlink()
    return edit


def with_envelopes(change: Callable[[list[dict]], None]) -> Callable[[Path], None]:
    """The log's events edited by ``change`` (a list of the decoded events)."""
    def edit(path: Path) -> None:
        events = [json.loads(line) for line in (path / TRACE).read_bytes().splitlines()]
        change(events)
        (path / TRACE).write_bytes(b"".join(json.dumps(e).encode() + b"\n" for e in events))
    return edit


def _seq_from(start: int, gap_at: int | None = None):
    def change(events: list[dict]) -> None:
        for i, e in enumerate(events):
            e["seq"] = start + i + (1 if gap_at is not None and i >= gap_at else 0)
    return change


def _other_rollout(events: list[dict]) -> None:
    events[2]["rollout_id"] = "01a2139c-0000-7000-8000-000000000000"


def _repeated_seq(events: list[dict]) -> None:
    events[3]["seq"] = events[2]["seq"]
    for e in events[4:]:
        e["seq"] -= 1


RESULT = {"type": "direct_response", "response_item": {"type": "function_call_output", "call_id": "call-1", "output": "ok"}}


@dataclass(frozen=True)
class Case:
    name: str
    releases: tuple[str, ...]
    build: Callable[[str], Any]
    expected: frozenset[str]  # the reducer-profile errors; empty: the release's reducer accepts it
    edit: Callable[[Path], None] | None = None  # applied to the written bundle


ENVELOPE_CASES = (
    ("seq-gap", with_envelopes(_seq_from(1, gap_at=3)), "SEQ.NO_GAP"),
    ("seq-from-two", with_envelopes(_seq_from(2)), "SEQ.STARTS_AT_ONE"),
    ("seq-repeated", with_envelopes(_repeated_seq), "SEQ.INCREASING"),
    ("another-rollout-id", with_envelopes(_other_rollout), "ENVELOPE.ROLLOUT_ID"),
    ("result-file-missing", without_payload(1), "REF.FILE_EXISTS"),
)
CASES = [
    # 0.165.0 parses every runtime body into a value (serde_json's recursion limit: 127 levels read,
    # measured by `codex probe --depths`); 0.166.0 on parse a patch, wait or MCP runtime start as little as 0.169.0
    Case("patch-start-nested-deep", ("0.165.0",), with_runtime("apply_patch", {**PATCH_BEGIN, "zz": TOO_DEEP}, PATCH_END),
         NESTING),
    Case("patch-start-nested-deep", ("0.166.0", "0.167.2"),
         with_runtime("apply_patch", {**PATCH_BEGIN, "zz": TOO_DEEP}, PATCH_END), frozenset()),
    Case("patch-start-nested-as-deep-as-read", OLDER, with_runtime("apply_patch", {**PATCH_BEGIN, "zz": READ}, PATCH_END),
         frozenset()),
    Case("mcp-start-nested-deep", ("0.165.0",), with_mcp_runtime({**MCP_BEGIN, "zz": TOO_DEEP}, MCP_END), NESTING),
    Case("mcp-end-nested-deep", ("0.165.0",), with_mcp_runtime(MCP_BEGIN, {**MCP_END, "zz": TOO_DEEP}), NESTING),
    Case("mcp-start-nested-deep", ("0.166.0", "0.167.2"), with_mcp_runtime({**MCP_BEGIN, "zz": TOO_DEEP}, MCP_END),
         frozenset()),
    Case("wait-start-nested-deep", ("0.165.0",), with_runtime("wait_agent", {**WAIT_BEGIN, "zz": TOO_DEEP}, WAIT_END),
         NESTING),
    Case("wait-start-nested-deep", ("0.166.0", "0.167.2"),
         with_runtime("wait_agent", {**WAIT_BEGIN, "zz": TOO_DEEP}, WAIT_END), frozenset()),
    Case("exec-start-nested-deep", OLDER, with_runtime("exec_command", {**EXEC_BEGIN, "zz": TOO_DEEP}, EXEC_END), NESTING),
    # 0.165.0 and 0.166.0 enforce no envelope ordering or identity rule, 0.167.2 on all of them
    # (measured: reducer.envelope_rules); they open only the payloads their handlers read, 0.167.2 on
    # every one (reducer.payloads_opened): a tool's result file missing or not JSON
    *(Case(name, ("0.165.0", "0.166.0"), with_result(RESULT), frozenset(), edit) for name, edit, _ in ENVELOPE_CASES),
    *(Case(name, ("0.167.2",), with_result(RESULT), frozenset({inv}), edit) for name, edit, inv in ENVELOPE_CASES),
    # 0.165.0 parses a runtime start's `invocation` as an MCP invocation, whatever the tool (model:
    # MCP_INVOCATION_UNTIL); 0.166.0 on do not
    Case("mcp-start-invocation-without-server", ("0.165.0",),
         with_mcp_runtime({**MCP_BEGIN, "invocation": {"tool": "echo"}}, MCP_END), MCP_INVOCATION),
    Case("exec-start-invocation-null", ("0.165.0",), with_runtime("exec_command", {**EXEC_BEGIN, "invocation": None}, EXEC_END),
         MCP_INVOCATION),
    Case("mcp-start-invocation-without-server", ("0.166.0", "0.167.2"),
         with_mcp_runtime({**MCP_BEGIN, "invocation": {"tool": "echo"}}, MCP_END), frozenset()),
    Case("exec-start-invocation-null", ("0.166.0", "0.167.2"),
         with_runtime("exec_command", {**EXEC_BEGIN, "invocation": None}, EXEC_END), frozenset()),
    Case("mcp-end-invocation-without-server", OLDER,
         with_mcp_runtime(MCP_BEGIN, {**MCP_END, "invocation": {"tool": "echo"}}), frozenset()),
    # 0.165.0 compares an output's content when its call id comes again, as 0.164.0 does (model:
    # OUTPUTS_COMPARED_UNTIL); 0.166.0 on do not (found by `codex diff --release 0.165.0`, seed 0)
    Case("output-reused-with-other-content", ("0.165.0",), with_items([USER, call(), output("a"), output("b")]),
         frozenset({"BODY.CALL_ID_CONTENT"})),
    Case("output-reused-with-other-content", ("0.166.0", "0.167.2"), with_items([USER, call(), output("a"), output("b")]),
         frozenset()),
    Case("output-resent", OLDER, with_items([USER, call(), output("a"), output("a")]), frozenset()),
    # 0.166.0 opens no MCP runtime payload, 0.165.0 and 0.167.2 do (reducer.payloads_opened, by the call's
    # tool kind; found by `codex diff --release 0.166.0`, seed 0)
    Case("mcp-runtime-file-missing", ("0.166.0",), with_mcp_runtime(MCP_BEGIN, MCP_END), frozenset(), without_payload(1)),
    Case("mcp-runtime-file-missing", ("0.165.0", "0.167.2"), with_mcp_runtime(MCP_BEGIN, MCP_END),
         frozenset({"REF.FILE_EXISTS"}), without_payload(1)),
    Case("mcp-runtime-not-json", ("0.166.0",), with_mcp_runtime(MCP_BEGIN, b"{not json"), frozenset()),
    Case("mcp-runtime-not-json", ("0.165.0", "0.167.2"), with_mcp_runtime(MCP_BEGIN, b"{not json"), frozenset({"REF.JSON"})),
    # a collab end is parsed whole, as by 0.164.0 and 0.169.0 (model: COLLAB_END_BY_KIND)
    Case("spawn-collab-end-whole", OLDER, with_agent_end("spawn_agent", SPAWN_END), frozenset()),
    Case("spawn-collab-end-without-prompt", OLDER,
         with_agent_end("spawn_agent", {k: v for k, v in SPAWN_END.items() if k != "prompt"}), ACTIVITY),
    Case("close-collab-end-status-bare-completed", OLDER, with_agent_end("close_agent", {**CLOSE_END, "status": "completed"}),
         ACTIVITY),
    Case("result-not-json", ("0.165.0", "0.166.0"), with_result(b"{not json"), frozenset()),
    Case("result-not-json", ("0.167.2",), with_result(b"{not json"), frozenset({"REF.JSON"})),
]
PARAMS = [pytest.param(c, r, id=f"{c.name}-{r}") for c in CASES for r in c.releases]


def kit_errors(path: Path, release: str) -> set[str]:
    report = validate_bundle(path, Options(profile=Profile.REDUCER, release=release))
    return {f.invariant for f in report.findings if f.severity.value == "error"}


@pytest.mark.parametrize("case,release", PARAMS)
def test_reducer_profile_with_release_gives_that_releases_verdict(tmp_path, case: Case, release: str):
    path = as_written_by(release, case.build, case.edit)(tmp_path / "bundle")
    assert kit_errors(path, release) == set(case.expected)


@pytest.mark.codex
@pytest.mark.parametrize("case,release", PARAMS)
def test_the_release_gives_the_expected_verdict(tmp_path, case: Case, release: str):
    run = real_reduce(release, as_written_by(release, case.build, case.edit)(tmp_path / "bundle"), tmp_path)
    assert run.accepted is (not case.expected), run.stderr[:500]


@pytest.mark.parametrize("case,release", PARAMS)
def test_compat_names_the_release_a_reader_exactly_when_validate_release_is_clean(tmp_path, case: Case, release: str):
    """compat judges a release that reads the bundle its own way with a pass of its own (issue 18, item 6)."""
    from rollout_trace_kit.validate.compat_cli import judge_bundle

    from .test_compat_property import _covers

    path = as_written_by(release, case.build, case.edit)(tmp_path / "bundle")
    row = judge_bundle(path)
    assert _covers(row["readers"], release) is (not case.expected), row["readers"]


@pytest.mark.parametrize("release,expected", [("0.162.0", set()), ("0.164.0", {"BODY.MCP_INVOCATION"})])
def test_a_v1_reader_parses_a_runtime_invocation_from_0_164_0_on(tmp_path, release, expected):
    """The MCP invocation of a runtime start is parsed by 0.164.0 and 0.165.0 only (model:
    MCP_INVOCATION_SINCE): 0.162.0 takes any (measured; a patch start, whose body every v1 reader takes)."""
    path = with_runtime("apply_patch", {**PATCH_BEGIN, "invocation": None}, PATCH_END)("v1").write(tmp_path / "b")
    assert kit_errors(path, release) == expected
