"""Fake reducer: the kit's verdict as its own (exit 0 accepts, 1 rejects), after starting a
sleeper that leaves the process group (``setsid``) and, with ``--clean-env``, its environment
too; the harness must still find it and kill it once the run ends.

Usage: setsid_sleeper.py BUNDLE MARKER [--clean-env]"""
import os
import subprocess
import sys

from rollout_trace_kit.validate import Options, Profile, validate_bundle

env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")} if "--clean-env" in sys.argv else None
subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)", sys.argv[2]],
                 stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env,
                 start_new_session=True)
sys.exit(0 if validate_bundle(sys.argv[1], Options(profile=Profile.REDUCER)).ok else 1)
