"""Output oracles: judge what a reducer writes, not only whether it exits 0.

* ``metamorphic``: a bundle rewritten in ways that keep its meaning in the dialect
  under test (the transforms below) must give the same output, after a normalizer;
  and the same bundle run twice must give the same output.
* ``coverage``: every thread, turn, inference call and tool call id the bundle starts
  appears in the output (for outputs that carry ids at all).
* ``codex-VERSION`` (differential): the output equals the real Codex reducer's on
  the same bundle, after the normalizer.

A transform may be applied only where the reducer must accept its result: each
declares the invariants the rewritten bundle breaks, and runs only when none of
them is enforced by the campaign's profile in its dialect (the catalogue decides).
"""

from __future__ import annotations

import importlib
import random
from dataclasses import dataclass, field
from typing import Callable

import orjson

from ...bundle import PAYLOADS, Bundle
from ...validate import CATALOGUE, Profile

METAMORPHIC, COVERAGE = "metamorphic", "coverage"
DIFFERENTIAL_PREFIX = "codex-"
MAX_DIFFS = 5


class OracleError(ValueError):
    """A usage error in the oracle options (exit 2)."""


# -- normalizers ---------------------------------------------------------------------


@dataclass(frozen=True)
class Normalizer:
    """What to ignore when comparing two outputs: JSON pointers to drop (``*`` matches any
    key or index), or a Python callable ``module:function`` taking and returning the parsed output."""

    name: str = "none"
    pointers: tuple[str, ...] = ()
    func: Callable | None = None

    def __call__(self, doc):
        for ptr in self.pointers:
            doc = _drop(doc, [_unescape(p) for p in ptr.split("/")[1:]])
        if self.func is not None:
            doc = self.func(doc)
        return doc


# Codex's state format (`codex debug trace-reduce -o`): every value comes from the bundle;
# only a payload's file path may change without changing the bundle's meaning.
CODEX_STATE = Normalizer("codex-state", ("/raw_payloads/*/path",))
BUILTIN = {"codex-state": CODEX_STATE, "none": Normalizer()}


def parse_normalizer(specs: list[str] | None) -> Normalizer:
    """``--normalize`` values: a built-in name, JSON pointers (``/a/*/b``), or ``module:function``."""
    if not specs:
        return Normalizer()
    pointers: list[str] = []
    func = None
    names = []
    for spec in specs:
        if spec in BUILTIN:
            pointers += BUILTIN[spec].pointers
            names.append(spec)
        elif spec.startswith("/"):
            pointers.append(spec)
            names.append(spec)
        elif ":" in spec:
            mod, _, attr = spec.partition(":")
            try:
                func = getattr(importlib.import_module(mod), attr)
            except (ImportError, AttributeError) as e:
                raise OracleError(f"--normalize {spec}: cannot import it: {e}") from None
            if not callable(func):
                raise OracleError(f"--normalize {spec}: not callable")
            names.append(spec)
        else:
            raise OracleError(f"--normalize {spec!r}: expected {', '.join(BUILTIN)}, a JSON pointer (/a/*/b) or module:function")
    return Normalizer("+".join(names), tuple(pointers), func)


def _unescape(token: str) -> str:
    return token.replace("~1", "/").replace("~0", "~")


def _drop(doc, tokens: list[str]):
    if not tokens:
        return doc
    head, rest = tokens[0], tokens[1:]
    if isinstance(doc, dict):
        keys = list(doc) if head == "*" else [head] if head in doc else []
        out = dict(doc)
        for k in keys:
            if rest:
                out[k] = _drop(doc[k], rest)
            else:
                del out[k]
        return out
    if isinstance(doc, list):
        idx = range(len(doc)) if head == "*" else [int(head)] if head.isdigit() and int(head) < len(doc) else []
        items = list(doc)
        for i in sorted(idx, reverse=True):
            if rest:
                items[i] = _drop(doc[i], rest)
            else:
                del items[i]
        return items
    return doc


def parse_output(data: bytes | None):
    """The output as JSON if it is JSON, else its bytes; None when there is none."""
    if data is None:
        return None
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        return data


def normalized(data: bytes | None, normalizer: Normalizer):
    doc = parse_output(data)
    return normalizer(doc) if doc is not None and not isinstance(doc, bytes) else doc


# -- readable differences ------------------------------------------------------------------


