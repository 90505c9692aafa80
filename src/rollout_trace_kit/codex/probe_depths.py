"""How deep a release's reducer reads each runtime body, measured on real bundles.

A reducer that parses a runtime payload (``tool_call_runtime_started`` / ``_ended``) into a
value meets serde_json's recursion limit; one that does not parse it reads any depth. Which
runtime bodies are parsed changed between releases (0.165.0 parses every one; 0.169.0 not a
patch start nor an MCP runtime), so the depth is release data: the probe adds a key nesting
arrays to the first body at each place and bisects the deepest body the reducer still reads.

A place is (variant, runtime kind): the kind the kit parses the body as (the runtime start's
own ``kind`` where it carries one, else its call's), as ``Dialect.runtime_depth_limits`` keys
it. The result is ``reducer.runtime_depths`` of the release record: ``[[variant, kind, depth]]``,
``depth`` null where a body :data:`PROBE_DEPTH` deep is read (not parsed deep).

The bundles are the kit's real bundles of the release's schema_version, less the events of
variants its reducer does not know (0.165.0 does not know ``recording_completed``), with ``seq``
renumbered; a copy the reducer does not accept as it is is not used.
"""

from __future__ import annotations

import json
import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Iterator

from ..model.common import EnvelopeKey as E
from .edited_copies import REDUCERS_AT_ONCE, linked_copy, read_events, rewrite, rewrite_trace
from .probe_bodies import _Edits, _body

PROBE_DEPTH = 512  # a body this deep that is read: the reducer does not parse it deep (under Python's own recursion limit)
DEPTH_KEY = "rtk_probe_depth"
RUNTIME_VARIANTS = ("tool_call_runtime_started", "tool_call_runtime_ended")
RECURSION = "recursion limit exceeded"


def nested(levels: int) -> Any:
    """Arrays nested ``levels`` deep (``[]`` is 1)."""
    value: Any = []
    for _ in range(levels - 1):
        value = [value]
    return value


def deepened(body: dict, depth: int) -> dict:
    """``body`` with one more key making it ``depth`` deep (its outer object is 1)."""
    return {**body, DEPTH_KEY: nested(depth - 1)}


def runtime_places(bundle: Path) -> Iterator[tuple[tuple[str, str], dict]]:
    """((variant, runtime kind), ref) of the first runtime payload file at each place."""
    calls: dict[str, str] = {}
    seen: set[tuple[str, str]] = set()
    for event in read_events(bundle):
        p = event[E.PAYLOAD]
        tag, call = p.get("type"), str(p.get("tool_call_id"))
        if tag == "tool_call_started" and isinstance(p.get("kind"), dict):
            calls[call] = str(p["kind"].get("type"))
        if tag not in RUNTIME_VARIANTS:
            continue
        own = p.get("kind")
        if isinstance(own, dict):  # an end without one is parsed as its start's (the kit's runtime_kinds)
            calls[call] = str(own.get("type"))
        kind = calls.get(call)
        ref = p.get("runtime_payload")
        if kind is None or not isinstance(ref, dict) or not isinstance(ref.get("path"), str):
            continue
        place = (str(tag), kind)
        if place not in seen:
            seen.add(place)
            yield place, ref


def readable_events(events: list[dict], known: frozenset[str] | None) -> list[dict]:
    """``events`` without those of variants outside ``known`` (a release's reducer's), ``seq`` renumbered
    from 1 where they were removed."""
    if known is None:
        return events
    kept = [e for e in events if not isinstance(e.get(E.PAYLOAD), dict) or e[E.PAYLOAD].get("type") in known]
    if len(kept) != len(events):
        for i, e in enumerate(kept, start=1):
            if isinstance(e.get(E.SEQ), int):
                e[E.SEQ] = i
    return kept


