"""Opt-in tier: the published Codex reducer reports are what the command the docs name makes today."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
from pathlib import Path

import pytest

from rollout_trace_kit.codex.reducer_reports import REPORTS_DIR, comparable, recipe

ROOT = Path(__file__).resolve().parent.parent
REPORTS = sorted((ROOT / REPORTS_DIR).glob("*.json"))


def test_published_reports_name_no_machine_path():
    for path in REPORTS:
        text = path.read_text()
        for marker in ("/root/", "/home/", "/tmp/", "/Users/", ".cache/", "node_modules"):
            assert marker not in text, (path.name, marker)
        doc = json.loads(text)
        assert doc["ok"] is True, (path.name, doc["new_failures"])
        assert doc["examples"] and doc["timeout"] and doc["seed"] is not None


def test_docs_name_the_recipe():
    from rollout_trace_kit.docsgen import reference_pages

    page = reference_pages(ROOT / "docs")["reference/invariants.md"]
    for path in REPORTS:
        assert recipe(path.stem, json.loads(path.read_text())) in page


@pytest.mark.codex
@pytest.mark.parametrize("path", REPORTS, ids=lambda p: p.stem)
def test_documented_command_reproduces_the_report(tmp_path, path):
    published = json.loads(path.read_text())
    command = recipe(path.stem, published).replace(f"-o {REPORTS_DIR}/{path.stem}.json", f"-o {tmp_path}/out.json")
    # Run as the docs say (from the repository's root, whose known-results it names), but from a scratch
    # directory: a failing case is saved under the working directory, never into the repository
    known = f"--known {shlex.quote(str(ROOT))}/tests/"
    command = command.replace("--known tests/", known)
    assert known in command
    env = dict(os.environ, PATH=f"{Path(os.sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
    proc = subprocess.run(["bash", "-c", command], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=1800)
    assert proc.returncode == 0, proc.stderr[-2000:]
    again = json.loads((tmp_path / "out.json").read_text())
    assert comparable(again) == comparable(published)
