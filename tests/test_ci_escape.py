"""No command and no format lets input turn into a CI workflow command (issue 21, item 5).

GitHub's runner reads ``::name::`` at the start of a line (after trimming whitespace) and
the legacy ``##[name]`` anywhere in a line. Hostile strings go in through every door the
kit has (bundle names and contents, case ids, reports to merge, a reducer's and a writer's
output), every command and format runs, and every line of what they print is scanned.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import unicodedata
from pathlib import Path

import pytest

from rollout_trace_kit.corpus import corpus_root
from rollout_trace_kit.escape import display, is_workflow_command

from ._helpers import PY, REDUCERS

RTK = [sys.executable, "-m", "rollout_trace_kit"]
ROOT = Path(__file__).resolve().parent.parent
TOOLS = corpus_root() / "codex-0.169.0" / "tools"
# Both forms, at a line start, after a line break of each kind, indented, after a
# non-breaking space, with a terminal escape and bidi overrides around them.
HOSTILE = ("H ::add-mask::x ##[error]x \n::error::y \r  ::warning::z \x1b[31m \u202eRTL\u2066 "
           "\u2028::debug::q \u0085::notice::n \u00a0::group::g \t::endgroup::")
# The kit's own annotations (``--format github``): props escape ':', so the first '::' ends them.
OWN_ANNOTATION = re.compile(r"::(error|warning|notice) [^:]*::")
UNSAFE = {"Cc", "Cf", "Zl", "Zp"}
ONE_LINE = display(HOSTILE).split("\t")[0]  # what a report shows of it (Rich expands the tab)


def scan(text: str, own_annotations: bool = False) -> None:
    """Fail on a line the runner would take as a command, or a character that moves text."""
    for line in re.split(r"\r\n|\r|\n", text):
        if is_workflow_command(line):
            assert own_annotations and OWN_ANNOTATION.match(line) and "##[" not in line, line
        bad = [ch for ch in line if ch != "\t" and unicodedata.category(ch) in UNSAFE]
        assert not bad, (bad, line)


def rtk(*args, cwd, timeout=120):
    return subprocess.run([*RTK, *args], capture_output=True, text=True, cwd=cwd, timeout=timeout,
                          errors="surrogateescape")


def run_scanned(*args, cwd, own_annotations=False, timeout=120):
    out = rtk(*args, cwd=cwd, timeout=timeout)
    assert "Traceback" not in out.stderr, out.stderr
    scan(out.stdout, own_annotations)
    scan(out.stderr)
    return out


def test_display_is_the_one_rule():
    assert display("::add-mask::x") == "\\x3a:add-mask::x"
    assert display(" \u00a0\t::error::x") == " \u00a0\t\\x3a:error::x"
    assert display("a ##[error]b ###[c") == "a ##\\x5berror]b ###\\x5bc"
    assert display("x::y") == "x::y" and display("plain") == "plain"
    for text in ("\n::error::y", "\r::e::", "\u2028::e::", "\u0085::e::"):
        assert "\n" not in display(text) and not is_workflow_command(display(text))


@pytest.fixture
def hostile_tree(tmp_path) -> Path:
    """A directory holding one bundle whose name and contents are hostile."""
    bundle = tmp_path / "tree" / HOSTILE
    shutil.copytree(TOOLS, bundle)
    lines = (bundle / "trace.jsonl").read_text().splitlines()
    ev = json.loads(lines[1])
    ev["payload"]["type"] = HOSTILE  # quoted by EVENT.UNKNOWN_TYPE
    ev["rollout_id"] = HOSTILE  # quoted by ENVELOPE.ROLLOUT_ID
    lines[1] = json.dumps(ev)
    lines.insert(3, HOSTILE)  # a line that is not JSON
    (bundle / "trace.jsonl").write_text("\n".join(lines) + "\n")
    return tmp_path / "tree"


@pytest.mark.parametrize("fmt", ["human", "json", "junit", "github", "sarif", "jsonl"])
def test_validate_every_format(hostile_tree, fmt):
    out = run_scanned("validate", str(hostile_tree), "--format", fmt, "--release", "0.169.0",
                      cwd=hostile_tree.parent, own_annotations=fmt == "github")
    assert out.returncode == 1 and out.stdout.strip()
    if fmt == "human":  # the name on one line, as display shows it: no raw line break from input
        assert ONE_LINE in out.stdout
    report = hostile_tree.parent / "report.out"
    out = run_scanned("validate", str(hostile_tree), "--format", fmt, "-o", str(report), cwd=hostile_tree.parent)
    scan(report.read_text(errors="surrogateescape"), own_annotations=fmt == "github")


def test_validate_usage_errors(tmp_path):
    out = run_scanned("validate", str(tmp_path / HOSTILE), cwd=tmp_path)
    assert out.returncode == 2 and "no such file" in out.stderr
    out = run_scanned("validate", str(TOOLS), "-o", str(tmp_path / HOSTILE / "x"), cwd=tmp_path)
    assert out.returncode == 2


@pytest.mark.parametrize("fmt", ["human", "json"])
def test_compat(hostile_tree, fmt):
    out = run_scanned("compat", str(hostile_tree), "--format", fmt, cwd=hostile_tree.parent)
    assert out.returncode in (0, 1) and out.stdout.strip()
    if fmt == "human":
        assert ONE_LINE in out.stdout


def _hostile_reducer(tmp_path) -> str:
    script = tmp_path / "loud.py"
    script.write_text(f"import sys\nsys.stderr.write({HOSTILE!r} * 3)\nsys.stdout.write({HOSTILE!r})\nsys.exit(1)\n")
    return f"{PY} {script} {{bundle}} {{output}}"


def test_replay(tmp_path):
    case = tmp_path / "case"
    shutil.copytree(TOOLS, case / "bundle")
    (case / "case.json").write_text(json.dumps({
        "case": {"dialect": "v2", "invariant": "VALID", "seed": 1, "events": 8},
        "must_reject": False, "expected": [], "id": HOSTILE}))
    for cmd in (f"{PY} {REDUCERS / 'accept_all.py'} {{bundle}} {{output}}", _hostile_reducer(tmp_path)):
        out = run_scanned("replay", str(case), "--cmd", cmd, cwd=tmp_path)
        assert out.returncode in (0, 1) and out.stdout.startswith(display(HOSTILE) + ": "), out.stdout


def test_fuzz_reducer_preflight_relays_stderr_safely(tmp_path):
    out = run_scanned("fuzz-reducer", "--cmd", _hostile_reducer(tmp_path), "--examples", "1", "--seed", "1",
                      cwd=tmp_path)
    assert out.returncode == 2 and "preflight" in out.stderr and "add-mask" in out.stderr


@pytest.mark.parametrize("fmt", ["human", "json", "junit", "github"])
def test_fuzz_reducer_merge(tmp_path, fmt):
    real = json.loads((ROOT / "docs" / "data" / "codex-reducer" / "0.169.0.json").read_text())
    failure = {**real["failures"][0], "id": HOSTILE, "detail": HOSTILE, "stderr_tail": HOSTILE,
               "stdout_tail": HOSTILE, "diff": [HOSTILE], "repro": HOSTILE, "replay": HOSTILE}
    for n in (1, 2):
        doc = {**real, "shard": f"{n}/2", "command": HOSTILE, "failures": [failure] if n == 1 else []}
        (tmp_path / f"r{n}.json").write_text(json.dumps(doc))
    out = run_scanned("fuzz-reducer", "merge", "r1.json", "r2.json", "--format", fmt, cwd=tmp_path,
                      own_annotations=fmt == "github")
    assert out.returncode in (0, 1, 2) and (out.stdout + out.stderr).strip()


@pytest.mark.parametrize("fmt", ["human", "json"])
def test_check_writer(tmp_path, fmt):
    writer = f"{PY} {ROOT / 'tests' / 'writers' / 'hostile_writer.py'} escape-codes"
    out = run_scanned("check-writer", "--cmd", writer, "--script", "lifecycle:v2", "--crash", "none",
                      "--format", fmt, cwd=tmp_path, timeout=300)
    assert out.returncode == 1 and out.stdout.strip()
