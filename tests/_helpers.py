"""Helpers shared by several test modules (fixtures live in conftest.py)."""

from __future__ import annotations

import os
import shlex
import sys
from pathlib import Path

REDUCERS = Path(__file__).parent / "reducers"  # the fake reducers the harness tests drive
PY = shlex.quote(sys.executable)


def kit_reducer(*flags: str) -> str:
    """The command line of ``reducers/kit_reducer.py`` (the kit's validator as a reducer), with ``flags``."""
    return f"{PY} {REDUCERS / 'kit_reducer.py'} {{bundle}} {{output}} " + " ".join(flags)


def process_gone(marker: str, within: float = 60.0) -> bool:
    """Whether no process with ``marker`` in its command line is left, waiting up to ``within``
    seconds: SIGKILL is delivered when the process is next scheduled, which on a loaded machine
    is not at once (a generous bound, not a timing assertion)."""
    import time

    deadline = time.monotonic() + within
    while process_alive(marker):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def process_alive(marker: str) -> bool:
    """Whether a process with ``marker`` in its command line is still running."""
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                if marker.encode() in Path(f"/proc/{pid}/cmdline").read_bytes():
                    return True
            except OSError:
                pass
    return False


def read_until_closed(leader: int) -> bytes:
    """All that the leader side of a pseudo-terminal gives until its other side is closed."""
    seen = b""
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # the terminal closed
            break
        if not chunk:
            break
        seen += chunk
    return seen


def reducer_errors(bundle: Path, release: str) -> set[str]:
    """The errors the kit's reducer profile gives ``bundle`` as Codex ``release`` reads it."""
    from rollout_trace_kit.validate import Options, Profile, Severity, validate_bundle

    report = validate_bundle(bundle, Options(profile=Profile.REDUCER, release=release))
    return {f.invariant for f in report.findings if f.severity is Severity.ERROR}


def real_reduce(release: str, bundle: Path, tmp_path: Path):
    """Codex ``release``'s own reducer on ``bundle`` (installed from npm if needed): a ReduceResult."""
    import pytest

    from rollout_trace_kit.codex.install import ensure_codex, trace_reduce

    binary = ensure_codex(release)
    if binary is None:
        pytest.fail(f"could not install Codex {release} from npm")
    return trace_reduce(binary, bundle, tmp_path / "state.json", timeout=120)


def as_release_writes(build, release: str):
    """``build(dialect)`` (a Bundle) in the dialect ``release`` writes (config.dialect_for_release), ending
    with the terminal event its reducer knows: rollout_ended where it knows no recording_completed (0.165.0,
    0.166.0: the release records' reducer_variants)."""
    from rollout_trace_kit.config import dialect_for_release
    from rollout_trace_kit.model import releases

    bundle = build(dialect_for_release(release))
    if "recording_completed" not in (releases.release(release).reducer_variants or ()):
        bundle.lines = [line.replace(b'{"type":"recording_completed"}', b'{"type":"rollout_ended","status":"completed"}')
                        for line in bundle.lines]
    return bundle


def pid_running(pid: int) -> bool:
    """Whether process ``pid`` exists and is not a zombie (an orphan's zombie may stay: PID 1 of a
    container need not reap). Linux: /proc."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0] != "Z"
    except OSError:
        return False


def assert_cut_short_verdicts(bundle: Path, release: str) -> None:
    """The verdicts of a log whose writer lost its last event, recording_completed, at an error exit
    (seen of Codex 0.169.0: test_writer_codex): the dialect's writer profile reports the recording cut
    short, crash-consistency mode (--partial-ok) allows it, and the release's own measured rules
    (its terminal events include rollout_ended) accept it."""
    from rollout_trace_kit.validate import Options, Profile, validate_bundle

    writer = validate_bundle(bundle, Options(profile=Profile.WRITER))
    assert [f.invariant for f in writer.findings] == ["ORDER.TERMINAL_PRESENT"], [f.to_dict() for f in writer.findings]
    partial = validate_bundle(bundle, Options(profile=Profile.WRITER, partial_ok=True))
    assert [(f.invariant, f.severity.value) for f in partial.findings] == [("ORDER.TERMINAL_PRESENT", "warning")]
    assert validate_bundle(bundle, Options(profile=Profile.STRICT, release=release)).findings == []
