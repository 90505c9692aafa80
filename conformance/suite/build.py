"""Build the suite's cases from the model, the generators and the shipped real bundles.

Every case is a folder ``cases/DIALECT/NAME/`` (its id is ``DIALECT/NAME``) with an
``expected.json``; generated bundles are written under ``bundle/`` in it, real ones stay in
``corpus/`` (the case names them). Randomness is seeded ``random.Random`` only (the
generators' ``build_bundle`` and the corruption operators), so a rebuild gives the same
bytes whatever Hypothesis version is installed.

What a static file cannot carry (a FIFO, a link, an empty directory, a file of many MB) is a
recipe in the case (``model/nonstatic.py`` lists the kinds and why).
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import tempfile
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Callable

from ... import model
from ...bundle import Bundle
from ...model.nonstatic import NON_STATIC, WHILE_RUNNING
from ...model.reducer_errors import REDUCER_ERRORS
from ...validate import CATALOGUE
from . import CASES, EXPECTED, EXPECTED_FORMAT, EXPECTED_SCHEMA, INDEX, INDEX_FORMAT, SUITE_VERSION
from .expect import profile_verdicts, reducer_verdicts
from .schema import expected_schema

# A generated file larger than this is a recipe step (head, a repeated byte, tail), not a file.
BIG_FILE = 1 << 20
GENERATED_VALID = ((1, 24), (2, 48))  # (seed, events) of the generated valid bundles per dialect
# An invalid case breaks a small base bundle that offers a place for its corruption: a plan of
# the features the operator needs, else the first (events, seed) of these that does, else a
# plan of every feature (origin.events says which: a number of events or the features).
INVALID_EVENTS = (12, 24, 48, 96, 192)
INVALID_SEEDS = range(1, 9)


@dataclass
class Built:
    files: dict[str, bytes]  # suite-relative path -> bytes
    cases: list[dict]  # the index rows


def _dump(value: object) -> bytes:
    return (json.dumps(value, indent=1, ensure_ascii=False) + "\n").encode()


def _dialect_of_release(release: str) -> str:
    from ...model.releases import release as release_of

    rel = release_of(release)
    assert rel is not None and rel.schema_version is not None, release
    d = model.dialect_for_schema_version(rel.schema_version)
    assert d is not None, release
    return d.name


@lru_cache(maxsize=None)
def _other_than(byte: int) -> re.Pattern[bytes]:
    return re.compile(b"[^" + re.escape(bytes([byte])) + b"]")


def _big_file_step(rel: str, data: bytes) -> dict:
    """A recipe step that rebuilds ``data``: its head, the longest run of one byte (the first
    such), its tail."""
    best_at, best_len, i = 0, 0, 0
    while i < len(data):
        # the run's end found in C: a loop over each byte was most of the suite's rebuild (cProfile: 284 of 325 s)
        other = _other_than(data[i]).search(data, i)
        j = other.start() if other else len(data)
        if j - i > best_len:
            best_at, best_len = i, j - i
        i = j
    fill = data[best_at : best_at + 1]
    return {"make": "big_file", "path": rel, "head": data[:best_at].decode(), "fill": fill.decode(),
            "count": best_len, "tail": data[best_at + best_len :].decode()}


def _bundle_files(bundle: Bundle, prefix: str) -> tuple[dict[str, bytes], list[dict]]:
    """The static files of ``bundle`` (under ``prefix``) and the recipe for the rest."""
    files: dict[str, bytes] = {}
    recipe: list[dict] = []
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "b"
        regular = bundle.copy()  # its own class: a "bundle" that is a file writes itself as one
        regular.specials = {}
        regular.write(root)
        if root.is_file():  # BUNDLE.IS_DIRECTORY: the case's bundle path is a regular file
            return {prefix: root.read_bytes()}, []
        for path in sorted(root.rglob("*")):
            rel = path.relative_to(root).as_posix()
            if path.is_dir():
                if not any(path.iterdir()) and rel not in bundle.specials:
                    recipe.append({"make": "dir", "path": rel})
                continue
            data = path.read_bytes()
            if len(data) > BIG_FILE:
                recipe.append(_big_file_step(rel, data))
            else:
                files[f"{prefix}/{rel}"] = data
    for rel, sp in sorted(bundle.specials.items()):
        step = {"make": sp.kind, "path": rel}
        if sp.kind == "symlink":
            step["target"] = sp.target
        if sp.kind not in NON_STATIC:
            raise ValueError(f"{rel}: a {sp.kind} entry, which model/nonstatic.py does not list")
        recipe.append(step)
    return files, recipe


def _expected(case_id: str, dialect: str, kind: str, bundle_dir: Path, bundle_rel: str, **extra) -> dict:
    profiles = profile_verdicts(bundle_dir, dialect)
    return {
        "format": EXPECTED_FORMAT,
        "id": case_id,
        "dialect": dialect,
        "kind": kind,
        "bundle": bundle_rel,
        **extra,
        "profiles": profiles,
        "reducers": reducer_verdicts(bundle_dir, dialect, profiles["reducer"]["errors"], extra.get("breaks", [])),
    }


def _materialize(files: dict[str, bytes], recipe: list[dict], prefix: str, into: Path) -> Path:
    """Write a case's bundle as a runner would see it (recipe applied) to judge it."""
    from .recipe import apply_recipe

    if prefix in files:  # the bundle is a file
        into.parent.mkdir(parents=True, exist_ok=True)
        into.write_bytes(files[prefix])
        return into
    for rel, data in files.items():
        if rel.startswith(prefix + "/"):
            p = into / rel.removeprefix(prefix + "/")
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_bytes(data)
    into.mkdir(parents=True, exist_ok=True)
    apply_recipe(into, recipe)
    return into


