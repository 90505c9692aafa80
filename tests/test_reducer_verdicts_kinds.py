"""Wrong verdicts about a tool call's kind (issue 18, `codex diff --seed 1`), each on a minimal bundle: the
kit's reducer profile must give the real reducer's verdict. The Codex tier (``--codex -m codex``) replays
every case through the reference reducer of its dialect.

- serde reads an integer tag as the variant index, in Rust declaration order
  (model: TaggedUnion.index_order, common.TOOL_KIND_INDEX_ORDER): `{"type": 0}` is an exec_command; so for
  a call's requester and summary (common.REQUESTER_INDEX_ORDER, SUMMARY_INDEX_ORDER) and a v3 ref's capture,
  not for the event payload's own tag.
- A runtime end holding a sub-agent activity is read as one whatever the call's tool kind, but an mcp
  call's from 0.169.0 on (model/bodies.py: ACTIVITY_UNREAD_SINCE).
- 0.169.0 and 0.170.0 fail on an accepted agent_message item holding an integer beyond i64 and u64
  (model/bodies.py: AGENT_MESSAGE_TYPED).
- A history acceptance of an item id its thread accepted before with a payload is not parsed (model/bodies.py:
  ACCEPTED_AGAIN_UNREAD).
- 0.164.0 parses a runtime start body's `invocation` as an MCP invocation (model/bodies.py:
  MCP_INVOCATION_SINCE, MCP_INVOCATION_UNTIL).
- A runtime start creates a terminal operation by its own kind (v2 on), not the call's; a write_stdin
  invocation naming a tool namespace is no dispatch (model/bodies.py: DISPATCH_NAMESPACED_UNPARSED).
"""

from __future__ import annotations

import json
from typing import Any, Callable

import pytest

from rollout_trace_kit.bundle import Bundle
from rollout_trace_kit.model import DIALECTS
from rollout_trace_kit.model.common import TOOL_KIND_INDEX_ORDER
from rollout_trace_kit.model.types import TaggedUnion
from rollout_trace_kit.validate import Options, Profile, validate_bundle

from .test_reducer_verdicts_bodies import (
    ALL, CHILD, CHILD_TURN, RELEASE, ROOT, TURN, Case, Payloads, child_thread, minimal, tool_started, turn,
    verdict_tests,
)
from .test_reducer_verdicts_diff23 import SPAWN_ARGS, activity, with_agent_call
from .test_reducer_verdicts_dispatch import WRITE_STDIN_ARGS, exec_begin

FIELDS = {"mcp": {"server": "s", "tool": "t"}, "other": {"name": "n"}}


def with_kind(kind: dict, ended: Any = None, runtime_end: bool = True) -> Callable[[str], Bundle]:
    """A tool call whose `kind` object is ``kind`` (an activity ends it unless ``runtime_end`` is False)."""
    def build(dialect: str) -> Bundle:
        b = with_agent_call(tool_kind="web", ended=ended, runtime_end=runtime_end)(dialect)
        new = orjson_compact(kind)
        b.lines = [line.replace(b'"kind":{"type":"web"}', b'"kind":' + new) for line in b.lines]
        return b
    return build


def orjson_compact(value: Any) -> bytes:
    import orjson

    return orjson.dumps(value)


def with_started(**fields: Any) -> Callable[[str], Bundle]:
    """A tool call (no runtime end) whose start holds ``fields`` in place of its own."""
    def build(dialect: str) -> Bundle:
        b = with_agent_call(tool_kind="web", runtime_end=False)(dialect)
        b.lines = [_edited(line, "tool_call_started", fields) for line in b.lines]
        return b
    return build


def with_captured(capture: Any) -> Callable[[str], Bundle]:
    """A v3 tool call whose invocation ref carries ``capture``."""
    def build(dialect: str) -> Bundle:
        b = with_agent_call(tool_kind="web", runtime_end=False)(dialect)
        lines = []
        for line in b.lines:
            event = json.loads(line)
            if event["payload"]["type"] == "tool_call_started":
                event["payload"]["invocation_payload"]["capture"] = capture
            lines.append(orjson_compact(event))
        b.lines = lines
        return b
    return build


