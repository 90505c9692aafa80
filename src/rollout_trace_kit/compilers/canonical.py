"""Serialise events the way Codex does: the model's field order, serde's rules.

Codex's writer serialises Rust structs with serde: keys come in declaration
order, an ``Option`` that is ``None`` is written as ``null`` (or omitted when
the field has ``skip_serializing_if``), enums are tagged by ``type``, and the
line is compact JSON. :func:`canonical` rebuilds any event payload a caller
hands in (as a dict, in any key order) into exactly that shape, checking it
against the dialect's model on the way: a Python producer cannot write an
event the Codex writer could not have written.
"""

from __future__ import annotations

import json
import math
from typing import Any, Callable, cast

import orjson

from ..model.dispatch import Table, named_type_table, type_expr_table
from ..model.types import (
    JSON_INTEGERS,
    AnyJson,
    ArrayOf,
    Bool,
    Dialect,
    Field,
    Int,
    Named,
    NamedType,
    Nullable,
    Str,
    StrEnum,
    Struct,
    TaggedUnion,
    TypeExpr,
    UnitKind,
)

class EventError(ValueError):
    """The value does not fit the dialect's model; nothing was written."""


def check_json(value: object, where: str = "") -> bool:
    """Reject what serde_json cannot hold (NaN/Infinity, non-string keys, integers beyond 64 bits,
    non-JSON types); return whether the value holds a float."""
    floats = False
    stack: list[tuple[object, str]] = [(value, where)]
    while stack:
        v, w = stack.pop()
        if v is None or isinstance(v, (bool, str)):
            continue
        if isinstance(v, int):
            if not JSON_INTEGERS[0] <= v <= JSON_INTEGERS[1]:
                raise EventError(f"{w or '/'}: integer {v} does not fit in 64 bits")
        elif isinstance(v, float):
            if not math.isfinite(v):
                raise EventError(f"{w or '/'}: {v} is not a JSON number (serde_json has no NaN/Infinity)")
            floats = True
        elif isinstance(v, dict):
            for k, x in v.items():
                if not isinstance(k, str):
                    raise EventError(f"{w or '/'}: object key {k!r} is not a string")
                stack.append((x, f"{w}/{k}"))
        elif isinstance(v, (list, tuple)):
            stack.extend((x, f"{w}/{i}") for i, x in enumerate(v))
        else:
            raise EventError(f"{w or '/'}: {type(v).__name__} is not a JSON value")
    return floats


def canonical(dialect: Dialect, value: Any, t: TypeExpr, where: str = "") -> Any:
    """``value`` rebuilt in the model's key order for type expression ``t``; raises EventError."""
    return _CANONICAL[type(t)](dialect, value, t, where)


def _nullable(dialect: Dialect, value: Any, t: Nullable, where: str) -> Any:
    return None if value is None else canonical(dialect, value, t.inner, where)


def _str(dialect: Dialect, value: Any, t: Str, where: str) -> Any:
    if not isinstance(value, str):
        raise EventError(f"{where}: expected a string, got {_kind(value)}")
    return value


def _int(dialect: Dialect, value: Any, t: Int, where: str) -> Any:
    lo, hi = t.bounds
    if type(value) is not int or not lo <= value <= hi:
        raise EventError(f"{where}: expected an integer in [{lo}, {hi}] ({t.rust}), got {value!r}")
    return value


def _bool(dialect: Dialect, value: Any, t: Bool, where: str) -> Any:
    if type(value) is not bool:
        raise EventError(f"{where}: expected a boolean, got {_kind(value)}")
    return value


def _any_json(dialect: Dialect, value: Any, t: AnyJson, where: str) -> Any:
    check_json(value, where)
    return value


def _array(dialect: Dialect, value: Any, t: ArrayOf, where: str) -> Any:
    if not isinstance(value, (list, tuple)):
        raise EventError(f"{where}: expected an array, got {_kind(value)}")
    return [canonical(dialect, v, t.item, f"{where}/{i}") for i, v in enumerate(value)]


def _named(dialect: Dialect, value: Any, t: Named, where: str) -> Any:
    nt = dialect.type(t.name)
    return _CANONICAL_NAMED[type(nt)](dialect, value, nt, where)


