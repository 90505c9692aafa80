"""Speed of a reducer fuzz campaign against a real Codex reducer, as a ratio to its floor.

Runs one campaign (default 1,000 cases against Codex 0.169.0, 2 jobs, every oracle: metamorphic,
coverage and differential against the same release, no normalizer) and prints its wall time
beside the bare-run floor of the same run: the time the reducer runs of that campaign took
themselves (the case runs and the oracles' runs, each timed from process start to exit),
divided by the jobs that ran them in parallel. The campaign cannot be faster than that; what
it adds (building, writing and judging bundles, comparing outputs) is the ratio above 1.
Goals (issue 19): <= 1.5x the floor, and <= 90 s for 1,000 cases on 2 cores. The load average
is printed, since other work on the machine disturbs both figures.

Under load wall times say little; CPU times hold. ``--cpu`` runs the campaign in this process
(one job: the reducer runs are its only children) and splits the CPU time: the kit's own
(building, writing, judging bundles, oracles: ``RUSAGE_SELF``) and the reducer runs' (oracle
runs included: ``RUSAGE_CHILDREN``), their ratio, and the wall time that CPU would take on
``--jobs`` idle cores.
Run: ``python benchmarks/reducer_fuzz.py [--examples 1000] [--jobs 2] [--no-oracles] [--cpu] [--mode schema]``.
"""

from __future__ import annotations

import argparse
import os
import resource
import shlex
import time

from rollout_trace_kit.codex.install import REFERENCE_RELEASES, ensure_codex
from rollout_trace_kit.conformance.command import ReducerCommand
from rollout_trace_kit.conformance.reducer.fuzz import Campaign, per_invariant
from rollout_trace_kit.conformance.reducer.known import Known
from rollout_trace_kit.conformance.reducer.oracles import parse_oracles

KNOWN = os.path.join(os.path.dirname(__file__), "..", "tests", "known-results")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--examples", type=int, default=1000)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--dialect", default="v2", choices=sorted(REFERENCE_RELEASES))
    ap.add_argument("--timeout", type=float, default=10.0, help="per run; a hanging reducer costs this much")
    ap.add_argument("--no-oracles", action="store_true", help="judge exit statuses only")
    ap.add_argument("--cpu", action="store_true", help="one job in this process: the kit's CPU apart from the reducer's")
    ap.add_argument("--mode", default="releases", choices=("releases", "schema"), help="the generation mode")
    args = ap.parse_args()
    cores = args.jobs
    if args.cpu:
        args.jobs = 1
    release = REFERENCE_RELEASES[args.dialect]
    binary = ensure_codex(release)
    cmd = f"{shlex.quote(str(binary))} debug trace-reduce {{bundle}} -o {{output}}"
    known_file = os.path.join(KNOWN, f"codex-{release}.json")
    known = Known.load(known_file) if os.path.exists(known_file) else Known()  # a known hang costs one timeout

    oracles = parse_oracles(None if args.no_oracles else ["all", f"codex-{release}"], None, None)
    campaign = Campaign(ReducerCommand(cmd, timeout=args.timeout), args.dialect, examples=args.examples, jobs=args.jobs,
                        shrink=False, oracles=oracles, seed=0, known=known, mode=args.mode)
    load_before = os.getloadavg()[0]
    self0, kids0 = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    results = campaign.run()
    wall = time.perf_counter() - t
    self1, kids1 = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    campaign.model_coverage()  # what the command adds for its report (the workers observed each case)
    coverage_seconds = time.perf_counter() - t
    load_after = os.getloadavg()[0]
    runs = sum(r.runs for r in results)
    floor = sum(r.run_seconds for r in results) / args.jobs
    table = per_invariant(results)
    failed = sum(r.result != "pass" and r.spec.invariant not in known.entries for r in results)
    hangs = sum(r.result == "hang" for r in results)
    print(f"fuzz-reducer campaign, codex {release}, {args.mode} mode, oracles {', '.join(oracles.names) or 'off'}: "
          f"{len(results)} cases ({len(campaign.skipped)} skipped, {len(campaign.not_run)} not run: known hang) "
          f"in {wall:.1f} s = {len(results) / wall:.0f} cases/s; {failed} failing outside the known results; "
          f"{len(table)} invariants covered")
    print(f"  bare-run floor of the same run: {runs} reducer runs (oracles' included) took {floor * args.jobs:.1f} s, "
          f"/ {args.jobs} jobs = {floor:.1f} s")
    print(f"  ratio: {wall / floor:.2f}x the floor (goal <= 1.5x: {'met' if wall <= 1.5 * floor else 'NOT met'}); "
          f"wall {wall:.1f} s (goal <= 90 s for 1,000 cases: {'met' if wall <= 90 * args.examples / 1000 else 'NOT met'})")
    print(f"  after the campaign, the report's model coverage took {coverage_seconds:.1f} s")
    print(f"  {sum(len(r.oracles) for r in results)} oracle verdicts; "
          f"{sum(r.result == 'wrong-output' for r in results)} wrong outputs; {hangs} hang(s), each "
          f"{args.timeout:.0f} s of one job")
    if args.cpu:
        kit = self1.ru_utime - self0.ru_utime + self1.ru_stime - self0.ru_stime
        reducer = kids1.ru_utime - kids0.ru_utime + kids1.ru_stime - kids0.ru_stime
        print(f"  CPU: the kit's own {kit:.1f} s, the reducer runs' {reducer:.1f} s: the kit adds {kit / reducer:.2f}x "
              f"the reducer's CPU ({(kit + reducer) / reducer:.2f}x in all); on {cores} idle cores that CPU takes "
              f"{(kit + reducer) / cores:.1f} s, {(kit + reducer) / cores * 1000 / max(1, len(results)):.1f} s per "
              f"1,000 cases (goal <= 90 s)")
    busy = max(load_before, load_after) > (os.cpu_count() or 1)
    print(f"  load average (1 min) before/after: {load_before:.1f}/{load_after:.1f} on {os.cpu_count()} cores"
          + (" (above the core count: other work disturbed the figures)" if busy else ""))


if __name__ == "__main__":
    main()
