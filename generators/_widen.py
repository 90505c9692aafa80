"""The "as the schema allows" generation mode: release-shaped events widened to the schema.

Releases write a narrow slice of what the format allows: one summary variant (``generic``),
a handful of tool kinds, the statuses their code paths reach, ``null`` where serde would
also read an absent key. A reader tested only on that slice can crash on the first bundle
of another producer. The widener rewrites each event as it is written, at the places where
the reference reducers read any value the schema allows (measured against 0.164.0, 0.169.0
and 0.171.0: the codex tier checks that they still accept every widened bundle):

* every string enum (statuses) cycles through all its values;
* a tool call whose kind neither starts a terminal operation nor carries sub-agent activity
  takes any kind that does not start a terminal operation (the reducers dispatch both on the
  kind, so those calls keep theirs);
* the tool call summary, which only viewers read, takes every variant, each optional field
  present, ``null`` and absent, with Unicode and numeric edges in its values;
* a terminal operation's runtime payload refs take each kind the model allows there, and a
  ref sometimes says that the store holds all of its payload (v3's ``capture``: complete);
* a stored payload is now and then kept in part or not at all, its ref saying so (v3's
  ``capture``: truncated, the record cut to ``retained_bytes``; omitted, no record and no
  shard). Measured on 0.171.0: its reducer accepts either at every ref site, the body unread;
* a protocol event's payload ref, whose body no reducer parses, takes the payload kinds no
  other ref field holds (v3: ``warmup_context``, ``model_item``, ``content_value``; 0.171.0
  reads the event whatever the kind, measured; the strict profile's REF.KIND says writers
  use ``protocol_event`` there);
* an optional field is present, ``null`` and absent in turn (serde reads both as ``None``),
  unless a reducer needs its value there: a field the judging reducer requires (``required_since``;
  a release's reader: the fields its reducer was measured requiring, so 0.165.0's gets runtime
  starts without ``kind``, as 0.165.0 wrote them),
  the invocation of a call that carries sub-agent activity, and a response's id when later
  requests continue it (incremental requests).

Values cycle from an offset of the seed (its residue modulo ``._plan.PLAN_PERIOD``) shifted per
site, so a few bundles cover every value, the valid bundles of a fuzz plan (whose k-th has the
residue k) by construction, and the same seed gives the same bytes.
"""

from __future__ import annotations

import zlib
from typing import Any, Callable, Mapping

from ..model.dispatch import Table, named_type_table, type_expr_table
from ..model.types import (
    AnyJson,
    ArrayOf,
    Bool,
    Dialect,
    Field,
    Int,
    Named,
    Nullable,
    Str,
    StrEnum,
    Struct,
    TaggedUnion,
    TypeExpr,
    UnitKind,
    refs_payload,
    takes_null,
)

# Strings that break naive readers yet are valid JSON strings serde reads: empty, accents,
# CJK, a non-BMP emoji (a surrogate pair in UTF-16), combining marks, bidi overrides, line
# and paragraph separators, NUL, quotes and backslashes, and a long one.
EDGE_STRINGS = (
    "",
    "é",
    "日本語のテキスト",
    "\U0001f600 emoji",
    "e\u0301\u0302",
    "\u202eevil\u202c",
    "line\u2028para\u2029",
    "nul\u0000byte",
    '"quoted" \\ back\\slash',
    "tab\tnewline\n",
    "x" * 2048,
)
ABSENT = object()  # a field left out of the event
_NULL_FORMS = (None, ABSENT)

# Named types whose values the reference reducers read as opaque (see the module docstring).
SUMMARY_TYPE = "ToolCallSummary"
TOOL_KIND_TYPE = "ToolCallKind"
PAYLOAD_KIND_TYPE = "RawPayloadKind"
# Where a tool kind is opaque: the call's own kind. The runtime's kind (v2 on) says how its
# runtime payload is parsed, so it stays as written.
TOOL_KIND_SITE = ("tool_call_started", "kind")
RUNTIME_STARTED = "tool_call_runtime_started"
CAPTURE_TYPE = "PayloadCapture"
ORIGINAL_BYTES, RETAINED_BYTES = "original_bytes", "retained_bytes"  # PayloadCapture's size fields
CAPTURE_CUT_EVERY = 8
RESPONSE_ID_SITE = ("inference_completed", "response_id")
AGENT_INVOCATION_SITE = ("tool_call_started", "invocation_payload")
OPAQUE_REF_SITE = ("protocol_event_observed", "event_payload")  # a ref whose body no reducer parses


