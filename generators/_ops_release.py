"""Corruption operators for the RELEASE.* rules (validate/rules/release.py).

A release rule breaks when a bundle meets a reader (or writer) it does not fit, so
each operator picks the Codex release to judge with (``Corrupted.release``), from the
measured release records, and, where the rule is about a field or a kind, edits
the bundle. The expected RELEASE IDs are worked out here from the raw events and
the record (``_release_ids``), independently of the validator's code.
"""

from __future__ import annotations

import random

import orjson

from ..model.common import EnvelopeKey as E
from ..model import releases as rel
from ..model import facts
from ..model.types import Dialect
from ..validate.catalogue import CATALOGUE, level_in
from ._edit import Editor, iter_refs
from ._ops_common import payload_kinds
from .corruptions import Corrupted, corruption

SCHEMA, VARIANT, FIELD, TOOL, PAYLOAD, WRITER = (
    "RELEASE.SCHEMA_ACCEPTED", "RELEASE.VARIANT_KNOWN", "RELEASE.FIELD_REQUIRED",
    "RELEASE.TOOL_KIND_KNOWN", "RELEASE.PAYLOAD_KIND_KNOWN", "RELEASE.WRITER_VARIANT",
)
WRITER_SCHEMA, TERMINAL, AFTER_ENDED = "RELEASE.WRITER_SCHEMA", "RELEASE.TERMINAL", "RELEASE.AFTER_ROLLOUT_ENDED"
BODY = "RELEASE.BODY_REQUIRED"
# fields whose removal leaves the dialect's lifecycle rules alone (no id, no ref)
REMOVABLE = {("tool_call_runtime_started", "kind"), ("inference_started", "model"),
             ("inference_started", "provider_name"), ("compaction_request_started", "model"),
             ("thread_started", "agent_path")}


def _readers(schema_version) -> list[rel.Release]:
    """Releases with measured reducer facts that accept ``schema_version``, one per epoch."""
    out = []
    for e in rel.table_epochs():
        r = e.representative
        accepted = r.get("reducer", "schema_versions_accepted")
        if r.record is not None and accepted is not None and schema_version in accepted:
            out.append(r)
    return out


def _events(ed: Editor) -> list[dict]:
    return [e for e in ed.events if isinstance(e, dict) and isinstance(e.get(E.PAYLOAD), dict)]


def reading_dialect(r: rel.Release, dialect: Dialect) -> Dialect:
    """The dialect ``r``'s reducer reads the bundle as: its own when it takes every schema_version."""
    from ..model import dialect_for_schema_version

    accepted = set((r.record or {}).get("reducer", {}).get("schema_versions_accepted") or []) if r.record else set()
    own = dialect_for_schema_version(r.schema_version)
    return own if r.get("has_reducer") and own is not None and accepted - {r.schema_version} else dialect


def _ref_required(r: rel.Release) -> set[str]:
    measured = r.get("reducer", "ref_required")
    if measured is not None:
        return set(measured)
    from ..model import dialect_for_schema_version
    from ..model.types import Struct

    accepted = set(r.get("reducer", "schema_versions_accepted") or [])
    own = dialect_for_schema_version(r.schema_version)
    if own is None or not accepted - {r.schema_version}:
        return set()
    return {f.name for f in own.type_as("RawPayloadRef", Struct).fields if f.required}


def _judges_after_ended(reading: Dialect) -> bool:
    """Whether RELEASE.AFTER_ROLLOUT_ENDED is a rule of the reading dialect (the catalogue says: v1 only)."""
    return level_in(CATALOGUE[AFTER_ENDED], reading) is not None


