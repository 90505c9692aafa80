"""Wrong verdicts of the reducer profile (issue 18, classes 4 to 6), each on a minimal bundle.

Every case is a bundle of a few events that the real reducer of the dialect's reference
release rejects (or accepts): the kit's reducer profile with ``--release`` must say the
same. The Codex tier (``--codex -m codex``) replays every case through the real reducer,
so the expected verdicts stay measured facts rather than typed-in ones.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from typing import Any, Callable

import orjson
import pytest

from rollout_trace_kit.bundle import Bundle, dumps_pretty
from rollout_trace_kit.model import DIALECTS
from rollout_trace_kit.model import bodies as B
from rollout_trace_kit.model.types import STORE_ZSTD_SHARDS
from rollout_trace_kit.store.shards import compress_records
from rollout_trace_kit.validate import Options, Profile, validate_bundle

ROOT, CHILD, TURN, CHILD_TURN = "thread-root", "thread-child", "turn-1", "turn-2"
RELEASE = {d.name: d.reference_release for d in DIALECTS.values()}
EventSpec = tuple[Any, Any, dict]  # (envelope thread_id, envelope codex_turn_id, payload)


def ref(dialect: str, n: int, kind: str, **extra: Any) -> dict:
    out = DIALECTS[dialect].layout.ref(n, kind)
    out.update(extra)
    return out


def minimal(dialect: str, events: list[EventSpec], bodies: dict[int, Any] | None = None) -> Bundle:
    """A bundle: rollout and root thread started, ``events``, the dialect's terminal event.

    ``bodies`` maps payload ordinals to values (bytes are stored as they are).
    """
    d = DIALECTS[dialect]
    manifest = {"schema_version": d.schema_version, "trace_id": "trace-1", "rollout_id": ROOT,
                "root_thread_id": ROOT, "started_at_unix_ms": 1, "raw_event_log": "trace.jsonl",
                "payloads_dir": "payloads"}
    specs: list[EventSpec] = [
        (None, None, {"type": "rollout_started", "trace_id": "trace-1", "root_thread_id": ROOT}),
        (None, None, {"type": "thread_started", "thread_id": ROOT, "agent_path": "/root", "metadata_payload": None}),
        *events,
        (None, None, {"type": d.terminal_variants[0], **({"status": "completed"} if d.terminal_variants[0] == "rollout_ended" else {})}),
    ]
    lines = [orjson.dumps({"schema_version": d.schema_version, "seq": i, "wall_time_unix_ms": 1000 + i, "rollout_id": ROOT,
                           "thread_id": t, "codex_turn_id": u, "payload": p}) for i, (t, u, p) in enumerate(specs, 1)]
    encoded = {n: v if isinstance(v, bytes) else dumps_pretty(v) for n, v in (bodies or {}).items()}
    if d.layout.store == STORE_ZSTD_SHARDS:
        records = [(d.layout.payload_id_for(n).encode(), body) for n, body in sorted(encoded.items())]
        payloads = {d.layout.file_for(shard=1): compress_records(records)}
    else:
        payloads = {d.layout.file_for(n=n): body for n, body in encoded.items()}
    return Bundle(dumps_pretty(manifest), lines, payloads=payloads)


def turn(thread: str = ROOT, turn_id: str = TURN) -> EventSpec:
    return (thread, turn_id, {"type": "codex_turn_started", "codex_turn_id": turn_id, "thread_id": thread})


def child_thread() -> EventSpec:
    return (None, None, {"type": "thread_started", "thread_id": CHILD, "agent_path": "/root/child", "metadata_payload": None})


def agent_result(child: str = CHILD, parent: str = ROOT) -> EventSpec:
    return (child, CHILD_TURN, {
        "type": "agent_result_observed", "edge_id": f"edge:agent_result:{child}:{CHILD_TURN}:{parent}",
        "child_thread_id": child, "child_codex_turn_id": CHILD_TURN, "parent_thread_id": parent,
        "message": "done", "carried_payload": None,
    })


def cell_events(thread: Any, turn_id: Any) -> list[EventSpec]:
    """A code cell started, answered and ended, every envelope naming ``thread`` and ``turn_id``."""
    return [
        (thread, turn_id, {"type": "code_cell_started", "runtime_cell_id": "1", "model_visible_call_id": "call-1", "source_js": "x"}),
        (thread, turn_id, {"type": "code_cell_initial_response", "runtime_cell_id": "1", "status": "running", "response_payload": None}),
        (thread, turn_id, {"type": "code_cell_ended", "runtime_cell_id": "1", "status": "completed", "response_payload": None}),
    ]


def cell_without_thread(dialect: str, which: int) -> Bundle:
    """Code cell events with the thread named in the envelope, but for event ``which`` (its turn is known)."""
    events = cell_events(ROOT, TURN)
    events[which] = (None,) + events[which][1:]
    return minimal(dialect, [turn(), *events])


class Payloads:
    """Payload bodies of a minimal bundle, numbered from 1 as writers do."""

    def __init__(self, dialect: str):
        self.dialect = dialect
        self.bodies: dict[int, Any] = {}

    def add(self, kind: str, value: Any, **extra: Any) -> dict:
        n = len(self.bodies) + 1
        self.bodies[n] = value
        return ref(self.dialect, n, kind, **extra)


def inference(ps: Payloads, call: str, inputs: list, outputs: list | None = None, response_id: str | None = None) -> list[EventSpec]:
    """An inference call of the root thread's turn: its start and (with ``outputs``) its completion."""
    start = {"type": "inference_started", "inference_call_id": call, "thread_id": ROOT, "codex_turn_id": TURN,
             "model": "gpt-5.5", "provider_name": "openai", "request_payload": ps.add("inference_request", {"input": inputs})}
    if ps.dialect == "v3":
        start["prepared_prompt_payload"] = ps.add("prepared_prompt", B.prompt_fragments(0))
    out = [(ROOT, TURN, start)]
    if outputs is not None:
        body = {"response_id": response_id, "token_usage": None, "output_items": outputs}
        out.append((ROOT, TURN, {"type": "inference_completed", "inference_call_id": call, "response_id": response_id,
                                 "upstream_request_id": None, "response_payload": ps.add("inference_response", body)}))
    return out


