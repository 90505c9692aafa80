"""Playing scripts: each one with every step checked, then its crash points; one result per script."""

from __future__ import annotations

import shutil
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Callable, Sequence

from .crash import crash_points, run_crash
from .disk import DiskChecker
from .findings import Finding, Findings, ScriptResult
from .scripts import Script
from .session import Config, Session
from .validation import validator_findings
from .workdir import safe_name, workdir


@dataclass
class HarnessOptions:
    crash: str | int = "every"  # "every", "none" or a number of sampled points
    crash_mode: str = "after"  # "after", "inflight" or "both"
    inflight_delay: float = 0.0
    jobs: int = 2
    progress: Callable[[int, int], None] | None = None  # told (scripts done, scripts) after each script


def run_script(config: Config, script: Script) -> tuple[ScriptResult, list[Finding]]:
    """Play ``script`` with every step checked; the result and the run's findings."""
    result = ScriptResult(script.name, script.dialect, len(script.ops), script.events, script.payloads)
    f = Findings("run")
    work = workdir(config, safe_name(script.name))
    session = Session(config, script, work / "bundle", f)
    try:
        skip = session.open()
        result.implementation = session.implementation
        result.silent_at_start = session.silent_at_start
        if skip:
            if not f.items:
                result.skipped = skip
            return result, f.done()
        disk = DiskChecker(session)
        completed = True
        for i, op in enumerate(script.ops):
            reply = session.perform(i, op)
            if reply is None:
                completed = False
                break
            if op.cmd == "close":
                disk.final(i)
            else:
                disk.after(i, op, reply)
        if completed:
            session.stop()
            session.close()  # the whole group gone before the bundle is judged: nothing changes it meanwhile
            final = Findings("final")
            validator_findings(session.bundle, session, final, partial_ok=False, dialect=script.dialect)
            # a step already named the check at that operation: keep one
            seen = {(x.check, x.op) for x in f.items}
            f.items.extend(x for x in final.done() if (x.check, x.op) not in seen)
    finally:
        session.close()
        if config.keep is None:
            shutil.rmtree(work, ignore_errors=True)
    return result, f.done()


def check_writer(config: Config, scripts: Sequence[Script], options: HarnessOptions | None = None) -> list[ScriptResult]:
    """Run every script, then its crash points; one result per script."""
    options = options or HarnessOptions()
    results: list[ScriptResult] = []
    for script in scripts:
        silent = next((r.script for r in results if r.silent_at_start), None)
        if silent is not None:
            # a writer that never answered start would cost every script the start timeout again
            results.append(ScriptResult(script.name, script.dialect, len(script.ops), script.events, script.payloads,
                                        skipped=f"not run: the writer did not answer start in {silent}"))
            continue
        t0 = time.monotonic()
        result, findings = run_script(config, script)
        result.findings.extend(findings)
        aborted = any(f.check in ("WRITER.PROTOCOL", "WRITER.OP_FAILED") for f in result.findings)
        if result.skipped is None and result.implementation is not None and not aborted:
            points = crash_points(script, options.crash)
            modes = ["after", "inflight"] if options.crash_mode == "both" else [options.crash_mode]
            jobs = [(k, m) for m in modes for k in points if not (m == "inflight" and k + 1 >= len(script.ops))]
            result.crash_points = points
            result.crash_mode = options.crash_mode
            with ThreadPoolExecutor(max_workers=max(1, options.jobs)) as pool:
                for found in pool.map(lambda km: run_crash(config, script, km[0], km[1], options.inflight_delay), jobs):
                    result.findings.extend(found)
        result.seconds = time.monotonic() - t0
        results.append(result)
        if options.progress is not None:
            options.progress(len(results), len(scripts))
    return results
