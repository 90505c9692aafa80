"""Reports for every consumer: SARIF against its schema, escaping of hostile text in every
format, colour and NO_COLOR, --quiet, the console summary with -o, help texts, "did you
mean", [tool.rollout-trace] defaults, and a closed pipe."""

from __future__ import annotations

import json
import os
import pty
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from rollout_trace_kit import escape
from rollout_trace_kit.cli import build_parser
from rollout_trace_kit.corpus import corpus_root
from rollout_trace_kit.links import invariant_anchor
from rollout_trace_kit.validate import all_invariants

from ._helpers import read_until_closed
from .conftest import corpus_bundles
from .test_ci_integrations import _errors, sarif_schema

CLEAN = corpus_root() / "codex-0.169.0" / "tools"
# a directory name that is not UTF-8 and holds a terminal escape, a newline and a workflow command
HOSTILE_NAME = os.fsdecode(b"b\xffd\x1b[31mred\x1b]0;title\x07\n::add-mask::secret") + "\u202e"


def _cli(*args, cwd=None, env=None, **kw):
    full_env = {k: v for k, v in os.environ.items() if k != "NO_COLOR"}
    full_env.update(env or {})
    return subprocess.run([sys.executable, "-m", "rollout_trace_kit", *map(str, args)], capture_output=True,
                          cwd=cwd, env=full_env, timeout=300, **kw)


def _hostile_bundle(tmp_path: Path) -> Path:
    target = tmp_path / HOSTILE_NAME
    shutil.copytree(CLEAN, target)
    with open(target / "trace.jsonl", "ab") as f:
        f.write(b'{"\x1b[2J\\u001b[31m\\n::warning::x": 1}\n')  # raw ESC and an escaped one
        f.write(b"\x1b[31mnot json \xff\n")
    return target


# --- escaping -------------------------------------------------------------------------------

@pytest.mark.parametrize("text, shown", [
    ("plain/path.json", "plain/path.json"),
    ("a\x1b[31mb", "a\\x1b[31mb"),
    ("line\n::add-mask::x", "line\\n::add-mask::x"),
    ("tab\tkept", "tab\tkept"),
    ("\u202eevil", "\\u202eevil"),
    ("caf\u00e9", "caf\u00e9"),
    ("\x9b31m", "\\x9b31m"),
    (os.fsdecode(b"\xff"), "\\xff"),
])
def test_display_escapes_what_a_terminal_would_act_on(text, shown):
    assert escape.display(text) == shown
    assert escape.display(text).encode("utf-8")  # never a lone surrogate


def test_every_format_escapes_hostile_text(tmp_path):
    bundle = _hostile_bundle(tmp_path)
    outputs = {}
    for fmt in ("human", "json", "junit", "github", "sarif"):
        target = tmp_path / f"report.{fmt}"
        proc = _cli("validate", "--format", fmt, "-o", target, "--color", "always", bundle)
        assert proc.returncode == 1, proc.stderr
        assert b"Traceback" not in proc.stderr
        raw = target.read_bytes()
        text = raw.decode("utf-8")  # valid UTF-8 whatever the directory name
        outputs[fmt] = text
        # what the console got (the summary) carries nothing hostile either
        assert b"\x1b]0;" not in proc.stdout and b"\x07" not in proc.stdout
        assert "\x1b]0;" not in text and "\x07" not in text and "\u202e" not in text
        assert not re.search(r"^::add-mask::", text, re.M), fmt
        assert "\x1b[2J" not in text and "\x1b[31mred" not in text
    json.loads(outputs["json"])
    assert "b\\xffd" in json.loads(outputs["json"])["bundles"][0]["bundle"]
    ET.fromstring(outputs["junit"])
    assert _errors(sarif_schema(), json.loads(outputs["sarif"])) == []
    for line in outputs["github"].splitlines():
        assert re.match(r"::(error|warning) file=[^\n]*::", line), line


