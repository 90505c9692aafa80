"""Before a campaign: run the reducer on one shipped valid bundle of the dialect.

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


def preflight_bundle(dialect: str) -> Path:
    """A shipped real bundle of the dialect: the reference release's ``tools`` scenario."""
    from ...codex.install import REFERENCE_RELEASES
    from ...corpus import bundles

    found = bundles(REFERENCE_RELEASES[dialect])
    return next((b for b in found if b.name == "tools"), found[0])


def preflight(command: ReducerCommand, dialect: str, oracles=None) -> None:
    source = preflight_bundle(dialect)
    with tempfile.TemporaryDirectory(prefix="rtk-preflight-", dir=scratch_root()) as tmp:
        bundle = Path(shutil.copytree(source, Path(tmp) / "bundle"))  # never run on the shipped copy
        outcome = command.run(bundle, Path(tmp) / "work")
    where = f"on the shipped valid bundle {source.parent.name}/{source.name}"
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
