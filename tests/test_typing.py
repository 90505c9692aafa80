"""The package ships ``py.typed``: mypy, configured in ``pyproject.toml``, must pass on it."""

from __future__ import annotations

import subprocess
import sys

from .conftest import ROOT


def test_mypy_passes_with_the_pyproject_config():
    # From the repository root, mypy reads [tool.mypy] (files, strict public API) from
    # pyproject.toml and keeps its incremental cache in .mypy_cache (gitignored).
    proc = subprocess.run(
        [sys.executable, "-m", "mypy", "--no-color-output", "--no-error-summary"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
    )
    output = (proc.stdout + proc.stderr).strip()
    assert "No module named mypy" not in output, "mypy is in the test extra: pip install -e '.[test]'"
    errors = [line for line in output.splitlines() if ": error:" in line]
    assert proc.returncode == 0, f"mypy exit {proc.returncode}, {len(errors)} errors:\n{output}"
    assert not errors, output