def with_prompt(fragments: list[str], parts: int = 1, parts_on: str | None = None) -> Callable[[str], Bundle]:
    """An inference start whose prepared prompt has ``parts`` model items and these fragments; with
    ``parts_on``, those parts sit on that other ref instead (request_payload, metadata_payload)."""
    def build(dialect: str) -> Bundle:
        ps = Payloads(dialect)
        items = [ps.add("model_item", USER) for _ in range(parts)]
        start = {"type": "inference_started", "inference_call_id": "inf-1", "thread_id": ROOT, "codex_turn_id": TURN,
                 "model": "gpt-5.5", "provider_name": "openai", "request_payload": ps.add("inference_request", {"input": [USER]})}
        if parts_on is None:
            start["prepared_prompt_payload"] = ps.add("prepared_prompt", fragments, parts=items)
            return minimal(dialect, [turn(), (ROOT, TURN, start)], ps.bodies)
        start["prepared_prompt_payload"] = ps.add("prepared_prompt", B.prompt_fragments(0))
        start[parts_on]["parts"] = items
        return minimal(dialect, [turn(), (ROOT, TURN, start)], ps.bodies)
    return build


def with_null_body(which: str) -> Callable[[str], Bundle]:
    """A child thread whose metadata payload, or an inference whose request payload, is JSON null."""
    def build(dialect: str) -> Bundle:
        ps = Payloads(dialect)
        if which == "metadata":
            child = (None, None, {"type": "thread_started", "thread_id": CHILD, "agent_path": "/root/child",
                                  "metadata_payload": ps.add("session_metadata", None)})
            return minimal(dialect, [child], ps.bodies)
        events = inference(ps, "inf-1", [USER])
        ps.bodies[1] = None  # the request
        return minimal(dialect, [turn(), *events], ps.bodies)
    return build


def with_items(inputs: list, outputs: list | None = None) -> Callable[[str], Bundle]:
    def build(dialect: str) -> Bundle:
        ps = Payloads(dialect)
        return minimal(dialect, [turn(), *inference(ps, "inf-1", inputs, outputs)], ps.bodies)
    return build


def with_two_inferences(answered: dict, resent: dict) -> Callable[[str], Bundle]:
    """A response answering ``answered``, then a request resending it as ``resent``."""
    def build(dialect: str) -> Bundle:
        ps = Payloads(dialect)
        events = [*inference(ps, "inf-1", [USER], [answered]), *inference(ps, "inf-2", [USER, resent], [])]
        return minimal(dialect, [turn(), *events], ps.bodies)
    return build


