"""The lifecycle of each entity a trace talks about, as the reference reducers replay it.

An entity (a thread, a Codex turn, an inference call, ...) is named by one key field and
moved from state to state by events of given variants. ``START`` is "not seen yet" and
``FINISHED`` "nothing more happens to it". A step whose variant a dialect lacks is not
part of that dialect's lifecycle (:meth:`Lifecycle.for_dialect`). The docs draw these as
state diagrams; the invariant catalogue (``validate/rules/lifecycle.py``) holds the rules
that reject a bundle breaking them. The checker is not generated from these steps (it
also checks contexts and ownership), so tests tie the two (``tests/test_lifecycles.py``):
every variant naming an entity's key takes part in its lifecycle, every entity of the
real and generated bundles walks its diagram, and only a step from ``START`` may name
an entity not seen yet.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from .types import Dialect

START = "[*]"
FINISHED = "[*]"


@dataclass(frozen=True)
class Step:
    source: str
    tag: str  # the payload variant that moves the entity
    target: str
    note: str = ""


@dataclass(frozen=True)
class Lifecycle:
    entity: str  # "thread", "turn", ...
    title: str
    key: str  # the payload field that names the entity
    doc: str
    steps: tuple[Step, ...]
    final: tuple[str, ...]  # states after which the entity is done

    @property
    def tags(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(s.tag for s in self.steps))

    def for_dialect(self, dialect: Dialect) -> "Lifecycle":
        steps = tuple(s for s in self.steps if s.tag in dialect.tags)
        reached = {s.target for s in steps}
        return replace(self, steps=steps, final=tuple(f for f in self.final if f in reached))


LIFECYCLES: tuple[Lifecycle, ...] = (
    Lifecycle(
        "thread", "Thread", "thread_id",
        "A conversation thread: the root thread of the rollout, or a child an agent spawned.",
        (
            Step(START, "thread_started", "active"),
            Step("active", "thread_ended", "ended"),
            Step("ended", "thread_resumed", "active", "a later `codex exec resume` (v2 on)"),
        ),
        ("ended",),
    ),
    Lifecycle(
        "turn", "Codex turn", "codex_turn_id",
        "One turn of a thread: the user's input and everything the agent does about it.",
        (
            Step(START, "codex_turn_started", "running"),
            Step("running", "codex_turn_ended", "ended"),
        ),
        ("ended",),
    ),
    Lifecycle(
        "inference", "Inference call", "inference_call_id",
        "One request to the model provider, within a turn.",
        (
            Step(START, "inference_started", "streaming"),
            Step("streaming", "inference_completed", "completed"),
            Step("streaming", "inference_failed", "failed"),
            Step("streaming", "inference_cancelled", "cancelled"),
        ),
        ("completed", "failed", "cancelled"),
    ),
    Lifecycle(
        "tool", "Tool call", "tool_call_id",
        "One tool the model (or a code cell) asked for; terminal tools (exec_command, "
        "write_stdin) run once in a runtime, others may end without runtime events.",
        (
            Step(START, "tool_call_started", "requested"),
            Step("requested", "mcp_tool_call_correlation_assigned", "requested", "MCP tools: at most once"),
            Step("running", "mcp_tool_call_correlation_assigned", "running", "MCP tools: Codex writes it after the runtime start"),
            Step("requested", "stdin_target_resolved", "requested", "write_stdin: the exec call it writes to"),
            Step("requested", "code_cell_wait_target_resolved", "requested", "a code-mode wait: the cell it waits for"),
            Step("requested", "tool_call_runtime_started", "running", "at most one terminal operation"),
            Step("running", "tool_call_runtime_ended", "ran"),
            Step("requested", "tool_call_runtime_ended", "ran", "no runtime start (spawn_agent)"),
            Step("requested", "tool_call_ended", "ended"),
            Step("running", "tool_call_ended", "ended", "no runtime end yet: an exec session left running, an interrupted run"),
            Step("ran", "tool_call_ended", "ended"),
            Step("ended", "tool_call_runtime_ended", "ended", "an exec session left running ends after its call"),
        ),
        ("ended",),
    ),
    Lifecycle(
        "code_cell", "Code cell", "runtime_cell_id",
        "One `exec` cell of code mode: JavaScript that may call tools itself.",
        (
            Step(START, "code_cell_started", "running"),
            Step("running", "code_cell_initial_response", "yielded", "the first answer to the model"),
            Step("running", "code_cell_ended", "ended"),
            Step("yielded", "code_cell_ended", "ended"),
        ),
        ("ended",),
    ),
    Lifecycle(
        "compaction", "Compaction", "compaction_id",
        "Replacing a thread's history with a shorter checkpoint, usually computed by a remote request.",
        (
            Step(START, "compaction_request_started", "requested"),
            Step("requested", "compaction_request_completed", "computed"),
            Step("requested", "compaction_request_failed", "failed"),
            Step("failed", "compaction_request_started", "requested", "a retry: a new request for the same compaction"),
            Step("computed", "compaction_installed", "installed", "at most once"),
            Step(START, "compaction_installed", "installed", "the reducer does not require a request first"),
        ),
        ("installed", "failed"),
    ),
)


def lifecycles(dialect: Dialect) -> list[Lifecycle]:
    """Each entity's lifecycle in ``dialect`` (entities the dialect has no variant for are left out)."""
    return [lc.for_dialect(dialect) for lc in LIFECYCLES if any(t in dialect.tags for t in lc.tags)]
