"""One mutant, two verdicts: the kit's reducer profile with ``--release R`` (in process) and the
real reducer of R (a subprocess), and the outcome of the pair.

Outcomes (issue 18's rulings): ``agree``; ``disagree`` (kit exit 0 against a reducer reject, or
the reverse); ``reference_hang`` (the reducer timed out) and ``kit_declined`` (a kit cap was
reached), counted apart.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Protocol

from ...bundle import Bundle
from ...validate import Options, Profile, validate_bundle
from ...validate.catalogue import all_invariants
from .mutators.refs import BUNDLE_DIR

AGREE, DISAGREE, REFERENCE_HANG, KIT_DECLINED = "agree", "disagree", "reference_hang", "kit_declined"
OUTCOMES = (AGREE, DISAGREE, REFERENCE_HANG, KIT_DECLINED)
# A finding of these says the kit declined to judge (a cap reached, a form it does not read): the catalogue's.
CAP_INVARIANTS = frozenset(inv.id for inv in all_invariants() if inv.declines)
KIT_ACCEPTS, KIT_REJECTS = "kit-accepts", "kit-rejects"  # the direction of a disagreement

_KIT_LOCK = threading.Lock()  # the validator runs one bundle at a time (it holds the GIL anyway)


@dataclass
class KitVerdict:
    ok: bool
    declined: bool
    findings: list[dict] = field(default_factory=list)  # error-severity findings (and caps)

    @property
    def invariants(self) -> list[str]:
        return sorted({f["invariant"] for f in self.findings if f["severity"] == "error"})


@dataclass
class RefVerdict:
    accepted: bool
    hang: bool = False
    first_error: str = ""


class Reference(Protocol):
    """A reducer: judges the bundle at ``bundle`` (writing its output to ``out``)."""

    def __call__(self, bundle: Path, out: Path) -> RefVerdict: ...


@dataclass
class CodexReference:
    """``codex debug trace-reduce`` of one release's native binary. ``home``: its ``CODEX_HOME``
    (see :func:`codex_home`; default: the user's)."""

    binary: Path
    timeout: float = 10.0
    home: Path | None = None

    def __call__(self, bundle: Path, out: Path) -> RefVerdict:
        from ..install import trace_reduce

        r = trace_reduce(self.binary, bundle, out, timeout=self.timeout, codex_home=self.home)
        return RefVerdict(r.accepted, r.timed_out, "" if r.accepted else rust_error(r.stderr))


def rust_error(stderr: str) -> str:
    """An anyhow error report in one line: ``Error: what: its last cause`` (no backtrace)."""
    lines = stderr.split("Stack backtrace:")[0].splitlines()
    # the error, not a warning printed before it (Codex warns when it cannot make PATH aliases)
    head = next((s.strip() for s in lines if s.startswith("Error:")), "") or next((s.strip() for s in lines if s.strip()), "")
    causes = []
    if "Caused by:" in lines:
        for s in lines[lines.index("Caused by:") + 1:]:
            s = re.sub(r"^\s*\d+:\s*", "", s).strip()
            if s:
                causes.append(s)
    return f"{head}: {causes[-1]}" if causes else head


@dataclass
class CommandReference:
    """Any reducer command: ``argv`` with ``{bundle}`` and ``{output}`` placeholders (tests use the
    Python reducers of ``tests/reducers/``)."""

    argv: list[str]
    timeout: float = 10.0

    def __call__(self, bundle: Path, out: Path) -> RefVerdict:
        argv = [a.replace("{bundle}", str(bundle)).replace("{output}", str(out)) for a in self.argv]
        try:
            p = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                               timeout=self.timeout)
        except subprocess.TimeoutExpired:
            return RefVerdict(False, True)
        err = next((s.strip() for s in p.stderr.decode("utf-8", "replace").splitlines() if s.strip()), "")
        return RefVerdict(p.returncode == 0, False, "" if p.returncode == 0 else err or f"exit {p.returncode}")


def python_reference(fn: Callable[[Path], tuple[bool, str]]) -> Reference:
    """A reference from a callable ``fn(bundle) -> (accepted, first_error)`` (tests)."""

    def ref(bundle: Path, out: Path) -> RefVerdict:
        ok, err = fn(bundle)
        return RefVerdict(ok, False, "" if ok else err)

    return ref


def kit_verdict(bundle: Path, release: str | None, dialect: str | None = None) -> KitVerdict:
    # releases=False: the verdict is the findings; the compatible releases (a judgement per epoch,
    # most of the kit's time on a small bundle) are not part of it
    options = Options(profile=Profile.REDUCER, release=release, dialect=dialect, releases=False)
    with _KIT_LOCK:
        report = validate_bundle(bundle, options)
    kept = [f.to_dict() for f in report.findings if f.severity.value == "error" or f.invariant in CAP_INVARIANTS]
    for f in kept:
        f.pop("bundle", None)  # a temporary directory: not part of the verdict
    declined = any(f["invariant"] in CAP_INVARIANTS for f in kept)
    return KitVerdict(report.ok, declined, kept)


def outcome(kit: KitVerdict, ref: RefVerdict) -> str:
    if ref.hang:
        return REFERENCE_HANG
    if kit.declined:
        return KIT_DECLINED
    return AGREE if kit.ok == ref.accepted else DISAGREE


_NUMBER = re.compile(r"\d+")
_ID = re.compile(r"\b(?:[a-z]+_)?[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b|\bcall-[\w-]+")
_QUOTED = re.compile(r"`[^`]*`|\"[^\"]*\"|'[^']*'")
_PATHISH = re.compile(r"(?<![\w.])(/[^\s:,]+)+|BUNDLE/[^\s:,]*")


