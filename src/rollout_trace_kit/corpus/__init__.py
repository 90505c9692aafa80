"""Real bundles written by published Codex releases, shipped with the kit.

They live in the conformance suite (``conformance/corpus/``, installed as
``rollout_trace_kit/conformance/corpus/``), whose valid cases they are; this module
finds them (``corpus:NAME`` on the command line), there is no second copy.

Each ``codex-VERSION/SCENARIO`` directory is a bundle that release's ``codex exec``
wrote against the kit's mock provider, with ``SCENARIO.state.json`` beside it: the
same release's ``codex debug trace-reduce`` output. The reducer harness preflights
reducers on them, the docs quote them, and the writer harness replays them.
"""

from __future__ import annotations

from pathlib import Path

from ..bundle import MANIFEST


def corpus_root() -> Path:
    """The directory holding ``codex-VERSION/`` folders (the suite's, inside the installed package)."""
    from importlib.util import find_spec

    # the suite's package without importing it: an editable install maps it to conformance/
    spec = find_spec("rollout_trace_kit.conformance")
    assert spec is not None and spec.submodule_search_locations is not None
    return Path(next(iter(spec.submodule_search_locations))).resolve() / "corpus"


def releases() -> list[str]:
    """Codex releases with shipped bundles, oldest first."""
    from ..model.types import release_key

    names = [p.name.removeprefix("codex-") for p in corpus_root().glob("codex-*") if p.is_dir()]
    return sorted(names, key=release_key)


def bundles(release: str) -> list[Path]:
    """The shipped bundles of one release, by scenario name."""
    root = corpus_root() / f"codex-{release}"
    return sorted(p for p in root.iterdir() if p.is_dir() and (p / MANIFEST).is_file())
