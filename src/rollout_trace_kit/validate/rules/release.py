"""Release rules: a bundle judged as one Codex release's reader and writer would.

The facts come from the measured release records (:mod:`rollout_trace_kit.model.releases`),
never from a table here. The validator's pass feeds every event to a
:class:`BundleSummary` (bounded: one entry per variant and key set, tool kind,
payload kind, schema_version), and :func:`judge` compares the summary with one
release, so ``compat`` can judge many releases (one per epoch) from one pass.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Iterator

import msgspec
import msgspec.inspect as mi

from ...model.common import EnvelopeKey as E
from ...model.facts import refs_by_shape
from ...bundle import MANIFEST, TRACE
from ..catalogue import R, S, W, invariant
from ..findings import Invariant, Severity

SCHEMA_ACCEPTED = invariant(
    "RELEASE.SCHEMA_ACCEPTED",
    "The release's reducer accepts the bundle's schema_version.",
    v1=R, v2=R,
    source="codex probe: the release's own bundle relabelled with each schema_version 0..5",
    notes="When this fails the release's reader stops there, so no other RELEASE rule is reported.",
    release_only=True,
)
VARIANT_KNOWN = invariant(
    "RELEASE.VARIANT_KNOWN",
    "Every event's variant is one the release's reducer knows.",
    v1=R, v2=R,
    source="codex probe: serde's \"unknown variant, expected one of ...\" for an unknown event type",
    release_only=True,
)
FIELD_REQUIRED = invariant(
    "RELEASE.FIELD_REQUIRED",
    "Every payload field the release's reducer requires is present.",
    v1=R, v2=R,
    source="codex probe: each field of each written variant removed in turn (serde \"missing field\")",
    notes="E.g. tool_call_runtime_started.kind: 0.165.0 writes it without `kind`; later reducers require it.",
    release_only=True,
)
TOOL_KIND_KNOWN = invariant(
    "RELEASE.TOOL_KIND_KNOWN",
    "Every tool_call_started kind is one the release's reducer knows.",
    v1=R, v2=R,
    source="codex probe: serde's expected list for an unknown tool kind",
    release_only=True,
)
PAYLOAD_KIND_KNOWN = invariant(
    "RELEASE.PAYLOAD_KIND_KNOWN",
    "Every payload reference's kind is one the release's reducer knows.",
    v1=R, v2=R,
    source="codex probe: serde's expected list for an unknown payload kind",
    release_only=True,
)
BODY_REQUIRED = invariant(
    "RELEASE.BODY_REQUIRED",
    "Every payload body holds the keys the release's reducer requires at its place (e.g. an exec terminal "
    "response's `stdout` for 0.125.0).",
    v1=R, v2=R,
    source="codex probe --bodies: keys removed from, or added to, the bodies of real bundles (serde "
    "\"missing field\")",
    notes="Measured on the first release of each epoch (`body_required` of its record); a release of the "
    "epoch not measured itself takes its epoch's.",
    release_only=True,
)
NUMBER_RANGE = invariant(
    "RELEASE.NUMBER_RANGE",
    "No number the release's reducer builds a value of lies beyond f64 (`1e400`): in an event's payload, "
    "which serde buffers whole (unknown keys included), or in a payload body it opens.",
    v1=R, v2=R,
    source="codex probe --numbers: `1e400` added to an event payload and to a request body of a real bundle "
    "(serde_json \"number out of range\": 0.125.0 to 0.135.0; 0.143.0 on read it)",
    notes="Measured on the first release of each epoch (`number_range` of its record); a release of the "
    "epoch not measured itself takes its epoch's; one never measured reads such numbers, as the reference "
    "reducers do. A value of an unknown envelope key is skipped (checked for its syntax only) by every release.",
    release_only=True,
)
WRITER_VARIANT = invariant(
    "RELEASE.WRITER_VARIANT",
    "Every event's variant is one the release's writer was seen writing.",
    v1=S, v2=S,
    source="codex probe: the variants its `codex exec` wrote across the probe's scenarios",
    severity=Severity.WARNING,
    notes="Strict only, and a warning: a probe covers the scenario classes it drives, not every path of "
    "the writer, so \"not seen\" is no proof the writer never writes it.",
    release_only=True,
)
WRITER_SCHEMA = invariant(
    "RELEASE.WRITER_SCHEMA",
    "The bundle's schema_version is the one the release's writer writes.",
    v1=W, v2=W,
    source="codex probe: the schema_version of every bundle its `codex exec` wrote",
    release_only=True,
)
TERMINAL = invariant(
    "RELEASE.TERMINAL",
    "The log ends with an event the release's writer ends a recording with (or the dialect's terminal event); "
    "a log with rollout_ended that ends otherwise is a warning (only the probes say what follows it).",
    v1=W, v2=W,
    source="codex probe: the last event of every run but the one killed with SIGKILL (interrupted and "
    "multi-agent runs repeated: their end is a race)",
    notes="With `--release` it replaces ORDER.TERMINAL_PRESENT: 0.165.0 and 0.166.0 write schema_version 2 "
    "but end with rollout_ended; a 0.164.0 multi-agent run may end with a child's thread_ended.",
    release_only=True,
)
AFTER_ROLLOUT_ENDED = invariant(
    "RELEASE.AFTER_ROLLOUT_ENDED",
    "Events after rollout_ended are of variants the release's writer was seen writing there.",
    v1=W, v2=None,
    source="codex probe: what followed rollout_ended in any run (a child thread may end after the root: a race)",
    severity=Severity.WARNING,
    notes="With `--release` it replaces ORDER.AFTER_ROLLOUT_ENDED; a warning, since only the probes' runs "
    "say what may follow.",
    release_only=True,
)

MAX_KEYSETS = 64  # distinct key sets kept per variant (a hostile bundle cannot grow the summary)
MAX_NAMES = 256  # distinct variants / kinds kept
SUMMARY_CAP = invariant(
    "KIT.RELEASE_RULES_CAP",
    f"The release rules see every key set and name of the bundle: the kit keeps at most {MAX_KEYSETS} "
    f"distinct key sets per variant, body place or payload ref and {MAX_NAMES} distinct variants, kinds, "
    "schema_versions and body places.",
    v1=R, v2=R,
    source="kit limit: bounded memory for what the release rules keep of a bundle (`validate --release`, `compat`)",
    notes="Past a cap the release rules would judge only what was kept: the kit declined to judge, an "
    "error in every profile (never 'ok'), and compat names no reader. Real bundles stay far below.",
    kit_only=True,
    declines=True,
)


@dataclass
class BundleSummary:
    """What the release rules need of a bundle, gathered in the validator's one pass."""

    schema_versions: dict[Any, int] = field(default_factory=dict)  # value -> first line
    keysets: dict[str, dict[frozenset[str], int]] = field(default_factory=dict)  # variant -> key set -> first line
    tool_kinds: dict[str, int] = field(default_factory=dict)
    payload_kinds: dict[str, int] = field(default_factory=dict)
    ref_keysets: dict[frozenset[str], int] = field(default_factory=dict)  # keys of a payload ref -> first line
    manifest_schema: Any = None
    unreadable_line: int | None = None  # first line no reader parses (not JSON, not UTF-8): every reducer stops there
    unopened: bool = False  # every release's replay_bundle fails to open or parse manifest.json or trace.jsonl
    # typed payload class -> True once observed, when every event of it observes the same
    same_every_time: dict[type, bool] = field(default_factory=dict)
    # typed payload class, once observed -> what may still differ from one event to the next
    # (see _Varying), or None when only the whole walk of :meth:`observe` can tell
    varying: dict[type, "_Varying | None"] = field(default_factory=dict)
    keys_seen: set[tuple] = field(default_factory=set)  # (class, which omittable fields are null) observed
    # set by the pass's order checker: the last event's variant, and the variants after rollout_ended
    last_tag: str | None = None
    rollout_ended: bool = False  # a rollout_ended event was seen
    after_rollout_ended: dict[str, int] = field(default_factory=dict)  # variant -> first line
    # body place (model.facts.body_place) -> key set of a body read there -> first line
    body_keysets: dict[str, dict[frozenset[str], int]] = field(default_factory=dict)
    # the first cap reached (what and where), or None: past a cap the release rules are not judged
    capped: tuple[str, int | None] | None = None
    # place holding a number beyond f64 (lines.EVENT_PAYLOAD_PLACE, or a body place) -> first line
    overflows: dict[str, int] = field(default_factory=dict)
    # how many times a table took a key or refused one past its cap: an observation that leaves
    # it unchanged changed nothing (the decode worker tells the checking process which did, ahead.py)
    changes: int = 0

    def _keep(self, table: dict, key: Any, line: int | None, cap: int, what: str) -> bool:
        """Keep ``key`` (first seen at ``line``) unless ``table`` is full: a cap reached is noted, never ignored."""
        if key in table:
            return True
        self.changes += 1
        if len(table) >= cap:
            if self.capped is None:
                self.capped = (f"more than {cap} distinct {what}", line)
            return False
        table[key] = line
        return True

    # the bundle holds something a release reads otherwise than the dialect's reference reducer (a runtime
    # body nested deep where the reference does not parse it, a runtime start's `invocation`, an output
    # whose call id comes again): compat then judges such a release with a pass of its own
    release_sensitive: bool = False

    def note_body(self, place: str, body: dict, line: int | None) -> None:
        if line is None:
            return
        sets = self.body_keysets.get(place)
        if sets is None:
            if not self._keep(self.body_keysets, place, line, MAX_NAMES, "body places"):
                return
            sets = self.body_keysets[place] = {}
        self._keep(sets, frozenset(body), line, MAX_KEYSETS, f"key sets of bodies at {place}")

    def note_overflow(self, place: str, line: int | None) -> None:
        if line is not None:
            self._keep(self.overflows, place, line, MAX_NAMES, "places of numbers beyond f64")

    def note_after_rollout_ended(self, tag: str, line: int | None) -> None:
        if line is not None:
            self._keep(self.after_rollout_ended, tag, line, MAX_NAMES, "variants after rollout_ended")

    def observe_typed(self, schema_version: Any, payload: msgspec.Struct, line: int) -> None:
        """:meth:`observe` for an event the fast path decoded: a class of scalar fields, none
        omitted, adds nothing after its first event (most events of a long log); a class whose
        keys never vary adds at most the kinds of its refs (and of its tool)."""
        cls = type(payload)
        if self.same_every_time.get(cls):
            return
        varying = self.varying.get(cls)
        if varying is not None and schema_version in self.schema_versions:
            keys = varying.keys(payload)
            if keys in self.keys_seen:
                varying.observe(self, payload, line)
                return
        self.observe({E.SCHEMA_VERSION: schema_version, E.PAYLOAD: msgspec.to_builtins(payload)}, line)
        if cls not in self.same_every_time:
            self.same_every_time[cls] = _scalar_fields_only(cls)
            varying = self.varying[cls] = _Varying.of(cls)
        if varying is not None:
            self.keys_seen.add(varying.keys(payload))

    def observe(self, event: dict, line: int) -> None:
        sv = event.get(E.SCHEMA_VERSION)
        if isinstance(sv, (int, str)) and not isinstance(sv, bool):
            self._keep(self.schema_versions, sv, line, MAX_NAMES, "schema_versions")
        payload = event.get(E.PAYLOAD)
        if not isinstance(payload, dict) or not isinstance(payload.get("type"), str):
            return
        tag = payload["type"]
        sets = self.keysets.get(tag)
        if sets is None and self._keep(self.keysets, tag, line, MAX_NAMES, "variants"):
            sets = self.keysets[tag] = {}
        if sets is not None:
            self._keep(sets, frozenset(k for k in payload if k != "type"), line, MAX_KEYSETS, f"key sets of {tag}")
        kind = payload.get("kind")
        if tag == "tool_call_started" and isinstance(kind, dict) and isinstance(kind.get("type"), str):
            self._keep(self.tool_kinds, kind["type"], line, MAX_NAMES, "tool kinds")
        for ref in _refs(payload):
            self._keep(self.ref_keysets, frozenset(ref), line, MAX_KEYSETS, "key sets of payload refs")
            k = ref.get("kind")
            if isinstance(k, dict) and isinstance(k.get("type"), str):
                self._keep(self.payload_kinds, k["type"], line, MAX_NAMES, "payload kinds")

    @property
    def schema_version(self) -> Any:
        if self.manifest_schema is not None:
            return self.manifest_schema
        return next(iter(self.schema_versions), None)


