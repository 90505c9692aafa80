"""Generation throughput: lifecycle-valid bundles per second and events per second.

Measured in one run, on the same machine:

* ``hypothesis_jsonschema.from_schema`` on the event schema (the baseline: schema-valid
  single events, no lifecycle). On the whole schema (every variant, dispatched with
  ``if``/``then``; its line says how many) it rarely finishes one example in the time
  given, so it is also measured on the schema cut down to its first variant, the most
  favourable case;
  the ratio below uses the faster of the two;
* ``generators.events`` (schema-valid single events derived from the model);
* ``generators.bundles`` (lifecycle-valid bundles drawn by Hypothesis: the plan is drawn,
  then expanded);
* ``generators.build_bundle`` (no Hypothesis: one big bundle, in memory and streamed to disk).

Targets (issue 4): bundles at least 100x the baseline's events per second, and at least
5,000 lifecycle-valid events per second.
Run: ``python benchmarks/generators.py [--seconds 10] [--dialect v2]``.
"""

from __future__ import annotations

import argparse
import copy
import multiprocessing
import tempfile
import time
import warnings

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import NonInteractiveExampleWarning

from rollout_trace_kit.generators import build_bundle, bundles, events
from rollout_trace_kit.model import DIALECTS
from rollout_trace_kit.compilers.json_schema import event_schema


def draw_for(strategy, seconds: float, count) -> tuple[int, int, float]:
    """Draw examples for about ``seconds``; returns (examples, events, elapsed)."""
    n = ev = 0
    started = time.perf_counter()
    deadline = started + seconds

    @settings(max_examples=10**9, deadline=None, database=None, phases=[Phase.generate],
              suppress_health_check=list(HealthCheck))
    @given(strategy)
    def draw(x):
        nonlocal n, ev
        n += 1
        ev += count(x)
        if time.perf_counter() > deadline:
            raise _Done

    try:
        draw()
    except _Done:
        pass
    return n, ev, time.perf_counter() - started


class _Done(Exception):
    pass


def _count_forever(schema, counter) -> None:
    from hypothesis_jsonschema import from_schema

    def bump(_):
        with counter.get_lock():
            counter.value += 1
        return 1

    draw_for(from_schema(schema), 10**9, bump)


def baseline(schema: dict, seconds: float) -> tuple[int, int, float]:
    """from_schema examples drawn in ``seconds`` (in a child process: one example can take minutes)."""
    counter = multiprocessing.Value("l", 0)
    child = multiprocessing.Process(target=_count_forever, args=(schema, counter), daemon=True)
    started = time.perf_counter()
    child.start()
    child.join(seconds)
    elapsed = time.perf_counter() - started
    child.terminate()
    child.join()
    return counter.value, counter.value, elapsed


def first_variant_only(schema: dict) -> dict:
    out = copy.deepcopy(schema)
    union = out["$defs"]["RawTraceEventPayload"]
    union["allOf"] = union["allOf"][:1]
    union["properties"]["type"]["enum"] = union["properties"]["type"]["enum"][:1]
    return out


def report(name: str, n: int, ev: int, dt: float, unit: str = "examples") -> float:
    rate = ev / dt
    print(f"{name:58s} {n / dt:10.1f} {unit}/s {rate:12.0f} events/s  ({n} {unit}, {ev} events, {dt:.1f} s)")
    return rate


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seconds", type=float, default=10.0, help="time per Hypothesis measurement")
    ap.add_argument("--dialect", default="v2", choices=sorted(DIALECTS))
    ap.add_argument("--big", type=int, default=200_000, help="events of the build_bundle measurement")
    args = ap.parse_args()
    warnings.simplefilter("ignore", NonInteractiveExampleWarning)
    d = args.dialect
    schema = event_schema(DIALECTS[d])
    variants = len(DIALECTS[d].payload.variants)
    whole = report(f"hypothesis_jsonschema.from_schema({d} event schema, {variants} variants)",
                   *baseline(schema, args.seconds * 3))
    one = report("  the same, cut to its first variant", *baseline(first_variant_only(schema), args.seconds))
    base = max(whole, one)
    report(f"generators.events({d!r})  [schema-valid events]", *draw_for(events(d), args.seconds, lambda e: 1))
    lifecycle = report(f"generators.bundles({d!r})  [lifecycle-valid bundles]",
                       *draw_for(bundles(d), args.seconds, lambda b: len(b.lines)), unit="bundles")
    big = report(f"generators.bundles({d!r}, max_turns=8, max_rounds=4)",
                 *draw_for(bundles(d, max_turns=8, max_rounds=4, max_calls=3), args.seconds, lambda b: len(b.lines)),
                 unit="bundles")
    started = time.perf_counter()
    b = build_bundle(d, seed=1, events=args.big)
    report(f"generators.build_bundle({d!r}, events={args.big})  in memory", 1, len(b.lines),
           time.perf_counter() - started, unit="bundles")
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        build_bundle(d, seed=1, events=args.big, directory=f"{tmp}/b")
        report(f"generators.build_bundle({d!r}, events={args.big})  to disk", 1, args.big,
               time.perf_counter() - started, unit="bundles")
    best = max(lifecycle, big)
    print(f"\nlifecycle-valid events/s through Hypothesis: {best:.0f} (target >= 5,000); "
          f"{best / base:.0f}x hypothesis-jsonschema's events/s (target >= 100x)")


if __name__ == "__main__":  # spawn-safe: the baseline runs in a child process
    main()
