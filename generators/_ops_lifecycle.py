"""Corruptions of lifecycles: threads, turns, inference calls, tools, code cells, compaction.

Duplicates are made by inserting a copy of the start event right after it (with
fresh copies of its payload files, as a writer would have written them); unknown
references by renaming the id in an end event nothing else depends on.
"""

from __future__ import annotations

from ..model.common import EnvelopeKey as E
from ._edit import Editor, iter_refs
from ..model import bodies as MB
from ..model import facts
from ..model.common import EnvelopeKey
from ..model.types import STORE_FILES
from ._ops_common import first_after, first_runtime_starts, fresh, kill_line, pick, quiet_line, result
from .corruptions import corruption

# Events that name a tool call in payload.tool_call_id, and so depend on its start.
TOOL_USERS = ("tool_call_runtime_started", "tool_call_runtime_ended", "tool_call_ended",
              "mcp_tool_call_correlation_assigned", "stdin_target_resolved")


def _duplicate_after(ed: Editor, i: int, invariant: str, *, edit=None, note=""):
    """Insert a copy of event ``i`` right after it; the copy is the reported line."""
    copy = ed.clone(i)
    if edit is not None:
        edit(copy[E.PAYLOAD])
    ed.insert(i + 1, copy)
    return result(ed, invariant, i + 1, note=note)


def _twice(invariant: str, description: str, tag: str, *, needs=(), edits_store=STORE_FILES, where=None,
           renamed: tuple[str, str] | None = None) -> None:
    """Register the operator for ``invariant``: a ``tag`` event (one whose payload passes
    ``where``) is repeated right after itself. ``renamed`` = (payload field, prefix): the
    copy gets a fresh id there, so only the other ids repeat."""

    @corruption(invariant, description, needs=needs, edits_store=edits_store)
    def operator(bundle, dialect, rnd):
        ed = Editor(bundle, dialect)
        i = pick(rnd, [j for j in ed.lines_of(tag) if where is None or where(ed.payload(j))])
        if i is None or not ed.editable():
            return None
        edit = None
        if renamed is not None:
            key, new_id = renamed[0], fresh(rnd, renamed[1])
            edit = lambda p: p.update({key: new_id})  # noqa: E731
        return _duplicate_after(ed, i, invariant, edit=edit)


def _drop_tool_users(ed: Editor, tool_call_id: str) -> None:
    """Remove the events that refer to a tool call (its start is about to stop counting)."""
    for j in reversed(range(len(ed.events))):
        p = ed.payload(j)
        if ed.tag(j) in TOOL_USERS and (p.get("tool_call_id") == tool_call_id or p.get("exec_tool_call_id") == tool_call_id):
            ed.delete(j)


# -- threads and turns ---------------------------------------------------------------------------
_twice("THREAD.DUPLICATE_START", "A thread is started twice.", "thread_started")


@corruption("THREAD.UNKNOWN", "thread_ended names a thread that was never started.", edits_store=None)
def _thread_unknown(bundle, dialect, rnd):
    ed = Editor(bundle, dialect)
    resumes = [(k, ed.payload(k)["thread_id"]) for k in ed.lines_of("thread_resumed")]
    # Not an end that a later thread_resumed relies on.
    options = [
        j for j in ed.lines_of("thread_ended")
        if not any(k > j and t == ed.payload(j)["thread_id"] for k, t in resumes)
    ]
    i = pick(rnd, options)
    if i is None:
        return None
    ed.touch_payload(i)["thread_id"] = fresh(rnd)
    return result(ed, "THREAD.UNKNOWN", i)


_twice("TURN.DUPLICATE_START", "A Codex turn is started twice.", "codex_turn_started", edits_store=None)


@corruption("TURN.UNKNOWN", "codex_turn_ended names a turn that was never started.", edits_store=None)
def _turn_unknown(bundle, dialect, rnd):
    ed = Editor(bundle, dialect)
    i = pick(rnd, ed.lines_of("codex_turn_ended"))
    if i is None:
        return None
    ed.touch_payload(i)["codex_turn_id"] = fresh(rnd)
    return result(ed, "TURN.UNKNOWN", i)


