"""Fake reducer: accepts a bundle the kit accepts; on any other never finishes, and leaves a
child behind (the harness must kill the group). Accepting valid bundles gets it past the preflight.

Usage: hang.py BUNDLE MARKER"""
import subprocess
import sys
import time

from rollout_trace_kit.validate import Options, Profile, validate_bundle

if validate_bundle(sys.argv[1], Options(profile=Profile.REDUCER)).ok:
    sys.exit(0)
subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)", sys.argv[2]])
time.sleep(600)
