"""Docs that work where people read them: every relative link in the committed Markdown
(README, CHANGELOG, docs/) resolves in the repository as it is, without a docs build,
and the committed reference pages are what the model generates."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from rollout_trace_kit.docsgen import stale_pages

from .conftest import ROOT

MARKDOWN = sorted([ROOT / "README.md", ROOT / "CHANGELOG.md", *(ROOT / "docs").rglob("*.md")])
LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)\)|!\[[^\]]*\]\(([^)\s]+)\)")
FENCE = re.compile(r"^(```|~~~).*?^\1", re.M | re.S)


def anchors(markdown: str) -> set[str]:
    """Heading anchors as mkdocs makes them: an explicit {#id}, else the slug of the heading."""
    out = set(re.findall(r"\{#([\w-]+)\}", markdown))
    for title in re.findall(r"^#+ (.+?)\s*$", FENCE.sub("", markdown), re.M):
        if "{#" in title:
            continue
        text = re.sub(r"[`*_]", "", title).lower()
        out.add(re.sub(r"[\s]+", "-", re.sub(r"[^\w\s-]", "", text)).strip("-"))
    return out


def links(path: Path) -> list[str]:
    text = FENCE.sub("", path.read_text(encoding="utf-8"))
    return [a or b for a, b in LINK.findall(text)]


@pytest.mark.parametrize("path", MARKDOWN, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_every_relative_link_resolves_without_a_build(path):
    broken = []
    for target in links(path):
        if re.match(r"^[a-z]+:", target):
            continue  # http(s), mailto: not this test's business
        file_part, _, anchor = target.partition("#")
        dest = (path.parent / file_part).resolve() if file_part else path
        if not dest.exists():
            broken.append(f"{target}: no file {dest.relative_to(ROOT) if dest.is_relative_to(ROOT) else dest}")
            continue
        if not dest.resolve().is_relative_to(ROOT):
            broken.append(f"{target}: outside the repository")
        elif anchor and dest.suffix == ".md" and anchor not in anchors(dest.read_text(encoding="utf-8")):
            broken.append(f"{target}: no heading #{anchor} in {dest.relative_to(ROOT)}")
    assert broken == []


def test_the_link_check_sees_links():
    assert len(links(ROOT / "docs" / "guides" / "validate.md")) >= 5
    assert "ref-orphan" in anchors((ROOT / "docs" / "reference" / "invariants.md").read_text())


def test_committed_reference_pages_are_what_the_model_generates():
    stale = stale_pages(ROOT / "docs")
    assert stale == [], f"stale: {stale}; run `python -m rollout_trace_kit.docsgen --write docs`"