def first_differences(expected, actual, limit: int = MAX_DIFFS) -> list[str]:
    """Up to ``limit`` lines ``/pointer: expected X, got Y``, in document order."""
    out: list[str] = []

    def short(v) -> str:
        text = orjson.dumps(v).decode() if not isinstance(v, bytes) else repr(v)
        return text if len(text) <= 80 else text[:77] + "..."

    def walk(a, b, ptr: str) -> None:
        if len(out) >= limit:
            return
        if isinstance(a, dict) and isinstance(b, dict):
            for k in list(a) + [k for k in b if k not in a]:
                p = f"{ptr}/{str(k).replace('~', '~0').replace('/', '~1')}"
                if k not in b:
                    out.append(f"{p}: missing (expected {short(a[k])})")
                elif k not in a:
                    out.append(f"{p}: unexpected {short(b[k])}")
                else:
                    walk(a[k], b[k], p)
                if len(out) >= limit:
                    return
        elif isinstance(a, list) and isinstance(b, list):
            for i in range(max(len(a), len(b))):
                if i >= len(b):
                    out.append(f"{ptr}/{i}: missing (expected {short(a[i])})")
                elif i >= len(a):
                    out.append(f"{ptr}/{i}: unexpected {short(b[i])}")
                else:
                    walk(a[i], b[i], f"{ptr}/{i}")
                if len(out) >= limit:
                    return
        elif a != b or type(a) is not type(b):
            out.append(f"{ptr or '/'}: expected {short(a)}, got {short(b)}")

    walk(expected, actual, "")
    return out


# -- metamorphic transforms -------------------------------------------------------------------


@dataclass(frozen=True)
class Transform:
    name: str
    meaning: str
    breaks: tuple[str, ...]  # invariants the rewritten bundle breaks (must all be off in the profile)
    apply: Callable[[Bundle, str, random.Random], Bundle]
    moves: bool = False  # the bundle is written to another directory as well

    def allowed(self, dialect: str, profile: Profile) -> bool:
        return not any(CATALOGUE[i].active(dialect, profile) for i in self.breaks)


def _map_lines(bundle: Bundle, fn) -> Bundle:
    """Every event line rewritten by ``fn(parsed)``; blank lines (an earlier transform's) kept."""
    out = bundle.copy()
    out.lines = [fn(orjson.loads(line)) if line.strip() else line for line in bundle.lines]
    return out


def _map_payloads(bundle: Bundle, fn) -> dict[str, bytes]:
    """Payload files rewritten by ``fn(parsed)``; one that is not JSON is kept as it is."""
    out = {}
    for path, data in bundle.payloads.items():
        try:
            out[path] = fn(orjson.loads(data))
        except orjson.JSONDecodeError:
            out[path] = data
    return out


def _reverse_keys(v):
    if isinstance(v, dict):
        return {k: _reverse_keys(v[k]) for k in reversed(list(v))}
    if isinstance(v, list):
        return [_reverse_keys(x) for x in v]
    return v


def _key_order(b: Bundle, dialect: str, rnd: random.Random) -> Bundle:
    out = _map_lines(b, lambda ev: orjson.dumps(_reverse_keys(ev)))
    assert b.manifest is not None  # oracles transform valid bundles
    out.manifest = orjson.dumps(_reverse_keys(orjson.loads(b.manifest)), option=orjson.OPT_INDENT_2)
    out.payloads = _map_payloads(b, lambda v: orjson.dumps(_reverse_keys(v)))
    return out


def _whitespace(b: Bundle, dialect: str, rnd: random.Random) -> Bundle:
    import json

    def spaced(ev) -> bytes:  # spaces around every separator, and around the value
        return (" " + json.dumps(ev, ensure_ascii=False, separators=(" , ", " : ")) + " \t").encode()

    out = _map_lines(b, spaced)
    assert b.manifest is not None  # oracles transform valid bundles
    out.manifest = orjson.dumps(orjson.loads(b.manifest))  # compact instead of pretty
    out.payloads = _map_payloads(b, lambda v: b"\n " + json.dumps(v, indent=3, ensure_ascii=False).encode() + b"\n\n")
    return out


def _blank_lines(b: Bundle, dialect: str, rnd: random.Random) -> Bundle:
    out = b.copy()
    lines: list[bytes] = [b""]
    for line in b.lines:
        lines += [line, rnd.choice([b"", b"  ", b"\t"])]
    out.lines = lines
    return out


def _crlf(b: Bundle, dialect: str, rnd: random.Random) -> Bundle:
    out = b.copy()
    out.line_terminator = b"\r\n"
    return out


