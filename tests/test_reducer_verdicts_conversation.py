"""Wrong verdicts the differential engine found with seed 1 (issue 18, `codex diff --seed 1`), each on a
minimal bundle: the kit's reducer profile must give the real reducer's verdict. The Codex tier
(``--codex -m codex``) replays every case through the reference reducer of its dialect.

- A compaction checkpoint's histories carry call items: a call id reused there with other content
  is rejected (model/bodies.py: CHECKPOINT_CALL_ID_HISTORIES).
- A previous_response_id that is not a string is read as absent (model/bodies.py: the request contract).
- A second or late completion of an inference changes the thread's conversation: v1 reducers
  append its outputs to the conversation as it stands, later ones set the conversation only for
  the thread's latest inference (model/bodies.py: CONVERSATION_RESPONSE_APPENDS_UNTIL).
"""

from __future__ import annotations

from typing import Any, Callable

from rollout_trace_kit.bundle import Bundle
from rollout_trace_kit.model import bodies as B

from .test_reducer_verdicts_bodies import (
    ALL, ROOT, TURN, USER, Case, EventSpec, Payloads, call, minimal, turn, verdict_tests,
)


def msg(role: str, text: str) -> dict:
    return {"type": "message", "role": role, "content": [{"type": "input_text", "text": text}]}


U0, U1, U2, U3, X = (msg("user", t) for t in ("u0", "u1", "u2", "u3", "x"))
A0, A1, A2 = (msg("assistant", t) for t in ("a0", "a1", "a2"))
MISMATCH = frozenset({"INFERENCE.CONVERSATION_MISMATCH"})
REUSED = frozenset({"BODY.CALL_ID_CONTENT"})


def start(ps: Payloads, call_id: str, inputs: list, previous: Any = None) -> EventSpec:
    body: dict = {"input": inputs}
    if previous is not None:
        body[B.REQUEST_PREVIOUS_RESPONSE] = previous
    event = {"type": "inference_started", "inference_call_id": call_id, "thread_id": ROOT, "codex_turn_id": TURN,
             "model": "gpt-5.5", "provider_name": "openai", "request_payload": ps.add("inference_request", body)}
    if ps.dialect == "v3":
        event["prepared_prompt_payload"] = ps.add("prepared_prompt", B.prompt_fragments(0))
    return (ROOT, TURN, event)


def done(ps: Payloads, call_id: str, outputs: list, response_id: str) -> EventSpec:
    body = {"response_id": response_id, "token_usage": None, "output_items": outputs}
    return (ROOT, TURN, {"type": "inference_completed", "inference_call_id": call_id, "response_id": response_id,
                         "upstream_request_id": None, "response_payload": ps.add("inference_response", body)})


Step = Callable[[Payloads], EventSpec]


def story(*steps: Step) -> Callable[[str], Bundle]:
    """A root turn holding these inference events, in order."""
    def build(dialect: str) -> Bundle:
        ps = Payloads(dialect)
        return minimal(dialect, [turn(), *(s(ps) for s in steps)], ps.bodies)
    return build


def s(call_id: str, inputs: list, previous: Any = None) -> Step:
    return lambda ps: start(ps, call_id, inputs, previous)


def d(call_id: str, outputs: list, response_id: str) -> Step:
    return lambda ps: done(ps, call_id, outputs, response_id)


def checkpoint(input_history: list, replacement_history: list) -> Step:
    def step(ps: Payloads) -> EventSpec:
        body = {"input_history": input_history, "replacement_history": replacement_history}
        return (ROOT, TURN, {"type": "compaction_installed", "compaction_id": "cmp-1",
                             "checkpoint_payload": ps.add("compaction_checkpoint", body)})
    return step


