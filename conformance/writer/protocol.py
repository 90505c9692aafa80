"""The writer driver protocol: how the harness drives a writer under test.

Modelled on Bowtie's IHOP: the harness starts the writer as a subprocess and
talks to it in JSON lines, one request per line on the writer's standard
input, one answer per line on its standard output (standard error is free
for logs). Every request has a ``cmd`` and an integer ``id`` that the answer
echoes. A session is::

    start -> create -> (write_payload | append_event)* -> close -> stop

``start`` negotiates the protocol version and announces the writer's
implementation and capabilities; ``create`` opens one bundle; ``write_payload``
writes one payload file and answers with its ``RawPayloadRef``;
``append_event`` appends one event and answers with the event as written;
``close`` ends the bundle; ``stop`` ends the process (exit status 0). Any
request may be answered ``{"id": N, "ok": false, "error": {...}}``.

This module is the one definition of the protocol: the JSON Schema committed
at ``schema/protocol/writer-driver.schema.json`` is generated from it (a test
fails when they drift), and both the harness and the reference writer's
adapter check messages with it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from ...bundle import MANIFEST as MANIFEST_FILE, TRACE as TRACE_FILE
from ...model import DIALECTS
from ...model.common import EnvelopeKey, ManifestKey
from ...model.types import Struct, UnitKind
from ...compilers.json_schema import SCHEMA_BASE, SCHEMA_DIALECT

PROTOCOL_NAME = "rollout-trace-writer-driver"
PROTOCOL_VERSION = 1
SCHEMA_FILE = "protocol/writer-driver.schema.json"
SCHEMA_ID = f"{SCHEMA_BASE}/{SCHEMA_FILE}"

ERROR_KINDS = ("unsupported", "invalid_request", "io", "internal")


@dataclass(frozen=True)
class PField:
    """One key of a protocol message."""

    name: str
    schema: dict  # JSON Schema of the value
    doc: str
    required: bool = True


@dataclass(frozen=True)
class Command:
    """One request the harness sends, and the keys of its successful answer."""

    name: str
    doc: str
    request: tuple[PField, ...]
    response: tuple[PField, ...]
    answer_doc: str


# --- shared shapes -----------------------------------------------------------------------

_STR = {"type": "string"}
_ID = {"type": "string", "minLength": 1}
_NULLABLE_ID = {"type": ["string", "null"]}
_DIALECTS = list(DIALECTS)

def _payload_ref_schema() -> dict:
    """A ref as some dialect writes it: id, kind, then the key its layout locates payloads by."""
    from ...compilers.json_schema import field_schema

    kinds: list[str] = []
    shapes: dict[str, dict] = {}
    for d in DIALECTS.values():
        kinds += [k for k in d.type_as("RawPayloadKind", UnitKind).values if k not in kinds]
        locator = d.type_as("RawPayloadRef", Struct).field(d.layout.ref_key)
        shapes.setdefault(
            d.layout.name,
            {
                "title": f"{d.layout.name} ({', '.join(n for n, o in DIALECTS.items() if o.layout == d.layout)})",
                "required": [d.layout.ref_key],
                "properties": {d.layout.ref_key: field_schema(d, locator)},
            },
        )
    ref = next(iter(DIALECTS.values())).type_as("RawPayloadRef", Struct)
    id_key, kind_key = ref.fields[0].name, ref.fields[1].name  # every layout's ref starts id, kind
    id_form = " or ".join(sorted({f"`{d.layout.payload_id}`" for d in DIALECTS.values()}))
    return {
        "title": "RawPayloadRef",
        "description": "Reference from an event to a stored payload, exactly as it is written in events "
        "(`schema/<dialect>/event.schema.json` describes each dialect's).",
        "type": "object",
        "required": [id_key, kind_key],
        "properties": {
            id_key: {"type": "string", "description": f"Bundle-unique id; writers use {id_form}."},
            kind_key: {
                "type": "object",
                "required": ["type"],
                "properties": {"type": {"enum": kinds}},
                "description": "Adjacently tagged RawPayloadKind: `{\"type\": KIND}`.",
            },
        },
        "anyOf": list(shapes.values()),
    }


PAYLOAD_REF = _payload_ref_schema()

CONTEXT = {
    "title": "RawTraceEventContext",
    "description": "The envelope context of an event: both keys present, each a string or null "
    "(`append()` in Codex is both null).",
    "type": "object",
    "required": [EnvelopeKey.THREAD_ID, EnvelopeKey.TURN_ID],
    "properties": {EnvelopeKey.THREAD_ID: _NULLABLE_ID, EnvelopeKey.TURN_ID: _NULLABLE_ID},
    "additionalProperties": False,
}

def _names(struct_of) -> list[str]:
    """Keys of a struct (the envelope, the manifest) that writers of every dialect write, in model
    order: a key some dialect lacks, or leaves out when unset (skip-if-none), is not required."""
    written = [[f.name for f in struct_of(d).fields if f.required or not f.skip_if_none] for d in DIALECTS.values()]
    return [name for name in written[0] if all(name in w for w in written[1:])]


_ENVELOPE_KEYS = _names(lambda d: d.envelope)


def _envelope_properties() -> dict:
    """Each envelope key's schema, from the model: a const is one of the dialects' values; the
    payload is an object with its tag (the dialect's event schema checks the rest)."""
    from ...compilers.json_schema import field_schema

    out: dict = {}
    for d in DIALECTS.values():
        for f in d.envelope.fields:
            if f.const is not None:
                out.setdefault(f.name, {"enum": []})
                if f.const not in out[f.name]["enum"]:
                    out[f.name]["enum"].append(f.const)
            elif f.name == EnvelopeKey.PAYLOAD:
                tag = d.payload.tag_key
                out.setdefault(f.name, {"type": "object", "required": [tag], "properties": {tag: _STR}})
            else:
                out.setdefault(f.name, {k: v for k, v in field_schema(d, f).items() if k not in ("title", "description")})
    return out


EVENT = {
    "title": "RawTraceEvent",
    "description": f"One event as the writer wrote it to `{TRACE_FILE}` (the dialect's event schema, "
    "`schema/<dialect>/event.schema.json`, describes it fully).",
    "type": "object",
    "required": _ENVELOPE_KEYS,
    "properties": _envelope_properties(),
}

MANIFEST = {
    "title": "TraceBundleManifest",
    "description": f"The manifest as the writer wrote it to `{MANIFEST_FILE}` "
    "(`schema/<dialect>/manifest.schema.json` describes it fully).",
    "type": "object",
    "required": _names(lambda d: d.manifest),
}

COMMANDS: tuple[Command, ...] = (
    Command(
        "start",
        "First request of a session: the harness's protocol version.",
        (PField("version", {"type": "integer", "minimum": 1}, "Protocol version the harness speaks."),),
        (
            PField("version", {"type": "integer", "minimum": 1}, "Protocol version the writer speaks; must equal the request's."),
            PField(
                "implementation",
                {
                    "type": "object",
                    "required": ["name", "language"],
                    "properties": {
                        "name": _STR,
                        "language": _STR,
                        "version": _STR,
                        "homepage": _STR,
                    },
                },
                "Who the writer is: `name` and `language` (required), `version`, `homepage`.",
            ),
            PField(
                "capabilities",
                {
                    "type": "object",
                    "required": ["dialects"],
                    "properties": {
                        "dialects": {"type": "array", "items": {"enum": _DIALECTS}, "minItems": 1, "uniqueItems": True}
                    },
                },
                "What the writer can do: `dialects`, the trace dialects it writes.",
            ),
        ),
        "The writer's version, implementation and capabilities. A writer that does not speak the "
        "harness's version answers `ok: false` with error kind `unsupported`.",
    ),
    Command(
        "create",
        "Create one bundle (Codex: `TraceWriter::create`).",
        (
            PField("dir", _ID, "Absolute path of the bundle directory to create (it does not exist yet)."),
            PField("dialect", {"enum": _DIALECTS}, "Dialect to write: its `schema_version` goes into the manifest and every event."),
            PField(ManifestKey.TRACE_ID, _ID, f"The manifest's {ManifestKey.TRACE_ID}."),
            PField(ManifestKey.ROLLOUT_ID, _ID, f"The manifest's {ManifestKey.ROLLOUT_ID}, repeated in every event."),
            PField(ManifestKey.ROOT_THREAD_ID, _ID, f"The manifest's {ManifestKey.ROOT_THREAD_ID}."),
        ),
        (PField("manifest", MANIFEST, f"The manifest exactly as written to `{MANIFEST_FILE}`."),),
        f"After the answer, `{MANIFEST_FILE}` is complete on disk.",
    ),
    Command(
        "write_payload",
        "Write one payload (Codex: `write_json_payload`): a pretty-printed file (v1, v2), or a "
        "compact record appended to the current zstd shard (v3).",
        (
            PField("kind", {"enum": PAYLOAD_REF["properties"]["kind"]["properties"]["type"]["enum"]}, "RawPayloadKind of the payload (of the bundle's dialect)."),
            PField("body", {}, "The payload, any JSON value; written pretty-printed (v1, v2) or compact (v3)."),
            PField(
                "body_json",
                {"type": "string"},
                "The same body as compact JSON text, numbers exactly as in `body`. A writer whose JSON "
                "parser turns integers into doubles (JavaScript) re-indents this text instead of "
                "re-serialising `body`, so integers beyond 2^53 survive.",
            ),
        ),
        (PField("ref", PAYLOAD_REF, "The RawPayloadRef that events will carry to point at the file."),),
        "After the answer, the file named by `ref.path` is complete on disk; in v3 the record is in "
        "shard `ref.shard`, its zstd block flushed (the frame is ended when the shard is sealed: on "
        "rotation past 8 MiB and at `close`).",
    ),
    Command(
        "append_event",
        "Append one event (Codex: `append` / `append_with_context`). Any RawPayloadRef in the payload "
        "is one this writer returned earlier in the session.",
        (
            PField("context", CONTEXT, "Envelope context: thread_id and codex_turn_id."),
            PField(
                "payload",
                {"type": "object", "required": ["type"], "properties": {"type": _STR}},
                "The event payload, tagged by `type`, in the dialect's model (field order of the model).",
            ),
        ),
        (PField("event", EVENT, "The whole event as written: the envelope the writer assigned, and the payload."),),
        f"After the answer, the event's line and its newline are in `{TRACE_FILE}` (written and flushed).",
    ),
    Command(
        "close",
        "End the bundle: flush and close the files. No more operations follow.",
        (),
        (),
        "After the answer the bundle is final.",
    ),
    Command(
        "stop",
        "End the session. The writer answers, then exits with status 0.",
        (),
        (),
        "The writer exits 0 after answering.",
    ),
)

COMMAND_NAMES = tuple(c.name for c in COMMANDS)


def command(name: str) -> Command:
    for c in COMMANDS:
        if c.name == name:
            return c
    raise KeyError(name)


# --- JSON Schema ---------------------------------------------------------------------


def _object(title: str, doc: str, fields: list[PField]) -> dict:
    props = {}
    for f in fields:
        props[f.name] = {"description": f.doc, **f.schema}
    return {
        "title": title,
        "description": doc,
        "type": "object",
        "required": [f.name for f in fields if f.required],
        "properties": props,
    }


_REQ_ID = PField("id", {"type": "integer", "minimum": 0}, "Request id, chosen by the harness; the answer echoes it.")
_ANS_ID = PField("id", {"type": "integer", "minimum": 0}, "The id of the request this answers.")
_OK = PField("ok", {"const": True}, "The operation succeeded.")


def protocol_schema() -> dict:
    """The JSON Schema of one protocol line (request or answer), with a `$defs` entry per message."""
    defs: dict[str, dict] = {}
    branches = []
    for c in COMMANDS:
        cmd = PField("cmd", {"const": c.name}, "The command.")
        req = _object(f"request.{c.name}", c.doc, [cmd, _REQ_ID, *c.request])
        req["additionalProperties"] = False
        defs[f"request.{c.name}"] = req
        ans = _object(f"response.{c.name}", c.answer_doc, [_ANS_ID, _OK, *c.response])
        ans["not"] = {"required": ["cmd"]}
        defs[f"response.{c.name}"] = ans
        branches.append(
            {
                "if": {"properties": {"cmd": {"const": c.name}}, "required": ["cmd"]},
                "then": {"$ref": f"#/$defs/request.{c.name}"},
            }
        )
    defs["request"] = {
        "title": "request",
        "description": "A line from the harness to the writer.",
        "type": "object",
        "required": ["cmd", "id"],
        "properties": {"cmd": {"enum": list(COMMAND_NAMES)}},
        "allOf": branches,
    }
    defs["error"] = {
        "title": "error",
        "description": "The writer could not perform the request.",
        "type": "object",
        "required": ["id", "ok", "error"],
        "properties": {
            "id": {"type": ["integer", "null"], "description": "The request's id (null if the request had none)."},
            "ok": {"const": False},
            "error": {
                "type": "object",
                "required": ["message"],
                "properties": {
                    "message": {"type": "string", "description": "What went wrong, for a human."},
                    "kind": {"enum": list(ERROR_KINDS), "description": "Class of failure."},
                },
            },
        },
    }
    defs["response"] = {
        "title": "response",
        "description": "A line from the writer to the harness: the answer to one request "
        "(which `response.<cmd>` applies depends on the request it answers).",
        "anyOf": [{"$ref": f"#/$defs/response.{c.name}"} for c in COMMANDS] + [{"$ref": "#/$defs/error"}],
    }
    return {
        "$schema": SCHEMA_DIALECT,
        "$id": SCHEMA_ID,
        "title": f"{PROTOCOL_NAME}, version {PROTOCOL_VERSION}",
        "description": "One line of the writer driver protocol: a request from the conformance harness "
        "to a trace writer under test, or the writer's answer. See docs/guides/writer-protocol.md.",
        "x-protocol-version": PROTOCOL_VERSION,
        "oneOf": [{"$ref": "#/$defs/request"}, {"$ref": "#/$defs/response"}],
        "$defs": dict(sorted(defs.items())),
    }


def render_schema() -> str:
    return json.dumps(protocol_schema(), indent=2, ensure_ascii=False) + "\n"


def schema_files() -> dict[str, str]:
    """Relative path under ``schema/`` -> text, like :func:`rollout_trace_kit.compilers.json_schema.schema_files`."""
    return {SCHEMA_FILE: render_schema()}


def write_schema_files(root: Path) -> list[Path]:
    written = []
    for rel, text in schema_files().items():
        path = Path(root) / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
            written.append(path)
    return written


@lru_cache(maxsize=None)
def _validator(def_name: str):
    import jsonschema

    schema = protocol_schema()
    doc = {"$schema": SCHEMA_DIALECT, "$defs": schema["$defs"], "$ref": f"#/$defs/{def_name}"}
    return jsonschema.Draft202012Validator(doc)


def message_errors(def_name: str, message) -> list[str]:
    """Why ``message`` is not a valid ``def_name`` (``request``, ``response.create``, ``error``...)."""
    out = []
    for e in sorted(_validator(def_name).iter_errors(message), key=lambda e: list(map(str, e.absolute_path))):
        where = "".join(f"/{p}" for p in e.absolute_path) or "/"
        out.append(f"{where}: {e.message}")
    return out


if __name__ == "__main__":  # python -m rollout_trace_kit.conformance.writer.protocol [schema-dir]
    import sys

    for p in write_schema_files(Path(sys.argv[1] if len(sys.argv) > 1 else "schema")):
        print(f"wrote {p}")