def with_event_tag(tag: Any) -> Callable[[str], Bundle]:
    """A minimal bundle whose last event's payload tag is ``tag``."""
    def build(dialect: str) -> Bundle:
        b = minimal(dialect, [])
        event = json.loads(b.lines[-1])
        event["payload"]["type"] = tag
        b.lines[-1] = orjson_compact(event)
        return b
    return build


def _edited(line: bytes, variant: str, fields: dict) -> bytes:
    event = json.loads(line)
    if event["payload"]["type"] != variant:
        return line
    event["payload"].update(fields)
    return orjson_compact(event)


def with_exec_end(end_body: Any, *, started: bool) -> Callable[[str], Bundle]:
    """An exec_command call whose runtime end holds ``end_body``, after a runtime start or without one."""
    def build(dialect: str) -> Bundle:
        ps = Payloads(dialect)
        kind = {"type": "exec_command"}
        events = [tool_started(kind)]
        if started:
            events.append({"type": "tool_call_runtime_started", "tool_call_id": "call-1",
                           **({"kind": kind} if dialect != "v1" else {}),
                           "runtime_payload": ps.add("tool_runtime_event", exec_begin())})
        events.append({"type": "tool_call_runtime_ended", "tool_call_id": "call-1", "status": "completed",
                       "runtime_payload": ps.add("tool_runtime_event", end_body)})
        return minimal(dialect, [turn(), *((ROOT, TURN, e) for e in events)], ps.bodies)
    return build


def tool(name: str, act: str = "started", **extra: Any) -> Callable[[str], Bundle]:
    return with_kind({"type": name, **FIELDS.get(name, {})}, activity(act, **extra))


def with_runtimes(kind: str, runtimes: tuple[str, ...] = (), *, namespace: str | None = None, invoked: bool = True,
                  result: Any = None, runtime_body: Any = None) -> Callable[[str], Bundle]:
    """A tool call of ``kind`` (invoked as a dispatch payload, in ``namespace``), runtime starts of these kinds
    (v1 writes none), and its end whose result is ``result`` ("missing": a ref to no record)."""
    def build(dialect: str) -> Bundle:
        ps = Payloads(dialect)
        tool = "write_stdin" if kind == "write_stdin" else "exec_command"
        args = WRITE_STDIN_ARGS if kind == "write_stdin" else '{"cmd": "ls"}'
        body = {"tool_name": tool, "tool_namespace": namespace, "payload": {"type": "function", "arguments": args}}
        events: list[dict] = [tool_started(kind, ps.add("tool_invocation", body) if invoked else None, label=tool)]
        for own in runtimes:
            events.append({"type": "tool_call_runtime_started", "tool_call_id": "call-1",
                           **({"kind": {"type": own}} if dialect != "v1" else {}),
                           "runtime_payload": ps.add("tool_runtime_event", runtime_body or exec_begin())})
        result_ref = ps.add("tool_result", result)
        if result == "missing":
            del ps.bodies[len(ps.bodies)]
        events.append({"type": "tool_call_ended", "tool_call_id": "call-1", "status": "failed", "result_payload": result_ref})
        return minimal(dialect, [turn(), *((ROOT, TURN, e) for e in events)], ps.bodies)
    return build


def accepted_message(value: Any) -> Callable[[str], Bundle]:
    """An agent_message accepted into the root thread's history, holding ``value`` under an unknown key
    (its body written with the standard library: orjson writes no integer beyond 64 bits)."""
    def build(dialect: str) -> Bundle:
        item = {"type": "agent_message", "id": "amsg-1", "author": "/root/child", "recipient": "/root",
                "content": [{"type": "input_text", "text": "done"}], "metadata": {"n": value}}
        ps = Payloads(dialect)
        event = {"type": "history_item_accepted", "item_id": "amsg-1", "agent_message_payload": ps.add("protocol_event", None)}
        ps.bodies[1] = json.dumps(item).encode()
        return minimal(dialect, [turn(), (ROOT, TURN, event)], ps.bodies)
    return build


FCO = {"type": "function_call_output", "id": "fco-1", "call_id": "call-1", "output": "ok"}
AMSG = {"type": "agent_message", "id": "amsg-1", "author": "/root/child", "recipient": "/root",
        "content": [{"type": "input_text", "text": "done"}]}