def error_class(line: str) -> str:
    """A reducer error line without what varies between cases (numbers, quoted names, paths)."""
    s = _QUOTED.sub("…", line)
    s = _ID.sub("ID", s)
    s = _PATHISH.sub("PATH", s)
    s = _NUMBER.sub("N", s)
    return s[:160]


def verdict_class(kit: KitVerdict, ref: RefVerdict) -> tuple[str, str]:
    """(direction, class) of a disagreement: the kit's error invariants when it rejects, the
    reducer's error class when the reducer rejects."""
    if kit.ok:
        return KIT_ACCEPTS, error_class(ref.first_error)
    first = next((f["invariant"] for f in kit.findings if f["severity"] == "error"), "?")
    return KIT_REJECTS, first  # the first error: later ones are often its cascade


def write_bundle(bundle: Bundle, directory: Path) -> Path:
    """Write a mutant; an absolute path the ``ref.path`` mutator planted points into it."""
    directory = Path(directory)
    marker = BUNDLE_DIR.encode()
    if any(marker in line for line in bundle.lines):
        import json

        real = json.dumps(str(directory.resolve()))[1:-1].encode()
        bundle = bundle.copy()
        bundle.lines = [line.replace(marker, real) for line in bundle.lines]
    return bundle.write(directory)


def default_scratch() -> Path | None:
    """Where mutants are written: a memory file system when there is one (``/dev/shm``), since each
    mutant is written, read twice and removed; None: the system's temporary directory."""
    shm = Path("/dev/shm")
    return shm if shm.is_dir() and os.access(shm, os.W_OK | os.X_OK) else None


def codex_home(scratch: Path | None = None) -> tempfile.TemporaryDirectory:
    """An empty ``CODEX_HOME`` for the reference runs, beside the mutants. Every Codex run makes a
    directory of PATH aliases (three symlinks and a lock file) in ``CODEX_HOME/tmp`` and removes
    it: on a memory file system rather than the user's disk, a third of each reducer run's time
    (system time, measured on 0.169.0). The reducer reads nothing else from it but ``.env``, absent
    in both."""
    return tempfile.TemporaryDirectory(prefix="rtk-diff-codex-home-", dir=scratch)


@dataclass
class Stopwatch:
    """Seconds a judgement spent writing and removing the mutant, in the kit, and in the reducer."""

    write: float = 0.0
    kit: float = 0.0
    reference: float = 0.0
    reference_runs: int = 0


@dataclass
class Judged:
    kit: KitVerdict
    ref: RefVerdict

    @property
    def outcome(self) -> str:
        return outcome(self.kit, self.ref)


def judge(bundle: Bundle, release: str | None, reference: Reference, dialect: str | None = None,
          scratch: Path | None = None, kit_gate: Callable[[KitVerdict], bool] | None = None,
          clock: Stopwatch | None = None) -> Judged | None:
    """Write ``bundle`` to a scratch directory, judge it both ways, and remove it. The reducer runs
    while the kit judges (it is a subprocess: the kit's Python keeps the core meanwhile). With
    ``kit_gate``, the reducer runs only if the kit's verdict passes the gate (None otherwise):
    the shrinker skips the reducer for candidates the kit already tells apart. ``clock`` adds up
    the time of each part."""
    clock = clock if clock is not None else Stopwatch()
    t0 = time.perf_counter()
    tmp = Path(tempfile.mkdtemp(prefix="rtk-diff-", dir=scratch))
    try:
        path = write_bundle(bundle, tmp / "bundle")
        t1 = time.perf_counter()
        clock.write += t1 - t0
        beside = None if kit_gate is not None else _Beside(reference, path, tmp / "state.json", clock)
        kit = kit_verdict(path, release, dialect)
        clock.kit += time.perf_counter() - t1
        if beside is not None:
            ref = beside.result()
        elif kit_gate(kit):  # type: ignore[misc]
            ref = _timed(reference, path, tmp / "state.json", clock)
        else:
            return None
        # no machine path in a verdict: the scratch directory is called BUNDLE
        ref.first_error = ref.first_error.replace(str(path.resolve()), "BUNDLE").replace(str(path), "BUNDLE")
        for f in kit.findings:
            f["message"] = str(f.get("message", "")).replace(str(path.resolve()), "BUNDLE").replace(str(path), "BUNDLE")
        return Judged(kit, ref)
    finally:
        t3 = time.perf_counter()
        shutil.rmtree(tmp, ignore_errors=True)
        clock.write += time.perf_counter() - t3


def _timed(reference: Reference, path: Path, out: Path, clock: Stopwatch) -> RefVerdict:
    start = time.perf_counter()
    try:
        return reference(path, out)
    finally:
        clock.reference += time.perf_counter() - start
        clock.reference_runs += 1


class _Beside:
    """The reference's verdict, made in a thread started now (the reducer subprocess runs while
    the calling thread does other work); :meth:`result` waits for it and re-raises its error."""

    def __init__(self, reference: Reference, path: Path, out: Path, clock: Stopwatch):
        self._verdict: RefVerdict | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, args=(reference, path, out, clock), daemon=True)
        self._thread.start()

    def _run(self, reference: Reference, path: Path, out: Path, clock: Stopwatch) -> None:
        try:
            self._verdict = _timed(reference, path, out, clock)
        except BaseException as e:  # handed to the caller
            self._error = e

    def result(self) -> RefVerdict:
        self._thread.join()
        if self._error is not None:
            raise self._error
        assert self._verdict is not None
        return self._verdict