def _writer_ids(events: list[dict], schema_version, r: rel.Release, dialect: Dialect) -> set[str]:
    """The writer-side RELEASE rules ``r`` breaks: its schema_version, its terminal events, what it
    writes after rollout_ended (v1 only: v2 has no such rule)."""
    out = set()
    own = r.schema_version
    if isinstance(own, int) and (schema_version not in (None, own)
                                 or any(e.get(E.SCHEMA_VERSION) != own for e in events)):
        out.add(WRITER_SCHEMA)
    reading = reading_dialect(r, dialect)
    # events of variants the reading dialect lacks are judged by VARIANT_KNOWN, not by the order rules
    tags = [t for e in events if (t := e[E.PAYLOAD].get("type")) in reading.tags]
    ends = set(r.get("writer", "terminal_events") or [])
    if ends and tags and tags[-1] not in ends | set(reading.terminal_variants):
        out.add(TERMINAL)
    if _judges_after_ended(reading) and "rollout_ended" in tags:
        after = tags[tags.index("rollout_ended") + 1:]
        seen = {t for s in (r.get("writer", "scenarios") or {}).values() for t in s.get("after_rollout_ended") or []}
        seen |= set(r.get("writer", "after_rollout_ended") or [])
        if any(t not in seen for t in after):
            out.add(AFTER_ENDED)
    return out


def _body_places(events: list, payloads: dict, ref_kinds=None) -> list[tuple[int, str, str, dict]]:
    """(event index, place, path, body) of every JSON-object body stored as a file, in log order."""
    kinds: dict = {}
    out = []
    for i, e in enumerate(events):
        if not isinstance(e, dict) or not isinstance(e.get(E.PAYLOAD), dict):
            continue
        p = e[E.PAYLOAD]
        tag, call = p.get("type"), p.get("tool_call_id")
        refs = [v for v in p.values() if isinstance(v, dict) and isinstance(v.get("path"), str)]
        if ref_kinds is not None and any((v.get("kind") or {}).get("type") not in ref_kinds for v in refs):
            continue  # the event is not one of the dialect's (EVENT.SCHEMA): no reader gets to its bodies
        if tag == "tool_call_started" and isinstance(p.get("kind"), dict):
            kinds.setdefault(call, p["kind"].get("type"))
        for name, v in p.items():
            # a ref of a kind the dialect lacks is not read (REF.KIND): its body is no reader's concern
            if (isinstance(v, dict) and isinstance(v.get("path"), str) and v["path"] in payloads
                    and (ref_kinds is None or (v.get("kind") or {}).get("type") in ref_kinds)):
                try:
                    body = orjson.loads(payloads[v["path"]])
                except orjson.JSONDecodeError:
                    continue
                if isinstance(body, dict):
                    out.append((i, facts.body_place(str(tag), name, kinds.get(call)), v["path"], body))
    return out


def _body_needs(r: rel.Release, dialect: Dialect) -> dict:
    """What ``r``'s reducer requires in bodies beyond the dialect's reference reducer (whose
    requirements the dialect's BODY rules carry)."""
    def measured(release):
        got = release.get("reducer", "body_required")
        if got is None:
            epoch = rel.epoch_of(release.version)
            first = rel.release(epoch.first) if epoch is not None else None
            got = first.get("reducer", "body_required") if first is not None else None
        return got or {}

    ref = rel.release(dialect.reference_release)
    covered = measured(ref) if ref is not None else {}
    out = {}
    for place, need in measured(r).items():
        beyond = [k for k in need.get("keys", []) if k not in (covered.get(place) or {}).get("keys", [])]
        if beyond:
            out[place] = dict(need, keys=beyond)
    return out


def _release_ids(events: list[dict], schema_version, r: rel.Release, dialect: Dialect,
                 payloads: dict | None = None) -> set[str]:
    """Every RELEASE rule ``r`` breaks on these events (and the bodies in ``payloads``; the oracle of the tests)."""
    from ..model.facts import refs_by_shape

    assert r.record is not None  # only measured releases have rules to break
    red = r.record.get("reducer") or {}
    if schema_version not in red.get("schema_versions_accepted", []) or any(
            e.get(E.SCHEMA_VERSION) not in red.get("schema_versions_accepted", []) for e in events):
        return {SCHEMA}
    out = _writer_ids(events, schema_version, r, dialect)
    needs = _body_needs(r, dialect)
    if any(set(needs.get(place, {}).get("keys", [])) - set(body)
           for _, place, _, body in _body_places(events, payloads or {}, set(payload_kinds(dialect)))):
        out.add(BODY)
    need = _ref_required(r)
    for e in events:
        refs = refs_by_shape({k: v for k, v in e[E.PAYLOAD].items() if k != "kind"})
        if any(need - set(ref) for ref in refs):
            out.add(FIELD)
    known = set(red.get("variants") or [])
    written = set((r.record.get("writer") or {}).get("variants") or [])
    for e in events:
        p = e[E.PAYLOAD]
        tag = p.get("type")
        if tag not in known:
            out.add(VARIANT)
        elif set((red.get("required_fields") or {}).get(tag, [])) - set(p):
            out.add(FIELD)
        if tag not in written:
            out.add(WRITER)
        if tag == "tool_call_started" and isinstance(p.get("kind"), dict):
            if p["kind"].get("type") not in set(red.get("tool_kinds") or []):
                out.add(TOOL)
        for _, ref in iter_refs(p, dialect):
            if (ref.get("kind") or {}).get("type") not in set(red.get("payload_kinds") or []):
                out.add(PAYLOAD)
    return out


