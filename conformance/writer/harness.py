"""Drive a trace writer under test and check what it leaves on disk.

The harness starts the writer (any program speaking the driver protocol,
:mod:`.protocol`) as a subprocess, plays a :class:`~.scripts.Script`
to it, and checks:

1. **every step**: after each answer and before the next request, the disk
   is what the answers promise (the manifest after ``create``, the payload
   file after ``write_payload``, the flushed line after ``append_event``),
   the log only grows, and no line on disk points at a missing payload;
2. **the final bundle**: after ``close`` the bundle holds exactly the script
   and passes the validator's writer profile;
3. **crash-consistency**: for every operation ``k`` (or a sample), a fresh
   writer is killed with SIGKILL right after answering ``k`` (or, with
   ``inflight``, while performing ``k + 1``), and the bundle it leaves must be
   a valid prefix of the script.

Every finding names a check: a ``WRITER.*`` id of :mod:`.checks`, or
the validator invariant that was broken, with the operation index.

This module gathers the public names; each concern lives in its own module:

* :mod:`.process`: the writer process, its pipes read with caps, its process group killed whole;
* :mod:`.session`: one driver session: negotiate, send each operation, check each answer;
* :mod:`.playback`: scripts played with every step checked, then their crash points;
* :mod:`.disk`: what must be on disk after each answer;
* :mod:`.crash`: SIGKILL at an operation and the prefix the bundle must be;
* :mod:`.validation`: the validator's findings mapped to operations;
* :mod:`.findings`: findings and per-script results;
* :mod:`.files`, :mod:`.jsondiff`, :mod:`.text`, :mod:`.workdir`: capped reads of regular files,
  JSON comparison, escaping of writer-controlled text, bundle directories.
"""

from __future__ import annotations

from .crash import check_crash_state, crash_points, run_crash
from .disk import DiskChecker
from ...bundle import MANIFEST, PAYLOADS, TRACE
from .findings import MAX_REPEATS, Finding, Findings, ScriptResult
from .jsondiff import first_difference, json_equal
from .playback import HarnessOptions, check_writer, run_script
from .process import AnswerTooLong, WriterDied, WriterProcess, WriterTimeout
from .session import Config, Session
from .validation import validator_findings

__all__ = [
    "MANIFEST", "TRACE", "PAYLOADS", "MAX_REPEATS",
    "AnswerTooLong", "Config", "DiskChecker", "Finding", "Findings", "HarnessOptions", "ScriptResult", "Session",
    "WriterDied", "WriterProcess", "WriterTimeout",
    "check_crash_state", "check_writer", "crash_points", "first_difference", "json_equal", "run_crash", "run_script",
    "validator_findings",
]
