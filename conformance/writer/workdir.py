"""Where each session's bundle is written: a fresh temporary directory, or one kept under --keep."""

from __future__ import annotations

import re
import tempfile
from pathlib import Path

from .session import Config


def workdir(config: Config, label: str) -> Path:
    if config.keep is not None:
        config.keep.mkdir(parents=True, exist_ok=True)
        return Path(tempfile.mkdtemp(prefix=f"{label}-", dir=config.keep))
    return Path(tempfile.mkdtemp(prefix="rtk-writer-"))


def safe_name(name: str) -> str:
    """A script name as a file name."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name)[:60]
