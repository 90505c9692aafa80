"""A runtime payload is parsed by the runtime's own kind where the runtime event carries one.

Measured: Codex 0.169.0 and 0.171.0 accept a call started as ``exec_command`` whose runtime
events say ``apply_patch`` (the patch runtime body is read as a patch); the kit used to read
it as an exec body and report BODY.TERMINAL_RUNTIME (found by the schema generation mode's
experiments, issue 19). v1 runtime events carry no kind: there the call's kind decides.
"""

from __future__ import annotations

import orjson
import pytest

from rollout_trace_kit.bundle import Bundle
from rollout_trace_kit.codex.install import trace_reduce
from rollout_trace_kit.generators import build_bundle
from rollout_trace_kit.validate import Options, Profile, validate_bundle


def relabelled(dialect: str) -> Bundle:
    """A generated bundle whose first apply_patch call is started as exec_command."""
    for seed in range(200):
        bundle = build_bundle(dialect, seed=seed, events=160)
        for i, line in enumerate(bundle.lines):
            event = orjson.loads(line)
            p = event["payload"]
            if p["type"] == "tool_call_started" and p["kind"] == {"type": "apply_patch"}:
                p["kind"] = {"type": "exec_command"}
                bundle.lines[i] = orjson.dumps(event)
                return bundle
    raise AssertionError("no generated bundle with an apply_patch call")


@pytest.mark.parametrize("dialect", ["v2", "v3"])
def test_the_runtime_kind_decides_how_its_payload_is_read(dialect, tmp_path):
    path = relabelled(dialect).write(tmp_path / "b")
    report = validate_bundle(path, Options(profile=Profile.REDUCER, dialect=dialect))
    assert report.ok and not report.findings, [(f.invariant, f.message) for f in report.findings]


@pytest.mark.codex
@pytest.mark.parametrize("dialect", ["v2", "v3"])
def test_the_real_reducer_reads_it_by_the_runtime_kind_too(dialect, codex_binaries, tmp_path):
    path = relabelled(dialect).write(tmp_path / "b")
    real = trace_reduce(codex_binaries[dialect], path, tmp_path / "state.json")
    assert real.accepted, real.first_error
