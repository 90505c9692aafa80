"""The reference part of the docs site, generated from the spec model.

:func:`generated_files` returns every generated file of the site: the reference
pages (``reference/*.md``) and the published JSON Schema files
(``schema/<dialect>/<file>``, served at the URL of their ``$id``). The mkdocs
hook (:mod:`rollout_trace_kit.docsgen.hooks`) adds them to the build; nothing
generated is committed, so nothing can drift.
"""

from __future__ import annotations

from pathlib import Path

from ..model import DIALECTS
from ..compilers.json_schema import SCHEMA_BASE, schema_files
from .catalogue_page import catalogue_page, load_reports
from .examples import Example, display_path, examples
from .model_pages import dialect_page, differences_page, overview_page

REFERENCE = "reference"
REDUCER_REPORTS = Path("data") / "codex-reducer"  # relative to the docs directory: <release>.json


def site_url_for_schemas() -> str:
    """The ``site_url`` under which ``schema/...`` is served at the schemas' ``$id`` URLs."""
    return SCHEMA_BASE.rsplit("/", 1)[0] + "/"


def reference_pages(docs_dir: Path) -> dict[str, str]:
    """``reference/*.md`` path (relative to the docs directory) -> Markdown."""
    from ..validate import all_invariants

    dialects = list(DIALECTS.values())
    invariants = all_invariants()
    reports = load_reports(docs_dir / REDUCER_REPORTS, {i.id for i in invariants}, set(DIALECTS))
    pages = {f"{REFERENCE}/index.md": overview_page(dialects, published_schemas())}
    for d in dialects:
        pages[f"{REFERENCE}/{d.name}.md"] = dialect_page(d, examples(d))
    pages[f"{REFERENCE}/differences.md"] = differences_page(dialects, invariants)
    pages[f"{REFERENCE}/invariants.md"] = catalogue_page(
        invariants, dialects, reports, f"docs/{REDUCER_REPORTS.as_posix()}/"
    )
    from .releases_page import release_pages

    pages.update(release_pages())
    return pages


def published_schemas() -> dict[str, str]:
    """``schema/<path>`` -> text: every JSON Schema file of the kit, as its model generates it
    (the dialects' event and manifest schemas, and the writer driver protocol's)."""
    from ..harness.writer import protocol

    files = {f"schema/{rel}": text for rel, text in schema_files(DIALECTS.values()).items()}
    files.update({f"schema/{rel}": text for rel, text in protocol.schema_files().items()})
    return files


def generated_files(docs_dir: Path) -> dict[str, str]:
    return {**reference_pages(docs_dir), **published_schemas()}


def all_examples() -> list[Example]:
    """Every example event the reference pages show."""
    return [ex for d in DIALECTS.values() for ex in examples(d)]


__all__ = [
    "REDUCER_REPORTS",
    "all_examples",
    "display_path",
    "generated_files",
    "published_schemas",
    "reference_pages",
    "site_url_for_schemas",
]