def accepted_twice(field: str, first: Any, second: Any, second_thread: str = ROOT,
                   first_field: str | None = "") -> Callable[[str], Bundle]:
    """Two history acceptances of the first body's item id, the second (in ``second_thread``) holding ``second``;
    the first holds ``first`` in ``first_field`` (by default ``field``; None: no payload at all)."""
    def build(dialect: str) -> Bundle:
        ps = Payloads(dialect)
        item_id = first["id"]
        events = [turn()]
        if second_thread != ROOT:
            events += [child_thread(), turn(CHILD, CHILD_TURN)]
        accepted = {"type": "history_item_accepted", "item_id": item_id}
        if first_field is not None:
            accepted[first_field or field] = ps.add("protocol_event", first)
        events.append((ROOT, TURN, accepted))
        where = (ROOT, TURN) if second_thread == ROOT else (CHILD, CHILD_TURN)
        events.append((*where, {"type": "history_item_accepted", "item_id": item_id, field: ps.add("protocol_event", second)}))
        return minimal(dialect, events, ps.bodies)
    return build


SECOND = frozenset({"TOOL.SECOND_TERMINAL_OPERATION"})
ACTIVITY = frozenset({"BODY.AGENT_ACTIVITY"})
SCHEMA = frozenset({"EVENT.SCHEMA"})
V1, LATER = ("v1",), ("v2", "v3")
CASES = [
    # an integer tag is the variant of that index in Rust order (not the model's order)
    Case("tool-kind-index-0-is-exec-command", ALL, with_kind({"type": 0}, runtime_end=False), frozenset()),
    Case("tool-kind-index-3-is-mcp-with-its-fields", ALL, with_kind({"type": 3, **FIELDS["mcp"]}, runtime_end=False),
         frozenset()),
    Case("tool-kind-index-3-without-mcp-fields", ALL, with_kind({"type": 3}, runtime_end=False), SCHEMA),
    Case("tool-kind-index-11-is-other-with-its-name", ALL, with_kind({"type": 11, "name": "n"}, runtime_end=False),
         frozenset()),
    Case("tool-kind-index-past-the-variants", ALL, with_kind({"type": 12}, runtime_end=False), SCHEMA),
    Case("tool-kind-index-negative", ALL, with_kind({"type": -1}, runtime_end=False), SCHEMA),
    Case("tool-kind-index-6-is-spawn-agent", ALL, with_kind({"type": 6}, activity("started")), frozenset()),
    Case("tool-kind-index-4-is-web", ALL, with_kind({"type": 4}, activity("started")), ACTIVITY),
    Case("requester-index-0-is-model", ALL, with_started(requester={"type": 0}), frozenset()),
    Case("requester-index-1-is-code-cell-with-its-handle", ALL,
         with_started(requester={"type": 1, "runtime_cell_id": "1"}), frozenset({"TOOL.UNKNOWN_CODE_CELL"})),
    Case("requester-index-1-without-its-handle", ALL, with_started(requester={"type": 1}), SCHEMA),
    Case("requester-index-past-the-variants", ALL, with_started(requester={"type": 2}), SCHEMA),
    Case("summary-index-3-is-generic", ALL, with_started(summary={"type": 3, "label": "x"}), frozenset()),
    Case("summary-index-2-is-wait-agent", ALL, with_started(summary={"type": 2}), frozenset()),
    Case("summary-index-0-without-an-operation-id", ALL, with_started(summary={"type": 0}), SCHEMA),
    Case("summary-index-past-the-variants", ALL, with_started(summary={"type": 4, "label": "x"}), SCHEMA),
    Case("capture-index-0-is-complete", ("v3",), with_captured({"status": 0}), frozenset()),
    Case("capture-index-past-the-variants", ("v3",), with_captured({"status": 3, "original_bytes": 1}), SCHEMA),
    Case("event-tag-index-is-not-read", ALL, with_event_tag(1), frozenset({"EVENT.UNKNOWN_TYPE"})),
    # an exec runtime end is parsed as the end of the call's terminal operation: without a runtime start
    # there is none, and no reducer parses the body (measured on 0.125.0, 0.143.0, 0.162.0 and 0.164.0)
    Case("exec-runtime-end-without-a-start-is-not-parsed", ALL,
         with_exec_end({"call_id": "call-1", "aggregated_output": 5}, started=False), frozenset()),
    Case("exec-runtime-end-after-a-start-is-parsed", ALL,
         with_exec_end({"call_id": "call-1", "aggregated_output": 5}, started=True),
         frozenset({"BODY.TERMINAL_RUNTIME"})),
    # an activity ends a call of any kind: it must fit that kind
    Case("web-call-ended-by-a-started-activity", ALL, tool("web"), ACTIVITY),
    Case("apply-patch-call-ended-by-an-interrupted-activity", ALL, tool("apply_patch", "interrupted"), ACTIVITY),
    Case("other-call-ended-by-a-started-activity", ALL, tool("other"), ACTIVITY),
    Case("web-call-ended-by-a-completed-activity", ALL, tool("web", "completed"), frozenset()),
    Case("web-call-ended-by-a-completed-activity-of-no-uuid", ALL, tool("web", "completed", agent_thread_id="nope"),
         ACTIVITY),
    Case("exec-call-ended-by-a-completed-activity", ALL, tool("exec_command", "completed"), frozenset()),
    Case("web-call-ended-by-another-body", ALL, with_kind({"type": "web"}, {"x": 1}), frozenset()),
    Case("mcp-call-ended-by-a-started-activity", V1, tool("mcp"), ACTIVITY),
    Case("mcp-call-ended-by-a-started-activity", LATER, tool("mcp"), frozenset()),
    # a namespaced write_stdin invocation is no dispatch: no terminal operation at its start ...
    Case("namespaced-stdin-then-a-runtime-start", ALL, with_runtimes("write_stdin", ("write_stdin",), namespace="ns"),
         frozenset()),
    Case("namespaced-stdin-then-two-runtime-starts", ALL,
         with_runtimes("write_stdin", ("write_stdin", "write_stdin"), namespace="ns"), SECOND),
    # ... and 0.164.0 does not open its result (v2 and v3 open every result)
    Case("namespaced-stdin-result-missing", V1, with_runtimes("write_stdin", namespace="ns", result="missing"), frozenset()),
    Case("namespaced-stdin-result-missing", ("v2",), with_runtimes("write_stdin", namespace="ns", result="missing"),
         frozenset({"REF.FILE_EXISTS"})),
    Case("namespaced-stdin-result-missing", ("v3",), with_runtimes("write_stdin", namespace="ns", result="missing"),
         frozenset({"STORE.REF_RECORD"})),
    # the runtime's own kind creates the terminal operation (v2 on)
    Case("web-call-with-two-exec-runtimes", LATER, with_runtimes("web", ("exec_command", "exec_command"), invoked=False),
         SECOND),
    Case("web-call-with-two-stdin-runtimes", LATER, with_runtimes("web", ("write_stdin", "write_stdin"), invoked=False),
         SECOND),
    Case("web-call-with-an-exec-runtime", LATER, with_runtimes("web", ("exec_command",), invoked=False), frozenset()),
    Case("exec-call-with-two-web-runtimes", LATER, with_runtimes("exec_command", ("web", "web"), invoked=False),
         frozenset()),
    Case("exec-call-with-a-web-then-an-exec-runtime", LATER,
         with_runtimes("exec_command", ("web", "exec_command"), invoked=False), frozenset()),
    Case("dispatched-stdin-with-a-web-runtime", LATER, with_runtimes("write_stdin", ("web",)), frozenset()),
    Case("dispatched-stdin-with-an-exec-runtime", LATER, with_runtimes("write_stdin", ("exec_command",)), SECOND),
    # a started activity reads its call's invocation arguments whatever the payload's type (codex diff --seed 2, 0.169.0)
    *(Case(f"started-activity-of-an-invocation-payload-{name}", ALL,
           with_agent_call(invoked={"tool_name": "spawn_agent", "tool_namespace": "collaboration", "payload": payload}),
           frozenset() if ok else ACTIVITY)
      for name, payload, ok in (("typed-function-nul", {"type": "function\u0000", "arguments": SPAWN_ARGS}, True),
                                ("typed-custom", {"type": "custom", "arguments": SPAWN_ARGS}, True),
                                ("untyped", {"arguments": SPAWN_ARGS}, True),
                                ("with-input", {"type": "custom", "input": SPAWN_ARGS}, False),
                                ("null", None, False))),
    # 0.169.0 and 0.170.0 fail on an accepted agent_message item holding an integer beyond i64 and u64
    *(Case(f"accepted-agent-message-holding-{name}", ("v2",), accepted_message(value), frozenset({"BODY.MODEL_ITEM"}))
      for name, value in (("below-i64", -(2**63) - 1), ("above-u64", 2**64))),
    *(Case(f"accepted-agent-message-holding-{name}", ("v3",), accepted_message(value), frozenset())
      for name, value in (("below-i64", -(2**63) - 1), ("above-u64", 2**64))),
    *(Case(f"accepted-agent-message-holding-{name}", ("v2", "v3"), accepted_message(value), frozenset())
      for name, value in (("i64-min", -(2**63)), ("u64-max", 2**64 - 1), ("a-long-float", 1.8e19), ("digits-in-text", "1" * 30))),
    # an item id its thread accepted before: the payload of the second acceptance is not parsed (codex diff --seed 2)
    Case("tool-output-accepted-again-holding-another-item", ("v3",),
         accepted_twice("tool_output_payload", FCO, {**FCO, "type": "custom_tool_call_output", "id": "ctco-1"}), frozenset()),
    Case("tool-output-accepted-again-holding-null", ("v3",), accepted_twice("tool_output_payload", FCO, None), frozenset()),
    Case("tool-output-accepted-in-another-thread-holding-another-item", ("v3",),
         accepted_twice("tool_output_payload", FCO, {**FCO, "type": "custom_tool_call_output", "id": "ctco-1"}, CHILD),
         frozenset({"BODY.TOOL_OUTPUT_ITEM"})),
    Case("agent-message-accepted-again-holding-another-id", LATER,
         accepted_twice("agent_message_payload", AMSG, {**AMSG, "id": "amsg-9"}), frozenset()),
    Case("agent-message-accepted-again-holding-no-item", LATER,
         accepted_twice("agent_message_payload", AMSG, {"type": "nope"}), frozenset()),
    # ... only after an acceptance that held a payload the release reads (found by session 9's 100,000-mutant
    # codex diff of 0.171.0; its index rebuilds another mutant since the mutator table grew)
    Case("tool-output-accepted-again-after-one-without-payload", ("v3",),
         accepted_twice("tool_output_payload", FCO, {**FCO, "type": "custom_tool_call_output", "id": "ctco-1"},
                        first_field=None), frozenset({"BODY.TOOL_OUTPUT_ITEM"})),
    Case("agent-message-accepted-again-after-one-without-payload", LATER,
         accepted_twice("agent_message_payload", AMSG, {**AMSG, "id": "amsg-9"}, first_field=None),
         frozenset({"HISTORY.AGENT_MESSAGE"})),
    # v2 reads no tool_output_payload (an unknown key there); v3 does, and either payload counts
    Case("agent-message-accepted-again-after-a-tool-output", ("v2",),
         accepted_twice("agent_message_payload", FCO, {**AMSG, "id": "amsg-9"}, first_field="tool_output_payload"),
         frozenset({"HISTORY.AGENT_MESSAGE"})),
    Case("agent-message-accepted-again-after-a-tool-output", ("v3",),
         accepted_twice("agent_message_payload", FCO, {**AMSG, "id": "amsg-9"}, first_field="tool_output_payload"),
         frozenset()),
    # 0.164.0 parses a runtime start's `invocation` as an MCP invocation, whatever the tool kind (codex diff --seed 2)
    *(Case(f"web-runtime-start-with-an-mcp-invocation-{name}", V1,
           with_runtimes("web", ("web",), invoked=False, runtime_body={"call_id": "call-1", "invocation": inv}),
           frozenset({"BODY.MCP_INVOCATION"}) if bad else frozenset())
      for name, inv, bad in (("tool-a-number", {"server": "s", "tool": -1}, True), ("null", None, True),
                             ("without-server", {"tool": "t"}, True), ("of-strings", {"server": "s", "tool": "t"}, False),
                             ("arguments-a-string", {"server": "s", "tool": "t", "arguments": "x"}, False),
                             # serde's sequence form (model: MCP_INVOCATION_LAYOUT)
                             ("as-an-array", ["s", "t", None], False), ("as-a-short-array", ["s", "t"], True),
                             ("as-an-array-tool-a-number", ["s", 5, None], True))),
    Case("exec-runtime-start-with-an-mcp-invocation-null", V1,
         with_runtimes("exec_command", ("exec_command",), invoked=False, runtime_body={**exec_begin(), "invocation": None}),
         frozenset({"BODY.MCP_INVOCATION"})),
    Case("web-runtime-start-with-an-mcp-invocation-tool-a-number", LATER,
         with_runtimes("web", ("web",), invoked=False, runtime_body={"call_id": "call-1", "invocation": {"server": "s", "tool": -1}}),
         frozenset()),
]
# the kit's reducer profile, and (Codex tier) the real reducer, on every case (verdict_tests)
test_reducer_profile_gives_the_reference_reducers_verdict, test_the_reference_reducer_gives_the_expected_verdict = (
    verdict_tests(CASES))


