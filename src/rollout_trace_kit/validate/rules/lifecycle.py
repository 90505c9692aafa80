"""Lifecycles: what the reference reducer rejects while it replays the events.

State is kept per entity (threads, turns, calls, cells, compactions), never
per event, so memory follows the bundle's entities, not its length. Turns and
calls are remembered after they end because the reducer still accepts late
events naming them. Ids are keyed by their value, never by ``hash()``: two ids
whose hashes collide must stay two entities.

An entity whose start is faulty (unknown thread, wrong turn) is still
registered: the reducer would have stopped at that event, and registering it
keeps one fault from echoing through every later event that names it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ...model import bodies as B
from ...model import facts
from ...compilers.msgspec_types import typed
from ...model.types import Dialect, TaggedUnion, release_key, wide_integer
from ...model.v1 import V1
from ..catalogue import R, invariant
from ..context import Context
from . import bodies
from ..lines import has_lone_surrogate, json_depth
from .conversation import CONVERSATION_MISMATCH, Conversations, response_appends
from .refs import RefChecker, report_depth

if TYPE_CHECKING:
    from .store import StoreRefChecker

THREAD_DUPLICATE = invariant(
    "THREAD.DUPLICATE_START", "A thread is started at most once.", v1=R, v2=R,
    source='reducer/thread.rs: "duplicate thread start for {thread_id}"',
)
THREAD_UNKNOWN = invariant(
    "THREAD.UNKNOWN", "Every thread an event names was started before it.", v1=R, v2=R,
    source='reducer/thread.rs › thread_mut: "trace event referenced unknown thread {thread_id}"; '
    'agent_result_observed\'s child thread: "agent edge referenced unknown thread {t}" (measured on 0.164.0, '
    '0.169.0 and 0.171.0; its parent thread and child turn are not looked up)',
)
TURN_DUPLICATE = invariant(
    "TURN.DUPLICATE_START", "A Codex turn is started at most once.", v1=R, v2=R,
    source='reducer/thread.rs: "duplicate codex turn start for {codex_turn_id}"',
)
TURN_UNKNOWN = invariant(
    "TURN.UNKNOWN", "Every Codex turn an event names was started before it.", v1=R, v2=R,
    source='reducer: "codex turn end referenced unknown turn", "inference start {id} referenced unknown codex turn", ...',
)
TURN_THREAD = invariant(
    "TURN.THREAD_MISMATCH", "An event that names both a thread and a turn names the turn's own thread.", v1=R, v2=R,
    source='reducer: "... used thread {t}, but codex turn {turn} belongs to {owner}"',
)
INFERENCE_DUPLICATE = invariant(
    "INFERENCE.DUPLICATE_START", "An inference call is started at most once.", v1=R, v2=R,
    source='reducer/inference.rs: "duplicate inference start for {id}"',
)
INFERENCE_UNKNOWN = invariant(
    "INFERENCE.UNKNOWN_CALL", "inference_completed/failed/cancelled name a started inference call.", v1=R, v2=R,
    source='reducer/inference.rs: "inference completion referenced unknown call {id}"',
)
INFERENCE_PREVIOUS = invariant(
    "INFERENCE.PREVIOUS_RESPONSE",
    "A request payload's `previous_response_id` names a response completed earlier in the same thread.",
    v1=R, v2=R,
    source='reducer/inference.rs: "incremental inference request {id} referenced unknown previous_response_id {x}" (measured on 0.164.0 and 0.169.0)',
)
TOOL_DUPLICATE = invariant(
    "TOOL.DUPLICATE_START", "A tool call is started at most once.", v1=R, v2=R,
    source='reducer/tool.rs: "duplicate tool call start for {id}"',
)
TOOL_MODEL_CALL = invariant(
    "TOOL.DUPLICATE_MODEL_CALL_ID", "Two tool calls of a thread never share a model_visible_call_id.", v1=R, v2=R,
    source='reducer/tool.rs: "duplicate tool call for model-visible call id {id}"',
)
TOOL_CONTEXT = invariant(
    "TOOL.MISSING_CONTEXT", "tool_call_started has an envelope thread_id or codex_turn_id.", v1=R, v2=R,
    source='reducer/tool.rs: "tool call start did not include thread or Codex turn context"',
)
WAIT_CONTEXT = invariant(
    "WAIT.MISSING_CONTEXT",
    "code_cell_wait_target_resolved has an envelope thread_id and codex_turn_id.",
    v1=None, v2=None, v3=R,
    source='0.171.0 reducer: "confirmed wait missing thread" / "confirmed wait missing turn" (measured)',
)
WAIT_UNKNOWN = invariant(
    "WAIT.UNKNOWN_CALL",
    "code_cell_wait_target_resolved names a started tool call (the wait).",
    v1=None, v2=None, v3=R,
    source='0.171.0 reducer: "confirmed wait referenced unknown dispatch {id}" (measured; an unknown '
    "runtime_cell_id, or a call that is not a wait, is accepted)",
)
WAIT_DUPLICATE = invariant(
    "WAIT.DUPLICATE",
    "A wait's target is confirmed at most once.",
    v1=None, v2=None, v3=R,
    source='0.171.0 reducer: "duplicate confirmed wait target for {id}" (measured)',
)
TOOL_UNKNOWN = invariant(
    "TOOL.UNKNOWN_CALL",
    "Runtime events, tool ends, MCP correlations and stdin targets name a started tool call.",
    v1=R, v2=R,
    source='reducer/tool.rs: "tool runtime start referenced unknown call", "tool call end referenced unknown call", "MCP correlation referenced unknown tool call"',
)
TOOL_CELL = invariant(
    "TOOL.UNKNOWN_CODE_CELL", "A tool requested by a code cell names a code cell started in the same thread.", v1=R, v2=R,
    source='reducer/tool.rs: "code-mode nested tool referenced unknown runtime cell {rc} in thread {t}"',
)
TOOL_SECOND_TERMINAL = invariant(
    "TOOL.SECOND_TERMINAL_OPERATION",
    "An exec_command or write_stdin tool call gets at most one terminal operation: one runtime start, and none "
    "for a write_stdin started with an invocation payload (its start created it: model ToolCallKind "
    "terminal_at_dispatch; not a namespaced invocation, model/bodies.py). From v2 on a runtime start's own kind "
    "decides: any call's exec_command or write_stdin runtime creates one, another kind's does not.",
    v1=R, v2=R,
    source='reducer/tool.rs: "tool runtime start would create a second terminal operation for {id}" (a dispatched '
    'write_stdin then a runtime start: measured on 0.164.0, 0.169.0, 0.171.0)',
)
MCP_DUPLICATE = invariant(
    "MCP.DUPLICATE_CORRELATION", "A tool call is correlated with an MCP call at most once.", v1=R, v2=R,
    source='reducer/tool.rs: "duplicate MCP correlation for tool call {id}"',
)
CELL_CONTEXT = invariant(
    "CELL.MISSING_CONTEXT",
    "Code cell events have an envelope thread_id (before Codex 0.171.0, a known turn to take it from will do).",
    v1=R, v2=R,
    source='reducer/code_cell.rs: "{event} {runtime_cell_id} did not include a thread id"; 0.171.0 says so '
    "even when the envelope's turn is known (measured; model: Variant.thread_required_since)",
)
CELL_START_TURN = invariant(
    "CELL.START_TURN",
    "A code cell start whose `exec` call is in the thread's conversation (a custom_tool_call of a request or "
    "response) has an envelope codex_turn_id naming a started turn, even when its thread_id is given "
    "(model: Variant.turn_required_since).",
    v1=R, v2=R,
    source='reducer/code_cell.rs: "code cell start referenced unknown Codex turn {id}", "code cell start '
    'code_cell:{call} did not include a Codex turn id" (measured on 0.125.0, 0.164.0, 0.169.0, 0.171.0)',
)
CELL_DUPLICATE = invariant(
    "CELL.DUPLICATE_START", "A code cell (one model-visible exec call) is started at most once.", v1=R, v2=R,
    source='reducer/code_cell.rs: "duplicate code cell start for {code_cell_id}"',
)
CELL_REMAPPED = invariant(
    "CELL.REMAPPED", "A runtime cell id of a thread maps to one model-visible call.", v1=R, v2=R,
    source='reducer/code_cell.rs: "runtime code cell {rc} in thread {t} mapped to both {a} and {b}"',
)
CELL_UNKNOWN = invariant(
    "CELL.UNKNOWN", "Code cell responses and ends name a runtime cell started in the same thread.", v1=R, v2=R,
    source='reducer/code_cell.rs: "{event} referenced unknown runtime cell {rc} in thread {t}"',
)
COMPACTION_DUPLICATE = invariant(
    "COMPACTION.DUPLICATE_REQUEST", "A compaction request is started at most once.", v1=R, v2=R,
    source='reducer/compaction.rs: "duplicate compaction request start for {id}"',
)
COMPACTION_UNKNOWN = invariant(
    "COMPACTION.UNKNOWN_REQUEST",
    "A compaction request completion or failure names a started request, with the compaction_id of its start.",
    v1=R, v2=R,
    source='reducer/compaction.rs: "compaction request completion referenced unknown request {id}"',
)
COMPACTION_CONTEXT = invariant(
    "COMPACTION.MISSING_CONTEXT", "compaction_installed has an envelope thread_id and codex_turn_id.", v1=R, v2=R,
    source='reducer/compaction.rs: "compaction installed event {id} did not include a thread id"',
)
COMPACTION_INSTALL = invariant(
    "COMPACTION.DUPLICATE_INSTALL", "A compaction is installed at most once.", v1=R, v2=R,
    source='reducer/compaction.rs: "duplicate compaction install for {id}"',
)
THREAD_RESUME = invariant(
    "THREAD.RESUME_NOT_ENDED", "thread_resumed names a thread that has ended (and not been resumed since).",
    v1=None, v2=R,
    source='0.169.0 reducer: "resumed thread {t} has not ended" (measured; no published source)',
)
HISTORY_THREAD = invariant(
    "HISTORY.MISSING_THREAD", "history_item_accepted has an envelope thread_id.", v1=None, v2=R,
    source='0.169.0 reducer: "history acceptance has no thread" (measured; no published source)',
)
HISTORY_MESSAGE = invariant(
    "HISTORY.AGENT_MESSAGE",
    "A history_item_accepted agent_message_payload holds an `agent_message` model item whose `id` is the `item_id`.",
    v1=None, v2=R,
    source='0.169.0 reducer: "accepted agent message does not match receipt ID" (measured; no published source)',
)
RELEASE_REQUIRED = invariant(
    "EVENT.RELEASE_REQUIRED_FIELD",
    "A field the schema leaves optional (older releases of the dialect did not write it) is present "
    "when the dialect's reference reducer requires it (tool_call_runtime_started.kind since 0.166.0).",
    v1=None, v2=R,
    source="model: Field.required_since (0.166.0+ reducers reject a 0.165.0 runtime start without `kind`, measured)",
    notes="The published schema accepts what every release of the dialect wrote; this rule is the reference "
    "release's. `validate --release` judges by the release's own requirements (model.facts.requirements_for).",
)
OTHER_VARIANT = invariant(
    "EVENT.OTHER_VARIANT",
    "No event uses the `other` variant: it is schema-valid, but no reference reducer implements it.",
    v1=R, v2=R,
    source='reducer/mod.rs › apply_event: "raw trace event has no reducer implementation"',
)

# Tool kinds, the terminal ones and which refs a handler opens come from the model
# (model/facts.py: Variant.terminal_operation, Field.read).
TERMINAL = 1  # tool state bit: a terminal operation exists
RUNTIME = 2  # tool state bit: a runtime event was seen; the rest is the kind code << 2


class LifecycleChecker:
    def __init__(self, ctx: Context, refs: RefChecker | StoreRefChecker):
        self.ctx = ctx
        self.refs = refs
        self.refs_open_by_kind = bool(getattr(refs, "opened", None))  # `--release` opens payloads by tool kind
        # Typed payload classes with no tool_call_id: no call's kind to look up for their bodies (hot path)
        self.no_call_classes = frozenset(
            cls for cls in typed(ctx.dialect).variant_classes.values() if "tool_call_id" not in getattr(cls, "__struct_fields__", ())
        ) if ctx.dialect is not None else frozenset()
        # Keys are the ids themselves.
        self.thread_index: dict[str, int] = {}  # thread -> index into thread_info
        self.thread_info: list[list] = []  # [name, seq of its start or None, ended]
        # Ended entities keep only what late events need (a shared small int each); the
        # seq of their start is kept while they are open, for related_seq in findings.
        self.turns: dict[str, int] = {}  # turn -> thread index
        self.inferences: dict[str, int] = {}  # call -> thread index
        # seq of the start of each open turn / inference call / tool call (one dict per
        # kind of entity: a turn and a tool call may share an id)
        self.open_turns: dict[str, int] = {}
        self.open_calls: dict[str, int] = {}
        self.open_tools: dict[str, int] = {}
        self.responses: dict[int, set] = {}  # thread index -> traced response ids
        self.tools: dict[str, int] = {}  # tool -> kind code << 2 | RUNTIME | TERMINAL
        self.model_calls: set[tuple] = set()  # (thread, model-visible call id)
        self.cells: dict[tuple[str, str], str] = {}  # (thread, runtime cell) -> model-visible call
        self.cell_calls: set[str] = set()
        self.compaction_requests: dict[str, str] = {}
        self.installs: set[str] = set()
        self.accepted_items: set[tuple] = set()  # (thread, item id) of history acceptances holding a payload
        self.accepted_again = False  # the history acceptance being checked repeats an item id of its thread
        self.mcp: set[str] = set()
        self.runtime_kinds: dict[str, str | None] = {}  # tool -> its runtime's kind, where not the call's
        self.pids: dict[str, str] = {}  # exec tool call -> the process id of its terminal operation
        # (thread index, call space, call id) -> digest of the type and content the reducer compares (model/bodies.py)
        self.call_contents: dict[tuple[int, str, str], bytes] = {}
        self._fields: dict = {}  # (variant, field name) -> the model's field, whether read, pointer (lookups are not free)
        self._kind_places: dict = {}  # (body place, tool kind) -> facts.body_place with the kind (a string built once)
        self._ref_fields: dict = {}  # variant -> its ref fields
        self._ended_reads: dict[bool, tuple] = {}  # terminal created at dispatch -> tool_call_ended's (field, read)
        d = ctx.dialect
        assert d is not None  # the pass over events starts once the dialect is known
        self.dialect: Dialect = d
        self.compared_calls = bodies.compared_call_content(ctx.options.release or d.reference_release)
        self.uncompared_calls: set[tuple[int, str, str]] = set()  # call items no rule compares here (for compat)
        # each thread's model conversation (rules/conversation.py)
        self.conversations = Conversations(response_appends(ctx.options.release or d.reference_release))
        self.tool_kinds = facts.tool_kinds(d)
        self.kind_code = {k: i for i, k in enumerate(self.tool_kinds)}
        self.terminal_kinds = facts.terminal_tool_kinds(d)
        self.exec_kinds = facts.exec_runtime_kinds(d)
        self.exec_end_places = facts.exec_end_places(d)  # a terminal response's keys, noted there (RELEASE.BODY_REQUIRED)
        self.start_kinds = facts.terminal_start_kinds(d)
        self.response_kinds = facts.terminal_response_kinds(d)
        self.dispatch_kinds = facts.terminal_at_dispatch_kinds(d)
        self.dispatched: set[str] = set()  # tools whose terminal operation was created at dispatch
        self.handlers = {tag: method.__get__(self) for tag, method in handlers_for(d).items()}
        self.later_refs = _later_ref_fields(d, self.handlers)
        # the payload refs of a history acceptance this dialect reads (bodies.ACCEPTED_AGAIN_UNREAD)
        self.accepted_refs = tuple(f.name for f in d.ref_fields("history_item_accepted")) if "history_item_accepted" in d.tags else ()
        self.waits: set[str] = set()  # tool calls whose wait target was confirmed
        self.agent_kinds = facts.agent_activity_tool_kinds(d)
        self.activity_unread = bodies.activity_unread_kinds(d.reference_release)
        self.agent_message_typed = bodies.agent_message_typed(ctx.options.release or d.reference_release)
        self.dispatch_arguments = bodies.dispatch_arguments_read(ctx.options.release or d.reference_release)
        self.numbers_as_f64 = bodies.numbers_as_f64(ctx.options.release or d.reference_release)  # typed arguments
        # runtime starts' `invocation` parsed as an MCP invocation by `--release`'s reducer (else the reference's)
        self.mcp_invocation = bodies.mcp_invocation_read(ctx.options.release or d.reference_release)
        self.field_depth = {(v, f): limit for v, f, limit in d.field_depth_limits}
        # (runtime variant, kind parsed as) -> deepest body read: the dialect's, or `--release`'s measured
        self.runtime_depth = runtime_depth_table(d, ctx.options.release)
        # multi-agent tool call -> what its invocation holds for an agent activity (_invocation_verdict)
        self.agent_invocations: dict[str, object] = {}
        # multi-agent tool call -> its invocation ref, which an activity reads by id (bodies.DEFERRED_READ_BY_LAST_REF)
        self.agent_invocation_refs: dict[str, object] = {}
        self.by_last_ref = B.DEFERRED_READ_BY_LAST_REF and isinstance(refs, RefChecker)  # v3 refs cannot differ
        # deepest invocation body an agent activity parses (Dialect.deferred_depth_limits; None: read at the start)
        self.invocation_depth = {(v, f): n for v, f, n in d.deferred_depth_limits}.get(("tool_call_started", "invocation_payload"))
        self.thread_required = facts.envelope_thread_required(d)  # no thread from the envelope's turn
        self.turn_required = facts.envelope_turn_required(d)  # a started envelope turn, thread or not
        # variant -> fields the reference reducer requires beyond the schema (release facts)
        self.release_required = _release_required(d)
        # variants whose handler is all there is to do (the usual event: one lookup, one call)
        self.handler_only = {
            tag: h for tag, h in self.handlers.items()
            if tag not in self.release_required and not self.later_refs.get(tag)
        }

    # -- helpers -------------------------------------------------------------------
    def ref(self, p, tag: str, field_name: str, read: bool | None = None, parsed: bool = True, by_kind: bool = True):
        """Check the ref in ``field_name``; ``read`` defaults to whether a handler opens it; ``parsed``: the
        reducer parses the body by its place (else its keys are not noted for RELEASE.BODY_REQUIRED);
        ``by_kind``: `--release`'s measured payloads_opened by tool kind applies."""
        ref = getattr(p, field_name)
        if ref is None:
            return None
        key = (tag, field_name)
        known = self._fields.get(key)
        if known is None:
            field = self.dialect.payload.variant(tag).field(field_name)
            known = self._fields[key] = (field, facts.reads_at_event(field), f"/payload/{field_name}",
                                         key in self.field_depth, facts.body_place(tag, field_name))
        field, read_at_event, pointer, depth_limited, place = known
        if read is None:
            read = read_at_event
        # A body that is JSON null comes back as bodies.NULL: the body checks reject it, as the reducers do.
        if self.refs_open_by_kind and by_kind:  # `--release` opens some payloads by the call's tool kind (measured)
            call_id = getattr(p, "tool_call_id", None)
            state = self.tools.get(call_id) if isinstance(call_id, str) else None
            tool_kind = self.tool_kinds[state >> 2] if state is not None else None
            body = self.refs.check(ref, tag, field, pointer, read, null_body=bodies.NULL, tool_kind=tool_kind)
        else:
            body = self.refs.check(ref, tag, field, pointer, read, null_body=bodies.NULL, by_kind=by_kind)
        if body is not None and depth_limited and self._field_too_deep(ref, tag, field_name, body):
            return None
        summary = self.ctx.summary
        noted = parsed and isinstance(body, dict)  # its keys, for RELEASE.BODY_REQUIRED
        overflow = getattr(self.refs, "overflow", False)  # a number beyond f64, for RELEASE.NUMBER_RANGE
        if summary is not None and (noted or overflow):
            kind = None if p.__class__ in self.no_call_classes else self._kind_of_call(p)
            where = place
            if kind:
                where = self._kind_places.get((place, kind))
                if where is None:
                    where = self._kind_places[place, kind] = facts.body_place(tag, field_name, kind)
            if noted:
                # note_body's question first, inline: a key set seen at this place adds nothing (most bodies)
                sets = summary.body_keysets.get(where)
                if sets is None or frozenset(body) not in sets:
                    summary.note_body(where, body, self.ctx.line)
            if overflow:
                summary.note_overflow(where, self.ctx.line)
        return body

    def _field_too_deep(self, ref, tag: str, field_name: str, body) -> bool:
        """Report a body nested deeper than the reducer parses this ref field's (Dialect.field_depth_limits)."""
        limit = self.field_depth.get((tag, field_name))
        if limit is None or body is bodies.NULL:
            return False
        if self._lone_surrogate(ref, f"/payload/{field_name}", body):
            return True
        if json_depth(body, limit) <= limit:
            return False
        report_depth(self.ctx, ref.raw_payload_id, f"{tag}.{field_name}", json_depth(body, limit), limit,
                     f"/payload/{field_name}", R)
        return True

    def _kind_of_call(self, p) -> str | None:
        """The tool kind of the call a tool event names (None: not a tool event, or a call never started)."""
        call = getattr(p, "tool_call_id", None)
        if call is None:
            return None
        kind = getattr(p, "kind", None)
        if kind is not None and p.__struct_config__.tag == "tool_call_started":
            return kind.__struct_config__.tag
        state = self.tools.get(call)
        return None if state is None else self.tool_kinds[state >> 2]

    def thread_idx(self, thread: str) -> int:
        """Index of ``thread`` in thread_info, adding it (not started) if new."""
        h = thread
        idx = self.thread_index.get(h)
        if idx is None:  # the one int object of this thread, shared by all its turns and calls
            idx = self.thread_index[h] = len(self.thread_info)
            self.thread_info.append([thread, None, False])
        return idx

    def thread_started(self, thread: str) -> bool:
        idx = self.thread_index.get(thread)
        return idx is not None and self.thread_info[idx][1] is not None

    def thread_known(self, thread: str, pointer: str) -> bool:
        if self.thread_started(thread):
            return True
        self.ctx.report(THREAD_UNKNOWN, f"unknown thread {thread}", pointer=pointer)
        return False

    def turn_of(self, turn: str, thread: str | None, what: str, pointer: str) -> bool:
        h = turn
        idx = self.turns.get(h)
        if idx is None:
            self.ctx.report(TURN_UNKNOWN, f"{what} referenced unknown Codex turn {turn}", pointer=pointer)
            return False
        owner = self.thread_info[idx][0]
        if thread is not None and owner != thread:
            self.ctx.report(
                TURN_THREAD,
                f"{what} used thread {thread}, but Codex turn {turn} belongs to {owner}",
                pointer=pointer,
                related_seq=self.open_turns.get(h),
            )
            return False
        return True

    def turn_thread(self, turn: str) -> str | None:
        idx = self.turns.get(turn)
        return None if idx is None else self.thread_info[idx][0]

    # -- dispatch ------------------------------------------------------------------------
    def event(self, ev, tag: str) -> None:
        handler = self.handler_only.get(tag)
        if handler is not None:
            handler(ev, ev.payload)
            return
        missing = self.release_required.get(tag)
        if missing is not None:
            self.required_by_release(ev.payload, tag, missing)
        handler = self.handlers.get(tag)
        if handler is not None:
            handler(ev, ev.payload)
            later = self.later_refs.get(tag)
            if later:
                self.later_ref_fields(ev.payload, tag, later)
        else:
            self.refs_only(ev.payload, tag)

    def later_ref_fields(self, p, tag: str, fields) -> None:
        """Ref fields newer than the handlers: every ref is read in v3, some bodies are checked."""
        for f in fields:
            ref = getattr(p, f.name, None)
            if ref is None:
                continue
            if isinstance(self.refs, RefChecker):
                continue  # no body check for it: its generic checks come from the model (RefChecker.after_event)
            parsed, body = self.refs.check_value(ref, tag, f, f"/payload/{f.name}")
            if parsed and self._field_too_deep(ref, tag, f.name, body):
                continue
            check = bodies.LATER_REF_BODIES.get((tag, f.name))
            if tag == "history_item_accepted" and self.accepted_again:
                check = None
            if parsed and check is not None:
                check(self.ctx, body, ref, f"/payload/{f.name}", p)

    def required_by_release(self, p, tag: str, fields) -> None:
        for name, since in fields:
            if getattr(p, name) is None:
                self.ctx.report(
                    RELEASE_REQUIRED,
                    f"{tag} has no {name}: reducers since Codex {since} require it "
                    f"(the reference reducer is Codex {self.dialect.reference_release})",
                    pointer=f"/payload/{name}",
                )

    def refs_only(self, p, tag: str) -> None:
        fields = self._ref_fields.get(tag)
        if fields is None:
            fields = self._ref_fields[tag] = tuple(self.dialect.ref_fields(tag))
        for f in fields:
            value = getattr(p, f.name)
            for i, r in enumerate(value if isinstance(value, list) else [value]):
                if r is not None:
                    ptr = f"/payload/{f.name}" + (f"/{i}" if isinstance(value, list) else "")
                    self.refs.check(r, tag, f, ptr, False)

    # -- threads and turns ----------------------------------------------------------------
    def on_thread_started(self, ev, p):
        body = self.ref(p, "thread_started", "metadata_payload")
        if body is not None:
            bodies.check_metadata(self.ctx, body, p.metadata_payload.raw_payload_id, "/payload/metadata_payload")
        info = self.thread_info[self.thread_idx(p.thread_id)]
        if info[1] is not None:
            self.ctx.report(
                THREAD_DUPLICATE, f"duplicate thread start for {p.thread_id}",
                pointer="/payload/thread_id", related_seq=info[1],
            )
            return
        info[1] = ev.seq

    def on_thread_ended(self, ev, p):
        if self.thread_known(p.thread_id, "/payload/thread_id"):
            self.thread_info[self.thread_idx(p.thread_id)][2] = True

    def on_thread_resumed(self, ev, p):
        if not self.thread_started(p.thread_id):
            self.ctx.report(
                THREAD_UNKNOWN,
                f"cannot resume thread {p.thread_id}: it was not started in this trace",
                pointer="/payload/thread_id",
            )
            return
        info = self.thread_info[self.thread_idx(p.thread_id)]
        if not info[2]:
            self.ctx.report(THREAD_RESUME, f"resumed thread {p.thread_id} has not ended", pointer="/payload/thread_id", related_seq=info[1])
        info[2] = False

    def on_history_item_accepted(self, ev, p):
        body = self.ref(p, "history_item_accepted", "agent_message_payload")
        if ev.thread_id is None:
            self.ctx.report(HISTORY_THREAD, "history acceptance has no thread", pointer="/thread_id")
        else:
            self.thread_known(ev.thread_id, "/thread_id")
        # An item id the thread accepted before with a payload: its payloads are not parsed again (model/bodies.py).
        key = (ev.thread_id, p.item_id)
        self.accepted_again = B.ACCEPTED_AGAIN_UNREAD and key in self.accepted_items
        if any(getattr(p, name) is not None for name in self.accepted_refs):
            self.accepted_items.add(key)
        if body is not None and not self.accepted_again:
            rid = p.agent_message_payload.raw_payload_id
            body = bodies.as_typed_agent_message(body)
            problem = bodies.item_problem(body)
            if not problem and self.agent_message_typed:
                if (wide := wide_integer(body)) is not None:
                    problem = f"the agent_message item holds the integer {wide}, beyond i64 and u64 (model/bodies.py)"
                else:
                    problem = bodies.passthrough_problem(body)
            if problem:
                self.ctx.report(bodies.MODEL_ITEM, f"payload {rid}: {problem}", pointer="/payload/agent_message_payload")
            elif body.get("type") != "agent_message" or body.get("id") != p.item_id:
                self.ctx.report(
                    HISTORY_MESSAGE,
                    f"accepted agent message does not match receipt {p.item_id} (payload {rid} holds "
                    f"{body.get('type')!r} with id {body.get('id')!r})",
                    pointer="/payload/agent_message_payload",
                )

    def on_codex_turn_started(self, ev, p):
        h = p.codex_turn_id
        if h in self.turns:
            self.ctx.report(
                TURN_DUPLICATE, f"duplicate codex turn start for {p.codex_turn_id}",
                pointer="/payload/codex_turn_id", related_seq=self.open_turns.get(h),
            )
            return
        idx = self.thread_index.get(p.thread_id)
        if idx is None or self.thread_info[idx][1] is None:  # not started (inlined thread_known: hot path)
            self.thread_known(p.thread_id, "/payload/thread_id")
            idx = self.thread_idx(p.thread_id)
        self.turns[h] = idx
        self.open_turns[h] = ev.seq

    def on_codex_turn_ended(self, ev, p):
        h = p.codex_turn_id
        idx = self.turns.get(h)
        if idx is None:
            self.ctx.report(TURN_UNKNOWN, f"codex turn end referenced unknown turn {p.codex_turn_id}", pointer="/payload/codex_turn_id")
            return
        owner = self.thread_info[idx][0]
        if ev.thread_id != owner and ev.thread_id is not None:
            self.ctx.report(
                TURN_THREAD,
                f"codex turn end for {p.codex_turn_id} used thread {ev.thread_id}, but the turn belongs to {owner}",
                pointer="/thread_id",
                related_seq=self.open_turns.get(h),
            )
        self.open_turns.pop(h, None)

    # -- inference ---------------------------------------------------------------------
    def on_inference_started(self, ev, p):
        ctx = self.ctx
        cid = p.inference_call_id
        request = self.ref(p, "inference_started", "request_payload")
        mode = getattr(p, "request_input_mode", None)
        if mode is not None and mode.__struct_config__.tag == "incremental_with_untraced_prefix":
            # No released reducer knows request_input_mode: its ref is only a writer promise.
            modes = self.dialect.type_as("InferenceRequestInputMode", TaggedUnion)
            field = modes.variant("incremental_with_untraced_prefix").field("prefix_payload")
            self.refs.check(mode.prefix_payload, "inference_started", field, "/payload/request_input_mode/prefix_payload", False)
        h = cid
        if h in self.inferences:
            ctx.report(
                INFERENCE_DUPLICATE, f"duplicate inference start for {cid}",
                pointer="/payload/inference_call_id", related_seq=self.open_calls.get(h),
            )
            return
        self.inferences[h] = self.thread_idx(p.thread_id)
        self.open_calls[h] = ev.seq
        if not self.thread_known(p.thread_id, "/payload/thread_id"):
            return
        if not self.turn_of(p.codex_turn_id, p.thread_id, f"inference start {cid}", "/payload/codex_turn_id"):
            return
        if request is not None and bodies.check_request(ctx, request, p.request_payload.raw_payload_id, "/payload/request_payload"):
            self._previous_response(cid, p.thread_id, request)
            idx = self.thread_idx(p.thread_id)
            reused = self._call_items(idx, request["input"], p.request_payload.raw_payload_id, "/payload/request_payload")
            at = self.conversations.request(idx, cid, request)
            if at is not None and not reused:  # one fault, one finding: a reused call id is reported first
                ctx.report(
                    CONVERSATION_MISMATCH,
                    f"model conversation mismatch for thread {p.thread_id} at item index {at}: request {cid} does "
                    f"not match the conversation item there",
                    pointer="/payload/request_payload",
                )

    def _previous_response(self, cid, thread, request):
        """A request naming a previous_response_id continues a response traced in the same thread."""
        previous = request.get(B.REQUEST_PREVIOUS_RESPONSE) if isinstance(request, dict) else None
        if not isinstance(previous, str):  # another type is read as absent (model/bodies.py)
            return
        if previous not in self.responses.get(self.thread_idx(thread), ()):
            self.ctx.report(
                INFERENCE_PREVIOUS,
                f"incremental inference request {cid} referenced unknown previous_response_id {previous}",
                pointer="/payload/request_payload",
            )

    def _call_items(self, thread: int, items, rid: str, pointer: str) -> bool:
        """Call items of a thread's conversation: a call id seen before keeps its content (False: it does)."""
        summary = self.ctx.summary
        if summary is not None and not summary.release_sensitive:
            self._note_outputs(thread, items, summary)
        seen = self.call_contents
        for space, call_id, digest, panics in bodies.call_contents(items, self.compared_calls):
            if panics:
                self.ctx.report(
                    bodies.MODEL_ITEM,
                    f"payload {rid}: call {call_id}'s summary is cut inside a UTF-8 character, on which this "
                    f"release's reducer panics (model/bodies.py: SUMMARY_CUT_PANICS_UNTIL)",
                    pointer=pointer,
                )
                return True
            key = (thread, space, call_id)
            before = seen.setdefault(key, digest)
            if before != digest:
                self.ctx.report(
                    bodies.CALL_CONTENT,
                    f"model-visible call id {call_id} was reused with different content ({space} in payload {rid})",
                    pointer=pointer,
                )
                return True
        return False

    def _note_outputs(self, thread: int, items, summary) -> None:
        """Tell compat an output's call id came again in the thread where this pass does not compare outputs
        (a release that does, 0.165.0 and older, may reject it)."""
        for item in items:
            if not isinstance(item, dict) or item.get("type") in self.compared_calls:
                continue
            type_ = item.get("type")
            item_type = B.ITEM_TYPE.get(type_) if isinstance(type_, str) else None
            if item_type is None or not item_type.call_content or not isinstance(item.get("call_id"), str):
                continue
            key = (thread, item_type.call_space, item["call_id"])
            if key in self.uncompared_calls:
                summary.release_sensitive = True
                return
            if len(self.uncompared_calls) < MAX_UNCOMPARED:
                self.uncompared_calls.add(key)

    def _inference_end(self, ev, p, tag, field_name):
        body = self.ref(p, tag, field_name)
        ref = getattr(p, field_name)
        ok = body is not None and bodies.check_response(self.ctx, body, ref.raw_payload_id, f"/payload/{field_name}")
        h = p.inference_call_id
        idx = self.inferences.get(h)
        if ok and idx is not None:
            self._call_items(idx, body["output_items"], ref.raw_payload_id, f"/payload/{field_name}")
        if ok and tag == "inference_completed":
            self.conversations.response(h, getattr(p, "response_id", None), body["output_items"])
        else:
            self.conversations.drop(h)
        if idx is None:
            self.ctx.report(
                INFERENCE_UNKNOWN,
                f"inference completion referenced unknown call {p.inference_call_id}",
                pointer="/payload/inference_call_id",
            )
            return
        response_id = getattr(p, "response_id", None)
        if response_id is not None:
            self.responses.setdefault(idx, set()).add(response_id)
        self.open_calls.pop(h, None)

    def on_inference_completed(self, ev, p):
        self._inference_end(ev, p, "inference_completed", "response_payload")

    def on_inference_failed(self, ev, p):
        self._inference_end(ev, p, "inference_failed", "partial_response_payload")

    def on_inference_cancelled(self, ev, p):
        self._inference_end(ev, p, "inference_cancelled", "partial_response_payload")

    # -- tools -------------------------------------------------------------------------
    def on_tool_call_started(self, ev, p):
        ctx = self.ctx
        tool_kind = p.kind.__struct_config__.tag
        dispatch = B.PARSED_INVOCATIONS.get(tool_kind)
        invocation = self.ref(p, "tool_call_started", "invocation_payload", True if dispatch else None)
        if dispatch and invocation is not None:
            problem = bodies.dispatch_problem(invocation, dispatch, self.dispatch_arguments, self.numbers_as_f64)
            if problem:
                ctx.report(bodies.DISPATCH_INVOCATION, f"{tool_kind} invocation payload "
                           f"{p.invocation_payload.raw_payload_id} {problem}: not a dispatch payload",
                           pointer="/payload/invocation_payload")
        key = p.tool_call_id
        if key in self.tools:
            ctx.report(
                TOOL_DUPLICATE, f"duplicate tool call start for {p.tool_call_id}",
                pointer="/payload/tool_call_id", related_seq=self.open_tools.get(key),
            )
            return
        self.tools[key] = self.kind_code[tool_kind] << 2
        if tool_kind in self.dispatch_kinds and p.invocation_payload is not None and not bodies.namespaced(invocation):
            # the reducer creates this tool's terminal operation now (model: terminal_at_dispatch)
            self.tools[key] |= TERMINAL
            self.dispatched.add(key)
        if tool_kind in self.agent_kinds:
            self.agent_invocations[key] = self._invocation_verdict(p.invocation_payload, invocation)
            if p.invocation_payload is not None and self.by_last_ref:
                self.agent_invocation_refs[key] = p.invocation_payload
        self.open_tools[key] = ev.seq
        if ev.thread_id is None and ev.codex_turn_id is None:
            ctx.report(TOOL_CONTEXT, "tool call start did not include thread or Codex turn context", pointer="/thread_id")
            return
        thread = ev.thread_id
        if thread is not None and not self.thread_known(thread, "/thread_id"):
            return
        if ev.codex_turn_id is not None:
            if not self.turn_of(ev.codex_turn_id, thread, "tool call start", "/codex_turn_id"):
                return
            thread = thread or self.turn_thread(ev.codex_turn_id)
        req = p.requester
        if req.__struct_config__.tag == "code_cell" and (thread, req.runtime_cell_id) not in self.cells:
            ctx.report(
                TOOL_CELL,
                f"code-mode nested tool referenced unknown runtime cell {req.runtime_cell_id} in thread {thread}",
                pointer="/payload/requester/runtime_cell_id",
            )
            return
        if p.model_visible_call_id is not None:
            mv = (thread, p.model_visible_call_id)
            if mv in self.model_calls:
                ctx.report(
                    TOOL_MODEL_CALL,
                    f"duplicate tool call for model-visible call id {p.model_visible_call_id}",
                    pointer="/payload/model_visible_call_id",
                )
                return
            self.model_calls.add(mv)

    def _tool(self, p, what: str) -> str | None:
        """The kind of the tool call ``p`` names, or None (reported) when it was never started."""
        state = self.tools.get(p.tool_call_id)
        if state is None:
            self.ctx.report(TOOL_UNKNOWN, f"{what} referenced unknown call {p.tool_call_id}", pointer="/payload/tool_call_id")
            return None
        return self.tool_kinds[state >> 2]

    def on_tool_call_runtime_started(self, ev, p):
        key = p.tool_call_id
        state = self.tools.get(key)
        kind = None if state is None else self.tool_kinds[state >> 2]
        body = self.ref(p, "tool_call_runtime_started", "runtime_payload")
        if self._tool(p, "tool runtime start") is None or state is None:  # None together: never started
            return
        self._note_release_sensitive(p, "tool_call_runtime_started", kind, body)
        if self.mcp_invocation and body is not None and (problem := bodies.mcp_invocation_problem(body)) is not None:
            self.ctx.report(bodies.MCP_INVOCATION, f"runtime payload {p.runtime_payload.raw_payload_id}: {problem}",
                            pointer="/payload/runtime_payload")
        self.tools[key] = state | RUNTIME
        if self.runtime_depth:
            own = self._runtime_kind(p, kind)
            if own != kind:
                self.runtime_kinds[key] = own
            if body is not None and self._runtime_too_deep(p, "tool_call_runtime_started", own, body):
                return
        # The runtime's own kind (v2 on) decides whether it creates a terminal operation: a web call's
        # exec_command runtime does, an exec_command call's web runtime does not (measured on 0.169.0, 0.171.0).
        parsed_as = self._runtime_kind(p, kind)
        if parsed_as in self.terminal_kinds:
            if state & TERMINAL:
                self.ctx.report(
                    TOOL_SECOND_TERMINAL,
                    f"tool runtime start would create a second terminal operation for {p.tool_call_id}",
                    pointer="/payload/tool_call_id",
                )
                return
            self.tools[key] = state | TERMINAL | RUNTIME
            if parsed_as != kind:
                self.runtime_kinds[key] = parsed_as
            if parsed_as in self.start_kinds and body is not None:
                pid = bodies.check_exec_begin(self.ctx, body, p.runtime_payload.raw_payload_id, "/payload/runtime_payload")
                if pid is not None:
                    self.pids[key] = pid

    @staticmethod
    def _runtime_kind(p, call_kind: str | None) -> str | None:
        """The kind the reducer parses a runtime payload as: the runtime event's own kind where
        it carries one (v2 on; Codex 0.169.0 reads an apply_patch runtime of a call started as
        exec_command as a patch), else the call's."""
        own = getattr(p, "kind", None)
        return call_kind if own is None else own.__struct_config__.tag

    def _invocation_verdict(self, ref, body):
        """What an agent activity will find in a multi-agent call's invocation: None (usable), a
        problem, or the ref itself when the body was not read here (v1 reads it at the activity)."""
        if ref is None:
            return "missing invocation payload"
        if body is None:
            return ref
        if self.invocation_depth is not None and body is not bodies.NULL:
            depth = json_depth(body, self.invocation_depth)
            if depth > self.invocation_depth:
                return (ref.raw_payload_id, depth)  # REF.NESTING when an activity parses it
        return bodies.invocation_arguments_problem(body, self.numbers_as_f64)

    def _agent_activity(self, p, kind: str, body) -> None:
        """A multi-agent call's runtime end read as a sub-agent activity (model/bodies.py)."""
        rid = p.runtime_payload.raw_payload_id
        problem = bodies.activity_problem(body, kind)
        if problem is None and bodies.activity_reads_invocation(body):
            verdict = self.agent_invocations.get(p.tool_call_id)
            field = self.dialect.payload.variant("tool_call_started").field("invocation_payload")
            # read by id: where a later ref moved the id, that file is read (model: DEFERRED_READ_BY_LAST_REF)
            start_ref = self.agent_invocation_refs.get(p.tool_call_id)
            moved = None
            if start_ref is not None and isinstance(self.refs, RefChecker):
                moved = self.refs.as_read_later(start_ref)
            if moved is not None and isinstance(self.refs, RefChecker):
                read = self.refs.check(moved, "tool_call_started", field, "/payload/runtime_payload", True,
                                       null_body=bodies.NULL, again=True)
                verdict = None if read is None else self._invocation_verdict(moved, read)
            elif verdict is not None and not isinstance(verdict, (str, tuple)):  # a ref not read at the call's start
                read = self.refs.check(verdict, "tool_call_started", field, "/payload/runtime_payload", True,
                                       null_body=bodies.NULL)
                verdict = None if read is None else self._invocation_verdict(verdict, read)
            if isinstance(verdict, tuple) and self.invocation_depth is not None:  # a tuple only when a limit is set
                report_depth(self.ctx, verdict[0], "tool_invocation", verdict[1], self.invocation_depth,
                             "/payload/runtime_payload", R)
                return
            if verdict is not None:
                problem = f"agent activity tool call {p.tool_call_id} {verdict}"
        if problem is not None:
            self.ctx.report(bodies.AGENT_ACTIVITY, f"sub-agent activity payload {rid}: {problem}",
                            pointer="/payload/runtime_payload")

    def _lone_surrogate(self, ref, pointer: str, body) -> bool:
        """A body the reducer parses (its kind alone did not say so) holding a lone UTF-16 surrogate:
        serde_json rejects it ("unexpected end of hex escape", measured on 0.169.0); True when reported."""
        if not has_lone_surrogate(body):
            return False
        from .refs import PAYLOAD_JSON
        from .store import BODY_JSON

        inv = PAYLOAD_JSON if isinstance(self.refs, RefChecker) else BODY_JSON
        self.ctx.report(inv, f"{ref.raw_payload_id} is not valid JSON: a lone UTF-16 surrogate in a \\u escape",
                        pointer=pointer, level=R)
        return True

    def _runtime_too_deep(self, p, tag: str, parsed_as: str | None, body) -> bool:
        """Report a runtime body nested deeper than the reducer parses one of its kind (model:
        Dialect.runtime_depth_limits, or the release's measured runtime_depths); True when reported."""
        limit = self.runtime_depth.get((tag, parsed_as))
        if limit is None or body is bodies.NULL:
            return False
        if self._lone_surrogate(p.runtime_payload, "/payload/runtime_payload", body):
            return True
        depth = json_depth(body, limit)
        if depth <= limit:
            return False
        report_depth(self.ctx, p.runtime_payload.raw_payload_id, f"{parsed_as} runtime", depth, limit,
                     "/payload/runtime_payload", R)
        return True

    def _note_release_sensitive(self, p, tag: str, call_kind: str | None, body) -> None:
        """Tell compat the bundle holds a runtime body some release reads otherwise than the dialect's
        reference reducer (nested deep where no limit applies here, or a start's `invocation`)."""
        summary = self.ctx.summary
        if summary is None or summary.release_sensitive or not isinstance(body, dict):
            return
        limit = self.runtime_depth.get((tag, self.runtime_kinds.get(p.tool_call_id, self._runtime_kind(p, call_kind))))
        if (B.MCP_INVOCATION_KEY in body and tag == "tool_call_runtime_started") or (
                limit is None and json_depth(body, RELEASE_DEPTH_FLOOR + 1) > RELEASE_DEPTH_FLOOR):
            summary.release_sensitive = True

    def on_tool_call_runtime_ended(self, ev, p):
        # An exec end is parsed as the end of the call's terminal operation: without one (no runtime start
        # made it) no reducer parses the body (measured on 0.125.0, 0.143.0, 0.162.0, 0.164.0, 0.169.0, 0.171.0).
        state = self.tools.get(p.tool_call_id)
        operation = state is not None and bool(state & TERMINAL)
        ended_as = None if state is None else self.runtime_kinds.get(p.tool_call_id, self.tool_kinds[state >> 2])
        exec_end = ended_as in self.exec_kinds
        response_end = ended_as in self.response_kinds  # an exec end, or a dispatch payload
        body = self.ref(p, "tool_call_runtime_ended", "runtime_payload", parsed=operation or not exec_end)
        kind = self._tool(p, "tool runtime end")
        self._note_release_sensitive(p, "tool_call_runtime_ended", kind, body)
        if kind is not None and body is not None and self.runtime_depth and self._runtime_too_deep(
                p, "tool_call_runtime_ended", self.runtime_kinds.get(p.tool_call_id, kind), body):
            body = None  # not parsed
        activity = False
        if kind is not None and (kind in self.agent_kinds or (exec_end and operation)) and bodies.declined_sequence(
                self.ctx, body, f"tool runtime end payload {p.runtime_payload.raw_payload_id}", "/payload/runtime_payload"):
            body = None  # a struct the reducers read, in the form the kit does not judge
        if kind is not None:
            self.tools[p.tool_call_id] |= RUNTIME
            # An activity body is read as one whatever the tool kind, before anything else (model/bodies.py).
            activity = bodies.is_activity(body) and kind not in self.activity_unread
            if activity:
                self._agent_activity(p, kind, body)
            elif kind in self.agent_kinds and kind not in B.COLLAB_END_UNREAD and body is not None:
                problem = bodies.collab_end_problem(None if body is bodies.NULL else body, kind)
                if problem is not None:
                    self.ctx.report(bodies.AGENT_ACTIVITY, f"collab end payload {p.runtime_payload.raw_payload_id} "
                                    f"{problem}", pointer="/payload/runtime_payload")
        if not activity and exec_end and operation and body is not None:
            bodies.check_exec_end(self.ctx, body, p.runtime_payload.raw_payload_id, "/payload/runtime_payload",
                                  self.pids.get(p.tool_call_id))
        elif not activity and response_end and operation and body is not None and not B.is_dispatch_response(body):
            self._note_as_exec_end(body)
            bodies.check_exec_end(self.ctx, body, p.runtime_payload.raw_payload_id, "/payload/runtime_payload",
                                  self.pids.get(p.tool_call_id), f"{ended_as} terminal response (not a dispatch payload)")

    def _note_as_exec_end(self, body) -> None:
        """A terminal response parsed as an exec end: its keys meet each release's exec-end keys
        (model.common.TERMINAL_RESPONSE_KINDS)."""
        summary = self.ctx.summary
        if summary is not None and isinstance(body, dict):
            for place in self.exec_end_places:
                summary.note_body(place, body, self.ctx.line)

    def on_tool_call_ended(self, ev, p):
        # The model says which refs the reducer reads for a tool whose terminal operation was
        # created at dispatch (measured on 0.125.0 and 0.164.0: a write_stdin's result, not an exec's).
        key = p.tool_call_id
        dispatched = key in self.dispatched
        reads = self._ended_reads.get(dispatched)
        if reads is None:  # the model's answer, once per bundle (not per event: a hot path)
            reads = self._ended_reads[dispatched] = tuple(
                (f.name, facts.reducer_reads(self.dialect, f, dispatched_terminal=dispatched))
                for f in self.dialect.ref_fields("tool_call_ended")
            )
        for name, read in reads:
            # a dispatched terminal's response is read whatever `--release`'s payloads_opened says: its probe
            # had no dispatch (0.125.0 to 0.162.0 parse it: measured)
            body = self.ref(p, "tool_call_ended", name, read, by_kind=not (read and dispatched))
            if read and dispatched and body is not None and not B.is_dispatch_response(body):
                # the dispatched operation's response, parsed as its runtime end is (model: terminal_response),
                # unless the call had a runtime start or end (measured on 0.164.0, 0.169.0, 0.171.0)
                state = self.tools[key]
                kind = self.tool_kinds[state >> 2]
                if kind in self.response_kinds and not state & RUNTIME:
                    self._note_as_exec_end(body)
                    bodies.check_exec_end(self.ctx, body, getattr(p, name).raw_payload_id, f"/payload/{name}", None,
                                          f"{kind} terminal response (not a dispatch payload)")
        if self._tool(p, "tool call end") is not None:
            self.open_tools.pop(key, None)

    def on_mcp_tool_call_correlation_assigned(self, ev, p):
        if self._tool(p, "MCP correlation") is None:
            return
        key = p.tool_call_id
        if key in self.mcp:
            self.ctx.report(MCP_DUPLICATE, f"duplicate MCP correlation for tool call {p.tool_call_id}", pointer="/payload/tool_call_id")
        self.mcp.add(key)

    def on_stdin_target_resolved(self, ev, p):
        if self._tool(p, "stdin target") is not None and p.exec_tool_call_id not in self.tools:
            self.ctx.report(
                TOOL_UNKNOWN,
                f"stdin target referenced unknown exec {p.exec_tool_call_id}",
                pointer="/payload/exec_tool_call_id",
            )

    def on_code_cell_wait_target_resolved(self, ev, p):
        if ev.thread_id is None or ev.codex_turn_id is None:
            missing = "thread" if ev.thread_id is None else "turn"
            self.ctx.report(WAIT_CONTEXT, f"confirmed wait missing {missing}", pointer=f"/{'thread_id' if missing == 'thread' else 'codex_turn_id'}")
            return
        key = p.tool_call_id  # tools are keyed by their id
        if key not in self.tools:
            self.ctx.report(WAIT_UNKNOWN, f"confirmed wait referenced unknown dispatch {p.tool_call_id}", pointer="/payload/tool_call_id")
            return
        if key in self.waits:
            self.ctx.report(WAIT_DUPLICATE, f"duplicate confirmed wait target for {p.tool_call_id}", pointer="/payload/tool_call_id")
            return
        self.waits.add(key)

    # -- code cells ----------------------------------------------------------------------
    def _cell_thread(self, ev, tag: str, what: str, cell: str) -> str | None:
        if ev.thread_id is not None:
            return ev.thread_id
        required = tag in self.thread_required
        if ev.codex_turn_id is None or required:
            self.ctx.report(CELL_CONTEXT, f"{what} {cell} did not include a thread id", pointer="/thread_id")
            if ev.codex_turn_id is None:
                return None
        thread = self.turn_thread(ev.codex_turn_id)
        if thread is None and not required:
            self.ctx.report(TURN_UNKNOWN, f"{what} {cell} referenced unknown Codex turn {ev.codex_turn_id}", pointer="/codex_turn_id")
        # Where the release requires the thread, the turn's thread still keeps the cell: one fault, one finding.
        return thread

    def on_code_cell_started(self, ev, p):
        thread = self._cell_thread(ev, "code_cell_started", "code cell start", p.runtime_cell_id)
        if thread is None:
            return
        if ("code_cell_started" in self.turn_required and ev.codex_turn_id not in self.turns
                and (self.thread_idx(thread), bodies.B.CUSTOM_CALLS, p.model_visible_call_id) in self.call_contents):
            # checked only for a cell the model asked for (its `exec` call in the thread's
            # conversation, measured); the cell is kept, so its later events do not cascade
            missing = ev.codex_turn_id is None
            self.ctx.report(
                CELL_START_TURN,
                f"code cell start code_cell:{p.model_visible_call_id} did not include a Codex turn id" if missing
                else f"code cell start referenced unknown Codex turn {ev.codex_turn_id}",
                pointer="/codex_turn_id",
            )
        key = (thread, p.runtime_cell_id)
        mapped = self.cells.get(key)
        if mapped is not None and mapped != p.model_visible_call_id:
            self.ctx.report(
                CELL_REMAPPED,
                f"runtime code cell {p.runtime_cell_id} in thread {thread} mapped to both {mapped} and {p.model_visible_call_id}",
                pointer="/payload/model_visible_call_id",
            )
            return
        if p.model_visible_call_id in self.cell_calls:
            self.ctx.report(
                CELL_DUPLICATE, f"duplicate code cell start for code_cell:{p.model_visible_call_id}",
                pointer="/payload/model_visible_call_id",
            )
            return
        self.cells[key] = p.model_visible_call_id
        self.cell_calls.add(p.model_visible_call_id)

    def _cell_event(self, ev, p, tag, what):
        self.ref(p, tag, "response_payload")
        thread = self._cell_thread(ev, tag, what, p.runtime_cell_id)
        if thread is not None and (thread, p.runtime_cell_id) not in self.cells:
            self.ctx.report(
                CELL_UNKNOWN, f"{what} referenced unknown runtime cell {p.runtime_cell_id} in thread {thread}",
                pointer="/payload/runtime_cell_id",
            )

    def on_code_cell_initial_response(self, ev, p):
        self._cell_event(ev, p, "code_cell_initial_response", "code cell initial response")

    def on_code_cell_ended(self, ev, p):
        self._cell_event(ev, p, "code_cell_ended", "code cell end")

    # -- compaction --------------------------------------------------------------------------
    def on_compaction_request_started(self, ev, p):
        self.ref(p, "compaction_request_started", "request_payload")
        rid = p.compaction_request_id
        if rid in self.compaction_requests:
            self.ctx.report(COMPACTION_DUPLICATE, f"duplicate compaction request start for {rid}", pointer="/payload/compaction_request_id")
            return
        self.compaction_requests[rid] = p.compaction_id
        if self.thread_known(p.thread_id, "/payload/thread_id"):
            self.turn_of(p.codex_turn_id, p.thread_id, f"compaction request {rid}", "/payload/codex_turn_id")

    def _compaction_end(self, p):
        started = self.compaction_requests.get(p.compaction_request_id)
        if started is None:
            self.ctx.report(
                COMPACTION_UNKNOWN,
                f"compaction request completion referenced unknown request {p.compaction_request_id}",
                pointer="/payload/compaction_request_id",
            )
        elif started != p.compaction_id:
            self.ctx.report(
                COMPACTION_UNKNOWN,
                f"compaction request {p.compaction_request_id} completion used compaction {p.compaction_id}, but start used {started}",
                pointer="/payload/compaction_id",
            )

    def on_compaction_request_completed(self, ev, p):
        self.ref(p, "compaction_request_completed", "response_payload")
        self._compaction_end(p)

    def on_compaction_request_failed(self, ev, p):
        self._compaction_end(p)

    def on_compaction_installed(self, ev, p):
        ctx = self.ctx
        body = self.ref(p, "compaction_installed", "checkpoint_payload")
        cid = p.compaction_id
        if ev.thread_id is None or ev.codex_turn_id is None:
            missing = "thread id" if ev.thread_id is None else "codex turn id"
            ctx.report(COMPACTION_CONTEXT, f"compaction installed event {cid} did not include a {missing}", pointer="/thread_id")
            return
        if cid in self.installs:
            ctx.report(COMPACTION_INSTALL, f"duplicate compaction install for {cid}", pointer="/payload/compaction_id")
            return
        if not self.thread_known(ev.thread_id, "/thread_id"):
            return
        if not self.turn_of(ev.codex_turn_id, ev.thread_id, f"compaction install {cid}", "/codex_turn_id"):
            return
        self.installs.add(cid)
        self.conversations.forget(self.thread_idx(ev.thread_id))
        rid = p.checkpoint_payload.raw_payload_id if body is not None else None
        if rid is not None and bodies.check_checkpoint(ctx, body, rid, "/payload/checkpoint_payload"):
            # The histories' call items join the thread's call ids (model/bodies.py).
            for key in B.CHECKPOINT_CALL_ID_HISTORIES:
                if self._call_items(self.thread_idx(ev.thread_id), body[key], rid, "/payload/checkpoint_payload"):
                    break

    # -- multi-agent ---------------------------------------------------------------------------
    def on_agent_result_observed(self, ev, p):
        self.refs_only(p, "agent_result_observed")
        # Only the child is looked up (measured: an unknown parent thread or child turn is accepted).
        if not self.thread_started(p.child_thread_id):
            self.ctx.report(
                THREAD_UNKNOWN, f"agent edge referenced unknown thread {p.child_thread_id}",
                pointer="/payload/child_thread_id",
            )


