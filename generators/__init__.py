"""Hypothesis strategies for rollout trace bundles: valid ones, and ones broken in one named way.

Reducer authors fuzz their reducer with bundles they did not think of:

* **valid bundles** (:func:`bundles`, alias :func:`lifecycle_bundles`) are valid in every
  way the kit checks (zero findings in the reducer, writer *and* strict profiles) and
  realistic enough that the dialect's reference reducer (``codex debug trace-reduce`` of
  Codex 0.164.0 for v1, 0.169.0 for v2) reconciles them, so a failure is the reducer's
  fault;
* **corrupted bundles** (:func:`corrupted_bundles`) are valid bundles broken by one
  operator of :data:`CORRUPTIONS`, one per invariant of the validator's catalogue, and
  carry the invariant IDs the validator must report (:class:`Corrupted`).

Example::

    from hypothesis import given
    from rollout_trace_kit.generators import bundles, corrupted_bundles
    from rollout_trace_kit.validate import Profile

    @given(bundle=bundles(dialect="v2", max_threads=3))
    def test_my_reducer_accepts(bundle, tmp_path_factory):
        path = bundle.write(tmp_path_factory.mktemp("b") / "bundle")
        assert my_reducer(path).ok

    @given(c=corrupted_bundles(dialect="v1"))
    def test_my_reducer_rejects(c, tmp_path_factory):
        path = c.bundle.write(tmp_path_factory.mktemp("b") / "bundle")
        if c.expected_in("v1", Profile.REDUCER):   # the reference reducer rejects it too
            assert not my_reducer(path).ok, c.invariant

A bundle is a :class:`~rollout_trace_kit.bundle.Bundle`: ``.write(directory)``,
``.trace_bytes()`` (the event log as a stream of chunks), ``.tar_bytes()``.

**How bundles are made.** Hypothesis draws a *plan* (turns, model rounds, tool calls,
how each turn ends, child threads) and the plan is expanded into the events and
payloads Codex writes, following real 0.164.0 / 0.169.0 bundles: thread and turn
lifecycles, inference calls (completed, failed with or without partial output,
cancelled) whose request payloads carry the thread's model conversation (full
snapshots or incremental ``previous_response_id`` requests), tool calls with runtime
start/end (exec_command, apply_patch, MCP with its call correlation, unknown and
unsupported tools, a long-running command and ``write_stdin`` with
``stdin_target_resolved``), code-mode cells with nested tool calls, failures and
yields, remote compaction (failed and retried request attempts, install),
multi-agent children (spawn, wait, agent results) and protocol events; v2 adds
``history_item_accepted`` for every item that joins a thread's history (with the
agent-message payload for inter-agent messages), ``thread_resumed`` for a closed
child that gets a follow-up task, and ``recording_completed``. Shrinking works on
the plan: a failing example shrinks to fewer turns, rounds and calls, and every
plan expands to a valid bundle.

**Which strategies are derived how.** :func:`events`, :func:`payload_refs` and
:func:`payloads` are hand-written per type expression of the spec model (so they follow
the model as it grows). ``hypothesis-jsonschema`` serves where the shape is free-form:
``other.metadata`` (any JSON) and the bodies of payloads no reducer parses (thread
metadata, protocol events; :func:`payload_bodies`). It does not serve for whole events:
on the v2 event schema (27 variants dispatched with ``if``/``then``) it did not finish a
single example in 30 seconds here, and even cut down to one variant it draws only tens
of events per second; nor for the request and response bodies, whose items must
reconcile with the thread's conversation, which no JSON Schema says. Those are
hand-written. ``python benchmarks/generators.py`` prints both rates, ``bundles``'s
lifecycle-valid events per second, and their ratio, measured in one run.

**Two generation modes** (:data:`MODES`, the ``mode`` option of :func:`plans`,
:func:`bundles` and :func:`build_bundle`, ``--mode`` of ``fuzz-reducer``): ``"releases"``
(the default) writes what Codex releases were measured writing; ``"schema"`` ("as the schema
allows") widens every event to every variant, tool kind, payload kind and enum value, optional
fields present, ``null`` and absent, Unicode and numeric edges, wherever the reference
reducers read any value the schema allows (:mod:`._widen` says where, and why). Robustness
campaigns use the second: a reader that only ever saw what Codex writes breaks on the first
bundle of another producer.

**Big bundles without Hypothesis.** :func:`build_bundle` writes a deterministic
lifecycle-valid bundle of exactly ``events`` events (and, within the feasible range,
exactly ``payload_files`` payload files) straight to a directory, so memory does not
grow with the bundle (``benchmarks/generators.py --big N`` times it).
"""

from typing import TYPE_CHECKING as _TYPE_CHECKING
from typing import Any as _Any

if _TYPE_CHECKING:
    from ._fast import build_bundle, feature_seed
    from ._plan import CALL_KINDS, MODES, TURN_ENDS, BundlePlan, Call, Round, ThreadPlan, TurnPlan
    from .corruptions import CORRUPTIONS, UNCORRUPTIBLE, Corrupted, Corruption, applicable, missing_operators
    from ._leaf import events, free_json, payload_bodies, payload_refs, payloads
    from ._strategies import (
        FEATURES,
        GeneratedBundle,
        bundles,
        corrupted_bundles,
        expand,
        feature_plan,
        lifecycle_bundles,
        plans,
    )

# Everything is imported when first used: Hypothesis and hypothesis-jsonschema take about a
# second to import, which every fuzz-reducer run (it builds bundles with build_bundle and the
# corruption operators, no strategy) would otherwise pay, and the operators load the validator,
# which a command that only names a generation mode (every CLI start) would otherwise pay.
_LAZY = {
    **{name: "._fast" for name in ("build_bundle", "feature_seed")},
    **{name: "._plan" for name in ("CALL_KINDS", "MODES", "TURN_ENDS", "BundlePlan", "Call", "Round", "ThreadPlan",
                                   "TurnPlan")},
    **{name: ".corruptions" for name in ("CORRUPTIONS", "UNCORRUPTIBLE", "Corrupted", "Corruption", "applicable",
                                         "missing_operators")},
    **{name: "._leaf" for name in ("events", "free_json", "payload_bodies", "payload_refs", "payloads")},
    **{name: "._strategies" for name in ("FEATURES", "GeneratedBundle", "bundles", "corrupted_bundles", "expand",
                                         "feature_plan", "lifecycle_bundles", "plans")},
}


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


def __getattr__(name: str) -> _Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value

__all__ = [
    "CALL_KINDS",
    "CORRUPTIONS",
    "FEATURES",
    "MODES",
    "TURN_ENDS",
    "UNCORRUPTIBLE",
    "BundlePlan",
    "Call",
    "Corrupted",
    "Corruption",
    "GeneratedBundle",
    "Round",
    "ThreadPlan",
    "TurnPlan",
    "applicable",
    "build_bundle",
    "bundles",
    "corrupted_bundles",
    "events",
    "expand",
    "feature_seed",
    "feature_plan",
    "free_json",
    "lifecycle_bundles",
    "missing_operators",
    "payload_bodies",
    "payload_refs",
    "payloads",
    "plans",
]
