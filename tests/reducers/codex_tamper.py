"""Fake reducer: the real Codex reducer, then one field of its state changed (a subtly wrong reducer).

Usage: codex_tamper.py CODEX BUNDLE OUTPUT"""
import json
import subprocess
import sys

codex, bundle, output = sys.argv[1:4]
rc = subprocess.run([codex, "debug", "trace-reduce", bundle, "-o", output]).returncode
if rc:
    sys.exit(rc)
with open(output) as f:
    state = json.load(f)
state["status"] = "tampered"
with open(output, "w") as f:
    json.dump(state, f)
