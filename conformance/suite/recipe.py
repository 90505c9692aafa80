"""Apply a case's recipe: the entries of its bundle no static file can carry (model/nonstatic.py)."""

from __future__ import annotations

import os
from pathlib import Path


def apply_recipe(bundle: Path, recipe: list[dict]) -> None:
    """Perform each step in ``bundle`` (a copy the runner owns: steps add entries)."""
    for step in recipe:
        path = bundle / step["path"]
        if ".." in Path(step["path"]).parts or Path(step["path"]).is_absolute():
            raise ValueError(f"recipe path outside the bundle: {step['path']!r}")
        path.parent.mkdir(parents=True, exist_ok=True)
        kind = step["make"]
        if kind == "dir":
            path.mkdir(exist_ok=True)
        elif kind == "fifo":
            os.mkfifo(path)
        elif kind == "symlink":
            os.symlink(step["target"], path)
        elif kind == "big_file":
            with open(path, "wb") as f:
                f.write(step["head"].encode())
                fill, left = step["fill"].encode(), step["count"]
                while left:
                    n = min(left, 1 << 20)
                    f.write(fill * n)
                    left -= n
                f.write(step["tail"].encode())
        else:
            raise ValueError(f"unknown recipe step {kind!r}")
