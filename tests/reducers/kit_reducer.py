"""Fake reducer built on the kit's own reducer profile: correct by construction.

Usage: kit_reducer.py BUNDLE OUTPUT [--forget INVARIANT] [--crash-on VARIANT]
                      [--drop-entity KIND] [--bytes-dependent] [--nondeterministic] [--release VERSION]
  --forget           ignore findings of one invariant (a reducer that forgets a rule)
  --crash-on         die of SIGSEGV when the log holds an event of this variant
  --drop-entity      leave the last entity of KIND (thread, turn, inference, tool) out of the output
  --bytes-dependent  let the output depend on the log's bytes, not its meaning (its size)
  --nondeterministic a random nonce in the output: two runs of one bundle differ
  --release          judge as that Codex release's reducer (validate --release)

The output is a small state: the ids of the entities the log starts, and the
payload refs (id -> path, under raw_payloads like Codex's state).
"""
import argparse
import json
import os
import signal
import sys

from rollout_trace_kit.validate import Options, Profile, validate_bundle

ap = argparse.ArgumentParser()
ap.add_argument("bundle")
ap.add_argument("output")
ap.add_argument("--forget")
ap.add_argument("--crash-on")
ap.add_argument("--drop-entity", choices=["thread", "turn", "inference", "tool"])
ap.add_argument("--bytes-dependent", action="store_true")
ap.add_argument("--nondeterministic", action="store_true")
ap.add_argument("--release")
args = ap.parse_args()

if args.crash_on:
    try:
        with open(os.path.join(args.bundle, "trace.jsonl"), "rb") as f:
            if f'"type":"{args.crash_on}"'.encode() in f.read():
                os.kill(os.getpid(), signal.SIGSEGV)
    except OSError:
        pass
# a reducer accepts or rejects: the compatible releases are not its business (and cost a pass per way of reading)
report = validate_bundle(args.bundle, Options(profile=Profile.REDUCER, release=args.release, releases=False))
errors = [f for f in report.findings if f.invariant != args.forget]
if errors:
    print(f"{errors[0].invariant}: {errors[0].message}", file=sys.stderr)
    sys.exit(1)

STARTS = {"thread_started": ("thread", "thread_id"), "codex_turn_started": ("turn", "codex_turn_id"),
          "inference_started": ("inference", "inference_call_id"), "tool_call_started": ("tool", "tool_call_id")}
state = {"events": report.events, "thread": [], "turn": [], "inference": [], "tool": [], "raw_payloads": {}}


def refs(v):
    if isinstance(v, dict):
        if isinstance(v.get("raw_payload_id"), str) and isinstance(v.get("path"), str):
            state["raw_payloads"][v["raw_payload_id"]] = {"path": v["path"]}
        for x in v.values():
            refs(x)
    elif isinstance(v, list):
        for x in v:
            refs(x)


with open(os.path.join(args.bundle, "trace.jsonl"), "rb") as f:
    data = f.read()
for line in data.splitlines():
    if not line.strip():
        continue
    ev = json.loads(line)
    p = ev.get("payload") or {}
    hit = STARTS.get(p.get("type"))
    if hit and p.get(hit[1]) not in state[hit[0]]:
        state[hit[0]].append(p[hit[1]])
    refs(p)
if args.drop_entity and state[args.drop_entity]:
    state[args.drop_entity].pop()
if args.bytes_dependent:
    state["log_bytes"] = len(data)
if args.nondeterministic:
    state["nonce"] = os.urandom(8).hex()
with open(args.output, "w") as f:
    json.dump(state, f)
