"""One streaming pass over a bundle: layout, then every line, then the end."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, BinaryIO, Callable, Iterable, Iterator, TypeVar

from ..model.common import EnvelopeKey as E
from ..compilers.msgspec_types import typed
from .context import Context, Options
from .findings import BundleReport, Finding, Profile, Severity
from .lines import RawLine, read_batches
from . import ahead
from .ahead import BATCH
from .rules import layout, schema
from .rules.lifecycle import LifecycleChecker
from .rules.order import OrderChecker
from ..model.types import STORE_FILES, STORE_ZSTD_SHARDS
from .rules.refs import AHEAD_EVENTS, AHEAD_FILE_BYTES, AheadPlan, ReadAhead, RefChecker, Shipped, reads_files
from .rules.release import BundleSummary
from .rules import store
from .rules.store import StoreRefChecker

# The payload stores the validator reads (model Layout.store), and the checker of each.
REF_CHECKERS: dict[str, type[RefChecker] | type[StoreRefChecker]] = {STORE_FILES: RefChecker, STORE_ZSTD_SHARDS: StoreRefChecker}
READABLE_STORES = frozenset(REF_CHECKERS)


def validate_bundle(bundle: str | Path, options: Options | None = None) -> BundleReport:
    """Check one bundle directory; never raises for bad input, never writes to it."""
    ctx = reader_pass(bundle, options or Options())
    releases = None
    if ctx.summary is not None:
        from .release_verdict import attach

        # before the report is built: a RELEASE finding past --max-findings must still count
        releases = _guarded(ctx, attach)
    report = BundleReport(
        bundle=str(ctx.bundle),
        dialect=ctx.dialect.name if ctx.dialect else None,
        profile=ctx.options.profile,
        findings=ctx.findings,
        events=getattr(ctx, "events", 0),
        truncated=ctx.truncated,
        dropped_errors=ctx.dropped_errors,
        dropped_warnings=ctx.dropped_warnings,
        releases=releases,
        notes=_slow_note(ctx),
    )
    return report


def reader_pass(bundle: str | Path, options: Options) -> Context:
    """The pass over the bundle, before the release rules (release_verdict.attach)."""
    from .release_verdict import options_for

    ctx = Context(Path(bundle), options_for(options))  # a release reading every bundle as its dialect
    if ctx.options.release is not None or ctx.options.releases:
        ctx.summary = BundleSummary()
    _guarded(ctx, _run)
    return ctx


# From this many valid lines off the fast path, the report says why the check was slow.
SLOW_NOTE_LINES = 100


def _slow_note(ctx: Context) -> list[str]:
    n = ctx.respelled_lines
    if n < SLOW_NOTE_LINES:
        return []
    return [
        f"slow path: {n:,} of {ctx.events:,} lines are valid but not spelled in the canonical form (serde_json's "
        "compact JSON, the model's key order; Python's json.dumps defaults also pass), so each was parsed a second "
        f"time and checked against the JSON Schema, several times slower; {ctx.respelled_first}"
    ]


T = TypeVar("T")


def _guarded(ctx: Context, step: Callable[[Context], T]) -> T | None:
    """``step(ctx)``; a kit bug must still end in a finding, not a traceback."""
    try:
        return step(ctx)
    except Exception as e:
        import traceback

        where = traceback.extract_tb(e.__traceback__)[-1]
        ctx.findings.append(
            Finding(
                invariant=layout.INTERNAL_ERROR.id,
                severity=Severity.ERROR,
                profile=Profile.REDUCER,
                message=f"internal error, please report it: {type(e).__name__}: {e} "
                f"({Path(where.filename).name}:{where.lineno}); the check stopped here",
                bundle=str(ctx.bundle),
                line=ctx.line,
                seq=ctx.seq,
            )
        )
        return None


def _run(ctx: Context) -> None:
    if not layout.check_bundle_dir(ctx) or not layout.check_links(ctx):
        return
    if not layout.load_manifest(ctx):
        return
    if ctx.dialect is not None and not layout.store_readable(ctx, READABLE_STORES):
        return
    f = layout.open_trace(ctx)
    if f is None:
        if ctx.dialect is None and not layout.declined(ctx):
            layout.dialect_from_first_event(ctx, None)
        return
    with f:
        # The log as it is now: a writer still appending is not chased (that could last forever).
        size = os.fstat(f.fileno()).st_size
        if ctx.dialect is None:
            first = f.readline(min(ctx.options.max_line_bytes, size))
            layout.dialect_from_first_event(ctx, first.rstrip(b"\r\n") if first else None)
            if ctx.dialect is None or not layout.store_readable(ctx, READABLE_STORES):
                return
            f.seek(0)
        worker = plan = None
        if ahead.wanted(size):  # before any thread of the pass starts (see ahead.wanted)
            # it reads the payload files too (a file store): the read-ahead thread is not needed then
            plan = AheadPlan.for_bundle(ctx.dialect, str(ctx.bundle)) if reads_files(ctx) else None
            try:
                worker = ahead.Ahead(f, ctx.options.max_line_bytes, size, typed(ctx.dialect), plan,
                                     min(ctx.options.max_payload_bytes, AHEAD_FILE_BYTES), ctx.summary is not None,
                                     OrderChecker(ctx).plain_run_test())
            except OSError:  # the system gave no process (fork failed): the check runs in this one
                worker = plan = None
        try:
            batches: Iterable[ahead.Item] = (
                worker if worker is not None else read_batches(f, ctx.options.max_line_bytes, size=size)
            )
            if ctx.options.progress is not None:
                batches = _told(batches, f, ctx.options.progress)
            _Pass(ctx, files_shipped=worker is not None and plan is not None).run(batches)
        finally:
            if worker is not None:
                worker.close()
        now = os.fstat(f.fileno()).st_size
        if now != size:
            layout.report_trace_changed(ctx, size, now)


def _told(batches: Iterable[ahead.Item], f: BinaryIO, tell: Callable[[int, int], None]) -> Iterator[ahead.Item]:
    """``batches``, telling ``tell(lines, bytes)`` as they are read (at most every 256 KiB)."""
    lines = told = 0
    for item in batches:
        yield item
        lines += 1 if isinstance(item, RawLine) else item.n_lines if isinstance(item, ahead.Proven) else len(item[1])
        at = f.tell()
        if at - told >= 1 << 18:
            told = at
            tell(lines, at)
    tell(lines, f.tell())




def _excerpt(data: bytes, at: int) -> str:
    """A few bytes of a line from ``at``, quoted (the formats escape it further)."""
    piece = data[at : at + 24]
    return repr(piece.decode("utf-8", "replace") + ("..." if len(data) > at + 24 else "")) if piece else "its end"


class _Ordered:
    """The order checker of a run it has taken whole (OrderChecker.take_plain_run): nothing left to check."""

    @staticmethod
    def check(ev: Any, tag: str) -> None:
        pass


_ORDERED = _Ordered()


class _Pass:
    """The one pass over the event log."""

    def __init__(self, ctx: Context, files_shipped: bool = False):
        self.ctx = ctx
        assert ctx.dialect is not None  # the pass starts once the dialect is known
        self.order = OrderChecker(ctx)
        self.refs = REF_CHECKERS[ctx.dialect.layout.store](ctx)
        self.life = LifecycleChecker(ctx, self.refs)
        self.td = typed(ctx.dialect)
        self.tag_of = {cls: tag for tag, cls in self.td.variant_classes.items()}
        self.events = 0
        self.summary = ctx.summary
        # the shard store resolves a run's usual refs in one loop before the run's checks
        self.prepare = self.refs.prepare if isinstance(self.refs, StoreRefChecker) and store.PREPARE_REFS else None
        # A second core reads payload files ahead of the checks (v1/v2 file stores, when files are
        # read: in the writer profile, and in the reducer profile of a dialect whose reducer reads every ref)
        # (unless the worker process reads them: files_shipped)
        self.ahead = None
        if isinstance(self.refs, RefChecker) and reads_files(ctx) and not files_shipped and ahead.second_core():
            self.ahead = self.refs.ahead = ReadAhead(self.refs)

    def run(self, batches: Iterable[ahead.Item]) -> None:
        try:
            self._run(batches)
        finally:
            if self.ahead is not None:
                self.ahead.close()

    def _run(self, batches: Iterable[ahead.Item]) -> None:
        ctx = self.ctx
        td = self.td
        for item in batches:
            if isinstance(item, ahead.Proven):  # proven by the worker process: decoded here once
                events = td.settle(td.list_decoder.decode(item.joined))
                if item.listing is not None:
                    self.refs.adopt_listing(item.listing)  # type: ignore[union-attr]  # a file store's checker
                # the order checks' shortcut takes the whole run: its state is set at once, no check per event
                ordered = item.plain_from is not None and self.order.take_plain_run(
                    item.plain_from, events, self.tag_of[events[-1].payload.__class__] if events else "")
                if item.reads is None:
                    self.checks(item.start, events, item.observe, ordered)
                    continue
                self.refs.ahead = Shipped(item.reads)  # type: ignore[union-attr]  # a file store's checker
                try:
                    self.checks(item.start, events, item.observe, ordered)
                finally:
                    self.refs.ahead = None  # type: ignore[union-attr]
                continue
            if isinstance(item, RawLine):
                self.line(item)
                continue
            if isinstance(item, ahead.Refused):  # the worker's proof refused the run: line by line
                self.lines(*item)
                continue
            start, lines = item
            for i in range(0, len(lines), BATCH):
                self.batch(start + i, lines[i : i + BATCH])
        ctx.line = ctx.seq = None
        ctx.events = self.events
        self.order.finish()
        if isinstance(self.refs, StoreRefChecker):  # the shard store judges its last shard by it
            self.refs.recording_completed = self.order.recording_completed_seq is not None
            self.refs.rollout_ended = self.order.rollout_ended_seq is not None
        self.refs.finish()

    def batch(self, start: int, lines: list[bytes]) -> None:
        """Decode a run of lines in one call; any surprise sends the run line by line."""
        _, events = ahead.prove(self.td, lines)
        if events is None:
            self.lines(start, lines)
            return
        self.checks(start, self.td.settle(events))

    def lines(self, start: int, lines: list[bytes]) -> None:
        for n, data in enumerate(lines, start):
            crlf = data.endswith(b"\r")
            self.line(RawLine(n, data[:-1] if crlf else data, True, crlf, False, 0))

    def checks(self, start: int, events: list[Any], observe: tuple[int, ...] | None = None,
               ordered: bool = False) -> None:
        """The checks of a run of events the fast path decoded, from line ``start``. ``observe``:
        when the worker process observed the run for the release summary, the lines to observe
        again here (the others changed nothing); None: observe every event. ``ordered``: the
        order checker has taken the run already (OrderChecker.take_plain_run)."""
        ctx, life, tag_of = self.ctx, self.life, self.tag_of
        order = _ORDERED if ordered else self.order
        self.events += len(events)
        summary = self.summary
        # classes the summary has seen all of (inlined BundleSummary.observe_typed test: hot loop)
        summarized = summary.same_every_time if summary is not None else {}
        files_ahead = self.ahead
        if summary is not None and observe is not None and files_ahead is None:
            # Each told event is observed right after its checks, as in the loop: the summary's
            # first cap reached stays the one the sequential pass would meet.
            at = 0
            for n in observe:
                i = n - start + 1
                self._check(events[at:i], start + at, ctx, order, life, tag_of, None, summarized)
                ev = events[i - 1]
                summary.observe_typed(ev.schema_version, ev.payload, n)
                at = i
            self._check(events[at:], start + at, ctx, order, life, tag_of, None, summarized)
            return
        if files_ahead is None:
            self._check(events, start, ctx, order, life, tag_of, summary, summarized)
            return
        step = AHEAD_EVENTS
        files_ahead.submit(events[:step], tag_of)
        for i in range(0, len(events), step):
            if i + step < len(events):  # read the next chunk's files while this one is checked
                files_ahead.submit(events[i + step : i + 2 * step], tag_of)
            files_ahead.next_chunk()
            self._check(events[i : i + step], start + i, ctx, order, life, tag_of, summary, summarized)
        files_ahead.next_chunk()  # nothing read ahead outlives its batch

    def _check(self, events: list[Any], start: int, ctx: Context, order: OrderChecker | _Ordered, life: LifecycleChecker,
               tag_of: dict[type, str], summary: BundleSummary | None, summarized: dict[type, bool]) -> None:
        after = self.refs.after_event  # every ref the handlers left, from the model
        # Per event, the calls that do nothing are skipped (each costs about 0.1 us a call, as much
        # as a turn's checks): after_event, for a variant with no ref site when no ref is pending;
        # LifecycleChecker.event's own dispatch, for a variant whose handler is all it does.
        sites, pending, handler_only = self.refs.sites, self.refs.checked, life.handler_only
        prepare = self.prepare
        if prepare is not None:
            prepare(events, tag_of)
        try:
            for n, ev in enumerate(events, start):
                ctx.line = n
                ctx.seq = ev.seq
                payload = ev.payload
                cls = type(payload)
                tag = tag_of[cls]
                order.check(ev, tag)
                handler = handler_only.get(tag)
                if handler is not None:
                    handler(ev, payload)
                else:
                    life.event(ev, tag)
                if pending or tag in sites:
                    after(payload, tag)
                if summary is not None and not summarized.get(cls):
                    summary.observe_typed(ev.schema_version, payload, n)
        finally:
            if prepare is not None:  # the ids of refs that die with this run's events
                self.refs.pre.clear()  # type: ignore[union-attr]  # a shard store's checker

    def respelled(self, raw: RawLine, ev: Any) -> None:
        ctx = self.ctx
        ctx.respelled_lines += 1
        if ctx.respelled_first is not None:
            return
        canonical = self.td.encoder.encode(ev)
        if b'": ' in raw.data:  # set beside the spelling it is closest to
            canonical = schema.spaced(canonical)
        at = schema.first_difference(raw.data, canonical)
        ctx.respelled_first = (
            f"the first, line {raw.number}, differs at byte {at}: {_excerpt(raw.data, at)} where the canonical form "
            f"has {_excerpt(canonical, at)}"
        )

    def line(self, raw: RawLine) -> None:
        ctx = self.ctx
        ctx.line, ctx.seq = raw.number, None
        if raw.too_long:
            schema.too_long(ctx, raw)
            return
        if not raw.data.strip():
            if raw.data or raw.terminated:
                ctx.report(schema.BLANK, f"line {raw.number} is blank")
            return
        told = len(ctx.findings) + ctx.dropped_errors + ctx.dropped_warnings
        ev, obj = schema.decode_event(ctx, raw, self.td)
        self.events += 1
        if ev is not None and obj is not None and told == len(ctx.findings) + ctx.dropped_errors + ctx.dropped_warnings:
            self.respelled(raw, ev)  # valid, no finding, yet off the fast path: only its spelling differs
        if self.summary is not None:
            if isinstance(obj, dict):
                self.summary.observe(obj, raw.number)
            elif ev is not None:
                self.summary.observe_typed(ev.schema_version, ev.payload, raw.number)
        if ev is not None:
            ctx.seq = ev.seq
        if raw.crlf:
            ctx.report(schema.CRLF, f"line {raw.number} ends with \\r\\n")
        if ev is not None:
            tag = self.tag_of[type(ev.payload)]
            self.order.check(ev, tag)
            self.life.event(ev, tag)
            self.refs.after_event(ev.payload, tag)
        elif isinstance(obj, dict):
            seq = obj.get(E.SEQ)
            ctx.seq = seq if type(seq) is int else None
            self.order.malformed(obj)
        reported = any(f.invariant == schema.TRUNCATED.id and f.line == raw.number for f in ctx.findings[-2:])
        if not raw.terminated and not reported:
            ctx.report(
                schema.TRUNCATED,
                f"line {raw.number} has no final newline: the last write may have been cut short",
                severity=Severity.WARNING if ctx.options.partial_ok else None,
            )