@pytest.mark.parametrize("dialect", ALL)
def test_an_index_order_names_each_variant_once(dialect: str):
    d = DIALECTS[dialect]
    ordered = [t for t in d.types if isinstance(t, TaggedUnion) and t.index_order]
    assert ordered, "no tagged union states its serde variant order"
    for t in ordered:
        assert sorted(t.index_order) == sorted(t.tags), t.name
    assert d.type_as("ToolCallKind", TaggedUnion).index_order == TOOL_KIND_INDEX_ORDER


@pytest.mark.parametrize("dialect", ALL)
def test_an_index_tag_is_a_writer_finding(tmp_path, dialect: str):
    path = with_kind({"type": 0}, runtime_end=False)(dialect).write(tmp_path / "bundle")
    report = validate_bundle(path, Options(profile=Profile.WRITER, release=RELEASE[dialect]))
    found = [f for f in report.findings if f.invariant == "EVENT.VARIANT_INDEX"]
    assert [f.pointer for f in found] == ["/payload/kind/type"], [(f.invariant, f.message) for f in report.findings]
    assert "'exec_command'" in found[0].message


def _index_union_cases() -> list:
    from rollout_trace_kit.codex.diff.cli import epoch_readers
    from rollout_trace_kit.model.common import REQUESTER_INDEX_ORDER, SUMMARY_INDEX_ORDER

    unions = {"requester": REQUESTER_INDEX_ORDER, "summary": SUMMARY_INDEX_ORDER}
    return [pytest.param(r, field, order, id=f"{field}-{r}") for r in epoch_readers() for field, order in unions.items()]


