"""The ``ref`` layer: a payload ref's id, kind, shard, capture, parts and path forms, and
refs that conflict with each other."""

from __future__ import annotations

import copy
import random
from typing import Any

from ....bundle import PAYLOADS
from ....model.common import FILE_PER_PAYLOAD, RAW_PAYLOAD_KINDS, ZSTD_SHARDS
from ..jsontext import get, put
from ..view import RefSite, parsed_lines, ref_sites, set_line
from . import Mutator
from .values import I64_MAX, U64_MAX

BUNDLE_DIR = "@@BUNDLE_DIR@@"  # replaced by the bundle's absolute directory when it is written
KINDS = (*RAW_PAYLOAD_KINDS, "prepared_prompt", "model_item", "not_a_kind")
BAD_IDS = ("raw_payload:", "raw_payload:0", "raw_payload:01", "raw_payload:-1", "raw_payload:99999",
           f"raw_payload:{U64_MAX + 1}", "payload:1", "", "raw_payload:1 ")
SHARDS: tuple[Any, ...] = (0, 2, -1, I64_MAX, I64_MAX + 1, U64_MAX, None, "1", 1.0, True)


def _site(bundle, rng: random.Random, want=None) -> tuple[list[Any], RefSite] | None:
    events = parsed_lines(bundle)
    sites = [s for s in ref_sites(bundle, events) if want is None or want(s)]
    if not sites:
        return None
    return events, rng.choice(sites)


def _save(bundle, events: list[Any], site: RefSite, ref: Any) -> bool:
    event = put(events[site.line], site.path, ref)
    set_line(bundle, site.line, event)
    return True


def ref_id(bundle, rng: random.Random) -> bool:
    found = _site(bundle, rng)
    if not found:
        return False
    events, site = found
    others = sorted({s.ref.get("raw_payload_id") for s in ref_sites(bundle, events)} - {site.ref.get("raw_payload_id")}, key=str)
    site.ref["raw_payload_id"] = rng.choice(others) if others and rng.random() < 0.5 else rng.choice(BAD_IDS)
    return _save(bundle, events, site, site.ref)


def ref_kind(bundle, rng: random.Random) -> bool:
    found = _site(bundle, rng)
    if not found:
        return False
    events, site = found
    op = rng.randrange(4)
    old = site.ref.get("kind")
    if op == 0 or not isinstance(old, dict):
        site.ref["kind"] = {"type": rng.choice([k for k in KINDS if k != (old or {}).get("type")])}
    elif op == 1:
        site.ref["kind"] = old.get("type")  # the tag alone, not an object
    elif op == 2:
        site.ref["kind"] = dict(old, extra=1)
    else:
        del site.ref["kind"]
    return _save(bundle, events, site, site.ref)


def ref_shard(bundle, rng: random.Random) -> bool:
    found = _site(bundle, rng)
    if not found:
        return False
    events, site = found
    if "shard" in site.ref and rng.random() < 0.2:
        del site.ref["shard"]
    else:
        site.ref["shard"] = rng.choice(SHARDS) if "shard" in site.ref else 1
    return _save(bundle, events, site, site.ref)


def ref_capture(bundle, rng: random.Random) -> bool:
    found = _site(bundle, rng)
    if not found:
        return False
    events, site = found
    n = rng.choice((0, 1, 10, 100, 4096, I64_MAX + 1))
    site.ref["capture"] = rng.choice((
        {"status": "complete"},
        {"status": "truncated", "original_bytes": n + 1, "retained_bytes": n},
        {"status": "truncated", "original_bytes": n, "retained_bytes": n},
        {"status": "omitted", "original_bytes": n},
        {"status": "bogus"},
        None,
        {"status": "complete", "original_bytes": n},
    ))
    if site.ref["capture"] and site.ref["capture"].get("status") == "omitted" and rng.random() < 0.5:
        site.ref.pop("shard", None)
    return _save(bundle, events, site, site.ref)


def ref_parts(bundle, rng: random.Random) -> bool:
    events = parsed_lines(bundle)
    sites = ref_sites(bundle, events)
    with_parts = [s for s in sites if isinstance(s.ref.get("parts"), list)]
    if with_parts and rng.random() < 0.75:
        site = rng.choice(with_parts)
        parts = site.ref["parts"]
        op = rng.randrange(5)
        if op == 0 and parts:
            del parts[rng.randrange(len(parts))]
        elif op == 1 and parts:
            parts.insert(rng.randrange(len(parts) + 1), copy.deepcopy(rng.choice(parts)))
        elif op == 2 and len(parts) > 1:
            i, j = rng.sample(range(len(parts)), 2)
            parts[i], parts[j] = parts[j], parts[i]
        elif op == 3:
            site.ref["parts"] = []
        else:
            other = rng.choice(sites)
            parts.append({k: v for k, v in copy.deepcopy(other.ref).items() if k != "parts"})
        return _save(bundle, events, site, site.ref)
    plain = [s for s in sites if "parts" not in s.ref]
    if not plain or not with_parts:
        return False
    site = rng.choice(plain)  # parts on a ref that is not a prompt
    site.ref["parts"] = copy.deepcopy(rng.choice(with_parts).ref["parts"])
    return _save(bundle, events, site, site.ref)


