"""Numbers beyond f64 the kit misjudged, each on a minimal bundle: the kit's reducer profile must give the
real reducer's verdict. The Codex tier (``--codex -m codex``) replays every case through the real reducer.

Measured on every epoch's first reader (0.125.0 ... 0.171.0): serde_json reads an integer literal beyond
f64 as it reads ``1e400``, whatever its length (400, 4,301, 10,000 and 100,000 digits alike). Where it
buffers a value (an event payload, a body the reducer parses) 0.125.0 to 0.135.0 refuse it ("number out of
range": RELEASE.NUMBER_RANGE), later releases read it; in a body the reducer does not parse every release
reads it; where a number is expected (an exit code) every release fails ("invalid number"). The kit said
REF.JSON, STORE.BODY_JSON or LINE.JSON for a literal past Python's 4,300-digit limit, REF.JSON for a body of
1 MiB or more holding one (msgspec refuses it), and missed a 400-digit integer, or a number beyond f64 on a
line with a repeated unknown key, where 0.125.0 to 0.135.0 refuse it.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Callable

import pytest

from rollout_trace_kit.bundle import Bundle
from rollout_trace_kit.store.shards import compress_records, read_records

from ._helpers import as_release_writes, real_reduce, reducer_errors
from .test_reducer_verdicts_bodies import (
    ALL, ROOT, TURN, USER, Case, Payloads, inference, minimal, tool_started, turn, verdict_tests, with_exec,
)
from .test_reducer_verdicts_kinds import accepted_message

SPOT = "@@number@@"  # a string value the literal replaces (orjson writes no number beyond 64 bits)
LARGE = 1100000  # bytes of padding that make a body larger than the kit's LARGE_BODY (1 MiB)


def digits(n: int) -> bytes:
    return b"1" * n


def _literal(build: Callable[[str], Bundle], literal: bytes) -> Callable[[str], Bundle]:
    """``build``'s bundle with every SPOT (quoted) replaced by ``literal``, in lines, files and shard records."""
    spot = b'"' + SPOT.encode() + b'"'

    def with_literal(dialect: str) -> Bundle:
        b = build(dialect)
        b.lines = [line.replace(spot, literal) for line in b.lines]
        payloads = {}
        for name, data in b.payloads.items():
            if name.endswith(".zst"):
                records = [(r.id, bytes(r.body).replace(spot, literal)) for r in read_records(io.BytesIO(data))]
                data = compress_records(records)
            payloads[name] = data.replace(spot, literal)
        b.payloads = payloads
        return b
    return with_literal


def in_request(literal: bytes, pad: int = 0) -> Callable[[str], Bundle]:
    """``literal`` under an unknown key of an inference request (a body every reducer parses)."""
    def build(dialect: str) -> Bundle:
        ps = Payloads(dialect)
        events = inference(ps, "inf-1", [USER])
        ps.bodies[1] = {"input": [USER], "zz": SPOT, **({"pad": "x" * pad} if pad else {})}
        return minimal(dialect, [turn(), *events], ps.bodies)
    return _literal(build, literal)


def in_protocol_event(literal: bytes, pad: int = 0) -> Callable[[str], Bundle]:
    """``literal`` in a protocol event's body (one the reducer reads without parsing its numbers)."""
    def build(dialect: str) -> Bundle:
        ps = Payloads(dialect)
        body = {"zz": SPOT, **({"pad": "x" * pad} if pad else {})}
        event = {"type": "protocol_event_observed", "event_type": "x", "event_payload": ps.add("protocol_event", body)}
        return minimal(dialect, [turn(), (ROOT, TURN, event)], ps.bodies)
    return _literal(build, literal)


def as_exit_code(literal: bytes) -> Callable[[str], Bundle]:
    """``literal`` as an exec runtime end's exit code (where the reducer wants an i32)."""
    return _literal(with_exec("1", "1", end_extra={"exit_code": SPOT}), literal)


