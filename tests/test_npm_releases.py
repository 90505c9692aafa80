"""`rollout-trace codex releases --missing`: published releases the release table lacks.

The fast tests feed a fixed npm answer; the Codex tier asks npm itself and fails when it
lists a release, published more than 7 days ago, that the table lacks (the ruling of issue 18).
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timedelta, timezone

import pytest

from rollout_trace_kit.cli import main
from rollout_trace_kit.codex import npm_releases
from rollout_trace_kit.codex.npm_releases import Missing, NpmError, missing, npm_view, overdue
from rollout_trace_kit.model import releases as rel

NOW = datetime(2026, 12, 5, tzinfo=timezone.utc)
DOC = {
    "versions": ["0.1.2504172351", "0.100.0", "0.164.0", "0.169.0", "0.169.1", "0.172.0-alpha.1", "0.172.0", "0.173.0"],
    "time": {"created": "2025-04-16T00:00:00Z", "0.169.1": "2026-11-17T22:26:21+00:00",
             "0.172.0": "2026-12-01T10:00:00.000Z"},
}


def test_lists_plain_releases_from_the_first_writer_that_the_table_lacks():
    found = missing(DOC, table_versions=["0.164.0", "0.169.0"])
    # 0.100.0 predates the first trace writer; an alpha is no release
    assert [m.version for m in found] == ["0.169.1", "0.172.0", "0.173.0"]
    assert found[0].published == datetime(2026, 11, 17, 22, 26, 21, tzinfo=timezone.utc)
    assert found[2].published is None


def test_overdue_is_older_than_the_days_given_and_an_undated_release_counts():
    found = missing(DOC, table_versions=["0.164.0", "0.169.0"])
    assert [m.version for m in overdue(found, 7, NOW)] == ["0.169.1", "0.173.0"]  # 0.172.0 is 4 days old
    assert [m.version for m in overdue(found, 0, NOW)] == ["0.169.1", "0.172.0", "0.173.0"]


def test_the_committed_table_has_0_169_1():
    assert rel.release("0.169.1") is not None and rel.release("0.169.1").status == "probed"
    assert missing(DOC) == [Missing("0.172.0", datetime(2026, 12, 1, 10, tzinfo=timezone.utc)), Missing("0.173.0", None)]


def _data_digest() -> str:
    h = hashlib.sha256()
    for p in sorted(rel.data_dir().iterdir()):
        h.update(p.name.encode() + p.read_bytes())
    return h.hexdigest()


@pytest.mark.parametrize("fmt", ["human", "json"])
def test_cli_exit_status_and_it_writes_nothing(monkeypatch, capsys, fmt):
    monkeypatch.setattr(npm_releases, "npm_view", lambda timeout=120: DOC)
    before = _data_digest()
    assert main(["codex", "releases", "--missing", "--older-than", "30", "--format", fmt]) == 1  # 0.173.0 has no date
    out = capsys.readouterr().out
    assert "0.172.0" in out and "0.173.0" in out and "0.169.1" not in out
    if fmt == "json":
        rows = json.loads(out)["missing"]
        assert [(r["version"], r["overdue"]) for r in rows] == [("0.172.0", False), ("0.173.0", True)]
    monkeypatch.setattr(npm_releases, "npm_view", lambda timeout=120: {"versions": ["0.169.1"], "time": {}})
    assert main(["codex", "releases", "--missing", "--format", fmt]) == 0
    assert _data_digest() == before


def test_cli_npm_failure_is_an_environment_error(monkeypatch, capsys):
    def fail(timeout=120):
        raise NpmError("npm view failed: E404")
    monkeypatch.setattr(npm_releases, "npm_view", fail)
    assert main(["codex", "releases", "--missing"]) == 2
    assert "E404" in capsys.readouterr().err
    assert main(["codex", "releases", "--missing", "--refresh"]) == 2


@pytest.mark.codex
def test_npm_lists_no_release_older_than_7_days_that_the_table_lacks():
    late = overdue(missing(npm_view()), 7)
    assert not late, ("probe and commit: " + ", ".join(
        f"{m.version} ({m.published:%Y-%m-%d})" if m.published else m.version for m in late))
