"""Run the suite's bundle cases against a command, as INTERPRETING.md specifies.

The command is run once per case with ``{bundle}`` replaced by a copy of the case's bundle
(recipe applied) and ``{out}`` by a scratch file path. Exit 0 means it accepts the bundle,
exit 1 that it rejects it; anything else (another code, a signal, no exit within the
timeout) is an error, never a verdict. What it must say comes from the case's
``expected.json``: ``profiles[PROFILE].verdict`` (``--profile``) or the reducer verdict of
the release epoch holding ``--release``.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import stat
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from ...bundle import MANIFEST, TRACE
from ..command import run_group

from . import CASES, INDEX
from .recipe import apply_recipe

ACCEPT, REJECT = 0, 1


@dataclass
class Outcome:
    case: str
    status: str  # "pass" | "fail" | "skip"
    detail: str = ""


MAX_CASE_FILE_BYTES = 16 << 20  # an index or expected.json; the shipped ones are far smaller


def _read_json(root: Path, rel: str) -> dict:
    """A JSON file of the suite: inside ``root``, regular, capped (a suite may come from anyone)."""
    from .recipe import inside

    doc = json.loads(_read_capped(inside(root, rel), MAX_CASE_FILE_BYTES, rel).decode("utf-8"))
    if not isinstance(doc, dict):
        raise ValueError(f"{rel} is not a JSON object")
    return doc


MAX_CASE_BUNDLE_BYTES = 256 << 20  # a case's static files (big files come from its recipe)


def _capped_copy():
    """A copy function for ``copytree`` that refuses a case whose files hold more than the cap
    (a sparse file of terabytes would be copied byte by byte)."""
    left = [MAX_CASE_BUNDLE_BYTES]

    def copy(src, dst):
        st = os.lstat(src)
        if not stat.S_ISREG(st.st_mode):  # a FIFO or device would block or never end
            raise ValueError(f"a case bundle holds {os.fspath(src)!r}, which is not a regular file")
        left[0] -= st.st_size
        if left[0] < 0:
            raise ValueError(f"a case bundle holds more than {MAX_CASE_BUNDLE_BYTES} bytes")
        return shutil.copy2(src, dst)

    return copy


def load_index(root: Path) -> dict:
    return _read_json(root, f"{CASES}/{INDEX}")


def case_file(root: Path, expected: dict, key: str) -> Path:
    """The path ``expected[key]`` names, inside the suite (never a path elsewhere)."""
    from .recipe import inside

    return inside(root, expected[key])


def wanted(expected: dict, *, profile: str | None, release: str | None) -> tuple[bool | None, str | None]:
    """(must it accept, the error class it must have when it rejects); None: the case says nothing."""
    if profile is not None:
        return expected["profiles"][profile]["verdict"] == "valid", None
    from ...model.types import release_key

    assert release is not None
    for epoch in expected["reducers"]:
        if release_key(epoch["first"]) <= release_key(release) <= release_key(epoch["last"]):
            return epoch["accepts"], epoch["error_class"]
    return None, None


def run_case(root: Path, expected: dict, command: str, *, profile: str | None, release: str | None,
             timeout: float) -> Outcome:
    must_accept, error_class = wanted(expected, profile=profile, release=release)
    if must_accept is None:
        return Outcome(expected["id"], "skip", "no expected verdict (an epoch without a reducer or facts)")
    with tempfile.TemporaryDirectory(prefix="rtk-case-") as tmp:
        bundle = Path(tmp) / "bundle"
        source = case_file(root, expected, "bundle")
        if source.is_file():  # a case whose "bundle" is a regular file (BUNDLE.IS_DIRECTORY)
            shutil.copyfile(source, bundle)
        else:
            shutil.copytree(source, bundle, symlinks=True, copy_function=_capped_copy())
        apply_recipe(bundle, expected.get("recipe") or [])
        cmd = command.replace("{dialect}", expected["dialect"]).replace("{bundle}", shlex.quote(str(bundle))).replace("{out}", shlex.quote(str(Path(tmp) / "out")))
        # its own process group, killed whole (a child left behind by a hang included); what it
        # prints is kept to a bounded tail (a command printing gigabytes took as many)
        try:
            ran = run_group(["/bin/sh", "-c", cmd], stdin=b"", timeout=timeout, cwd=None)
        except OSError as e:
            return Outcome(expected["id"], "fail", f"cannot start /bin/sh: {e.strerror}")
        if ran.timed_out:
            return Outcome(expected["id"], "fail", f"no exit within {timeout:g} s")
    stderr = ran.err.tail.decode("utf-8", "replace")
    if ran.returncode not in (ACCEPT, REJECT):
        return Outcome(expected["id"], "fail", f"exit {ran.returncode} (an error, not a verdict): {stderr[-300:]}")
    accepted = ran.returncode == ACCEPT
    if accepted != must_accept:
        return Outcome(expected["id"], "fail", f"{'accepted' if accepted else 'rejected'}; expected it to "
                                                f"{'accept' if must_accept else 'reject'}: {stderr[-300:]}")
    if not accepted and error_class is not None:
        from ...model.reducer_errors import classify

        got = classify(stderr)
        if got != error_class:
            return Outcome(expected["id"], "fail", f"rejected with {got}, expected {error_class}: {stderr[-300:]}")
    return Outcome(expected["id"], "pass")


def run_suite(root: Path, command: str, *, profile: str | None = None, release: str | None = None,
              dialects: list[str] | None = None, timeout: float = 60.0, only: str | None = None) -> list[Outcome]:
    """Every bundle case (valid and invalid; writer cases are run by check-writer) of ``dialects``."""
    out = []
    for row in load_index(root)["cases"]:
        if row["kind"] == "writer" or (dialects and row["dialect"] not in dialects):
            continue
        if only is not None and only not in row["id"]:
            continue
        expected = _read_json(root, row["expected"])
        out.append(run_case(root, expected, command, profile=profile, release=release, timeout=timeout))
    return out


# -- writer cases -----------------------------------------------------------------------------------
def _shape(value, refs: dict[str, int]):
    """``value`` with each payload reference replaced by its order of first appearance: where a
    writer stores a payload is its choice (INTERPRETING.md: volatile), which one it is is not."""
    from ...model.facts import ref_id_key

    if isinstance(value, dict):
        if ref_id_key() in value:
            return {"$ref": refs.setdefault(json.dumps(value, sort_keys=True), len(refs) + 1)}
        return {k: _shape(v, refs) for k, v in value.items()}
    if isinstance(value, list):
        return [_shape(v, refs) for v in value]
    return value


def _without(doc: dict, pointers: list[str]) -> dict:
    out = dict(doc)
    for p in pointers:  # top-level pointers only ("/wall_time_unix_ms")
        out.pop(p.removeprefix("/"), None)
    return out


def _read_capped(path: Path, cap: int, name: str | None = None) -> bytes:
    """A file of the suite or of a bundle compared (the suite's, or one a writer under test wrote): a
    regular file, capped; else ValueError naming it ``name`` (default: its path; a FIFO there hung the run)."""
    from ...files import read_capped

    got = read_capped(path, cap, keep_prefix=False)
    if got.data is None:
        raise ValueError(f"{name or path} is {got.problem}")
    return got.data


def bundle_differences(expected: dict, written: Path, want: Path) -> list[str]:
    """Where the written bundle differs from the case's bundle, modulo the case's volatile fields."""
    try:
        return _differences(expected, written, want)
    except (OSError, ValueError, RecursionError) as e:  # what a writer under test wrote is not a bundle
        return [f"the bundles cannot be compared: {e}"]


def _differences(expected: dict, written: Path, want: Path) -> list[str]:
    volatile = expected.get("volatile") or {}
    out = []
    m1, m2 = (json.loads(_read_capped(b / MANIFEST, MAX_CASE_FILE_BYTES)) for b in (written, want))
    if not isinstance(m1, dict) or _without(m1, volatile.get("manifest", [])) != _without(m2, volatile.get("manifest", [])):
        out.append(f"{MANIFEST} differs")
    r1: dict[str, int] = {}
    r2: dict[str, int] = {}
    # split at \n only: a JSON string may hold U+2028, which str.splitlines() would split at
    lines1, lines2 = (_read_capped(b / TRACE, MAX_CASE_BUNDLE_BYTES).rstrip(b"\n").split(b"\n") for b in (written, want))
    if len(lines1) != len(lines2):
        out.append(f"{TRACE} has {len(lines1)} lines, expected {len(lines2)}")
    for n, (a, b) in enumerate(zip(lines1, lines2), 1):
        ea, eb = json.loads(a), json.loads(b)
        if not isinstance(ea, dict) or (_shape(_without(ea, volatile.get("event", [])), r1)
                                        != _shape(_without(eb, volatile.get("event", [])), r2)):
            out.append(f"{TRACE} line {n} differs")
            break
    return out


def run_writer_cases(root: Path, command: str, *, dialects: list[str] | None = None, timeout: float = 600.0,
                     only: str | None = None) -> list[Outcome]:
    """Each writer case: ``check-writer`` plays its script through the writer (no crash runs), then
    the bundle written is compared with the case's, modulo the volatile fields."""
    import sys

    rt = [sys.executable, "-m", "rollout_trace_kit"]
    out = []
    for row in load_index(root)["cases"]:
        if row["kind"] != "writer" or (dialects and row["dialect"] not in dialects) or (only and only not in row["id"]):
            continue
        expected = _read_json(root, row["expected"])
        with tempfile.TemporaryDirectory(prefix="rtk-writer-") as tmp:
            proc = subprocess.run([*rt, "check-writer", "--cmd", command, "--script",
                                   f"file:{case_file(root, expected, 'script')}",
                                   "--dialect", expected["dialect"], "--crash", "none", "--keep", tmp, "--quiet"],
                                  capture_output=True, text=True, errors="replace", timeout=timeout)
            if proc.returncode != 0:
                out.append(Outcome(row["id"], "fail", f"check-writer exit {proc.returncode}: {proc.stdout[-300:]}"))
                continue
            (written,) = [p.parent for p in Path(tmp).glob(f"*/bundle/{MANIFEST}")]
            diff = bundle_differences(expected, written, case_file(root, expected, "bundle"))
        out.append(Outcome(row["id"], "fail" if diff else "pass", "; ".join(diff)))
    return out