def _finish(ed: Editor, invariant: str, r: rel.Release, expected: set[str], index: int | None, note: str) -> Corrupted:
    bundle = ed.done()
    return Corrupted(bundle=bundle, invariant=invariant, expected=frozenset(expected),
                     line=None if index is None else index + 1,
                     seq=None if index is None else (ed.events[index] or {}).get(E.SEQ),
                     note=note, release=r.version)


def _schema(ed: Editor):
    try:
        m = ed.original.manifest_dict()
    except ValueError:
        return None
    return m.get("schema_version") if isinstance(m, dict) else None


@corruption(SCHEMA, "Judged by a release whose reducer does not accept the bundle's schema_version.")
def _schema_not_accepted(bundle, dialect: Dialect, rnd: random.Random):
    ed = Editor(bundle, dialect)
    sv = _schema(ed)
    pool = [e.representative for e in rel.table_epochs()
            if e.representative.get("reducer", "schema_versions_accepted") is not None
            and sv not in e.representative.get("reducer", "schema_versions_accepted")]
    if not pool:
        return None
    r = rnd.choice(pool)
    return _finish(ed, SCHEMA, r, {SCHEMA}, None, f"release {r.version}, schema_version {sv}")


def _pick_reader(ed: Editor, dialect: Dialect, rnd: random.Random, want: str) -> tuple[rel.Release, set[str]] | None:
    sv = _schema(ed)
    events = _events(ed)
    pool = [(r, ids) for r in _readers(sv) if want in (ids := _release_ids(events, sv, r, dialect, ed.bundle.payloads))]
    return rnd.choice(pool) if pool else None


def _variant_outside(bundle, dialect: Dialect, rnd: random.Random, invariant: str, side: str, verb: str):
    """Judged by a release whose ``side`` ("reducer", "writer") lacks a variant of the bundle."""
    ed = Editor(bundle, dialect)
    picked = _pick_reader(ed, dialect, rnd, invariant)
    if picked is None:
        return None
    r, ids = picked
    variants = set(r.get(side, "variants"))
    index = next(i for i in range(len(ed.events)) if ed.tag(i) is not None and ed.tag(i) not in variants)
    return _finish(ed, invariant, r, ids, index, f"release {r.version} {verb} {ed.tag(index)}")


@corruption(VARIANT, "Judged by a release whose reducer does not know one of the bundle's variants.")
def _variant_unknown(bundle, dialect: Dialect, rnd: random.Random):
    return _variant_outside(bundle, dialect, rnd, VARIANT, "reducer", "does not know")


@corruption(WRITER, "Judged by a release whose writer was never seen writing one of the bundle's variants.")
def _variant_not_written(bundle, dialect: Dialect, rnd: random.Random):
    return _variant_outside(bundle, dialect, rnd, WRITER, "writer", "never wrote")


