"""The reference part of the docs, generated from the spec model.

:func:`reference_pages` gives the reference pages (``reference/*.md``): they are
committed under ``docs/`` so that they, and every link to them, read fine on the code
host; ``python -m rollout_trace_kit.docsgen --write docs`` regenerates them, and the
mkdocs hook and a test fail when a committed page is stale. :func:`published_schemas`
gives the JSON Schema files the site serves at the URL of their ``$id``
(``schema/<dialect>/<file>``); the hook adds those to the build (the repository keeps
its copy in ``schema/``). :func:`site_links` points Markdown links to the repository's
``schema/`` at the site's copy.
"""

from __future__ import annotations

import posixpath
import re
from pathlib import Path, PurePosixPath

from ..model import DIALECTS
from ..compilers.json_schema import SCHEMA_BASE, schema_files
from .catalogue_page import catalogue_page, load_reports
from .diagrams import layouts_page, lifecycles_page
from .examples import Example, display_path, examples
from .model_pages import bodies_page, dialect_page, differences_page, overview_page

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
    pages[f"{REFERENCE}/bodies.md"] = bodies_page(dialects)
    pages[f"{REFERENCE}/lifecycles.md"] = lifecycles_page(dialects)
    pages[f"{REFERENCE}/layouts.md"] = layouts_page(dialects)
    pages[f"{REFERENCE}/invariants.md"] = catalogue_page(
        invariants, dialects, reports, f"docs/{REDUCER_REPORTS.as_posix()}/"
    )
    from .releases_page import release_pages

    pages.update(release_pages())
    from ..codex.diff.report import PAGE as DIFF_PAGE, load_doc, load_full, page as diff_page

    # from the committed reports of documented runs
    pages[DIFF_PAGE] = diff_page(load_doc(docs_dir), load_full(docs_dir))
    return pages


def published_schemas() -> dict[str, str]:
    """``schema/<path>`` -> text: every JSON Schema file of the kit, as its model generates it
    (the dialects' event and manifest schemas, and the writer driver protocol's)."""
    from ..conformance.writer import protocol

    files = {f"schema/{rel}": text for rel, text in schema_files(DIALECTS.values()).items()}
    files.update({f"schema/{rel}": text for rel, text in protocol.schema_files().items()})
    return files


def generated_files(docs_dir: Path) -> dict[str, str]:
    return {**reference_pages(docs_dir), **published_schemas()}


def stale_pages(docs_dir: Path) -> list[str]:
    """Committed reference pages that differ from what the model generates (or are missing)."""
    out = []
    for rel, text in reference_pages(docs_dir).items():
        path = docs_dir / rel
        if not path.is_file() or path.read_text(encoding="utf-8") != text:
            out.append(rel)
    return out


def write_pages(docs_dir: Path) -> list[str]:
    """Regenerate the committed reference pages; the ones rewritten."""
    written = []
    for rel in stale_pages(docs_dir):
        path = docs_dir / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(reference_pages(docs_dir)[rel], encoding="utf-8")
        written.append(rel)
    return written


_LINK = re.compile(r"(\]\()([^)\s#]+)")


def site_links(markdown: str, page_uri: str) -> str:
    """Links from a page (``page_uri`` relative to the docs directory) into the repository's
    ``schema/`` directory, rewritten to the copy the site serves under ``schema/``."""
    page_dir = PurePosixPath("docs") / PurePosixPath(page_uri).parent

    def fix(m: re.Match) -> str:
        target = m.group(2)
        if "://" in target or target.startswith("/"):
            return m.group(0)
        resolved = posixpath.normpath(str(page_dir / target))
        if not resolved.startswith("schema/"):
            return m.group(0)
        site_target = posixpath.relpath("docs/" + resolved, str(page_dir))
        return m.group(1) + site_target

    return _LINK.sub(fix, markdown)


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
    "site_links",
    "site_url_for_schemas",
    "stale_pages",
    "write_pages",
]
