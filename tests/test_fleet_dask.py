"""A fleet on Dask's distributed scheduler (issue 21, item 4): the kit's Python API mapped
over bundles by a LocalCluster of worker processes, the rows gathered as JSON Lines that
pandas and DuckDB read. The opt-in `dask` tier: `pip install -e '.[dask]' pandas duckdb`,
`pytest -m dask` (.ci/run)."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from rollout_trace_kit.corpus import corpus_root
from rollout_trace_kit.validate import Options, validate_bundle
from rollout_trace_kit.validate.table import COLUMNS, bundle_paths, finding_rows, judge_rows

pytestmark = pytest.mark.dask


@pytest.fixture(scope="module")
def fleet(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("fleet")
    for release in ("codex-0.169.0", "codex-0.171.0"):
        for name in ("tools", "basic"):
            shutil.copytree(corpus_root() / release / name, root / release / name)
    broken = root / "codex-0.169.0" / "broken"
    shutil.copytree(corpus_root() / "codex-0.169.0" / "tools", broken)
    with open(broken / "trace.jsonl", "a") as f:
        f.write("not json\n")
    return root


def test_rows_count_findings_per_invariant_and_name_clean_bundles(fleet):
    broken = str(fleet / "codex-0.169.0" / "broken")
    rows = judge_rows(broken, "0.169.0")
    assert all(set(r) == set(COLUMNS) for r in rows)
    assert {(r["invariant"], r["findings"]) for r in rows} >= {("LINE.JSON", 1)}
    assert all(r["release"] == "0.169.0" and r["ok"] is False for r in rows)
    [clean] = judge_rows(str(fleet / "codex-0.169.0" / "tools"), "0.169.0")
    assert clean["invariant"] is None and clean["findings"] == 0 and clean["ok"] is True
    capped = validate_bundle(broken, Options(max_findings=1))
    assert sum(r["findings"] for r in finding_rows(capped)) == sum(r["findings"] for r in finding_rows(
        validate_bundle(broken, Options())))  # findings past --max-findings still count


def test_a_local_cluster_of_worker_processes_builds_the_table(fleet, tmp_path):
    from dask.distributed import Client, LocalCluster, as_completed

    paths = bundle_paths(fleet)
    assert len(paths) == 5
    releases = ["0.169.0", "0.171.0"]
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, \
            Client(cluster) as client:
        futures = [client.submit(judge_rows, p, r, pure=False) for p in paths for r in releases]
        table = tmp_path / "findings.jsonl"
        with open(table, "w") as out:
            for _, rows in as_completed(futures, with_results=True):
                for row in rows:
                    out.write(json.dumps(row) + "\n")
        pids = set(client.run(os.getpid).values())
    assert len(pids) == 2 and os.getpid() not in pids  # two worker processes, not this one
    rows = [json.loads(x) for x in table.read_text().splitlines()]
    expected = [row for p in paths for r in releases for row in judge_rows(p, r)]  # the same, in this process
    key = lambda row: json.dumps(row, sort_keys=True)  # noqa: E731
    assert sorted(rows, key=key) == sorted(expected, key=key)
    assert {(r["bundle"], r["release"]) for r in rows} == {(p, r) for p in paths for r in releases}

    import duckdb
    import pandas as pd

    frame = pd.read_json(table, lines=True)
    assert len(frame) == len(rows) and set(frame.columns) == set(COLUMNS)
    failing = duckdb.sql(f"SELECT count(DISTINCT bundle) FROM '{table}' WHERE NOT ok AND release = '0.169.0'").fetchall()
    # 0.169.0 judges: the broken bundle, and the two 0.171.0 bundles (a schema it does not read)
    assert failing == [(3,)]