@corruption(
    "TURN.THREAD_MISMATCH",
    "codex_turn_ended's envelope names another (started) thread than the turn's.",
    needs=("spawn",),
    edits_store=None,
)
def _turn_thread(bundle, dialect, rnd):
    ed = Editor(bundle, dialect)
    started: list[tuple[int, str]] = [(j, ed.payload(j)["thread_id"]) for j in ed.lines_of("thread_started")]
    options = []
    for i in ed.lines_of("codex_turn_ended"):
        own = ed.event(i)[E.THREAD_ID]
        others = [t for j, t in started if j < i and t != own]
        if own is not None and others:
            options.append((i, others))
    got = pick(rnd, options)
    if got is None:
        return None
    i, others = got
    ed.touch(i)[E.THREAD_ID] = rnd.choice(others)
    return result(ed, "TURN.THREAD_MISMATCH", i)


# -- inference --------------------------------------------------------------------------------------
_twice("INFERENCE.DUPLICATE_START", "An inference call is started twice.", "inference_started")


def _continued_responses(ed: Editor) -> set:
    """response ids a later request continues (previous_response_id in a request payload)."""
    out = set()
    for i in ed.lines_of("inference_started"):
        p = ed.payload(i)
        mode = p.get("request_input_mode")
        if isinstance(mode, dict) and mode.get("previous_response_id"):
            out.add(mode["previous_response_id"])
        path = p["request_payload"]["path"]
        if path in ed.bundle.payloads:
            try:
                body = ed.body(path)
            except ValueError:
                continue
            if isinstance(body, dict) and body.get(MB.REQUEST_PREVIOUS_RESPONSE):
                out.add(body[MB.REQUEST_PREVIOUS_RESPONSE])
    return out


@corruption("INFERENCE.UNKNOWN_CALL", "An inference completion, failure or cancellation names an unknown call.")
def _inference_unknown(bundle, dialect, rnd):
    ed = Editor(bundle, dialect)
    continued = _continued_responses(ed)
    options = ed.lines_of("inference_failed", "inference_cancelled") + [
        i for i in ed.lines_of("inference_completed") if ed.payload(i).get("response_id") not in continued
    ]
    i = pick(rnd, options)
    if i is None:
        return None
    ed.touch_payload(i)["inference_call_id"] = fresh(rnd)
    return result(ed, "INFERENCE.UNKNOWN_CALL", i, note=ed.tag(i))


@corruption(
    "INFERENCE.PREVIOUS_RESPONSE",
    "A request continues (previous_response_id) a response that was not traced in its thread.",
)
def _unknown_previous(bundle, dialect, rnd):
    ed = Editor(bundle, dialect)
    options = [
        i for i in ed.lines_of("inference_started")
        if ed.payload(i).get("request_input_mode") is None
        and ed.payload(i)["request_payload"]["path"] in ed.bundle.payloads
    ]
    i = pick(rnd, options)
    if i is None:
        return None
    path = ed.payload(i)["request_payload"]["path"]
    try:
        body = ed.body(path)
    except ValueError:
        return None
    if not isinstance(body, dict) or not isinstance(body.get(MB.REQUEST_INPUT), list):
        return None
    body[MB.REQUEST_PREVIOUS_RESPONSE] = "resp-" + fresh(rnd)
    ed.set_body(path, body)
    return result(ed, "INFERENCE.PREVIOUS_RESPONSE", i)


# -- tools ----------------------------------------------------------------------------------------------
_twice("TOOL.DUPLICATE_START", "A tool call is started twice.", "tool_call_started", needs=("exec",))


_twice(
    "TOOL.DUPLICATE_MODEL_CALL_ID",
    "A second tool call (new id) claims the model-visible call id of another in the same thread.",
    "tool_call_started",
    needs=("exec",),
    where=lambda p: p.get("model_visible_call_id"),
    renamed=("tool_call_id", "call-"),
)