def _refs(payload: dict) -> Iterator[dict]:
    """Refs of an event payload, found by shape (the release may write variants the model
    does not know); ``kind`` is the ref's own field, never a ref."""
    if not any(type(v) is dict or type(v) is list for v in payload.values()):
        return iter(())  # a ref is an object: a payload of scalars holds none
    return refs_by_shape({k: v for k, v in payload.items() if k != "kind"})


# class -> what _type_name gives for every value of it (a struct class with no `type` attribute:
# its tag or None), or _READ (the value's own `type` attribute decides)
_TAGS: dict[type, object] = {}
_READ, _UNKNOWN = object(), object()


def _name_of_class(cls: type) -> object:
    if not issubclass(cls, msgspec.Struct) or hasattr(cls, "type"):
        return _READ
    config = cls.__struct_config__
    return config.tag if config.tag_field == "type" and isinstance(config.tag, str) else None


_SCALARS = (mi.StrType, mi.IntType, mi.BoolType, mi.NoneType, mi.LiteralType)


def _type_name(value: Any) -> str | None:
    """What ``to_builtins(value)["type"]`` would be: a ``type`` field, or the struct's tag."""
    cls = value.__class__
    how = _TAGS.get(cls, _UNKNOWN)
    if how is _UNKNOWN and len(_TAGS) < MAX_NAMES:
        how = _TAGS[cls] = _name_of_class(cls)
    if how is not _READ and how is not _UNKNOWN:  # a struct class with no `type` attribute: its tag
        return how  # type: ignore[return-value]  # str or None
    name = getattr(value, "type", None)
    if isinstance(name, str):
        return name
    config = getattr(type(value), "__struct_config__", None)
    if config is not None and config.tag_field == "type" and isinstance(config.tag, str):
        return config.tag
    return None


