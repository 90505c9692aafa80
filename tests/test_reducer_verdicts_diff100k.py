"""Wrong verdicts the 100,000-mutant run of `codex diff --release 0.169.0 --seed 0` found (issue 18),
each on a minimal bundle: the kit's reducer profile must give the real reducer's verdict. The Codex
tier (``--codex -m codex``) replays every case through the reference reducer of its dialect.
"""

from __future__ import annotations

from typing import Any, Callable

from rollout_trace_kit.bundle import Bundle
from rollout_trace_kit.model import DIALECTS

from .test_reducer_verdicts_bodies import ALL, ROOT, TURN, Case, Payloads, minimal, tool_started, turn, verdict_tests
from .test_reducer_verdicts_diff23 import EXEC_BEGIN, EXEC_END, activity, invocation, stdin_invocation, with_runtime

AGENT = frozenset({"BODY.AGENT_ACTIVITY"})
TERMINAL = frozenset({"BODY.TERMINAL_RUNTIME"})
FILES = ("v1", "v2")  # the dialects whose refs name a path (v3 rejects a second ref that differs)
NOT_AN_INVOCATION = {"type": "session_configured", "thread_id": "t"}


def with_invocation_renamed(renamed_body: Any, restored: bool = False, before: bool = False) -> Callable[[str], Bundle]:
    """A spawn_agent call whose started activity reads its invocation, and a protocol event whose ref
    gives the invocation's id another path (holding ``renamed_body``): after the call's start (or,
    ``before``, ahead of it), then (``restored``) a ref naming the id's own path again."""
    def build(dialect: str) -> Bundle:
        ps = Payloads(dialect)
        inv = ps.add("tool_invocation", invocation())
        other = ps.add("protocol_event", renamed_body)
        renamed = {**other, "raw_payload_id": inv["raw_payload_id"]}

        def observed(r: dict) -> tuple:
            return (None, None, {"type": "protocol_event_observed", "event_type": "session_configured", "event_payload": r})
        started = tool_started("spawn_agent", inv)
        end = {"type": "tool_call_runtime_ended", "tool_call_id": "call-1", "status": "completed",
               "runtime_payload": ps.add("tool_runtime_event", activity())}
        events = [turn(), (ROOT, TURN, started), (ROOT, TURN, end)]
        events.insert(1 if before else 2, observed(renamed))
        if restored:
            events.insert(3, observed({**inv, "kind": {"type": "protocol_event"}}))
        return minimal(dialect, events, ps.bodies)
    return build


def with_dispatched_write_stdin_end(end_body: Any, variant: str = "tool_call_runtime_ended",
                                   status: str = "completed", runtime: str | None = None) -> Callable[[str], Bundle]:
    """A write_stdin call dispatched with its invocation (its start created the terminal operation), then a
    runtime end (or the ``variant`` tool_call_ended) holding ``end_body``."""
    def build(dialect: str) -> Bundle:
        ps = Payloads(dialect)
        started = tool_started("write_stdin", ps.add("tool_invocation", stdin_invocation()))
        run = [] if runtime is None else [(ROOT, TURN, {
            "type": "tool_call_runtime_started", "tool_call_id": "call-1", **({"kind": {"type": runtime}} if dialect != "v1" else {}),
            "runtime_payload": ps.add("tool_runtime_event", EXEC_BEGIN)})] if runtime != "end" else [(ROOT, TURN, {
                "type": "tool_call_runtime_ended", "tool_call_id": "call-1", "status": "completed",
                "runtime_payload": ps.add("tool_runtime_event", EXEC_END)})]
        if variant == "tool_call_ended":
            end = {"type": variant, "tool_call_id": "call-1", "status": status,
                   "result_payload": ps.add("tool_result", end_body)}
        else:
            end = {"type": variant, "tool_call_id": "call-1", "status": "completed",
                   "runtime_payload": ps.add("tool_runtime_event", end_body)}
        return minimal(dialect, [turn(), (ROOT, TURN, started), *run, (ROOT, TURN, end)], ps.bodies)
    return build


WRITE_STDIN_INDEX = next(i for i, t in enumerate(DIALECTS["v2"].type("ToolCallKind").index_order) if t == "write_stdin")
START_WITHOUT_COMMAND = {"call_id": "call-1", "started_at_ms": 5, "sender_thread_id": ROOT, "receiver_thread_ids": []}

