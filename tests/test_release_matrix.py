"""The release compatibility matrix (docs/reference/releases/matrix.md) against the measured facts."""

from __future__ import annotations

import re

import pytest

from rollout_trace_kit.docsgen.release_matrix import (
    INFERRED_MARK,
    READS,
    REJECTS,
    matrix,
    matrix_page,
    readers,
    verdict,
)
from rollout_trace_kit.docsgen.releases_page import MATRIX, release_pages
from rollout_trace_kit.model import releases as rel

EPOCHS = list(rel.table_epochs())


def epoch_of(version: str) -> rel.Epoch:
    return next(e for e in EPOCHS if version in e.versions)


def test_known_verdicts():
    r169 = epoch_of("0.169.0")
    # 0.169.0's reducer accepts schema_version 2 only: 0.164.0 writes 1, 0.171.0 writes 3
    for writer in ("0.164.0", "0.171.0"):
        v = verdict(epoch_of(writer), r169)
        assert v.reads is False
        assert [f.invariant.id for f in v.findings] == ["RELEASE.SCHEMA_ACCEPTED"]
    assert verdict(epoch_of("0.169.0"), epoch_of("0.168.0")).reads is True
    assert verdict(epoch_of("0.169.0"), r169).reads is True
    # measured: 0.165.0 writes tool_call_runtime_started without `kind`, 0.166.0's reducer requires it
    v = verdict(epoch_of("0.165.0"), epoch_of("0.166.0"))
    assert v.reads is False and {f.invariant.id for f in v.findings} == {"RELEASE.FIELD_REQUIRED"}


@pytest.mark.parametrize("writer", EPOCHS, ids=lambda e: e.first)
def test_every_cell_agrees_with_the_facts(writer):
    """Recomputed from the records: accepted schema_version values, variants read vs written."""
    w = writer.representative
    for reader in readers(EPOCHS):
        r = reader.representative
        v = verdict(writer, reader)
        if w.record is None or r.record is None:
            assert v.reads is None
            continue
        ids = [f.invariant.id for f in v.findings]
        if w.schema_version not in r.schema_versions_accepted:
            assert v.reads is False and ids == ["RELEASE.SCHEMA_ACCEPTED"], (writer.first, reader.first)
            continue
        unknown = w.writer_variants - r.reducer_variants
        named = {re.search(r"variant '([^']+)'", f.message).group(1)
                 for f in v.findings if f.invariant.id == "RELEASE.VARIANT_KNOWN"}
        assert named == unknown, (writer.first, reader.first)
        if unknown:
            assert v.reads is False
        if v.reads:
            assert not v.findings
        else:
            assert v.findings  # a rejection always says why
        assert "RELEASE.WRITER_VARIANT" not in ids  # a writer fact, not the reader's verdict


def test_every_reducer_reads_its_own_writers_bundles():
    """Measured so far: each epoch's reducer takes what its own writer writes."""
    own = {e.first: verdict(e, e).reads for e in readers(EPOCHS)}
    assert all(own.values()), own


def test_page_shows_every_verdict_coloured():
    page = release_pages()[f"reference/releases/{MATRIX}"]
    assert page == matrix_page(EPOCHS)
    m = matrix(EPOCHS)
    rows = [line for line in page.splitlines() if line.startswith("| [")]
    assert len(rows) == len(EPOCHS)
    cols = readers(EPOCHS)
    for e, row in zip(EPOCHS, rows):
        classes = re.findall(r'<span class="(rtk-[a-z]+)"', row)
        want = [READS if m[(e.first, r.first)].reads else REJECTS for r in cols]
        assert classes == want, e.first
        inferred = any(x.status != "probed" for x in e.releases)
        assert row.split(" | ", 1)[0].endswith(INFERRED_MARK) == inferred, e.first
    # every rejection is explained below the table
    assert page.count("### Bundles of") == sum(any(v.reads is False for (w, _), v in m.items() if w == e.first)
                                               for e in EPOCHS)


def test_release_index_links_the_matrix():
    assert f"]({MATRIX})" in release_pages()["reference/releases/index.md"]