def _holds_no_ref(t: Any, key: str, seen: set) -> bool:
    """Whether no value of type ``t`` can hold an object with a ref id key (any unknown type can)."""
    if isinstance(t, _SCALARS + (mi.FloatType,)):
        return True
    if isinstance(t, mi.UnionType):
        return all(_holds_no_ref(u, key, seen) for u in t.types)
    if isinstance(t, (mi.ListType, mi.VarTupleType, mi.SetType, mi.FrozenSetType)):
        return _holds_no_ref(t.item_type, key, seen)
    if isinstance(t, mi.StructType):
        if t.cls in seen:
            return True
        seen.add(t.cls)
        return all(f.name != key and _holds_no_ref(f.type, key, seen) for f in t.fields)
    return False


@dataclass(frozen=True)
class _Varying:
    """What :meth:`BundleSummary.observe` can learn from one more event of a typed payload class
    whose keys never vary (no omitted defaults): the kinds of its ref fields, and its tool kind.
    Each ref field holds a ref or null (``refs_by_shape`` stops at a ref: refs in its parts do
    not count); a class with refs anywhere else is walked whole."""

    ref_fields: tuple[str, ...]
    tool_kind: bool  # tool_call_started: its `kind` is a tool kind
    cls: type
    omittable: tuple[str, ...]  # fields left out of the JSON when null (omit_defaults, default None)

    def keys(self, payload: msgspec.Struct) -> tuple:
        """What decides the payload's key set: its class and which omittable fields are null."""
        if not self.omittable:  # one key set for the whole class: no generator per event
            return (self.cls,)
        return (self.cls, *[getattr(payload, name) is None for name in self.omittable])

    @staticmethod
    @lru_cache(maxsize=None)  # a class's metadata: msgspec.inspect costs about 1 ms a class, per bundle otherwise
    def of(cls: type) -> "_Varying | None":
        from ...model.facts import ref_id_key

        info = mi.type_info(cls)
        if not isinstance(info, mi.StructType):
            return None
        omittable: tuple[str, ...] = ()
        if info.cls.__struct_config__.omit_defaults:
            if any(not f.required and (f.default is not None or f.default_factory is not mi.NODEFAULT)
                   for f in info.fields):
                return None  # a default other than null: the key set depends on more than nulls
            omittable = tuple(f.name for f in info.fields if not f.required)
        refs: list[str] = []
        tool_kind = False
        for f in info.fields:
            types = f.type.types if isinstance(f.type, mi.UnionType) else (f.type,)
            if all(isinstance(t, _SCALARS) for t in types):
                continue
            if f.name == "kind" and info.tag == "tool_call_started":
                tool_kind = True
                if not all(isinstance(t, mi.StructType) and t.tag_field == "type" and isinstance(t.tag, str)
                           for t in types):
                    return None
            elif f.name != "kind" and all(
                isinstance(t, mi.NoneType)
                or (isinstance(t, mi.StructType) and any(g.name == ref_id_key() for g in t.fields))
                for t in types
            ):
                refs.append(f.name)
            elif f.name == "kind" or not all(_holds_no_ref(t, ref_id_key(), set()) for t in types):
                return None
        return _Varying(tuple(refs), tool_kind, cls, omittable)

    def observe(self, summary: BundleSummary, payload: msgspec.Struct, line: int) -> None:
        if self.tool_kind:
            name = _type_name(payload.kind)  # type: ignore[attr-defined]  # tool_call_started has a kind
            if name is not None and name not in summary.tool_kinds:
                summary._keep(summary.tool_kinds, name, line, MAX_NAMES, "tool kinds")
        kinds = summary.payload_kinds
        for name in self.ref_fields:
            ref = getattr(payload, name)
            if ref is not None:
                kind = _type_name(ref.kind)
                if kind is not None and kind not in kinds:
                    summary._keep(kinds, kind, line, MAX_NAMES, "payload kinds")