def _object(value: Any, nt: NamedType, where: str) -> dict[str, Any]:
    """``value``, which must be an object (the JSON form of every named type but a string enum)."""
    if not isinstance(value, dict):
        raise EventError(f"{where}: expected an object ({nt.name}), got {_kind(value)}")
    return value


def _str_enum(dialect: Dialect, value: Any, nt: StrEnum, where: str) -> Any:
    if value not in nt.values:
        raise EventError(f"{where}: {value!r} is not a {nt.name} ({', '.join(nt.values)})")
    return value


def _unit_kind(dialect: Dialect, value: Any, nt: UnitKind, where: str) -> Any:
    value = _object(value, nt, where)
    extra = set(value) - {"type", "value"}
    if extra or value.get("value") is not None:
        raise EventError(f"{where}: {nt.name} is {{\"type\": K}} only, got keys {sorted(value)}")
    if value.get("type") not in nt.values:
        raise EventError(f"{where}/type: {value.get('type')!r} is not a {nt.name}")
    return {"type": value["type"]}


def _struct(dialect: Dialect, value: Any, nt: Struct, where: str) -> Any:
    return fields(dialect, _object(value, nt, where), nt.fields, where, nt.name)


def _tagged_union(dialect: Dialect, value: Any, nt: TaggedUnion, where: str) -> Any:
    value = _object(value, nt, where)
    key = nt.tag_key
    tag = value.get(key)
    if tag not in nt.tags:
        raise EventError(f"{where}/type: {tag!r} is not a variant of {nt.name} in dialect {dialect.name}")
    body = {k: v for k, v in value.items() if k != key}
    out = {key: tag}
    out.update(fields(dialect, body, nt.variant(tag).fields, where, f"{nt.name}.{tag}"))
    return out


_Rule = Callable[[Dialect, Any, Any, str], Any]  # (dialect, value, type, where) -> canonical value

_CANONICAL: Table[_Rule] = type_expr_table("canonical value of a type expression", {
    Nullable: _nullable,
    Str: _str,
    Int: _int,
    Bool: _bool,
    AnyJson: _any_json,
    ArrayOf: _array,
    Named: _named,
})

_CANONICAL_NAMED: Table[_Rule] = named_type_table("canonical value of a named type", {
    StrEnum: _str_enum,
    UnitKind: _unit_kind,
    Struct: _struct,
    TaggedUnion: _tagged_union,
})


def fields(dialect: Dialect, value: dict[str, Any], spec: tuple[Field, ...], where: str, what: str) -> dict[str, Any]:
    known = {f.name for f in spec}
    unknown = [k for k in value if k not in known]
    if unknown:
        raise EventError(f"{where or '/'}: {what} has no field {', '.join(map(repr, unknown))}")
    out: dict[str, Any] = {}
    for f in spec:
        path = f"{where}/{f.name}"
        if f.name not in value:
            if f.required:
                raise EventError(f"{path}: required field of {what} is missing")
            if not f.skip_if_none:
                out[f.name] = None
            continue
        if value[f.name] is None and f.skip_if_none and not f.required:
            continue  # an absent option, whatever its type
        v = canonical(dialect, value[f.name], f.type, path)
        if v is None and f.skip_if_none:
            continue
        if f.const is not None and v != f.const:
            raise EventError(f"{path}: {what} writes {f.const!r} here, got {v!r}")
        out[f.name] = v
    return out


def canonical_payload(dialect: Dialect, payload: dict[str, Any]) -> dict[str, Any]:
    """An event payload (``{"type": ..., ...}``) in the model's order; raises EventError."""
    # the payload union is a TaggedUnion: canonical() rebuilds it as an object
    return cast("dict[str, Any]", canonical(dialect, payload, Named(dialect.payload.name), "/payload"))


def canonical_event(dialect: Dialect, event: dict[str, Any]) -> dict[str, Any]:
    """A whole event (envelope and payload) in the model's order; raises EventError."""
    if not isinstance(event, dict):
        raise EventError(f"/: expected an object, got {_kind(event)}")
    return fields(dialect, event, dialect.envelope.fields, "", "RawTraceEvent")


def event_line(event: dict[str, Any]) -> bytes:
    """The bytes of one log line, without its newline: compact JSON, keys as given."""
    return dumps(event)


