"""A dialect-neutral view of a bundle's payload bodies and refs, for the mutators.

v1 and v2 keep one payload per file (``payloads/N.json``); v3 keeps records in zstd shards
(``payloads/000001.zst``). A body is addressed by a key: ``("file", path)`` or
``("record", shard_path, index)``.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any

from ...bundle import Bundle
from ...model.common import ZSTD_SHARDS, ManifestKey
from ...store.shards import Record, compress_records, read_records
from . import jsontext


@dataclass
class RefSite:
    line: int  # index into bundle.lines
    path: jsontext.Path  # inside the parsed line
    ref: dict


def parsed_lines(bundle: Bundle) -> list[Any]:
    out = []
    for line in bundle.lines:
        try:
            out.append(jsontext.loads(line))
        except ValueError:
            out.append(None)
    return out


def ref_sites(bundle: Bundle, parsed: list[Any] | None = None) -> list[RefSite]:
    """Every object holding a payload-ref id in the event log (parts included): by shape, since a
    mutant need not be of any modelled variant (the key itself is the model's)."""
    from ...model.facts import ref_id_key

    key = ref_id_key()
    parsed = parsed_lines(bundle) if parsed is None else parsed
    sites = []
    for i, event in enumerate(parsed):
        if event is None:
            continue
        for p, v in jsontext.walk(event):
            if isinstance(v, dict) and key in v:
                sites.append(RefSite(i, p, v))
    return sites


def kind_of(ref: dict) -> str | None:
    k = ref.get("kind")
    return k.get("type") if isinstance(k, dict) else None


def kinds(bundle: Bundle) -> dict[str, str]:
    """payload id -> kind, as the refs name it (the first ref wins)."""
    out: dict[str, str] = {}
    for s in ref_sites(bundle):
        rid, kind = s.ref.get("raw_payload_id"), kind_of(s.ref)
        if isinstance(rid, str) and kind:
            out.setdefault(rid, kind)
    return out


def shard_paths(bundle: Bundle) -> list[str]:
    return sorted(p for p in bundle.payloads if p.endswith(ZSTD_SHARDS.payload_suffix))


def is_store(bundle: Bundle) -> bool:
    return bool(shard_paths(bundle)) or _schema(bundle) == 3


def _schema(bundle: Bundle) -> Any:
    try:
        return bundle.manifest_dict().get(ManifestKey.SCHEMA_VERSION)
    except (ValueError, AttributeError):
        return None


def records(bundle: Bundle, shard: str) -> list[tuple[bytes, bytes]] | None:
    """The records of one shard, or None when it does not decode cleanly."""
    out = []
    for item in read_records(io.BytesIO(bundle.payloads[shard])):
        if not isinstance(item, Record) or item.body is None:
            return None
        out.append((item.id, bytes(item.body)))  # a big body may come as a bytearray
    return out


def set_records(bundle: Bundle, shard: str, recs: list[tuple[bytes, bytes]]) -> None:
    bundle.payloads[shard] = compress_records(recs)


def bodies(bundle: Bundle) -> list[tuple[tuple, str, bytes]]:
    """(key, payload id, body bytes) of every payload body that can be read."""
    out: list[tuple[tuple, str, bytes]] = []
    if shard_paths(bundle):
        for shard in shard_paths(bundle):
            for i, (rid, body) in enumerate(records(bundle, shard) or []):
                out.append((("record", shard, i), rid.decode("utf-8", "replace"), body))
        return out
    by_path = {s.ref.get("path"): s.ref.get("raw_payload_id") for s in ref_sites(bundle)}
    for path, body in sorted(bundle.payloads.items()):
        out.append((("file", path), str(by_path.get(path) or ""), body))
    return out


def set_body(bundle: Bundle, key: tuple, data: bytes) -> None:
    if key[0] == "file":
        bundle.payloads[key[1]] = data
        return
    _, shard, index = key
    recs = records(bundle, shard)
    assert recs is not None  # the key came from bodies(), which decoded it
    recs[index] = (recs[index][0], data)
    set_records(bundle, shard, recs)


def set_line(bundle: Bundle, index: int, event: Any) -> None:
    bundle.lines[index] = jsontext.encode(event)
