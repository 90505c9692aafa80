"""Instructions each process of `rollout-trace validate` runs, counted by valgrind's callgrind.

A shared machine's speed drifts by a sixth or more within minutes; the count of user-space
instructions a process runs does not. For each of the benchmark's three linear shapes, at a size
callgrind gets through in a minute or two, it runs the command line (the decode worker forced:
``ROLLOUT_TRACE_KIT_DECODE_AHEAD=1``) and prints the count of the checking process and of the
worker, less what ran before the fork (imports, the manifest, the setup: counted by a run that
stops where the worker would be forked, and which the forked worker's own count includes).

Run: ``python benchmarks/instructions.py`` for the installed kit, or ``--kit SRC`` (repeatable:
a checkout's ``src``, its bytecode written first) to set kits side by side, each under the same
``PYTHONPATH``. Needs valgrind.
"""

from __future__ import annotations

import argparse
import compileall
import os
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from validator import build_payload_linear, build_turns_only, build_v3_pairs  # noqa: E402

SHAPES = {  # name -> (builder, events)
    "payloads-linear": (build_payload_linear, 20_000),
    "turns-only": (build_turns_only, 100_000),
    "v3-pairs": (build_v3_pairs, 60_000),
}

# The command line as users type it; with "pre", the run stops where the worker would be forked.
_RUN = """
import os, sys
from rollout_trace_kit import cli
if sys.argv[2] == "pre":
    from rollout_trace_kit.validate import ahead
    def stop(*args, **kwargs):
        raise SystemExit(0)
    ahead.Ahead.__init__ = stop
cli.main(["validate", sys.argv[1], "--profile", "writer", "--format", "json", "-o", os.devnull])
"""


def counts(bundle: Path, kit: str | None, mode: str, out: Path) -> list[int]:
    """The instruction count of each process of one run, the first started first."""
    env = {**os.environ, "ROLLOUT_TRACE_KIT_DECODE_AHEAD": "1", "PYTHONHASHSEED": "0"}
    if kit is not None:
        env["PYTHONPATH"] = kit
    for old in out.glob("cg.*"):
        old.unlink()
    subprocess.run(["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}/cg.%p", sys.executable, "-c", _RUN,
                    str(bundle), mode], env=env, check=True, capture_output=True)
    found = []
    for f in out.glob("cg.*"):
        total = next(line for line in f.read_text().splitlines() if line.startswith("summary:"))
        found.append((int(f.name.split(".")[1]), int(total.split()[1])))
    return [n for _, n in sorted(found)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--kit", action="append", help="a kit's src directory (default: the installed kit)")
    args = ap.parse_args()
    kits = args.kit or [None]
    for kit in kits:
        if kit is not None:
            compileall.compile_dir(kit, quiet=1)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        print("millions of instructions: checking process, worker (each less the part before the fork), before the fork")
        for name, (build, events) in SHAPES.items():
            bundle = build(root / name, events)
            for kit in kits:
                pre = counts(bundle, kit, "pre", root)[0]
                main_count, worker = counts(bundle, kit, "run", root)
                print(f"{name:16s} {events:>7,} events  {kit or 'installed kit':30s} "
                      f"{(main_count - pre) / 1e6:7,.0f} {(worker - pre) / 1e6:7,.0f} {pre / 1e6:7,.0f}")


if __name__ == "__main__":
    main()
