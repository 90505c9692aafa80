"""The worker process that reads and proves the log ahead of the checks (validate/ahead.py)
gives the same report as one process, whatever the log holds, and its failures end in a
finding, never a traceback or a hang."""

from __future__ import annotations

import itertools
import json
import os
import shutil
import signal

import pytest

from rollout_trace_kit.validate import Options, Profile, validate_bundle
from rollout_trace_kit.validate import ahead

from .conftest import corpus_bundles

BUNDLES = [corpus_bundles(r)[0] for r in ("0.164.0", "0.169.0", "0.171.0")]
# Lines a run of the worker (ahead.BATCH, 1,024 in use): the logs below repeat a corpus bundle into
# dozens of runs, which short runs make of a few thousand lines, not tens of thousands. The checking
# process alone still cuts its runs at 1,024 lines: run boundaries must not change the verdict either.
RUN = 32


@pytest.fixture(autouse=True)
def _short_runs(monkeypatch):
    monkeypatch.setattr(ahead, "BATCH", RUN)


def _calls(monkeypatch, owner, name: str, note=lambda *a, **kw: 1) -> list:
    """Calls of ``owner.name`` made in this process from now on, as ``note(*args)`` of each (a forked
    worker's calls are its own); the call itself goes on as before."""
    seen: list = []
    real = getattr(owner, name)

    def recorded(*a, **kw):
        seen.append(note(*a, **kw))
        return real(*a, **kw)

    monkeypatch.setattr(owner, name, recorded)
    return seen


def _report(bundle, worker: bool, monkeypatch, profile=Profile.STRICT, **options) -> dict:
    if worker:
        monkeypatch.setattr(ahead, "AHEAD_MIN_BYTES", 0)
        monkeypatch.setenv(ahead.ENV_SWITCH, "1")  # whatever the machine's load
    else:
        monkeypatch.setenv(ahead.ENV_SWITCH, "0")
    with monkeypatch.context() as m:
        forks = _calls(m, ahead.Ahead, "__init__")
        report = validate_bundle(bundle, Options(profile=profile, **options)).to_dict()
    assert bool(forks) == worker  # the mode asked for is the mode that ran
    return report


def _mutated(src, dst, edit) -> object:
    shutil.copytree(src, dst)
    lines = (dst / "trace.jsonl").read_bytes().split(b"\n")
    (dst / "trace.jsonl").write_bytes(b"\n".join(edit(lines)))
    return dst


def _respell(line: bytes) -> bytes:
    return json.dumps(json.loads(line), sort_keys=True).encode()  # valid, not canonical


EDITS = {
    "as written": lambda lines: lines,
    "long log": lambda lines: lines[:1] + lines[1:-2] * 25 + lines[-2:],  # many runs (and many findings)
    "a respelled line": lambda lines: lines[:3] + [_respell(lines[3])] + lines[4:],
    "every line respelled": lambda lines: [_respell(x) if x else x for x in lines],
    "a blank line and a CRLF": lambda lines: lines[:2] + [b""] + [lines[2] + b"\r"] + lines[3:],
    "not JSON": lambda lines: lines[:4] + [b"{not json"] + lines[4:],
    "no final newline": lambda lines: lines[:-1],
    "a line too long": lambda lines: lines[:2] + [b'{"x":"' + b"y" * 300 + b'"}'] + lines[2:],
}


def _renumbered(lines: list[bytes]) -> list[bytes]:
    """Lines with seq 1, 2, 3...: a long log in order, whose runs the order checker may take whole."""
    import re

    count = iter(range(1, len(lines) + 1))
    return [re.sub(rb'^\{"schema_version":(\d+),"seq":\d+,', lambda m: b'{"schema_version":%s,"seq":%d,'
                   % (m.group(1), next(count)), x) for x in lines]


def _break_at(lines: list[bytes], part: float, old: bytes, new: bytes) -> list[bytes]:
    """``lines`` with the first ``old`` past that ``part`` of them made ``new``."""
    for i in range(int(len(lines) * part), len(lines)):
        if old in lines[i]:
            return lines[:i] + [lines[i].replace(old, new, 1)] + lines[i + 1 :]
    raise AssertionError(f"no {old!r} past {part} of the lines")


