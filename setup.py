"""Where the one import name's packages live (pyproject.toml holds everything else).

The card's layout: the Hypothesis strategies and corruption operators are ``generators/``,
the conformance suite and the harnesses that run it are ``conformance/``, the rest of
``rollout_trace_kit`` is ``src/rollout_trace_kit``. All three install as ``rollout_trace_kit``
(a wheel's ``top_level.txt`` lists only that); tests/test_packaging.py and
tests/test_typing.py check that the wheel, an editable install and mypy see the same modules.
"""

from __future__ import annotations

from setuptools import find_namespace_packages, setup

ROOTS = {
    "rollout_trace_kit": "src/rollout_trace_kit",
    "rollout_trace_kit.generators": "generators",
    "rollout_trace_kit.conformance": "conformance",
}


def packages() -> list[str]:
    return [name + (f".{sub}" if sub else "") for name, root in ROOTS.items() for sub in ("", *_importable(root))]


def _importable(root: str) -> list[str]:
    """Packages under ``root``, the data directories with importable names among them (the suite's
    cases, the release records): setuptools warns of each one left out ("Package would be ignored").
    Their files are package data of the package above (pyproject.toml)."""
    found = find_namespace_packages(root, exclude=["__pycache__", "*.__pycache__"])
    return [p for p in found if all(part.isidentifier() for part in p.split("."))]


if __name__ == "__main__":
    setup(package_dir=ROOTS, packages=packages())
