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
from pathlib import Path

import jsonschema
import pytest

from rollout_trace_kit.docsgen import published_schemas, reference_pages, site_url_for_schemas
from rollout_trace_kit.docsgen.catalogue_page import HARNESS_FORMAT, ReportError, catalogue_page, load_reports
from rollout_trace_kit.docsgen.catalogue_page import invariant_anchor
from rollout_trace_kit.docsgen.examples import corpus_dir, examples
from rollout_trace_kit.docsgen.model_pages import codex, first_release, md_inline, type_anchor
from rollout_trace_kit.model import DIALECTS
from rollout_trace_kit.model.types import Named, TaggedUnion, refs_payload, unwrap
from rollout_trace_kit.validate import Profile, all_invariants

from .conftest import CORPUS, ROOT

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
        assert f"**Since:** {codex(first_release(dialect, v.since))}" in sec
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
            from rollout_trace_kit.docsgen.examples import CORPUS_SHOWN

            lines = (CORPUS / file.removeprefix(CORPUS_SHOWN + "/")).read_text(encoding="utf-8").splitlines()
            assert json.loads(lines[int(line) - 1]) == ex.event
            earlier = [json.loads(x)["payload"]["type"] for x in lines[: int(line) - 1]]
            assert ex.tag not in earlier, "not the first event of its type in that bundle"
    real_tags = {ex.tag for ex in exs if not ex.constructed}
    assert real_tags == tags_in_corpus & set(dialect.tags)
    # every form of an optional tagged-union field that no real event shows has a constructed example
    for v in dialect.payload.variants:
        for f in v.fields:
            t = unwrap(f.type)
            if f.required or not isinstance(t, Named) or not isinstance(dialect.type(t.name), TaggedUnion):
                continue
            seen = {
                json.loads(line)["payload"].get(f.name, {}).get("type")
                for trace in corpus.glob("*/trace.jsonl")
                for line in trace.read_text().splitlines()
                if json.loads(line)["payload"]["type"] == v.tag and json.loads(line)["payload"].get(f.name)
            }
            shown = {ex.form for ex in exs if ex.tag == v.tag and ex.form}
            assert shown == {f"{f.name}={arm}" for arm in dialect.type(t.name).tags if arm not in seen}


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
        if not (DOCS / "data" / "codex-reducer").is_dir():
            assert "not measured yet" in sec
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


# -- the reducer-harness reports ---------------------------------------------------------


def _harness_report(dialect: str, behaviours: dict[str, list[str]]) -> dict:
    """A report as `rollout-trace fuzz-reducer --format json` writes it, built with the harness's own code."""
    from rollout_trace_kit.conformance.reducer.cases import CaseSpec
    from rollout_trace_kit.conformance.reducer.fuzz import CaseResult, per_invariant
    from rollout_trace_kit.conformance.reducer.known import Known, judge
    from rollout_trace_kit.conformance.reducer.report import report_dict

    results = [
        CaseResult(CaseSpec(dialect, inv, n, 8), "pass", b, inv != "VALID", [], None)
        for inv, bs in behaviours.items()
        for n, b in enumerate(bs)
    ]
    table = per_invariant(results)
    return report_dict("codex debug trace-reduce {bundle} -o {output}", dialect, "reducer", 0, results, table,
                       judge(table, Known()), 0, 1.0)


def _reports_dir(tmp_path: Path, reports: dict[str, dict]) -> Path:
    d = tmp_path / "codex-reducer"
    d.mkdir()
    for name, doc in reports.items():
        (d / name).write_text(json.dumps(doc))
    return d


def _catalogue(reports_dir: Path) -> str:
    invs = all_invariants()
    reports = load_reports(reports_dir, {i.id for i in invs}, set(DIALECTS))
    return catalogue_page(invs, list(DIALECTS.values()), reports, "docs/data/codex-reducer/")


