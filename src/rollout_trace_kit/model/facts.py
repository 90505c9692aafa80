"""Questions the rest of the kit asks the model, answered from it.

Every table the validator, the generators, the writers and the docs use is
computed here from a dialect, so a new variant, field, tool kind or payload
kind in the model reaches all of them with no other edit.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any, Iterator, Union

from .types import (
    CONTEXT_NULL,
    READ_AT_EVENT,
    READ_IF_DISPATCHED_TERMINAL,
    ArrayOf,
    Dialect,
    Field,
    Named,
    Struct,
    TaggedUnion,
    TypeExpr,
    Variant,
    refs_payload,
    release_key,
    unwrap,
)

TOOL_KIND_TYPE = "ToolCallKind"
RefPath = tuple[Union[str, tuple[str, str]], ...]  # keys, "*" (every list element), (tag_key, tag)


def registered_name(dialect: Dialect) -> str:
    """The name of ``dialect`` if the kit registers it, else of the nearest dialect it extends.

    Tables keyed by dialect name (invariant levels, handler tables, operators) answer a
    dialect built on top of the model (a test's, a user's) as its parent's.
    """
    from . import DIALECTS

    for name in dialect.lineage:
        if name in DIALECTS:
            return name
    return dialect.name


# -- records a writer writes ---------------------------------------------------------------


class MissingValue(ValueError):
    """A required key of a model struct has no value to write (no const, none given)."""


def record(struct: Struct, values: dict[str, Any]) -> dict[str, Any]:
    """The object a writer writes for ``struct`` (the envelope, the manifest), keys in model order.

    Each key takes its value from ``values``; a key the model has and ``values`` lacks (one
    added to the model later) takes its const, else null, or is left out when it is written
    only when set (``skip_if_none``). A required key with none of these raises
    :class:`MissingValue` naming it: the writer cannot invent it.
    """
    out: dict[str, Any] = {}
    for f in struct.fields:
        if f.name in values:
            value = values[f.name]
        elif f.const is not None:
            value = f.const
        elif f.required:
            raise MissingValue(f"{struct.name}.{f.name} is required by the model and has no value to write")
        else:
            value = None
        if value is None and f.skip_if_none and not f.required:
            continue
        out[f.name] = value
    return out


# -- tool kinds ------------------------------------------------------------------------


def tool_kinds(dialect: Dialect) -> tuple[str, ...]:
    """Every tool kind of the dialect, in model order."""
    return dialect.type_as(TOOL_KIND_TYPE, TaggedUnion).tags


def _tool_kinds_with(dialect: Dialect, flag: str) -> frozenset[str]:
    """The tool kinds (ToolCallKind variants) whose model flag ``flag`` is set."""
    return frozenset(v.tag for v in dialect.type_as(TOOL_KIND_TYPE, TaggedUnion).variants if getattr(v, flag))


def terminal_at_dispatch_kinds(dialect: Dialect) -> frozenset[str]:
    """Tool kinds whose start with an invocation payload creates the terminal operation."""
    return _tool_kinds_with(dialect, "terminal_at_dispatch")


def terminal_tool_kinds(dialect: Dialect) -> frozenset[str]:
    """Tool kinds whose runtime start creates a terminal operation."""
    return _tool_kinds_with(dialect, "terminal_operation")


def exec_runtime_kinds(dialect: Dialect) -> frozenset[str]:
    """Tool kinds whose runtime end the terminal reducer parses as a process's end (exit_code, process id)."""
    return _tool_kinds_with(dialect, "exec_runtime")


def exec_end_places(dialect: Dialect) -> tuple[str, ...]:
    """The body places (body_place) of an exec end: where a release's measured exec-end keys are recorded,
    and so the keys any body the reducer parses as an exec end must hold (a terminal response's too)."""
    return tuple(body_place("tool_call_runtime_ended", "runtime_payload", kind) for kind in sorted(exec_runtime_kinds(dialect)))


def terminal_start_kinds(dialect: Dialect) -> frozenset[str]:
    """Tool kinds whose operation-creating runtime start the terminal reducer parses as a process's begin."""
    return _tool_kinds_with(dialect, "terminal_start")


def terminal_response_kinds(dialect: Dialect) -> frozenset[str]:
    """Tool kinds whose operation's runtime end the terminal reducer parses as a terminal response."""
    return _tool_kinds_with(dialect, "terminal_response")


def agent_activity_tool_kinds(dialect: Dialect) -> frozenset[str]:
    """Tool kinds whose runtime end may be a sub-agent activity (model/bodies.py: ACTIVITY_KINDS)."""
    return _tool_kinds_with(dialect, "agent_activity")


# -- what the reducer opens -------------------------------------------------------------


def handler_reads(dialect: Dialect) -> frozenset[str]:
    """Variants whose event handler opens their payload refs at the event."""
    return frozenset(v.tag for v in dialect.payload.variants if any(f.read == READ_AT_EVENT for f in v.fields))


