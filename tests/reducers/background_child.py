"""Fake reducer: leaves a background child (``sleep MARKER``) behind and exits at once.

Usage: background_child.py MARKER EXIT_STATUS; the harness must kill the child with the group."""
import subprocess
import sys

subprocess.Popen(["sleep", sys.argv[1]], stdout=sys.stdout, stderr=sys.stderr)
sys.exit(int(sys.argv[2]))