def test_catalogue_quotes_the_reducer_harness_reports(tmp_path):
    assert HARNESS_FORMAT == __import__("rollout_trace_kit.conformance.reducer.report", fromlist=["x"]).REPORT_FORMAT
    page = _catalogue(
        _reports_dir(
            tmp_path,
            {
                "0.164.0.json": _harness_report("v1", {"VALID": ["accepts"] * 2, "SEQ.NO_GAP": ["accepts"] * 3}),
                "0.169.0.json": _harness_report("v2", {"VALID": ["accepts"] * 2, "SEQ.NO_GAP": ["rejects"] * 3}),
            },
        )
    )
    sec = _section(page, invariant_anchor("SEQ.NO_GAP"))
    assert "Codex 0.164.0 accepts all 3 broken bundles" in sec
    assert "Codex 0.169.0 rejects all 3 broken bundles" in sec
    assert "(1 of " in page  # invariants measured
    assert "- Codex 0.169.0, dialect v2: `0.169.0.json`, 5 cases, seed 0, profile `reducer`; it accepts all 2 valid bundles." in page
    other = next(i for i in all_invariants() if i.id != "SEQ.NO_GAP")
    assert "not measured yet" in _section(page, invariant_anchor(other.id))


def test_a_measurement_that_contradicts_the_catalogue_is_flagged(tmp_path):
    inv = next(i for i in all_invariants() if i.level("v2") is Profile.REDUCER)
    page = _catalogue(_reports_dir(tmp_path, {"0.169.0.json": _harness_report("v2", {inv.id: ["accepts", "rejects", "hangs"]})}))
    sec = _section(page, invariant_anchor(inv.id))
    assert "Codex 0.169.0 rejects 1, accepts 1, hangs on 1 of 3 broken bundles (the catalogue says this reducer rejects it)" in sec


@pytest.mark.parametrize(
    "name, doc, message",
    [
        ("latest.json", {}, "name it after the Codex release"),
        ("0.169.0.json", {"format": "something else"}, "'format' must be"),
        ("0.169.0.json", {"format": HARNESS_FORMAT, "dialect": "v9", "invariants": {}}, "unknown dialect"),
        ("0.169.0.json", {"format": HARNESS_FORMAT, "dialect": ["v2"], "invariants": {}}, "unknown dialect"),
        ("0.169.0.json", {"format": HARNESS_FORMAT, "dialect": "v2", "invariants": {"NO.SUCH": {}}}, "unknown invariant"),
        ("0.169.0.json", {"format": HARNESS_FORMAT, "dialect": "v2", "invariants": {"SEQ.NO_GAP": {"rejects": 1}}}, "integers"),
    ],
)
def test_a_malformed_reducer_report_fails_the_build(tmp_path, name, doc, message):
    with pytest.raises(ReportError, match=message):
        load_reports(_reports_dir(tmp_path, {name: doc}), {i.id for i in all_invariants()}, set(DIALECTS))


def test_no_report_means_not_measured(tmp_path):
    assert load_reports(tmp_path / "absent", set(), set(DIALECTS)) is None
    assert load_reports(_reports_dir(tmp_path, {}), set(), set(DIALECTS)) is None


# -- published schema files ------------------------------------------------------------


def test_schema_files_are_published_at_their_id():
    site_url = re.search(r"^site_url:\s*(\S+)", (ROOT / "mkdocs.yml").read_text(), re.M).group(1)
    assert site_url == site_url_for_schemas()
    files = published_schemas()
    for name in DIALECTS:
        for doc in ("event", "manifest", "event.strict", "manifest.strict"):
            assert f"schema/{name}/{doc}.schema.json" in files
    for rel, text in files.items():
        assert json.loads(text)["$id"] == site_url + rel