@lru_cache(maxsize=None)
def _scalar_fields_only(cls: type) -> bool:
    """Whether every instance of a typed payload class has the same keys, no kind and no ref."""
    info = mi.type_info(cls)
    if not isinstance(info, mi.StructType) or info.cls.__struct_config__.omit_defaults:
        return False
    for f in info.fields:
        types = f.type.types if isinstance(f.type, mi.UnionType) else (f.type,)
        if f.name == "kind" or not all(isinstance(t, _SCALARS) for t in types):
            return False
    return True


@dataclass(frozen=True)
class ReleaseFinding:
    invariant: Invariant
    message: str
    line: int | None
    severity: Severity | None = None  # None: the invariant's own
    file: str = TRACE


def judge(summary: BundleSummary, release, *, dialect_terminal: tuple[str, ...] = (),
          partial_ok: bool = False) -> list[ReleaseFinding]:
    """What ``release`` (a :class:`~rollout_trace_kit.model.releases.Release`) says of the bundle.

    A release without a reducer has no reader rules; one not probed nor inferred has no facts.
    ``dialect_terminal``: the terminal variants of the dialect the bundle is read as (a log
    ending with one is finished whatever the release wrote).
    """
    found = judge_reader(summary, release)
    if found and found[0].invariant is SCHEMA_ACCEPTED:
        return found
    return found + _writer_rules(summary, release, dialect_terminal, partial_ok)


