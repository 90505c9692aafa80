"""A trace writer in the shape of Codex's ``TraceWriter``, for generated bundles.

It keeps the promises the real writer keeps (upstream-rules D): ``seq`` from 1
without gaps, one wall clock that never goes back, payload files written before
the event that points to them as the dialect's layout names them,
events serialised compactly with keys in model order, payload files pretty.

Output goes to a sink: in memory (a :class:`~rollout_trace_kit.bundle.Bundle`)
or straight to disk (big bundles never sit in memory).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Protocol

import orjson

import io

from ..bundle import MANIFEST, PAYLOADS, TRACE, Bundle, dumps_pretty
from ..model.types import STORE_ZSTD_SHARDS, Dialect
from ..writer.core import event_record, manifest_record, writes_store
from ..store.shards import ShardWriter, StoreWriter, shard_name
from ._widen import RETAINED_BYTES


def sharded(dialect: Dialect) -> bool:
    """Whether the dialect keeps payloads as records in zstd shards (refs carry `shard`)."""
    return dialect.layout.store == STORE_ZSTD_SHARDS


class MemoryStore(StoreWriter):
    """StoreWriter's shards, rotated by its rule, kept in memory instead of files."""

    def __init__(self) -> None:
        super().__init__(directory="")  # never opened: _open_next below makes in-memory files
        self.files: list[io.BytesIO] = []

    def _open_next(self) -> ShardWriter:
        self.close()
        self.shard += 1
        self.files.append(io.BytesIO())
        self.current = ShardWriter(self.files[-1], self.level)
        return self.current

    def close(self) -> None:
        if self.current is not None:
            self.current.seal()
            self.current = None

    def payloads(self) -> dict[str, bytes]:
        return {f"{PAYLOADS}/{shard_name(i)}": f.getvalue() for i, f in enumerate(self.files, 1)}


class Sink(Protocol):
    """Where a TraceWriter's files go."""

    def line(self, data: bytes) -> None: ...
    def payload(self, rel: str, data: bytes) -> None: ...
    def finish(self, manifest: bytes) -> Bundle | Path: ...


class MemorySink:
    """Collects the bundle in memory."""

    def __init__(self) -> None:
        self.lines: list[bytes] = []
        self.payloads: dict[str, bytes] = {}
        self.manifest: bytes | None = None

    def line(self, data: bytes) -> None:
        self.lines.append(data)

    def payload(self, rel: str, data: bytes) -> None:
        self.payloads[rel] = data

    def store(self) -> MemoryStore:
        self._store = MemoryStore()
        return self._store

    def finish(self, manifest: bytes) -> Bundle:
        self.manifest = manifest
        store = getattr(self, "_store", None)
        if store is not None:
            store.close()
            self.payloads.update(store.payloads())
        return Bundle(manifest=manifest, lines=self.lines, payloads=self.payloads)


class DirectorySink:
    """Streams the bundle into a directory as it is generated."""

    def __init__(self, directory: str | Path) -> None:
        self.dir = Path(directory)
        (self.dir / PAYLOADS).mkdir(parents=True, exist_ok=True)
        self._trace = open(self.dir / TRACE, "wb", buffering=1 << 20)
        self._payload_dir = str(self.dir / PAYLOADS)
        self.events = 0
        self.payload_files = 0

    def line(self, data: bytes) -> None:
        self._trace.write(data)
        self._trace.write(b"\n")
        self.events += 1

    def payload(self, rel: str, data: bytes) -> None:
        # rel is always inside payloads/ here
        with open(f"{self._payload_dir}/{rel[len(PAYLOADS) + 1:]}", "wb") as f:
            f.write(data)
        self.payload_files += 1

    def store(self) -> StoreWriter:
        self._store = StoreWriter(self.dir / PAYLOADS)
        return self._store

    def finish(self, manifest: bytes) -> Path:
        store = getattr(self, "_store", None)
        if store is not None:
            store.close()
            self.payload_files = store.shard
        self._trace.close()
        (self.dir / MANIFEST).write_bytes(manifest)
        return self.dir


def field_order(dialect: Dialect) -> dict[str, tuple[tuple[str, bool], ...]]:
    """Per payload variant: its fields in model order, with ``skip_if_none``."""
    return {v.tag: tuple((f.name, f.skip_if_none) for f in v.fields) for v in dialect.payload.variants}