# -- the guides: every command shown is run --------------------------------------------
#
# Conventions for docs/guides/*.md (any guide, whoever writes it):
# * every line of a ```sh block is a command, run in page order in a fresh empty directory
#   (outside any checkout, as a newcomer runs them: the shipped corpus is `corpus:RELEASE/NAME`,
#   or a link a guide makes to `corpus_root()`); a trailing `# exit status N: TEXT...` comment gives the
#   expected exit status (default 0) and strings its output must contain (split like a
#   shell would: "quote" a string with spaces);
# * a ```python block is run as a script (exit status 0), in the same directory and order;
#   one whose first line is `# file: NAME.py` is saved there instead (to be imported or
#   run by later blocks), and one whose first line is `# file: test_NAME.py` is also run
#   with pytest, which must pass;
# * a ```yaml block with `runs-on:` is a GitHub Actions workflow: its `run:` lines that call
#   rollout-trace run in that directory, in order, a line that uses `${{ matrix.NAME }}` once
#   per value of the block's `NAME: [a, b, ...]` list; every other `run:` line (one per job)
#   installs this project.

EXPECT = re.compile(r"\s+# exit status (\d+)(?::\s*(.*))?$")
FENCE = re.compile(r"^```(sh|python|yaml)\n(.*?)^```$", re.M | re.S)
FILE_MARK = re.compile(r"# file: (\S+\.py)$")


def _steps(markdown: str) -> list[tuple]:
    """The runnable steps of a guide, in page order:
    ("sh", command, status, wants), ("python", code), ("file", name, code)."""
    out: list[tuple] = []
    for m in FENCE.finditer(markdown):
        lang, body = m.group(1), m.group(2)
        if lang == "sh":
            for line in body.replace("\\\n", " ").splitlines():
                if not line.strip() or line.lstrip().startswith("#"):
                    continue
                e = EXPECT.search(line)
                cmd = line[: e.start()] if e else line
                out.append(("sh", cmd.strip(), int(e.group(1)) if e else 0, shlex.split(e.group(2)) if e and e.group(2) else []))
        elif lang == "python":
            first = body.split("\n", 1)[0]
            f = FILE_MARK.fullmatch(first.strip())
            out.append(("file", f.group(1), body) if f else ("python", body))
    return out


def _shell_commands(markdown: str) -> list[tuple[str, int, list[str]]]:
    return [step[1:] for step in _steps(markdown) if step[0] == "sh"]


def _yaml_blocks(markdown: str) -> list[str]:
    return [m.group(2) for m in FENCE.finditer(markdown) if m.group(1) == "yaml"]


def _run(cmd, cwd: Path) -> subprocess.CompletedProcess:
    bindir = str(Path(sys.executable).parent)
    env = dict(os.environ, PATH=bindir + os.pathsep + os.environ.get("PATH", ""), NO_COLOR="1", COLUMNS="200")
    argv = ["bash", "-c", cmd] if isinstance(cmd, str) else cmd
    return subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=120)


def _workdir(tmp_path: Path) -> Path:
    """An empty directory: a guide must not rely on a checkout of the kit."""
    assert not any(tmp_path.iterdir())
    return tmp_path


def test_guides_exist():
    assert (DOCS / "guides" / "validate.md") in GUIDES


# Running every guide's commands takes minutes (campaigns, suite builds): the slow tier, which
# .ci/run runs; the fleets guide runs Dask, pandas and DuckDB: the opt-in `dask` tier.
RUNNABLE_GUIDES = [pytest.param(g, marks=pytest.mark.dask) if g.name == "fleets.md" else g for g in GUIDES]


@pytest.mark.slow
@pytest.mark.parametrize("guide", RUNNABLE_GUIDES, ids=lambda p: p.name)
def test_guide_commands_run(guide, tmp_path):
    cwd = _workdir(tmp_path)
    steps = _steps(guide.read_text(encoding="utf-8"))
    # No timed assert here (the project's rule): on a loaded 2-core CI machine a guide's
    # commands took 30-40 s under -n 2 and failed a 20 s bound while running correctly.
    for step in steps:
        if step[0] == "sh":
            _, cmd, status, wants = step
            proc = _run(cmd, cwd)
            what = f"`{cmd}`"
        elif step[0] == "python":
            status, wants, what = 0, [], f"python block:\n{step[1]}"
            proc = _run([sys.executable, "-c", step[1]], cwd)
        else:
            _, name, code = step
            (cwd / name).write_text(code, encoding="utf-8")
            if not name.startswith("test_"):
                continue
            status, wants, what = 0, [], f"pytest {name}"
            proc = _run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", name], cwd)
        out = proc.stdout + proc.stderr
        assert proc.returncode == status, f"{guide.name}: {what} exited {proc.returncode}, not {status}:\n{out}"
        for want in wants:
            assert want in out, f"{guide.name}: {what} did not print {want!r}:\n{out}"


