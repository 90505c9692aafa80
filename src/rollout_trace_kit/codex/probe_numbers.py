"""Which numbers a release's reducer refuses, measured on real bundles (``codex probe V --numbers``).

serde_json reads a number literal beyond f64 (``1e400``) as an error ("number out of range") where it
builds a value, in some releases only: 0.125.0 to 0.135.0 refuse one in an event payload (which serde
buffers, unknown keys included) and in every payload body they parse; 0.143.0 on read it. A value
serde skips (an unknown envelope key) is checked for syntax only, in every release.

The probe adds a key holding ``1e400`` to the first event's payload, and to the first inference
request body, of a bundle the reducer reads: ``reducer.number_range`` of the record,
``{"event_payload": refused, "payload_body": refused}``.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from ..bundle import TRACE
from ..model.common import EnvelopeKey as E
from ..model.releases import NUMBER_IN_EVENT_PAYLOAD, NUMBER_IN_PAYLOAD_BODY
from .edited_copies import linked_copy, read_events, rewrite
from .probe_depths import readable_copy

NUMBER_KEY = "rtk_probe_number"
OVERFLOW = "1e400"  # beyond f64: serde_json "number out of range" where it builds a value
_MARK = "__rtk_probe_overflow__"


def _with_overflow(value: dict) -> str:
    """``value`` as JSON text with one more key holding :data:`OVERFLOW` (json cannot write it)."""
    return json.dumps({**value, NUMBER_KEY: _MARK}).replace(json.dumps(_MARK), OVERFLOW)


def number_range(binary: Path, bundles: list[Path], known: frozenset[str] | None, scratch: Path,
                 required: dict | None = None) -> dict[str, bool]:
    """{place: whether the release's reducer refuses a bundle holding :data:`OVERFLOW` there}, asked with the
    first readable bundle (``payload_body`` only where its payloads are files)."""
    from .install import trace_reduce

    scratch.mkdir(parents=True, exist_ok=True)

    def refused(bundle: Path, name: str, edit) -> bool:
        copy = scratch / name
        linked_copy(bundle, copy)
        edit(copy)  # with rewrite: the copy's files are links
        result = trace_reduce(binary, copy, scratch / f"{name}.out.json", timeout=20)
        shutil.rmtree(copy, ignore_errors=True)
        return result.returncode != 0

    for i, original in enumerate(bundles):
        bundle = readable_copy(original, known, scratch / f"num-{i}", required=required)
        if trace_reduce(binary, bundle, scratch / f"num-{i}.out.json", timeout=20).returncode != 0:
            continue
        events = read_events(bundle)
        request = next((e[E.PAYLOAD]["request_payload"] for e in events
                        if e[E.PAYLOAD].get("type") == "inference_started"
                        and isinstance(e[E.PAYLOAD].get("request_payload"), dict)), None)
        path = request.get("path") if request is not None else None  # None in a shard store (v3)
        body = json.loads((bundle / path).read_text(encoding="utf-8")) if isinstance(path, str) else None

        def in_payload(copy: Path) -> None:
            first = dict(events[0])
            lines = [json.dumps(e) for e in events[1:]]
            payload = _with_overflow(first.pop(E.PAYLOAD))
            head = json.dumps(first)[:-1] + f', "{E.PAYLOAD}": {payload}}}'
            rewrite(copy / TRACE, "\n".join([head, *lines]) + "\n")

        out = {NUMBER_IN_EVENT_PAYLOAD: refused(bundle, f"num-{i}-event", in_payload)}
        if isinstance(path, str) and isinstance(body, dict):  # a body in a file (the shard store's are not edited here)
            file, value = path, body
            out[NUMBER_IN_PAYLOAD_BODY] = refused(bundle, f"num-{i}-body",
                                          lambda copy: rewrite(copy / file, _with_overflow(value)))
        return out
    return {}


def measure_numbers(release: str, record: dict | None = None) -> dict:
    """The release's record with ``reducer.number_range`` measured on the kit's corpus (made readable for it)."""
    from .probe import measure_on_corpus
    from .probe_depths import _known

    return measure_on_corpus(release, record, "numbers", lambda binary, bundles, reducer, tmp: {
        "number_range": number_range(binary, bundles, _known(reducer), tmp / "numbers", reducer.get("body_required"))})
