"""Real bundles written by published Codex releases, shipped with the kit.

Each ``codex-VERSION/SCENARIO`` directory is a bundle that release's ``codex exec``
wrote against the kit's mock provider, with ``SCENARIO.state.json`` beside it: the
same release's ``codex debug trace-reduce`` output. The reducer harness preflights
reducers on them, the docs quote them, and the writer harness replays them.
"""

from __future__ import annotations

from pathlib import Path


def corpus_root() -> Path:
    """The directory holding ``codex-VERSION/`` folders (inside the installed package)."""
    return Path(__file__).resolve().parent


def releases() -> list[str]:
    """Codex releases with shipped bundles, oldest first."""
    from ..model.types import release_key

    names = [p.name.removeprefix("codex-") for p in corpus_root().glob("codex-*") if p.is_dir()]
    return sorted(names, key=release_key)


def bundles(release: str) -> list[Path]:
    """The shipped bundles of one release, by scenario name."""
    root = corpus_root() / f"codex-{release}"
    return sorted(p for p in root.iterdir() if p.is_dir() and (p / "manifest.json").is_file())
