"""Conformance harnesses: one folder per harness (reducer fuzzing, writer checks), and the suite
as data (``suite/`` builds and runs ``cases/``; ``corpus/`` holds the real bundles; ``runners/``
runs the cases from other languages; ``INTERPRETING.md`` is the contract)."""
