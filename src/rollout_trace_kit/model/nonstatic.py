"""Conformance cases that cannot be static files, and why: the suite lists them with a recipe.

A git checkout or a tarball keeps regular files only, and a case must mean the same on any
machine. A corruption that needs something else (a FIFO, a symbolic link, an empty
directory, a log that grows while it is read, a file of gigabytes) is shipped as the static
part of its bundle plus a *recipe*: a small JSON list of steps a runner performs in a copy of
the bundle before running the case. ``rollout-trace conformance build`` fails when a
corruption needs an entry that has no kind here, so the list cannot go stale.

Recipe steps (JSON objects, performed in order, paths relative to the bundle):

* ``{"make": "fifo", "path": P}``: a named pipe at ``P`` (``mkfifo``);
* ``{"make": "symlink", "path": P, "target": T}``: a symbolic link at ``P`` to ``T``
  (``T`` may be absolute: that is why it is not a static file);
* ``{"make": "dir", "path": P}``: an (empty) directory at ``P``;
* ``{"make": "big_file", "path": P, "head": H, "fill": F, "count": N, "tail": T}``: the file
  at ``P`` is the UTF-8 bytes of ``H``, then ``N`` times the one-byte string ``F``, then ``T``
  (a line, payload or shard past a cap, too large to ship);
* ``{"make": "append_while_read", "path": P, "line": L}``: append ``L`` and a newline to
  ``P`` while the command under test runs (not a bundle at rest: only a runner that can
  time it does this case; others skip it and say so).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class NonStatic:
    kind: str  # the recipe step's "make"
    reason: str  # why no static file can carry it


NON_STATIC: dict[str, NonStatic] = {n.kind: n for n in (
    NonStatic("fifo", "git and tar archives keep regular files; a FIFO is recreated on the machine that runs the case"),
    NonStatic("symlink", "a symbolic link may point at an absolute path (outside the bundle), which means a "
                         "different file on each machine, and some checkouts (Windows) do not keep links"),
    NonStatic("dir", "git keeps no empty directory"),
    NonStatic("big_file", "a file past a cap (a line, payload or shard of many MB) is too large to ship; "
                          "it is rebuilt from its head, one byte repeated, and its tail"),
    NonStatic("append_while_read", "the log changes while it is read: a timing, not a bundle at rest"),
)}

# Invariants whose every case needs a runner to act while the command runs (no bundle at rest).
WHILE_RUNNING: dict[str, str] = {
    "BUNDLE.TRACE_CHANGED": "append_while_read",
}
