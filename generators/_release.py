"""Bundles as one Codex release writes them (``build_bundle(release=R)``, ``fuzz-reducer --release R``).

The release's measured record (:mod:`rollout_trace_kit.model.releases`) says what its writer was
seen writing: the schema_version (so the dialect), the event variants, tool kinds and payload
kinds, the fields of each variant, which fields it writes as ``null`` and which it leaves out.
The generators write their dialect as its reference release does (``Dialect.reference_release``,
following its real bundles, which show more than its probe: apply_patch calls, say). For another
release of the dialect they take out what that release differs by, from the two records:

* each plan feature (a call kind, a spawned child, a resumed child, a compaction, a way of
  ending a turn) whose bundle holds a variant, tool kind or payload kind the reference release
  was seen writing and this release was not: which feature writes what is measured here, by
  building it once;
* each field the reference release was seen writing and this release was not (unless its
  reducer requires it: 0.165.0 writes tool_call_runtime_started without ``kind``); a field it
  writes as ``null`` is ``null``, one it leaves out is left out;
* the dialect's terminal event, when the release was not seen writing it (0.165.0 writes
  schema_version 2 and ends with ``rollout_ended``).

What no release record says (bodies, ids, the order of a turn's events) stays as the reference
release writes it. So ``release=`` the reference release writes what the releases mode writes.

In the schema mode a release is a reader (:func:`reading_release`): its dialect (the
schema_version it writes), every feature whose events its reducer reads, and the widened values
drawn only from its reducer's measured vocabulary (variants, tool kinds, payload kinds, the
summary, requester and status values serde listed), with every field its reducer requires present.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from functools import lru_cache
from typing import Any

import orjson

from ..model import DIALECTS
from ..model.types import Dialect
from ._widen import PAYLOAD_KIND_TYPE, TOOL_KIND_TYPE
from ._plan import CALL_KINDS, SPAWN, BundlePlan, Call, Round, ThreadPlan, TurnPlan, TURN_ENDS

# Features a plan can hold, each as the smallest turn that holds it.
_CHILD = ThreadPlan((TurnPlan((Round((Call("exec"),)),)),))
FEATURES: dict[str, TurnPlan] = {
    **{f"call:{k}": TurnPlan((Round((Call(k, nested=1),)),)) for k in CALL_KINDS},
    "spawn": TurnPlan((Round((Call(SPAWN, child=_CHILD),)),)),
    "resume": TurnPlan((Round((Call(SPAWN, child=replace(_CHILD, resumed=TurnPlan())),)),)),
    "compact": TurnPlan((Round((Call("exec"),), compact=True),)),
    "compaction_retry": TurnPlan((Round((Call("exec"),), compact=True, compaction_retry=True),)),
    **{f"end:{e}": TurnPlan((), e) for e in TURN_ENDS},
}
BASE = "end:answer"  # an answer-only turn: what every bundle holds


class NotWritable(ValueError):
    """The generators cannot write bundles as this release writes them (said why)."""


@dataclass(frozen=True)
class WritingRelease:
    """How one release writes, as the generators can follow it."""

    version: str
    dialect: Dialect
    features: frozenset[str]  # of FEATURES
    dropped: dict[str, frozenset[str]]  # variant -> fields the reference release writes and this one does not
    omitted: dict[str, frozenset[str]]  # variant -> fields it leaves out when they are None
    nulls: dict[str, frozenset[str]]  # variant -> fields it writes as null
    completes_recording: bool  # ends with the dialect's terminal event (after rollout_ended)
    # the schema mode's reader (reading_release): per model type, the values its reducer knows; per
    # variant, the fields its reducer requires (empty for a writer: the releases mode widens nothing)
    reads: dict[str, frozenset[str]] = field(default_factory=dict)
    required: dict[str, frozenset[str]] = field(default_factory=dict)

    def shape(self, payload: dict[str, Any]) -> None:
        """Rewrite one event payload (in place) as the release writes it."""
        tag = payload["type"]
        dropped = self.dropped.get(tag, ())
        for name in dropped:
            payload.pop(name, None)
        for name in self.omitted.get(tag, ()):
            if name in payload and payload[name] is None:
                del payload[name]
        for name in self.nulls.get(tag, ()):
            if name not in dropped:
                payload.setdefault(name, None)

    # -- plans --------------------------------------------------------------------------------
    def turn(self, t: TurnPlan) -> TurnPlan:
        """``t`` without the features the release does not write (a call becomes a plain exec)."""
        end = t.end if f"end:{t.end}" in self.features else "answer"
        return TurnPlan(tuple(self._round(r) for r in t.rounds), end)

    def _round(self, r: Round) -> Round:
        compact = r.compact and "compact" in self.features
        retry = compact and r.compaction_retry and "compaction_retry" in self.features
        return Round(tuple(self._call(c) for c in r.calls), compact=compact, compaction_retry=retry)

    def _call(self, c: Call) -> Call:
        if c.kind == SPAWN and c.child is not None:
            if "spawn" not in self.features:
                return Call("exec")
            resumed = self.turn(c.child.resumed) if c.child.resumed and "resume" in self.features else None
            return Call(SPAWN, child=ThreadPlan(tuple(self.turn(t) for t in c.child.turns), resumed=resumed))
        return c if f"call:{c.kind}" in self.features else Call("exec")


def _written(dialect: Dialect, turn: TurnPlan) -> tuple[set[str], set[str], set[str]]:
    """(variants, tool kinds, payload kinds) of a bundle holding ``turn``, measured by building it."""
    from ..bundle import Bundle
    from ..validate.rules.release import BundleSummary
    from ._scenario import Recorder
    from ._writer import MemorySink

    rec = Recorder(dialect, BundlePlan(seed=19, incremental=True), MemorySink())
    root = rec.begin()
    rec.user_turn(root, turn)
    rec.shutdown(root)
    bundle = rec.w.finish()
    assert isinstance(bundle, Bundle)  # a memory sink
    summary = BundleSummary()
    for n, line in enumerate(bundle.lines, 1):
        summary.observe(orjson.loads(line), n)
    return set(summary.keysets), set(summary.tool_kinds), set(summary.payload_kinds)


@lru_cache(maxsize=None)
def _feature_writes(dialect_name: str) -> dict[str, tuple[set[str], set[str], set[str]]]:
    d = DIALECTS[dialect_name]
    return {name: _written(d, turn) for name, turn in FEATURES.items()}


def _writes(rel: Any) -> tuple[set[str], set[str], set[str]]:
    return (set(rel.writer_variants or ()), set(rel.get("writer", "tool_kinds", default=[])),
            set(rel.get("writer", "payload_kinds", default=[])))


def _features_within(dialect: Dialect, lacks: list[set[str]]) -> frozenset[str]:
    """The features whose bundle holds none of ``lacks`` (variants, tool kinds, payload kinds)."""
    return frozenset(name for name, wrote in _feature_writes(dialect.name).items()
                     if not any(w & lack for w, lack in zip(wrote, lacks)))


def reducer_vocabulary(rel: Any, dialect: Dialect) -> dict[str, frozenset[str]]:
    """Per model type of ``dialect``, the values the release's reducer was measured knowing
    ("variants" for the event variants); a type its record says nothing about is left out."""
    from ..model.releases import REDUCER_ENUM_SITES
    from ..model.types import Named, Nullable

    out: dict[str, frozenset[str]] = {}
    variants = rel.reducer_variants
    if variants is not None:
        out["variants"] = frozenset(variants)
    kinds = rel.get("reducer", "payload_kinds")
    if kinds is not None:
        out[PAYLOAD_KIND_TYPE] = frozenset(kinds)
    for name, (variant, path) in REDUCER_ENUM_SITES.items():
        known = rel.get("reducer", name)
        if known is None or variant not in dialect.tags:
            continue
        f = next((f for f in dialect.payload.variant(variant).fields if f.name == path[0]), None)
        t = f.type.inner if f is not None and isinstance(f.type, Nullable) else f.type if f is not None else None
        if isinstance(t, Named):
            out[t.name] = frozenset(known)
    return out


def _bodies_beyond_reference(rel: Any, dialect: Dialect) -> list[str]:
    """The body keys the release's reducer requires beyond its dialect's reference reducer, by place
    (0.125.0: an exec runtime end's stdout). The generators write bodies as the reference release
    does, and the schema mode writes every place a body can be."""
    from ..model import releases
    from ..validate.rules.release import body_required

    ref = releases.release(dialect.reference_release)
    covered = body_required(ref) if ref is not None else {}
    out = []
    for place, need in sorted(body_required(rel).items()):
        extra = sorted(set(need["keys"]) - set((covered.get(place) or {}).get("keys", ())))
        if extra:
            out.append(f"{place}: {', '.join(extra)}")
    return out


def _generated_release(version: str, facts: str, measured):
    """``version``'s release and the dialect it writes; :class:`NotWritable` when it is not in the table,
    ``measured(release)`` (its ``facts``) is unknown, or the kit's generators do not write its dialect."""
    from ..model import dialect_for_schema_version
    from ..model import releases
    from ..writer.core import written_dialects

    rel = releases.release(version)
    if rel is None:
        raise NotWritable(f"release {version}: not a Codex release of the table (rollout-trace codex releases)")
    if rel.record is None or measured(rel) is None:
        raise NotWritable(f"release {version}: {facts} are unknown (status {rel.status}); "
                          f"probe it first (rollout-trace codex probe {version})")
    dialect = dialect_for_schema_version(rel.schema_version)
    if dialect is None or dialect.name not in written_dialects():
        raise NotWritable(f"release {version} writes schema_version {rel.schema_version}, "
                          f"which the kit's generators do not write")
    return rel, dialect


@lru_cache(maxsize=None)
def reading_release(version: str) -> WritingRelease:
    """What the schema mode writes for ``version`` (``build_bundle(mode="schema", release=R)``):
    :class:`NotWritable` when its reducer facts are unknown or the generators do not write its dialect."""
    rel, dialect = _generated_release(version, "its reducer's facts", lambda r: r.reducer_variants)
    reads = reducer_vocabulary(rel, dialect)
    terminal = dialect.terminal_variants[-1]
    known = (reads.get("variants"), reads.get(TOOL_KIND_TYPE), reads.get(PAYLOAD_KIND_TYPE))
    writes = list(_feature_writes(dialect.name).values())
    lacks = [set().union(*(w[i] for w in writes)) - k if k is not None else set() for i, k in enumerate(known)]
    lacks[0].discard(terminal)
    ok = _features_within(dialect, lacks)
    if BASE not in ok or "call:exec" not in ok:
        raise NotWritable(f"release {version}: its reducer does not read what every generated bundle holds")
    beyond = _bodies_beyond_reference(rel, dialect)
    if beyond:
        raise NotWritable(f"release {version}: its reducer requires body keys the generators do not write "
                          f"({'; '.join(beyond)}); --mode releases writes as it writes")
    required = {tag: rel.required_fields(tag) for tag in dialect.tags if rel.required_fields(tag)}
    return WritingRelease(version, dialect, ok, {}, {}, {},
                          completes_recording=terminal != "rollout_ended" and terminal in rel.reducer_variants,
                          reads=reads, required=required)


@lru_cache(maxsize=None)
def writing_release(version: str) -> WritingRelease:
    """How ``version`` writes; :class:`NotWritable` when its record does not say or the kit's
    generators do not write its dialect."""
    from ..model import releases

    rel, dialect = _generated_release(version, "its facts", lambda r: r.writer_variants)
    ref = releases.release(dialect.reference_release)
    if ref is None or ref.record is None or ref.writer_variants is None:
        raise NotWritable(f"the reference release of {dialect.name}, {dialect.reference_release}, has no writer facts")
    # what the reference release writes and this one does not: variants, tool kinds, payload kinds
    lacks = [a - b for a, b in zip(_writes(ref), _writes(rel))]
    terminal = dialect.terminal_variants[-1]
    lacks[0].discard(terminal)  # the recording's end: completes_recording below
    ok = _features_within(dialect, lacks)
    if BASE not in ok or "call:exec" not in ok:
        base = set().union(*_feature_writes(dialect.name)["call:exec"]) - {terminal}
        raise NotWritable(f"release {version}: its writer was never seen writing "
                          f"{', '.join(sorted(base & set().union(*lacks)))}, which every generated bundle holds")
    ref_fields = ref.get("writer", "fields", default={})
    own_fields = rel.get("writer", "fields", default={})
    dropped = {tag: frozenset(set(ref_fields.get(tag) or ()) - set(own_fields.get(tag) or ()) - rel.required_fields(tag))
               for tag in dialect.tags if tag in own_fields}
    return WritingRelease(
        version, dialect, frozenset(ok), {tag: fs for tag, fs in dropped.items() if fs},
        omitted={tag: frozenset(fs) for tag, fs in rel.get("writer", "omitted_fields", default={}).items()},
        nulls={tag: frozenset(fs) for tag, fs in rel.get("writer", "null_fields", default={}).items()},
        completes_recording=terminal != "rollout_ended" and terminal in (rel.writer_variants or ()),
    )


def campaign_release(version: str, mode: str) -> WritingRelease:
    """The release a campaign of ``mode`` follows: as it writes (releases), or as its reducer reads (schema)."""
    return reading_release(version) if mode == "schema" else writing_release(version)
