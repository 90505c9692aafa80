"""Codex tier: the differential engine end to end against each dialect's reference reducer.

It asserts that the engine runs, judges, triages and reports rates, and that the kit and the
reducer disagree on none of the mutants (issue 18's target; reference hangs are counted apart:
docs/reference/differential.md). ``RTK_DIFF_MUTANTS`` sets the mutants per dialect (default 1,000: 3,000 in all); the
run uses two worker processes, the mutants and the reducer's CODEX_HOME on ``/dev/shm``, as the
command does.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from rollout_trace_kit.codex.diff.engine import run
from rollout_trace_kit.codex.diff.judge import DISAGREE, OUTCOMES, CodexReference, codex_home, default_scratch
from rollout_trace_kit.codex.diff.mutators import LAYERS
from rollout_trace_kit.codex.diff.report import report_dict
from rollout_trace_kit.codex.install import REFERENCE_RELEASES

pytestmark = pytest.mark.codex
MUTANTS = int(os.environ.get("RTK_DIFF_MUTANTS", "1000"))


@pytest.mark.parametrize("dialect", sorted(REFERENCE_RELEASES))
def test_a_differential_run_per_dialect_reports_rates(dialect, codex_binaries, record_property):
    release = REFERENCE_RELEASES[dialect]
    with codex_home(default_scratch()) as home:
        r = run(release, dialect, CodexReference(codex_binaries[dialect], 10.0, Path(home)), MUTANTS, seed=0,
                jobs=2, shrink_tests=30)
    assert len(r.results) + r.skipped == MUTANTS
    assert len(r.results) > MUTANTS * 0.95  # a mutator finds something to change in nearly every draw
    doc = report_dict([r], "codex tier")["runs"][0]
    assert sum(doc[o] for o in OUTCOMES) == doc["mutants"] == len(r.results)
    assert set(doc["by_layer"]) == set(LAYERS)
    for case in r.cases:  # each class's shrunk bundle still shows its disagreement
        assert case.shrunk_judged is not None and case.shrunk_judged.outcome == DISAGREE, case.key
    assert doc["disagree"] == 0, [(c["id"], c["class"], c["example"]["reducer_error"], c["replay"]) for c in doc["classes"]]
    record_property("disagreement_rate", doc["disagreement_rate"])
    record_property("by_layer", {k: v["disagreement_rate"] for k, v in doc["by_layer"].items()})