@corruption(
    "TOOL.MISSING_CONTEXT",
    "tool_call_started has neither envelope thread nor turn (its later events are removed: "
    "they would name an unknown call). A turn-scoped event without context also breaks "
    "ENVELOPE.CONTEXT_CONVENTION.",
    needs=("exec",),
)
def _tool_no_context(bundle, dialect, rnd):
    ed = Editor(bundle, dialect)
    i = pick(rnd, ed.lines_of("tool_call_started"))
    if i is None or not ed.editable():
        return None
    _drop_tool_users(ed, ed.payload(i)["tool_call_id"])
    e = ed.touch(i)
    e[E.THREAD_ID] = e[E.TURN_ID] = None
    return result(ed, "TOOL.MISSING_CONTEXT", i, also=["ENVELOPE.CONTEXT_CONVENTION"])


@corruption(
    "TOOL.UNKNOWN_CODE_CELL",
    "A tool call claims to come from a code cell never started in its thread (its later events are removed).",
    needs=("exec",),
)
def _tool_unknown_cell(bundle, dialect, rnd):
    ed = Editor(bundle, dialect)
    i = pick(rnd, ed.lines_of("tool_call_started"))
    if i is None or not ed.editable():
        return None
    _drop_tool_users(ed, ed.payload(i)["tool_call_id"])
    ed.touch_payload(i)["requester"] = {"type": "code_cell", "runtime_cell_id": fresh(rnd, "cell-")}
    return result(ed, "TOOL.UNKNOWN_CODE_CELL", i)


@corruption(
    "TOOL.SECOND_TERMINAL_OPERATION",
    "An exec_command (or write_stdin) tool call gets a second runtime start, or a write_stdin started with an "
    "invocation payload (its terminal operation made at dispatch) gets a runtime start.",
    needs=("exec",),
)
def _second_terminal(bundle, dialect, rnd):
    ed = Editor(bundle, dialect)
    if not ed.editable():
        return None
    starts = first_runtime_starts(ed, facts.terminal_tool_kinds(ed.dialect))
    dispatched = [j for j in ed.lines_of("tool_call_started")
                  if ed.payload(j)["kind"]["type"] in facts.terminal_at_dispatch_kinds(ed.dialect)
                  and ed.payload(j).get("invocation_payload") is not None]
    if starts and dispatched and rnd.random() < 0.5:
        i = pick(rnd, dispatched)
        tool = ed.payload(i)["tool_call_id"]
        # another call's runtime start, now naming the dispatched write_stdin, right after its start
        copy = ed.clone(starts[0])
        copy[E.PAYLOAD]["tool_call_id"] = tool
        ed.insert(i + 1, copy)
        return result(ed, "TOOL.SECOND_TERMINAL_OPERATION", i + 1, note="dispatched write_stdin")
    i = pick(rnd, starts)
    if i is None:
        return None
    return _duplicate_after(ed, i, "TOOL.SECOND_TERMINAL_OPERATION")


@corruption("TOOL.UNKNOWN_CALL", "A tool end, runtime end, MCP correlation or stdin target names an unknown call.",
            needs=("exec",), edits_store=None)
def _tool_unknown(bundle, dialect, rnd):
    ed = Editor(bundle, dialect)
    i = pick(rnd, ed.lines_of("tool_call_ended", "tool_call_runtime_ended", "mcp_tool_call_correlation_assigned",
                              "stdin_target_resolved"))
    if i is None:
        return None
    ed.touch_payload(i)["tool_call_id"] = fresh(rnd, "call-")
    return result(ed, "TOOL.UNKNOWN_CALL", i, note=ed.tag(i))


_twice("MCP.DUPLICATE_CORRELATION", "A tool call is correlated with an MCP call twice.",
       "mcp_tool_call_correlation_assigned", needs=("mcp",), edits_store=None, renamed=("mcp_call_id", ""))