_ENDS = (b'"type":"rollout_ended"', b'"type":"recording_completed"', b'"type":"rollout_started"')


def _long_in_order(lines: list[bytes]) -> list[bytes]:
    body = [x for x in lines[1:] if x and not any(end in x for end in _ENDS)]
    ends = [x for x in lines[1:] if any(end in x for end in _ENDS)]
    return _renumbered(lines[:1] + body * 20 + ends + [b""])


# Runs in order but for one thing the order checker's shortcut does not take (and the run
# after it): the worker must not let the checking process skip their checks.
IN_ORDER = {
    "a long log in order": _long_in_order,
    "a seq gap mid-log": lambda lines: _break_at(_long_in_order(lines), 0.3, b'"seq":2', b'"seq":99992'),
    "another rollout mid-log": lambda lines: _break_at(_long_in_order(lines), 0.5, b'"rollout_id":"', b'"rollout_id":"x'),
    "a thread that is not its payload's": lambda lines: _break_at(
        _long_in_order(lines), 0.7, b'"type":"codex_turn_started","codex_turn_id":"', b'"type":"codex_turn_started","codex_turn_id":"y'),
    "an end mid-log": lambda lines: _renumbered((lambda long: long[: len(long) // 2] + [
        x for x in lines if b'"type":"rollout_ended"' in x][:1] + long[len(long) // 2 :])(_long_in_order(lines))),
}
EDITS.update(IN_ORDER)


@pytest.mark.parametrize("edit", list(EDITS))
@pytest.mark.parametrize("bundle", BUNDLES, ids=lambda b: b.parent.name)
def test_the_worker_gives_the_report_of_one_process(bundle, edit, tmp_path, monkeypatch):
    b = _mutated(bundle, tmp_path / "b", EDITS[edit])
    options = {"max_line_bytes": 200} if edit == "a line too long" else {}
    alone = _report(b, False, monkeypatch, **options)
    assert _report(b, True, monkeypatch, **options) == alone
    if edit == "as written":
        assert alone["findings"] == [] or all(f["severity"] == "warning" for f in alone["findings"])


@pytest.mark.parametrize("profile", [Profile.REDUCER, Profile.WRITER])  # the strict profile takes no shortcut
@pytest.mark.parametrize("edit", list(IN_ORDER))
@pytest.mark.parametrize("bundle", BUNDLES, ids=lambda b: b.parent.name)
def test_runs_the_order_checker_takes_whole_give_the_report_of_one_process(bundle, edit, profile, tmp_path,
                                                                          monkeypatch):
    from rollout_trace_kit.validate.rules.order import OrderChecker

    b = _mutated(bundle, tmp_path / "b", IN_ORDER[edit])
    monkeypatch.setattr(ahead, "BALANCE", False)  # the worker tests every run
    alone = _report(b, False, monkeypatch, profile)
    taken = _calls(monkeypatch, OrderChecker, "take_plain_run", lambda self, *a: self.plain and self.next_seq == a[0])
    assert _report(b, True, monkeypatch, profile) == alone
    assert any(taken)  # the shortcut ran, and the edit is where it must not
    if edit != "a long log in order":
        assert [f for f in alone["findings"] if f["severity"] == "error"]


def test_a_worker_killed_midway_is_an_internal_error_finding(tmp_path, monkeypatch):
    b = _mutated(BUNDLES[1], tmp_path / "b", EDITS["long log"])
    monkeypatch.setattr(ahead, "AHEAD_MIN_BYTES", 0)
    monkeypatch.setenv(ahead.ENV_SWITCH, "1")
    real = ahead.Ahead.__iter__

    def killed_after_one(self):
        for n, item in enumerate(real(self)):
            if n == 1:
                os.kill(self.pid, signal.SIGKILL)  # as the OOM killer would
            yield item

    monkeypatch.setattr(ahead.Ahead, "__iter__", killed_after_one)
    report = validate_bundle(b, Options(profile=Profile.STRICT))
    internal = [f for f in report.findings if f.invariant == "LAYOUT.INTERNAL_ERROR"] or [
        f for f in report.findings if "internal error" in f.message
    ]
    assert internal and "worker process" in internal[0].message


def test_a_small_log_or_a_threaded_caller_gets_no_worker(monkeypatch):
    monkeypatch.setenv(ahead.ENV_SWITCH, "1")
    assert not ahead.wanted(ahead.AHEAD_MIN_BYTES - 1)
    import threading

    stop = threading.Event()
    t = threading.Thread(target=stop.wait)
    t.start()
    try:
        assert not ahead.wanted(ahead.AHEAD_MIN_BYTES * 4)
    finally:
        stop.set()
        t.join()
    monkeypatch.setenv(ahead.ENV_SWITCH, "0")
    assert not ahead.wanted(ahead.AHEAD_MIN_BYTES * 4)


@pytest.mark.parametrize("progress", ["auto", "always"])
def test_the_command_line_gets_the_worker_beside_its_progress_ticker(progress, tmp_path, monkeypatch, capsys):
    """The command line's progress ticker (a thread, off a terminal too) once kept every command-line
    validation in one process; the same report comes either way."""
    from rollout_trace_kit import cli

    b = _mutated(BUNDLES[1], tmp_path / "b", EDITS["long log"])
    monkeypatch.setattr(ahead, "AHEAD_MIN_BYTES", 0)
    reports = {}
    for switch in ("1", "0"):
        monkeypatch.setenv(ahead.ENV_SWITCH, switch)
        out = tmp_path / f"report-{switch}.json"
        with monkeypatch.context() as m:
            forks = _calls(m, ahead.Ahead, "__init__")
            code = cli.main(["validate", str(b), "--progress", progress, "--format", "json", "-o", str(out)])
        assert bool(forks) == (switch == "1")
        reports[switch] = code, json.loads(out.read_text())
    assert reports["1"] == reports["0"]
    assert reports["1"][0] == 1 and reports["1"][1]["bundles"][0]["findings"]  # the long log repeats its lines: findings


def test_an_unmarked_thread_still_keeps_the_worker_away(monkeypatch):
    import threading

    from rollout_trace_kit.progress import FORK_SAFE

    monkeypatch.setenv(ahead.ENV_SWITCH, "1")
    stop = threading.Event()
    marked = threading.Thread(target=stop.wait)
    setattr(marked, FORK_SAFE, True)
    marked.start()
    try:
        assert ahead.wanted(ahead.AHEAD_MIN_BYTES * 4)  # the kit's ticker alone
        plain = threading.Thread(target=stop.wait)
        plain.start()
        assert not ahead.wanted(ahead.AHEAD_MIN_BYTES * 4)  # a caller's thread beside it
    finally:
        stop.set()
        marked.join()
        plain.join()


def _wanted_in_a_pool_worker() -> bool:
    return ahead.wanted(ahead.AHEAD_MIN_BYTES * 4)


def test_a_fleet_worker_gets_no_worker_of_its_own(monkeypatch):
    from concurrent.futures import ProcessPoolExecutor
    import multiprocessing

    monkeypatch.setenv(ahead.ENV_SWITCH, "1")
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("fork")) as pool:
        assert pool.submit(_wanted_in_a_pool_worker).result() is False


def test_unforced_the_worker_waits_for_an_idle_core(monkeypatch):
    monkeypatch.delenv(ahead.ENV_SWITCH, raising=False)
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    monkeypatch.setattr(os, "getloadavg", lambda: (1.5, 1.0, 1.0))
    assert not ahead.wanted(ahead.AHEAD_MIN_BYTES)  # both cores nearly busy: one process
    monkeypatch.setattr(os, "getloadavg", lambda: (0.4, 1.0, 1.0))
    assert ahead.wanted(ahead.AHEAD_MIN_BYTES)
    monkeypatch.setenv(ahead.ENV_SWITCH, "1")
    monkeypatch.setattr(os, "getloadavg", lambda: (9.0, 9.0, 9.0))
    assert ahead.wanted(ahead.AHEAD_MIN_BYTES)  # forced


@pytest.mark.parametrize("bundle", BUNDLES[:2], ids=lambda b: b.parent.name)
def test_the_listing_the_worker_hands_over_judges_the_payload_files_as_one_process(bundle, tmp_path, monkeypatch):
    """The worker lists payloads/ for its reads and hands the listing over (the checking process does
    not list it again): orphans, irregular entries and files the log names are judged the same."""
    b = _mutated(bundle, tmp_path / "b", EDITS["as written"])
    payloads = b / "payloads"
    (payloads / "999999.json").write_text("{}")  # referenced by no event
    (payloads / "notes.txt").write_text("x")  # not a payload name
    (payloads / "888888.json").mkdir()  # a payload name that is no regular file
    first = sorted(payloads.glob("*.json"), key=lambda p: len(p.name))[0]
    first.unlink()  # a file the log names, gone
    from rollout_trace_kit.validate.rules import refs

    listed = _calls(monkeypatch, refs.PayloadDir, "__init__")  # listings made in this process, not the worker
    alone = _report(b, False, monkeypatch)
    passes = len(listed)  # one per pass over the log (compat may make more)
    assert passes >= 1
    assert _report(b, True, monkeypatch) == alone
    assert len(listed) == passes  # every pass adopted its worker's listing: none made here
    invariants = {f["invariant"] for f in alone["findings"]}
    assert {"REF.ORPHAN", "REF.FILE_EXISTS"} <= invariants, invariants


@pytest.mark.parametrize("slots, slot_bytes", [(1, 1 << 20), (2, 4096), (1, 1)])
def test_runs_through_few_or_small_shared_slots_give_the_report_of_one_process(slots, slot_bytes, tmp_path,
                                                                               monkeypatch):
    """A proven run waits in a shared slot the checker frees (one slot: the worker waits for each),
    or goes through the pipe when larger than a slot; either way the report is one process's."""
    b = _mutated(BUNDLES[2], tmp_path / "b", EDITS["long log"])
    monkeypatch.setattr(ahead, "SLOTS", slots)
    monkeypatch.setattr(ahead, "SLOT_BYTES", slot_bytes)
    taken = _calls(monkeypatch, ahead.Proven, "_replace", lambda run, **kw: run.slot)  # runs taken out of a slot
    alone = _report(b, False, monkeypatch)
    assert _report(b, True, monkeypatch) == alone
    assert alone["events"] > ahead.BATCH * 2  # several runs
    if slot_bytes == 1:
        assert taken == []  # every run larger than a slot: through the pipe
    elif slot_bytes > 1 << 19:
        assert len(taken) >= 2 and set(taken) == set(range(slots))


def test_the_worker_answers_the_long_digit_scan_of_the_files_it_reads(tmp_path, monkeypatch):
    """The worker scans the payload files it reads for numbers beyond 64 bits and ships the answer:
    the checking process scans none of them, and the report is one process's, long numbers included."""
    from rollout_trace_kit.validate import lines

    b = _mutated(BUNDLES[1], tmp_path / "b", EDITS["as written"])
    files = sorted((b / "payloads").glob("*.json"), key=lambda p: int(p.stem))
    for f, number in zip(files[:2], ["123456789012345678901234567890", "1e400"]):  # beyond u64, beyond f64
        body = json.loads(f.read_text())
        assert isinstance(body, dict)
        f.write_text(json.dumps({**body, "n": 0}).replace('"n": 0', f'"n": {number}'))
    scans = _calls(monkeypatch, lines, "has_long_digits", len)  # scans in this process, by body length
    alone = _report(b, False, monkeypatch)
    scanned_alone = len(scans)
    scans.clear()
    assert _report(b, True, monkeypatch) == alone
    from rollout_trace_kit.validate.rules.refs import AHEAD_FILE_BYTES

    assert scanned_alone > len(files) // 2
    assert scans and all(n > AHEAD_FILE_BYTES for n in scans)  # only files too large to ship were scanned here


def _summary(bundle, worker: bool, monkeypatch, balance: bool = False) -> dict:
    """The release summary of the pass (rules/release.py), less its caches and change counter."""
    from dataclasses import asdict

    from rollout_trace_kit.validate.engine import reader_pass

    monkeypatch.setattr(ahead, "AHEAD_MIN_BYTES", 0)
    monkeypatch.setattr(ahead, "BALANCE", balance)  # False: the worker observes every run
    monkeypatch.setenv(ahead.ENV_SWITCH, "1" if worker else "0")
    with monkeypatch.context() as m:
        forks = _calls(m, ahead.Ahead, "__init__")
        ctx = reader_pass(bundle, Options(profile=Profile.STRICT))
    assert bool(forks) == worker and ctx.summary is not None
    caches = {"same_every_time", "varying", "keys_seen", "changes"}
    return {k: v for k, v in asdict(ctx.summary).items() if k not in caches}


def _late_kinds(lines: list[bytes], copies: int = 16) -> list[bytes]:
    """A long log whose events with a kind (tool calls, payload refs) come only in its second
    half: the summary's new variants, key sets and kinds arrive in proven runs far into the log."""
    body = lines[1:-2]
    plain = [x for x in body if b'"kind":' not in x]
    runs_of_plain = -(-11 * RUN // len(plain))  # more than ten runs before the first kind
    return lines[:1] + plain * runs_of_plain + body * copies + lines[-2:]


@pytest.mark.parametrize("cap", [None, 3])
@pytest.mark.parametrize("bundle", BUNDLES, ids=lambda b: b.parent.name)
def test_the_summary_the_worker_observes_ahead_is_the_summary_of_one_process(bundle, cap, tmp_path, monkeypatch):
    from rollout_trace_kit.validate.rules import release

    if cap is not None:  # tables full early: each refusal past a cap must reach the checking process too
        monkeypatch.setattr(release, "MAX_NAMES", cap)
        monkeypatch.setattr(release, "MAX_KEYSETS", cap)
    b = _mutated(bundle, tmp_path / "b", _late_kinds)
    alone = _summary(b, False, monkeypatch)
    assert alone["payload_kinds"] and min(alone["payload_kinds"].values()) > 10 * RUN  # late keys, there to be missed
    assert (alone["capped"] is not None) == (cap is not None)
    assert _summary(b, True, monkeypatch) == alone


def test_a_fork_that_fails_leaves_nothing_open_and_the_check_runs_in_one_process(tmp_path, monkeypatch):
    b = _mutated(BUNDLES[1], tmp_path / "b", EDITS["long log"])
    alone = _report(b, False, monkeypatch)
    fds_before = len(os.listdir("/proc/self/fd"))

    def no_fork():
        raise BlockingIOError(11, "Resource temporarily unavailable")

    monkeypatch.setattr(ahead.os, "fork", no_fork)
    monkeypatch.setattr(ahead, "AHEAD_MIN_BYTES", 0)
    monkeypatch.setenv(ahead.ENV_SWITCH, "1")
    assert validate_bundle(b, Options(profile=Profile.STRICT)).to_dict() == alone
    assert len(os.listdir("/proc/self/fd")) == fds_before  # the pipes of the worker that never was are closed


SHARES = {  # whether the worker takes each run (its first, second...) while the checks lag
    "the worker's first run only": lambda: itertools.chain([True], itertools.repeat(False)),
    "all but the first": lambda: itertools.chain([False], itertools.repeat(True)),
    "mixed": lambda: itertools.cycle([True, False, False, True, True, False]),
}


@pytest.mark.parametrize("share", list(SHARES))
@pytest.mark.parametrize("bundle", BUNDLES, ids=lambda b: b.parent.name)
def test_runs_the_worker_shares_with_the_checks_give_the_report_of_one_process(bundle, share, tmp_path, monkeypatch):
    """The worker observes a run and tests its order only while the checks lag (ahead.BALANCE): any
    mix of runs it takes and runs it leaves gives the verdict of one process. The log: new kinds
    late (the summary), a seq that jumps far into it (a run the order shortcut must not take)."""
    def edit(lines):
        late = _late_kinds(lines[:1] + [x for x in lines[1:] if x and not any(end in x for end in _ENDS)], 5)
        return _break_at(_renumbered(late), 0.8, b',"seq":', b',"seq":7') + [b""]

    b = _mutated(bundle, tmp_path / "b", edit)
    alone = _report(b, False, monkeypatch, Profile.WRITER, max_findings=10**6)  # the log's copies make many findings
    assert any(f["invariant"] == "SEQ.NO_GAP" for f in alone["findings"])
    turns = SHARES[share]()  # forked with the worker: each worker has its own copy
    monkeypatch.setattr(ahead._Slots, "checker_behind", lambda self: next(turns))
    assert _report(b, True, monkeypatch, Profile.WRITER, max_findings=10**6) == alone
    assert _summary(b, True, monkeypatch, balance=True) == _summary(b, False, monkeypatch)
