"""Fake reducer built on the kit's own reducer profile: correct by construction.

Usage: kit_reducer.py BUNDLE OUTPUT [--forget INVARIANT] [--crash-on VARIANT]
  --forget     ignore findings of one invariant (a reducer that forgets a rule)
  --crash-on   die of SIGSEGV when the log holds an event of this variant
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
args = ap.parse_args()

if args.crash_on:
    try:
        with open(os.path.join(args.bundle, "trace.jsonl"), "rb") as f:
            if f'"type":"{args.crash_on}"'.encode() in f.read():
                os.kill(os.getpid(), signal.SIGSEGV)
    except OSError:
        pass
report = validate_bundle(args.bundle, Options(profile=Profile.REDUCER))
errors = [f for f in report.findings if f.invariant != args.forget]
if errors:
    print(f"{errors[0].invariant}: {errors[0].message}", file=sys.stderr)
    sys.exit(1)
with open(args.output, "w") as f:
    json.dump({"events": report.events}, f)
