from __future__ import annotations

from pathlib import Path

import os

import pytest
from hypothesis import settings

from rollout_trace_kit.bundle import Bundle
from rollout_trace_kit.corpus import corpus_root

# CI runs the same examples every time (a red CI must be the change's fault); local runs explore.
settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")

ROOT = Path(__file__).resolve().parent.parent
CORPUS = corpus_root()


def corpus_bundles(release: str | None = None) -> list[Path]:
    pattern = f"codex-{release}/*/" if release else "codex-*/*/"
    return sorted(p for p in CORPUS.glob(pattern) if (p / "manifest.json").is_file())


def written_corpus_bundles() -> list[Path]:
    """Corpus bundles of the dialects the kit's writers write (model layouts they support)."""
    import json

    from rollout_trace_kit.model import DIALECTS
    from rollout_trace_kit.writer.core import written_dialects

    versions = {DIALECTS[n].schema_version for n in written_dialects()}
    return [b for b in corpus_bundles() if json.loads((b / "manifest.json").read_text())["schema_version"] in versions]


def pytest_addoption(parser):
    parser.addoption(
        "--codex",
        action="store_true",
        default=False,
        help="run the opt-in tier that needs the real Codex CLI (installed from npm on demand)",
    )


def pytest_collection_modifyitems(config, items):
    if config.getoption("--codex"):
        return
    skip = pytest.mark.skip(reason="opt-in tier: needs the real Codex CLI; run with --codex")
    for item in items:
        if "codex" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def codex_binaries():
    """{"v1": path, "v2": path} of the reference reducers (installs them if needed)."""
    from rollout_trace_kit.codex.install import REFERENCE_RELEASES, ensure_codex

    out = {}
    for dialect, release in REFERENCE_RELEASES.items():
        binary = ensure_codex(release)
        if binary is None:
            pytest.fail(f"could not install Codex {release} from npm")
        out[dialect] = binary
    return out


@pytest.fixture
def load_corpus():
    def load(release: str, scenario: str) -> Bundle:
        return Bundle.read(CORPUS / f"codex-{release}" / scenario)

    return load