def conditional_reads(dialect: Dialect) -> tuple[tuple[str, str], ...]:
    """(variant, field) of the refs opened only for a tool whose terminal was created at dispatch."""
    return tuple(
        (v.tag, f.name)
        for v in dialect.payload.variants
        for f in v.fields
        if f.read == READ_IF_DISPATCHED_TERMINAL
    )


def reads_at_event(field: Field) -> bool:
    return field.read == READ_AT_EVENT


def read_if_dispatched_terminal(field: Field) -> bool:
    return field.read == READ_IF_DISPATCHED_TERMINAL


def reducer_reads(dialect: Dialect, field: Field, *, dispatched_terminal: bool = False) -> bool:
    """Whether the reference reducer opens the payload of ``field`` (one event's view).
    ``dispatched_terminal``: the event's tool created its terminal operation at dispatch."""
    if dialect.reducer_reads_every_ref or field.read == READ_AT_EVENT:
        return True
    return field.read == READ_IF_DISPATCHED_TERMINAL and dispatched_terminal


# -- envelope context -------------------------------------------------------------------


def null_context_variants(dialect: Dialect) -> frozenset[str]:
    """Variants writers append with a null envelope context."""
    return frozenset(v.tag for v in dialect.payload.variants if v.context == CONTEXT_NULL)


def payload_context(dialect: Dialect) -> dict[str, tuple[str, str]]:
    """Variant -> (payload field naming the thread, the turn) the envelope context must equal."""
    return {v.tag: v.context_fields for v in dialect.payload.variants if v.context_fields}


def envelope_thread_required(dialect: Dialect, release: str | None = None) -> frozenset[str]:
    """Variants whose events ``release``'s reducer (default: the dialect's reference reducer)
    rejects without an envelope thread_id, a known turn notwithstanding."""
    key = release_key(release or dialect.reference_release)
    return frozenset(
        v.tag for v in dialect.payload.variants
        if v.thread_required_since is not None and release_key(v.thread_required_since) <= key
    )


def envelope_turn_required(dialect: Dialect, release: str | None = None) -> frozenset[str]:
    """Variants whose events ``release``'s reducer (default: the dialect's reference reducer)
    rejects unless the envelope codex_turn_id names a started turn."""
    key = release_key(release or dialect.reference_release)
    return frozenset(
        v.tag for v in dialect.payload.variants
        if v.turn_required_since is not None and release_key(v.turn_required_since) <= key
    )


# -- releases ----------------------------------------------------------------------------


def reference_releases() -> dict[str, str]:
    """Dialect name -> the release whose reducer defines its reducer profile."""
    from . import DIALECTS

    return {d.name: d.reference_release for d in DIALECTS.values()}


def _known_by(since: str | None, release: str) -> bool:
    return since is None or release_key(since) <= release_key(release)


def variants_for(dialect: Dialect, release: str) -> tuple[str, ...]:
    """The variants of the dialect that ``release`` writes and reads (by ``since``)."""
    return tuple(v.tag for v in dialect.payload.variants if _known_by(v.since, release))


def requirements_for(dialect: Dialect, release: str) -> dict[str, tuple[str, ...]]:
    """Variant -> the payload fields ``release``'s reducer requires.

    A field the schema leaves optional is required from its ``required_since``
    release on (0.165.0 wrote ``tool_call_runtime_started`` without ``kind``;
    0.166.0 and later reducers reject that).
    """
    out = {}
    for v in dialect.payload.variants:
        if not _known_by(v.since, release):
            continue
        out[v.tag] = tuple(
            f.name
            for f in v.fields
            if f.required or (f.required_since is not None and _known_by(f.required_since, release))
        )
    return out


def unimplemented_variants(dialect: Dialect) -> frozenset[str]:
    """Variants no reducer implements: every one rejects the event (``other``)."""
    return frozenset(v.tag for v in dialect.payload.variants if v.unimplemented)


def never_valid(dialect: Dialect, release: str | None = None) -> dict[str, dict[str, str]]:
    """What no bundle valid for ``release``'s reducer (default: the dialect's reference reducer)
    holds, with why: ``variants``, each variant no reducer implements; ``field_forms``, each
    optional field the reducer requires, left out (``variant.field=absent``; serde reads ``null``
    alike: ``=null``). The schema allows them; only a corrupt bundle holds them."""
    rel = release or dialect.reference_release
    variants = {tag: "no reducer implements it: every one rejects the event" for tag in sorted(unimplemented_variants(dialect))}
    forms = {}
    required = requirements_for(dialect, rel)
    for v in dialect.payload.variants:
        for f in v.fields:
            if not f.required and f.name in required.get(v.tag, ()):
                why = f"Codex {rel}'s reducer requires it (reducers since {f.required_since})"
                forms[f"{v.tag}.{f.name}=absent"] = forms[f"{v.tag}.{f.name}=null"] = why
    return {"variants": variants, "field_forms": forms}


def release_requirements(dialect: Dialect) -> tuple[tuple[str, str, str], ...]:
    """(variant, field, release) of every field required from a release on, not by the schema."""
    return tuple(
        (v.tag, f.name, f.required_since)
        for v in dialect.payload.variants
        for f in v.fields
        if f.required_since is not None and not f.required
    )