def readable_copy(bundle: Path, known: frozenset[str] | None, dest: Path, *, own_kinds: bool = True,
                  required: dict | None = None) -> Path:
    """A copy of ``bundle`` without the events of variants outside ``known``, ``seq`` renumbered;
    without ``own_kinds``, its runtime events lose their own ``kind`` (as 0.165.0 writes them: the
    body is then parsed as its call's kind). ``required``: the release's ``body_required``; a body
    lacking a key it names gets it as an empty string (0.125.0 reads no exec end of 0.164.0's without
    `stdout`: without this, no bundle with an exec would be readable, and its places unmeasured)."""
    from .probe_bodies import body_refs

    linked_copy(bundle, dest)
    events = readable_events(read_events(bundle), known)
    if not own_kinds:
        for e in events:
            if e[E.PAYLOAD].get("type") in RUNTIME_VARIANTS:
                e[E.PAYLOAD].pop("kind", None)
    rewrite_trace(dest, events)
    for place, ref in body_refs(dest) if required else ():
        keys = ((required or {}).get(place) or {}).get("keys") or ()
        body = _body(dest, ref)
        if isinstance(body, dict) and any(k not in body for k in keys):
            rewrite(dest / ref["path"], json.dumps({**{k: "" for k in keys}, **body}))
    return dest


def deepest_read(edits: _Edits, bundle: Path, ref: dict) -> int | None:
    """The deepest body the reducer reads at ``ref``'s place: None when :data:`PROBE_DEPTH` is read,
    or when a body too deep fails for another reason than the recursion limit (not measured)."""
    body = _body(bundle, ref)
    if not isinstance(body, dict):
        return None

    def reads(depth: int) -> bool | None:
        rc, err = edits.reduce(bundle, {ref["path"]: deepened(body, depth)})
        if rc == 0:
            return True
        return False if RECURSION in err else None

    if reads(PROBE_DEPTH) is not False:
        return None
    low, high = 2, PROBE_DEPTH  # low is read (a body with one more key than the bundle's), high fails
    if not reads(low):
        return None
    while high - low > 1:
        mid = (low + high) // 2
        verdict = reads(mid)
        if verdict is None:
            return None
        low, high = (mid, high) if verdict else (low, mid)
    return low


def runtime_depths(binary: Path, bundles: list[Path], known: frozenset[str] | None, scratch: Path,
                   required: dict | None = None) -> list[list]:
    """``reducer.runtime_depths`` of the release whose reducer is ``binary``: [[variant, kind, depth or None]]."""
    scratch.mkdir(parents=True, exist_ok=True)
    edits = _Edits(binary, scratch)
    found: dict[tuple[str, str], int | None] = {}
    for i, original in enumerate(bundles):
        if not any(True for _ in runtime_places(original)):
            continue
        for own_kinds in (True, False):  # as the bundle is, then as a release writing no runtime kind would write it
            bundle = readable_copy(original, known, scratch / f"base-{i}-{own_kinds}", own_kinds=own_kinds,
                                   required=required)
            if edits.reduce(bundle, {})[0] != 0:
                continue  # e.g. 0.166.0 on requires the runtime start's kind
            new = {place: ref for place, ref in runtime_places(bundle) if place not in found}
            # each place's search is a bisection, one reducer run after another; the places side by side
            with ThreadPoolExecutor(REDUCERS_AT_ONCE) as pool:
                found.update(zip(new, pool.map(lambda ref: deepest_read(edits, bundle, ref), new.values())))
    return [[variant, kind, depth] for (variant, kind), depth in sorted(found.items())]


def _known(reducer: dict) -> frozenset[str] | None:
    """The variants the release's reducer knows (None: not recorded)."""
    known = reducer.get("variants")
    return frozenset(known) if known is not None else None


def measure_depths(release: str, record: dict | None = None) -> dict:
    """The release's existing record with ``reducer.runtime_depths`` measured on the kit's corpus."""
    from .probe import measure_on_corpus

    return measure_on_corpus(release, record, "depths", lambda binary, bundles, reducer, tmp: {
        "runtime_depths": runtime_depths(binary, bundles, _known(reducer), tmp, reducer.get("body_required"))})



# -- which payloads the reducer opens ---------------------------------------------------------


