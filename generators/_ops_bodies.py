"""Corruptions of the payload bodies the reference reducer parses."""

from __future__ import annotations

from ..model.common import EnvelopeKey as E
from ..model import bodies as MB
from ..model import facts
from ._edit import Editor
from ..model.types import STORE_ZSTD_SHARDS
from ._ops_common import first_runtime_starts, fresh, pick, result, tool_kinds
from ._ops_store import Store
from .corruptions import corruption


def _owned_body(ed: Editor, i: int, field: str, users: dict[str, list[int]] | None = None):
    """(path, parsed body) of line ``i``'s ref ``field`` when only that line uses the file
    (``users``: ``ed.payload_users()``; a scan over many lines computes it once and passes it: it
    walks every event)."""
    if users is None:
        users = ed.payload_users()
    ref = ed.payload(i).get(field)
    if not isinstance(ref, dict) or users.get(ref["path"]) != [i] or ref["path"] not in ed.bundle.payloads:
        return None
    try:
        return ref["path"], ed.body(ref["path"])
    except ValueError:
        return None


def _break(ed: Editor, rnd, tags, field: str, invariant: str, breakers):
    """Apply one of ``breakers`` (body -> new body | None) to a body of one of ``tags``."""
    options = []
    users = ed.payload_users()
    for i in ed.lines_of(*tags):
        got = _owned_body(ed, i, field, users)
        if got is not None and isinstance(got[1], dict):
            options.append((i, *got))
    got = pick(rnd, options)
    if got is None:
        return None
    i, path, body = got
    name, breaker = rnd.choice(breakers)
    new = breaker(body)
    if new is None:
        return None
    ed.set_body(path, new)
    return result(ed, invariant, i, note=name)


def _without(key):
    return lambda body: {k: v for k, v in body.items() if k != key}


def _with(key, value):
    return lambda body: {**body, key: value}


@corruption("BODY.THREAD_METADATA", "A thread's metadata payload is not an object, or a known field has the wrong type.")
def _metadata(bundle, dialect, rnd):
    return _break(Editor(bundle, dialect), rnd, ("thread_started",), "metadata_payload", "BODY.THREAD_METADATA", [
        # a string: an array would be serde's sequence form of the struct, which the kit declines (KIT.SEQUENCE_FORM)
        ("not an object", lambda b: f"agent_path={b.get('agent_path')}"),
        ("agent_path not a string", _with("agent_path", 7)),
        ("model not a string", _with("model", {"name": "gpt"})),
    ])


@corruption("BODY.INFERENCE_REQUEST", "An inference request payload has no `input` array.")
def _request(bundle, dialect, rnd):
    return _break(Editor(bundle, dialect), rnd, ("inference_started",), "request_payload", "BODY.INFERENCE_REQUEST", [
        (f"no {MB.REQUEST_INPUT}", _without(MB.REQUEST_INPUT)),
        (f"{MB.REQUEST_INPUT} not an array", _with(MB.REQUEST_INPUT, {"type": "message"})),
    ])


@corruption("BODY.INFERENCE_RESPONSE", "An inference response payload has no `output_items` array.")
def _response(bundle, dialect, rnd):
    return _break(Editor(bundle, dialect), rnd, ("inference_completed",), "response_payload", "BODY.INFERENCE_RESPONSE", [
        (f"no {MB.RESPONSE_ITEMS}", _without(MB.RESPONSE_ITEMS)),
        (f"{MB.RESPONSE_ITEMS} not an array", _with(MB.RESPONSE_ITEMS, "done")),
    ])


def _bad_item(body):
    items = body.get(MB.REQUEST_INPUT)
    if not isinstance(items, list) or not items:
        return None
    return {**body, MB.REQUEST_INPUT: items + [{"type": MB.unsupported_item_type(), "text": "not a model item"}]}


def _bad_role(body):
    items = body.get(MB.REQUEST_INPUT)
    if not isinstance(items, list):
        return None
    return {**body, MB.REQUEST_INPUT: items + [{"type": "message", "role": MB.unsupported_role(), "content": []}]}