# -- the rest ------------------------------------------------------------------------------
def on_unimplemented(tag: str):
    """The handler of a variant no reducer implements (model: Variant.unimplemented)."""
    def handler(self: LifecycleChecker, ev, p) -> None:
        self.refs_only(p, tag)
        self.ctx.report(OTHER_VARIANT, f"raw trace event has no reducer implementation (`{tag}`)", pointer="/payload/type")
    return handler


# -- handler tables -------------------------------------------------------------------------
# One table per dialect: a newer dialect's table extends its parent's. A variant with no
# handler still gets its refs checked (refs_only), as the model describes them.
C = LifecycleChecker
V1_HANDLERS = {
    "thread_started": C.on_thread_started,
    "thread_ended": C.on_thread_ended,
    "codex_turn_started": C.on_codex_turn_started,
    "codex_turn_ended": C.on_codex_turn_ended,
    "inference_started": C.on_inference_started,
    "inference_completed": C.on_inference_completed,
    "inference_failed": C.on_inference_failed,
    "inference_cancelled": C.on_inference_cancelled,
    "tool_call_started": C.on_tool_call_started,
    "tool_call_runtime_started": C.on_tool_call_runtime_started,
    "tool_call_runtime_ended": C.on_tool_call_runtime_ended,
    "tool_call_ended": C.on_tool_call_ended,
    "mcp_tool_call_correlation_assigned": C.on_mcp_tool_call_correlation_assigned,
    "stdin_target_resolved": C.on_stdin_target_resolved,
    "code_cell_started": C.on_code_cell_started,
    "code_cell_initial_response": C.on_code_cell_initial_response,
    "code_cell_ended": C.on_code_cell_ended,
    "compaction_request_started": C.on_compaction_request_started,
    "compaction_request_completed": C.on_compaction_request_completed,
    "compaction_request_failed": C.on_compaction_request_failed,
    "compaction_installed": C.on_compaction_installed,
    "agent_result_observed": C.on_agent_result_observed,
    # the variants no reducer implements (`other`), from the model
    **{tag: on_unimplemented(tag) for tag in facts.unimplemented_variants(V1)},
}
V2_HANDLERS = {
    **V1_HANDLERS,
    "thread_resumed": C.on_thread_resumed,
    "history_item_accepted": C.on_history_item_accepted,
}
V3_HANDLERS = {
    **V2_HANDLERS,
    "code_cell_wait_target_resolved": C.on_code_cell_wait_target_resolved,
}
HANDLERS = {"v1": V1_HANDLERS, "v2": V2_HANDLERS, "v3": V3_HANDLERS}
# The dialect whose ref fields each table's handlers read; later refs are checked apart.
HANDLERS_READ = {"v1": "v1", "v2": "v2", "v3": "v2"}
del C


