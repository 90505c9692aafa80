"""Output oracles: judge what a reducer writes, not only whether it exits 0.

* ``metamorphic``: a bundle rewritten in ways that keep its meaning in the dialect
  under test (the transforms below) must give the same output, after a normalizer;
  and the same bundle run twice must give the same output.
* ``coverage``: every thread, turn, inference call and tool call id the bundle starts
  appears in the output (for outputs that carry ids at all).
* ``codex-VERSION`` (differential): the output equals the real Codex reducer's on
  the same bundle, after the normalizer.
* ``module:function`` (a user oracle, :mod:`.api`): a function of the bundle, the output
  and the kit's facts about the bundle.

A relation compares outputs modulo what it changed itself: a transform that renames
payload files or moves the bundle maps the old paths to the new ones in the first output
before comparing. What differs beyond that is reported with the ``--normalize`` that
would silence it, when JSON pointers can.

A transform may be applied only where the reducer must accept its result: each
declares the invariants the rewritten bundle breaks, and runs only when none of
them is enforced by the campaign's profile in its dialect (the catalogue decides).
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, field
from typing import Callable

import orjson

from ...model.common import EnvelopeKey as E
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
            from .api import LoadError, load

            try:
                func = load(spec, "--normalize")
            except LoadError as e:
                raise OracleError(str(e)) from None
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
    # the bundle-relative paths it renames, old -> new: the output may name them
    renames: Callable[[Bundle], dict[str, str]] | None = None
    path_refs: bool = False  # only where a ref names its payload by path (a shard is found by number)

    def allowed(self, dialect: str, profile: Profile) -> bool:
        if self.path_refs:
            from ...model import DIALECTS

            if DIALECTS[dialect].layout.ref_key != "path":
                return False
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
        p = ev.get(E.PAYLOAD)
        if isinstance(p, dict) and isinstance(p.get("type"), str):
            try:
                opt = _optional_fields(dialect, p["type"])
            except KeyError:
                opt = set()
            ev[E.PAYLOAD] = {k: v for k, v in p.items() if not (k in opt and v is None)}
        return orjson.dumps(ev)

    return _map_lines(b, fn)


UNKNOWN_KEY = "x_rtk_unknown"


def _unknown_keys(b: Bundle, dialect: str, rnd: random.Random) -> Bundle:
    def fn(ev):
        ev = dict(ev, **{UNKNOWN_KEY: {"n": rnd.randrange(1000)}})
        if isinstance(ev.get(E.PAYLOAD), dict):
            ev[E.PAYLOAD] = dict(ev[E.PAYLOAD], **{UNKNOWN_KEY: [1, "two", None]})
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


def _payload_renames(b: Bundle) -> dict[str, str]:
    return {p: _renamed(p) for p in b.payloads}


def _moved(b: Bundle, dialect: str, rnd: random.Random) -> Bundle:
    return b.copy()  # same bytes; written to another directory (``moves``)


# In the order the metamorphic oracle applies them all at once: the ones that re-encode the event
# lines (parse, edit, compact JSON) before `whitespace`, which would otherwise be undone
TRANSFORMS: tuple[Transform, ...] = (
    Transform("key-order", "every JSON object's keys in reverse order", (), _key_order),
    Transform("omit-nulls", "optional fields that are null left out", (), _omit_nulls),
    Transform("unknown-keys", "unknown keys added to envelopes and payloads", ("EVENT.UNKNOWN_KEY",), _unknown_keys),
    Transform("rename-payloads", "payload files renamed, refs rewritten to match", ("REF.NAMING",), _rename_payloads,
              renames=_payload_renames, path_refs=True),
    Transform("whitespace", "insignificant whitespace inside and around every JSON value", (), _whitespace),
    Transform("blank-lines", "blank and whitespace-only lines between events", ("LINE.BLANK",), _blank_lines),
    Transform("crlf", 'lines end with "\\r\\n"', ("LINE.CRLF",), _crlf),
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


def path_map(bundle: Bundle, ts: tuple[Transform, ...], old_dir: str, new_dir: str) -> list[tuple[str, str]]:
    """What ``ts`` renamed, old -> new, as the output may name it: the bundle directory
    (absolute), then each renamed file (bundle-relative; absolute paths follow from the two)."""
    pairs = [(old_dir, new_dir)] if old_dir != new_dir else []
    for t in ts:
        if t.renames is not None:
            pairs += sorted(t.renames(bundle).items())
    return pairs


def mapped(doc, pairs: list[tuple[str, str]]):
    """``doc`` with every path in ``pairs`` replaced by its new name, in strings and keys, where
    it stands as a whole path (not inside a longer name)."""
    if not pairs:
        return doc
    # one pair of lookarounds around the literals (not one per literal): the same matches, and
    # compiling it (per case: the renamed names differ) takes half the time
    rx = re.compile("(?<![\\w.-])(?:" + "|".join(re.escape(old) for old, _ in pairs) + ")(?![\\w.-])")
    new = dict(pairs)

    def sub(text: str) -> str:
        return rx.sub(lambda m: new[m.group(0)], text)

    def walk(v):
        if isinstance(v, dict):
            return {sub(k) if isinstance(k, str) else k: walk(x) for k, x in v.items()}
        if isinstance(v, list):
            return [walk(x) for x in v]
        if isinstance(v, str):
            return sub(v)
        if isinstance(v, bytes):
            for old, repl in pairs:
                v = v.replace(old.encode(), repl.encode())
            return v
        return v

    return walk(doc)


# -- what would silence a difference ------------------------------------------------------------


def _escape_token(t: str) -> str:
    return t.replace("~", "~0").replace("/", "~1")


def _differing(a, b, path: tuple = (), out: list | None = None, limit: int = 10_000) -> list[tuple]:
    """Every JSON pointer (as tokens) where ``a`` and ``b`` differ, up to ``limit``."""
    out = [] if out is None else out
    if len(out) >= limit:
        return out
    if isinstance(a, dict) and isinstance(b, dict):
        for k in list(a) + [k for k in b if k not in a]:
            if k not in a or k not in b:
                out.append(path + (str(k),))
            else:
                _differing(a[k], b[k], path + (str(k),), out, limit)
    elif isinstance(a, list) and isinstance(b, list):
        for i in range(max(len(a), len(b))):
            if i >= len(a) or i >= len(b):
                out.append(path + (str(i),))
            else:
                _differing(a[i], b[i], path + (str(i),), out, limit)
    elif a != b or type(a) is not type(b):
        out.append(path)
    return out


MAX_SUGGESTED = 4  # pointers in a suggestion; beyond that a module:function says it better


def silencing_normalizer(a, b) -> list[str] | None:
    """The fewest ``--normalize`` JSON pointers (``*`` for keys and indices that vary) that make
    ``a`` and ``b`` equal; None when pointers cannot (the whole output differs, it is not JSON,
    or more than MAX_SUGGESTED would be needed)."""
    if isinstance(a, bytes) or isinstance(b, bytes) or a is None or b is None:
        return None
    found = _differing(a, b)
    if not found or any(not p for p in found):
        return None
    pats = {tuple("*" if t.isdigit() else t for t in p) for p in found}
    changed = True
    while changed:  # patterns that differ in one token only become one pattern with * there
        changed = False
        for i in range(max(len(p) for p in pats)):
            groups: dict[tuple, set] = {}
            for p in pats:
                if len(p) > i and p[i] != "*":
                    groups.setdefault(p[:i] + ("*",) + p[i + 1:], set()).add(p)
            for g, members in groups.items():
                if len(members) >= 2:
                    pats = (pats - members) | {g}
                    changed = True
    if len(pats) > MAX_SUGGESTED:
        return None
    pointers = sorted("/" + "/".join(_escape_token(t) for t in p) for p in pats)
    norm = Normalizer(pointers=tuple(pointers))
    return pointers if norm(a) == norm(b) else None


def silencing_hint(a, b) -> str:
    """`` (if this is not a bug, --normalize ... silences it)``, or "" when no pointers can."""
    pointers = silencing_normalizer(a, b)
    if not pointers:
        return ""
    import shlex

    flags = " ".join(f"--normalize {shlex.quote(p)}" for p in pointers)
    return f" (if the difference is not a bug, {flags} silences it)"


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
            p = orjson.loads(line).get(E.PAYLOAD) or {}
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


def bundle_facts(bundle: Bundle, dialect: str, *, case_id: str, bundle_dir, valid: bool, invariant: str,
                 output: bytes | None):
    """The :class:`.api.BundleFacts` of one case, for user oracles."""
    from .api import API_VERSION, BundleFacts

    starts = {tag: (kind, fname) for kind, tag, fname in ENTITY_STARTS}
    ids: dict[str, list[str]] = {kind: [] for kind, _, _ in ENTITY_STARTS}
    tool_kinds: dict[str, str] = {}
    turn_threads: dict[str, str] = {}
    variants: dict[str, int] = {}
    for line in bundle.lines:
        try:
            ev = orjson.loads(line)
        except orjson.JSONDecodeError:
            continue
        p = ev.get(E.PAYLOAD) if isinstance(ev, dict) else None
        if not isinstance(p, dict) or not isinstance(p.get("type"), str):
            continue
        variant = p["type"]
        variants[variant] = variants.get(variant, 0) + 1
        hit = starts.get(variant)
        if hit and isinstance(p.get(hit[1]), str) and p[hit[1]] not in ids[hit[0]]:
            ids[hit[0]].append(p[hit[1]])
            kind = p.get("kind")
            kind = kind.get("type") if isinstance(kind, dict) else kind  # {"type": "exec_command"}
            if hit[0] == "tool call" and isinstance(kind, str):
                tool_kinds[p[hit[1]]] = kind
            if hit[0] == "turn" and isinstance(ev.get(E.THREAD_ID), str):
                turn_threads[p[hit[1]]] = ev[E.THREAD_ID]
    doc = parse_output(output)
    return BundleFacts(
        API_VERSION, case_id, dialect, bundle_dir, valid, invariant, output,
        None if isinstance(doc, bytes) else doc,
        threads=tuple(ids["thread"]), turns=tuple(ids["turn"]), inference_calls=tuple(ids["inference call"]),
        tool_calls=tuple(ids["tool call"]), tool_kinds=tool_kinds, turn_threads=turn_threads,
        events=len(bundle.lines), variants=variants,
    )


@dataclass(frozen=True)
class OracleConfig:
    metamorphic: bool = False
    coverage: bool = False
    differential: str | None = None  # a Codex release
    differential_binary: str | None = None
    normalizer: Normalizer = field(default_factory=Normalizer)
    skip_transforms: tuple[str, ...] = ()
    user: tuple[str, ...] = ()  # user oracles, module:function
    explicit: tuple[str, ...] = ()  # the oracles named one by one (not through "all"): each must apply

    @property
    def any(self) -> bool:
        return self.metamorphic or self.coverage or self.differential is not None or bool(self.user)

    @property
    def names(self) -> list[str]:
        out = [METAMORPHIC] if self.metamorphic else []
        out += [COVERAGE] if self.coverage else []
        out += [DIFFERENTIAL_PREFIX + self.differential] if self.differential else []
        return out + list(self.user)


def parse_oracles(names: list[str] | None, normalize: list[str] | None, skip: list[str] | None,
                  install: bool = True) -> OracleConfig:
    from .api import LoadError, load

    names = names or []
    unknown_skip = [s for s in skip or [] if s not in TRANSFORM_NAMES]
    if unknown_skip:
        raise OracleError(f"--skip-transform {', '.join(unknown_skip)}: known transforms: {', '.join(TRANSFORM_NAMES)}")
    differential, binary = None, None
    user: list[str] = []
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
        elif ":" in n:
            try:
                load(n)
            except LoadError as e:
                raise OracleError(str(e)) from None
            if n not in user:
                user.append(n)
        else:
            raise OracleError(f"--oracle {n!r}: expected metamorphic, coverage, all, codex-VERSION (differential) "
                              "or module:function (a user oracle)")
    every = "all" in names
    return OracleConfig(
        metamorphic=every or METAMORPHIC in names,
        coverage=every or COVERAGE in names,
        differential=differential,
        differential_binary=binary,
        normalizer=parse_normalizer(normalize),
        skip_transforms=tuple(skip or ()),
        user=tuple(user),
        explicit=tuple(dict.fromkeys(n for n in names if n != "all")),
    )


def never_applied(results, cfg: OracleConfig) -> dict[str, str]:
    """Oracle -> why it never applied in these case results (it judged no case)."""
    out = {}
    for name in cfg.names:
        seen = [r for r in results if name in r.oracles]
        if any(r.oracles[name] in ("pass", "fail") for r in seen):
            continue
        whys = [r.oracle_notes.get(name) for r in seen if r.oracle_notes.get(name)]
        if whys:
            why = max(set(whys), key=whys.count)
            out[name] = f"not applicable to any of the {len(seen)} case(s) it was given: {why}"
        elif not any(r.valid_accepted for r in results):
            out[name] = "no valid bundle was accepted, so there was no output to judge (raise --examples, or fix the rejections)"
        else:
            out[name] = "it judged no case"
    return out