@corruption("BODY.MODEL_ITEM", "A model item in a request has an unsupported type or message role.")
def _model_item(bundle, dialect, rnd):
    return _break(Editor(bundle, dialect), rnd, ("inference_started",), "request_payload", "BODY.MODEL_ITEM", [
        ("unsupported item type", _bad_item),
        ("unsupported role", _bad_role),
    ])


@corruption("BODY.COMPACTION_CHECKPOINT", "A compaction checkpoint lacks its history arrays.", needs=("compact",))
def _checkpoint(bundle, dialect, rnd):
    return _break(Editor(bundle, dialect), rnd, ("compaction_installed",), "checkpoint_payload", "BODY.COMPACTION_CHECKPOINT", [
        (f"no {MB.CHECKPOINT_HISTORIES[-1]}", _without(MB.CHECKPOINT_HISTORIES[-1])),
        (f"{MB.CHECKPOINT_HISTORIES[0]} not an array", _with(MB.CHECKPOINT_HISTORIES[0], None)),
    ])


@corruption(
    "BODY.TERMINAL_RUNTIME",
    "An exec_command runtime payload lacks what the terminal reducer parses (begin: command/cwd, end: exit_code).",
    needs=("exec",),
)
def _terminal_runtime(bundle, dialect, rnd):
    ed = Editor(bundle, dialect)
    kinds = tool_kinds(ed)
    exec_kinds = facts.exec_runtime_kinds(dialect)
    first_start = first_runtime_starts(ed, exec_kinds)
    ends = [i for i in ed.lines_of("tool_call_runtime_ended")
            if kinds.get(ed.payload(i)["tool_call_id"]) in exec_kinds]
    if ends and rnd.random() < 0.5:
        code = MB.EXEC_EXIT_CODE
        lines, breakers = ends, [(f"{code} not an integer", _with(code, "0")), (f"no {code}", _without(code))]
    else:
        lines, breakers = first_start, [(f"no {MB.EXEC_CWD}", _without(MB.EXEC_CWD)),
                                        (f"{MB.EXEC_COMMAND} not a list", _with(MB.EXEC_COMMAND, "echo hi"))]
    users = ed.payload_users()
    options = [(i, *got) for i in lines if (got := _owned_body(ed, i, "runtime_payload", users)) and isinstance(got[1], dict)]
    got = pick(rnd, options)
    if got is None:
        return None
    i, path, body = got
    name, breaker = rnd.choice(breakers)
    ed.set_body(path, breaker(body))
    return result(ed, "BODY.TERMINAL_RUNTIME", i, note=name)


def _parsing_mcp_invocations() -> tuple[str, ...]:
    """The dialects whose reference reducer parses a runtime start's `invocation` (model/bodies.py)."""
    from ..model import DIALECTS
    from ..model.types import release_key

    since, until = release_key(MB.MCP_INVOCATION_SINCE), release_key(MB.MCP_INVOCATION_UNTIL)
    return tuple(name for name, d in DIALECTS.items() if since <= release_key(d.reference_release) <= until)


@corruption(
    "BODY.MCP_INVOCATION",
    "A runtime start payload holds an `invocation` that is not an MCP invocation (no `server`, or not an object).",
    needs=("exec",),
    dialects=_parsing_mcp_invocations(),
)
def _mcp_invocation(bundle, dialect, rnd):
    key = MB.MCP_INVOCATION_KEY
    return _break(Editor(bundle, dialect), rnd, ("tool_call_runtime_started",), "runtime_payload", "BODY.MCP_INVOCATION", [
        (f"{key} without server", _with(key, {k: "x" for k in MB.MCP_INVOCATION_STRINGS[1:]})),
        (f"{key} null", _with(key, None)),
    ])