def int_edges(t: Int) -> tuple[int, ...]:
    lo, hi = t.bounds
    return tuple(sorted({lo, hi, 0, 1, min(hi, 2**53 + 1), max(lo, -(2**53) - 1)}))


class Widener:
    """Called with each event's payload (a dict) before it is written; edits it in place."""

    def __init__(self, dialect: Dialect, start: int, *, incremental: bool = False,
                 reads: Mapping[str, frozenset[str]] | None = None, required: Mapping[str, frozenset[str]] | None = None):
        self.dialect = dialect
        # one release's reducer (._release.reading_release): per type, the values it knows, and per
        # variant, the fields it requires; None: every value of the model
        self.reads = reads or {}
        self.required = required or {}
        self.release_reader = required is not None  # a release's required fields, not required_since, decide
        self.incremental = incremental  # later requests continue earlier responses by their id
        self.start = start  # where each site's cycle starts, shifted by the site (pick)
        self._next: dict[object, int] = {}
        # v2 on, runtime events carry their own kind; before, the reducer parses a call's runtime
        # payloads by the call's kind, which must then stay as written
        self.runtime_has_kind = any(f.name == "kind" for f in dialect.payload.variant(RUNTIME_STARTED).fields)
        self._runtime_follows = False
        # the capture note of a ref whose store holds all of the payload: the capture variant
        # without fields (absent says the same)
        capture = next((u for u in dialect.types if isinstance(u, TaggedUnion) and u.name == CAPTURE_TYPE), None)
        whole = [v for v in capture.variants if not v.fields] if capture else []
        self.capture_complete = {capture.tag_key: whole[0].tag} if capture and whole else None
        # the capture variants of a payload the store holds part of or none of (the ones with fields)
        self.capture_cut = tuple(v for v in capture.variants if v.fields) if capture else ()
        self._capture_tag = capture.tag_key if capture else ""
        self._terminal_calls: set[str] = set()  # tool_call_ids whose kind starts a terminal operation
        kinds = dialect.type(TOOL_KIND_TYPE)
        self._terminal_kinds = {v.tag for v in kinds.variants if v.terminal_operation} if isinstance(kinds, TaggedUnion) else set()
        self.unplaced_kinds = unplaced_kinds(dialect)

    def known(self, type_name: str, options: tuple[Any, ...]) -> tuple[Any, ...]:
        """``options`` (values, or variants by tag) the reader knows of type ``type_name``."""
        allowed = self.reads.get(type_name)
        if allowed is None:
            return options
        return tuple(o for o in options if getattr(o, "tag", o) in allowed)

    def pick(self, site: object, options: tuple[Any, ...]) -> Any:
        """The next of ``options`` at ``site``: a cycle from ``start`` shifted by the site, so that
        bundles of consecutive starts (a plan's valid cases: ..._fast.feature_seed) begin each
        site's cycle at consecutive values: L bundles reach each of a site's L values first."""
        if site not in self._next:
            self._next[site] = (zlib.crc32(repr(site).encode()) + self.start) % len(options)
        k = self._next[site]
        self._next[site] = k + 1
        return options[k % len(options)]

    def capture(self, kind: str, size: int) -> dict[str, Any] | None:
        """The capture note of a payload of ``size`` bytes about to be stored (None: all of it,
        no note); about one payload in CAPTURE_CUT_EVERY is cut, in turn by each way."""
        v = self.pick(("capture",), (None,) * (CAPTURE_CUT_EVERY - 1) * len(self.capture_cut) + self.capture_cut)
        if v is None:
            return None
        sizes = {ORIGINAL_BYTES: size, RETAINED_BYTES: size // 2}  # retained: less than the original
        return {self._capture_tag: v.tag, **{f.name: sizes[f.name] for f in v.fields}}

    def __call__(self, payload: dict[str, Any], following: dict[str, Any] | None) -> None:
        """Widen ``payload``; ``following`` is the next event's payload (None at the end)."""
        self._runtime_follows = bool(
            following and following.get("type") == RUNTIME_STARTED
            and following.get("tool_call_id") == payload.get("tool_call_id")
        )
        variant = self.dialect.payload.variant(payload["type"])
        kind = payload.get("kind")
        if variant.tag == TOOL_KIND_SITE[0] and isinstance(kind, dict) and kind.get("type") in self._terminal_kinds:
            self._terminal_calls.add(payload.get("tool_call_id", ""))
        self._in_terminal_call = payload.get("tool_call_id") in self._terminal_calls
        for f in variant.fields:
            self.field(payload, f, (variant.tag, f.name))

    # -- one field of a written object --------------------------------------------------------
    def field(self, obj: dict[str, Any], f: Field, site: tuple[str, ...]) -> None:
        if f.name not in obj:
            if f.skip_if_none:  # omitted when None: serde reads null the same
                if self.pick(site + ("absent",), _NULL_FORMS) is None:
                    obj[f.name] = None
            return
        value = obj[f.name]
        if value is None:
            if not f.required and self.pick(site + ("null",), _NULL_FORMS) is ABSENT:
                del obj[f.name]
            return
        if not f.required and not self.needed(obj, f, site):
            # null only where the type takes it (v2's runtime kind is optional, never null)
            forms = ("value", None, ABSENT) if takes_null(f.type) else ("value", ABSENT)
            form = self.pick(site + ("presence",), forms)
            if form != "value":
                if form is ABSENT:
                    del obj[f.name]
                else:
                    obj[f.name] = None
                return
        t = f.type.inner if isinstance(f.type, Nullable) else f.type
        if refs_payload(t):
            self.ref_kind(value, f, site)
        elif isinstance(t, Named):
            widened = self.named(t.name, value, site)
            if widened is not ABSENT:
                obj[f.name] = widened

    def needed(self, obj: dict[str, Any], f: Field, site: tuple[str, ...]) -> bool:
        """Whether a reference reducer needs this optional field's value where it is written
        (each case measured: the reducers' errors are quoted)."""
        if len(site) == 2 and f.name in self.required.get(site[0], ()):
            return True
        if f.required_since is not None and not self.release_reader:  # the dialect's reference reducer requires it
            return True
        if site == RESPONSE_ID_SITE:
            return self.incremental  # "incremental inference request referenced unknown previous_response_id"
        if site == AGENT_INVOCATION_SITE:
            kinds = self.dialect.type(TOOL_KIND_TYPE)
            kind = obj.get("kind")
            tag = kind.get("type") if isinstance(kind, dict) else None
            return isinstance(kinds, TaggedUnion) and tag in kinds.tags and kinds.variant(tag).agent_activity
        return False

    def ref_kind(self, value: Any, f: Field, site: tuple[str, ...]) -> None:
        """A terminal operation's runtime payloads may be labelled with any of the field's kinds
        (the reducers parse both kinds alike there; elsewhere the kind says how to parse); a
        ref that holds all of its payload may say so (``capture``: complete, v3)."""
        if not isinstance(value, dict):
            return
        kinds = self.known(PAYLOAD_KIND_TYPE, f.payload_kinds)
        unplaced = self.known(PAYLOAD_KIND_TYPE, self.unplaced_kinds)
        if self._in_terminal_call and len(kinds) > 1:
            value["kind"] = {"type": self.pick(site + ("kind",), kinds)}
        elif site == OPAQUE_REF_SITE and unplaced:
            kind = self.pick(site + ("kind",), (None,) + unplaced)
            if kind is not None:
                value["kind"] = {"type": kind}
        if self.capture_complete is not None and "capture" not in value and self.pick(site + ("capture",), (True, False)):
            value["capture"] = dict(self.capture_complete)

    def named(self, name: str, value: Any, site: tuple[str, ...]) -> Any:
        """The widened value of a named type, or ABSENT to keep ``value``."""
        t = self.dialect.type(name)
        if isinstance(t, StrEnum):
            return self.pick(site, self.known(name, t.values))
        if isinstance(t, TaggedUnion) and name == TOOL_KIND_TYPE and site == TOOL_KIND_SITE:
            current = next((v for v in t.variants if v.tag == value.get("type")), None)
            if current is None or current.terminal_operation or current.agent_activity:
                return ABSENT  # the reducers dispatch terminal operations and agent activity on the kind
            if self._runtime_follows and not self.runtime_has_kind:
                return ABSENT
            # an agent kind's runtime end is parsed as sub-agent activity or a collab end (BODY.AGENT_ACTIVITY):
            # only a call without runtime events may take one
            free = self.known(name, tuple(v for v in t.variants if not v.terminal_operation
                                          and not (v.agent_activity and self._runtime_follows)))
            return self.union_value(t, self.pick(site, free).tag, site)
        if isinstance(t, TaggedUnion) and name == SUMMARY_TYPE:
            return self.union_value(t, self.pick(site, self.known(name, t.tags)), site)
        return ABSENT

    # -- values drawn from the model ------------------------------------------------------------
    def union_value(self, t: TaggedUnion, tag: str, site: tuple[str, ...]) -> dict[str, Any]:
        v = t.variant(tag)
        out: dict[str, Any] = {t.tag_key: tag}
        for f in v.fields:
            fsite = site + (tag, f.name)
            if not f.required:
                form = self.pick(fsite + ("presence",), ("value", None, ABSENT))
                if form is ABSENT:
                    continue
                if form is None:
                    out[f.name] = None
                    continue
            out[f.name] = self.value(f.type, fsite)
        return out

    def value(self, t: TypeExpr, site: tuple[str, ...]) -> Any:
        return _DRAW[type(t)](self, t, site)


def unplaced_kinds(dialect: Dialect) -> tuple[str, ...]:
    """The payload kinds of the dialect that no ref field names among the kinds it holds."""
    placed = {k for v in dialect.payload.variants for f in v.fields for k in f.payload_kinds}
    return tuple(k for k in dialect.type_as(PAYLOAD_KIND_TYPE, UnitKind).values if k not in placed)


def _draw_named(w: Widener, t: Named, site: tuple[str, ...]) -> Any:
    nt = w.dialect.type(t.name)
    return _DRAW_NAMED[type(nt)](w, nt, site)


# One drawing rule per named type.
_DRAW_NAMED: Table[Callable[[Widener, Any, tuple[str, ...]], Any]] = named_type_table("widened value of a named type", {
    StrEnum: lambda w, nt, site: w.pick(site, w.known(nt.name, nt.values)),
    UnitKind: lambda w, nt, site: {"type": w.pick(site, w.known(nt.name, nt.values))},
    TaggedUnion: lambda w, nt, site: w.union_value(nt, w.pick(site + ("tag",), w.known(nt.name, nt.tags)), site),
    Struct: lambda w, nt, site: {f.name: w.value(f.type, site + (f.name,)) for f in nt.fields if f.required},
})


# One drawing rule per type expression (the vocabulary of model/types.py).
_DRAW: Table[Callable[[Widener, Any, tuple[str, ...]], Any]] = type_expr_table("widened value of a type expression", {
    Str: lambda w, t, site: w.pick(site, EDGE_STRINGS),
    Int: lambda w, t, site: w.pick(site, int_edges(t)),
    Bool: lambda w, t, site: w.pick(site, (True, False)),
    AnyJson: lambda w, t, site: w.pick(site, (None, {}, [], 0, "", {"k": [1, 2.5, None]})),
    Nullable: lambda w, t, site: None if w.pick(site + ("null",), (True, False)) else w.value(t.inner, site),
    ArrayOf: lambda w, t, site: [w.value(t.item, site + ("item",)) for _ in range(w.pick(site + ("n",), (0, 1, 2)))],
    Named: _draw_named,
})