def _real_cases(built: Built) -> None:
    from ...corpus import bundles, releases

    for release in releases():
        dialect = _dialect_of_release(release)
        for b in bundles(release):
            case_id = f"{dialect}/real-{b.name}"
            rel = b.relative_to(b.parents[2]).as_posix()  # corpus/codex-X/NAME
            state = b.parent / f"{b.name}.state.json"
            exp = _expected(case_id, dialect, "valid", b, rel,
                            origin={"real": f"codex {release}", "reduced": f"{rel}.state.json" if state.is_file() else None})
            _add(built, case_id, exp, {})


def _add(built: Built, case_id: str, expected: dict, files: dict[str, bytes]) -> None:
    built.files.update(files)
    built.files[f"{CASES}/{case_id}/{EXPECTED}"] = _dump(expected)
    built.cases.append({"id": case_id, "dialect": expected["dialect"], "kind": expected["kind"],
                        "expected": f"{CASES}/{case_id}/{EXPECTED}"})


def _generated_cases(built: Built, dialect: str, tmp: Path) -> None:
    from ...generators import build_bundle

    for seed, events in GENERATED_VALID:
        case_id = f"{dialect}/valid-gen-{seed}"
        prefix = f"{CASES}/{case_id}/bundle"
        files, recipe = _bundle_files(build_bundle(dialect, seed=seed, events=events), prefix)
        where = _materialize(files, recipe, prefix, tmp / case_id)
        exp = _expected(case_id, dialect, "valid", where, prefix, recipe=recipe,
                        origin={"generator": "build_bundle", "seed": seed, "events": events})
        _add(built, case_id, exp, files)


def _invalid_cases(built: Built, dialect: str, tmp: Path) -> list[str]:
    """One case per invariant with an operator for the dialect; the invariants left without one."""
    from ...generators.corruptions import CORRUPTIONS, applicable

    missing = []
    for inv in applicable(dialect):
        if inv in WHILE_RUNNING:
            continue  # listed in the index with its recipe kind
        found = _smallest_corruption(dialect, inv)
        if found is None:
            missing.append(inv)
            continue
        case, seed, events = found
        case_id = f"{dialect}/invalid-{inv}"
        prefix = f"{CASES}/{case_id}/bundle"
        files, recipe = _bundle_files(case.bundle, prefix)
        where = _materialize(files, recipe, prefix, tmp / case_id)
        exp = _expected(case_id, dialect, "invalid", where, prefix, recipe=recipe,
                        origin={"corruption": inv, "description": CORRUPTIONS[inv].description,
                                "seed": seed, "events": events},
                        breaks=sorted(case.expected))
        _add(built, case_id, exp, files)
    return missing