CASES = [
    # index 57355 (ref.id): the reducers (v1, v2) keep the last ref of each payload id, and a started
    # activity reads its call's invocation by id: at the path of the id's last ref (model/bodies.py:
    # DEFERRED_READ_BY_LAST_REF), whatever that ref's kind
    Case("activity-invocation-id-renamed-to-another-body", FILES, with_invocation_renamed(NOT_AN_INVOCATION), AGENT),
    Case("activity-invocation-id-renamed-to-a-copy", FILES, with_invocation_renamed(invocation()), frozenset()),
    Case("activity-invocation-id-renamed-then-restored", FILES,
         with_invocation_renamed(NOT_AN_INVOCATION, restored=True), frozenset()),
    Case("activity-invocation-id-renamed-before-the-call", FILES,
         with_invocation_renamed(NOT_AN_INVOCATION, before=True), frozenset()),
    # index 18590 (value.payload.int_edge): a write_stdin runtime start that creates the terminal operation
    # is parsed as the operation's start, as an exec_command's (model: TERMINAL_START_KINDS), on
    # 0.125.0 to 0.170.0; in v2 the runtime's own kind decides (an integer tag is its variant index)
    Case("write-stdin-runtime-start-without-command", ALL, with_runtime("write_stdin", START_WITHOUT_COMMAND, EXEC_END),
         TERMINAL),
    Case("write-stdin-runtime-start-of-an-exec", ALL, with_runtime("write_stdin", EXEC_BEGIN, EXEC_END), frozenset()),
    Case("wait-call-with-write-stdin-runtime-without-command", ("v2", "v3"),
         with_runtime("wait_agent", START_WITHOUT_COMMAND, EXEC_END, runtime_kind="write_stdin"), TERMINAL),
    Case("wait-call-with-runtime-kind-index-without-command", ("v2", "v3"),
         with_runtime("wait_agent", START_WITHOUT_COMMAND, EXEC_END, runtime_kind=WRITE_STDIN_INDEX), TERMINAL),
    # the same neighbourhood: a write_stdin's runtime end is parsed as a "write_stdin terminal response", an
    # exec end or a dispatch payload (model: TERMINAL_RESPONSE_KINDS, bodies.DISPATCH_RESPONSE)
    Case("write-stdin-runtime-end-empty", ALL, with_runtime("write_stdin", EXEC_BEGIN, {}), TERMINAL),
    Case("write-stdin-runtime-end-exit-code-only", ALL,
         with_runtime("write_stdin", EXEC_BEGIN, {"exit_code": 0}), frozenset()),
    Case("write-stdin-runtime-end-exit-code-a-string", ALL,
         with_runtime("write_stdin", EXEC_BEGIN, {"exit_code": "0"}), TERMINAL),
    Case("write-stdin-runtime-end-other-process", ALL,
         with_runtime("write_stdin", EXEC_BEGIN, {**EXEC_END, "process_id": "2"}), TERMINAL),
    Case("write-stdin-runtime-end-direct-response", ALL,
         with_runtime("write_stdin", EXEC_BEGIN, {"type": "direct_response", "response_item": 5}),
         frozenset()),
    Case("write-stdin-runtime-end-direct-response-without-item", ALL,
         with_runtime("write_stdin", EXEC_BEGIN, {"type": "direct_response"}), TERMINAL),
    Case("write-stdin-runtime-end-without-operation", ALL, with_runtime("write_stdin", None, {}),
         frozenset()),
    Case("dispatched-write-stdin-runtime-end-empty", ALL, with_dispatched_write_stdin_end({}), TERMINAL),
    Case("dispatched-write-stdin-runtime-end-exit-code-only", ALL, with_dispatched_write_stdin_end({"exit_code": 0}),
         frozenset()),
    Case("dispatched-write-stdin-result-empty", ALL, with_dispatched_write_stdin_end({}, "tool_call_ended"), TERMINAL),
    Case("dispatched-write-stdin-result-exit-code-a-string", ALL,
         with_dispatched_write_stdin_end({"exit_code": "0"}, "tool_call_ended"), TERMINAL),
    # a runtime start or end on the call: its result is not parsed
    Case("dispatched-write-stdin-with-a-web-runtime-result-empty", ("v2", "v3"),
         with_dispatched_write_stdin_end({}, "tool_call_ended", runtime="web"), frozenset()),
    Case("dispatched-write-stdin-with-a-web-runtime-result-null", ("v2", "v3"),
         with_dispatched_write_stdin_end(None, "tool_call_ended", runtime="web"), frozenset()),
    Case("dispatched-write-stdin-with-a-runtime-end-result-empty", ALL,
         with_dispatched_write_stdin_end({}, "tool_call_ended", runtime="end"), frozenset()),
    Case("dispatched-write-stdin-result-null", ALL, with_dispatched_write_stdin_end(None, "tool_call_ended"), TERMINAL),
    *(Case(f"dispatched-write-stdin-{status}-result-empty", ALL,
           with_dispatched_write_stdin_end({}, "tool_call_ended", status), TERMINAL)
      for status in ("failed", "cancelled", "aborted", "running")),
    Case("dispatched-write-stdin-result-direct-response", ALL,
         with_dispatched_write_stdin_end({"type": "direct_response", "response_item": None}, "tool_call_ended"), frozenset()),
    Case("wait-call-with-write-stdin-runtime-end-empty", ("v2", "v3"),
         with_runtime("wait_agent", EXEC_BEGIN, {}, runtime_kind="write_stdin"), TERMINAL),
]
# the kit's reducer profile, and (Codex tier) the real reducer, on every case (verdict_tests)
test_reducer_profile_gives_the_reference_reducers_verdict, test_the_reference_reducer_gives_the_expected_verdict = (
    verdict_tests(CASES))