@pytest.mark.codex
@pytest.mark.parametrize("release,field,order", _index_union_cases())
def test_every_epoch_reader_reads_an_integer_tag_in_the_models_index_order(tmp_path, release, field, order):
    """The measurement behind REQUESTER_INDEX_ORDER and SUMMARY_INDEX_ORDER, on the oldest reader of each
    epoch: an index past the order is refused as a variant index of that many variants, and each index
    below it is the variant the order names (it asks for that variant's required fields, or passes the line)."""
    import subprocess

    from rollout_trace_kit.codex.install import ensure_codex
    from rollout_trace_kit.model import dialect_for_schema_version, releases

    binary = ensure_codex(release)
    if binary is None:
        pytest.fail(f"could not install Codex {release} from npm")
    dialect = dialect_for_schema_version(releases.release(release).schema_version)
    union = dialect.type_as({"requester": "RawToolCallRequester", "summary": "ToolCallSummary"}[field], TaggedUnion)

    bundle = with_started(**{field: {"type": 0}})(dialect.name)
    started = next(n for n, line in enumerate(bundle.lines, 1) if b'"tool_call_started"' in line)

    def stderr(index: int) -> str:
        value = {"type": index, **({"label": "x"} if field == "summary" else {})}
        path = with_started(**{field: value})(dialect.name).write(tmp_path / f"{field}-{index}")
        run = subprocess.run([str(binary), "debug", "trace-reduce", str(path), "-o", str(tmp_path / "state.json")],
                             capture_output=True, text=True, timeout=120)
        return run.stderr

    assert f"expected variant index 0 <= i < {len(order)}" in stderr(len(order))
    for index, tag in enumerate(order):
        missing = [f.name for f in union.variant(tag).fields if f.required and (field != "summary" or f.name != "label")]
        err = stderr(index)
        if missing:
            assert f"missing field `{missing[0]}`" in err, (tag, err[:300])
        else:
            assert f"parse trace event line {started}\n" not in err, (tag, err[:300])  # its line is read
