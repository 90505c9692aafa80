"""Fake reducer written the way a user would: read trace.jsonl, print what it holds.

Usage: fragile.py BUNDLE OUTPUT [--crash-on-kind KIND] [--traceback-on-corrupt]
                                [--counts-only] [--drop-turn]
  --crash-on-kind         a KeyError (a Python traceback, exit 1) when a tool call of this kind starts
  --traceback-on-corrupt  a line that is not JSON ends in a traceback (exit 1) instead of a clean rejection
  --counts-only           the output is counts ({"turns": 2, ...}), no ids
  --drop-turn             the last turn is left out of the output

A tolerant reader otherwise: it accepts anything whose lines are JSON objects, and rejects
(exit 1, one line on stderr) a bundle without trace.jsonl or with a line that is not JSON.
"""
import argparse
import json
import os
import sys

ap = argparse.ArgumentParser()
ap.add_argument("bundle")
ap.add_argument("output")
ap.add_argument("--crash-on-kind")
ap.add_argument("--traceback-on-corrupt", action="store_true")
ap.add_argument("--counts-only", action="store_true")
ap.add_argument("--drop-turn", action="store_true")
args = ap.parse_args()

try:
    with open(os.path.join(args.bundle, "trace.jsonl"), "rb") as f:
        lines = [l for l in f.read().splitlines() if l.strip()]
except OSError as e:
    print(f"cannot read the log: {e.strerror}", file=sys.stderr)
    sys.exit(1)
seen = {"threads": [], "turns": [], "inference_calls": [], "tool_calls": []}
STARTS = {"thread_started": ("threads", "thread_id"), "codex_turn_started": ("turns", "codex_turn_id"),
          "inference_started": ("inference_calls", "inference_call_id"), "tool_call_started": ("tool_calls", "tool_call_id")}
for n, line in enumerate(lines, 1):
    if args.traceback_on_corrupt:
        event = json.loads(line)
    else:
        try:
            event = json.loads(line)
        except ValueError:
            print(f"line {n}: not JSON", file=sys.stderr)
            sys.exit(1)
    payload = event.get("payload") if isinstance(event, dict) else None
    if not isinstance(payload, dict):
        continue
    if payload.get("type") == "tool_call_started" and args.crash_on_kind:
        kind = payload.get("kind")
        if isinstance(kind, dict) and kind.get("type") == args.crash_on_kind:
            {}["handler for " + args.crash_on_kind]  # the bug: no handler for a kind rarely written
    hit = STARTS.get(payload.get("type"))
    if hit and isinstance(payload.get(hit[1]), str) and payload[hit[1]] not in seen[hit[0]]:
        seen[hit[0]].append(payload[hit[1]])
if args.drop_turn and seen["turns"]:
    seen["turns"].pop()
out = {k: len(v) for k, v in seen.items()} if args.counts_only else seen
with open(args.output, "w") as f:
    json.dump(out, f)
