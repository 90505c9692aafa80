"""The kit as a newcomer gets it: a wheel built from this tree, installed in a fresh venv
in another directory, runs the README's main command and every subcommand.

One test (building and installing take a while); marked ``packaging``: `.ci/run` runs it.
The build is network-free (``--no-isolation``, setuptools from the test extra); the
fresh venv installs the wheel's dependencies from the package index.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

import rollout_trace_kit
from rollout_trace_kit.corpus import corpus_root

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.packaging


def _run(cmd, cwd, timeout=600, ok=(0,), **kw):
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout, **kw)
    assert proc.returncode in ok, f"{cmd}: exit {proc.returncode}\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc


def _checkout_state() -> dict[str, int]:
    """Every path of the checkout (its venv, git data and caches aside) with its mtime: what a build
    must leave as it was."""
    skip = {".git", ".venv", "__pycache__", ".pytest_cache", ".hypothesis", ".mypy_cache"}
    state = {}
    for d, dirs, files in os.walk(ROOT):
        dirs[:] = [x for x in dirs if x not in skip]
        for name in dirs + files:
            path = os.path.join(d, name)
            state[os.path.relpath(path, ROOT)] = os.lstat(path).st_mtime_ns
    return state


def build(tmp_path: Path) -> Path:
    """`python -m build` of a copy of the checkout's files (tracked, and new ones git does not ignore),
    so the build's rollout_trace_kit.egg-info and build/ land in the copy: a build in the checkout left
    them there (and a stale egg-info's SOURCES.txt is read by the next sdist). The distribution folder."""
    files = subprocess.run(["git", "-C", str(ROOT), "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                           capture_output=True, check=True, timeout=60).stdout.decode().split("\0")
    copy, dist = tmp_path / "checkout", tmp_path / "dist"
    for rel in filter(None, files):
        if os.path.isfile(ROOT / rel):  # not a tracked file deleted in the checkout
            (copy / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / rel, copy / rel)
    before = _checkout_state()
    _run([sys.executable, "-m", "build", "--no-isolation", "--outdir", str(dist), str(copy)], cwd=tmp_path)
    changed = {rel for rel, mtime in _checkout_state().items() if before.get(rel) != mtime}
    assert not changed, f"the build wrote into the checkout: {sorted(changed)[:10]}"
    return dist


def readme_main_command() -> str:
    """The README's first command line: create a venv, install the kit, validate a shipped bundle."""
    for line in (ROOT / "README.md").read_text(encoding="utf-8").splitlines():
        if line.startswith("python3 -m venv") and "rollout-trace validate" in line:
            return line
    raise AssertionError("README.md has no main command line (python3 -m venv ... rollout-trace validate ...)")


def test_wheel_installs_and_runs_everything_in_a_fresh_venv(tmp_path):
    dist = build(tmp_path)
    wheels, sdists = list(dist.glob("*.whl")), list(dist.glob("*.tar.gz"))
    assert len(wheels) == 1 and len(sdists) == 1
    wheel = wheels[0]
    assert f"-{rollout_trace_kit.__version__}-" in wheel.name  # one version source
    _run([sys.executable, "-m", "twine", "check", "--strict", str(wheel), str(sdists[0])], cwd=tmp_path)

    # the shipped corpus is package data: every file of it is in the wheel
    with zipfile.ZipFile(wheel) as z:
        names = set(z.namelist())
        meta = z.read(next(n for n in names if n.endswith(".dist-info/METADATA"))).decode()
    shipped = {f"rollout_trace_kit/conformance/corpus/{p.relative_to(corpus_root()).as_posix()}"
               for p in corpus_root().rglob("*") if p.is_file() and "__pycache__" not in p.parts}
    assert shipped - names == set()
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names)
    assert "Project-URL: Repository, " in meta and "Classifier: " in meta
    extras = set(re.findall(r"^Provides-Extra: (\S+)$", meta, re.M))
    # every extra pyproject declares, and no other (the wheel's metadata is the built truth)
    declared = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"])
    assert extras == declared and {"test", "docs"} <= extras
    base = [line for line in re.findall(r"^Requires-Dist: (.+)$", meta, re.M) if "extra ==" not in line]
    assert any(d.startswith("hypothesis-jsonschema") for d in base), base

    # the README's main command, in another directory, installing the wheel instead of the checkout
    elsewhere = tmp_path / "newcomer"
    elsewhere.mkdir()
    cmd = readme_main_command()
    installed = re.sub(r"pip install (-e )?\.(?=\s|$)", f"pip install {shlex.quote(str(wheel))}", cmd)
    assert installed != cmd, cmd
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}
    proc = _run(["bash", "-c", installed], cwd=elsewhere, timeout=900, env=env)
    assert "1 bundle(s), 0 failing" in proc.stdout, proc.stdout
    bin_dir = elsewhere / ".venv" / "bin"
    rt = str(bin_dir / "rollout-trace")

    # the installed package, not the checkout, is what runs
    where = _run([str(bin_dir / "python"), "-c", "import rollout_trace_kit; print(rollout_trace_kit.__file__)"],
                 cwd=elsewhere, env=env).stdout
    assert str(elsewhere) in where and str(ROOT / "src") not in where

    # every subcommand
    out = elsewhere / "schema"
    _run([rt, "schema", "--out", str(out)], cwd=elsewhere, env=env)
    for f in (ROOT / "schema").rglob("*.json"):
        assert (out / f.relative_to(ROOT / "schema")).read_text() == f.read_text()
    inv = json.loads(_run([rt, "invariants", "--format", "json"], cwd=elsewhere, env=env).stdout)
    assert inv["format"].startswith("rollout-trace-kit/invariants/") and inv["invariants"]
    sarif = elsewhere / "r.sarif"
    _run([rt, "validate", "corpus:codex-0.164.0", "--format", "sarif", "-o", str(sarif)], cwd=elsewhere, env=env)
    assert json.loads(sarif.read_text())["version"] == "2.1.0"
    # the kit's own validator (reducer profile) as the reducer under test: generators and harness work
    reducer = f"{shlex.quote(rt)} validate -q --profile reducer {{bundle}}"
    fuzz = _run([rt, "fuzz-reducer", "--cmd", reducer, "--examples", "6", "--jobs", "1", "--no-shrink",
                 "--format", "json", "--repro-dir", str(elsewhere / "repro")], cwd=elsewhere, env=env, ok=(0, 1))
    doc = json.loads(fuzz.stdout)
    assert doc["cases"] == 6 and doc["results"]["error"] == 0, doc["results"]
    writer = _run([rt, "check-writer", "--cmd", str(bin_dir / "rollout-trace-writer"), "--crash", "none",
                   "--script", "corpus:codex-0.169.0/tools", "--format", "json"], cwd=elsewhere, env=env)
    assert json.loads(writer.stdout)["ok"] is True
    replay_cases = sorted((elsewhere / "repro").glob("*/case.json")) if (elsewhere / "repro").is_dir() else []
    if replay_cases:  # replay needs a saved case: only a failing fuzz run leaves one
        _run([rt, "replay", str(replay_cases[0].parent), "--cmd", reducer], cwd=elsewhere, env=env, ok=(0, 1))
    else:
        bad = _run([rt, "replay", str(elsewhere), "--cmd", reducer], cwd=elsewhere, env=env, ok=(2,))
        assert "Traceback" not in bad.stderr
    assert "Traceback" not in fuzz.stderr + writer.stderr

    # the conformance suite as data ships in the wheel, and runs from it
    suite = _run([rt, "conformance", "run", "--profile", "reducer", "--dialect", "v1", "--only", "LINE.", "--cmd",
                  f"{shlex.quote(rt)} validate -q --profile reducer --dialect {{dialect}} {{bundle}}"], cwd=elsewhere, env=env)
    assert ", 0 fail," in suite.stdout and "not ok" not in suite.stdout, suite.stdout


def _modules_in_wheel(names: set[str]) -> set[str]:
    return {n.removesuffix(".py").removesuffix("/__init__").replace("/", ".") for n in names if n.endswith(".py")}


def test_one_import_name_the_same_modules_in_the_wheel_the_sdist_and_an_editable_install(tmp_path):
    """The wheel (built from the sdist, as `python -m build` does) lists only rollout_trace_kit in
    top_level.txt and holds exactly the modules an editable install and mypy's view see; the sdist
    carries setup.py and the two mapped roots with the suite's data."""
    import tarfile

    from .test_typing import package_view, roots_of

    dist = build(tmp_path)
    (wheel,), (sdist,) = list(dist.glob("*.whl")), list(dist.glob("*.tar.gz"))
    with tarfile.open(sdist) as tar:
        in_sdist = {n.split("/", 1)[1] for n in tar.getnames() if "/" in n}
    for want in ("setup.py", "MANIFEST.in", "generators/__init__.py", "generators/_ops_schema.py",
                 "conformance/__init__.py", "conformance/suite/build.py", "conformance/INTERPRETING.md",
                 "conformance/cases/index.json", "conformance/corpus/codex-0.171.0/plain/manifest.json",
                 "conformance/corpus/codex-0.171.0/plain/payloads/000001.zst", "conformance/runners/node/run.mjs"):
        assert want in in_sdist, want
    with zipfile.ZipFile(wheel) as z:
        names = set(z.namelist())
        top_level = z.read(next(n for n in names if n.endswith(".dist-info/top_level.txt"))).decode()
    assert top_level.split() == ["rollout_trace_kit"]
    assert {n.split("/", 1)[0] for n in names if not n.split("/", 1)[0].endswith(".dist-info")} == {"rollout_trace_kit"}
    in_wheel = _modules_in_wheel(names)

    import pkgutil

    import rollout_trace_kit as pkg

    editable = {name for name, _ in roots_of(pkg)}
    for name, root in roots_of(pkg):
        editable |= {info.name for info in pkgutil.walk_packages([str(root)], prefix=name + ".")}
    view = package_view(tmp_path / "view")
    in_view = _modules_in_wheel({(Path(d) / f).relative_to(view.parent).as_posix()
                                 for d, _, files in os.walk(view, followlinks=True) for f in files})
    assert in_wheel == editable == in_view
    # the suite's data is package data of rollout_trace_kit.conformance
    for want in ("cases/index.json", "expected.schema.json", "INTERPRETING.md", "runners/node/run.mjs",
                 "cases/v1/invalid-LINE.JSON/expected.json", "corpus/codex-0.164.0/plain/trace.jsonl"):
        assert f"rollout_trace_kit/conformance/{want}" in names, want
