"""The payload-body keys a release's reducer requires, measured on real bundles.

Serde tells which key of a body it missed ("missing field `stdout`"), so the probe asks the
reducer with edited copies of real bundles (the kit's corpus, written by other releases, and
the release's own when given):

- a bundle the reducer accepts: each top-level key of the first body at each place removed in
  turn; a "missing field `KEY`" names a required key;
- a bundle it rejects with "missing field `KEY`": the key added (a string) to one body at a
  time, and kept where the message moves on; a body that then stops the reducer differently
  shows where the key is required (its type aside).

A place is :func:`~rollout_trace_kit.model.facts.body_place` (``variant.field`` and, on a
tool call's events, its kind): the validator records the key sets of the bodies it reads by
the same name. The result is ``reducer.body_required`` of the release record:
``{place: {"keys": [...], "error_class": NAME}}`` (the class of what the reducer printed).
"""

from __future__ import annotations

import itertools
import json
import re
import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Iterator

from ..model.common import EnvelopeKey as E
from ..bundle import TRACE
from ..model.facts import body_place
from ..model.reducer_errors import classify
from .edited_copies import REDUCERS_AT_ONCE, linked_copy, rewrite
from .install import trace_reduce

_MISSING = re.compile(r"missing field `([^`]+)`")
MAX_ADDED = 8  # keys added to one rejected bundle before the probe gives up on it


def body_refs(bundle: Path) -> Iterator[tuple[str, dict]]:
    """(place, ref) of every payload stored as a file (``path``) that the bundle's events name, in order."""
    kinds: dict[str, str] = {}
    with open(bundle / TRACE, encoding="utf-8", errors="replace") as f:
        for line in f:
            try:
                payload = json.loads(line).get(E.PAYLOAD)
            except (ValueError, AttributeError):
                continue
            if not isinstance(payload, dict):
                continue
            tag = payload.get("type")
            call = payload.get("tool_call_id")
            if tag == "tool_call_started" and isinstance(payload.get("kind"), dict):
                kinds[str(call)] = str(payload["kind"].get("type"))
            for name, value in payload.items():
                if isinstance(value, dict) and isinstance(value.get("path"), str):
                    yield body_place(str(tag), name, kinds.get(str(call)) if call is not None else None), value


class _Edits:
    def __init__(self, binary: Path, scratch: Path):
        self.binary, self.scratch = binary, scratch
        self._runs = itertools.count(1)  # next() is atomic: reduce may run in several threads

    def reduce(self, bundle: Path, bodies: dict[str, Any]) -> tuple[int, str]:
        """Reduce a copy of ``bundle`` with the payload files ``bodies`` (path -> JSON value) replaced."""
        n = next(self._runs)
        copy = self.scratch / f"body-{n}"
        linked_copy(bundle, copy)
        for rel, body in bodies.items():
            rewrite(copy / rel, json.dumps(body))
        result = trace_reduce(self.binary, copy, self.scratch / f"body-{n}.out.json", timeout=20)
        shutil.rmtree(copy, ignore_errors=True)
        return (124 if result.timed_out else result.returncode), result.stderr


def _body(bundle: Path, ref: dict) -> Any:
    try:
        return json.loads((bundle / ref["path"]).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _note(out: dict, place: str, key: str, err: str) -> None:
    entry = out.setdefault(place, {"keys": [], "error_class": classify(err)})
    if key not in entry["keys"]:
        entry["keys"] = sorted([*entry["keys"], key])


def _by_removal(edits: _Edits, bundle: Path, out: dict) -> None:
    seen: set[str] = set()
    trials: list[tuple[str, str, dict[str, Any]]] = []  # (place, key, the body without it)
    for place, ref in body_refs(bundle):
        body = _body(bundle, ref)
        if place in seen or not isinstance(body, dict):
            continue
        seen.add(place)
        trials += [(place, key, {ref["path"]: {k: v for k, v in body.items() if k != key}}) for key in sorted(body)]
    with ThreadPoolExecutor(REDUCERS_AT_ONCE) as pool:
        answers = pool.map(lambda trial: edits.reduce(bundle, trial[2]), trials)
        for (place, key, _), (rc, err) in zip(trials, answers):  # in order: the first error names a place's class
            if rc and f"missing field `{key}`" in err:
                _note(out, place, key, err)


def _by_addition(edits: _Edits, bundle: Path, err: str, out: dict) -> None:
    changed: dict[str, Any] = {}
    for _ in range(MAX_ADDED):
        missing = _MISSING.search(err)
        if missing is None or "parse trace event line" in err:
            return  # not a body's key (an event's: the record's required_fields)
        key = missing.group(1)
        for place, ref in body_refs(bundle):
            body = changed.get(ref["path"], _body(bundle, ref))
            if not isinstance(body, dict) or key in body:
                continue
            trial = {**changed, ref["path"]: {**body, key: "rtk_probe"}}
            rc, after = edits.reduce(bundle, trial)
            if f"missing field `{key}`" not in after:
                _note(out, place, key, err)
                changed, err = trial, after
                break
        else:
            return
        if rc == 0:
            return


def body_facts(binary: Path, bundles: list[Path], scratch: Path) -> dict[str, dict]:
    """``reducer.body_required`` of the release whose reducer is ``binary``, asked with ``bundles``
    (those of payload files: a shard's records are not edited)."""
    edits = _Edits(binary, scratch)
    scratch.mkdir(parents=True, exist_ok=True)
    out: dict[str, dict] = {}
    for bundle in bundles:
        if not any(True for _ in body_refs(bundle)):
            continue
        rc, err = edits.reduce(bundle, {})
        if rc == 0:
            _by_removal(edits, bundle, out)
        else:
            _by_addition(edits, bundle, err, out)
    return dict(sorted(out.items()))