def judge_reader(summary: BundleSummary, release) -> list[ReleaseFinding]:
    """The reader rules alone: what the release's reducer says of the bundle."""
    v = release.version
    accepted = release.schema_versions_accepted
    if accepted is not None:
        bad: list[tuple[Any, int | None]] = [(sv, line) for sv, line in summary.schema_versions.items() if sv not in accepted]
        if summary.manifest_schema is not None and summary.manifest_schema not in accepted:
            bad.insert(0, (summary.manifest_schema, None))
        from ...model.releases import PROBED_SCHEMA_VERSIONS

        tried = [(sv, line) for sv, line in bad if type(sv) is int and sv in PROBED_SCHEMA_VERSIONS]
        if tried:
            sv, line = tried[0]
            return [ReleaseFinding(SCHEMA_ACCEPTED, f"Codex {v}'s reducer accepts schema_version "
                                   f"{sorted(accepted)}, not {sv!r}", line,
                                   file=MANIFEST if line is None else TRACE)]
        if bad:  # values the probe never tried: unmeasured, so a warning that says so
            sv, line = bad[0]
            return [ReleaseFinding(SCHEMA_ACCEPTED, f"schema_version {sv!r} was not tried on Codex {v}'s reducer "
                                   f"(the probe tries {PROBED_SCHEMA_VERSIONS.start}..{PROBED_SCHEMA_VERSIONS.stop - 1}; "
                                   f"it accepted {sorted(accepted)})", line, Severity.WARNING,
                                   file=MANIFEST if line is None else TRACE)] + _reader_rules(summary, release)
    return _reader_rules(summary, release)