def ref_path(bundle, rng: random.Random) -> bool:
    found = _site(bundle, rng, lambda s: isinstance(s.ref.get("path"), str))
    if not found:
        return False
    events, site = found
    path = site.ref["path"]
    folder, _, name = path.rpartition("/")
    folder = folder or "."
    manifest, log, _ = FILE_PER_PAYLOAD.file_names  # the layout's own names, not restated here
    site.ref["path"] = rng.choice((
        path + "/",
        f"{folder}/../{folder}/{name}",
        f"./{path}",
        f"{folder}//{name}",
        f"{BUNDLE_DIR}/{path}",
        f"{BUNDLE_DIR}/../{path}",
        f"../{path}",
        f"{folder}/{name}.missing",
        folder,
        manifest,
        log,
        path.replace("/", "\\"),
        f"{PAYLOADS}/./{name}",
    ))
    return _save(bundle, events, site, site.ref)


def ref_path_added(bundle, rng: random.Random) -> bool:
    """A v3 ref that also carries a v1/v2 ``path``."""
    found = _site(bundle, rng, lambda s: "path" not in s.ref)
    if not found:
        return False
    events, site = found
    site.ref["path"] = rng.choice((ZSTD_SHARDS.file_for(shard=1), FILE_PER_PAYLOAD.file_for(n=1), ""))
    return _save(bundle, events, site, site.ref)


def ref_conflict(bundle, rng: random.Random) -> bool:
    """A second ref to a payload id that differs from the first in one field (or not at all)."""
    events = parsed_lines(bundle)
    sites = ref_sites(bundle, events)
    if len(sites) < 2:
        return False
    a, b = rng.sample(sites, 2)
    new = copy.deepcopy(a.ref)
    b_parts = b.ref.get("parts")
    new.pop("parts", None)
    if b_parts is not None:
        new["parts"] = b_parts
    field = rng.choice(("same", "shard", "capture", "parts", "path", "kind"))
    if field == "shard" and "shard" in new:
        new["shard"] = new["shard"] + 1 if isinstance(new["shard"], int) else 2
    elif field == "capture":
        new["capture"] = {"status": "complete"}
    elif field == "parts":
        new["parts"] = [] if new.get("parts") else [copy.deepcopy(a.ref)]
    elif field == "path" and "path" in new:
        new["path"] = "./" + new["path"]
    elif field == "kind":
        new["kind"] = copy.deepcopy(b.ref.get("kind"))
    return _save(bundle, events, b, new)


def ref_swap(bundle, rng: random.Random) -> bool:
    events = parsed_lines(bundle)
    sites = [s for s in ref_sites(bundle, events) if len(s.path) >= 1]
    if len(sites) < 2:
        return False
    a, b = rng.sample(sites, 2)
    if a.line == b.line:
        return False
    ra, rb = copy.deepcopy(a.ref), copy.deepcopy(b.ref)
    _save(bundle, events, a, rb)
    return _save(bundle, events, b, ra)


def ref_drop(bundle, rng: random.Random) -> bool:
    found = _site(bundle, rng, lambda s: isinstance(s.path[-1], str) and s.path[-1] != "parts")
    if not found:
        return False
    events, site = found
    if rng.random() < 0.5:
        return _save(bundle, events, site, None)
    del get(events[site.line], site.path[:-1])[site.path[-1]]
    set_line(bundle, site.line, events[site.line])
    return True


MUTATORS = [
    Mutator("ref.id", "ref", ref_id, weight=2),
    Mutator("ref.kind", "ref", ref_kind),
    Mutator("ref.shard", "ref", ref_shard),
    Mutator("ref.capture", "ref", ref_capture, store=True),
    Mutator("ref.parts", "ref", ref_parts),
    Mutator("ref.path", "ref", ref_path, store=False, weight=2),
    Mutator("ref.path_added", "ref", ref_path_added, store=True),
    Mutator("ref.conflict", "ref", ref_conflict, weight=2),
    Mutator("ref.swap", "ref", ref_swap),
    Mutator("ref.drop", "ref", ref_drop),
]
