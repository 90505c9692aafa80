"""``rollout-trace codex diff``: the kit's reducer profile against the real Codex reducer of a release.

Mutants of real and generated bundles (:mod:`.mutators`, one layer each) are judged by both
(:mod:`.judge`); a disagreement is shrunk (:mod:`.shrink`) and saved with both verdicts, and the
run reports the disagreement rate per dialect, layer, mutator and release (:mod:`.report`).
"""
