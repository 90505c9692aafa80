"""Conformance harnesses: the reference Codex CLI, reducer fuzzing, writer checks."""
