"""Opt-in tier: the reducer profile agrees with the real Codex reducers.

On every real bundle of the corpus, and on every corruption operator applied
(with a fixed seed) to real bundles, ``validate --profile reducer`` in the
bundle's dialect passes exactly when ``codex debug trace-reduce`` of the
dialect's reference release exits 0.
"""

from __future__ import annotations

import random

import pytest

from rollout_trace_kit.bundle import Bundle
from rollout_trace_kit.codex.install import trace_reduce
from rollout_trace_kit.model import DIALECTS
from rollout_trace_kit.validate import CATALOGUE, Options, Profile, validate_bundle

from .conftest import corpus_bundles
from ._codex_tier import HANG_TIMEOUT

pytestmark = pytest.mark.codex

DIALECT = {d.reference_release: d.name for d in DIALECTS.values()}


def _verdict(bundle_dir, dialect):
    report = validate_bundle(bundle_dir, Options(profile=Profile.REDUCER, dialect=dialect))
    return report.ok, [(f.invariant, f.message) for f in report.findings]


@pytest.mark.parametrize("bundle", corpus_bundles(), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_real_bundles_agree(bundle, codex_binaries, tmp_path):
    dialect = DIALECT[bundle.parent.name.removeprefix("codex-")]
    ok, findings = _verdict(bundle, dialect)
    real = trace_reduce(codex_binaries[dialect], bundle, tmp_path / "state.json")
    assert ok and real.accepted, (findings, real.first_error)


def _operator_cases():
    from rollout_trace_kit.generators import CORRUPTIONS

    for release, dialect in DIALECT.items():
        for inv, op in sorted(CORRUPTIONS.items()):
            if (dialect in op.dialects and dialect in CATALOGUE[inv].levels and not CATALOGUE[inv].kit_only
                    and not CATALOGUE[inv].release_only):
                yield pytest.param(release, dialect, inv, id=f"{dialect}-{inv}")


@pytest.mark.parametrize("release,dialect,inv", list(_operator_cases()))
def test_corrupted_real_bundles_agree(release, dialect, inv, codex_binaries, tmp_path):
    from rollout_trace_kit.generators import CORRUPTIONS

    checked = 0
    for n, source in enumerate(corpus_bundles(release)):
        corrupted = CORRUPTIONS[inv].apply(Bundle.read(source), dialect, random.Random(n))
        if corrupted is None:
            continue
        d = corrupted.bundle.write(tmp_path / f"{n}-{source.name}")
        ok, findings = _verdict(d, dialect)
        real = trace_reduce(codex_binaries[dialect], d, tmp_path / f"{n}.state.json", timeout=_timeout(corrupted.bundle))
        assert ok == real.accepted, (source.name, corrupted.note, findings, real.first_error or "accepted")
        checked += 1
        if checked == 3:
            break
    # a skip here would hide a rule the real reducer never judged: ship a bundle with a place for it
    assert checked, f"no corpus bundle of {release} offers a place for {inv}"


def _timeout(bundle: Bundle) -> float:
    """A run that can only show the FIFO hang gives up sooner."""
    return HANG_TIMEOUT if any(sp.kind == "fifo" for sp in bundle.specials.values()) else 10


def _hand_made(b: Bundle, tmp_path):
    """The hostile-input cases of test_validate_hostile, as (name, bundle) pairs."""
    from rollout_trace_kit.bundle import Special

    def line(n, data):
        c = b.copy()
        c.lines[n - 1] = data
        return c

    l5 = b.lines[4]
    seq5 = b'"seq":5'
    ref_line = next(i for i, x in enumerate(b.lines, 1) if b'"kind":{"type":"inference_request"}' in x)
    ref_path = b.lines[ref_line - 1].split(b'"path":"')[1].split(b'"')[0].decode()
    cases = {
        "crlf": (lambda c: (setattr(c, "line_terminator", b"\r\n"), c)[1])(b.copy()),
        "bom": line(1, b"\xef\xbb\xbf" + b.lines[0]),
        "nan": line(5, l5.replace(seq5, b'"seq":NaN', 1)),
        "float-int": line(5, l5.replace(seq5, b'"seq":5.0', 1)),
        "u64-overflow": line(5, l5.replace(seq5, b'"seq":18446744073709551616', 1)),
        "duplicate-envelope-key": line(5, l5.replace(seq5, b'"seq":5,"seq":5', 1)),
        "duplicate-unknown-key": line(5, l5.replace(seq5, b'"seq":5,"zz":1,"zz":2', 1)),
        "deep-nesting": line(5, l5.replace(seq5, b'"seq":5,"zz":' + b"[" * 200 + b"]" * 200, 1)),
        "lone-surrogate": line(1, b.lines[0].replace(b'"rollout_started"', b'"rollout_started","x":"\\ud800"', 1)),
        "blank-line": (lambda c: (c.lines.insert(3, b""), c)[1])(b.copy()),
        "no-final-newline": (lambda c: (setattr(c, "trailing_newline", False), c)[1])(b.copy()),
        "partial-last-line": (lambda c: (c.lines.__setitem__(-1, c.lines[-1][:-10]), setattr(c, "trailing_newline", False), c)[2])(b.copy()),
        "empty-trace": (lambda c: (setattr(c, "lines", []), c)[1])(b.copy()),
        "absolute-payload-path": line(ref_line, b.lines[ref_line - 1].replace(ref_path.encode(), b"/etc/hostname")),
    }
    fifo = b.copy()
    del fifo.payloads[ref_path]
    fifo.specials[ref_path] = Special("fifo")
    cases["fifo-payload"] = fifo
    outside = tmp_path / "outside.json"
    outside.write_text('{"input": []}')
    link = b.copy()
    del link.payloads[ref_path]
    link.specials[ref_path] = Special("symlink", str(outside))
    cases["symlink-out-of-bundle"] = link
    return cases


HAND_MADE = ["crlf", "bom", "nan", "float-int", "u64-overflow", "duplicate-envelope-key", "duplicate-unknown-key",
             "deep-nesting", "lone-surrogate", "blank-line", "no-final-newline", "partial-last-line", "empty-trace",
             "absolute-payload-path", "fifo-payload", "symlink-out-of-bundle"]


# The hand-made cases edit payload files by path: the releases with one file per payload
# (v3's shards get the same hostile treatment from the STORE.* operators above).
FILE_STORE_RELEASES = sorted(r for r, d in DIALECT.items() if DIALECTS[d].layout.store == "files")


@pytest.mark.parametrize("release", FILE_STORE_RELEASES)
@pytest.mark.parametrize("name", HAND_MADE)
def test_hand_made_hostile_bundles_agree(release, name, codex_binaries, tmp_path):
    """Where the reducer reads outside the bundle (symlink, absolute path) the kit refuses to and
    rejects; those two agree only when the outside file is not a payload the reducer accepts."""
    dialect = DIALECT[release]
    source = next(p for p in corpus_bundles(release) if p.name == "basic")
    bundle = _hand_made(Bundle.read(source), tmp_path)[name]
    d = bundle.write(tmp_path / "b")
    ok, findings = _verdict(d, dialect)
    real = trace_reduce(codex_binaries[dialect], d, tmp_path / "state.json", timeout=_timeout(bundle))
    if name == "symlink-out-of-bundle":
        # the real reducers follow the link and read the outside file; the kit refuses (REF.PATH_CONFINED)
        assert not ok and real.accepted, (findings, real.first_error)
        return
    assert ok == real.accepted, (findings, real.first_error or "accepted", "timed out" if real.timed_out else "")


STORE_RELEASES = sorted(r for r, d in DIALECT.items() if DIALECTS[d].layout.store != "files")


@pytest.mark.parametrize("release", STORE_RELEASES)
@pytest.mark.parametrize("last", [True, False], ids=["last-block", "mid-frame"])
def test_an_empty_compressed_block_agrees(release, last, codex_binaries, tmp_path):
    """A compressed zstd block of size 0 (libzstd 1.6.0 refuses it; Codex's libzstd reads it as
    empty: store/empty_blocks.py): on a shipped shard, either its empty last block turned
    compressed or such a block put before the last. The kit accepts exactly when Codex does."""
    dialect = DIALECT[release]
    b = Bundle.read(next(p for p in corpus_bundles(release) if p.name == "basic"))
    from .test_store_empty_blocks import EMPTY_COMPRESSED, EMPTY_COMPRESSED_LAST, _last_block

    shard = min(p for p in b.payloads if p.endswith(".zst"))
    data = b.payloads[shard]
    at = _last_block(data)  # Codex ends a shard's frame with an empty raw block
    block = EMPTY_COMPRESSED_LAST if last else EMPTY_COMPRESSED + data[at:at + 3]
    b.payloads[shard] = data[:at] + block + data[at + 3:]
    d = b.write(tmp_path / "b")
    ok, findings = _verdict(d, dialect)
    real = trace_reduce(codex_binaries[dialect], d, tmp_path / "state.json", timeout=10)
    assert ok == real.accepted, (findings, real.first_error or "accepted")