def dumps(value: object, *, indent: bool = False, floats: bool | None = None) -> bytes:
    """JSON bytes exactly as serde_json writes them (``to_vec`` / ``to_writer_pretty``).

    orjson already escapes strings as serde_json does and prints integers the same
    way, but formats floats differently (``3e+20`` where serde's ryu writes
    ``3e20``, ``1e-05`` where it writes ``0.00001``); a value holding a float
    takes a small pure-Python encoder that formats floats as ryu does.
    """
    if floats is None:
        floats = check_json(value)
    if not floats:
        return orjson.dumps(value, option=orjson.OPT_INDENT_2) if indent else orjson.dumps(value)
    out: list[str] = []
    _encode(value, out, 0 if indent else None)
    return "".join(out).encode("utf-8")


def pretty(value: object) -> bytes:
    """A payload or manifest file: serde_json's ``to_writer_pretty`` (2 spaces, no final newline)."""
    return dumps(value, indent=True)


def ryu_float(x: float, signed_exponent: bool = False) -> str:
    """``x`` as serde_json writes an f64 (ryu's shortest round-trip digits and layout); ``signed_exponent``:
    ``1e+16``, ``1.5e-7``, as the reducers' call summaries of 0.125.0 and 0.135.0 spell it (measured)."""
    if x == 0:
        return "-0.0" if math.copysign(1.0, x) < 0 else "0.0"
    r = repr(x)
    sign = "-" if r.startswith("-") else ""
    mantissa, _, exp = r.lstrip("-").partition("e")
    e = int(exp) if exp else 0
    whole, _, frac = mantissa.partition(".")
    digits = (whole + frac).lstrip("0")
    point = len(whole) + e - (len(whole + frac) - len(digits))  # value = 0.DIGITS * 10**point
    digits = digits.rstrip("0")
    length = len(digits)
    k = point - length
    if 0 <= k and point <= 16:
        body = digits + "0" * k + ".0"
    elif 0 < point <= 16:
        body = f"{digits[:point]}.{digits[point:]}"
    elif -5 < point <= 0:
        body = "0." + "0" * -point + digits
    else:
        exponent = f"e{point - 1:+d}" if signed_exponent else f"e{point - 1}"
        body = f"{digits}{exponent}" if length == 1 else f"{digits[0]}.{digits[1:]}{exponent}"
    return sign + body


# orjson refuses to serialise more nested containers than this; the float path refuses them too
# (the same error), rather than recursing until Python's own limit.
NESTING_LIMIT = 254


def _encode(v: Any, out: list[str], level: int | None, depth: int = 0) -> None:  # a checked JSON value
    if isinstance(v, (dict, list, tuple)) and depth >= NESTING_LIMIT:
        raise orjson.JSONEncodeError("Recursion limit reached")
    if v is None:
        out.append("null")
    elif v is True:
        out.append("true")
    elif v is False:
        out.append("false")
    elif isinstance(v, str):
        out.append(json.dumps(v, ensure_ascii=False))
    elif isinstance(v, int):
        out.append(str(int(v)))
    elif isinstance(v, float):
        out.append(ryu_float(v))
    elif isinstance(v, dict):
        if not v:
            out.append("{}")
            return
        out.append("{")
        inner = None if level is None else level + 1
        for i, (k, x) in enumerate(v.items()):
            if i:
                out.append(",")
            if inner is not None:
                out.append("\n" + "  " * inner)
            out.append(json.dumps(k, ensure_ascii=False))
            out.append(": " if inner is not None else ":")
            _encode(x, out, inner, depth + 1)
        if level is not None:
            out.append("\n" + "  " * level)
        out.append("}")
    else:  # list or tuple
        if not v:
            out.append("[]")
            return
        out.append("[")
        inner = None if level is None else level + 1
        for i, x in enumerate(v):
            if i:
                out.append(",")
            if inner is not None:
                out.append("\n" + "  " * inner)
            _encode(x, out, inner, depth + 1)
        if level is not None:
            out.append("\n" + "  " * level)
        out.append("]")


def _kind(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return f"the number {value!r}"
    if isinstance(value, str):
        return f"the string {value[:40]!r}"
    if isinstance(value, (list, tuple)):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__
