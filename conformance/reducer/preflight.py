"""Before a campaign: run the reducer on one shipped valid bundle of the dialect (with
``--release R``: one of R's, else a generated bundle as R writes).

A reducer that cannot start, crashes, hangs or rejects a real bundle would turn the
whole campaign into noise (every corrupted case "rejected"); stop at once instead,
saying what happened.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from ... import escape
from ..command import ReducerCommand, scratch_root


class PreflightError(Exception):
    pass


def preflight_bundle(dialect: str, release: str | None = None) -> Path:
    """A shipped real bundle of the dialect: the reference release's (or ``release``'s) ``tools`` scenario."""
    from ...codex.install import REFERENCE_RELEASES
    from ...corpus import bundles

    found = bundles(release or REFERENCE_RELEASES[dialect])
    return next((b for b in found if b.name == "tools"), found[0])


def _release_bundle(release: str, dialect: str, tmp: Path) -> tuple[Path, str]:
    """A valid bundle as ``release`` writes: a shipped one of that release, else a generated one."""
    from ...corpus import corpus_root

    if (corpus_root() / f"codex-{release}").is_dir():
        source = preflight_bundle(dialect, release)
        return Path(shutil.copytree(source, tmp / "bundle")), f"on the shipped valid bundle {source.parent.name}/{source.name}"
    from ...generators import build_bundle

    return build_bundle(dialect, seed=0, events=60, release=release, directory=tmp / "bundle"), \
        f"on a valid bundle generated as Codex {release} writes"


def preflight(command: ReducerCommand, dialect: str, oracles=None, release: str | None = None) -> None:
    with tempfile.TemporaryDirectory(prefix="rtk-preflight-", dir=scratch_root()) as tmp:
        if release is None:
            source = preflight_bundle(dialect)
            bundle = Path(shutil.copytree(source, Path(tmp) / "bundle"))  # never run on the shipped copy
            where = f"on the shipped valid bundle {source.parent.name}/{source.name}"
        else:
            bundle, where = _release_bundle(release, dialect, Path(tmp))
        outcome = command.run(bundle, Path(tmp) / "work")
    tail = [escape.display(line) for line in outcome.stderr_tail.strip().splitlines()[-5:]]
    said = ("; it printed:\n  " + "\n  ".join(tail)) if tail else ""
    if outcome.error:
        raise PreflightError(f"preflight: the reducer cannot start: {escape.display(outcome.error)} "
                             f"(it runs in the current directory; check --cmd)")
    if outcome.timed_out:
        raise PreflightError(f"preflight: the reducer ran past --timeout {command.timeout:g} s {where}")
    if outcome.crash is not None:
        raise PreflightError(f"preflight: the reducer crashed {where}: {escape.display(outcome.crash)}{said}")
    if not outcome.accepted:
        raise PreflightError(f"preflight: the reducer rejected {where} (exit {outcome.returncode}){said}\n"
                             f"  a reducer must accept valid bundles; check --cmd and --dialect")
    if outcome.output_ok is False:
        raise PreflightError(f"preflight: the reducer exited 0 {where} but wrote no JSON to {{output}}")
