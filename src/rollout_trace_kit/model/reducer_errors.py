"""Codex reducer errors by stable name: what ``codex debug trace-reduce`` prints when it rejects.

Codex's reducer stops at the first problem with one line on stderr (``Error: ...``); its
wording changes between releases, its meaning rarely does. Each entry maps the messages
(a regular expression searched in stderr) to a stable name that conformance cases use
(``expected.json``: ``error_class`` per release epoch), with the invariants whose breakage
the reducer reports that way: ``rollout-trace conformance build`` predicts a case's class from
them, and the Codex tier (tests/test_conformance_codex.py) checks the prediction against the
real reducers. A message no entry matches is ``unclassified``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterable


@dataclass(frozen=True)
class ReducerError:
    name: str
    pattern: str  # searched (re.search) in the reducer's stderr
    meaning: str
    invariants: tuple[str, ...] = ()  # breaking one of these (at the reducer profile) gives this error


UNCLASSIFIED = "unclassified"

def _e(name: str, pattern: str, meaning: str, *invariants: str) -> ReducerError:
    return ReducerError(name, pattern, meaning, invariants)


# Measured: the first stderr line of Codex 0.164.0 (v1), 0.169.0 (v2) and 0.171.0 (v3)
# rejecting the suite's invalid cases of their dialect (conformance/cases, 2026-12).
REDUCER_ERRORS: tuple[ReducerError, ...] = (
    # -- the bundle and its files
    _e("manifest_missing", r"Error: No such file or directory", "manifest.json cannot be opened", "BUNDLE.MANIFEST_PRESENT"),
    _e("manifest_unreadable", r"Error: read \S*manifest\.json", "manifest.json is not a manifest",
       "BUNDLE.MANIFEST_JSON", "BUNDLE.MANIFEST_SCHEMA"),
    _e("trace_missing", r"Error: open trace event log", "the event log cannot be opened", "BUNDLE.TRACE_PRESENT"),
    _e("schema_unsupported", r"Error: (unsupported manifest schema|trace schema \d+ cannot establish accepted history)",
       "the manifest's schema_version is not the one this reducer reads", "BUNDLE.DIALECT_KNOWN", "BUNDLE.MANIFEST_VERSION"),
    # -- lines and events
    _e("line_unreadable", r"Error: read trace event line", "a line is not UTF-8 text", "LINE.UTF8"),
    _e("line_unparsed", r"Error: parse trace event line",
       "a line is not an event of the dialect (not JSON, too deep, an unknown type, a wrong field)",
       "LINE.JSON", "LINE.NESTING", "EVENT.SCHEMA", "EVENT.UNKNOWN_TYPE", "EVENT.INTEGER_FORM",
       "EVENT.RELEASE_REQUIRED_FIELD", "RELEASE.VARIANT_KNOWN", "RELEASE.FIELD_REQUIRED", "RELEASE.TOOL_KIND_KNOWN",
       "RELEASE.PAYLOAD_KIND_KNOWN"),
    _e("event_schema_unsupported", r"Error: unsupported trace event schema", "an event's schema_version is not the reducer's",
       "ENVELOPE.SCHEMA_VERSION"),
    _e("event_other_rollout", r"Error: trace event belongs to another rollout", "an event names another rollout",
       "ENVELOPE.ROLLOUT_ID"),
    _e("event_unimplemented", r"Error: raw trace event has no reducer implementation", "the `other` variant",
       "EVENT.OTHER_VARIANT"),
    _e("seq_out_of_order", r"Error: missing or reordered trace event", "seq does not count 1, 2, 3, ...",
       "SEQ.INCREASING", "SEQ.NO_GAP", "SEQ.STARTS_AT_ONE"),
    _e("event_after_recording", r"Error: trace event after recording completed", "an event after recording_completed",
       "ORDER.AFTER_RECORDING_COMPLETED"),
    # -- payload files and shards
    _e("payload_unreadable", r"Error: read payload", "a referenced payload file cannot be read",
       "REF.FILE_EXISTS", "REF.PATH_CONFINED", "REF.REGULAR_FILE"),
    _e("payload_invalid", r"Error: invalid payload raw_payload", "a payload body is not JSON", "REF.JSON", "STORE.BODY_JSON"),
    _e("shard_unopened", r"Error: open shard", "a referenced shard cannot be opened", "STORE.REF_SHARD"),
    _e("shard_undecompressed", r"Error: decompress shard", "a shard is not one zstd frame",
       "STORE.FRAME", "STORE.REGULAR_FILE", "STORE.TRAILING_GARBAGE"),
    _e("shard_footer_missing", r"Error: missing footer in payload shard", "a shard's frame is cut short",
       "STORE.FRAME_TRUNCATED"),
    _e("shard_record_partial", r"Error: partial record in sealed shard", "a record's header or body is cut short",
       "STORE.LENGTH_BEYOND_SHARD", "STORE.RECORD_HEADER_CUT"),
    _e("shard_record_duplicate", r"Error: duplicate payload raw_payload:\S+ in shard", "a payload id twice in a shard",
       "STORE.DUPLICATE_RECORD"),
    _e("shard_record_missing", r"Error: missing payload raw_payload:\S+ in shard", "a reference names no record",
       "STORE.REF_RECORD"),
    _e("payload_kind_conflict", r"Error: conflicting references for payload", "two refs to one payload disagree",
       "STORE.KIND_CONFLICT"),
    _e("payload_omitted_with_shard", r"Error: omitted payload has a shard", "an omitted payload names a shard",
       "STORE.CAPTURE"),
    # -- payload bodies the reducer parses
    _e("body_thread_metadata", r"Error: parse thread metadata", "session metadata body", "BODY.THREAD_METADATA"),
    _e("body_terminal_runtime", r"Error: parse (exec terminal response|terminal runtime start payload)", "exec terminal body",
       "BODY.TERMINAL_RUNTIME"),
    _e("body_inference_request", r"Error: inference request payload \S+ did not contain", "inference request body",
       "BODY.INFERENCE_REQUEST"),
    _e("body_inference_response", r"Error: inference response payload \S+ did not contain", "inference response body",
       "BODY.INFERENCE_RESPONSE"),
    _e("body_compaction_checkpoint", r"Error: compaction checkpoint payload \S+ did not contain",
       "compaction checkpoint body", "BODY.COMPACTION_CHECKPOINT"),
    _e("body_model_item", r"Error: (unsupported model item type|model item in payload \S+ did not contain a string type)",
       "a model item's type", "BODY.MODEL_ITEM", "BODY.TOOL_OUTPUT_ITEM"),
    # 0.125.0 on an agent spawn's runtime end written by 0.164.0: serde's error with no context
    # (the probe's body_required names the place: `rollout-trace codex probe --bodies`)
    _e("body_field_missing", r"(^|\n)Error: missing field `", "a payload body lacks a key the release's reducer requires",
       "RELEASE.BODY_REQUIRED"),
    _e("body_prepared_prompt", r"Error: invalid payload fragment count", "prepared prompt fragments", "BODY.PREPARED_PROMPT"),
    # -- lifecycles
    _e("thread_duplicate", r"Error: duplicate thread start", "", "THREAD.DUPLICATE_START"),
    _e("thread_unknown", r"Error: trace event referenced unknown thread", "", "THREAD.UNKNOWN"),
    _e("thread_resume_not_ended", r"Error: resumed thread \S+ has not ended", "", "THREAD.RESUME_NOT_ENDED"),
    _e("turn_duplicate", r"Error: duplicate codex turn start", "", "TURN.DUPLICATE_START"),
    _e("turn_unknown", r"Error: codex turn end referenced unknown turn", "", "TURN.UNKNOWN"),
    _e("turn_thread_mismatch", r"Error: codex turn end for \S+ used thread", "", "TURN.THREAD_MISMATCH"),
    _e("inference_duplicate", r"Error: duplicate inference start", "", "INFERENCE.DUPLICATE_START"),
    _e("inference_unknown", r"Error: inference completion referenced unknown call", "", "INFERENCE.UNKNOWN_CALL"),
    _e("inference_previous_response", r"Error: incremental inference request \S+ referenced unknown previous_response_id",
       "", "INFERENCE.PREVIOUS_RESPONSE"),
    _e("tool_duplicate", r"Error: duplicate tool call start", "", "TOOL.DUPLICATE_START"),
    _e("tool_duplicate_model_call_id", r"Error: duplicate tool call for model-visible call id", "",
       "TOOL.DUPLICATE_MODEL_CALL_ID"),
    _e("tool_unknown", r"Error: tool runtime end referenced unknown call", "", "TOOL.UNKNOWN_CALL"),
    _e("tool_missing_context", r"Error: tool call start did not include thread or Codex turn context", "",
       "TOOL.MISSING_CONTEXT"),
    _e("tool_second_terminal", r"Error: tool runtime start would create a second terminal operation", "",
       "TOOL.SECOND_TERMINAL_OPERATION"),
    _e("tool_unknown_code_cell", r"Error: code-mode nested tool referenced unknown runtime cell", "",
       "TOOL.UNKNOWN_CODE_CELL"),
    _e("cell_duplicate", r"Error: duplicate code cell start", "", "CELL.DUPLICATE_START"),
    _e("cell_unknown", r"Error: code cell initial response referenced unknown runtime cell", "", "CELL.UNKNOWN"),
    _e("cell_missing_context", r"Error: code cell initial response \S+ did not include a thread id", "",
       "CELL.MISSING_CONTEXT"),
    _e("conversation_mismatch", r"Error: model conversation mismatch", "", "INFERENCE.CONVERSATION_MISMATCH"),
    _e("cell_start_turn", r"Error: code cell start (referenced unknown Codex turn|\S+ did not include a Codex turn id)", "",
       "CELL.START_TURN"),
    _e("cell_remapped", r"Error: runtime code cell \S+ in thread \S+ mapped to both", "", "CELL.REMAPPED"),
    _e("compaction_duplicate_install", r"Error: duplicate compaction install", "", "COMPACTION.DUPLICATE_INSTALL"),
    _e("compaction_duplicate_request", r"Error: duplicate compaction request start", "", "COMPACTION.DUPLICATE_REQUEST"),
    _e("compaction_unknown_request", r"Error: compaction request completion referenced unknown request", "",
       "COMPACTION.UNKNOWN_REQUEST"),
    _e("compaction_missing_context", r"Error: compaction installed event \S+ did not include a thread id", "",
       "COMPACTION.MISSING_CONTEXT"),
    _e("mcp_duplicate_correlation", r"Error: duplicate MCP correlation", "", "MCP.DUPLICATE_CORRELATION"),
    _e("history_missing_thread", r"Error: history acceptance has no thread", "", "HISTORY.MISSING_THREAD"),
    _e("history_agent_message", r"Error: accepted (agent message|item payload) does not match", "", "HISTORY.AGENT_MESSAGE"),
    _e("wait_duplicate", r"Error: duplicate confirmed wait target", "", "WAIT.DUPLICATE"),
    _e("wait_unknown", r"Error: confirmed wait referenced unknown dispatch", "", "WAIT.UNKNOWN_CALL"),
    _e("wait_missing_context", r"Error: confirmed wait missing (thread|turn)", "", "WAIT.MISSING_CONTEXT"),
)


def classify(stderr: str) -> str:
    """The stable name of a reducer's error output (``unclassified`` when no entry matches)."""
    return next((e.name for e in REDUCER_ERRORS if re.search(e.pattern, stderr)), UNCLASSIFIED)


def expected_error_class(reducer_errors: list[str], measured: Iterable[str] = ()) -> str | None:
    """The class a reducer of the bundle's own dialect is expected to reject it with, given the
    bundle's reducer-profile errors (and the classes ``measured`` by a probe for its release
    findings, RELEASE.BODY_REQUIRED's): the one class they all map to; None when they map to none,
    or to several (the reducer stops at whichever comes first: a case then checks the verdict only)."""
    names = {e.name for e in REDUCER_ERRORS if any(i in e.invariants for i in reducer_errors)} | set(measured)
    return names.pop() if len(names) == 1 else None