# -- code cells -------------------------------------------------------------------------------------------
@corruption(
    "CELL.MISSING_CONTEXT",
    "A code cell response or end has no envelope thread or turn (so it also breaks ENVELOPE.CONTEXT_CONVENTION).",
    needs=("code_cell",),
    edits_store=None,
)
def _cell_no_context(bundle, dialect, rnd):
    ed = Editor(bundle, dialect)
    i = pick(rnd, ed.lines_of("code_cell_initial_response", "code_cell_ended"))
    if i is None:
        return None
    e = ed.touch(i)
    e[E.THREAD_ID] = e[E.TURN_ID] = None
    return result(ed, "CELL.MISSING_CONTEXT", i, also=["ENVELOPE.CONTEXT_CONVENTION"])


@corruption(
    "CELL.START_TURN",
    "A code cell start the model asked for names an unknown turn in its envelope.",
    needs=("code_cell",),
    edits_store=None,
)
def _cell_start_turn(bundle, dialect, rnd):
    ed = Editor(bundle, dialect)
    i = pick(rnd, [j for j in ed.lines_of("code_cell_started") if ed.event(j).get("thread_id") is not None])
    if i is None:
        return None
    ed.touch(i)[E.TURN_ID] = fresh(rnd, "turn-")
    return result(ed, "CELL.START_TURN", i)


_twice("CELL.DUPLICATE_START", "A code cell is started twice.", "code_cell_started", needs=("code_cell",),
       edits_store=None)


_twice("CELL.REMAPPED", "A runtime cell id is started again for another model-visible call.", "code_cell_started",
       needs=("code_cell",), edits_store=None, renamed=("model_visible_call_id", "call-"))


@corruption("CELL.UNKNOWN", "A code cell response or end names a runtime cell never started.", needs=("code_cell",), edits_store=None)
def _cell_unknown(bundle, dialect, rnd):
    ed = Editor(bundle, dialect)
    i = pick(rnd, ed.lines_of("code_cell_initial_response", "code_cell_ended"))
    if i is None:
        return None
    ed.touch_payload(i)["runtime_cell_id"] = fresh(rnd, "cell-")
    return result(ed, "CELL.UNKNOWN", i)


# -- compaction ------------------------------------------------------------------------------------------
_twice("COMPACTION.DUPLICATE_REQUEST", "A compaction request is started twice.", "compaction_request_started",
       needs=("compact",))


@corruption(
    "COMPACTION.UNKNOWN_REQUEST",
    "A compaction request completion or failure names an unknown request, or another compaction than its start.",
    needs=("compact",),
    edits_store=None,
)
def _compaction_unknown(bundle, dialect, rnd):
    ed = Editor(bundle, dialect)
    i = pick(rnd, ed.lines_of("compaction_request_completed", "compaction_request_failed"))
    if i is None:
        return None
    key = rnd.choice(["compaction_request_id", "compaction_id"])
    ed.touch_payload(i)[key] = fresh(rnd)
    return result(ed, "COMPACTION.UNKNOWN_REQUEST", i, note=key)


@corruption(
    "COMPACTION.MISSING_CONTEXT",
    "compaction_installed lacks its envelope thread or turn (so it also breaks ENVELOPE.CONTEXT_CONVENTION).",
    needs=("compact",),
    edits_store=None,
)
def _compaction_no_context(bundle, dialect, rnd):
    ed = Editor(bundle, dialect)
    i = pick(rnd, ed.lines_of("compaction_installed"))
    if i is None:
        return None
    key = rnd.choice(["thread_id", "codex_turn_id"])
    ed.touch(i)[key] = None
    return result(ed, "COMPACTION.MISSING_CONTEXT", i, also=["ENVELOPE.CONTEXT_CONVENTION"], note=key)


_twice("COMPACTION.DUPLICATE_INSTALL", "A compaction is installed twice.", "compaction_installed",
       needs=("compact",))



