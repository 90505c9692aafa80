"""The reference trace writer: what Codex's ``TraceWriter`` does, in Python.

Byte for byte it writes what ``codex-rs/rollout-trace/src/writer.rs`` writes
(upstream-rules section D):

* ``create`` makes ``<bundle>/payloads``, writes ``manifest.json`` pretty-printed
  (``schema_version`` of the dialect, no final newline) and opens ``trace.jsonl``
  for appending. Counters start at 1.
* ``write_json_payload`` takes the next ordinal ``n``, writes the value
  pretty-printed to ``payloads/{n}.json`` and only then returns the
  ``RawPayloadRef`` ``raw_payload:{n}``; so any event that carries the ref is
  appended after its file exists.
* ``append`` / ``append_with_context`` stamp the envelope (``schema_version``,
  the next ``seq``, wall-clock milliseconds, the manifest's ``rollout_id``, the
  context), serialise it compactly in the model's field order, and write the
  line and ``"\\n"`` in one ``write(2)`` on an ``O_APPEND`` descriptor: the line
  is with the operating system (flushed) when the call returns.

Where upstream is loose the reference is strict, as the hardened forks are
(upstream-rules D.1, D.3): it refuses a directory that already holds bundle
evidence (upstream would append a second run whose seq restarts at 1), creates
payload files with ``O_EXCL``, consumes a seq only when its line was written,
and after a failed append refuses every later one (a half-written line must
stay the last line). Events are checked against the dialect's model before
anything is written (:mod:`.encode`), so the writer cannot write an event the
Codex writer could not have written.

Dialect v3 (Codex 0.171.0) keeps payloads as records in zstd shards
(:mod:`rollout_trace_kit.store.shards`): ``write_json_payload`` appends the
compact JSON as record ``raw_payload:{n}`` to the current shard, flushes a zstd
block (the record is with the operating system when the call returns), and
returns a ref naming the shard; a shard is sealed (its frame ended) when the
next record would take it past 8 MiB, before the terminal event
(``recording_completed``: the 0.171.0 reducer rejects a completed recording with an
open frame), and at ``close``. A crash leaves the last shard's frame open, every
record before it complete.

``recording_completed`` (dialect v2) and ``rollout_ended`` are ordinary events:
the caller appends them, as Codex's recorder does.
"""

from __future__ import annotations

import errno
import os
import threading
import time
from pathlib import Path
from typing import Any, BinaryIO, Callable

import orjson

from ..model import DEFAULT_DIALECT, get_dialect
from ..bundle import MANIFEST, PAYLOADS, TRACE
from ..files import write_all
from ..model.common import EnvelopeKey, ManifestKey
from ..model.facts import MissingValue, record
from ..model.types import STORE_FILES, STORE_ZSTD_SHARDS, Dialect, UnitKind
from ..compilers.canonical import EventError, canonical_payload, check_json, dumps, event_line, pretty
from ..store.shards import HEADER_SIZE, ROTATE_BYTES, ShardWriter, shard_name


# -- the records every writer of the kit writes (this one and the generators' fast one) ----------


def manifest_record(
    dialect: Dialect, *, trace_id: str, rollout_id: str, root_thread_id: str, started_at: int
) -> dict[str, Any]:
    """``manifest.json`` of a new bundle, keys in model order (a key the model adds: const or null)."""
    K, layout = ManifestKey, dialect.layout
    values = {
        K.SCHEMA_VERSION: dialect.schema_version,
        K.TRACE_ID: trace_id,
        K.ROLLOUT_ID: rollout_id,
        K.ROOT_THREAD_ID: root_thread_id,
        K.STARTED_AT: started_at,
        K.EVENT_LOG: layout.event_log,
        K.PAYLOADS_DIR: layout.payloads_dir,
    }
    return _record(dialect.manifest, values)


def event_record(
    dialect: Dialect,
    seq: int,
    wall_time: int,
    rollout_id: str,
    thread_id: str | None,
    turn_id: str | None,
    payload: dict[str, Any],
) -> dict[str, Any]:
    """One event as the writer stamps it: the envelope in model order around ``payload``."""
    K = EnvelopeKey
    values = {
        K.SCHEMA_VERSION: dialect.schema_version,
        K.SEQ: seq,
        K.WALL_TIME: wall_time,
        K.ROLLOUT_ID: rollout_id,
        K.THREAD_ID: thread_id,
        K.TURN_ID: turn_id,
        K.PAYLOAD: payload,
    }
    return _record(dialect.envelope, values)


def _record(struct: Any, values: dict[str, Any]) -> dict[str, Any]:
    try:
        return record(struct, values)
    except MissingValue as e:
        raise EventError(str(e)) from None


