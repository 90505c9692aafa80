"""Fake reducer: never finishes, and leaves a child behind (the harness must kill the group)."""
import subprocess
import sys
import time

subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
time.sleep(600)