def with_checkpoint(input_history: list, replacement_history: list) -> Callable[[str], Bundle]:
    def build(dialect: str) -> Bundle:
        ps = Payloads(dialect)
        body = {"input_history": input_history, "replacement_history": replacement_history}
        installed = {"type": "compaction_installed", "compaction_id": "cmp-1",
                     "checkpoint_payload": ps.add("compaction_checkpoint", body)}
        return minimal(dialect, [turn(), (ROOT, TURN, installed)], ps.bodies)
    return build


def exec_begin(pid: Any) -> dict:
    return {"call_id": "call-1", "process_id": pid, "turn_id": TURN, "command": ["/bin/bash", "-lc", "ls"],
            "cwd": "/home/dev/project", "source": "unified_exec_startup"}


def exec_end(pid: Any) -> dict:
    return {**exec_begin(pid), "aggregated_output": "", "exit_code": 0, "status": "completed"}


def tool_started(kind: Any, invocation: dict | None = None, call_id: str = "call-1", label: str | None = None) -> dict:
    """A tool_call_started the model asked for: ``kind`` a tag or a kind object, a generic summary
    labelled ``label`` (default: the kind's tag), ``invocation`` its invocation ref (or None)."""
    kind = {"type": kind} if isinstance(kind, str) else kind
    return {"type": "tool_call_started", "tool_call_id": call_id, "model_visible_call_id": call_id,
            "code_mode_runtime_tool_id": None, "requester": {"type": "model"}, "kind": kind,
            "summary": {"type": "generic", "label": label or kind["type"], "input_preview": None, "output_preview": None},
            "invocation_payload": invocation}


def with_exec(begin_pid: Any, end_pid: Any, begin_extra: dict | None = None, end_extra: dict | None = None) -> Callable[[str], Bundle]:
    """An exec_command tool call whose runtime start and end name these process ids (and hold ``*_extra``)."""
    def build(dialect: str) -> Bundle:
        ps = Payloads(dialect)
        kind = {"type": "exec_command"}
        started = tool_started(kind)
        begin = {"type": "tool_call_runtime_started", "tool_call_id": "call-1",
                 **({"kind": kind} if dialect != "v1" else {}),
                 "runtime_payload": ps.add("tool_runtime_event", {**exec_begin(begin_pid), **(begin_extra or {})})}
        end = {"type": "tool_call_runtime_ended", "tool_call_id": "call-1", "status": "completed",
               "runtime_payload": ps.add("tool_runtime_event", {**exec_end(end_pid), **(end_extra or {})})}
        ended = {"type": "tool_call_ended", "tool_call_id": "call-1", "status": "completed", "result_payload": None}
        return minimal(dialect, [turn(), *((ROOT, TURN, e) for e in (started, begin, end, ended))], ps.bodies)
    return build


def accepted_output(body: Any, item_id: str = "fco-1") -> Callable[[str], Bundle]:
    """A tool output accepted into the root thread's history, its payload ``body`` (v3)."""
    def build(dialect: str) -> Bundle:
        ps = Payloads(dialect)
        accepted = {"type": "history_item_accepted", "item_id": item_id,
                    "tool_output_payload": ps.add("protocol_event", body)}
        return minimal(dialect, [turn(), (ROOT, TURN, accepted)], ps.bodies)
    return build


def call(arguments: str = "{}", call_id: str = "call-1") -> dict:
    return {"type": "function_call", "name": "exec_command", "arguments": arguments, "call_id": call_id}


def output(text: str, call_id: str = "call-1") -> dict:
    return {"type": "function_call_output", "call_id": call_id, "output": text}


OUTPUT = {"type": "function_call_output", "id": "fco-1", "call_id": "call-1", "output": "ok"}
USER = {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "hi"}]}


@dataclass(frozen=True)
class Case:
    name: str
    dialects: tuple[str, ...]
    build: Callable[[str], Bundle]
    expected: frozenset[str]  # the reducer-profile invariants; empty: the reducer accepts it

    def ids(self) -> list[str]:
        return [f"{self.name}-{d}" for d in self.dialects]