def _optional_fields(dialect: str, tag: str | None) -> set[str]:
    """Optional (``Option<T>``) fields of the envelope, or of the payload variant ``tag``."""
    from ...model import DIALECTS

    d = DIALECTS[dialect]
    struct = d.envelope if tag is None else d.payload.variant(tag)
    return {f.name for f in struct.fields if not f.required}


def _omit_nulls(b: Bundle, dialect: str, rnd: random.Random) -> Bundle:
    """Drop every optional envelope and payload field that is null: serde reads a missing
    ``Option`` as ``None`` (the model's own rule)."""
    env = _optional_fields(dialect, None)

    def fn(ev):
        ev = {k: v for k, v in ev.items() if not (k in env and v is None)}
        p = ev.get("payload")
        if isinstance(p, dict) and isinstance(p.get("type"), str):
            try:
                opt = _optional_fields(dialect, p["type"])
            except KeyError:
                opt = set()
            ev["payload"] = {k: v for k, v in p.items() if not (k in opt and v is None)}
        return orjson.dumps(ev)

    return _map_lines(b, fn)


UNKNOWN_KEY = "x_rtk_unknown"


def _unknown_keys(b: Bundle, dialect: str, rnd: random.Random) -> Bundle:
    def fn(ev):
        ev = dict(ev, **{UNKNOWN_KEY: {"n": rnd.randrange(1000)}})
        if isinstance(ev.get("payload"), dict):
            ev["payload"] = dict(ev["payload"], **{UNKNOWN_KEY: [1, "two", None]})
        return orjson.dumps(ev)

    return _map_lines(b, fn)


def _renamed(path: str) -> str:
    head, _, name = path.rpartition("/")
    return f"{head}/renamed-{name}" if head else f"renamed-{name}"


def _rename_payloads(b: Bundle, dialect: str, rnd: random.Random) -> Bundle:
    """Every payload file renamed, and every ref to it rewritten to match."""

    def fix(v):
        if isinstance(v, dict):
            v = {k: fix(x) for k, x in v.items()}
            if isinstance(v.get("raw_payload_id"), str) and isinstance(v.get("path"), str) \
                    and v["path"].startswith(PAYLOADS + "/"):
                v["path"] = _renamed(v["path"])
            return v
        if isinstance(v, list):
            return [fix(x) for x in v]
        return v

    out = _map_lines(b, lambda ev: orjson.dumps(fix(ev)))
    out.payloads = {_renamed(p): d for p, d in b.payloads.items()}
    return out


def _moved(b: Bundle, dialect: str, rnd: random.Random) -> Bundle:
    return b.copy()  # same bytes; written to another directory (``moves``)


TRANSFORMS: tuple[Transform, ...] = (
    Transform("key-order", "every JSON object's keys in reverse order", (), _key_order),
    Transform("whitespace", "insignificant whitespace inside and around every JSON value", (), _whitespace),
    Transform("blank-lines", "blank and whitespace-only lines between events", ("LINE.BLANK",), _blank_lines),
    Transform("crlf", 'lines end with "\\r\\n"', ("LINE.CRLF",), _crlf),
    Transform("omit-nulls", "optional fields that are null left out", (), _omit_nulls),
    Transform("unknown-keys", "unknown keys added to envelopes and payloads", ("EVENT.UNKNOWN_KEY",), _unknown_keys),
    Transform("rename-payloads", "payload files renamed, refs rewritten to match", ("REF.NAMING",), _rename_payloads),
    Transform("move", "the bundle directory moved (another parent, a space in its name)", (), _moved, moves=True),
)
TRANSFORM_NAMES = tuple(t.name for t in TRANSFORMS)


def shard_transforms(dialect: str) -> tuple[Transform, ...]:
    """Hook for schema 3 (sharded, compressed logs): shards recompressed at another level and
    split into frames. Returns nothing until the v3 dialect is in the model."""
    return ()


def transforms_for(dialect: str, profile: Profile, skip: tuple[str, ...] = ()) -> tuple[Transform, ...]:
    return tuple(t for t in TRANSFORMS + shard_transforms(dialect) if t.allowed(dialect, profile) and t.name not in skip)


def transformed(bundle: Bundle, dialect: str, transforms: tuple[Transform, ...], seed: int) -> Bundle:
    out = bundle
    for t in transforms:
        out = t.apply(out, dialect, random.Random(f"{seed}:{t.name}"))
    return out


# -- coverage of entities -----------------------------------------------------------------------

