"""Fake reducer: accepts a bundle the kit accepts; on any other never finishes, and leaves a
child behind (the harness must kill the group). Accepting valid bundles gets it past the preflight.
With COUNT_FILE, it appends a line there each time it starts to hang: the number of timeouts
a campaign paid.

Usage: hang.py BUNDLE MARKER [COUNT_FILE]"""
import subprocess
import sys
import time

from rollout_trace_kit.validate import Options, Profile, validate_bundle

if validate_bundle(sys.argv[1], Options(profile=Profile.REDUCER)).ok:
    sys.exit(0)
if len(sys.argv) > 3:
    with open(sys.argv[3], "a") as f:
        f.write(sys.argv[1] + "\n")
subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)", sys.argv[2]])
time.sleep(600)