ALL = ("v1", "v2", "v3")
CASES = [
    # class 4: agent_result_observed names a child thread that was never (or not yet) started
    Case("agent-result-unknown-child", ALL, lambda d: minimal(d, [agent_result(child="nobody")]), frozenset({"THREAD.UNKNOWN"})),
    Case("agent-result-before-child-start", ALL, lambda d: minimal(d, [agent_result(), child_thread()]), frozenset({"THREAD.UNKNOWN"})),
    Case("agent-result-unknown-parent", ALL, lambda d: minimal(d, [child_thread(), agent_result(parent="nobody")]), frozenset()),
    Case("agent-result-known-child", ALL, lambda d: minimal(d, [child_thread(), agent_result()]), frozenset()),
    # class 5: a code cell event with a null envelope thread_id, its turn known: 0.171.0 rejects it, older
    # reducers take the turn's thread (release data: Variant.thread_required_since)
    *(Case(f"cell-event-{i}-without-thread", ("v1", "v2"), lambda d, i=i: cell_without_thread(d, i), frozenset())
      for i in range(3)),
    *(Case(f"cell-event-{i}-without-thread", ("v3",), lambda d, i=i: cell_without_thread(d, i), frozenset({"CELL.MISSING_CONTEXT"}))
      for i in range(3)),
    Case("cell-events-in-context", ALL, lambda d: minimal(d, [turn(), *cell_events(ROOT, TURN)]), frozenset()),
    # class 6: payload bodies. Compaction items need a string encrypted_content; checkpoint histories are
    # normalised like any conversation.
    Case("compaction-item-without-encrypted-content", ALL, with_items([USER, {"type": "compaction"}]),
         frozenset({"BODY.MODEL_ITEM"})),
    Case("compaction-summary-in-a-response-without-encrypted-content", ALL,
         with_items([USER], [{"type": "compaction_summary", "encrypted_content": None}]), frozenset({"BODY.MODEL_ITEM"})),
    Case("compaction-item-with-encrypted-content", ALL, with_items([USER, {"type": "compaction", "encrypted_content": "x"}]),
         frozenset()),
    Case("checkpoint-with-an-unsupported-item", ALL, with_checkpoint([USER], [{"type": B.unsupported_item_type()}]),
         frozenset({"BODY.MODEL_ITEM"})),
    Case("checkpoint-of-model-items", ALL, with_checkpoint([USER], [{"type": "compaction", "encrypted_content": "x"}]),
         frozenset()),
    # class 6: a terminal operation keeps its process id, a string
    Case("exec-end-changes-the-process-id", ALL, with_exec("4242", "9999"), frozenset({"BODY.TERMINAL_RUNTIME"})),
    Case("exec-begin-process-id-is-a-number", ALL, with_exec(4242, "4242"), frozenset({"BODY.TERMINAL_RUNTIME"})),
    Case("exec-end-process-id-is-a-number", ALL, with_exec("4242", 4242), frozenset({"BODY.TERMINAL_RUNTIME"})),
    Case("exec-keeps-its-process-id", ALL, with_exec("4242", "4242"), frozenset()),
    Case("exec-end-aggregated-output-null", ALL, with_exec("1", "1", end_extra={"aggregated_output": None}),
         frozenset({"BODY.TERMINAL_RUNTIME"})),
    Case("exec-begin-interaction-input-a-number", ALL, with_exec("1", "1", begin_extra={"interaction_input": 5}),
         frozenset({"BODY.TERMINAL_RUNTIME"})),
    Case("exec-begin-interaction-input-null", ALL, with_exec("1", "1", begin_extra={"interaction_input": None}), frozenset()),
    Case("exec-end-without-process-id", ALL, with_exec("4242", None), frozenset()),
    Case("exec-begin-without-process-id", ALL, with_exec(None, "4242"), frozenset()),
    # class 6: an accepted tool output is a tool output item whose id is the event's item_id (v3)
    Case("accepted-output-of-another-id", ("v3",), accepted_output({**OUTPUT, "id": "fco-2"}), frozenset({"BODY.TOOL_OUTPUT_ITEM"})),
    Case("accepted-output-without-id", ("v3",), accepted_output({k: v for k, v in OUTPUT.items() if k != "id"}),
         frozenset({"BODY.TOOL_OUTPUT_ITEM"})),
    Case("accepted-output-that-is-a-call", ("v3",), accepted_output({**OUTPUT, "type": "function_call"}),
         frozenset({"BODY.TOOL_OUTPUT_ITEM"})),
    Case("accepted-output-that-is-a-user-message", ("v3",), accepted_output({**USER, "id": "fco-1"}),
         frozenset({"BODY.TOOL_OUTPUT_ITEM"})),
    Case("accepted-output-that-does-not-normalise", ("v3",), accepted_output({"type": "reasoning", "id": "fco-1", "summary": []}),
         frozenset({"BODY.MODEL_ITEM"})),
    *(Case(f"accepted-{t}", ("v3",), accepted_output({**OUTPUT, "type": t}), frozenset()) for t in B.TOOL_OUTPUT_TYPES),
    # class 6: a model-visible call id reused in a thread with other content
    Case("call-id-reused-with-other-arguments-in-a-request", ALL, with_items([USER, call("{}"), call('{"a":1}')]),
         frozenset({"BODY.CALL_ID_CONTENT"})),
    Case("call-id-reused-with-other-arguments-by-the-response", ALL, with_items([USER, call("{}")], [call('{"a":1}')]),
         frozenset({"BODY.CALL_ID_CONTENT"})),
    Case("call-id-resent-with-the-same-arguments", ALL, with_items([USER, call("{}")], [call("{}")]), frozenset()),
    Case("call-id-reused-by-another-name-same-arguments", ALL,
         with_items([USER, call("{}"), {**call("{}"), "name": "other"}]), frozenset()),
    Case("two-call-ids", ALL, with_items([USER, call("{}"), call('{"a":1}', "call-2")]), frozenset()),
    Case("custom-call-id-reused-with-other-input", ALL,
         with_items([USER, *({"type": "custom_tool_call", "name": "exec", "input": x, "call_id": "call-1"} for x in "ab")]),
         frozenset({"BODY.CALL_ID_CONTENT"})),
    Case("custom-call-answered-then-resent-with-another-input", ALL,
         with_two_inferences({"type": "custom_tool_call", "name": "exec", "input": "a", "call_id": "call-1"},
                             {"type": "custom_tool_call", "name": "exec", "input": "b", "call_id": "call-1"}),
         frozenset({"BODY.CALL_ID_CONTENT"})),
    Case("custom-call-id-reused-with-another-status", ALL,
         with_items([USER, *({"type": "custom_tool_call", "status": x, "name": "exec", "input": "a", "call_id": "call-1"}
                             for x in ("completed", "in_progress"))]),
         frozenset()),  # measured: not every key of a call item is compared (the kit compares `input`)
    Case("custom-call-resent-without-its-id", ALL,
         with_items([USER], [{"type": "custom_tool_call", "id": "ctc-1", "name": "exec", "input": "a", "call_id": "call-1"}]),
         frozenset()),
    Case("output-reused-with-other-text", ("v1",), with_items([USER, call(), output("a"), output("b")]),
         frozenset({"BODY.CALL_ID_CONTENT"})),
    Case("output-reused-with-other-text", ("v2", "v3"), with_items([USER, call(), output("a"), output("b")]), frozenset()),
    # class 6: v3 prepared prompts: fragments that splice into JSON with their parts; parts elsewhere
    Case("prompt-fragments-that-splice", ("v3",), with_prompt(B.prompt_fragments(2), parts=2), frozenset()),
    Case("prompt-fragments-with-a-bad-separator", ("v3",), with_prompt([B.PROMPT_HEAD, ",,", "]}"], parts=2),
         frozenset({"BODY.PREPARED_PROMPT"})),
    Case("prompt-fragments-with-trailing-text", ("v3",), with_prompt([B.PROMPT_HEAD, "]} x"]), frozenset({"BODY.PREPARED_PROMPT"})),
    Case("prompt-fragments-with-a-bare-key", ("v3",), with_prompt(['{input:[', "]}"]), frozenset({"BODY.PREPARED_PROMPT"})),
    Case("prompt-fragments-of-an-array", ("v3",), with_prompt(["[", "]"]), frozenset()),
    # serde_json's syntax, not Python's: NaN and Infinity are not JSON; an integer of any length is
    # (Python's json refuses one past 4,300 digits); a lone surrogate escape is read there (measured)
    *(Case(f"prompt-fragments-holding-{name}", ("v3",), with_prompt([B.PROMPT_HEAD, f",{value}]," + B.PROMPT_TAIL]),
           frozenset({"BODY.PREPARED_PROMPT"})) for name, value in (("nan", "NaN"), ("infinity", "Infinity"),
                                                                     ("minus-infinity", "-Infinity"))),
    Case("prompt-fragments-holding-a-5000-digit-integer", ("v3",),
         with_prompt([B.PROMPT_HEAD, "," + "7" * 5000 + "]," + B.PROMPT_TAIL]), frozenset()),
    Case("prompt-fragments-holding-1e400", ("v3",), with_prompt([B.PROMPT_HEAD, ",1e400]," + B.PROMPT_TAIL]), frozenset()),
    Case("prompt-fragments-holding-a-lone-surrogate", ("v3",),
         with_prompt([B.PROMPT_HEAD, ',"\\ud800"],' + B.PROMPT_TAIL]), frozenset()),
    # deeper than Python's parser goes: 0.171.0 takes any depth there, and refuses what does not close
    Case("prompt-fragments-nesting-5000-levels", ("v3",),
         with_prompt([B.PROMPT_HEAD, "," + "[" * 5000 + "]" * 5000 + "]," + B.PROMPT_TAIL]), frozenset()),
    Case("prompt-fragments-unclosed-5000-levels", ("v3",),
         with_prompt([B.PROMPT_HEAD, "," + "[" * 5000 + "]," + B.PROMPT_TAIL]), frozenset({"BODY.PREPARED_PROMPT"})),
    Case("parts-on-a-request", ("v3",), with_prompt([], parts=1, parts_on="request_payload"), frozenset({"BODY.PREPARED_PROMPT"})),
    Case("empty-parts-on-a-request", ("v3",), with_prompt([], parts=0, parts_on="request_payload"), frozenset()),
    # class 6 (found by mutating real bundles): a payload the reducer opens whose body is JSON null
    Case("metadata-payload-null", ALL, with_null_body("metadata"), frozenset({"BODY.THREAD_METADATA"})),
    Case("request-payload-null", ALL, with_null_body("request"), frozenset({"BODY.INFERENCE_REQUEST"})),
]
def kit_verdict(tmp_path, bundle: Bundle, dialect: str):
    path = bundle.write(tmp_path / "bundle")
    return validate_bundle(path, Options(profile=Profile.REDUCER, release=RELEASE[dialect]))