# Payload stores the kit's writers write (model Layout.store): this one and the generators'.
WRITTEN_STORES = frozenset({STORE_FILES, STORE_ZSTD_SHARDS})


def writes_store(dialect: Dialect) -> bool:
    """Whether the kit's writers write ``dialect``'s payload store."""
    return dialect.layout.store in WRITTEN_STORES


def written_dialects() -> list[str]:
    """Names of the dialects the kit's writers (and so its generators) write."""
    from ..model import DIALECTS

    return [name for name, d in DIALECTS.items() if writes_store(d)]

Clock = Callable[[], int]


class WriterError(OSError):
    """The writer could not write (I/O), or can no longer write after an earlier failure."""


def system_clock() -> int:
    """Unix wall-clock milliseconds; 0 before the epoch, as upstream."""
    return max(0, time.time_ns() // 1_000_000)


class TraceWriter:
    """One trace bundle being written. Thread-safe; use :meth:`create`."""

    def __init__(self, bundle: Path, dialect: Dialect, manifest: dict[str, Any], fd: int, clock: Clock, fsync: bool):
        self.bundle = bundle
        self.dialect = dialect
        self.manifest = manifest
        self._fd: int | None = fd
        self._clock = clock
        self._fsync = fsync
        self._lock = threading.Lock()
        self._next_seq = 1
        self._next_ordinal = 1
        self._failed: str | None = None
        self._sharded = dialect.layout.store == STORE_ZSTD_SHARDS
        self._shard = 0  # v3: number of the open shard (0: none yet)
        self._shard_file: BinaryIO | None = None
        self._shard_writer: ShardWriter | None = None

    # -- creation -------------------------------------------------------------------------
    @classmethod
    def create(
        cls,
        bundle_dir: str | os.PathLike[str],
        *,
        trace_id: str,
        rollout_id: str,
        root_thread_id: str,
        dialect: str | Dialect = DEFAULT_DIALECT,
        clock: Clock | None = None,
        fsync: bool = False,
    ) -> "TraceWriter":
        """Create the bundle directory, its manifest and its (empty) event log.

        ``clock`` returns Unix milliseconds (tests replay recorded times with it);
        ``fsync=True`` adds an fsync per line and payload, which Codex does not do.
        """
        d = dialect if isinstance(dialect, Dialect) else get_dialect(dialect)
        if not writes_store(d):
            raise EventError(f"dialect {d.name} keeps payloads in a {d.layout.store} store; this writer writes files")
        for name, value in ((ManifestKey.TRACE_ID, trace_id), (ManifestKey.ROLLOUT_ID, rollout_id),
                            (ManifestKey.ROOT_THREAD_ID, root_thread_id)):
            if not isinstance(value, str):
                raise EventError(f"{name} must be a string, got {value!r}")
        clock = clock or system_clock
        bundle = Path(bundle_dir)
        for existing in (bundle / MANIFEST, bundle / TRACE):
            if existing.exists():
                raise WriterError(errno.EEXIST, f"refusing to reuse a bundle directory: {existing} exists")
        (bundle / PAYLOADS).mkdir(parents=True, exist_ok=True)
        if any((bundle / PAYLOADS).iterdir()):
            raise WriterError(errno.EEXIST, f"refusing to reuse a bundle directory: {bundle / PAYLOADS} is not empty")
        manifest = manifest_record(
            d, trace_id=trace_id, rollout_id=rollout_id, root_thread_id=root_thread_id, started_at=int(clock())
        )
        _create_file(bundle / MANIFEST, pretty(manifest), fsync)
        fd = os.open(bundle / TRACE, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644)
        return cls(bundle, d, manifest, fd, clock, fsync)

    # -- payloads ---------------------------------------------------------------------------
    def write_json_payload(self, kind: str, value: object) -> dict[str, Any]:
        """Write ``value`` as the next payload (file, or v3 record) and return its ``RawPayloadRef``."""
        kinds = self.dialect.type_as("RawPayloadKind", UnitKind).values
        if kind not in kinds:
            raise EventError(f"{kind!r} is not a RawPayloadKind ({', '.join(kinds)})")
        floats = check_json(value)
        try:
            data = dumps(value, indent=not self._sharded, floats=floats)
        except orjson.JSONEncodeError as e:
            raise EventError(f"payload is not serialisable as JSON: {e}") from None
        if self._sharded:
            return self._write_record(kind, data)
        with self._lock:
            self._usable()
            n = self._next_ordinal
            self._next_ordinal += 1  # upstream takes the ordinal before writing: a failure burns it
            rel = self.dialect.layout.file_for(n=n)
            try:
                _create_file(self.bundle / rel, data, self._fsync)
            except OSError as e:
                raise WriterError(e.errno, f"cannot write payload {rel}: {e.strerror}") from None
        return self.dialect.layout.ref(n, kind)

    def _write_record(self, kind: str, body: bytes) -> dict[str, Any]:
        with self._lock:
            self._usable()
            n = self._next_ordinal
            self._next_ordinal += 1
            rid = self.dialect.layout.payload_id_for(n).encode()
            try:
                cur, file = self._shard_writer, self._shard_file
                if cur is None or file is None or (cur.records and cur.size + HEADER_SIZE + len(rid) + len(body) > ROTATE_BYTES):
                    file, cur = self._open_shard()
                cur.append(rid, body)
                if self._fsync:
                    os.fsync(file.fileno())
            except OSError as e:
                self._failed = f"a payload record failed: {e.strerror}"
                raise WriterError(e.errno, f"cannot write payload record {rid.decode()}: {e.strerror}") from None
            return self.dialect.layout.ref(n, kind, self._shard)

    def _open_shard(self) -> tuple[BinaryIO, ShardWriter]:
        """Seal the open shard (end its frame) and start the next one."""
        self._seal_shard()
        self._shard += 1
        path = self.bundle / PAYLOADS / shard_name(self._shard)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644)
        file = self._shard_file = os.fdopen(fd, "wb", buffering=0)
        writer = self._shard_writer = ShardWriter(file)
        return file, writer

    def _seal_shard(self) -> None:
        if self._shard_writer is not None and self._shard_file is not None:  # open together
            self._shard_writer.seal()
            if self._fsync:
                os.fsync(self._shard_file.fileno())
            self._shard_file.close()
            self._shard_writer = self._shard_file = None

    # -- events -----------------------------------------------------------------------------
    def append(self, payload: dict[str, Any]) -> dict[str, Any]:
        """Append an event without thread or turn context (``thread_id``/``codex_turn_id`` null)."""
        return self.append_with_context(payload)

    def append_with_context(
        self, payload: dict[str, Any], *, thread_id: str | None = None, codex_turn_id: str | None = None
    ) -> dict[str, Any]:
        """Append one event; returns it as written (envelope and payload, in model order)."""
        body = canonical_payload(self.dialect, payload)
        for name, value in ((EnvelopeKey.THREAD_ID, thread_id), (EnvelopeKey.TURN_ID, codex_turn_id)):
            if value is not None and not isinstance(value, str):
                raise EventError(f"/{name}: expected a string or null, got {value!r}")
        with self._lock:
            fd = self._usable()
            if self._sharded and body.get("type") in self.dialect.terminal_variants:
                # The 0.171.0 reducer rejects a completed recording whose last shard is not
                # sealed ("missing footer"): seal it before the terminal event can be on disk,
                # so a crash between that event and close still leaves a replayable bundle.
                try:
                    self._seal_shard()
                except OSError as e:
                    self._failed = f"sealing a shard failed: {e.strerror}"
                    raise WriterError(e.errno, f"cannot seal the payload shard: {e.strerror}") from None
            event = event_record(
                self.dialect, self._next_seq, int(self._clock()), self.manifest[ManifestKey.ROLLOUT_ID], thread_id, codex_turn_id, body
            )
            try:
                line = event_line(event) + b"\n"
            except orjson.JSONEncodeError as e:
                raise EventError(f"event is not serialisable as JSON: {e}") from None
            try:
                write_all(fd, line)
                if self._fsync:
                    os.fsync(fd)
            except OSError as e:
                self._failed = f"an append failed: {e.strerror}"
                raise WriterError(e.errno, f"cannot append to {TRACE}: {e.strerror}") from None
            self._next_seq += 1  # consumed only once the line is written
        return event

    # -- end ----------------------------------------------------------------------------------
    def close(self) -> None:
        with self._lock:
            self._seal_shard()
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None

    def __enter__(self) -> "TraceWriter":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def next_seq(self) -> int:
        return self._next_seq

    def _usable(self) -> int:
        """The event log's descriptor, if the writer may still write."""
        if self._fd is None:
            raise WriterError(errno.EBADF, "the trace writer is closed")
        if self._failed:
            raise WriterError(errno.EIO, f"trace event log is no longer writable ({self._failed})")
        return self._fd


def _create_file(path: Path, data: bytes, fsync: bool) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644)
    try:
        write_all(fd, data)
        if fsync:
            os.fsync(fd)
    finally:
        os.close(fd)
