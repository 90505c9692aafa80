"""Many bundles at once: in parallel, in completion order, surviving a worker's death.

A worker process can die (the OOM killer, a crash in a native library) and
``concurrent.futures`` then fails every pending bundle with ``BrokenProcessPool``.
:func:`judge` takes that as a fact of life: bundles that had not finished are checked
again, those that may have been running one at a time in a pool of their own, and a
bundle whose worker dies once more gets a ``KIT.INTERNAL_ERROR`` finding (so the run
fails, exit 1, and says which bundle); every other bundle is judged as usual.
"""

from __future__ import annotations

import os
from collections import deque
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Generator, Iterable, Iterator, Mapping

from .. import interrupts
from ..files import loops
from .context import Options
from .findings import BundleReport, Finding, Profile, Severity

if TYPE_CHECKING:
    from concurrent.futures import Future

Check = Callable[[Path, Options], BundleReport]
IN_FLIGHT_PER_JOB = 4  # tasks submitted ahead, so a worker never waits for the parent
CHUNK = 16  # bundles per task at most (fewer when there are few bundles, to share them out)


def check_bundle(path: Path, options: Options) -> BundleReport:
    from .engine import validate_bundle

    return validate_bundle(path, options)


def _internal(path: Path, options: Options, message: str, invariant: str | None = None) -> BundleReport:
    from .rules import layout

    finding = Finding(invariant=invariant or layout.INTERNAL_ERROR.id, severity=Severity.ERROR,
                      profile=Profile.REDUCER, message=message, bundle=str(path))
    return BundleReport(bundle=str(path), dialect=None, profile=options.profile, findings=[finding])


def died_report(path: Path, options: Options) -> BundleReport:
    return _internal(path, options, "the worker process checking this bundle died, twice (killed, as the OOM "
                     "killer does, or crashed): once beside other bundles, once checking it alone; it was not judged")


def linked_report(path: Path, options: Options) -> BundleReport:
    """A symlink met while walking a directory of bundles: not followed (it may lead out of the
    tree or to a bundle judged twice), and not skipped silently either."""
    from .rules import layout

    try:
        target = os.readlink(path)
    except OSError as e:
        target = f"? ({e.strerror})"
    end = "" if os.path.exists(path) else " (a loop: ELOOP)" if loops(path) else " (dangling)"
    return _internal(path, options, f"a symbolic link to {target}{end} in a directory of bundles: links are not "
                     "followed there; validate the target itself", invariant=layout.IS_DIRECTORY.id)


def unsearched_report(path: Path, options: Options, why: str) -> BundleReport:
    """A directory where a search cap stopped the search for bundles: the kit declined to judge below it."""
    from .rules import layout

    return _internal(path, options, f"a directory of bundles {why}", invariant=layout.SEARCH_CAP.id)


def _context():
    import multiprocessing  # here, not at the top: a run of one bundle never starts a pool

    # fork where it is the default (Linux before 3.14): workers start at once, with the kit
    # imported, and a caller's script is not run again in them (forkserver and spawn do that
    # to a script without a __main__ guard). Workers take no lock a parent thread (a progress
    # bar's) may hold: they print nothing.
    return multiprocessing.get_context()


def judge(bundles: Iterable[Path], options: Options, jobs: int, *, check: Check = check_bundle,
          links: frozenset[Path] = frozenset(), warn: Callable[[str], None] | None = None,
          unsearched: Mapping[Path, str] | None = None) -> Iterator[tuple[int, BundleReport]]:
    """``(index, report)`` for every bundle, in completion order. ``links``: symlinks met while
    walking a directory (each a finding, never followed); ``unsearched``: directories where a
    search cap stopped (each a finding, saying why)."""
    items = []
    for i, path in enumerate(bundles):
        if path in links:
            yield i, linked_report(path, options)
        elif unsearched and path in unsearched:
            yield i, unsearched_report(path, options, unsearched[path])
        else:
            items.append((i, path))
    if jobs <= 1 or len(items) <= 1:
        for i, path in items:
            yield i, check(path, options)
        return
    queue = deque(items)
    while queue:
        suspects = yield from _round(queue, options, jobs, check)
        if suspects:
            if warn is not None:
                warn(f"a worker process died; checking again, one at a time, the {len(suspects)} bundle(s) "
                     "it may have been checking")
            for i, path in suspects:
                yield i, _alone(path, options, check)


Chunk = list[tuple[int, Path]]


def _check_chunk(check: Check, chunk: Chunk, options: Options) -> list[tuple[int, BundleReport]]:
    """A worker's task: a few bundles, so small bundles do not cost a round trip each."""
    return [(i, check(path, options)) for i, path in chunk]


def _round(queue: deque, options: Options, jobs: int,
           check: Check) -> Generator[tuple[int, BundleReport], None, Chunk]:
    """Judge from ``queue`` in one pool until it is empty or the pool breaks; returns (as the
    generator's value) the bundles that were in flight when it broke. Ctrl-C or SIGTERM stops
    the workers and ends the run once the pool is down (interrupts.py: never inside its locks)."""
    import rollout_trace_kit.validate.engine  # noqa: F401 - imported once here, not in every worker

    with interrupts.deferred() as caught:
        suspects = yield from _in_pool(queue, options, jobs, check, caught)
    interrupts.act_on(caught)
    return suspects


def _in_pool(queue: deque, options: Options, jobs: int, check: Check,
             caught: list[int]) -> Generator[tuple[int, BundleReport], None, Chunk]:
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
    from concurrent.futures.process import BrokenProcessPool

    size = max(1, min(CHUNK, len(queue) // (jobs * IN_FLIGHT_PER_JOB)))
    pool = ProcessPoolExecutor(max_workers=jobs, mp_context=_context())
    running: dict[Future, Chunk] = {}
    try:
        while (queue or running) and not caught:
            while queue and len(running) < jobs * IN_FLIGHT_PER_JOB:
                chunk = [queue[n] for n in range(min(size, len(queue)))]
                running[pool.submit(_check_chunk, check, chunk, options)] = chunk  # raises once the pool broke
                for _ in chunk:
                    queue.popleft()
            done, _ = wait(running, timeout=interrupts.POLL, return_when=FIRST_COMPLETED)
            for future in done:
                reports = future.result()  # BrokenProcessPool when a worker died
                del running[future]
                yield from reports
        return []
    except BrokenProcessPool:
        if caught:
            return []  # the workers were stopped for the signal, not lost
        suspects: Chunk = []
        for future, chunk in running.items():
            if future.done() and future.exception() is None:
                yield from future.result()  # finished before the break
            else:
                suspects.extend(chunk)
        return suspects
    finally:
        if caught:
            interrupts.stop_workers(pool)
        pool.shutdown(wait=True, cancel_futures=True)


def _alone(path: Path, options: Options, check: Check) -> BundleReport:
    from concurrent.futures import ProcessPoolExecutor, TimeoutError as FuturesTimeout
    from concurrent.futures.process import BrokenProcessPool

    with interrupts.deferred() as caught:
        pool = ProcessPoolExecutor(max_workers=1, mp_context=_context())
        try:
            future = pool.submit(check, path, options)
            while not caught:
                try:
                    return future.result(timeout=interrupts.POLL)
                except FuturesTimeout:
                    continue
        except BrokenProcessPool:
            if not caught:
                return died_report(path, options)
        finally:
            if caught:
                interrupts.stop_workers(pool)
            pool.shutdown(wait=True)
    interrupts.act_on(caught)
    raise AssertionError("not reached: the loop above ends only by a return or a signal, which act_on raises")