class TraceWriter:
    """Appends events and payloads the way Codex's writer does.

    The fast twin of :class:`rollout_trace_kit.writer.core.TraceWriter`: the same records
    (``manifest_record``, ``event_record``, the layout's refs), without the checks and the
    file-per-call I/O, into a sink.
    """

    def __init__(self, dialect: Dialect, sink, *, trace_id: str, rollout_id: str, started_at: int,
                 widen: Callable[[dict[str, Any], dict[str, Any] | None], None] | None = None,
                 shape: Callable[[dict[str, Any]], None] | None = None,
                 capture: Callable[[str, int], dict[str, Any] | None] | None = None):
        if not writes_store(dialect):
            raise ValueError(f"dialect {dialect.name}: the generators do not write a {dialect.layout.store} store")
        self.dialect = dialect
        self.sink = sink
        self.trace_id = trace_id
        self.rollout_id = rollout_id
        self.root_thread_id = rollout_id  # Codex uses the root thread id as rollout id
        self.started_at = started_at
        self.clock = started_at
        self.next_seq = 1
        self.next_payload = 1
        self._order = field_order(dialect)
        self.store = sink.store() if sharded(dialect) else None
        self.records = 0
        self.widen = widen  # the "schema" generation mode's rewrite of each payload (._widen)
        self.shape = shape  # one release's way of writing each payload (._release)
        self.capture = capture  # the schema mode's capture note of a stored payload, by kind and size (._widen)
        self._held: tuple[Any, ...] | None = None  # the event the widener has not seen the next of

    # -- payloads -------------------------------------------------------------------
    def payload(self, kind: str, body: Any) -> dict[str, Any]:
        """Write one payload file now; return the ref an event will carry."""
        n = self.next_payload
        self.next_payload += 1
        layout = self.dialect.layout
        if self.store is not None:  # v3: a compact record appended to the current shard
            data = orjson.dumps(body)
            note = self.capture(kind, len(data)) if self.capture is not None else None
            if note is not None and RETAINED_BYTES not in note:  # omitted: no record, no shard
                ref = layout.ref(n, kind, None)
                del ref[layout.ref_key]
                ref["capture"] = note
                return ref
            if note is not None:  # truncated: the record keeps the first bytes only
                data = data[: note[RETAINED_BYTES]]
            shard = self.store.append(layout.payload_id_for(n).encode(), data)
            self.records += 1
            ref = layout.ref(n, kind, shard)
            if note is not None:
                ref["capture"] = note
            return ref
        self.sink.payload(layout.file_for(n=n), dumps_pretty(body))
        return layout.ref(n, kind)

    # -- events -----------------------------------------------------------------------
    def event(self, tag: str, thread_id: str | None, turn_id: str | None, /, **fields: Any) -> int:
        """Append one event; ``fields`` are the payload fields (any order). Returns its seq.

        ``thread_id`` and ``turn_id`` are the envelope context (positional only, since
        several payloads have fields of the same names).
        """
        payload: dict[str, Any] = {"type": tag}
        for name, skip_if_none in self._order[tag]:
            value = fields.pop(name, None)
            if value is None and skip_if_none:
                continue
            payload[name] = value
        if fields:
            raise TypeError(f"{tag} has no field(s) {sorted(fields)}")
        if self.shape is not None:
            self.shape(payload)
        seq = self.next_seq
        self.next_seq += 1
        if self.widen is None:
            self._line(seq, self.clock, thread_id, turn_id, payload)
            return seq
        # The widener sees each event with the next one (a tool call's kind is opaque only when
        # no runtime event parsed by that kind follows), so every event is held back by one.
        if self._held is not None:
            self._widened(self._held, payload)
        self._held = (seq, self.clock, thread_id, turn_id, payload)
        return seq

    def _line(self, seq: int, clock: int, thread_id: str | None, turn_id: str | None, payload: dict[str, Any]) -> None:
        self.sink.line(orjson.dumps(event_record(self.dialect, seq, clock, self.rollout_id, thread_id, turn_id, payload)))

    def _widened(self, held: tuple[Any, ...], following: dict[str, Any] | None) -> None:
        seq, clock, thread_id, turn_id, payload = held
        assert self.widen is not None
        self.widen(payload, following)
        self._line(seq, clock, thread_id, turn_id, payload)

    def tick(self, ms: int) -> int:
        """Advance the wall clock (never backwards) and return the new time."""
        self.clock += ms
        return self.clock

    @property
    def events_written(self) -> int:
        return self.next_seq - 1

    def manifest(self) -> bytes:
        return dumps_pretty(
            manifest_record(
                self.dialect,
                trace_id=self.trace_id,
                rollout_id=self.rollout_id,
                root_thread_id=self.root_thread_id,
                started_at=self.started_at,
            )
        )

    def finish(self) -> Bundle | Path:
        if self._held is not None:
            self._widened(self._held, None)
            self._held = None
        return self.sink.finish(self.manifest())
