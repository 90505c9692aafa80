"""The published Codex reducer reports (``docs/data/codex-reducer/RELEASE.json``) and the command that makes each.

A report states its own recipe (dialect, seed, examples, timeout, known-results file); the
docs print :func:`recipe` of it and a codex-tier test runs that command and compares.
"""

from __future__ import annotations

import re
import shlex

KNOWN_DIR = "tests/known-results"  # known-results files, named codex-RELEASE.json
REPORTS_DIR = "docs/data/codex-reducer"
# --no-shrink: shrinking a hanging case races its timeouts, so the saved (shrunk) case would
# differ from run to run; unshrunk, every failure is named by its case id.
RECIPE = {"examples": 320, "seed": 0, "timeout": 10.0, "jobs": 2}


def recipe(release: str, report: dict) -> str:
    """The shell command, run from the repository root, that regenerates ``release``'s report."""
    known = f" --known {KNOWN_DIR}/{report['known']}" if report.get("known") else ""
    timeout = report.get("timeout") or RECIPE["timeout"]
    timeout_text = f"{timeout:g}" if isinstance(timeout, float) else str(timeout)
    return (
        f"rollout-trace fuzz-reducer --dialect {report['dialect']} --examples {report.get('examples') or RECIPE['examples']} "
        f"--seed {report['seed']} --timeout {timeout_text} --jobs {RECIPE['jobs']} --no-shrink{known} "
        f"--format json -o {REPORTS_DIR}/{release}.json "
        f"--cmd \"$(rollout-trace codex path {shlex.quote(release)}) debug trace-reduce {{bundle}} -o {{output}}\""
    )


def comparable(report: dict) -> dict:
    """A report without what varies from run to run: wall-clock time, and the time a hang was
    killed after ("timed out after 10.1 s")."""
    out = {k: v for k, v in report.items() if k != "seconds"}
    out["failures"] = [dict(f, detail=re.sub(r"\d+(\.\d+)? s\b", "N s", f.get("detail") or ""))
                       for f in report.get("failures", [])]
    return out