def payloads_opened(binary: Path, bundles: list[Path], known: frozenset[str] | None, scratch: Path,
                    required: dict | None = None) -> dict[str, bool]:
    """{place (``model.facts.body_place``): whether the release's reducer opens the payload file there}:
    the file removed, is the bundle still accepted? 0.169.0 opens every referenced payload ("open
    payload {id}"); 0.165.0 only those its handlers read. ``reducer.payloads_opened`` of the record."""
    from ..model.facts import body_place
    from .install import trace_reduce

    scratch.mkdir(parents=True, exist_ok=True)
    places: dict[str, bool] = {}
    runs = 0
    for i, original in enumerate(bundles):
        bundle = readable_copy(original, known, scratch / f"read-{i}", required=required)
        if trace_reduce(binary, bundle, scratch / f"read-{i}.out.json", timeout=20).returncode != 0:
            continue
        calls: dict[str, str] = {}
        for event in read_events(bundle):
            p = event[E.PAYLOAD]
            call = str(p.get("tool_call_id"))
            if p.get("type") == "tool_call_started" and isinstance(p.get("kind"), dict):
                calls[call] = str(p["kind"].get("type"))
            for name, ref in p.items():
                if not isinstance(ref, dict) or not isinstance(ref.get("path"), str):
                    continue
                place = body_place(str(p.get("type")), name, calls.get(call) if "tool_call_id" in p else None)
                if place in places:
                    continue
                runs += 1
                copy = scratch / f"gone-{runs}"
                linked_copy(bundle, copy)
                (copy / ref["path"]).unlink(missing_ok=True)
                places[place] = trace_reduce(binary, copy, scratch / f"gone-{runs}.out.json", timeout=20).returncode != 0
                shutil.rmtree(copy, ignore_errors=True)
    return dict(sorted(places.items()))


# -- which envelope rules the reducer enforces ------------------------------------------------


def _seq_edit(change):
    def edit(events: list[dict]) -> None:
        seqs = [e for e in events if isinstance(e.get(E.SEQ), int)]
        if len(seqs) > 2:
            change(seqs)
    return edit


def _shift_all(seqs: list[dict]) -> None:
    for e in seqs:
        e[E.SEQ] += 1


def _gap(seqs: list[dict]) -> None:
    for e in seqs[len(seqs) // 2:]:
        e[E.SEQ] += 1


def _repeat(seqs: list[dict]) -> None:
    middle = len(seqs) // 2
    for e in seqs[middle:]:
        e[E.SEQ] -= 1


def _other_rollout(events: list[dict]) -> None:
    events[len(events) // 2][E.ROLLOUT_ID] = "01a2139c-0000-7000-8000-000000000000"


# invariant -> an edit of a readable bundle's events that breaks it alone
ENVELOPE_EDITS = {
    "SEQ.STARTS_AT_ONE": _seq_edit(_shift_all),
    "SEQ.NO_GAP": _seq_edit(_gap),
    "SEQ.INCREASING": _seq_edit(_repeat),
    "ENVELOPE.ROLLOUT_ID": _other_rollout,
}


def envelope_rules(binary: Path, bundles: list[Path], known: frozenset[str] | None, scratch: Path,
                   required: dict | None = None) -> dict[str, bool]:
    """{invariant: whether the release's reducer rejects a bundle breaking it alone} for the ordering and
    identity rules of the envelope (:data:`ENVELOPE_EDITS`), asked with the first readable bundle:
    ``reducer.envelope_rules`` of the record (0.165.0 enforces none of them, 0.169.0 all)."""
    from .install import trace_reduce

    scratch.mkdir(parents=True, exist_ok=True)
    for i, original in enumerate(bundles):
        bundle = readable_copy(original, known, scratch / f"env-{i}", required=required)
        if trace_reduce(binary, bundle, scratch / f"env-{i}.out.json", timeout=20).returncode != 0:
            continue
        out = {}
        for inv, edit in ENVELOPE_EDITS.items():
            copy = scratch / f"env-{i}-{inv}"
            linked_copy(bundle, copy)
            events = read_events(bundle)
            edit(events)
            rewrite_trace(copy, events)
            out[inv] = trace_reduce(binary, copy, scratch / f"env-{i}-{inv}.out.json", timeout=20).returncode != 0
            shutil.rmtree(copy, ignore_errors=True)
        return out
    return {}


def measure_reads(release: str, record: dict | None = None) -> dict:
    """The release's record with ``reducer.payloads_opened`` and ``reducer.envelope_rules`` measured on the
    kit's corpus (made readable for the release)."""
    from .probe import measure_on_corpus

    return measure_on_corpus(release, record, "reads", lambda binary, bundles, reducer, tmp: {
        "payloads_opened": payloads_opened(binary, bundles, _known(reducer), tmp / "reads", reducer.get("body_required")),
        "envelope_rules": envelope_rules(binary, bundles, _known(reducer), tmp / "envelope", reducer.get("body_required"))})