FIRST = (s("i0", [U0]), d("i0", [A0], "r0"))  # a first exchange, response r0
V1, LATER = ("v1",), ("v2", "v3")
CASES = [
    # a checkpoint history's call items are compared with the thread's earlier calls
    Case("checkpoint-input-history-reuses-a-call-id", ALL,
         story(s("i1", [USER]), d("i1", [call("{}")], "r1"), checkpoint([USER, call('{"a":1}')], [USER])), REUSED),
    Case("checkpoint-replacement-history-reuses-a-call-id", ALL,
         story(s("i1", [USER]), d("i1", [call("{}")], "r1"), checkpoint([USER, call("{}")], [USER, call('{"a":1}')])),
         REUSED),
    Case("checkpoint-history-reuses-a-call-as-another-call-type", ALL,
         story(s("i1", [USER]), d("i1", [call("{}")], "r1"),
               checkpoint([USER, {**call("{}"), "type": "image_generation_call"}], [USER])), REUSED),
    Case("checkpoint-history-repeats-a-call", ALL,
         story(s("i1", [USER]), d("i1", [call("{}")], "r1"), checkpoint([USER, call("{}")], [USER, call("{}")])),
         frozenset()),
    # a second completion of the thread's latest inference, same response id: v1 appends its outputs again
    Case("duplicate-completion-then-a-continuation", V1,
         story(s("i1", [U1]), d("i1", [A1], "r1"), d("i1", [A1], "r1"), s("i2", [U2], "r1")), MISMATCH),
    Case("duplicate-completion-then-a-continuation", LATER,
         story(s("i1", [U1]), d("i1", [A1], "r1"), d("i1", [A1], "r1"), s("i2", [U2], "r1")), frozenset()),
    Case("duplicate-completion-then-a-continuation-matching-it", ALL,
         story(s("i1", [U1]), d("i1", [A1], "r1"), d("i1", [A1], "r1"), s("i2", [A1], "r1")), frozenset()),
    # a late completion of an earlier inference, with a new response id that a request then continues
    Case("late-completion-continued-past-the-conversation", ALL,
         story(s("i1", [U1]), d("i1", [A1], "r1"), s("i2", [U3], "r1"), d("i1", [A2], "r3"), s("i3", [U2], "r3")),
         MISMATCH),
    Case("late-completion-continued-with-the-conversation", ALL,
         story(s("i1", [U1]), d("i1", [A1], "r1"), s("i2", [U3], "r1"), d("i1", [A2], "r3"), s("i3", [U3], "r3")),
         frozenset()),
    # the completion of an inference that is not the thread's latest: v1 appends, later releases ignore it
    Case("completion-of-an-inference-not-the-latest", V1,
         story(*FIRST, s("i1", [U1], "r0"), s("i2", [U1], "r0"), d("i1", [A1], "r1"), s("i3", [U1, X], "r0")), MISMATCH),
    Case("completion-of-an-inference-not-the-latest", LATER,
         story(*FIRST, s("i1", [U1], "r0"), s("i2", [U1], "r0"), d("i1", [A1], "r1"), s("i3", [U1, X], "r0")), frozenset()),
    Case("older-inference-completes-last", ALL,
         story(*FIRST, s("i1", [U1], "r0"), s("i2", [U1], "r0"), d("i2", [A1], "r2"), d("i1", [A2], "r1"),
               s("i3", [U1, A2], "r0")), MISMATCH),
    # a second completion of the latest inference with other outputs: v1 appends them, later releases replace
    Case("second-completion-with-other-outputs-continued-with-the-first", V1,
         story(*FIRST, s("i1", [U1], "r0"), d("i1", [A1], "r1"), d("i1", [A2], "r2"), s("i3", [U1, A1], "r0")), frozenset()),
    Case("second-completion-with-other-outputs-continued-with-the-first", LATER,
         story(*FIRST, s("i1", [U1], "r0"), d("i1", [A1], "r1"), d("i1", [A2], "r2"), s("i3", [U1, A1], "r0")), MISMATCH),
    Case("second-completion-with-other-outputs-continued-with-the-second", V1,
         story(*FIRST, s("i1", [U1], "r0"), d("i1", [A1], "r1"), d("i1", [A2], "r2"), s("i3", [U1, A2], "r0")), MISMATCH),
    Case("second-completion-with-other-outputs-continued-with-the-second", LATER,
         story(*FIRST, s("i1", [U1], "r0"), d("i1", [A1], "r1"), d("i1", [A2], "r2"), s("i3", [U1, A2], "r0")), frozenset()),
    # a previous_response_id that is not a string is read as absent: a full request (codex diff seed 1, 0.169.0)
    *(Case(f"previous-response-id-{name}", ALL, story(*FIRST, s("i1", [U1], value)), frozenset())
      for name, value in (("zero", 0), ("true", True), ("an-object", {}), ("an-array", []), ("a-float", 1.5))),
    Case("previous-response-id-a-number-is-not-compared", ALL,
         story(*FIRST, s("i1", [U1], "r0"), d("i1", [A1], "r1"), s("i2", [U2, X], 0)), frozenset()),
    Case("previous-response-id-a-string-is-compared", ALL,
         story(*FIRST, s("i1", [U1], "r0"), d("i1", [A1], "r1"), s("i2", [U2, X], "r0")), MISMATCH),
    # a completion after the next request: v1 appends to that request's conversation
    Case("duplicate-completion-after-the-next-request", V1,
         story(*FIRST, s("i1", [U1], "r0"), d("i1", [A1], "r1"), s("i2", [U2], "r1"), d("i1", [A1], "r1"),
               s("i3", [U2, X], "r1")), MISMATCH),
    Case("duplicate-completion-after-the-next-request", LATER,
         story(*FIRST, s("i1", [U1], "r0"), d("i1", [A1], "r1"), s("i2", [U2], "r1"), d("i1", [A1], "r1"),
               s("i3", [U2, X], "r1")), frozenset()),
]
# the kit's reducer profile, and (Codex tier) the real reducer, on every case (verdict_tests)
test_reducer_profile_gives_the_reference_reducers_verdict, test_the_reference_reducer_gives_the_expected_verdict = (
    verdict_tests(CASES))


def test_items_digest_alike_exactly_when_the_reprs_of_what_is_compared_are_alike():
    """conversation.digest encodes what the reducers compare with marshal, not repr (a twelfth of the
    cost on long message texts): over random items of every item type, with values that are == but
    written apart (1, 1.0 and True; 0.0 and -0.0; a list and the tuple `[].text` makes; key order), lone
    surrogates, integers beyond 64 bits and infinities, two items digest alike exactly when the reprs
    of what is compared are alike."""
    import itertools
    import random

    from rollout_trace_kit.validate.rules import conversation as C

    rng = random.Random(3)
    values = [1, 1.0, True, 0.0, -0.0, None, "1", "\ud800", 10**30, float("inf"), [1], [1.0], (1,),
              {"a": 1, "b": 2}, {"b": 2, "a": 1}, [{"text": "x"}], [{"text": "x"}, "y"], [{"text": 1}], "x"]
    kinds = [*B.ITEM_TYPE, "unknown", 7]
    fields = sorted({k.removesuffix("[].text") for t in B.ITEM_TYPE.values() for k in t.match_keys})

    def item() -> dict:
        return {"type": rng.choice(kinds), **{k: rng.choice(values) for k in fields if rng.random() < 0.6}}

    items = [item() for _ in range(400)]
    alike = 0
    for a, b in itertools.combinations(items, 2):
        same = repr(C.compared(a)) == repr(C.compared(b))
        assert (C.digest(a) == C.digest(b)) is same, (a, b)
        alike += same
    assert alike > 100  # equal pairs are there to be told apart wrongly
