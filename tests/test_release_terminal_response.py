"""A write_stdin terminal response under `--release` of the v1 epochs (`validate --profile reducer --release R`).

- The response (a write_stdin runtime end, or a dispatched write_stdin's result) is parsed as an exec end, so
  it needs the keys R needs in an exec end (its measured ``body_required``: `stdout` and more on 0.125.0 to
  0.143.0, `exit_code` from 0.162.0 on): RELEASE.BODY_REQUIRED (model.common.TERMINAL_RESPONSE_KINDS).
- A dispatched write_stdin's result is read by every release, whatever R's measured ``payloads_opened``
  infers for a tool kind its probe never ran (it had no dispatch).

The Codex tier (``--codex -m codex``) replays every case through R's real reducer.
"""

from __future__ import annotations

import pytest

from ._helpers import real_reduce, reducer_errors
from .test_reducer_verdicts_diff100k import CASES

BY_NAME = {c.name: c for c in CASES}
REQUIRED, TERMINAL = frozenset({"RELEASE.BODY_REQUIRED"}), frozenset({"BODY.TERMINAL_RUNTIME"})
OLDEST, LAST_BEFORE, NEWER = ("0.125.0", "0.143.0"), ("0.135.0",), ("0.162.0", "0.164.0")
EXPECTED = {  # case -> release -> the error IDs of its verdict (none: R reads the bundle)
    "write-stdin-runtime-start-of-an-exec": {**dict.fromkeys(OLDEST + LAST_BEFORE, REQUIRED), **dict.fromkeys(NEWER, frozenset())},
    "write-stdin-runtime-end-exit-code-only": {**dict.fromkeys(OLDEST, REQUIRED), **dict.fromkeys(NEWER, frozenset())},
    "dispatched-write-stdin-runtime-end-exit-code-only": {**dict.fromkeys(OLDEST, REQUIRED), "0.162.0": frozenset()},
    "dispatched-write-stdin-with-a-runtime-end-result-empty": {**dict.fromkeys(OLDEST, REQUIRED), "0.162.0": frozenset()},
    "dispatched-write-stdin-result-empty": {**dict.fromkeys(OLDEST, TERMINAL | REQUIRED), **dict.fromkeys(NEWER, TERMINAL)},
    "dispatched-write-stdin-failed-result-empty": {"0.135.0": TERMINAL | REQUIRED, "0.162.0": TERMINAL},
    "dispatched-write-stdin-result-null": {"0.125.0": TERMINAL, "0.162.0": TERMINAL},
    "dispatched-write-stdin-result-direct-response": dict.fromkeys(OLDEST + NEWER, frozenset()),
}
PARAMS = [pytest.param(name, release, ids, id=f"{name}-{release}")
          for name, by_release in EXPECTED.items() for release, ids in by_release.items()]


@pytest.mark.parametrize("name,release,ids", PARAMS)
def test_the_kit_gives_the_releases_verdict(tmp_path, name, release, ids):
    bundle = BY_NAME[name].build("v1").write(tmp_path / "bundle")
    assert reducer_errors(bundle, release) == ids


@pytest.mark.codex
@pytest.mark.parametrize("name,release,ids", PARAMS)
def test_the_release_reads_exactly_the_bundles_the_kit_accepts(tmp_path, name, release, ids):
    bundle = BY_NAME[name].build("v1").write(tmp_path / "bundle")
    run = real_reduce(release, bundle, tmp_path)
    assert (run.returncode == 0) is (not ids), run.stderr[:500]
