"""Wrong verdicts about a tool call's kind (issue 18, `codex diff --seed 1`), each on a minimal bundle: the
kit's reducer profile must give the real reducer's verdict. The Codex tier (``--codex -m codex``) replays
every case through the reference reducer of its dialect.

- serde reads an integer tag as the variant index, in Rust declaration order
  (model: TaggedUnion.index_order, common.TOOL_KIND_INDEX_ORDER): `{"type": 0}` is an exec_command.
- A runtime end holding a sub-agent activity is read as one whatever the call's tool kind, but an mcp
  call's from 0.169.0 on (model/bodies.py: ACTIVITY_UNREAD_SINCE).
"""

from __future__ import annotations

from typing import Any, Callable

import pytest

from rollout_trace_kit.bundle import Bundle
from rollout_trace_kit.model import DIALECTS
from rollout_trace_kit.model.common import TOOL_KIND_INDEX_ORDER
from rollout_trace_kit.model.types import TaggedUnion
from rollout_trace_kit.validate import Options, Profile, validate_bundle

from .test_reducer_verdicts_bodies import (ALL, RELEASE, Case, assert_kit_verdict, assert_reference_verdict)
from .test_reducer_verdicts_diff23 import activity, with_agent_call

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


def tool(name: str, act: str = "started", **extra: Any) -> Callable[[str], Bundle]:
    return with_kind({"type": name, **FIELDS.get(name, {})}, activity(act, **extra))


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
]
PARAMS = [pytest.param(c, d, id=f"{c.name}-{d}") for c in CASES for d in c.dialects]


@pytest.mark.parametrize("case,dialect", PARAMS)
def test_reducer_profile_gives_the_reference_reducers_verdict(tmp_path, case: Case, dialect: str):
    assert_kit_verdict(tmp_path, case, dialect)


@pytest.mark.codex
@pytest.mark.parametrize("case,dialect", PARAMS)
def test_the_reference_reducer_gives_the_expected_verdict(tmp_path, case: Case, dialect: str, codex_binaries):
    assert_reference_verdict(tmp_path, case, dialect, codex_binaries[dialect])


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
