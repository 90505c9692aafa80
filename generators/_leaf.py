"""Leaf strategies: single events, payload refs and payload bodies of a dialect.

Events and refs are derived from the spec model (one strategy per type
expression, fields in model order), so they follow the model when it grows.
Free-form JSON (``other.metadata``, the bodies of payloads no reducer parses)
comes from ``hypothesis-jsonschema``; bodies the reference reducers parse
(requests, responses, runtime payloads) are hand-written, because their shape
is a contract the JSON Schema of the event log does not describe.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

from hypothesis import strategies as st
from hypothesis_jsonschema import from_schema

from ..model import DEFAULT_DIALECT, DIALECTS, facts
from ..model import bodies as MB
from ..model.common import FILE_PER_PAYLOAD, RAW_PAYLOAD_KINDS
from ..model.dispatch import Table, named_type_table, type_expr_table
from ..model.types import (
    AnyJson,
    ArrayOf,
    Bool,
    Dialect,
    Field,
    Int,
    Layout,
    Named,
    Nullable,
    Str,
    StrEnum,
    Struct,
    TaggedUnion,
    TypeExpr,
    UnitKind,
    refs_payload,
    wide_integer,
)
from ..writer.core import event_record
from . import _bodies as B

ids = st.text(alphabet="0123456789abcdef-", min_size=1, max_size=36)
texts = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=40)


def _dialect(dialect: str | Dialect) -> Dialect:
    return DIALECTS[dialect] if isinstance(dialect, str) else dialect


@st.composite
def payload_refs(
    draw: st.DrawFn,
    /,
    kinds: tuple[str, ...] = (),
    ordinal: st.SearchStrategy[int] = st.integers(1, 10**6),
    layout: Layout = FILE_PER_PAYLOAD,
) -> dict[str, Any]:
    """Canonical refs of ``layout`` (``raw_payload:{n}`` at ``payloads/{n}.json`` by default), kind among ``kinds``."""
    n = draw(ordinal)
    kind = draw(st.sampled_from(kinds or RAW_PAYLOAD_KINDS))
    return layout.ref(n, kind)


def free_json() -> st.SearchStrategy[Any]:
    """Any JSON value (``serde_json::Value``), from hypothesis-jsonschema.

    Integers stay within i64/u64: JSON allows more, but writers (and orjson) write
    only 64-bit integers, and serde_json would read a bigger one as a float.
    """
    return from_schema({}).filter(_fits_64_bits)


def _fits_64_bits(value: object) -> bool:
    return wide_integer(value) is None


class _Model:
    """Strategies for the type expressions of one dialect."""

    def __init__(self, dialect: Dialect):
        self.d = dialect

    def expr(self, t: TypeExpr, field: Field | None = None) -> st.SearchStrategy[Any]:
        return _EXPR_STRATEGY[type(t)](self, t, field)

    def named(self, name: str) -> st.SearchStrategy[Any]:
        t = self.d.type(name)
        return _NAMED_STRATEGY[type(t)](self, t)

    def variant(self, tag: str | None, fields: Sequence[Field], tag_key: str = "type") -> st.SearchStrategy[dict[str, Any]]:
        """An object with ``fields`` in model order (``type`` first when tagged)."""
        # an optional field the writer omits (not Nullable) may be absent too
        parts = {
            f.name: self.expr(f.type, f) if f.required or isinstance(f.type, Nullable) else st.none() | self.expr(f.type, f)
            for f in fields
        }
        skip = {f.name for f in fields if f.skip_if_none}

        def build(values: dict[str, Any]) -> dict[str, Any]:
            out: dict[str, Any] = {} if tag is None else {tag_key: tag}
            for f in fields:
                v = values[f.name]
                if v is None and f.name in skip:
                    continue
                out[f.name] = v
            return out

        return st.fixed_dictionaries(parts).map(build)


def _int(m: _Model, t: Int, field: Field | None) -> st.SearchStrategy[Any]:
    lo, hi = t.bounds
    return st.integers(max(lo, 0), min(hi, 2**53))


def _named(m: _Model, t: Named, field: Field | None) -> st.SearchStrategy[Any]:
    if refs_payload(t):
        kinds = field.payload_kinds if field else ()
        return payload_refs(kinds or m.d.type_as("RawPayloadKind", UnitKind).values, layout=m.d.layout)
    return m.named(t.name)


_ExprRule = Callable[[_Model, Any, Field | None], st.SearchStrategy[Any]]  # (model, type, field) -> strategy
_NamedRule = Callable[[_Model, Any], st.SearchStrategy[Any]]

_EXPR_STRATEGY: Table[_ExprRule] = type_expr_table("leaf strategy of a type expression", {
    Str: lambda m, t, field: ids if field is not None and field.name.endswith("_id") else texts,
    Int: _int,
    Bool: lambda m, t, field: st.booleans(),
    AnyJson: lambda m, t, field: free_json(),
    Nullable: lambda m, t, field: st.none() | m.expr(t.inner, field),
    ArrayOf: lambda m, t, field: st.lists(m.expr(t.item, field), max_size=3),
    Named: _named,
})

_NAMED_STRATEGY: Table[_NamedRule] = named_type_table("leaf strategy of a named type", {
    StrEnum: lambda m, t: st.sampled_from(t.values),
    UnitKind: lambda m, t: st.sampled_from(t.values).map(lambda v: {"type": v}),
    TaggedUnion: lambda m, t: st.one_of([m.variant(v.tag, v.fields, t.tag_key) for v in t.variants]),
    Struct: lambda m, t: m.variant(None, t.fields),
})


_CACHE: dict[tuple[int, str | None], tuple[Dialect, st.SearchStrategy[dict[str, Any]]]] = {}


def payloads(dialect: str | Dialect = DEFAULT_DIALECT, variant: str | None = None) -> st.SearchStrategy[dict[str, Any]]:
    """The ``payload`` object of one event (any variant, or ``variant``)."""
    d = _dialect(dialect)
    key = (id(d), variant)  # by identity: hashing a dialect walks the whole model
    cached = _CACHE.get(key)
    if cached is None or cached[0] is not d:
        m = _Model(d)
        tags = [variant] if variant else list(d.tags)
        cached = _CACHE[key] = (d, st.one_of([m.variant(t, d.payload.variant(t).fields) for t in tags]))
    return cached[1]


@st.composite
def events(
    draw: st.DrawFn, /, dialect: str | Dialect = DEFAULT_DIALECT, variant: str | None = None, *, rollout_id: str | None = None
) -> dict[str, Any]:
    """One schema-valid event line (a dict in writer key order) of ``dialect``.

    Events are valid one by one (schema, envelope context convention, canonical
    refs), not as a sequence: use :func:`bundles` for lifecycle-valid logs.
    """
    d = _dialect(dialect)
    payload = draw(payloads(d, variant))
    tag = payload["type"]
    if tag in facts.null_context_variants(d):
        thread = turn = None
    else:
        thread = payload.get("thread_id") if isinstance(payload.get("thread_id"), str) else draw(ids)
        turn = payload.get("codex_turn_id") if isinstance(payload.get("codex_turn_id"), str) else draw(ids)
    seq = draw(st.integers(1, 2**53))
    wall_time = draw(st.integers(0, 2**53))
    return event_record(d, seq, wall_time, rollout_id or draw(ids), thread, turn, payload)


# -- payload bodies -----------------------------------------------------------------------------------
_METADATA_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["thread_id", "agent_path"],
    "properties": {
        "thread_id": {"type": "string"},
        "agent_path": {"type": "string"},
        "task_name": {"type": ["string", "null"]},
        "nickname": {"type": ["string", "null"]},
        "agent_role": {"type": ["string", "null"]},
        "model": {"type": "string"},
    },
    "additionalProperties": False,
}
_PROTOCOL_SCHEMA: dict[str, Any] = {"type": "object", "required": ["type"], "properties": {"type": {"type": "string", "minLength": 1}}}


def _item(kind: str) -> st.SearchStrategy[dict[str, Any]]:
    word = st.text(alphabet="abcdefghijklmnopqrstuvwxyz ", min_size=1, max_size=30)
    n = st.integers(1, 10**6)
    if kind == "message":
        return st.builds(lambda n, t, role: B.input_message(f"msg_{n}", role, t), n, word, st.sampled_from([MB.USER, MB.DEVELOPER]))
    if kind == "assistant":
        return st.builds(lambda n, t: B.assistant_message(f"msg-{n}", t), n, word)
    return st.builds(lambda n, t: B.function_call(f"fc-{n}", "exec_command", None, '{"cmd": "%s"}' % t, f"call-{n}"), n, word)


model_items = st.one_of(_item("message"), _item("assistant"), _item("function_call"))


def payload_bodies(kind: str) -> st.SearchStrategy[Any]:
    """A payload body of ``kind`` that the reference reducers accept where they read it."""
    if kind == "inference_request":
        return st.builds(lambda items: B.inference_request(items, "thread"), st.lists(model_items, max_size=4))
    if kind == "inference_response":
        return st.builds(lambda items, n: B.inference_response(f"resp-{n}", f"req-{n}", items),
                         st.lists(_item("assistant") | _item("function_call"), max_size=3), st.integers(1, 10**6))
    if kind == "compaction_checkpoint":
        return st.builds(B.compaction_checkpoint, st.lists(model_items, max_size=3), st.lists(model_items, max_size=3))
    if kind == "session_metadata":
        return from_schema(_METADATA_SCHEMA)
    if kind == "protocol_event":
        return from_schema(_PROTOCOL_SCHEMA)
    if kind == "tool_invocation":
        return st.builds(lambda name, args: B.invocation(name, None, arguments=args),
                         st.sampled_from(["exec_command", "no_such_tool"]), st.just('{"cmd": "true"}'))
    if kind == "tool_runtime_event":
        return st.builds(lambda n: B.exec_begin(f"call-{n}", str(n), "turn", 0, ["/bin/bash", "-lc", "true"]), st.integers(1, 10**6))
    return from_schema({"type": "object"})
