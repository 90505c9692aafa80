"""How much of what a writer left on disk the harness reads (the caps for
:func:`rollout_trace_kit.files.read_capped`), derived from what it was asked to write."""

from __future__ import annotations

SLACK = 1 << 16  # room beyond twice the expected size: whitespace, a longer clock, one more line


def split_log(data: bytes) -> tuple[list[bytes], bytes]:
    """Complete lines (without "\\n") and the partial tail."""
    parts = data.split(b"\n")
    return parts[:-1], parts[-1]


def log_cap(answered_bytes: int, extra: int = 0) -> int:
    """How much of trace.jsonl to read: twice the answers that echoed its events, plus one more line."""
    return 2 * (answered_bytes + extra) + SLACK


def payload_cap(body) -> int:
    """How much of a payload file to read: twice its body pretty-printed (4-space indent is within that)."""
    import orjson

    from ...compilers.canonical import EventError, dumps

    try:
        return 2 * len(dumps(body, indent=True)) + SLACK
    except EventError:  # what serde's form cannot hold: a number beyond f64 (wide.py)
        from .wide import dumps as wide_dumps

        return 2 * len(wide_dumps(body, option=orjson.OPT_INDENT_2)) + SLACK
