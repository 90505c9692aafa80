"""The payloads the older v1 readers open (``codex probe V --depths``: reducer.payloads_opened, measured on
0.125.0 to 0.162.0 with the corpus made readable for each). `codex diff --epoch-readers --seed 0` found
0.125.0, 0.135.0 and 0.162.0 reading a bundle whose MCP runtime payload is not JSON (they never open it)
where the kit said REF.JSON. 0.164.0 opens it (it parses a runtime start's MCP invocation).

The Codex tier (``--codex -m codex``) replays each case through the real reducer of its release.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import pytest


from ._helpers import real_reduce, reducer_errors
from .test_reducer_verdicts_bodies import ROOT, TURN, Payloads, minimal, tool_started, turn

NOT_JSON = b'{"call_id": "call-1",'


def mcp_call(start: bytes | None, end: bytes | None) -> Callable[[Path], Path]:
    """A v1 MCP tool call (kind other) with a runtime start and end whose payload files hold these bytes."""
    def write(directory: Path) -> Path:
        ps = Payloads("v1")
        begin = {"call_id": "call-1", "invocation": {"server": "mockmcp", "tool": "echo", "arguments": {}}}
        events = [
            tool_started({"type": "other", "name": "echo"}, label="echo"),
            {"type": "tool_call_runtime_started", "tool_call_id": "call-1",
             "runtime_payload": ps.add("tool_runtime_event", start if start is not None else begin)},
            {"type": "tool_call_runtime_ended", "tool_call_id": "call-1", "status": "completed",
             "runtime_payload": ps.add("tool_runtime_event", end if end is not None else
                                       {**begin, "duration": {"secs": 0, "nanos": 1}, "result": {"Ok": {"content": []}}})},
            {"type": "tool_call_ended", "tool_call_id": "call-1", "status": "completed", "result_payload": None},
        ]
        return minimal("v1", [turn(), *((ROOT, TURN, e) for e in events)], ps.bodies).write(directory)
    return write


REF_JSON = frozenset({"REF.JSON"})
CASES = [
    ("start-not-json", mcp_call(NOT_JSON, None), "0.125.0", frozenset()),
    ("start-not-json", mcp_call(NOT_JSON, None), "0.135.0", frozenset()),
    ("start-not-json", mcp_call(NOT_JSON, None), "0.162.0", frozenset()),
    ("start-not-json", mcp_call(NOT_JSON, None), "0.164.0", REF_JSON),
    ("end-not-json", mcp_call(None, NOT_JSON), "0.135.0", frozenset()),
    ("end-not-json", mcp_call(None, NOT_JSON), "0.143.0", REF_JSON),
]
PARAMS = [pytest.param(b, r, e, id=f"{n}-{r}") for n, b, r, e in CASES]



@pytest.mark.parametrize("build,release,expected", PARAMS)
def test_reducer_profile_with_release_opens_what_the_release_opens(tmp_path, build, release, expected):
    assert reducer_errors(build(tmp_path / "b"), release) == expected


@pytest.mark.codex
@pytest.mark.parametrize("build,release,expected", PARAMS)
def test_the_release_gives_the_expected_verdict(tmp_path, build, release, expected):
    run = real_reduce(release, build(tmp_path / "b"), tmp_path)
    assert run.accepted is (not expected), run.stderr[:500]
