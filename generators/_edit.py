"""Editing a bundle line by line, for corruption operators.

Works on generated bundles and on real ones read with ``Bundle.read``. Events
are parsed once; an edited event is re-serialised with ``orjson`` (keys keep
their order), which reproduces a Codex line byte for byte, so only the lines
an operator touches change. ``seq`` renumbering keeps the log contiguous when
an operator adds or removes lines, so the one broken rule stays the only one.
"""

from __future__ import annotations

import copy
from typing import Any

import orjson

from ..model.common import EnvelopeKey as E, ManifestKey
from ..bundle import Bundle, dumps_pretty
from ..model import DEFAULT_DIALECT, DIALECTS, dialect_for_schema_version, facts
from ..model.types import Dialect



def iter_refs(payload: dict, dialect: Dialect):
    """(pointer, ref dict) for every payload ref in an event payload, where the model puts them."""
    for pointer, ref, _field in facts.iter_refs(dialect, payload):
        yield pointer, ref


class Editor:
    """A mutable copy of a bundle whose lines are events (dicts) until written back."""

    def __init__(self, bundle: Bundle, dialect: Dialect | str | None = None):
        if isinstance(dialect, str):
            dialect = DIALECTS[dialect]
        if dialect is None:
            dialect = dialect_for_schema_version(bundle.manifest_dict().get(ManifestKey.SCHEMA_VERSION)) or DIALECTS[DEFAULT_DIALECT]
        self.dialect = dialect
        self.layout = dialect.layout
        self.original = bundle
        self.bundle = bundle.copy()
        self.events: list[dict | None] = []
        self.raw: list[bytes] = list(bundle.lines)
        self.dirty: set[int] = set()
        for line in bundle.lines:
            try:
                obj = orjson.loads(line)
            except orjson.JSONDecodeError:
                obj = None
            # Only lines orjson reproduces exactly can be edited without side effects.
            self.events.append(obj if isinstance(obj, dict) and orjson.dumps(obj) == line else None)

    # -- reading ---------------------------------------------------------------------------
    def tag(self, i: int) -> str | None:
        e = self.events[i]
        p = e.get(E.PAYLOAD) if e else None
        return p.get("type") if isinstance(p, dict) else None

    def lines_of(self, *tags: str) -> list[int]:
        return [i for i in range(len(self.events)) if self.tag(i) in tags]

    def event(self, i: int) -> dict[str, Any]:
        """Line ``i``'s event, for a line known to hold one (from ``lines_of``, or ``editable()``)."""
        e = self.events[i]
        if e is None:
            raise ValueError(f"line {i} is not an editable event")
        return e

    def payload(self, i: int) -> dict[str, Any]:
        """Line ``i``'s event payload (the envelope's ``payload``)."""
        return self.event(i)[E.PAYLOAD]

    def seq(self, i: int) -> int | None:
        e = self.events[i]
        return e.get(E.SEQ) if e else None

    def editable(self) -> bool:
        """Every line is a canonical event: renumbering and inserting are safe."""
        return all(e is not None for e in self.events)

    def payload_users(self) -> dict[str, list[int]]:
        users: dict[str, list[int]] = {}
        for i, e in enumerate(self.events):
            if e is None:
                continue
            for _, ref in iter_refs(e[E.PAYLOAD], self.dialect):
                if "path" in ref:  # v3 records are edited through _ops_store's helpers
                    users.setdefault(ref["path"], []).append(i)
        return users

    def own_payloads(self, i: int) -> list[str]:
        """Payload files only line ``i`` refers to."""
        users = self.payload_users()
        return [ref["path"] for _, ref in iter_refs(self.event(i)[E.PAYLOAD], self.dialect) if users.get(ref.get("path")) == [i]]

    def body(self, path: str):
        return orjson.loads(self.bundle.payloads[path])

    def next_ordinal(self) -> int:
        best = 0
        for rel in list(self.bundle.payloads) + list(self.bundle.specials):
            best = max(best, self.layout.file_ordinal(rel) or 0)
        for e in self.events:
            if e:
                for _, ref in iter_refs(e[E.PAYLOAD], self.dialect):
                    best = max(best, self.layout.file_ordinal(ref.get("path", "")) or 0)
        return best + 1

    # -- writing ----------------------------------------------------------------------------
    def touch(self, i: int) -> dict:
        self.dirty.add(i)
        return self.event(i)

    def touch_payload(self, i: int) -> dict:
        """Line ``i``'s payload, to edit (the line is written back)."""
        return self.touch(i)[E.PAYLOAD]

    def set_body(self, path: str, value) -> None:
        self.bundle.payloads[path] = dumps_pretty(value)

    def new_payload(self, kind: str, value) -> dict:
        n = self.next_ordinal()
        rel = self.layout.file_for(n=n)
        self.bundle.payloads[rel] = dumps_pretty(value) if not isinstance(value, bytes) else value
        return self.layout.ref(n, kind)

    def clone(self, i: int) -> dict:
        """A copy of event ``i`` whose refs point to fresh copies of its payload files."""
        e = copy.deepcopy(self.event(i))
        for _, ref in iter_refs(e[E.PAYLOAD], self.dialect):
            data = self.bundle.payloads.get(ref["path"], b"{}")
            fresh = self.new_payload(ref["kind"]["type"], data)
            ref.update(fresh)
        return e

    def insert(self, i: int, event: dict) -> None:
        """Put ``event`` at line index ``i`` (seq = that of the line it displaces); renumber the rest.

        Its wall time is raised to the previous event's if earlier, so time never goes back.
        """
        if i < len(self.events):
            event[E.SEQ] = self.seq(i)
        else:
            last = self.seq(len(self.events) - 1)
            assert last is not None  # appending after the last line needs its seq
            event[E.SEQ] = last + 1
        prev = self.events[i - 1] if i > 0 else None
        if prev is not None and event[E.WALL_TIME] < prev[E.WALL_TIME]:
            event[E.WALL_TIME] = prev[E.WALL_TIME]
        self.events.insert(i, event)
        self.raw.insert(i, b"")
        self.dirty = {j + 1 if j >= i else j for j in self.dirty} | {i}
        self.shift(i + 1, +1)

    def delete(self, i: int, *, renumber: bool = True, drop_payloads: bool = True) -> None:
        if drop_payloads:
            for path in self.own_payloads(i):
                self.bundle.payloads.pop(path, None)
        self.events.pop(i)
        self.raw.pop(i)
        self.dirty = {j - 1 if j > i else j for j in self.dirty if j != i}
        if renumber:
            self.shift(i, -1)

    def shift(self, start: int, delta: int) -> None:
        """Add ``delta`` to the seq of every line from index ``start``."""
        for j in range(start, len(self.events)):
            if self.events[j] is not None:
                self.touch(j)[E.SEQ] += delta

    def replace_raw(self, i: int, data: bytes) -> None:
        """Line ``i`` becomes these exact bytes (not an event any more)."""
        self.events[i] = None
        self.raw[i] = data
        self.dirty.discard(i)

    def done(self) -> Bundle:
        lines = []
        for i, e in enumerate(self.events):
            lines.append(orjson.dumps(e) if i in self.dirty else self.raw[i])
        self.bundle.lines = lines
        return self.bundle
