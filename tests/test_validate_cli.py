"""`rollout-trace validate` on real bundles: every profile, every output format, exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET

import orjson
import pytest

from rollout_trace_kit.bundle import Bundle
from rollout_trace_kit.model import DIALECTS, dialect_for_schema_version
from rollout_trace_kit.model.types import release_key
from rollout_trace_kit.validate import Options, Profile, all_invariants, validate_bundle
from rollout_trace_kit.validate.engine import READABLE_STORES

from .conftest import CORPUS, corpus_bundles


def _cli(*args, cwd=None):
    return subprocess.run(
        [sys.executable, "-m", "rollout_trace_kit", *map(str, args)], capture_output=True, text=True, cwd=cwd
    )


@pytest.mark.parametrize("bundle", corpus_bundles(), ids=lambda p: f"{p.parent.name}/{p.name}")
@pytest.mark.parametrize("profile", list(Profile), ids=lambda p: p.label)
def test_real_bundles_have_no_findings(bundle, profile):
    report = validate_bundle(bundle, Options(profile=profile))
    manifest = json.loads((bundle / "manifest.json").read_text())
    dialect = dialect_for_schema_version(manifest["schema_version"])
    first, last = (release_key(v) for v in dialect.releases)  # a release of the dialect wrote it
    assert report.dialect == dialect.name and first <= release_key(bundle.parent.name.removeprefix("codex-")) <= last
    if dialect.layout.store not in READABLE_STORES:  # the store reader is not in this branch yet
        assert [f.invariant for f in report.findings] == ["BUNDLE.DIALECT_KNOWN"]
        return
    assert report.findings == [], [(f.invariant, f.message) for f in report.findings]
    assert report.events == len((bundle / "trace.jsonl").read_bytes().splitlines())


def _broken(tmp_path, release="0.169.0") -> str:
    b = Bundle.read(CORPUS / f"codex-{release}" / "plain")
    events = [orjson.loads(x) for x in b.lines]
    events[3]["seq"] = 40  # a gap, then going back
    b.lines = [orjson.dumps(e) for e in events]
    return str(b.write(tmp_path / "broken"))


def _readable_corpus() -> list:
    """The corpus folders of the dialects whose payload store the validator reads."""
    return [
        CORPUS / f"codex-{d.reference_release}" for d in DIALECTS.values() if d.layout.store in READABLE_STORES
    ]


def test_exit_codes_and_directory_of_bundles(tmp_path):
    ok = _cli("validate", *_readable_corpus())
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert f"{12 * len(_readable_corpus())} bundle(s), 0 failing" in ok.stdout
    bad = _cli("validate", _broken(tmp_path))
    assert bad.returncode == 1
    assert "SEQ.NO_GAP" in bad.stdout and "SEQ.INCREASING" in bad.stdout
    assert _cli("validate", tmp_path / "nope").returncode == 2
    assert _cli("validate", "--profile", "bogus", CORPUS).returncode == 2
    reducer = _cli("validate", "--profile", "reducer", _broken(tmp_path / "x", "0.164.0"))
    assert reducer.returncode == 0, reducer.stdout  # v1's reducer leaves seq to the writer
    assert _cli("validate", "--profile", "reducer", _broken(tmp_path / "y")).returncode == 1  # v2's does not


def test_json_format(tmp_path):
    out = _cli("validate", "--format", "json", _broken(tmp_path))
    doc = json.loads(out.stdout)
    assert doc["ok"] is False
    (bundle,) = doc["bundles"]
    gap = next(f for f in bundle["findings"] if f["invariant"] == "SEQ.NO_GAP")
    assert gap["line"] == 4 and gap["seq"] == 40 and gap["pointer"] == "/seq" and gap["profile"] == "reducer"
    assert gap["related_seq"] == 3


def test_junit_format(tmp_path):
    out = _cli("validate", "--format", "junit", CORPUS / "codex-0.164.0", _broken(tmp_path))
    root = ET.fromstring(out.stdout)
    assert root.get("tests") == "13" and root.get("failures") == "1"
    failure = root.find(".//failure")
    assert "SEQ.NO_GAP" in failure.text


def test_github_format(tmp_path):
    out = _cli("validate", "--format", "github", _broken(tmp_path))
    lines = out.stdout.splitlines()
    assert any(l.startswith("::error file=") and "title=SEQ.NO_GAP" in l and ",line=4," in l for l in lines), lines


def test_jobs_and_output_file(tmp_path):
    target = tmp_path / "report.json"
    out = _cli("validate", "--jobs", "2", "--format", "json", "-o", target, *_readable_corpus())
    assert out.returncode == 0
    assert len(json.loads(target.read_text())["bundles"]) == 12 * len(_readable_corpus())


def test_invariants_command_lists_the_catalogue():
    out = _cli("invariants", "--format", "json")
    doc = json.loads(out.stdout)
    assert doc["format"] == "rollout-trace-kit/invariants/1"
    rows = doc["invariants"]
    assert [r["id"] for r in rows] == [i.id for i in all_invariants()]
    for r in rows:
        assert r["meaning"].endswith(".") and r["source"] and r["profiles"]


def test_catalogue_is_well_formed():
    ids = [i.id for i in all_invariants()]
    assert len(ids) == len(set(ids))
    for inv in all_invariants():
        assert inv.id.upper() == inv.id and "." in inv.id
        assert set(inv.levels) <= set(DIALECTS) and inv.levels
        assert inv.meaning.endswith(".") and inv.source, inv.id


def test_schema_check_command(tmp_path):
    assert _cli("schema", "--check").returncode == 0
    out = _cli("schema", "--out", tmp_path / "s")
    assert out.returncode == 0 and (tmp_path / "s" / "v2" / "event.schema.json").is_file()
    (tmp_path / "s" / "v2" / "event.schema.json").write_text("{}")
    assert _cli("schema", "--check", "--out", tmp_path / "s").returncode == 1


@pytest.mark.parametrize("command", [["validate", "corpus:codex-0.164.0/basic"], ["invariants"]])
def test_an_output_path_that_cannot_be_written_is_named_escaped(tmp_path, capsys, command):
    from rollout_trace_kit.cli import main

    target = tmp_path / "no\x1b[31mdir" / "report.txt"
    assert main([*command, "-o", str(target)]) == 2
    err = capsys.readouterr().err
    assert "\x1b" not in err and "\\x1b[31mdir" in err and err.count("\n") == 1


@pytest.mark.parametrize("make", ["file", "fifo"])
def test_a_file_where_the_bundle_should_be_is_a_finding_not_a_usage_error(tmp_path, make):
    """Hostile input (the suite's BUNDLE.IS_DIRECTORY cases): exit 1 with the finding, never 2."""
    target = tmp_path / "bundle"
    if make == "file":
        target.write_bytes(b'{"schema_version": 1}\n')
    else:
        os.mkfifo(target)
    for profile in ("reducer", "strict"):
        done = _cli("validate", "--profile", profile, "--format", "json", target)
        assert done.returncode == 1, done.stdout + done.stderr
        found = json.loads(done.stdout)
        assert "BUNDLE.IS_DIRECTORY" in json.dumps(found), found
    assert _cli("validate", tmp_path / "missing").returncode == 2  # a path that names nothing stays a usage error


def test_a_command_builds_its_own_parser_alone_and_the_same_as_among_all():
    """The command line builds only the parser of the command it runs (cli.PARSER_MAKERS): the table
    names every command of the full parser, in its order, and each lean parser is the full one's."""
    from rollout_trace_kit import cli

    def options(parser, command):
        sub = cli._subparsers(parser)[command]
        return sorted((a.dest, tuple(a.option_strings), repr(a.default), repr(a.choices)) for a in sub._actions)

    full = cli.build_parser()
    assert tuple(cli._subparsers(full)) == cli.COMMANDS
    for command in cli.COMMANDS:
        lean = cli.build_parser(command)
        assert command in cli._subparsers(lean)
        assert options(lean, command) == options(full, command), command
    # validate's run imports no other command's module (check-writer's, for one)
    probe = ("import sys\nfrom rollout_trace_kit import cli\ntry:\n    cli.main(['validate', '--help'])\n"
             "except SystemExit:\n    pass\nprint(sorted(m for m in sys.modules if m.startswith('rollout_trace_kit.conformance.writer')))")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert "usage: rollout-trace validate" in out.stdout
    assert out.stdout.strip().splitlines()[-1] == "[]", out.stdout[-500:]


@pytest.mark.parametrize("spec", ["corpus:codex-0.169.0/tools", "corpus:codex-0.171.0/basic"])
def test_a_reducer_profile_pass_names_no_writer_it_did_not_judge(spec):
    """The reducer profile runs no writer-level rule: it cannot clear the bundle's own writers, so it
    says it did not judge them (it said "writable by none" of bundles Codex wrote)."""
    r = _cli("validate", "--profile", "reducer", "--color", "never", spec)
    assert r.returncode == 0 and "writers not judged in this profile" in r.stdout and "writable by" not in r.stdout
    doc = json.loads(_cli("validate", "--profile", "reducer", "--format", "json", spec).stdout)
    assert doc["bundles"][0]["releases"]["writers"] is None
    writer = json.loads(_cli("validate", "--profile", "writer", "--format", "json", spec).stdout)
    assert writer["bundles"][0]["releases"]["writers"]  # the same bundle's writers, judged