def test_validate_guide_shows_commands():
    commands = _shell_commands((DOCS / "guides" / "validate.md").read_text(encoding="utf-8"))
    assert len(commands) >= 10
    assert any(status == 1 for _, status, _ in commands)


@pytest.mark.slow
@pytest.mark.parametrize("guide", GUIDES, ids=lambda p: p.name)
def test_guide_ci_snippets_run(guide, tmp_path):
    """GitHub Actions jobs: each `run:` calling rollout-trace runs; the install line installs this package."""
    blocks = [b for b in _yaml_blocks(guide.read_text(encoding="utf-8"))
              if "runs-on:" in b and "uses: rollout-trace-kit/" not in b]
    pyproject = (ROOT / "pyproject.toml").read_text()
    name = re.search(r'^name = "([^"]+)"', pyproject, re.M).group(1)
    assert re.search(r'^rollout-trace = "rollout_trace_kit\.cli:main"', pyproject, re.M)
    cwd = _workdir(tmp_path)
    for block in blocks:
        runs = re.findall(r"^\s*-?\s*run:\s*(.+)$", block, re.M)
        tool = [r for r in runs if r.startswith("rollout-trace ")]
        install = [r for r in runs if r not in tool]
        jobs = len(re.findall(r"^\s+runs-on:", block, re.M))
        assert tool and len(install) == jobs, runs
        assert all(_installs_this_project(shlex.split(i), name) for i in install), install
        for line in tool:
            for cmd in _matrix_expanded(line, block):
                proc = _run(cmd, cwd)
                assert proc.returncode == 0, f"{guide.name}: `{cmd}`: {proc.stdout}{proc.stderr}"


def _installs_this_project(argv: list[str], name: str) -> bool:
    """``pip install "NAME @ git+REPOSITORY@COMMIT"``: no release of the kit is published, so a
    guide installs it from its repository, pinned to a commit of this repository's history."""
    pyproject = (ROOT / "pyproject.toml").read_text()
    repository = re.search(r'^Repository = "([^"]+)"', pyproject, re.M).group(1)
    m = re.fullmatch(rf"{re.escape(name)} @ git\+{re.escape(repository)}@([0-9a-f]{{40}})", argv[2]) \
        if argv[:2] == ["pip", "install"] and len(argv) == 3 else None
    return m is not None and _is_commit(m.group(1))


def _is_commit(sha: str) -> bool:
    if not (ROOT / ".git").exists():  # an sdist: no history to check against
        return True
    return subprocess.run(["git", "-C", str(ROOT), "cat-file", "-e", f"{sha}^{{commit}}"]).returncode == 0


def test_docs_name_no_tag_or_package_that_does_not_exist():
    """No release of the kit is published: no guide, Action or hook example pins a tag or
    installs the package from an index; each pins a commit of this repository instead."""
    texts = {p.name: p.read_text(encoding="utf-8") for p in (*GUIDES, ROOT / "action.yml", ROOT / ".pre-commit-hooks.yaml")}
    for name, text in texts.items():
        assert not re.search(r"@v\d+\.\d+|rev: v\d|pip install rollout-trace-kit\b", text), name
    pins = re.findall(r"(?:rollout-trace-kit@|rev: )([0-9a-f]{40})\b", texts["ci.md"] + texts["validate.md"])
    assert len(pins) >= 3 and all(_is_commit(p) for p in pins)


def _matrix_expanded(line: str, block: str) -> list[str]:
    """``line`` once per value of the matrix list it uses (``${{ matrix.NAME }}``), else once."""
    names = sorted(set(re.findall(r"\$\{\{\s*matrix\.(\w+)\s*\}\}", line)))
    if not names:
        return [line]
    assert len(names) == 1, f"one matrix variable per line: {line}"
    m = re.search(rf"^\s+{names[0]}:\s*\[(.*)\]\s*$", block, re.M)
    assert m, f"no matrix list {names[0]}: [...] for {line}"
    values = [v.strip().strip("'\"") for v in m.group(1).split(",")]
    return [re.sub(rf"\$\{{\{{\s*matrix\.{names[0]}\s*\}}\}}", v, line) for v in values]