def _reader_rules(summary: BundleSummary, release) -> list[ReleaseFinding]:
    out: list[ReleaseFinding] = []
    v = release.version
    known = release.reducer_variants
    if known is not None:
        for tag, sets in summary.keysets.items():
            if tag not in known:
                out.append(ReleaseFinding(VARIANT_KNOWN, f"Codex {v}'s reducer does not know the variant {tag!r}",
                                          min(sets.values(), default=None)))
    if release.get("reducer") is not None:
        for tag, sets in summary.keysets.items():
            if known is not None and tag not in known:
                continue
            need = release.required_fields(tag)
            for keys, line in sets.items():
                missing = sorted(need - keys)
                if missing:
                    out.append(ReleaseFinding(FIELD_REQUIRED, f"Codex {v}'s reducer requires {tag}."
                                              f"{', '.join(missing)}", line))
                    break
    need = ref_required(release)
    for keys, line in summary.ref_keysets.items():
        missing = sorted(need - keys)
        if missing:
            out.append(ReleaseFinding(FIELD_REQUIRED, f"Codex {v}'s reducer requires a payload ref's "
                                      f"{', '.join(missing)}", line))
            break
    # The dialect's own body rules (BODY.*) model its reference reducer: this rule reports what the
    # release requires beyond that reducer, so one missing key is one finding, not two.
    from ...model import dialect_for_schema_version, releases as _releases

    d = dialect_for_schema_version(summary.schema_version)
    reference = _releases.release(d.reference_release) if d is not None else None
    covered = body_required(reference) if reference is not None else {}
    for place, need in body_required(release).items():
        beyond = set(need["keys"]) - set((covered.get(place) or {}).get("keys", ()))
        for keys, line in summary.body_keysets.get(place, {}).items():
            missing = sorted(beyond - keys)
            if missing:
                out.append(ReleaseFinding(BODY_REQUIRED, f"Codex {v}'s reducer requires {', '.join(missing)} in "
                                          f"the body of {place}{_BODY_PLACE_END}", line))
                break
    out += _number_rules(summary, release)
    for name, facts_key, seen in (("tool kind", "tool_kinds", summary.tool_kinds),
                                  ("payload kind", "payload_kinds", summary.payload_kinds)):
        allowed = release.get("reducer", facts_key)
        if allowed is None:
            continue
        inv = TOOL_KIND_KNOWN if facts_key == "tool_kinds" else PAYLOAD_KIND_KNOWN
        for kind, line in seen.items():
            if kind not in allowed:
                out.append(ReleaseFinding(inv, f"Codex {v}'s reducer does not know the {name} {kind!r}", line))
    return out


_BODY_PLACE_END = " (measured)"


