"""The package ships ``py.typed``: mypy, configured in ``pyproject.toml``, must pass on it.

The package has three roots (setup.py maps ``generators/`` and ``conformance/`` into
``rollout_trace_kit``), which mypy cannot map by itself: the test builds a view of the
package as setup.py maps it (symbolic links) and runs mypy on that view.
"""

from __future__ import annotations

import os
import runpy
import subprocess
import sys
from pathlib import Path

from .conftest import ROOT


def package_view(into: Path) -> Path:
    """``into/rollout_trace_kit``: the import name's tree, each mapped root linked where setup.py puts it."""
    roots: dict[str, str] = runpy.run_path(str(ROOT / "setup.py"), run_name="setup_roots")["ROOTS"]
    top = into / "rollout_trace_kit"
    top.mkdir(parents=True)
    nested = {name.split(".", 1)[1] for name in roots if "." in name}
    for child in (ROOT / roots["rollout_trace_kit"]).iterdir():
        if child.name not in nested and child.name != "__pycache__":
            (top / child.name).symlink_to(child)
    for name in nested:
        (top / name).symlink_to(ROOT / roots[f"rollout_trace_kit.{name}"])
    return top


def test_mypy_passes_with_the_pyproject_config(tmp_path):
    # From the repository root, mypy reads [tool.mypy] (strict public API) from pyproject.toml
    # and keeps its incremental cache in .mypy_cache (gitignored).
    view = package_view(tmp_path)
    proc = subprocess.run(
        [sys.executable, "-m", "mypy", "--no-color-output", "--no-error-summary", str(view)],
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


def test_the_view_holds_every_module_the_package_installs(tmp_path):
    """mypy sees the modules an install sees: the view's modules equal the installed package's."""
    import pkgutil

    import rollout_trace_kit

    view = package_view(tmp_path)
    in_view = {str((Path(d) / f).relative_to(tmp_path).with_suffix("")).replace("/", ".")
               for d, _, files in os.walk(view, followlinks=True) for f in files if f.endswith(".py")}
    installed = {name for name, _ in roots_of(rollout_trace_kit)}
    for root in roots_of(rollout_trace_kit):
        for info in pkgutil.walk_packages([str(root[1])], prefix=root[0] + "."):
            installed.add(info.name)
    in_view = {m.removesuffix(".__init__") for m in in_view}
    assert in_view == installed


def roots_of(package: object) -> list[tuple[str, Path]]:
    """The installed package's roots: its own directory and each mapped subpackage's (an
    editable install resolves these through setuptools' finder, a wheel through one tree)."""
    import importlib

    roots: dict[str, str] = runpy.run_path(str(ROOT / "setup.py"), run_name="setup_roots")["ROOTS"]
    out = []
    for name in roots:
        module = importlib.import_module(name)
        out.append((name, Path(module.__file__).parent))  # type: ignore[attr-defined]
    return out
