"""Apply a case's recipe: the entries of its bundle no static file can carry (model/nonstatic.py).

A suite may come from anyone (``conformance run --root``): every step stays inside the bundle
copy (no ``..``, no absolute path, no symlink on the way out, none followed at the end) and a
big file stays within :data:`MAX_BIG_FILE` bytes.
"""

from __future__ import annotations

import os
from pathlib import Path

# The largest file a case makes: a payload past the kit's 256 MiB limit, with room to spare.
MAX_BIG_FILE = 1 << 30


def inside(root: Path, rel: object) -> Path:
    """``root / rel`` when ``rel`` (from a JSON file) is a relative path that stays inside ``root``
    (symlinks resolved as far as they exist); else ValueError."""
    if not isinstance(rel, str) or not rel or "\x00" in rel:
        raise ValueError(f"not a relative path: {rel!r}")
    parts = Path(rel).parts
    if ".." in parts or Path(rel).is_absolute():
        raise ValueError(f"path outside the bundle: {rel!r}")
    path = root / rel
    real_root = os.path.realpath(root)
    real_parent = os.path.realpath(path.parent)
    if real_parent != real_root and not real_parent.startswith(real_root + os.sep):
        raise ValueError(f"path leads out of the bundle through a symlink: {rel!r}")
    return path


def apply_recipe(bundle: Path, recipe: list[dict]) -> None:
    """Perform each step in ``bundle`` (a copy the runner owns: steps add entries)."""
    for step in recipe:
        path = inside(bundle, step["path"])
        path.parent.mkdir(parents=True, exist_ok=True)
        inside(bundle, step["path"])  # the directories just made are real ones: still inside
        kind = step["make"]
        if kind == "dir":
            os.mkdir(path)  # never through a symlink already there
        elif kind == "fifo":
            os.mkfifo(path)
        elif kind == "symlink":
            os.symlink(step["target"], path)
        elif kind == "big_file":
            head, fill, tail = step["head"].encode(), step["fill"].encode(), step["tail"].encode()
            left = step["count"]
            if not isinstance(left, int) or left < 0 or len(head) + len(fill) * left + len(tail) > MAX_BIG_FILE:
                raise ValueError(f"recipe big_file {step['path']!r} is larger than {MAX_BIG_FILE} bytes")
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0), 0o644)
            with os.fdopen(fd, "wb") as f:
                f.write(head)
                while left:
                    n = min(left, 1 << 20)
                    f.write(fill * n)
                    left -= n
                f.write(tail)
        else:
            raise ValueError(f"unknown recipe step {kind!r}")
