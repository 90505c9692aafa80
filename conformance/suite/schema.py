"""The JSON Schema of ``expected.json`` (written to ``conformance/expected.schema.json``)."""

from __future__ import annotations

from typing import Any

from ...model import DIALECTS
from ...model.nonstatic import NON_STATIC
from ...model.reducer_errors import REDUCER_ERRORS, UNCLASSIFIED
from ...validate import Profile
from . import EXPECTED_FORMAT

SCHEMA_ID = "https://rollout-trace-kit.github.io/rollout-trace-kit/conformance/expected.schema.json"


def expected_schema() -> dict[str, Any]:
    ids = {"type": "array", "items": {"type": "string", "pattern": "^[A-Z0-9_]+\\.[A-Z0-9_]+$"}, "uniqueItems": True}
    verdict = {
        "type": "object",
        "required": ["verdict", "errors", "warnings"],
        "additionalProperties": False,
        "properties": {
            "verdict": {"enum": ["valid", "invalid"], "description": "What a checker of this profile must say."},
            "errors": {**ids, "description": "Invariant IDs of the errors the kit reports (a checker that "
                                              "names invariants must name these)."},
            "warnings": {**ids, "description": "Invariant IDs of warnings (never change the verdict)."},
        },
    }
    epoch = {
        "type": "object",
        "required": ["first", "last", "accepts", "error_class"],
        "additionalProperties": False,
        "properties": {
            "first": {"type": "string", "description": "Oldest Codex release of the epoch (release table)."},
            "last": {"type": "string", "description": "Newest Codex release of the epoch."},
            "accepts": {"type": ["boolean", "null"],
                        "description": "Whether the epoch's `codex debug trace-reduce` exits 0 on the bundle; "
                                       "null: the epoch has no reducer, or no facts."},
            "error_class": {"enum": [None, UNCLASSIFIED, *sorted(e.name for e in REDUCER_ERRORS)],
                            "description": "When it rejects: the stable name of its error "
                                           "(rollout_trace_kit.model.reducer_errors); null: any."},
        },
    }
    step = {
        "type": "object",
        "required": ["make", "path"],
        "properties": {"make": {"enum": sorted(NON_STATIC)}, "path": {"type": "string", "pattern": "^[^/]"}},
    }
    suite_path = {"type": "string", "pattern": "^[a-z]", "description": "A path relative to the suite's folder."}
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        "title": "A conformance case's expected results",
        "description": "One per case folder (conformance/cases/DIALECT/NAME/expected.json); see INTERPRETING.md.",
        "type": "object",
        "required": ["format", "id", "dialect", "kind", "bundle", "profiles", "reducers"],
        "additionalProperties": False,
        "properties": {
            "format": {"const": EXPECTED_FORMAT},
            "id": {"type": "string", "pattern": "^v[0-9]+/[A-Za-z0-9_.-]+$",
                   "description": "Stable case id: DIALECT/NAME, the case's folder under cases/."},
            "dialect": {"enum": list(DIALECTS)},
            "kind": {"enum": ["valid", "invalid", "writer"],
                     "description": "writer: a protocol script and the bundle a writer must make of it."},
            "bundle": suite_path,
            "recipe": {"type": "array", "items": step,
                       "description": "Steps that add what no static file carries, in a copy of the bundle."},
            "breaks": {**ids, "description": "invalid: the invariants the corruption breaks."},
            "script": suite_path,
            "volatile": {"type": "object", "description": "writer: what a writer under test may write differently."},
            "origin": {"type": "object", "description": "Where the bundle comes from (informative)."},
            "profiles": {"type": "object", "required": [p.label for p in Profile], "additionalProperties": False,
                         "properties": {p.label: verdict for p in Profile}},
            "reducers": {"type": "array", "items": epoch,
                         "description": "One per epoch of the release table, oldest first."},
        },
    }
