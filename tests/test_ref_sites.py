"""Every (variant, ref field) the model defines gets the generic ref checks, in every dialect.

The places come from the model (``facts.ref_sites``): a ref field, a list of refs, a ref in
a tagged union, a ref's parts. For each, a generated bundle gets a ref there that names a
payload that does not exist, and the validator must say so at that place. No list of
fields is kept here or in the validator: a site added to the model is tested and checked.
"""

from __future__ import annotations

import copy

import orjson
import pytest

from rollout_trace_kit.model import DIALECTS, facts
from rollout_trace_kit.validate import Options, Profile, validate_bundle

from .test_generators_corruptions import rich

MISSING = 990001  # a payload ordinal no generated bundle holds


def _sites():
    return [(name, site) for name, d in DIALECTS.items() for sites in facts.ref_sites(d).values() for site in sites]


def _dangling(dialect, template: dict, field) -> dict:
    kind = field.payload_kinds[0] if field.payload_kinds else template["kind"]["type"]
    ref = {"raw_payload_id": f"raw_payload:{MISSING}", "kind": {"type": kind}}
    if dialect.layout.ref_key == "path":
        return dict(ref, path=dialect.layout.file_for(n=MISSING))
    return dict(ref, shard=template["shard"])


def _filler(fields) -> dict:
    """Values for the required, non-ref fields (strings, numbers, lists) of a made-up object."""
    from rollout_trace_kit.model.types import ArrayOf, Bool, Int, Str, unwrap

    out = {}
    for f in fields:
        t = unwrap(f.type)
        if f.required:
            out[f.name] = {Str: "x", Int: 0, Bool: False, ArrayOf: []}.get(type(t))
    return out


def _union_variant(dialect, tag_key: str, tag: str):
    from rollout_trace_kit.model.types import TaggedUnion

    return next(t.variant(tag) for t in dialect.types if isinstance(t, TaggedUnion) and t.tag_key == tag_key and tag in t.tags)


def _put(container: dict, path, ref: dict, template: dict, dialect) -> None:
    """Put ``ref`` at ``path`` (a RefSite path) under ``container``, making what is missing on
    the way from ``template`` (a valid ref of the bundle) or an empty list."""
    key, rest = path[0], path[1:]
    if not rest:
        container[key] = ref
        return
    nxt = rest[0]
    if nxt == "*":
        if len(rest) == 1:
            container[key] = [ref]
            return
        items = container.get(key) or [copy.deepcopy({k: v for k, v in template.items() if k != "parts"})]
        container[key] = items[:1]
        _put(items[0], rest[1:], ref, template, dialect)
    elif isinstance(nxt, tuple):
        inner = container.get(key)
        if not isinstance(inner, dict) or inner.get(nxt[0]) != nxt[1]:
            inner = container[key] = {nxt[0]: nxt[1], **_filler(_union_variant(dialect, *nxt).fields)}
        _put(inner, rest[1:], ref, template, dialect)
    else:
        inner = container.get(key)
        if not isinstance(inner, dict):
            inner = container[key] = copy.deepcopy({k: v for k, v in template.items() if k != "parts"})
        _put(inner, rest, ref, template, dialect)


def _new_event(dialect, events: list[dict], tag: str) -> int:
    """Insert a minimal event of ``tag`` before the log's last event; return its index."""
    variant = dialect.payload.variant(tag)
    payload = {"type": tag, **_filler(variant.fields)}
    event = dict(events[-1], thread_id=None, codex_turn_id=None, payload=payload)
    events.insert(len(events) - 1, event)
    for n, e in enumerate(events, 1):
        e["seq"] = n
    return len(events) - 2


@pytest.mark.parametrize("name,site", _sites(), ids=lambda v: v if isinstance(v, str) else f"{v.variant}{v.pointer[8:]}")
def test_a_dangling_ref_at_every_site_of_the_model_is_found(tmp_path, name, site):
    dialect = DIALECTS[name]
    bundle = rich(name).copy()
    events = [orjson.loads(line) for line in bundle.lines]
    template = next(ref for e in events for _, ref, _ in facts.iter_refs(dialect, e["payload"]))
    ref = _dangling(dialect, template, site.field)
    index = next((i for i, e in enumerate(events) if e["payload"]["type"] == site.variant), None)
    if index is None:
        index = _new_event(dialect, events, site.variant)
    _put(events[index]["payload"], site.path, ref, template, dialect)
    pointer = next(p for p, r, _ in facts._follow(events[index]["payload"], site.path, "/payload", site.field) if r is ref)
    bundle.lines = [orjson.dumps(e) for e in events]
    d = bundle.write(tmp_path / "b")
    want = "REF.FILE_EXISTS" if dialect.layout.ref_key == "path" else "STORE.REF_RECORD"
    report = validate_bundle(d, Options(profile=Profile.WRITER, releases=False))  # the findings alone: compat is tested apart
    found = [(f.invariant, f.line, f.pointer) for f in report.findings]
    assert any(i == want and line == index + 1 and p.startswith(pointer) for i, line, p in found), (pointer, found[:6])
