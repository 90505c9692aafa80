"""What the Recorder's mixins use of it, declared once so mypy checks each mixin.

:class:`~._scenario.Recorder` is ``ToolCalls`` + ``Threads`` + its own helpers; the
mixins call those helpers and each other. This base declares the Recorder's state and,
for the type checker only, the signatures the mixins call; at run time it is empty.
"""

from __future__ import annotations

import random
from typing import TYPE_CHECKING, Any

from ..model.types import Dialect
from ._ids import Ids
from ._plan import BundlePlan, TurnPlan
from ._writer import TraceWriter

if TYPE_CHECKING:
    from ._scenario import Thread


class RecorderBase:
    """The Recorder's state and helpers, as its mixins see them."""

    dialect: Dialect
    accepts_history: bool  # facts of the dialect's writers, from the model
    resumes: bool
    runtime_kind: bool
    completes_recording: bool
    plan: BundlePlan
    rnd: random.Random
    ids: Ids
    text_bytes: int
    w: TraceWriter
    root: Thread | None
    pids: int
    compaction_requests: int
    keep_history: bool

    if TYPE_CHECKING:
        # The Recorder's own helpers (_scenario.py).
        def ev(self, tag: str, th: Thread | None, turn: str | None, /, **fields: Any) -> int: ...
        def payload(self, kind: str, body: Any) -> dict[str, Any]: ...
        def text(self, scale: float = 1.0) -> str: ...
        def msg_id(self) -> str: ...
        def accept(self, th: Thread, turn: str, item_id: str, agent_payload: dict[str, Any] | None = None,
                   tool_output: dict[str, Any] | None = None) -> None: ...
        def remember(self, th: Thread, item: dict[str, Any]) -> None: ...
        def start_thread(self, thread_id: str, path: str, parent: Thread | None, spawn: dict[str, Any] | None) -> Thread: ...
        def context_items(self, th: Thread) -> list[dict[str, Any]]: ...
        def turn(self, th: Thread, plan: TurnPlan, initial: list[tuple[dict[str, Any], dict[str, Any] | None]],
                 parent_turn: str | None) -> str: ...
        def inference(self, th: Thread, turn: str, outputs: list[dict[str, Any]] | None,
                      failure: tuple[str, str, dict[str, Any] | None] | None = None) -> None: ...

        # ToolCalls' helpers that Threads uses too (_scenario_tools.py).
        def tool_started(self, th: Thread, turn: str, call_id: str, mv_call_id: str, kind: dict[str, Any], label: str,
                         preview: str | None, invocation: dict[str, Any], requester: dict[str, Any] | None = None,
                         runtime_tool_id: str | None = None) -> None: ...
        def runtime_started(self, th: Thread, turn: str, call_id: str, kind: dict[str, Any], body: Any) -> None: ...
        def runtime_ended(self, th: Thread, turn: str, call_id: str, status: str, body: Any) -> None: ...
        def tool_ended(self, th: Thread, turn: str, call_id: str, status: str, result: Any) -> None: ...
        def output_item(self, th: Thread, turn: str, call_item: dict[str, Any], output: Any) -> dict[str, Any]: ...
        def deliver(self, th: Thread, turn: str, item: dict[str, Any]) -> None: ...