def in_event_payload(literal: bytes, repeated_key: bool = False) -> Callable[[str], Bundle]:
    """``literal`` under an unknown key of a turn start's payload (after a repeated unknown key)."""
    def build(dialect: str) -> Bundle:
        b = minimal(dialect, [(ROOT, TURN, {"type": "codex_turn_started", "codex_turn_id": TURN, "thread_id": ROOT,
                                             "zz": SPOT})])
        if repeated_key:
            b.lines = [line.replace(b'"zz":', b'"yy":1,"yy":2,"zz":') for line in b.lines]
        return b
    return _literal(build, literal)


def as_tool_kind(literal: bytes) -> Callable[[str], Bundle]:
    """``literal`` as a tool call's kind tag (an integer tag is a variant index to serde)."""
    return _literal(lambda dialect: minimal(dialect, [turn(), (ROOT, TURN, tool_started({"type": SPOT}))]), literal)


def as_wait_timeout(literal: bytes) -> Callable[[str], Bundle]:
    """``literal`` as a wait_agent summary's timeout (a u64: "invalid type: map, expected u64")."""
    def build(dialect: str) -> Bundle:
        started = {**tool_started("wait_agent"), "summary": {"type": "wait_agent", "timeout_ms": SPOT}}
        return minimal(dialect, [turn(), (ROOT, TURN, started)])
    return _literal(build, literal)


TERMINAL = frozenset({"BODY.TERMINAL_RUNTIME"})
LATER = ("v2", "v3")
CASES = [
    # past Python's 4,300-digit limit: read as any integer beyond f64 (the kit said REF.JSON, STORE.BODY_JSON)
    *(Case(f"{n}-digits-under-an-unknown-key-of-a-request", ALL, in_request(digits(n)), frozenset())
      for n in (4301, 10000, 100000)),
    *(Case(f"{n}-digits-in-a-protocol-event-body", LATER, in_protocol_event(digits(n)), frozenset())
      for n in (4301, 100000)),
    Case("4301-digits-as-an-exit-code", ALL, as_exit_code(digits(4301)), TERMINAL),
    Case("100000-digits-as-an-exit-code", ALL, as_exit_code(digits(100000)), TERMINAL),
    # an accepted agent_message: 0.169.0 fails on an integer it reads as an i128/u128 (model.types.WIDE_INTEGERS),
    # not on a wider one (the kit said BODY.MODEL_ITEM, or REF.JSON or STORE.BODY_JSON past 4,300 digits)
    *(Case(f"accepted-agent-message-holding-{name}", ALL[1:], accepted_message(value), frozenset())
      for name, value in (("2-to-the-128", 2**128), ("below-i128", -(2**127) - 1), ("400-digits", int("1" * 400)))),
    Case("accepted-agent-message-holding-4301-digits", ALL[1:], _literal(accepted_message(SPOT), digits(4301)),
         frozenset()),
    *(Case(f"accepted-agent-message-holding-{name}", ("v2",), accepted_message(value), frozenset({"BODY.MODEL_ITEM"}))
      for name, value in (("u128-max", 2**128 - 1), ("i128-min", -(2**127)))),
    # in an event payload (the kit said LINE.JSON)
    Case("4301-digits-as-a-tool-kind-tag", ALL, as_tool_kind(digits(4301)), frozenset({"EVENT.SCHEMA"})),
    Case("4301-digits-as-a-wait-timeout", ALL, as_wait_timeout(digits(4301)), frozenset({"EVENT.SCHEMA"})),
    *(Case(f"{n}-digits-under-an-unknown-key-of-an-event-payload", ALL, in_event_payload(digits(n)), frozenset())
      for n in (4301, 100000)),
    # a body of 1 MiB or more (msgspec refuses the number; the kit said REF.JSON, STORE.BODY_JSON)
    Case("1e400-in-a-request-of-1-mib", ALL, in_request(b"1e400", LARGE), frozenset()),
    Case("4301-digits-in-a-request-of-1-mib", ALL, in_request(digits(4301), LARGE), frozenset()),
    Case("1e400-in-a-protocol-event-body-of-1-mib", LATER, in_protocol_event(b"1e400", LARGE), frozenset()),
]
# the kit's reducer profile, and (Codex tier) the real reducer, on every case (verdict_tests)
test_reducer_profile_gives_the_reference_reducers_verdict, test_the_reference_reducer_gives_the_expected_verdict = (
    verdict_tests(CASES))


