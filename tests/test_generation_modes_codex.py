"""Opt-in tier: the real reducers accept what the "schema" generation mode writes.

The widener (generators/_widen.py) only moves values where the reference reducers read any
value the schema allows; this checks that claim on every dialect's reference reducer, with
bundles of the fast builder (as fuzz campaigns use) and of the feature plan (every feature).
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from rollout_trace_kit.codex.install import trace_reduce
from rollout_trace_kit.generators import build_bundle, expand, feature_plan
from rollout_trace_kit.writer.core import written_dialects

pytestmark = pytest.mark.codex


@pytest.mark.parametrize("dialect", written_dialects())
@pytest.mark.parametrize("seed", range(8))
def test_the_reference_reducer_accepts_schema_mode_bundles(dialect, seed, codex_binaries, tmp_path):
    built = build_bundle(dialect, seed=seed * 101 + 3, events=50 + 30 * seed, mode="schema")
    planned = expand(replace(feature_plan(seed=seed), mode="schema"), dialect)
    for name, bundle in (("built", built), ("planned", planned)):
        path = bundle.write(tmp_path / name)
        real = trace_reduce(codex_binaries[dialect], path, tmp_path / f"{name}.state.json")
        assert real.accepted, (name, real.returncode, real.first_error)
