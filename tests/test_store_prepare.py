"""The shard store's refs resolved ahead of a run's checks (StoreRefChecker.prepare) give the
report that resolving each ref in its turn gives: on the corpus, and on every corruption the
generators make of a v3 bundle, alone and in pairs, in every profile, with runs cut short so
that run boundaries fall everywhere."""

from __future__ import annotations

import importlib.util
import os
import random
import shutil
from pathlib import Path

import orjson
import pytest

from rollout_trace_kit.store import shards as codec
from rollout_trace_kit.generators import CORRUPTIONS, FEATURES, expand, feature_plan
from rollout_trace_kit.validate import CATALOGUE, Options, Profile, engine, validate_bundle
from rollout_trace_kit.validate.rules import store

from .conftest import ROOT, corpus_bundles

SWEPT = int(os.environ.get("RTK_PROPERTY_EXAMPLES", "40"))
# The slow tier's sweep, in chunks (each its own seed) that -n spreads over the workers. Its own
# size: each bundle is judged four times (two profiles, prepare on and off), and at the property
# tests' RTK_SLOW_BUNDLES (6,000 in CI then) this one test took 22 minutes: .ci/run has 30 in all.
SLOW = int(os.environ.get("RTK_SLOW_PREPARE_BUNDLES", "400"))
CHUNKS = 4
# The strict profile reports every rule; the reducer profile judges refs as the reducer reads them.
PROFILES = (Profile.STRICT, Profile.REDUCER)
DIALECT = "v3"


@pytest.fixture
def taken(monkeypatch) -> list[tuple[str, str]]:
    """(payload id, kind) of the refs resolved ahead, in order (a comparison of reports means
    nothing if none were)."""
    seen: list[tuple[str, str]] = []
    real = store.StoreRefChecker.prepare

    def noted(self, events, tag_of):
        real(self, events, tag_of)
        for ev in events:
            for name in ev.payload.__struct_fields__:
                ref = getattr(ev.payload, name)
                if id(ref) in self.pre:
                    seen.append((ref.raw_payload_id, ref.kind.type))

    monkeypatch.setattr(store.StoreRefChecker, "prepare", noted)
    return seen


def _reports(bundle: Path, monkeypatch, run: int) -> tuple[list[dict], list[dict]]:
    monkeypatch.setattr(engine, "BATCH", run)  # the checking process's runs (no worker: small logs)
    out = []
    for on in (True, False):
        monkeypatch.setattr(store, "PREPARE_REFS", on)
        out.append([validate_bundle(bundle, Options(profile=p)).to_dict() for p in PROFILES])
    return out[0], out[1]


@pytest.mark.parametrize("bundle", corpus_bundles("0.171.0"), ids=lambda p: p.name)
@pytest.mark.parametrize("run", [1, 3, 1024])
def test_the_corpus_gets_one_report(bundle, run, taken, monkeypatch):
    ahead, alone = _reports(bundle, monkeypatch, run)
    assert ahead == alone
    # a shard opens on its first ref, in its turn: a log of one run has none resolved ahead
    assert taken or run == 1024


def test_every_corruption_gets_one_report(tmp_path, taken, monkeypatch):
    _sweep(tmp_path, taken, monkeypatch, SWEPT)