# -- v2: history acceptance and resumed threads ------------------------------------------------------
@corruption(
    "HISTORY.MISSING_THREAD",
    "history_item_accepted has no envelope thread (a turn-scoped event without it also breaks "
    "ENVELOPE.CONTEXT_CONVENTION).",
    edits_store=None,
)
def _history_no_thread(bundle, dialect, rnd):
    ed = Editor(bundle, dialect)
    i = pick(rnd, ed.lines_of("history_item_accepted"))
    if i is None:
        return None
    ed.touch(i)[E.THREAD_ID] = None
    return result(ed, "HISTORY.MISSING_THREAD", i, also=["ENVELOPE.CONTEXT_CONVENTION"])


@corruption(
    "HISTORY.AGENT_MESSAGE",
    "An accepted inter-agent message's payload holds another item id than the acceptance names.",
    needs=("spawn",),
    edits_store=None,
)
def _history_agent_message(bundle, dialect, rnd):
    ed = Editor(bundle, dialect)
    i = pick(rnd, [j for j in ed.lines_of("history_item_accepted")
                   if ed.payload(j).get("agent_message_payload")])
    if i is None:
        return None
    ed.touch_payload(i)["item_id"] = "amsg_" + fresh(rnd)
    return result(ed, "HISTORY.AGENT_MESSAGE", i)


@corruption(
    "THREAD.RESUME_NOT_ENDED",
    "thread_resumed names a thread that is still running.",
    edits_store=None,
)
def _resume_running(bundle, dialect, rnd):
    ed = Editor(bundle, dialect)
    if not ed.editable():
        return None
    options = []
    for s in ed.lines_of("thread_started"):
        tid = ed.payload(s)["thread_id"]
        end = first_after(ed, s + 1, lambda e: e[E.PAYLOAD]["type"] == "thread_ended" and e[E.PAYLOAD]["thread_id"] == tid)
        stop = end if end is not None else len(ed.events) - 1
        if stop > s + 1:
            options.append((s, stop, tid))
    got = pick(rnd, options)
    if got is None:
        return None
    s, stop, tid = got
    at = rnd.randrange(s + 1, stop)
    e = dict(ed.events[s], payload={"type": "thread_resumed", "thread_id": tid}, thread_id=None, codex_turn_id=None)
    e[E.WALL_TIME] = ed.event(at - 1)[E.WALL_TIME]
    ed.insert(at, e)
    return result(ed, "THREAD.RESUME_NOT_ENDED", at)


@corruption(
    "EVENT.RELEASE_REQUIRED_FIELD",
    "A tool_call_runtime_started lacks `kind`, as Codex 0.165.0 wrote it; the reference reducer requires it.",
    needs=("exec",),
    edits_store=None,  # edits one event: v2, and v3 (0.171.0 rejects it too: "missing field `kind`")
)
def _runtime_without_kind(bundle, dialect, rnd):
    ed = Editor(bundle, dialect)
    i = pick(rnd, [j for j in ed.lines_of("tool_call_runtime_started") if "kind" in ed.payload(j)])
    if i is None:
        return None
    del ed.touch_payload(i)["kind"]
    return result(ed, "EVENT.RELEASE_REQUIRED_FIELD", i)


# -- the `other` variant (moved from the line operators: its rule is a lifecycle rule)
@corruption("EVENT.OTHER_VARIANT", "An event uses the `other` variant, which no reference reducer implements.",
            edits_store=None)  # a file store gets a payload file; records in shards are moved, none added
