"""The conformance suite as data: cases any language can run, built from the model.

``conformance/cases/`` holds, per dialect, valid bundles (the real ones of
``conformance/corpus/`` and generated ones), invalid ones (one per corruptible invariant)
and writer cases (a protocol script and the bundle it must give), each with an
``expected.json`` (schema: ``conformance/expected.schema.json``); ``cases/index.json`` lists
them. ``conformance/INTERPRETING.md`` says how to run them. ``rollout-trace conformance
build`` regenerates the cases (``--check``: exit 1 when they are stale), ``run`` runs them
against a command, ``tarball`` packs the suite as a plain folder.
"""

from __future__ import annotations

from importlib.util import find_spec
from pathlib import Path

# The suite's own version: its major changes when a case file's meaning changes (a runner
# written for 1.x reads every 1.y); the index also carries a digest of the cases' bytes.
SUITE_VERSION = "1.0"
EXPECTED_FORMAT = "rollout-trace-kit/conformance-expected/1"
INDEX_FORMAT = "rollout-trace-kit/conformance-index/1"
CASES = "cases"
INDEX = "index.json"
EXPECTED = "expected.json"
EXPECTED_SCHEMA = "expected.schema.json"


def suite_root() -> Path:
    """The suite's folder: ``conformance/`` in a checkout, ``rollout_trace_kit/conformance`` installed."""
    spec = find_spec("rollout_trace_kit.conformance")
    assert spec is not None and spec.submodule_search_locations is not None
    return Path(next(iter(spec.submodule_search_locations))).resolve()