@pytest.mark.slow
@pytest.mark.parametrize("chunk", range(CHUNKS))
def test_every_corruption_gets_one_report_at_scale(tmp_path, taken, monkeypatch, chunk):
    _sweep(tmp_path, taken, monkeypatch, -(-SLOW // CHUNKS), seed=1 + chunk)


def _sweep(tmp_path: Path, taken: list[int], monkeypatch, count: int, seed: int = 0) -> None:
    ops = [(name, op) for name, op in sorted(CORRUPTIONS.items()) if DIALECT in op.dialects and not CATALOGUE[name].kit_only]
    rich = [expand(feature_plan(FEATURES, seed=s), DIALECT) for s in range(3)]
    small: dict = {}  # the features an operator needs, and no more: smaller bundles, faster checks
    rnd = random.Random(seed)
    checked, differing = 0, []
    for i in range(count):
        name, op = ops[i % len(ops)]  # every operator, then again with other draws
        if rnd.random() < 0.25:
            base = rnd.choice(rich)
        else:
            key = (op.needs, rnd.randrange(3))
            if key not in small:
                small[key] = expand(feature_plan(op.needs, seed=key[1]), DIALECT)
            base = small[key]
        c = op.apply(base, DIALECT, random.Random(rnd.random()))
        if c is None:
            continue
        if rnd.random() < 0.3:
            try:
                second = rnd.choice(ops)[1].apply(c.bundle, DIALECT, random.Random(rnd.random()))
            except Exception:  # operators assume a valid bundle: a pair may refuse
                second = None
            c = second or c
        where = tmp_path / f"b{i}"
        bundle = c.bundle.write(where / "bundle")
        ahead, alone = _reports(bundle, monkeypatch, rnd.choice([1, 2, 5, 1024]))
        if ahead != alone:
            differing.append(name)
        checked += 1
        shutil.rmtree(where)
    assert not differing
    assert checked >= count // 2 and len(taken) > checked  # most bundles had refs resolved ahead


# -- targeted: a long log of usual refs, one of them made unusual in the middle -------------------
def _benchmark_builders():
    spec = importlib.util.spec_from_file_location("_bench_validator", ROOT / "benchmarks" / "validator.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


BENCH = _benchmark_builders()
SHAPES = {"pairs": BENCH.build_v3_pairs, "inference": BENCH.build_v3_sharded}
SHARD = "payloads/000001.zst"


def _records(bundle: Path) -> list[tuple[bytes, bytes]]:
    return [(r.id, r.body) for r in codec.iter_shard(bundle / SHARD)]


def _write_records(bundle: Path, records: list[tuple[bytes, bytes]]) -> None:
    (bundle / SHARD).unlink()
    w = codec.StoreWriter(bundle / "payloads", rotate_bytes=1 << 40)
    for rid, body in records:
        w.append(rid, body)
    w.close()


def _events(bundle: Path) -> list[dict]:
    return [orjson.loads(x) for x in (bundle / "trace.jsonl").read_bytes().splitlines()]


def _write_events(bundle: Path, events: list[dict]) -> None:
    (bundle / "trace.jsonl").write_bytes(b"".join(orjson.dumps(e) + b"\n" for e in events))


def _refs(events: list[dict]) -> list[dict]:
    """The top-level refs of the events, in order."""
    return [v for e in events for v in e["payload"].values() if isinstance(v, dict) and "raw_payload_id" in v]


def _body_edit(k: int, edit):
    def apply(bundle: Path) -> None:
        records = _records(bundle)
        rid, body = records[k]
        records[k] = (rid, edit(body))
        _write_records(bundle, records)
    return apply


def _ref_edit(k: int, edit):
    def apply(bundle: Path) -> None:
        events = _events(bundle)
        edit(_refs(events), k)
        _write_events(bundle, events)
    return apply


def _records_edit(edit):
    def apply(bundle: Path) -> None:
        records = _records(bundle)
        edit(records)
        _write_records(bundle, records)
    return apply


def _deep(body: bytes) -> bytes:
    return body[:-1] + b',"deep":' + b"[" * 200 + b"]" * 200 + b"}"


def _shard_bytes(edit):
    def apply(bundle: Path) -> None:
        (bundle / SHARD).write_bytes(edit((bundle / SHARD).read_bytes()))
    return apply


def _conflict(refs: list[dict], k: int) -> None:
    refs[k + 1]["raw_payload_id"] = refs[k]["raw_payload_id"]  # a second ref to k's record, of another kind


def _kind(refs: list[dict], k: int) -> None:
    refs[k]["kind"] = {"type": "session_metadata"}


def _truncated(refs: list[dict], k: int) -> None:
    refs[k]["capture"] = {"status": "truncated", "original_bytes": 10**6, "retained_bytes": 3}


def _other_id(refs: list[dict], k: int) -> None:
    refs[k]["raw_payload_id"] = "raw_payload:07"


def _named_before_as_omitted(refs: list[dict], k: int) -> None:
    """An earlier ref names k's id with no shard (an omitted capture): its form is remembered, its
    record not read; k's own ref then conflicts with it."""
    refs[k - 3].update(raw_payload_id=refs[k]["raw_payload_id"], shard=None,
                       capture={"status": "omitted", "original_bytes": 1 << 30})


def _renamed(k: int, rid: bytes, also: tuple[int, ...] = ()):
    """Record k and its ref renamed ``rid`` (and the refs in ``also`` pointed at it)."""
    def apply(bundle: Path) -> None:
        records = _records(bundle)
        records[k] = (rid, records[k][1])
        _write_records(bundle, records)
        events = _events(bundle)
        refs = _refs(events)
        for i in (k, *also):
            refs[i]["raw_payload_id"] = rid.decode()
        _write_events(bundle, events)
    return apply


def _repeated_ahead(bundle: Path) -> None:
    """Record K takes the id of record K + 9 (its ref too, of the same kind): that one is then a duplicate."""
    _renamed(K, _records(bundle)[K + 9][0])(bundle)


K = 40  # the record edited: well past the first runs
K_REQUEST = 39  # an inference request in the inference shape (a kind with a depth limit)
# edit -> (what it does, the record whose ref must not be resolved ahead, in the shapes it holds for)
EDITS = {
    "as built": (lambda bundle: None, None, ()),
    "a long integer": (_body_edit(K, lambda b: b[:-1] + b',"n":123456789012345678901234}'), K, SHAPES),
    "a number beyond f64": (_body_edit(K, lambda b: b[:-1] + b',"n":1e400}'), K, SHAPES),
    "deep nesting": (_body_edit(K_REQUEST, _deep), K_REQUEST, ("inference",)),
    "not JSON": (_body_edit(K, lambda b: b[:-1]), K, SHAPES),
    "a lone surrogate": (_body_edit(K, lambda b: b[:-1] + b',"s":"\\ud800"}'), K, SHAPES),
    "JSON null": (_body_edit(K, lambda b: b"null"), None, ()),
    "a conflicting ref": (_ref_edit(K, _conflict), K, SHAPES),  # taken once, by its first ref
    "a kind the field does not take": (_ref_edit(K, _kind), K, SHAPES),
    "a truncated capture": (_ref_edit(K, _truncated), K, SHAPES),
    "a record that is not there": (_ref_edit(K, _other_id), None, ()),
    "an id named before as omitted": (_ref_edit(K, _named_before_as_omitted), K, SHAPES),
    "a zero-padded id": (_renamed(K, b"raw_payload:0%d" % (K + 1)), K, SHAPES),
    "an id repeated ahead": (_repeated_ahead, None, ()),  # (its first ref is usual, and taken)
    "an id far ahead, named twice": (_renamed(K, b"raw_payload:%d" % (K + 1000), also=(K + 3,)), None, ()),
    "a duplicate record": (_records_edit(lambda r: r.insert(K + 1, r[K])), None, ()),
    "two records swapped": (_records_edit(lambda r: r.__setitem__(slice(K, K + 2), [r[K + 1], r[K]])), K, SHAPES),
    "a record removed": (_records_edit(lambda r: r.pop(K)), None, ()),
    "garbage after the frame": (_shard_bytes(lambda data: data + b"garbage"), None, ()),
    "a frame cut short": (_shard_bytes(lambda data: data[:-40]), None, ()),
}


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("edit", EDITS)
def test_a_ref_made_unusual_gets_one_report(shape, edit, tmp_path, taken, monkeypatch):
    bundle = SHAPES[shape](tmp_path / "b", 400)
    apply, unusual, shapes = EDITS[edit]
    apply(bundle)
    refs = _refs(_events(bundle))
    for run in (1, 64):
        taken.clear()
        ahead, alone = _reports(bundle, monkeypatch, run)
        assert ahead == alone, run
        assert len(taken) > 20  # (a ref asked for again spills the shard: none after it)
        if shape in shapes:  # the unusual ref was left to _resolve (a conflicting ref: the second)
            ref = refs[K + 1 if edit == "a conflicting ref" else unusual]
            assert (ref["raw_payload_id"], ref["kind"]["type"]) not in taken, run


def test_bodies_parsed_ahead_stay_within_their_budget(tmp_path, monkeypatch):
    """A run of refs to large bodies is parsed ahead only up to PREPARE_BYTES a call; the rest in their
    turn. The budget is made small here, and the bodies 100 KB."""
    monkeypatch.setattr(store, "PREPARE_BYTES", 300_000)
    bundle = SHAPES["pairs"](tmp_path / "b", 150)
    records = [(rid, body[:-1] + b',"pad":"' + b"x" * 100_000 + b'"}') for rid, body in _records(bundle)]
    _write_records(bundle, records)
    size = {rid.decode(): len(body) for rid, body in records}
    per_call: list[int] = []
    real = store.StoreRefChecker.prepare

    def measured(self, events, tag_of):
        real(self, events, tag_of)
        per_call.append(sum(size[getattr(ev.payload, name).raw_payload_id]
                            for ev in events for name in ev.payload.__struct_fields__
                            if id(getattr(ev.payload, name)) in self.pre))

    monkeypatch.setattr(store.StoreRefChecker, "prepare", measured)
    for run in (1, 64):
        per_call.clear()
        ahead, alone = _reports(bundle, monkeypatch, run)
        assert ahead == alone, run
        assert 0 < max(per_call) <= store.PREPARE_BYTES, run