def _other(bundle, dialect, rnd):
    ed = Editor(bundle, dialect)
    i = quiet_line(ed, rnd)
    if i is None:
        return None
    e = ed.touch(i)
    if ed.layout.store != STORE_FILES:
        # the replaced event's records go to the `other` event, so no record is left unreferenced
        refs = [dict(ref) for _, ref in iter_refs(e[E.PAYLOAD], ed.dialect)]
        e[E.PAYLOAD] = {"type": "other", "kind": "instrumentation", "summary": "early instrumentation event",
                        "payloads": refs, "metadata": rnd.choice([None, {"source": "test", "n": 1}, [1, 2], "text"])}
        return result(ed, "EVENT.OTHER_VARIANT", i)
    kill_line(ed, i)
    refs = []
    if rnd.random() < 0.5:
        refs.append(ed.new_payload("protocol_event", {"note": fresh(rnd)}))
    e[E.PAYLOAD] = {
        "type": "other",
        "kind": "instrumentation",
        "summary": "early instrumentation event",
        "payloads": refs,
        "metadata": rnd.choice([None, {"source": "test", "n": 1}, [1, 2], "text"]),
    }
    return result(ed, "EVENT.OTHER_VARIANT", i)


# -- code mode's confirmed waits (v3) ----------------------------------------------------------------
def _wait_event(ed: Editor, i: int, tool_call_id: str, cell: str = "1") -> dict:
    """A code_cell_wait_target_resolved in the envelope context of line ``i``."""
    # line i's envelope, every key the model has (the Editor renumbers seq on insert)
    return dict(ed.event(i), **{EnvelopeKey.SEQ: 0, EnvelopeKey.PAYLOAD: {
        "type": "code_cell_wait_target_resolved", "tool_call_id": tool_call_id, "runtime_cell_id": cell}})


def _tool_starts(ed: Editor) -> list[int]:
    return [i for i in ed.lines_of("tool_call_started")
            if ed.event(i)[E.THREAD_ID] is not None and ed.event(i)[E.TURN_ID] is not None]


@corruption(
    "WAIT.UNKNOWN_CALL",
    "A code_cell_wait_target_resolved names a tool call never started.",
    edits_store=None,
)
def _wait_unknown(bundle, dialect, rnd):
    ed = Editor(bundle, dialect)
    i = pick(rnd, _tool_starts(ed))
    if i is None or not ed.editable():
        return None
    ed.insert(i + 1, _wait_event(ed, i, fresh(rnd, "call-wait-")))
    return result(ed, "WAIT.UNKNOWN_CALL", i + 1)


@corruption(
    "WAIT.DUPLICATE",
    "A wait's target is confirmed twice (the event repeated, or two for one started call).",
    edits_store=None,
)
def _wait_duplicate(bundle, dialect, rnd):
    ed = Editor(bundle, dialect)
    if not ed.editable():
        return None
    waits = ed.lines_of("code_cell_wait_target_resolved")
    if waits and rnd.random() < 0.5:
        i = rnd.choice(waits)
        dup = dict(ed.events[i], payload=dict(ed.payload(i)))
        ed.insert(i + 1, dup)
        return result(ed, "WAIT.DUPLICATE", i + 1, note="repeated")
    i = pick(rnd, [j for j in _tool_starts(ed)
                   if ed.payload(j)["tool_call_id"] not in
                   {ed.payload(w)["tool_call_id"] for w in waits}])
    if i is None:
        return None
    tid = ed.payload(i)["tool_call_id"]
    ed.insert(i + 1, _wait_event(ed, i, tid))
    ed.insert(i + 2, _wait_event(ed, i, tid))
    return result(ed, "WAIT.DUPLICATE", i + 2, note="two for one call")


@corruption(
    "WAIT.MISSING_CONTEXT",
    "A code_cell_wait_target_resolved has no envelope thread or turn (a turn-scoped event without "
    "them also breaks ENVELOPE.CONTEXT_CONVENTION).",
    edits_store=None,
)
def _wait_context(bundle, dialect, rnd):
    ed = Editor(bundle, dialect)
    i = pick(rnd, _tool_starts(ed))
    if i is None or not ed.editable():
        return None
    ev = _wait_event(ed, i, ed.payload(i)["tool_call_id"])
    key = rnd.choice(["thread_id", "codex_turn_id"])
    ev[key] = None
    ed.insert(i + 1, ev)
    return result(ed, "WAIT.MISSING_CONTEXT", i + 1, also=["ENVELOPE.CONTEXT_CONVENTION"], note=f"{key} null")
