"""The docs: generated reference content, its examples, and the commands the guides show.

Needs no mkdocs: the pages are the generator's output (the same functions the mkdocs
hook calls). Building and crawling the site is tests/test_docs_site.py.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
import time
from pathlib import Path

import jsonschema
import pytest

from rollout_trace_kit.docsgen import published_schemas, reference_pages, site_url_for_schemas
from rollout_trace_kit.docsgen.catalogue_page import REPORT_FORMAT, ReportError, catalogue_page, load_report
from rollout_trace_kit.docsgen.catalogue_page import invariant_anchor
from rollout_trace_kit.docsgen.examples import corpus_dir, examples
from rollout_trace_kit.docsgen.model_pages import md_inline, type_anchor
from rollout_trace_kit.spec import DIALECTS
from rollout_trace_kit.spec.types import TaggedUnion, refs_payload
from rollout_trace_kit.validate import Profile, all_invariants

from .conftest import ROOT

DOCS = ROOT / "docs"
GUIDES = sorted((DOCS / "guides").glob("*.md"))


@pytest.fixture(scope="module")
def pages() -> dict[str, str]:
    return reference_pages(DOCS)


def _section(page: str, anchor: str) -> str:
    """The Markdown of the heading with ``{#anchor}`` up to the next heading of the same or higher level."""
    m = re.search(rf"^(#+) .*\{{#{re.escape(anchor)}\}}$", page, re.M)
    assert m, f"no heading with anchor #{anchor}"
    level = len(m.group(1))
    end = re.compile(rf"^#{{1,{level}}} ", re.M).search(page, m.end())
    return page[m.start() : end.start() if end else len(page)]


def _json_blocks(markdown: str) -> list[dict]:
    out = []
    for m in re.finditer(r"^( *)```json\n(.*?)^\1```$", markdown, re.M | re.S):
        indent = len(m.group(1))
        text = "\n".join(line[indent:] for line in m.group(2).splitlines())
        out.append(json.loads(text))
    return out


# -- reference content --------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(DIALECTS))
def test_every_variant_has_reference_content(pages, name):
    dialect = DIALECTS[name]
    page = pages[f"reference/{name}.md"]
    for v in dialect.payload.variants:
        sec = _section(page, v.tag)
        for f in v.fields:
            assert re.search(rf"^\| `{re.escape(f.name)}`", sec, re.M), f"{name} {v.tag}: no row for {f.name}"
            if refs_payload(f.type):
                row = re.search(rf"^\| `{re.escape(f.name)}`.*$", sec, re.M).group(0)
                for kind in f.payload_kinds:
                    assert f"`{kind}`" in row, f"{name} {v.tag}.{f.name}: payload kind {kind} not shown"
        assert "First written by:** Codex " in sec
        assert _json_blocks(sec), f"{name} {v.tag}: no example"
        assert all(b["payload"]["type"] == v.tag for b in _json_blocks(sec))
    for struct, anchor in ((dialect.manifest, "manifest"), (dialect.envelope, "envelope")):
        sec = _section(page, anchor)
        for f in struct.fields:
            assert re.search(rf"^\| `{f.name}`", sec, re.M), f"{name} {anchor}: no row for {f.name}"
    for t in dialect.types:
        sec = _section(page, type_anchor(t.name))
        for value in getattr(t, "values", ()):
            assert f'`"{value}"`' in sec
        for arm in getattr(t, "variants", ()):
            assert f"| `{arm.tag}`" in sec


@pytest.mark.parametrize("name", sorted(DIALECTS))
def test_inferred_parts_are_marked(pages, name):
    dialect = DIALECTS[name]
    page = pages[f"reference/{name}.md"]
    notice = f"Inferred from Codex {dialect.reference_release} bundles and binary; no published source."
    for v in dialect.payload.variants:
        sec = _section(page, v.tag)
        assert ('!!! warning "Inferred"' in sec) == v.inferred, v.tag
        if v.inferred:
            assert notice in sec
        for f in v.fields:
            row = re.search(rf"^\| `{re.escape(f.name)}`.*$", sec, re.M).group(0)
            assert ('class="rtk-inferred"' in row) == f.inferred, f"{v.tag}.{f.name}"
    for t in dialect.types:
        assert ('!!! warning "Inferred"' in _section(page, type_anchor(t.name))) == t.inferred, t.name


def test_every_example_shown_validates_against_the_published_schema(pages):
    schemas = published_schemas()
    shown = 0
    for name in DIALECTS:
        for strict in ("", ".strict"):
            schema = json.loads(schemas[f"schema/{name}/event{strict}.schema.json"])
            validator = jsonschema.Draft202012Validator(schema)
            for event in _json_blocks(pages[f"reference/{name}.md"]):
                errors = [e.message for e in validator.iter_errors(event)]
                assert not errors, f"{name}{strict}: {event['payload']['type']}: {errors}"
                shown += 1
    assert shown >= 2 * sum(len(d.payload.variants) for d in DIALECTS.values())


@pytest.mark.parametrize("name", sorted(DIALECTS))
def test_examples_are_real_where_the_corpus_has_them(name):
    dialect = DIALECTS[name]
    corpus = corpus_dir(dialect)
    assert corpus.is_dir()
    tags_in_corpus = set()
    for trace in corpus.glob("*/trace.jsonl"):
        tags_in_corpus |= {json.loads(line)["payload"]["type"] for line in trace.read_text().splitlines()}
    exs = examples(dialect)
    for ex in exs:
        if ex.constructed:
            # only a variant (or a form of an optional union field) the corpus lacks
            if not ex.form:
                assert ex.tag not in tags_in_corpus, ex.tag
            assert ex.note
        else:
            file, _, line = ex.source.rpartition(":")
            lines = (ROOT / file).read_text(encoding="utf-8").splitlines()
            assert json.loads(lines[int(line) - 1]) == ex.event
            earlier = [json.loads(x)["payload"]["type"] for x in lines[: int(line) - 1]]
            assert ex.tag not in earlier, "not the first event of its type in that bundle"
    real_tags = {ex.tag for ex in exs if not ex.constructed}
    assert real_tags == tags_in_corpus & set(dialect.tags)
    # the forms of request_input_mode that no real event shows are all constructed
    modes = dialect.type("InferenceRequestInputMode")
    assert isinstance(modes, TaggedUnion)
    shown = {ex.form for ex in exs if ex.tag == "inference_started" and ex.form}
    assert shown == {f"request_input_mode={m}" for m in modes.tags}


@pytest.mark.parametrize("name", sorted(DIALECTS))
def test_constructed_examples_are_labelled_on_the_page(pages, name):
    page = pages[f"reference/{name}.md"]
    for ex in examples(DIALECTS[name]):
        sec = _section(page, ex.tag)
        if ex.constructed:
            assert "Constructed example" in sec and ex.note in sec
        else:
            file, _, line = ex.source.rpartition(":")
            assert f"Real example: {file}, line {line}" in sec


def test_every_invariant_has_a_catalogue_entry(pages):
    page = pages["reference/invariants.md"]
    invs = all_invariants()
    assert invs
    for inv in invs:
        sec = _section(page, invariant_anchor(inv.id))
        assert f"`{inv.id}`" in sec
        assert md_inline(inv.meaning) in sec
        for d in DIALECTS:
            level = inv.level(d)
            assert (f"`{level.label}`" if level else "not in this dialect") in sec
        assert "not measured yet" in sec  # no reducer report is committed yet
    assert len({invariant_anchor(i.id) for i in invs}) == len(invs)


def test_differences_page_lists_what_the_model_says(pages):
    page = pages["reference/differences.md"]
    v1, v2 = DIALECTS["v1"], DIALECTS["v2"]
    for tag in set(v2.tags) - set(v1.tags):
        assert f"Variant [`{tag}`](v2.md#{tag}) added" in page
    for tag in set(v1.tags) - set(v2.tags):
        assert f"Variant [`{tag}`](v1.md#{tag}) removed" in page
    for inv in all_invariants():
        if inv.level("v1") != inv.level("v2"):
            assert f"[`{inv.id}`](invariants.md#{invariant_anchor(inv.id)})" in page
    for d in DIALECTS.values():
        for v in d.payload.variants:
            if v.since:
                assert re.search(rf"^\| {re.escape(v.since)} \| variant \[`{v.tag}`\]", page, re.M), v.tag


# -- the reducer-harness report ---------------------------------------------------------


def _report(tmp_path: Path, results: dict) -> Path:
    path = tmp_path / "report.json"
    body = {"format": REPORT_FORMAT, "generated_by": "test", "reducers": {"v1": "0.164.0", "v2": "0.169.0"}}
    path.write_text(json.dumps({**body, "results": results}))
    return path


def test_catalogue_quotes_the_reducer_report(tmp_path):
    invs = all_invariants()
    ids = {i.id for i in invs}
    gap = next(i for i in invs if i.id == "SEQ.NO_GAP")
    path = _report(
        tmp_path,
        {
            gap.id: {
                "v1": {"accepted": 3, "rejected": 0},
                "v2": {"rejected": 3, "example_error": "missing or reordered trace event 4"},
            }
        },
    )
    report = load_report(path, ids, set(DIALECTS))
    page = catalogue_page(invs, list(DIALECTS), report, "docs/data/codex-reducer-report.json")
    sec = _section(page, invariant_anchor(gap.id))
    assert "Codex 0.164.0 accepts all 3 broken bundles" in sec
    assert 'Codex 0.169.0 rejects all 3 broken bundles: "missing or reordered trace event 4"' in sec
    assert "1 of " in page  # invariants measured
    other = next(i for i in invs if i.id != gap.id)
    assert "not measured yet" in _section(page, invariant_anchor(other.id))


def test_a_measurement_that_contradicts_the_catalogue_is_flagged(tmp_path):
    invs = all_invariants()
    inv = next(i for i in invs if i.level("v2") is Profile.REDUCER)
    path = _report(tmp_path, {inv.id: {"v2": {"accepted": 1, "rejected": 1}}})
    page = catalogue_page(invs, list(DIALECTS), load_report(path, {i.id for i in invs}, set(DIALECTS)), "r")
    assert "rejects 1, accepts 1 of 2" in page
    assert "(the catalogue says this reducer rejects it)" in _section(page, invariant_anchor(inv.id))


@pytest.mark.parametrize(
    "results, message",
    [
        ({"NO.SUCH_RULE": {"v1": {"rejected": 1}}}, "unknown invariant"),
        ({"SEQ.NO_GAP": {"v9": {"rejected": 1}}}, "unknown dialect"),
        ({"SEQ.NO_GAP": {"v1": {"rejected": -1}}}, "counts"),
        ({"SEQ.NO_GAP": {"v1": {}}}, "counts"),
        ({"SEQ.NO_GAP": {"v1": {"rejected": 1, "passed": 2}}}, "unknown keys"),
    ],
)
def test_a_malformed_reducer_report_fails_the_build(tmp_path, results, message):
    path = _report(tmp_path, results)
    with pytest.raises(ReportError, match=message):
        load_report(path, {i.id for i in all_invariants()}, set(DIALECTS))


def test_no_report_means_not_measured(tmp_path):
    assert load_report(tmp_path / "absent.json", set(), set(DIALECTS)) is None


# -- published schema files ------------------------------------------------------------


def test_schema_files_are_published_at_their_id():
    site_url = re.search(r"^site_url:\s*(\S+)", (ROOT / "mkdocs.yml").read_text(), re.M).group(1)
    assert site_url == site_url_for_schemas()
    files = published_schemas()
    assert len(files) == 4 * len(DIALECTS)
    for rel, text in files.items():
        assert json.loads(text)["$id"] == site_url + rel


# -- the guides: every command shown is run --------------------------------------------

EXPECT = re.compile(r"\s+# exit status (\d+)(?::\s*(.*))?$")


def _shell_commands(markdown: str) -> list[tuple[str, int, list[str]]]:
    """(command, expected exit status, strings the output must contain) of every ```sh block."""
    out = []
    for block in re.findall(r"^```sh\n(.*?)^```$", markdown, re.M | re.S):
        text = block.replace("\\\n", " ")
        for line in text.splitlines():
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            m = EXPECT.search(line)
            cmd = line[: m.start()] if m else line
            status = int(m.group(1)) if m else 0
            wants = m.group(2).split() if m and m.group(2) else []
            out.append((cmd.strip(), status, wants))
    return out


def _yaml_blocks(markdown: str) -> list[str]:
    return re.findall(r"^```yaml\n(.*?)^```$", markdown, re.M | re.S)


def _run(cmd: str, cwd: Path) -> subprocess.CompletedProcess:
    bindir = str(Path(sys.executable).parent)
    env = dict(os.environ, PATH=bindir + os.pathsep + os.environ.get("PATH", ""), NO_COLOR="1", COLUMNS="200")
    return subprocess.run(["bash", "-c", cmd], cwd=cwd, env=env, capture_output=True, text=True, timeout=60)


def _workdir(tmp_path: Path) -> Path:
    (tmp_path / "examples").symlink_to(ROOT / "examples", target_is_directory=True)
    return tmp_path


def test_guides_exist():
    assert (DOCS / "guides" / "validate.md") in GUIDES


@pytest.mark.parametrize("guide", GUIDES, ids=lambda p: p.name)
def test_guide_shell_commands_run(guide, tmp_path):
    cwd = _workdir(tmp_path)
    commands = _shell_commands(guide.read_text(encoding="utf-8"))
    started = time.monotonic()
    for cmd, status, wants in commands:
        proc = _run(cmd, cwd)
        out = proc.stdout + proc.stderr
        assert proc.returncode == status, f"{guide.name}: `{cmd}` exited {proc.returncode}, not {status}:\n{out}"
        for want in wants:
            assert want in out, f"{guide.name}: `{cmd}` did not print {want!r}:\n{out}"
    assert time.monotonic() - started < 20


def test_validate_guide_shows_commands():
    commands = _shell_commands((DOCS / "guides" / "validate.md").read_text(encoding="utf-8"))
    assert len(commands) >= 10
    assert any(status == 1 for _, status, _ in commands)


def test_validate_guide_ci_snippet_runs(tmp_path):
    """The GitHub Actions job: each `run:` calling rollout-trace runs; the install line installs this package."""
    blocks = [b for b in _yaml_blocks((DOCS / "guides" / "validate.md").read_text()) if "runs-on:" in b]
    assert len(blocks) == 1
    runs = re.findall(r"^\s*-?\s*run:\s*(.+)$", blocks[0], re.M)
    tool = [r for r in runs if r.startswith("rollout-trace ")]
    install = [r for r in runs if r not in tool]
    assert tool and len(install) == 1
    pyproject = (ROOT / "pyproject.toml").read_text()
    name = re.search(r'^name = "([^"]+)"', pyproject, re.M).group(1)
    assert shlex.split(install[0]) == ["pip", "install", name]
    assert re.search(r'^rollout-trace = "rollout_trace_kit\.cli:main"', pyproject, re.M)
    cwd = _workdir(tmp_path)
    for cmd in tool:
        proc = _run(cmd, cwd)
        assert proc.returncode == 0, f"`{cmd}`: {proc.stdout}{proc.stderr}"
    assert "<testsuites" in (cwd / "bundles.xml").read_text()


def test_validate_guide_pre_commit_hook_runs(tmp_path):
    blocks = [b for b in _yaml_blocks((DOCS / "guides" / "validate.md").read_text()) if "repo: local" in b]
    assert len(blocks) == 1
    hook = blocks[0]
    entry = re.search(r"^\s*entry:\s*(.+)$", hook, re.M).group(1)
    args = [a.strip().strip('"') for a in re.search(r"^\s*args:\s*\[(.*)\]$", hook, re.M).group(1).split(",")]
    files = re.compile(re.search(r"^\s*files:\s*(.+)$", hook, re.M).group(1))
    assert re.search(r"^\s*pass_filenames:\s*false$", hook, re.M)
    corpus_files = [p.relative_to(ROOT).as_posix() for p in (ROOT / "examples" / "corpus").rglob("*") if p.is_file()]
    matched = [p for p in corpus_files if files.search(p)]
    assert any(p.endswith("/trace.jsonl") for p in matched)
    assert any(p.endswith("/manifest.json") for p in matched)
    assert any("/payloads/" in p for p in matched)
    assert not files.search("examples/corpus/README.md") and not files.search("docs/index.md")
    proc = _run(shlex.join(shlex.split(entry) + args), _workdir(tmp_path))
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_validate_guide_profile_examples_are_in_that_profile():
    """The profile list names example invariants; each really is at that profile in some dialect."""
    text = (DOCS / "guides" / "validate.md").read_text()
    checked = 0
    for label, body in re.findall(r"^- `(reducer|writer|strict)`(.*?)(?=^- `|^$)", text, re.M | re.S):
        for inv_id in re.findall(r"\[`([A-Z0-9_]+\.[A-Z0-9_]+)`\]", body):
            inv = next(i for i in all_invariants() if i.id == inv_id)
            assert Profile.parse(label) in inv.levels.values(), f"{inv_id} is not a {label} rule"
            checked += 1
    assert checked >= 3