def _bad_payload_bundles(tmp_path: Path) -> tuple[Path, Path]:
    """A v2 bundle whose payloads/3.json is not JSON, and a v3 one whose shard holds a record that is not."""
    from rollout_trace_kit.store.shards import Record, compress_records, read_records

    v2, v3 = tmp_path / "v2", tmp_path / "v3"
    shutil.copytree(corpus_root() / "codex-0.169.0" / "plain", v2)
    (v2 / "payloads" / "3.json").write_bytes(b"{nope")
    shutil.copytree(corpus_root() / "codex-0.171.0" / "basic", v3)
    [shard] = (v3 / "payloads").glob("*.zst")
    records = [(r.id, bytes(r.body)) for r in read_records(open(shard, "rb")) if isinstance(r, Record)]
    records[2] = (records[2][0], b"{nope")
    shard.write_bytes(compress_records(records))
    return v2, v3


def test_no_format_pairs_a_payload_file_with_a_trace_line(tmp_path):
    """A payload or shard finding said `payloads/3.json:5` (human, junit), `file=.../payloads/3.json,line=5`
    (github), a SARIF region of line 5 in the payload file and {"file": "payloads/3.json", "line": 5}
    (json): 5 is the trace.jsonl line of the referring event. A line goes with trace.jsonl only."""
    v2, v3 = _bad_payload_bundles(tmp_path)
    paired = re.compile(r"payloads/[^\s,:]*:\d|payloads/[^\s,]*,line=")
    for fmt in ("human", "junit", "github"):
        out = _cli("validate", "--format", fmt, v2, v3, cwd=tmp_path, env={"NO_COLOR": "1"})
        text = out.stdout.decode()
        assert out.returncode == 1 and "REF.JSON" in text and "STORE.BODY_JSON" in text, text
        assert not paired.search(text), (fmt, paired.search(text))
    doc = json.loads(_cli("validate", "--format", "json", v2, v3, cwd=tmp_path).stdout)
    findings = [f for b in doc["bundles"] for f in b["findings"]]
    assert {f["invariant"] for f in findings} >= {"REF.JSON", "STORE.BODY_JSON"}
    assert all(f["file"] == "trace.jsonl" for f in findings if f["line"] is not None), findings
    sarif = json.loads(_cli("validate", "--format", "sarif", v2, v3, cwd=tmp_path).stdout)
    for result in sarif["runs"][0]["results"]:
        where = result["locations"][0]["physicalLocation"]
        assert "region" not in where or where["artifactLocation"]["uri"].endswith("/trace.jsonl"), result


def test_json_report_to_a_file_under_a_non_utf8_name(tmp_path):
    bundle = _hostile_bundle(tmp_path)
    target = tmp_path / os.fsdecode(b"out\xfe.json")
    proc = _cli("validate", "--format", "json", "-o", target, bundle, env={"PYTHONIOENCODING": "ascii"})
    assert proc.returncode == 1 and b"Traceback" not in proc.stderr, proc.stderr
    assert json.loads(target.read_bytes())["format"] == "rollout-trace-kit/validate-report/1"


# --- SARIF ----------------------------------------------------------------------------------

def test_sarif_matches_the_sarif_2_1_0_schema_and_lists_the_catalogue(tmp_path):
    broken = tmp_path / "broken"
    shutil.copytree(CLEAN, broken)
    with open(broken / "trace.jsonl", "a") as f:
        f.write("not json\n")
    proc = _cli("validate", "--format", "sarif", broken, CLEAN)
    assert proc.returncode == 1
    doc = json.loads(proc.stdout)
    assert _errors(sarif_schema(), doc) == []
    run = doc["runs"][0]
    rules = run["tool"]["driver"]["rules"]
    assert [r["id"] for r in rules] == [i.id for i in all_invariants()]
    assert all(r["helpUri"].endswith("reference/invariants/#" + invariant_anchor(r["id"])) for r in rules)
    results = run["results"]
    assert results and all(rules[r["ruleIndex"]]["id"] == r["ruleId"] for r in results)
    assert any(r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"].endswith("broken/trace.jsonl")
               and r["locations"][0]["physicalLocation"].get("region", {}).get("startLine") for r in results)
    # the summary line on stderr, not in the SARIF (whose rule texts may say "summary")
    assert b"1 failing" not in proc.stdout and b"1 failing" in proc.stderr