# -- where refs live ---------------------------------------------------------------------


@dataclass(frozen=True)
class RefSite:
    """One place a payload ref can sit in an event: a path from ``payload``.

    Path steps are keys; ``"*"`` steps into every element of a list; ``(tag_key, tag)``
    steps apply only when the object there has that variant tag.
    """

    variant: str
    path: RefPath
    field: Field

    @property
    def pointer(self) -> str:
        return "/payload/" + "/".join(s for s in self.path if isinstance(s, str))


def _sites_in(
    dialect: Dialect, t: TypeExpr, path: RefPath, field: Field, seen: frozenset[str]
) -> Iterator[tuple[RefPath, Field]]:
    t = unwrap(t)
    if isinstance(t, ArrayOf):
        yield from _sites_in(dialect, t.item, path + ("*",), field, seen)
        return
    if not isinstance(t, Named) or t.name in seen:
        return
    if refs_payload(t):
        yield path, field
    named = dialect.type(t.name)
    seen = seen | {t.name}
    if isinstance(named, Struct):
        for f in named.fields:
            yield from _sites_in(dialect, f.type, path + (f.name,), f, seen)
    elif isinstance(named, TaggedUnion):
        for v in named.variants:
            for f in v.fields:
                yield from _sites_in(dialect, f.type, path + ((named.tag_key, v.tag), f.name), f, seen)


def _variant_sites(dialect: Dialect, v: Variant) -> tuple[RefSite, ...]:
    out = []
    for f in v.fields:
        for path, field in _sites_in(dialect, f.type, (f.name,), f, frozenset()):
            out.append(RefSite(v.tag, path, field))
    return tuple(out)


_SITES: dict[int, tuple[Dialect, dict[str, tuple[RefSite, ...]]]] = {}


def ref_sites(dialect: Dialect) -> dict[str, tuple[RefSite, ...]]:
    """Variant -> every place a ref can sit in its payload, nested refs included."""
    # Cached by identity: hashing a dialect walks the whole model.
    cached = _SITES.get(id(dialect))
    if cached is None or cached[0] is not dialect:
        cached = _SITES[id(dialect)] = (dialect, {v.tag: _variant_sites(dialect, v) for v in dialect.payload.variants})
    return cached[1]


def iter_refs(dialect: Dialect, payload: object) -> Iterator[tuple[str, dict[str, Any], Field]]:
    """(JSON pointer, ref object, model field) of every ref present in an event payload."""
    if not isinstance(payload, dict):
        return
    tag = payload.get("type")
    for site in ref_sites(dialect).get(tag, ()) if isinstance(tag, str) else ():
        yield from _follow(payload, site.path, "/payload", site.field)


def _follow(value: object, path: RefPath, pointer: str, field: Field) -> Iterator[tuple[str, dict[str, Any], Field]]:
    if not path:
        if isinstance(value, dict):
            yield pointer, value, field
        return
    step, rest = path[0], path[1:]
    if isinstance(step, tuple):
        if isinstance(value, dict) and value.get(step[0]) == step[1]:
            yield from _follow(value, rest, pointer, field)
    elif step == "*":
        if isinstance(value, list):
            for i, item in enumerate(value):
                yield from _follow(item, rest, f"{pointer}/{i}", field)
    elif isinstance(value, dict) and step in value:
        yield from _follow(value[step], rest, f"{pointer}/{step}", field)


@functools.cache
def ref_id_key() -> str:
    """The id key of the model's payload ref (every dialect's ``RawPayloadRef`` starts with it)."""
    from . import DIALECTS

    return DIALECTS["v1"].type_as("RawPayloadRef", Struct).fields[0].name


def refs_by_shape(value: object) -> Iterator[dict[str, Any]]:
    """Every object holding a payload-ref id anywhere in ``value``. For bundles of releases
    whose variants the model may not know (the probe, the release rules); where the variant
    is modelled, :func:`iter_refs` finds refs by the model's fields instead."""
    key = ref_id_key()
    stack = [value]
    while stack:
        v = stack.pop()
        if isinstance(v, dict):
            if key in v:
                yield v
            else:
                stack.extend(reversed(list(v.values())))
        elif isinstance(v, list):
            stack.extend(reversed(v))


def body_place(variant: str, field_name: str, tool_kind: str | None = None) -> str:
    """The name of a place a payload body sits at, as the release records' ``body_required`` keys
    it: ``variant.field``, and ``[kind]`` on a tool call's events (a reducer parses a runtime
    payload by its call's kind: an exec terminal response, an agent spawn's end, ...)."""
    return f"{variant}.{field_name}" + (f"[{tool_kind}]" if tool_kind else "")


def split_body_place(place: str) -> tuple[str, str, str | None]:
    """(variant, field, tool kind or None) of a :func:`body_place` name."""
    head, _, kind = place.partition("[")
    variant, _, name = head.partition(".")
    return variant, name, kind.removesuffix("]") or None
