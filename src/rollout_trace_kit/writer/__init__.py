"""The reference trace writer: Codex's writer contract, for Python producers.

    from rollout_trace_kit.writer import TraceWriter

    with TraceWriter.create("bundle", trace_id=..., rollout_id=..., root_thread_id=..., dialect="v2") as w:
        w.append({"type": "rollout_started", "trace_id": ..., "root_thread_id": ...})
        meta = w.write_json_payload("session_metadata", {...})
        w.append({"type": "thread_started", "thread_id": ..., "agent_path": "/root", "metadata_payload": meta})
        ...

``python -m rollout_trace_kit.writer`` serves the same writer over the writer
driver protocol (:mod:`rollout_trace_kit.conformance.writer.protocol`).
"""

from ..bundle import MANIFEST, PAYLOADS, TRACE
from .core import TraceWriter, WriterError, system_clock
from ..compilers.canonical import EventError, canonical_event, canonical_payload

__all__ = [
    "MANIFEST",
    "PAYLOADS",
    "TRACE",
    "EventError",
    "TraceWriter",
    "WriterError",
    "canonical_event",
    "canonical_payload",
    "system_clock",
]
