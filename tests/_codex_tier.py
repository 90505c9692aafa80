"""What the codex tier's tests share: the Codex releases they run (installed ahead of the tier by
`.ci/run`), and how long a reducer run may take where a campaign meets a known hang.

Each test installs what it needs on demand (under the install lock); `.ci/run` runs this module in
the background of the README's test run, which needs no Codex, so the tier does not wait for its
installs one after another. Standard library only: it runs before the test venv exists
(``PYTHONPATH=src python3 -m tests._codex_tier``).
"""

from __future__ import annotations

import shutil
import sys

from rollout_trace_kit.codex.install import REFERENCE_RELEASES, InstallError, ensure_codex
from rollout_trace_kit.model import releases
from rollout_trace_kit.model.types import release_key

# Seconds a reducer run may take in a campaign that can meet the known hang (a FIFO payload, read
# until a writer comes, which none does): a campaign given the known results waits this long once,
# one without them once a FIFO case. A real reducer takes 20 to 160 ms on a generated bundle (up to
# 3.8 MB); 10 s cost the tier about 2 minutes of waiting.
HANG_TIMEOUT = 4

# releases whose fresh probe bundles the tier judges as their writer (test_release_own_bundles)
PROBED_INSTALLED = ("0.164.0", "0.169.0", "0.169.1", "0.171.0")


def oldest_readers() -> list[str]:
    """The first release of every epoch that has a reducer (test_conformance_codex)."""
    return [e.first for e in releases.table_epochs()
            if e.status != "unknown" and e.representative.get("has_reducer")]


def tier_releases() -> list[str]:
    """Every release above, oldest first."""
    wanted = {*oldest_readers(), *PROBED_INSTALLED, *REFERENCE_RELEASES.values()}
    return sorted(wanted, key=release_key)


def main() -> int:
    failed = 0
    for release in tier_releases():
        try:
            binary = ensure_codex(release)
        except (InstallError, OSError) as e:  # OSError: the cache cannot be written; the next may
            binary, why = None, str(e)
        else:
            why = "npm installed no codex binary" if shutil.which("npm") else "npm is not on PATH"
        print(f"codex {release}: {binary or 'not installed: ' + why}", flush=True)
        failed += binary is None
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
