"""RELEASE.NUMBER_RANGE: a number beyond f64 (``1e400``) where an older release's serde_json builds a value
(``codex probe --numbers``: reducer.number_range). `codex diff --epoch-readers --seed 0` found 0.125.0 and
0.128.0 refusing `1e400` under an unknown event-payload key that the kit let pass.

The Codex tier (``--codex -m codex``) replays each case through the real reducer of its release.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import pytest

from rollout_trace_kit.validate import Options, Profile, validate_bundle

from ._helpers import real_reduce, reducer_errors
from .test_reducer_verdicts_bodies import USER, with_items

NUMBER = frozenset({"RELEASE.NUMBER_RANGE"})


def _edit(where: str) -> Callable[[Path], Path]:
    """A v1 bundle with one inference, ``1e400`` under an unknown key of ``where``."""
    def write(directory: Path) -> Path:
        path = with_items([USER])("v1").write(directory)
        lines = (path / "trace.jsonl").read_bytes().splitlines()
        n = next(i for i, line in enumerate(lines) if b'"inference_started"' in line)
        if where == "payload":
            lines[n] = lines[n].replace(b'"payload":{', b'"payload":{"zz":[{"a":1e400}],', 1)
        elif where == "envelope":
            lines[n] = lines[n][:-1] + b',"zz":1e400}'
        else:  # the request body
            body = path / "payloads" / "1.json"
            body.write_bytes(body.read_bytes().rstrip()[:-1] + b',"zz":-1e400}')
        (path / "trace.jsonl").write_bytes(b"".join(line + b"\n" for line in lines))
        return path
    return write


CASES = [
    ("payload", "0.125.0", NUMBER), ("payload", "0.135.0", NUMBER), ("payload", "0.143.0", frozenset()),
    ("body", "0.128.0", NUMBER), ("body", "0.162.0", frozenset()),
    ("envelope", "0.125.0", frozenset()), ("envelope", "0.164.0", frozenset()),
]
PARAMS = [pytest.param(w, r, e, id=f"{w}-{r}") for w, r, e in CASES]



@pytest.mark.parametrize("where,release,expected", PARAMS)
def test_reducer_profile_with_release_refuses_a_number_beyond_f64_where_the_release_does(tmp_path, where, release,
                                                                                         expected):
    assert reducer_errors(_edit(where)(tmp_path / "b"), release) == expected


def test_the_reference_reducer_reads_a_number_beyond_f64(tmp_path):
    path = _edit("payload")(tmp_path / "b")
    assert reducer_errors(path, "0.164.0") == set()
    assert validate_bundle(path, Options(profile=Profile.REDUCER)).ok


def test_compat_names_no_older_reader_of_a_number_beyond_f64(tmp_path):
    report = validate_bundle(_edit("payload")(tmp_path / "b"), Options(profile=Profile.REDUCER))
    assert report.releases is not None
    readers = report.releases["readers"]
    assert readers and not any(r.startswith(("0.125.0", "0.128.0", "0.131.0", "0.135.0")) for r in readers), readers


@pytest.mark.codex
@pytest.mark.parametrize("where,release,expected", PARAMS)
def test_the_release_gives_the_expected_verdict(tmp_path, where, release, expected):
    run = real_reduce(release, _edit(where)(tmp_path / "b"), tmp_path)
    assert run.accepted is (not expected), run.stderr[:500]
