"""Pack the suite as a plain folder: the data and the runners, no Python module of the kit."""

from __future__ import annotations

import gzip
import io
import tarfile
from pathlib import Path

from . import CASES, EXPECTED_SCHEMA, SUITE_VERSION

# What a runner in any language needs: the cases, the real bundles they name, the contract,
# the schema of expected.json and the runners shown in the docs.
CONTENTS = ("INTERPRETING.md", EXPECTED_SCHEMA, CASES, "corpus", "runners")


def pack(root: Path, out: Path) -> Path:
    """Write ``out`` (a .tar.gz holding ``rollout-trace-conformance-VERSION/``); same bytes for the same suite."""
    top = f"rollout-trace-conformance-{SUITE_VERSION}"
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name in CONTENTS:
            base = root / name
            paths = [base] if base.is_file() else sorted(p for p in base.rglob("*") if p.is_file())
            for p in paths:
                if "__pycache__" in p.parts:
                    continue
                data = p.read_bytes()
                info = tarfile.TarInfo(f"{top}/{p.relative_to(root).as_posix()}")
                info.size, info.mode, info.mtime = len(data), 0o644, 0
                tar.addfile(info, io.BytesIO(data))
    out.parent.mkdir(parents=True, exist_ok=True)
    from ...output import open_output

    with open_output(str(out), binary=True) as f, gzip.GzipFile(fileobj=f, mode="wb", mtime=0, filename="") as gz:
        gz.write(buf.getvalue())
    return out