def _smallest_corruption(dialect: str, inv: str):
    """(the corrupted bundle, seed, events) of the first base bundle the operator can break."""
    import random

    from ...generators import CORRUPTIONS, build_bundle
    from ...generators._strategies import FEATURES, expand, feature_plan

    op = CORRUPTIONS[inv]
    bases: list[tuple[Callable[[int], Bundle], object]] = []
    # a plan with just the features the operator needs, then small bundles, then every feature
    if op.needs:
        bases.append((lambda s: expand(feature_plan(op.needs, seed=s), dialect), sorted(op.needs)))
    def sized(events: int) -> Callable[[int], Bundle]:
        return lambda seed: build_bundle(dialect, seed=seed, events=events)

    bases += [(sized(n), n) for n in INVALID_EVENTS]
    bases.append((lambda s: expand(feature_plan(FEATURES, seed=s), dialect), sorted(FEATURES)))
    for make, how in bases:
        for seed in INVALID_SEEDS:
            got = op.apply(make(seed), dialect, random.Random(seed))
            if got is not None:
                return got, seed, how
    return None


def _writer_cases(built: Built, dialect: str, tmp: Path) -> None:
    """The writer protocol's hand-written lifecycle: the script, and the bundle the reference
    writer makes of it (times from a fixed clock; a writer under test differs only in the
    volatile fields)."""
    import itertools

    from ..writer.scripts import lifecycle_script, write_script

    script = lifecycle_script(dialect)
    case_id = f"{dialect}/writer-lifecycle"
    prefix = f"{CASES}/{case_id}/bundle"
    ticks = itertools.count(1_700_000_000_000, 1000)
    out = write_script(script, tmp / case_id / "written", clock=lambda: next(ticks))
    files, recipe = _bundle_files(Bundle.read(out), prefix)
    doc = json.loads(script.to_json())
    files[f"{CASES}/{case_id}/script.json"] = (json.dumps(doc, ensure_ascii=False, separators=(",", ":")) + "\n").encode()
    exp = _expected(case_id, dialect, "writer", out, prefix, recipe=recipe,
                    script=f"{CASES}/{case_id}/script.json",
                    volatile={"manifest": ["/started_at_unix_ms"], "event": ["/wall_time_unix_ms"],
                              "payload_refs": "a ref names the payload the writer chose to store; compare the "
                                              "body it points to, not the ref"},
                    origin={"script": script.name})
    _add(built, case_id, exp, files)


def build() -> Built:
    """Every file of the suite's data (cases, index, schema), by suite-relative path."""
    built = Built({}, [])
    with tempfile.TemporaryDirectory() as t:
        tmp = Path(t)
        _real_cases(built)
        for dialect in model.DIALECTS:
            _generated_cases(built, dialect, tmp)
            missing = _invalid_cases(built, dialect, tmp)
            if missing:
                raise ValueError(f"{dialect}: no case for {', '.join(missing)}: their operators found no place "
                                 "in any base bundle tried (conformance/suite/build.py)")
            _writer_cases(built, dialect, tmp)
    built.cases.sort(key=lambda c: c["id"])
    digest = hashlib.sha256()
    for rel in sorted(built.files):
        digest.update(rel.encode() + b"\0" + hashlib.sha256(built.files[rel]).digest())
    built.files[f"{CASES}/{INDEX}"] = _dump({
        "format": INDEX_FORMAT,
        "suite_version": SUITE_VERSION,
        "digest": "sha256:" + digest.hexdigest(),
        "cases": built.cases,
        "not_static": {k: NON_STATIC[k].reason for k in sorted(NON_STATIC)},
        # the model's table of Codex reducer errors: a runner classifies a reducer's stderr with it
        # (the first entry whose pattern, a regular expression, is found; else "unclassified")
        "reducer_errors": [{"name": e.name, "pattern": e.pattern} for e in REDUCER_ERRORS],
        "while_running": {inv: {"make": kind, "reason": NON_STATIC[kind].reason,
                                "dialects": sorted(CATALOGUE[inv].levels)} for inv, kind in sorted(WHILE_RUNNING.items())},
    })
    built.files[EXPECTED_SCHEMA] = _dump(expected_schema())
    return built


def stale(root: Path, built: Built) -> list[str]:
    """Suite-relative paths that differ between ``root`` and a fresh build (missing, changed, extra)."""
    out = [rel for rel, data in built.files.items()
           if not (root / rel).is_file() or (root / rel).read_bytes() != data]
    cases = root / CASES
    if cases.is_dir():
        out += [p.relative_to(root).as_posix() for p in cases.rglob("*")
                if p.is_file() and p.relative_to(root).as_posix() not in built.files]
    return sorted(out)


def write(root: Path, built: Built) -> int:
    """Replace ``root``'s cases with ``built``; the number of files written."""
    shutil.rmtree(root / CASES, ignore_errors=True)
    for rel, data in built.files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data)
    return len(built.files)
