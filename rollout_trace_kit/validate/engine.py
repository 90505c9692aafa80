"""One streaming pass over a bundle: layout, then every line, then the end."""

from __future__ import annotations

from pathlib import Path

from .context import Context, Options, TooManyFindings
from .findings import BundleReport, Severity
from .lines import read_lines
from .rules import layout, schema
from .rules.lifecycle import LifecycleChecker
from .rules.order import OrderChecker
from .rules.refs import RefChecker


def validate_bundle(bundle: str | Path, options: Options | None = None) -> BundleReport:
    """Check one bundle directory; never raises for bad input, never writes to it."""
    ctx = Context(Path(bundle), options or Options())
    try:
        _run(ctx)
    except TooManyFindings:
        pass
    return BundleReport(
        bundle=str(ctx.bundle),
        dialect=ctx.dialect.name if ctx.dialect else None,
        profile=ctx.options.profile,
        findings=ctx.findings,
        events=getattr(ctx, "events", 0),
        truncated=ctx.truncated,
    )


def _run(ctx: Context) -> None:
    if not layout.check_bundle_dir(ctx):
        return
    layout.load_manifest(ctx)
    problem = layout.trace_problem(ctx)
    if problem:
        layout.report_trace_missing(ctx, problem)
        if ctx.dialect is None:
            layout.dialect_from_first_event(ctx, None)
        return
    with open(ctx.bundle / layout.TRACE, "rb") as f:
        lines = read_lines(f, ctx.options.max_line_bytes)
        first = next(lines, None)
        if ctx.dialect is None:
            layout.dialect_from_first_event(ctx, first.data if first else None)
            if ctx.dialect is None:
                return
        _events(ctx, first, lines)


def _events(ctx: Context, first, lines) -> None:
    order = OrderChecker(ctx)
    refs = RefChecker(ctx)
    life = LifecycleChecker(ctx, refs)
    tag_of = {cls: tag for tag, cls in _variant_classes(ctx).items()}
    events = 0
    raw = first
    while raw is not None:
        ctx.line, ctx.seq = raw.number, None
        if raw.too_long:
            ctx.report(schema.TOO_LONG, f"line {raw.number} is longer than {ctx.options.max_line_bytes} bytes; skipped")
        elif not raw.data.strip():
            if raw.data or raw.terminated:
                ctx.report(schema.BLANK, f"line {raw.number} is blank")
        else:
            if raw.crlf:
                ctx.report(schema.CRLF, f"line {raw.number} ends with \\r\\n")
            ev, obj = schema.decode_event(ctx, raw)
            events += 1
            if ev is not None:
                ctx.seq = ev.seq
                order.envelope(ev.seq, ev.schema_version, ev.rollout_id)
                tag = tag_of[type(ev.payload)]
                order.event(ev, tag)
                life.event(ev, tag)
            elif isinstance(obj, dict):
                seq = obj.get("seq")
                ctx.seq = seq if type(seq) is int else None
                order.envelope(seq, obj.get("schema_version"), obj.get("rollout_id"))
            if not raw.terminated:
                ctx.report(
                    schema.TRUNCATED,
                    f"line {raw.number} has no final newline: the last write may have been cut short",
                    severity=Severity.WARNING if ctx.options.partial_ok else None,
                )
        raw = next(lines, None)
    ctx.line = ctx.seq = None
    ctx.events = events
    order.finish()
    refs.finish()


def _variant_classes(ctx: Context) -> dict:
    from ..spec.typed import typed

    return typed(ctx.dialect).variant_classes
