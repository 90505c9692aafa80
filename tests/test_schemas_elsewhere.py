"""docs/guides/schemas.md: the check-jsonschema recipe runs on every shipped bundle, and
the ajv script runs on one bundle per dialect (Node and npm from the machine, ajv from npm)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import CORPUS, ROOT, corpus_bundles

GUIDE = (ROOT / "docs" / "guides" / "schemas.md").read_text(encoding="utf-8")
EXAMPLE = "corpus/codex-0.169.0/tools"  # the guide links the shipped corpus as `corpus`
BIN = str(Path(sys.executable).parent)


def _section(title: str) -> str:
    m = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## |\Z)", GUIDE, re.M | re.S)
    assert m, title
    return m.group(1)


def recipe() -> list[str]:
    """The check-jsonschema commands that check the example bundle."""
    block = re.search(r"^```sh\n(.*?)^```$", _section("check-jsonschema"), re.M | re.S).group(1)
    lines = [line for line in block.splitlines() if line.strip()]
    assert len(lines) == 3 and all(EXAMPLE in line or "lines/" in line for line in lines)
    return lines


def _env():
    return dict(os.environ, PATH=BIN + os.pathsep + os.environ.get("PATH", ""))


@pytest.fixture(scope="module")
def schema_dir(tmp_path_factory) -> Path:
    work = tmp_path_factory.mktemp("schemas")
    subprocess.run([f"{BIN}/rollout-trace", "schema", "--out", str(work / "schema")], check=True,
                   capture_output=True, timeout=120)
    return work / "schema"


def _dialect(bundle: Path) -> str:
    return f"v{json.loads((bundle / 'manifest.json').read_text())['schema_version']}"


def _recipe_bundles() -> list:
    """Every shipped bundle; past the first of each release in the slow tier (.ci/run runs it): the
    schema's verdict on each is test_spec's (jsonschema, in process), the recipe's working is this file's."""
    seen: set[str] = set()
    out = []
    for p in corpus_bundles():
        first = p.parent.name not in seen
        seen.add(p.parent.name)
        out.append(pytest.param(p, id=f"{p.parent.name}/{p.name}", marks=() if first else pytest.mark.slow))
    return out


@pytest.mark.parametrize("bundle", _recipe_bundles())
def test_check_jsonschema_recipe_passes_on_every_shipped_bundle(bundle, schema_dir, tmp_path):
    (tmp_path / "schema").symlink_to(schema_dir, target_is_directory=True)
    lines = 0
    for cmd in recipe():
        cmd = cmd.replace(EXAMPLE, str(bundle)).replace("schema/v2/", f"schema/{_dialect(bundle)}/")
        proc = subprocess.run(["bash", "-c", cmd], cwd=tmp_path, env=_env(), capture_output=True, text=True,
                              timeout=300)
        assert proc.returncode == 0, f"{cmd}\n{proc.stdout}{proc.stderr}"
    lines = len(list((tmp_path / "lines").glob("*.json")))
    assert lines == len((bundle / "trace.jsonl").read_bytes().splitlines())


def test_check_jsonschema_recipe_catches_a_broken_line(schema_dir, tmp_path):
    bundle = tmp_path / "bundle"
    shutil.copytree(CORPUS / "codex-0.169.0" / "tools", bundle)
    with open(bundle / "trace.jsonl", "a") as f:
        f.write('{"seq": "one"}\n')
    (tmp_path / "schema").symlink_to(schema_dir, target_is_directory=True)
    *split, check = [c.replace(EXAMPLE, "bundle") for c in recipe()]
    for cmd in split:
        subprocess.run(["bash", "-c", cmd], cwd=tmp_path, env=_env(), check=True, capture_output=True, timeout=300)
    proc = subprocess.run(["bash", "-c", check], cwd=tmp_path, env=_env(), capture_output=True, text=True, timeout=300)
    last = sorted((tmp_path / "lines").glob("*.json"))[-1].name
    assert proc.returncode == 1 and last in proc.stdout, proc.stdout


@pytest.fixture(scope="module")
def ajv(tmp_path_factory) -> Path:
    if shutil.which("npm") is None or shutil.which("node") is None:
        pytest.skip("needs node and npm on PATH")
    work = tmp_path_factory.mktemp("ajv")
    proc = subprocess.run(["npm", "install", "--no-audit", "--no-fund", "--prefix", str(work), "ajv@8"],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    script = re.search(r"^```js\n(.*?)^```$", _section("ajv (JavaScript)"), re.M | re.S).group(1)
    (work / "validate-bundle.mjs").write_text(script)
    return work


@pytest.mark.parametrize("release", sorted({b.parent.name for b in corpus_bundles()}))
def test_ajv_script_checks_a_bundle_of_each_dialect(ajv, schema_dir, release, tmp_path):
    bundle = tmp_path / "bundle"
    shutil.copytree(CORPUS / release / "tools", bundle)
    run = ["node", str(ajv / "validate-bundle.mjs"), str(schema_dir / _dialect(bundle)), str(bundle)]
    proc = subprocess.run(run, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and proc.stdout.strip() == "ok", proc.stdout + proc.stderr
    with open(bundle / "trace.jsonl", "a") as f:
        f.write('{"seq": "one"}\n')
    proc = subprocess.run(run, capture_output=True, text=True, timeout=120)
    n = len((bundle / "trace.jsonl").read_bytes().splitlines())
    assert proc.returncode == 1 and f"trace.jsonl:{n}:" in proc.stdout, proc.stdout + proc.stderr