def test_help_anchors_exist_on_the_catalogue_page():
    from rollout_trace_kit.docsgen import reference_pages

    page = reference_pages(Path(__file__).resolve().parents[1] / "docs")["reference/invariants.md"]
    for inv in all_invariants():
        assert f"{{#{invariant_anchor(inv.id)}}}" in page


# --- JSON reports carry their format --------------------------------------------------------

def test_every_json_report_names_its_format_and_version(tmp_path):
    v = json.loads(_cli("validate", "--format", "json", CLEAN).stdout)
    i = json.loads(_cli("invariants", "--format", "json").stdout)
    w = json.loads(_cli("check-writer", "--cmd", f"{sys.executable} -m rollout_trace_kit.writer", "--crash", "none",
                        "--script", "corpus:codex-0.169.0/plain", "--format", "json").stdout)
    for doc, fmt in ((v, "validate-report"), (i, "invariants"), (w, "writer-report")):
        assert re.fullmatch(rf"rollout-trace-kit/{fmt}/\d+", doc["format"]), doc.get("format")
        assert doc["kit_version"]


# --- colour, quiet, summary -------------------------------------------------------------------

def _on_a_terminal(args, env):
    """Run with stdout on a pseudo-terminal; return what it printed."""
    master, slave = pty.openpty()
    full_env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "TERM")}
    full_env.update(env)
    proc = subprocess.Popen([sys.executable, "-m", "rollout_trace_kit", *args], stdout=slave, stderr=slave,
                            env=full_env)
    os.close(slave)
    out = read_until_closed(master)
    proc.wait(timeout=120)
    os.close(master)
    return out


# colour is SGR (ESC [ ... m); a progress bar's cursor controls are not colour, and whether the
# bar shows at all depends on how long the run takes, so colour is what these tests look for
_SGR = re.compile(rb"\x1b\[[0-9;]*m")


def _coloured(out: bytes) -> bool:
    return _SGR.search(out) is not None


def test_color_on_a_terminal_and_never_with_no_color(tmp_path):
    broken = _hostile_bundle(tmp_path)
    args = ["validate", str(broken)]
    assert _coloured(_on_a_terminal(args, {"TERM": "xterm"}))
    assert not _coloured(_on_a_terminal(args, {"TERM": "xterm", "NO_COLOR": "1"}))
    assert not _coloured(_on_a_terminal([*args, "--color", "never"], {"TERM": "xterm"}))
    assert b"\x1b[" not in _cli(*args).stdout  # a pipe: auto means no colour (and no bar)
    assert _coloured(_cli(*args, "--color", "always").stdout)
    writer = ["check-writer", "--cmd", f"{sys.executable} -m rollout_trace_kit.writer", "--crash", "none",
              "--script", "corpus:codex-0.169.0/plain"]
    assert not _coloured(_on_a_terminal(writer, {"TERM": "xterm", "NO_COLOR": "1"}))
    assert _coloured(_on_a_terminal(writer, {"TERM": "xterm"}))


def test_quiet_prints_nothing_for_clean_bundles_and_findings_for_broken_ones(tmp_path):
    clean = _cli("validate", "-q", CLEAN)
    assert clean.returncode == 0 and clean.stdout == b"" and clean.stderr == b""
    broken = _cli("validate", "-q", _hostile_bundle(tmp_path), CLEAN)
    assert broken.returncode == 1
    text = broken.stdout.decode()
    assert "error" in text and "tools  dialect" not in text  # the clean bundle is left out


def test_summary_reaches_the_console_with_o(tmp_path):
    proc = _cli("validate", "-o", tmp_path / "r.txt", CLEAN)
    assert proc.stdout.decode().startswith("ok: 1 bundle(s), 0 failing")
    assert "ok" in (tmp_path / "r.txt").read_text()
    assert _cli("validate", "-q", "-o", tmp_path / "r.txt", CLEAN).stdout == b""


def test_human_findings_are_labelled(tmp_path):
    text = _cli("validate", _hostile_bundle(tmp_path)).stdout.decode()
    assert re.search(r"^  error +[A-Z]+\.", text, re.M), text