def test_guide_action_snippets_use_real_inputs():
    """Jobs that use the kit's Action give it only inputs that action.yml declares."""
    import yaml

    inputs = set(yaml.safe_load((ROOT / "action.yml").read_text())["inputs"])
    seen = 0
    for guide in GUIDES:
        for block in _yaml_blocks(guide.read_text(encoding="utf-8")):
            for job in (yaml.safe_load(block) or {}).get("jobs", {}).values() if "runs-on:" in block else []:
                for step in job["steps"]:
                    if step.get("uses", "").startswith("rollout-trace-kit/rollout-trace-kit@"):
                        assert set(step.get("with", {})) <= inputs, (guide.name, step)
                        seen += 1
    assert seen >= 1


def test_validate_guide_ci_snippet_writes_its_report(tmp_path):
    blocks = [b for b in _yaml_blocks((DOCS / "guides" / "validate.md").read_text()) if "runs-on:" in b]
    assert len(blocks) == 1
    cmd = next(r for r in re.findall(r"^\s*-?\s*run:\s*(.+)$", blocks[0], re.M) if "junit" in r)
    cwd = _workdir(tmp_path)
    assert _run(cmd, cwd).returncode == 0
    assert "<testsuites" in (cwd / "bundles.xml").read_text()


def test_validate_guide_pre_commit_hook_runs():
    """The guide's hook is the one .pre-commit-hooks.yaml ships; its entry runs on the corpus files it matches."""
    import yaml

    blocks = [yaml.safe_load(b) for b in _yaml_blocks((DOCS / "guides" / "validate.md").read_text()) if "repos:" in b]
    assert len(blocks) == 1
    (repo,) = blocks[0]["repos"]
    (used,) = repo["hooks"]
    shipped = {h["id"]: h for h in yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())}
    hook = shipped[used["id"]]
    files = re.compile(hook["files"])
    corpus_files = [p.relative_to(ROOT).as_posix() for p in CORPUS.rglob("*") if p.is_file()]
    matched = [p for p in corpus_files if files.search(p)]
    assert any(p.endswith("/trace.jsonl") for p in matched)
    assert any(p.endswith("/manifest.json") for p in matched)
    assert any("/payloads/" in p for p in matched)
    assert not files.search("conformance/corpus/README.md") and not files.search("docs/index.md")
    # pre-commit runs the entry at the top of the repository, on paths relative to it
    proc = _run(shlex.join(shlex.split(hook["entry"]) + [str(a) for a in used.get("args", [])] + matched), ROOT)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    n_bundles = len({tuple(p.split("/")[2:4]) for p in matched})  # (codex-X, SCENARIO) of each matched file
    assert f"{n_bundles} bundle(s), 0 failing" in proc.stdout


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


def test_strategies_guide_names_what_the_generators_export():
    import rollout_trace_kit.generators as generators

    text = (DOCS / "guides" / "strategies.md").read_text()
    named = set(re.findall(r"`(bundles|corrupted_bundles|CORRUPTIONS|GeneratedBundle|Corrupted)\b", text))
    assert named == {"bundles", "corrupted_bundles", "CORRUPTIONS", "GeneratedBundle", "Corrupted"}
    assert named <= set(generators.__all__)
    # the strategies come with the base install: Hypothesis is a base dependency, not an extra
    pyproject = (ROOT / "pyproject.toml").read_text()
    base = re.search(r"^dependencies = \[(.*?)^\]", pyproject, re.M | re.S).group(1)
    assert '"hypothesis-jsonschema==' in base and '"hypothesis>=' in base
    assert re.search(r'pip install\s+"rollout-trace-kit @ git\+https://\S+@[0-9a-f]{40}"', text)