def _later_ref_fields(dialect, handlers) -> dict:
    """tag -> the ref fields of ``dialect`` its handler's dialect does not have (v3's new refs)."""
    from ...model import DIALECTS

    table = next((name for name in dialect.lineage if name in HANDLERS), None)
    base = DIALECTS[HANDLERS_READ[table]] if table is not None else None
    if base is None or base is dialect:
        return {}
    out = {}
    for tag in handlers:
        if tag not in dialect.tags:
            continue
        known = {f.name for f in base.payload.variant(tag).fields} if tag in base.tags else set()
        new = tuple(f for f in dialect.ref_fields(tag) if f.name not in known)
        if new:
            out[tag] = new
    return out
# The shallowest body any release's reducer fails on (serde_json's recursion limit, 127 levels read), and
# the most call items compat's release-sensitivity note remembers.
RELEASE_DEPTH_FLOOR = 127
MAX_UNCOMPARED = 100_000


def runtime_depth_table(dialect, release: str | None) -> dict[tuple[str, str | None], int]:
    """(runtime variant, kind parsed as) -> the deepest body the reducer reads there: the dialect's
    runtime_depth_limits, with the places ``release`` was measured at (its record's runtime_depths,
    else its epoch's first release's) as measured. Empty where the dialect does not key runtime
    bodies by kind (v1: its tool_runtime_event entry in body_depth_limits applies to all)."""
    table = {(v, k): depth for v, k, depth in dialect.runtime_depth_limits}
    if not table or release is None:
        return table
    from ...model import releases
    from .release import runtime_depths

    rel = releases.release(release)
    for (variant, kind), depth in (runtime_depths(rel) if rel is not None else {}).items():
        if depth is None:
            table.pop((variant, kind), None)
        else:
            table[(variant, kind)] = depth
    return table


def _release_required(dialect) -> dict[str, tuple[tuple[str, str], ...]]:
    """Variant -> (field, release) the dialect's reference reducer requires though the schema does not."""
    ref = release_key(dialect.reference_release)
    out: dict[str, list] = {}
    for tag, name, since in facts.release_requirements(dialect):
        if release_key(since) <= ref:
            out.setdefault(tag, []).append((name, since))
    return {tag: tuple(v) for tag, v in out.items()}


def handlers_for(dialect) -> dict:
    """The handler table of ``dialect``: its own, else the one of the nearest dialect it extends."""
    for name in dialect.lineage:
        if name in HANDLERS:
            return HANDLERS[name]
    return {}
