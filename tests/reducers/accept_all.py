"""Fake reducer: accepts every bundle (writes an empty JSON object)."""
import sys

with open(sys.argv[2], "w") as f:
    f.write("{}")