def test_output_that_cannot_be_written_fails_before_the_run(tmp_path):
    for args in (["validate", CLEAN], ["fuzz-reducer", "--cmd", "true", "--examples", "1"],
                 ["check-writer", "--cmd", "true"]):
        proc = _cli(*args, "-o", tmp_path / "missing" / "x")
        assert proc.returncode == 2 and b"Traceback" not in proc.stderr, proc.stderr
        assert str(tmp_path / "missing").encode() in proc.stderr and proc.stderr.count(b"\n") == 1


# --- help, did you mean --------------------------------------------------------------------

def _subparsers():
    import argparse

    parser = build_parser()
    (action,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return action.choices


@pytest.mark.parametrize("name", list(_subparsers()))
def test_help_shows_choices_and_defaults(name):
    sub = _subparsers()[name]
    text = sub.format_help()
    for action in sub._actions:
        if not action.option_strings or action.dest == "help":
            continue
        assert action.help, f"{name} {action.option_strings[0]} has no help"
        if action.choices:
            assert "{" + ",".join(map(str, action.choices)) + "}" in text
        if not (action.default is None or action.default is False or action.default in ([], "==SUPPRESS==")):
            assert f"(default: {action.default})" in " ".join(text.split()), (name, action.dest)


def test_did_you_mean_for_commands_and_invariants():
    proc = _cli("valdate", ".")
    assert proc.returncode == 2 and b"did you mean 'validate'?" in proc.stderr
    proc = _cli("invariants", "REF.ORPAN")
    assert proc.returncode == 2 and b"did you mean 'REF.ORPHAN'?" in proc.stderr
    proc = _cli("fuzz-reducer", "--cmd", "true", "--invariant", "ref.orphan")
    assert proc.returncode == 2 and b"did you mean 'REF.ORPHAN'?" in proc.stderr


# --- [tool.rollout-trace] -----------------------------------------------------------------

def _project(tmp_path, table: str) -> Path:
    (tmp_path / "pyproject.toml").write_text(f'[project]\nname = "x"\n\n{table}\n')
    sub = tmp_path / "deep" / "er"
    sub.mkdir(parents=True)
    return sub


def test_pyproject_defaults_apply_from_a_subdirectory(tmp_path):
    cwd = _project(tmp_path, '[tool.rollout-trace]\nprofile = "strict"\nformat = "json"\n')
    doc = json.loads(_cli("validate", CLEAN, cwd=cwd).stdout)
    assert doc["bundles"][0]["profile"] == "strict"
    # the command line wins
    doc = json.loads(_cli("validate", "--profile", "reducer", CLEAN, cwd=cwd).stdout)
    assert doc["bundles"][0]["profile"] == "reducer"


def test_pyproject_release_picks_the_dialect_and_sections_override(tmp_path):
    cwd = _project(tmp_path, '[tool.rollout-trace]\nrelease = "0.164.0"\n\n'
                             '[tool.rollout-trace.validate]\nformat = "json"\n')
    doc = json.loads(_cli("validate", CLEAN, cwd=cwd).stdout)
    # validate takes the release itself (--release): 0.164.0's reducer does not know v2 variants
    assert doc["ok"] is False
    assert "RELEASE.VARIANT_KNOWN" in {f["invariant"] for f in doc["bundles"][0]["findings"]}


@pytest.mark.parametrize("table, message", [
    ('[tool.rollout-trace]\nprofil = "strict"\n', b"did you mean 'profile'?"),
    ('[tool.rollout-trace]\nprofile = "lenient"\n', b"choose from reducer, writer, strict"),
    ('[tool.rollout-trace.validat]\nprofile = "strict"\n', b"did you mean 'validate'?"),
    ('[tool.rollout-trace]\nrelease = "0.1.0"\n', b"writes no dialect"),
    ('[tool.rollout-trace\n', b"pyproject.toml"),
])
def test_pyproject_mistakes_are_usage_errors(tmp_path, table, message):
    cwd = _project(tmp_path, table)
    proc = _cli("validate", CLEAN, cwd=cwd)
    assert proc.returncode == 2 and message in proc.stderr, proc.stderr
    assert b"Traceback" not in proc.stderr


def test_pyproject_known_results_path_is_relative_to_the_file(tmp_path):
    from rollout_trace_kit import config

    cwd = _project(tmp_path, '[tool.rollout-trace.fuzz-reducer]\nknown = "ci/known.json"\n')
    table, origin = config.load(cwd)
    subs = _subparsers()
    config.apply(subs, table, origin)
    assert subs["fuzz-reducer"].get_default("known") == str(tmp_path / "ci" / "known.json")


# --- a closed pipe ------------------------------------------------------------------------------

def test_closed_pipe_ends_without_a_traceback():
    proc = subprocess.run(f"{sys.executable} -m rollout_trace_kit invariants | head -1", shell=True,
                          capture_output=True, timeout=120)
    assert proc.stdout.count(b"\n") == 1
    assert b"Traceback" not in proc.stderr and b"BrokenPipe" not in proc.stderr, proc.stderr


@pytest.mark.parametrize("command", ["validate", "compat"])
def test_a_report_into_a_closed_pipe_is_an_environment_error_not_findings(command):
    # Rich ends a console write into a closed pipe with exit 1, which reads as "findings" on clean bundles
    # (the review of session 9); the kit's own handling makes it 2, as for any output it cannot write
    bundles = " ".join(str(b) for b in corpus_bundles())  # written one by one: the reader is gone by the second
    proc = subprocess.run(f"set -o pipefail; {sys.executable} -m rollout_trace_kit {command} {bundles} | head -c 1",
                          shell=True, executable="/bin/bash", capture_output=True, timeout=300)
    assert proc.returncode == 2, proc.stderr[-500:]
    assert b"Traceback" not in proc.stderr, proc.stderr[-500:]


# --- the reducer and writer harness reports -------------------------------------------------

def test_fuzz_reports_escape_what_a_reducer_prints(tmp_path):
    reducer = tmp_path / "hostile_reducer.py"
    # the first run of each campaign is the preflight on a shipped valid bundle: accept it, so the
    # campaign runs; every later run rejects, printing hostile text
    reducer.write_text(
        "import os, sys\n"
        "flag = sys.argv[3]\n"
        "if not os.path.exists(flag):\n"
        "    open(flag, 'w').close(); open(sys.argv[2], 'w').write('{}'); sys.exit(0)\n"
        "sys.stderr.write('\\x1b[31mred\\x1b]0;title\\x07\\n::add-mask::secret\\x01\\u202e' + '\\udcff')\n"
        "sys.exit(1)\n"
    )
    for fmt in ("human", "json", "junit"):
        cmd = f"{sys.executable} {reducer} {{bundle}} {{output}} {tmp_path / ('preflight-' + fmt)}"
        target = tmp_path / f"fuzz.{fmt}"
        proc = _cli("fuzz-reducer", "--cmd", cmd, "--examples", "3", "--jobs", "1", "--no-shrink",
                    "--repro-dir", tmp_path / "repro", "--format", fmt, "-o", target, "--color", "always")
        assert proc.returncode == 1 and b"Traceback" not in proc.stderr, proc.stderr
        text = target.read_bytes().decode("utf-8")
        assert "\x1b]0;" not in text and "\x07" not in text and "\x01" not in text and "\u202e" not in text
        assert not re.search(r"^::add-mask::", text, re.M), fmt
        if fmt == "junit":
            ET.fromstring(text)
        elif fmt == "json":
            assert json.loads(text)["format"] == "rollout-trace-kit/reducer-report/2"
        else:
            assert "rejected a valid bundle" in text and "\\x1b[31mred" in text  # shown, escaped


def test_pyproject_top_level_format_applies_where_it_is_a_choice(tmp_path):
    cwd = _project(tmp_path, '[tool.rollout-trace]\nformat = "sarif"\n')
    assert json.loads(_cli("validate", CLEAN, cwd=cwd).stdout)["version"] == "2.1.0"
    proc = _cli("invariants", cwd=cwd)  # no sarif there: its own default stays
    assert proc.returncode == 0 and not proc.stdout.startswith(b"{")