NUMBER = frozenset({"RELEASE.NUMBER_RANGE"})
LITERALS = {"1e400": b"1e400", "400-digits": digits(400), "4301-digits": digits(4301)}
NEAR_MAX = {"f64-max": str((2**53 - 1) * 2**971).encode(),  # 1.7976931348623157e308, every digit
            "sig225-289-zeros": b"17976931348623156225" + b"0" * 289, "sig225-e288": b"179769313486231562250e288",
            "sig224-289-zeros": b"17976931348623156224" + b"0" * 289, "sig224-e288": b"179769313486231562240e288"}
SHAPES: dict[str, Callable[[bytes], Callable[[str], Bundle]]] = {
    "event-payload": in_event_payload, "repeated-key": lambda literal: in_event_payload(literal, repeated_key=True),
    "request": in_request, "request-of-1-mib": lambda literal: in_request(literal, LARGE), "exit-code": as_exit_code,
    "protocol-event": in_protocol_event,
}
OLDER = [  # (shape, literal, release, expected errors): epoch readers on either side of the number-range change
    *((shape, name, release, expected)
      for shape in ("event-payload", "repeated-key", "request", "request-of-1-mib")
      for name in ("1e400", "400-digits", "4301-digits")
      for release, expected in (("0.125.0", NUMBER), ("0.135.0", NUMBER), ("0.143.0", frozenset()))),
    # serde_json's f64 parse of those releases (u64's worth of digits times a rounded power of ten) refuses some
    # literals below f64's maximum, and the maximum itself (lines.serde_f64_overflows)
    *((shape, name, release, expected)
      for shape in ("event-payload", "request")
      for name, expected in (("f64-max", NUMBER), ("sig225-289-zeros", NUMBER), ("sig225-e288", NUMBER),
                             ("sig224-289-zeros", frozenset()), ("sig224-e288", frozenset()))
      for release in ("0.125.0", "0.135.0")),
    ("exit-code", "4301-digits", "0.125.0", NUMBER | TERMINAL | {"RELEASE.BODY_REQUIRED"}),
    ("exit-code", "4301-digits", "0.143.0", TERMINAL | {"RELEASE.BODY_REQUIRED"}),
    # the v2 epoch readers before the reference read a literal past Python's digit limit too (the kit said
    # LINE.JSON, REF.JSON; 0.165.0 and 0.166.0 do not open a protocol event body)
    *((shape, "4301-digits", release, frozenset())
      for shape in ("event-payload", "request", "protocol-event") for release in ("0.165.0", "0.166.0", "0.167.2")),
]
PARAMS = [pytest.param(s, n, r, e, id=f"{s}-{n}-{r}") for s, n, r, e in OLDER]


def older_bundle(shape: str, literal: str, release: str, directory) -> Path:
    return as_release_writes(SHAPES[shape]({**LITERALS, **NEAR_MAX}[literal]), release).write(directory)


@pytest.mark.parametrize("shape,literal,release,expected", PARAMS)
def test_an_older_release_refuses_an_integer_beyond_f64_where_it_refuses_1e400(tmp_path, shape, literal, release,
                                                                                 expected):
    assert reducer_errors(older_bundle(shape, literal, release, tmp_path / "b"), release) == expected


@pytest.mark.codex
@pytest.mark.parametrize("shape,literal,release,expected", PARAMS)
def test_the_older_release_gives_the_expected_verdict(tmp_path, shape, literal, release, expected):
    run = real_reduce(release, older_bundle(shape, literal, release, tmp_path / "b"), tmp_path)
    assert run.accepted is (not expected), run.stderr[:500]


def test_a_message_quotes_a_literal_past_the_digit_limit_as_such_not_its_stand_in(tmp_path):
    from rollout_trace_kit.validate import Options, Profile, validate_bundle

    path = as_tool_kind(b"-" + digits(4301))("v2").write(tmp_path / "b")
    found = [f.message for f in validate_bundle(path, Options(profile=Profile.REDUCER)).findings if "kind/type" in f.message]
    assert found and all("a negative integer literal of more than 4300 digits" in m and "0" * 40 not in m
                         for m in found), found