def _misfit_activity(tool_kind: str) -> str | None:
    """An activity kind the model says does not fit ``tool_kind``."""
    return next((k for k, fits in MB.ACTIVITY_KINDS.items() if fits is not None and tool_kind not in fits), None)


@corruption(
    "BODY.AGENT_ACTIVITY",
    "A sub-agent activity (a multi-agent call's runtime end) has a kind that does not fit the call's tool kind, or "
    "its call's invocation arguments hold no string message.",
    needs=("spawn",),
)
def _agent_activity(bundle, dialect, rnd):
    ed = Editor(bundle, dialect)
    kinds = tool_kinds(ed)
    starts = {ed.payload(i)["tool_call_id"]: i for i in ed.lines_of("tool_call_started")}
    options = []
    users = ed.payload_users()
    for i in ed.lines_of("tool_call_runtime_ended"):
        call = ed.payload(i)["tool_call_id"]
        got = _owned_body(ed, i, "runtime_payload", users)
        if got and isinstance(got[1], dict) and MB.ACTIVITY_MARKER in got[1] and call in starts:
            options.append((i, starts[call], kinds[call], *got))
    got = pick(rnd, options)
    if got is None:
        return None
    i, start, tool_kind, path, body = got
    invocation = _owned_body(ed, start, "invocation_payload")
    misfit = _misfit_activity(tool_kind)
    if invocation is not None and body.get("kind") in MB.ACTIVITY_READS_INVOCATION and rnd.random() < 0.5:
        ed.set_body(invocation[0], {**invocation[1], "payload": {"type": "function", "arguments": "{}"}}
                    if isinstance(invocation[1], dict) else {"payload": None})
        return result(ed, "BODY.AGENT_ACTIVITY", i, note="invocation arguments without a message")
    if misfit is None:
        return None
    ed.set_body(path, {**body, "kind": misfit})
    return result(ed, "BODY.AGENT_ACTIVITY", i, note=f"activity {misfit} for a {tool_kind} call")


@corruption(
    "BODY.DISPATCH_INVOCATION",
    "A write_stdin call's invocation payload is not its dispatch payload (another tool's name, a custom payload).",
    needs=("stdin",),
)
def _dispatch_invocation(bundle, dialect, rnd):
    ed = Editor(bundle, dialect)
    options = []
    users = ed.payload_users()
    for i in ed.lines_of("tool_call_started"):
        tool_name = MB.PARSED_INVOCATIONS.get(ed.payload(i)["kind"]["type"])
        got = _owned_body(ed, i, "invocation_payload", users) if tool_name else None
        if got is not None and isinstance(got[1], dict):
            options.append((i, *got))
    got = pick(rnd, options)
    if got is None:
        return _dispatch_of_another_tool(ed, rnd)
    i, path, body = got
    name, new = rnd.choice([("another tool's name", {**body, "tool_name": "exec_command"}),
                            ("a custom payload", {**body, "payload": {"type": "custom", "input": "x"}})])
    ed.set_body(path, new)
    return result(ed, "BODY.DISPATCH_INVOCATION", i, note=name)


def _dispatch_of_another_tool(ed: Editor, rnd):
    """No write_stdin call here: a new one, right after another tool's start, with a copy of its invocation."""
    from ._ops_common import fresh

    users = ed.payload_users()
    options = [i for i in ed.lines_of("tool_call_started")
               if isinstance(ed.payload(i).get("invocation_payload"), dict)
               and ed.payload(i)["kind"]["type"] not in MB.PARSED_INVOCATIONS
               and isinstance(body := (_owned_body(ed, i, "invocation_payload", users) or (None, None))[1], dict)
               # a namespaced tool's invocation is not read as a dispatch payload (DISPATCH_NAMESPACED_UNPARSED)
               and not isinstance(body.get("tool_namespace"), str)]
    i = pick(rnd, options)
    if i is None:
        return None
    event = ed.clone(i)
    call_id = "call-" + fresh(rnd)
    kind = next(iter(MB.PARSED_INVOCATIONS))
    event[E.PAYLOAD].update(tool_call_id=call_id, model_visible_call_id=call_id, kind={"type": kind})
    ed.insert(i + 1, event)
    return result(ed, "BODY.DISPATCH_INVOCATION", i + 1, note="a write_stdin call with another tool's invocation")