@corruption(FIELD, "A field the judging release's reducer requires is removed.")
def _field_removed(bundle, dialect: Dialect, rnd: random.Random):
    ed = Editor(bundle, dialect)
    sv = _schema(ed)
    options = []
    for r in _readers(sv):
        required = r.get("reducer", "required_fields") or {}
        for i, e in enumerate(ed.events):
            tag = ed.tag(i)
            for key in required.get(tag, []) if tag else []:
                if (tag, key) in REMOVABLE and e is not None and key in e[E.PAYLOAD]:
                    options.append((r, i, key))
    if not options:
        return None
    r, i, key = rnd.choice(options)
    del ed.touch_payload(i)[key]
    ids = _release_ids(_events(ed), sv, r, dialect, ed.bundle.payloads)
    if FIELD not in ids:
        return None
    return _finish(ed, FIELD, r, ids, i, f"release {r.version} requires {ed.tag(i)}.{key}")


UNKNOWN_KIND = "rtk_kind_unknown_to_all"


def _missing_kinds(sv, dialect_kinds: tuple[str, ...], key: str) -> list[tuple[rel.Release, str]]:
    """(reader, kind) pairs: a kind of the dialect the reader lacks; failing any, a kind nobody has
    (the dialect's own rules then fire too, and --release adds the release rule on top)."""
    readers = [r for r in _readers(sv) if r.get("reducer", key) is not None]
    pairs = [(r, k) for r in readers for k in dialect_kinds if k not in set(r.get("reducer", key))]
    return pairs or [(r, UNKNOWN_KIND) for r in readers]


@corruption(TOOL, "A tool call's kind becomes one the judging release's reducer lacks (one of the dialect's if any).")
def _tool_kind(bundle, dialect: Dialect, rnd: random.Random):
    ed = Editor(bundle, dialect)
    sv = _schema(ed)
    starts = [i for i in ed.lines_of("tool_call_started") if isinstance(ed.payload(i).get("kind"), dict)]
    options = _missing_kinds(sv, facts.tool_kinds(dialect), "tool_kinds")
    if not starts or not options:
        return None
    r, kind = rnd.choice(options)
    i = rnd.choice(starts)
    ed.touch_payload(i)["kind"] = {"type": kind}
    ids = _release_ids(_events(ed), sv, r, dialect, ed.bundle.payloads)
    return _finish(ed, TOOL, r, ids, i, f"release {r.version} does not know tool kind {kind}")


@corruption(PAYLOAD, "A payload reference's kind becomes one the judging release's reducer lacks (one of the dialect's if any).")
def _payload_kind(bundle, dialect: Dialect, rnd: random.Random):
    ed = Editor(bundle, dialect)
    sv = _schema(ed)
    refs = [(i, ref) for i in range(len(ed.events)) if ed.tag(i) for _, ref in iter_refs(ed.payload(i), dialect)]
    options = _missing_kinds(sv, payload_kinds(dialect), "payload_kinds")
    if not refs or not options:
        return None
    r, kind = rnd.choice(options)
    i, _ = rnd.choice(refs)
    first = next(ref for _, ref in iter_refs(ed.touch_payload(i), dialect))
    first["kind"] = {"type": kind}
    ids = _release_ids(_events(ed), sv, r, dialect, ed.bundle.payloads)
    return _finish(ed, PAYLOAD, r, ids, i, f"release {r.version} does not know payload kind {kind}")


def _judged_by(ed: Editor, dialect: Dialect, rnd: random.Random, invariant: str, note: str, index: int | None = None):
    picked = _pick_reader(ed, dialect, rnd, invariant)
    if picked is None:
        return None
    r, ids = picked
    return _finish(ed, invariant, r, ids, index, f"release {r.version}: {note}")


@corruption(WRITER_SCHEMA, "Judged by a release whose reducer takes the bundle's schema_version but whose writer writes another.")
def _writer_schema(bundle, dialect: Dialect, rnd: random.Random):
    return _judged_by(Editor(bundle, dialect), dialect, rnd, WRITER_SCHEMA, "writes another schema_version")


@corruption(TERMINAL, "The log's last events are cut until it ends with none the judging release ends a recording with.")
def _terminal_cut(bundle, dialect: Dialect, rnd: random.Random):
    ed = Editor(bundle, dialect)
    if not ed.editable() or len(ed.events) < 4:
        return None
    ends = {"rollout_ended", "recording_completed", "thread_ended"}
    while len(ed.events) > 2 and ed.tag(len(ed.events) - 1) in ends:
        ed.delete(len(ed.events) - 1)
    return _judged_by(ed, dialect, rnd, TERMINAL, f"the log ends with {ed.tag(len(ed.events) - 1)}")


