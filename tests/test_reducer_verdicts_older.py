"""The older v2 readers (0.165.0, 0.166.0, 0.167.2): `validate --profile reducer --release R` gives
R's own verdict, from R's measured facts (release records), on minimal bundles written as R
writes them (the log ends with rollout_ended: 0.165.0 and 0.166.0 know no recording_completed).

The Codex tier (``--codex -m codex``) replays every case through the real reducer of its release.
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import pytest

from rollout_trace_kit.bundle import TRACE
from rollout_trace_kit.validate import Options, Profile, validate_bundle

from .test_reducer_verdicts_diff23 import EXEC_BEGIN, EXEC_END, PATCH_BEGIN, PATCH_END, READ, TOO_DEEP, with_runtime

OLDER = ("0.165.0", "0.166.0", "0.167.2")
NESTING = frozenset({"REF.NESTING"})
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


def as_written_by(release: str, build: Callable[[str], Any]) -> Callable[[Path], Path]:
    """A v2 minimal bundle whose log ends with rollout_ended, as ``release`` writes it."""
    def write(directory: Path) -> Path:
        path = build("v2").write(directory)
        lines = (path / TRACE).read_bytes().splitlines()
        last = json.loads(lines[-1])
        last["payload"] = {"type": "rollout_ended", "status": "completed"}
        (path / TRACE).write_bytes(b"\n".join([*lines[:-1], json.dumps(last).encode()]) + b"\n")
        return path
    return write


@dataclass(frozen=True)
class Case:
    name: str
    releases: tuple[str, ...]
    build: Callable[[str], Any]
    expected: frozenset[str]  # the reducer-profile errors; empty: the release's reducer accepts it


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
]
PARAMS = [pytest.param(c, r, id=f"{c.name}-{r}") for c in CASES for r in c.releases]


def kit_errors(path: Path, release: str) -> set[str]:
    report = validate_bundle(path, Options(profile=Profile.REDUCER, release=release))
    return {f.invariant for f in report.findings if f.severity.value == "error"}


@pytest.mark.parametrize("case,release", PARAMS)
def test_reducer_profile_with_release_gives_that_releases_verdict(tmp_path, case: Case, release: str):
    path = as_written_by(release, case.build)(tmp_path / "bundle")
    assert kit_errors(path, release) == set(case.expected)


@pytest.mark.codex
@pytest.mark.parametrize("case,release", PARAMS)
def test_the_release_gives_the_expected_verdict(tmp_path, case: Case, release: str):
    from rollout_trace_kit.codex.install import ensure_codex

    binary = ensure_codex(release)
    if binary is None:
        pytest.fail(f"could not install Codex {release} from npm")
    path = as_written_by(release, case.build)(tmp_path / "bundle")
    run = subprocess.run([str(binary), "debug", "trace-reduce", str(path), "-o", str(tmp_path / "state.json")],
                         capture_output=True, text=True, timeout=120)
    assert (run.returncode == 0) is (not case.expected), run.stderr[:500]