# -- bodies read by the v3 reducer -----------------------------------------------------------------------
@corruption(
    "BODY.PREPARED_PROMPT",
    "A prepared prompt's body has one fragment too many or too few for its parts, or is not an array of strings.",
    edits_store=STORE_ZSTD_SHARDS,
)
def _prepared_prompt(bundle, dialect, rnd):
    import orjson

    ed = Editor(bundle, dialect)
    st = Store(ed)
    # Only a prompt with parts is assembled from fragments; without, any JSON body is read (model/bodies.py).
    got = pick(rnd, [g for g in st.owned(kinds=("prepared_prompt",)) if g[2].get("parts")])
    if got is None:
        return None
    i, pointer, ref = got
    fragments = orjson.loads(st.body(ref))
    how = rnd.choice(["more", "fewer", "object", "null"])
    bad = {"more": fragments + [""], "fewer": fragments[:-1] if len(fragments) > 1 else [],
           "object": {}, "null": None}[how]
    st.set_body(ref, orjson.dumps(bad))
    return result(ed, "BODY.PREPARED_PROMPT", i, note=f"{pointer}: {how}")


@corruption(
    "BODY.TOOL_OUTPUT_ITEM",
    "history_item_accepted's tool output payload is not a model item with a string type ({}, null, a number type).",
    edits_store=STORE_ZSTD_SHARDS,
)
def _tool_output_item(bundle, dialect, rnd):
    ed = Editor(bundle, dialect)
    st = Store(ed)
    options = [g for g in st.owned() if ed.tag(g[0]) == "history_item_accepted" and g[1] == "/payload/tool_output_payload"]
    got = pick(rnd, options)
    if got is None:
        return None
    i, pointer, ref = got
    st.set_body(ref, rnd.choice([b"{}", b"null", b'{"type":5}', b"[]"]))
    return result(ed, "BODY.TOOL_OUTPUT_ITEM", i, note=pointer)


def _reused_call_id(body, key: str = MB.REQUEST_INPUT):
    """The body again with the first compared call item of its ``key`` list repeated there, its compared
    content changed."""
    items = body.get(key)
    if not isinstance(items, list):
        return None
    for item in items:
        kind = item.get("type") if isinstance(item, dict) else None
        t = MB.ITEM_TYPE.get(kind) if isinstance(kind, str) else None
        if t is not None and t.call_content and t.call_content_until is None and isinstance(item.get("call_id"), str):
            # a compared key changed (for a call compared whole, its status)
            compared = "status" if t.call_content == MB.WHOLE_ITEM else t.call_content[-1]
            changed = {**item, compared: f"{item.get(compared)!s} (changed)"}
            return {**body, key: items + [changed]}
    return None


@corruption("BODY.CALL_ID_CONTENT", "A request, or a compaction checkpoint's history, repeats a call item's call_id "
            "with other content (other arguments).")
def _call_id_content(bundle, dialect, rnd):
    ed = Editor(bundle, dialect)
    options = []
    users = ed.payload_users()
    places = [("inference_started", "request_payload", MB.REQUEST_INPUT)]
    places += [("compaction_installed", "checkpoint_payload", key) for key in MB.CHECKPOINT_CALL_ID_HISTORIES]
    for tag, field, key in places:
        for i in ed.lines_of(tag):
            got = _owned_body(ed, i, field, users)
            if got is not None and isinstance(got[1], dict) and (new := _reused_call_id(got[1], key)) is not None:
                options.append((i, got[0], new))
    got = pick(rnd, options)
    if got is None:
        return None
    i, path, new = got
    ed.set_body(path, new)
    return result(ed, "BODY.CALL_ID_CONTENT", i, note="call id reused")