def assert_kit_verdict(tmp_path, case: Case, dialect: str) -> None:
    """The kit's reducer profile reports exactly the case's expected errors (the verdict files share it)."""
    report = kit_verdict(tmp_path, case.build(dialect), dialect)
    errors = {f.invariant for f in report.findings if f.severity.value == "error"}
    assert errors == set(case.expected), [(f.invariant, f.message) for f in report.findings]
    assert report.ok is (not case.expected)


def assert_reference_verdict(tmp_path, case: Case, dialect: str, binary: str) -> None:
    """The real reducer accepts the case exactly when it expects no error."""
    path = case.build(dialect).write(tmp_path / "bundle")
    run = subprocess.run([binary, "debug", "trace-reduce", str(path), "-o", str(tmp_path / "state.json")],
                         capture_output=True, text=True, timeout=120)
    assert (run.returncode == 0) is (not case.expected), run.stderr[:500]


def verdict_tests(cases: list[Case]):
    """The two tests every verdict file runs on its cases, each case in each of its dialects: the kit's
    reducer profile, and (Codex tier) the dialect's real reference reducer."""
    params = [pytest.param(c, d, id=f"{c.name}-{d}") for c in cases for d in c.dialects]

    @pytest.mark.parametrize("case,dialect", params)
    def kit(tmp_path, case: Case, dialect: str):
        assert_kit_verdict(tmp_path, case, dialect)

    @pytest.mark.codex
    @pytest.mark.parametrize("case,dialect", params)
    def reference(tmp_path, case: Case, dialect: str, codex_binaries):
        assert_reference_verdict(tmp_path, case, dialect, codex_binaries[dialect])

    return kit, reference


# the kit's reducer profile, and (Codex tier) the real reducer, on every case (verdict_tests)
test_reducer_profile_gives_the_reference_reducers_verdict, test_the_reference_reducer_gives_the_expected_verdict = (
    verdict_tests(CASES))