def _number_rules(summary: BundleSummary, release) -> list[ReleaseFinding]:
    """RELEASE.NUMBER_RANGE: the first number beyond f64 where the release's serde_json refuses one
    (``reducer.number_range``), in an event payload or in a body the release opens (``payloads_opened``)."""
    from ..lines import EVENT_PAYLOAD_PLACE
    from ...model.facts import split_body_place

    from ...model.releases import NUMBER_IN_EVENT_PAYLOAD, NUMBER_IN_PAYLOAD_BODY

    refused = number_range(release)
    opened = payloads_opened(release)
    for place, line in sorted(summary.overflows.items(), key=lambda item: item[1]):
        if place == EVENT_PAYLOAD_PLACE:
            if refused.get(NUMBER_IN_EVENT_PAYLOAD):
                return [ReleaseFinding(NUMBER_RANGE, f"Codex {release.version}'s reducer refuses a number beyond f64 "
                                       "in an event payload (measured: \"number out of range\")", line)]
            continue
        variant, name, kind = split_body_place(place)
        if refused.get(NUMBER_IN_PAYLOAD_BODY) and opened.get((variant, name, kind), opened.get((variant, name, None), True)):
            return [ReleaseFinding(NUMBER_RANGE, f"Codex {release.version}'s reducer refuses a number beyond f64 "
                                   f"in the body of {place} (measured: \"number out of range\")", line)]
    return []


def body_error_class(release, message: str) -> str | None:
    """The error class the release's reducer printed for the place a BODY_REQUIRED ``message`` names."""
    place = message.rpartition(" in the body of ")[2].removesuffix(_BODY_PLACE_END)
    return (body_required(release).get(place) or {}).get("error_class")


def body_required(release) -> dict[str, dict]:
    """The body keys the release's reducer requires, by place: its record's ``body_required``, else
    (not measured itself) its epoch's first release's; {} when neither was measured."""
    return _measured(release, "body_required") or {}


def number_range(release) -> dict[str, bool]:
    """Where the release's reducer refuses a number beyond f64 (model.releases.NUMBER_IN_*: refused or
    not); {} when not measured."""
    return _measured(release, "number_range") or {}


def _measured(release, key: str):
    """The release's ``reducer.KEY`` (``codex probe --depths``), else (not measured itself) its epoch's
    first release's; None when neither was measured."""
    measured = release.get("reducer", key)
    if measured is None:
        from ...model import releases

        epoch = releases.epoch_of(release.version)
        first = releases.release(epoch.first) if epoch is not None else None
        measured = first.get("reducer", key) if first is not None else None
    return measured


def runtime_depths(release) -> dict[tuple[str, str], int | None]:
    """(runtime variant, kind parsed as) -> the deepest body the release's reducer reads there (None:
    any depth); {} when not measured."""
    return {(variant, kind): depth for variant, kind, depth in _measured(release, "runtime_depths") or ()}


def payloads_opened(release) -> dict[tuple[str, str, str | None], bool]:
    """(variant, ref field, call's tool kind) -> whether the release's reducer opens the payload there (the
    file removed, it still reads the bundle: not opened); (variant, ref field, None) where every measured
    tool kind of the place agrees; {} when not measured."""
    from ...model.facts import split_body_place

    out: dict[tuple[str, str, str | None], bool] = {}
    by_field: dict[tuple[str, str], set[bool]] = {}
    for place, opened in (_measured(release, "payloads_opened") or {}).items():
        variant, name, kind = split_body_place(place)
        out[(variant, name, kind)] = bool(opened)
        by_field.setdefault((variant, name), set()).add(bool(opened))
    out.update({(variant, name, None): next(iter(seen)) for (variant, name), seen in by_field.items() if len(seen) == 1})
    return out


def unenforced_rules(release) -> frozenset[str]:
    """The envelope ordering and identity rules the release's reducer was measured not to enforce (a
    bundle breaking one alone is read: ``reducer.envelope_rules``)."""
    return frozenset(inv for inv, enforced in (_measured(release, "envelope_rules") or {}).items() if not enforced)