@corruption(AFTER_ENDED, "An event the judging release was not seen writing after rollout_ended is appended after it (v1).")
def _after_rollout_ended(bundle, dialect: Dialect, rnd: random.Random):
    ed = Editor(bundle, dialect)
    ended = ed.lines_of("rollout_ended")
    if not ed.editable() or not ended:
        return None
    options = []
    for r in _readers(_schema(ed)):
        if not _judges_after_ended(reading_dialect(r, dialect)):
            continue
        seen = {t for s in (r.get("writer", "scenarios") or {}).values() for t in s.get("after_rollout_ended") or []}
        options += [(r, i) for i in range(ended[0]) if ed.tag(i) not in seen | {"rollout_started", "rollout_ended"}]
    if not options:
        return None
    r, i = rnd.choice(options)
    ed.insert(len(ed.events), ed.clone(i))
    ids = _release_ids(_events(ed), _schema(ed), r, dialect, ed.bundle.payloads)
    if AFTER_ENDED not in ids:
        return None
    return _finish(ed, AFTER_ENDED, r, ids, len(ed.events) - 1, f"release {r.version}: {ed.tag(i)} after rollout_ended")


@corruption(BODY, "A key the judging release's reducer requires in a payload body (measured) is removed from the body.")
def _body_key_removed(bundle, dialect: Dialect, rnd: random.Random):
    ed = Editor(bundle, dialect)
    sv = _schema(ed)
    places = _body_places(ed.events, ed.bundle.payloads)
    # A body first gets every key the release needs beyond the reference reducer (a string: the
    # rule checks presence), then loses one: the bundle before the removal is one the release reads.
    options = []
    for r in _readers(sv):
        needs = _body_needs(r, dialect)
        for i, place, path, body in places:
            keys = needs.get(place, {}).get("keys", [])
            full = {**{k: "" for k in keys if k not in body}, **body}
            payloads = {**ed.bundle.payloads, path: orjson.dumps(full)}
            if keys and BODY not in _release_ids(_events(ed), sv, r, dialect, payloads):
                options += [(r, i, path, full, key) for key in keys]
    if not options:
        return None
    r, i, path, body, key = rnd.choice(options)
    ed.set_body(path, {k: v for k, v in body.items() if k != key})
    ids = _release_ids(_events(ed), sv, r, dialect, ed.bundle.payloads)
    if BODY not in ids:
        return None
    return _finish(ed, BODY, r, ids, i, f"release {r.version} requires {key} in {path}")


NUMBER = "RELEASE.NUMBER_RANGE"
OVERFLOW_KEY = b'"rtk_number_beyond_f64":1e400,'


@corruption(NUMBER, "A number beyond f64 (`1e400`) under an unknown key of an event payload, judged by a release "
            "whose reducer refuses one there (measured: reducer.number_range).")
def _number_beyond_f64(bundle, dialect: Dialect, rnd: random.Random):
    from ..validate.rules.release import number_range

    ed = Editor(bundle, dialect)
    sv = _schema(ed)
    readers = [r for r in _readers(sv) if number_range(r).get(rel.NUMBER_IN_EVENT_PAYLOAD)]
    lines = [i for i, e in enumerate(ed.events) if isinstance(e, dict) and isinstance(e.get(E.PAYLOAD), dict)]
    if not readers or not lines:
        return None
    r, i = rnd.choice(readers), rnd.choice(lines)
    ids = _release_ids(_events(ed), sv, r, dialect, ed.bundle.payloads) | {NUMBER}
    line = orjson.dumps(ed.events[i])
    opening = orjson.dumps(E.PAYLOAD) + b":{"  # the payload object's start on the compact line
    ed.replace_raw(i, line.replace(opening, opening + OVERFLOW_KEY, 1))
    return _finish(ed, NUMBER, r, ids, i, f"release {r.version} refuses 1e400 in an event payload")
