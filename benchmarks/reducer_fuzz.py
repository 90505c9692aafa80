"""Throughput of a reducer fuzz campaign against the Codex 0.169.0 reducer, output oracles on.

Prints cases, wall time and cases per second of one ``fuzz-reducer`` campaign
(default 1,000 cases, 2 jobs, oracles metamorphic + coverage + differential against
the same release, normalizer codex-state; goal: <= 90 s on two cores), beside the
time of the same number of bare ``trace-reduce`` runs on one corpus bundle measured
in the same run (the floor: process start and replay of a small bundle), and the
load average, since other work on the machine disturbs the figure.
Run: ``python benchmarks/reducer_fuzz.py [--examples 1000] [--jobs 2] [--no-oracles]``.
"""

from __future__ import annotations

import argparse
import os
import shlex
import subprocess
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor

from rollout_trace_kit.codex.install import REFERENCE_RELEASES, ensure_codex
from rollout_trace_kit.conformance.command import ReducerCommand
from rollout_trace_kit.corpus import corpus_root
from rollout_trace_kit.conformance.reducer.fuzz import Campaign, per_invariant
from rollout_trace_kit.conformance.reducer.oracles import parse_oracles


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--examples", type=int, default=1000)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--dialect", default="v2", choices=sorted(REFERENCE_RELEASES))
    ap.add_argument("--timeout", type=float, default=10.0, help="per case; a hanging reducer costs this much")
    ap.add_argument("--no-oracles", action="store_true", help="judge exit statuses only")
    args = ap.parse_args()
    release = REFERENCE_RELEASES[args.dialect]
    binary = ensure_codex(release)
    cmd = f"{shlex.quote(str(binary))} debug trace-reduce {{bundle}} -o {{output}}"

    bundle = corpus_root() / f"codex-{release}" / "tools"
    with tempfile.TemporaryDirectory() as tmp:
        def bare(i):
            subprocess.run([str(binary), "debug", "trace-reduce", str(bundle), "-o", f"{tmp}/{i}.json"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
        n = min(args.examples, 200)
        t = time.perf_counter()
        with ThreadPoolExecutor(args.jobs) as pool:
            list(pool.map(bare, range(n)))
        floor = (time.perf_counter() - t) / n * args.examples
    print(f"bare trace-reduce of one corpus bundle, x{args.examples} (extrapolated from {n}): {floor:.1f} s")

    oracles = parse_oracles(None if args.no_oracles else ["all", f"codex-{release}"], ["codex-state"], None)
    campaign = Campaign(ReducerCommand(cmd, timeout=args.timeout), args.dialect, examples=args.examples, jobs=args.jobs,
                        shrink=False, oracles=oracles, seed=0)
    load_before = os.getloadavg()[0]
    t = time.perf_counter()
    results = campaign.run()
    wall = time.perf_counter() - t
    table = per_invariant(results)
    failed = sum(r.result != "pass" for r in results)
    hangs = sum(r.result == "timeout" for r in results)
    checks = sum(len(r.oracles) for r in results)
    print(
        f"fuzz-reducer campaign, codex {release}, oracles {', '.join(oracles.names) or 'off'}: {len(results)} cases ({len(campaign.skipped)} skipped) "
        f"in {wall:.1f} s = {len(results) / wall:.0f} cases/s; {failed} not passing; "
        f"{len(table)} invariants covered; {wall / floor:.2f}x the bare-run floor"
    )
    print(f"  {checks} oracle verdicts; {sum(r.result == 'wrong-output' for r in results)} wrong outputs; "
          f"goal <= 90 s: {'met' if wall <= 90 else 'NOT met'}")
    load_after = os.getloadavg()[0]
    busy = max(load_before, load_after) > (os.cpu_count() or 1)
    print(f"  load average (1 min) before/after: {load_before:.1f}/{load_after:.1f} on {os.cpu_count()} cores"
          + (" (above the core count: other work disturbed the figure)" if busy else ""))
    print(f"  of which {hangs} case(s) hung and were killed after {args.timeout:.0f} s "
          f"(about {hangs * args.timeout / args.jobs:.0f} s of the wall time)")


if __name__ == "__main__":
    main()