def ref_required(release) -> frozenset[str]:
    """The keys of a payload ref the release's reducer requires: measured by the probe (``ref_required``);
    for a release probed before that, and reading every schema_version as its own dialect, that
    dialect's ref fields from the model (the schema of the reading dialect requires them too)."""
    measured = release.get("reducer", "ref_required")
    if measured is not None:
        return frozenset(measured)
    from ...model import dialect_for_schema_version
    from ...model.types import Struct

    accepted = release.schema_versions_accepted or frozenset()
    dialect = dialect_for_schema_version(release.schema_version)
    if dialect is None or not accepted - {release.schema_version}:
        return frozenset()
    return frozenset(f.name for f in dialect.type_as("RawPayloadRef", Struct).fields if f.required)


def terminal_events(release) -> frozenset[str]:
    """The last events of the release's probed runs (killed runs aside: the probe leaves them out)."""
    return frozenset(release.get("writer", "terminal_events", default=[]))


def written_after_rollout_ended(release) -> frozenset[str]:
    """The variants the release's writer was seen writing after rollout_ended, in any run (races included)."""
    scenarios = release.get("writer", "scenarios", default={})
    seen = {t for s in scenarios.values() if isinstance(s, dict) for t in s.get("after_rollout_ended") or []}
    return frozenset(seen | set(release.get("writer", "after_rollout_ended", default=[])))


def _writer_rules(summary: BundleSummary, release, dialect_terminal: tuple[str, ...],
                  partial_ok: bool) -> list[ReleaseFinding]:
    out: list[ReleaseFinding] = []
    v = release.version
    own = release.schema_version
    if isinstance(own, int):
        event_schema = next(((sv, line) for sv, line in summary.schema_versions.items() if sv != own), None)
        if summary.manifest_schema not in (None, own):
            out.append(ReleaseFinding(WRITER_SCHEMA, f"Codex {v}'s writer writes schema_version {own}; "
                                      f"the manifest's is {summary.manifest_schema!r}", None, file=MANIFEST))
        elif event_schema is not None:
            out.append(ReleaseFinding(WRITER_SCHEMA, f"Codex {v}'s writer writes schema_version {own}; "
                                      f"an event's is {event_schema[0]!r}", event_schema[1]))
    ends = terminal_events(release)
    if ends and summary.last_tag is not None and summary.last_tag not in ends | set(dialect_terminal):
        if summary.rollout_ended:
            # the rollout ended: that the writer always adds its last events is known from the probes only
            out.append(ReleaseFinding(TERMINAL, f"the rollout ended, but the log ends with {summary.last_tag}: "
                                      f"Codex {v}'s writer was seen ending a recording with "
                                      f"{' or '.join(sorted(ends))} in the kit's probes", None, Severity.WARNING))
        else:
            out.append(ReleaseFinding(TERMINAL, f"the log ends with {summary.last_tag} and has no rollout_ended: "
                                      f"Codex {v}'s writer ends a recording with {' or '.join(sorted(ends))}; "
                                      "the recording is unfinished or was cut short", None,
                                      Severity.WARNING if partial_ok else None))
    after = written_after_rollout_ended(release)
    for tag, line in summary.after_rollout_ended.items():
        if tag not in after:
            out.append(ReleaseFinding(AFTER_ROLLOUT_ENDED, f"{tag} follows rollout_ended: not seen after it in the "
                                      f"kit's probes of Codex {v}'s writer", line))
    written = release.writer_variants
    if written is not None:
        for tag, sets in summary.keysets.items():
            if tag not in written:
                out.append(ReleaseFinding(WRITER_VARIANT, f"{tag!r}: not seen written in the kit's probes of "
                                          f"Codex {v}'s writer", min(sets.values(), default=None)))
    return out


def reader_accepts(summary: BundleSummary, release) -> bool | None:
    """Whether the release's reducer passes the release rules (None: no reducer or no facts)."""
    if release.record is None or not release.get("has_reducer"):
        return None
    if summary.unreadable_line is not None or summary.unopened:
        return False
    return not judge_reader(summary, release)