# The entities a bundle starts, as (variant that starts it, field holding its id); checked
# against the model when used, so a renamed field fails loudly instead of covering nothing.
ENTITY_STARTS = (
    ("thread", "thread_started", "thread_id"),
    ("turn", "codex_turn_started", "codex_turn_id"),
    ("inference call", "inference_started", "inference_call_id"),
    ("tool call", "tool_call_started", "tool_call_id"),
)


def entity_ids(bundle: Bundle, dialect: str) -> list[tuple[str, str]]:
    """(entity kind, id) of every entity the bundle's log starts, in log order."""
    from ...model import DIALECTS

    d = DIALECTS[dialect]
    starts = {}
    for kind, tag, fname in ENTITY_STARTS:
        d.payload.variant(tag).field(fname)  # the model must still define it
        starts[tag] = (kind, fname)
    out, seen = [], set()
    for line in bundle.lines:
        try:
            p = orjson.loads(line).get("payload") or {}
        except (orjson.JSONDecodeError, AttributeError):
            continue
        variant = p.get("type") if isinstance(p, dict) else None
        hit = starts.get(variant) if isinstance(variant, str) else None
        if hit and isinstance(p.get(hit[1]), str) and (hit[0], p[hit[1]]) not in seen:
            seen.add((hit[0], p[hit[1]]))
            out.append((hit[0], p[hit[1]]))
    return out


def strings_in(doc) -> set[str]:
    out: set[str] = set()
    stack = [doc]
    while stack:
        v = stack.pop()
        if isinstance(v, dict):
            out.update(k for k in v if isinstance(k, str))
            stack.extend(v.values())
        elif isinstance(v, list):
            stack.extend(v)
        elif isinstance(v, str):
            out.add(v)
    return out


def coverage_gaps(bundle: Bundle, dialect: str, output: bytes | None) -> list[str] | None:
    """Entities missing from the output; None when the output carries no ids at all (not applicable)."""
    doc = parse_output(output)
    if doc is None:
        return None
    ids = entity_ids(bundle, dialect)
    if isinstance(doc, bytes):
        present = {i for _, i in ids if i.encode() in doc}
    else:
        strings = strings_in(doc)
        present = {i for _, i in ids if i in strings}
    if not present:
        return None
    return [f"{kind} {i}" for kind, i in ids if i not in present]


# -- the configured oracles ----------------------------------------------------------------------


@dataclass(frozen=True)
class OracleConfig:
    metamorphic: bool = False
    coverage: bool = False
    differential: str | None = None  # a Codex release
    differential_binary: str | None = None
    normalizer: Normalizer = field(default_factory=Normalizer)
    skip_transforms: tuple[str, ...] = ()

    @property
    def any(self) -> bool:
        return self.metamorphic or self.coverage or self.differential is not None

    @property
    def names(self) -> list[str]:
        out = [METAMORPHIC] if self.metamorphic else []
        out += [COVERAGE] if self.coverage else []
        out += [DIFFERENTIAL_PREFIX + self.differential] if self.differential else []
        return out


def parse_oracles(names: list[str] | None, normalize: list[str] | None, skip: list[str] | None,
                  install: bool = True) -> OracleConfig:
    names = names or []
    unknown_skip = [s for s in skip or [] if s not in TRANSFORM_NAMES]
    if unknown_skip:
        raise OracleError(f"--skip-transform {', '.join(unknown_skip)}: known transforms: {', '.join(TRANSFORM_NAMES)}")
    differential, binary = None, None
    for n in names:
        if n in (METAMORPHIC, COVERAGE, "all"):
            continue
        if n.startswith(DIFFERENTIAL_PREFIX) and n[len(DIFFERENTIAL_PREFIX):][:1].isdigit():
            differential = n[len(DIFFERENTIAL_PREFIX):]
            from ...codex.install import ensure_codex

            try:
                found = ensure_codex(differential, install=install)
            except Exception as e:  # npm failure: an environment error, said in one line
                raise OracleError(f"--oracle {n}: could not install Codex {differential}: {e}") from None
            if found is None:
                raise OracleError(f"--oracle {n}: Codex {differential} is not installed and npm could not install it")
            binary = str(found)
        else:
            raise OracleError(f"--oracle {n!r}: expected metamorphic, coverage, all, or codex-VERSION (differential)")
    every = "all" in names
    return OracleConfig(
        metamorphic=every or METAMORPHIC in names,
        coverage=every or COVERAGE in names,
        differential=differential,
        differential_binary=binary,
        normalizer=parse_normalizer(normalize),
        skip_transforms=tuple(skip or ()),
    )
