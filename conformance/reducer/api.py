"""The user oracle API (version 1): judge a reducer's output with a function of your own.

``rollout-trace fuzz-reducer --oracle my_oracles:turns_kept`` calls ``turns_kept(facts)``
for every valid bundle the reducer accepted, where ``facts`` is a :class:`BundleFacts`:
the bundle, the reducer's output, and what the kit knows about the bundle. It returns
:func:`passed`, :func:`failed` (with a message saying what is wrong) or
:func:`not_applicable` (with why); ``True``, ``False`` and ``None`` mean the same.
Decorate it with ``@oracle(corrupt=True)`` to be called on the corrupt bundles the
reducer accepted too (``facts.valid`` tells them apart).

An oracle named with ``--oracle`` that never applied in a campaign (it said
"not applicable" every time, or never had a case to judge) ends the run with exit 2:
a check that never ran must not read as a pass.

``module`` is imported from the current directory (like ``python -m``), or given as a
file: ``--oracle checks/oracles.py:turns_kept``. Fields are only ever added to
:class:`BundleFacts` within one ``API_VERSION``.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Literal, Mapping, Union

API_VERSION = 1

Verdict = Literal["pass", "fail", "n/a"]
PASS: Verdict = "pass"
FAIL: Verdict = "fail"
NOT_APPLICABLE: Verdict = "n/a"


@dataclass(frozen=True)
class BundleFacts:
    """One case, as a user oracle sees it."""

    api_version: int
    case_id: str  # the case's id, as the report and ``rollout-trace replay`` print it
    dialect: str
    bundle: Path  # the bundle directory the reducer read (read it, never write to it)
    valid: bool  # False: a corrupt bundle the reducer accepted (only with ``@oracle(corrupt=True)``)
    invariant: str  # "VALID", or the invariant the corrupt bundle breaks
    output: bytes | None  # what the reducer wrote to {output} (or stdout without {output}); None: nothing
    parsed: Any  # ``output`` parsed as JSON; None when it is not JSON
    # ids the bundle's log starts, in log order
    threads: tuple[str, ...] = ()
    turns: tuple[str, ...] = ()
    inference_calls: tuple[str, ...] = ()
    tool_calls: tuple[str, ...] = ()
    tool_kinds: Mapping[str, str] = field(default_factory=dict)  # tool call id -> its kind's type (exec_command, mcp, ...)
    turn_threads: Mapping[str, str] = field(default_factory=dict)  # turn id -> the thread it runs in
    events: int = 0  # lines of trace.jsonl
    variants: Mapping[str, int] = field(default_factory=dict)  # event variant -> how many the log holds


@dataclass(frozen=True)
class OracleResult:
    verdict: Verdict
    message: str = ""


def passed(message: str = "") -> OracleResult:
    return OracleResult(PASS, message)


def failed(message: str) -> OracleResult:
    return OracleResult(FAIL, message)


def not_applicable(why: str = "") -> OracleResult:
    return OracleResult(NOT_APPLICABLE, why)


Returned = Union[OracleResult, bool, None]
OracleFunction = Callable[[BundleFacts], Returned]


def oracle(*, corrupt: bool = False) -> Callable[[OracleFunction], OracleFunction]:
    """Mark an oracle function; ``corrupt=True``: also judge corrupt bundles the reducer accepted."""

    def mark(fn: OracleFunction) -> OracleFunction:
        fn.rtk_oracle_corrupt = corrupt  # type: ignore[attr-defined]
        return fn

    return mark


def judges_corrupt(fn: OracleFunction) -> bool:
    return bool(getattr(fn, "rtk_oracle_corrupt", False))


def as_result(value: Any) -> OracleResult:
    """What an oracle returned, as an OracleResult; TypeError for anything else."""
    if isinstance(value, OracleResult):
        if value.verdict not in (PASS, FAIL, NOT_APPLICABLE):
            raise TypeError(f"verdict must be pass, fail or n/a, not {value.verdict!r}")
        return value
    if value is True:
        return passed()
    if value is False:
        return failed("the oracle returned False")
    if value is None:
        return not_applicable()
    raise TypeError(f"an oracle returns passed(), failed(msg), not_applicable(why), True, False or None, "
                    f"not {type(value).__name__}")


class LoadError(ValueError):
    pass


_LOADED: dict[str, Callable] = {}


def load(spec: str, what: str = "--oracle") -> Callable:
    """The callable ``module:function`` (or ``path/to/file.py:function``) names; LoadError saying why not."""
    if spec in _LOADED:
        return _LOADED[spec]
    mod_name, _, attr = spec.rpartition(":")
    if not mod_name or not attr:
        raise LoadError(f"{what} {spec}: expected module:function")
    try:
        if mod_name.endswith(".py") or os.sep in mod_name:
            path = Path(mod_name).resolve()
            if not path.is_file():
                raise LoadError(f"{what} {spec}: no file {mod_name}")
            unit = importlib.util.spec_from_file_location(f"rtk_user_{path.stem}", path)
            assert unit is not None and unit.loader is not None  # a .py file always has a spec
            module = importlib.util.module_from_spec(unit)
            sys.modules[unit.name] = module
            unit.loader.exec_module(module)
        else:
            if os.getcwd() not in sys.path:  # like python -m: the current directory first
                sys.path.insert(0, os.getcwd())
            module = importlib.import_module(mod_name)
        fn = getattr(module, attr)
    except LoadError:
        raise
    except Exception as e:  # importing runs the user's code: any error is theirs, said in one line
        raise LoadError(f"{what} {spec}: cannot import it: {type(e).__name__}: {e}") from None
    if not callable(fn):
        raise LoadError(f"{what} {spec}: not callable")
    _LOADED[spec] = fn
    return fn
