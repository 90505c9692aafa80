"""Conformance harnesses: one folder per harness (reducer fuzzing, writer checks)."""
