"""Payload bodies: what the reference reducers need each kind of payload to hold.

Events point to payloads (``RawPayloadRef``); the reducers open some of them and parse the
body. This module states, once, what such a body must hold: the object keys and their
types, the model items (Responses API items) and how the reducers normalise them, the
fragments of a v3 prepared prompt, and the identities the reducers compare across bodies
(a call id's content, an accepted item's id, a terminal operation's process id). The
validator (``validate/rules/bodies.py``), the generators (``generators/_bodies.py``,
``_ops_bodies.py``) and the reference page of payload bodies read these tables.

Everything here was measured with ``codex debug trace-reduce`` of 0.164.0, 0.169.0 and
0.171.0 on edited real bundles (``source`` says what the reducer said), or read in the
upstream reducer source where it is published (``reducer/conversation/normalize.rs``,
``reducer/inference.rs``, ``reducer/compaction.rs``, ``reducer/thread.rs``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .common import TERMINAL_AT_DISPATCH_KINDS
from .types import INT_RANGES

# -- model items ------------------------------------------------------------------------


@dataclass(frozen=True)
class ItemType:
    """A model item ``type`` the reducers normalise (any other type is rejected)."""

    tag: str
    doc: str
    string_keys: tuple[str, ...] = ()  # keys that must hold a string
    # For a call item: keys whose values the reducers compare when the same call_id comes again
    # in the thread ("model-visible call id {id} was reused with different content"), and the
    # last release that compares it (None: every release). WHOLE_ITEM: every key of the item
    # (its status, id, unknown keys: measured). A function_call is compared by its arguments only.
    call_content: tuple[str, ...] = ()
    call_content_until: str | None = None
    # Item types of one call space share call ids: the same id on another type of the space is
    # "reused with different content" (measured on 0.164.0, 0.169.0, 0.171.0).
    call_space: str = ""
    # What the reducers compare when an incremental request's item meets the thread's conversation
    # item at its position ("model conversation mismatch ... existing item conversation_item:{n}
    # does not match the current model payload item"): keys of the item, "K[].text" the texts of
    # the entries of array K. Measured on 0.164.0, 0.169.0, 0.171.0: a message's role and part
    # texts (not the parts' types, ids, status or unknown keys), a call's call_id (not its name), an
    # output's call_id and output, a reasoning item's encrypted_content. Where unmeasured the kit
    # names fewer keys than the reducers may compare (it then accepts what they might reject).
    match_keys: tuple[str, ...] = ()
    match_as: str = ""  # types compared as one (unmeasured pairs: the kit lets them match); "" = its tag
    # (key, value): keys the reducers compare, when a call id comes again, only as whether they hold
    # that value. A custom_tool_call named `exec` (code mode's tool) and one named otherwise, null or
    # nameless differ; two other names, a null and an absent name do not (measured on 0.164.0, 0.169.0
    # and 0.171.0: `exec` then `y`, `exec` then 5 or null rejected; `apply_patch` then null, null then
    # `apply_patch`, 5 then `y` accepted).
    call_equals: tuple[tuple[str, Any], ...] = ()
    # Keys of call_content compared as JSON texts, not as the values they hold: how a reused call's `arguments`
    # are compared, measured on 0.125.0, 0.143.0, 0.164.0, 0.169.0 and 0.171.0 (found by session 9's codex diff
    # of 0.164.0, a string turned into the object it spelled; its index rebuilds another mutant now): a string that
    # parses as JSON (serde_json's grammar: no NaN, no lone surrogate escape, fewer than 128 levels) is compared
    # as the JSON it holds, any other value (an object, a number...) as itself, and a string that does not parse
    # as its text; absent is not null. JSON is compared with whitespace, escapes and repeated keys resolved and
    # object keys in their order ({"a":1,"b":2} is not {"b":2,"a":1}); a number, from 0.143.0 (serde_json's
    # arbitrary precision), by its text with the exponent written `e+N` or `e-N` and `-0` as `0` ("1e2", "1E2"
    # and "1e+2" alike; "1.5" and "1.50", "10" and "1e1", "1e02" and "1e2" not). The releases without arbitrary
    # precision (those that refuse 1e400 in a body: release data reducer.number_range; 0.125.0 and 0.135.0
    # measured) read a number as a u64, an i64 or an f64 (serde_json's parse: validate.lines.serde_f64) and
    # write an f64 in ryu's layout, its exponent signed: "1.5" and "1.50", "1e2" and "100.0", "-0" and "-0.0",
    # 30-digit integers alike in their first 17 digits are one; "-0" and "0", "10" and "1e1" are not; a literal
    # beyond f64 does not parse (compared as its text).
    call_content_json: tuple[str, ...] = ()
    # The reducers compare the compared content by a summary (measured on 0.125.0, 0.135.0, 0.164.0, 0.165.0,
    # 0.166.0, 0.169.0, 0.169.1 and 0.171.0, all alike): the content's compact JSON (serde_json's to_string:
    # no whitespace, object keys in their order, UTF-8 unescaped, `"`, `\\` and control characters escaped),
    # when longer than this many bytes, cut there (at the character boundary below: SUMMARY_CUT_PANICS_UNTIL)
    # and SUMMARY_MARK appended. Two contents alike in their first bytes are the same call. A function_call's
    # JSON `arguments` (a string that parses, or any other value) are summarised; a string that does not parse
    # is compared in full. A WHOLE_ITEM type's whole item is (its keys in their order: a reordered item is
    # other content). A custom_tool_call's `input` and an output's `output` are compared in full (None).
    summary_bytes: int | None = None


WHOLE_ITEM = ("*",)  # call_content: the whole item is compared (ItemType.summary_bytes: its compact JSON)
SUMMARY_BYTES = 240  # ItemType.summary_bytes of the summarised types
SUMMARY_MARK = "..."  # after a cut summary (a content of 240 bytes is not one of 241 whose first 240 it is)
# Up to this release the reducers panic (exit 101: "assertion failed: self.is_char_boundary(new_len)", in
# reducer/conversation/normalize.rs) on a call item whose summary cut falls inside a UTF-8 character, whether
# or not its call id comes again (measured on 0.125.0, 0.135.0, 0.164.0 and 0.165.0); later releases cut
# before that character (0.166.0, 0.169.0, 0.169.1, 0.171.0).
SUMMARY_CUT_PANICS_UNTIL = "0.165.0"
# Item types the kit names (the validator's rules, the generators' bodies): tags of ITEM_TYPES below.
MESSAGE, AGENT_MESSAGE, REASONING, COMPACTION = "message", "agent_message", "reasoning", "compaction"
FUNCTION_CALL, FUNCTION_CALL_OUTPUT = "function_call", "function_call_output"
CUSTOM_TOOL_CALL, CUSTOM_TOOL_CALL_OUTPUT = "custom_tool_call", "custom_tool_call_output"
CALL_ID = "call_id"  # the key that names a call on a call item, an output and a collab end
CODE_MODE_TOOL = "exec"  # the custom tool name the reducers tell apart when a call id comes again
# The last release whose reducer compares an output item's content when its call id comes again (a
# function, custom tool, tool search or MCP output): measured on 0.164.0 and 0.165.0 (all four
# rejected); 0.166.0, 0.167.2, 0.169.0 and 0.171.0 accept a second output with other content.
OUTPUTS_COMPARED_UNTIL = "0.165.0"
# Call spaces (ItemType.call_space): calls, custom tool calls, outputs, custom tool outputs.
CALLS, CUSTOM_CALLS, OUTPUTS, CUSTOM_OUTPUTS = "call", "custom_call", "output", "custom_output"

_CALL: dict[str, Any] = dict(match_keys=(CALL_ID,), match_as="call")
_OUTPUT: dict[str, Any] = dict(match_keys=(CALL_ID, "output"), match_as="output")
_WHOLE: dict[str, Any] = dict(call_content=WHOLE_ITEM, summary_bytes=SUMMARY_BYTES)
_COMPACTION: dict[str, Any] = dict(string_keys=("encrypted_content",), match_keys=("encrypted_content",), match_as="compaction")

ITEM_TYPES: tuple[ItemType, ...] = (
    ItemType(MESSAGE, "A message: `role` (one of MESSAGE_ROLES) and `content` parts.",
             match_keys=("role", "content[].text")),
    ItemType(AGENT_MESSAGE, "An inter-agent message: string `author` and `recipient`, a non-empty `content` array "
             "of AGENT_MESSAGE_PARTS.", match_keys=("author", "recipient")),
    ItemType(REASONING, "Reasoning: at least one `content` (REASONING_ENTRIES), `summary` entry or a string "
             "`encrypted_content`.", match_keys=("encrypted_content",)),
    ItemType(FUNCTION_CALL, "A function tool call: `call_id`, `name`, `arguments` (a JSON text).",
             call_content=("arguments",), call_content_json=("arguments",), summary_bytes=SUMMARY_BYTES, call_space=CALLS,
             **_CALL),
    ItemType(FUNCTION_CALL_OUTPUT, "The output of a function call, by `call_id`.",
             call_content=("output",), call_content_until=OUTPUTS_COMPARED_UNTIL, call_space=OUTPUTS, **_OUTPUT),
    # Its name is compared within one payload but not against a later payload's (measured): the kit
    # compares what is compared everywhere.
    ItemType(CUSTOM_TOOL_CALL, "A freeform (custom) tool call: `call_id`, `name`, `input`.", call_content=("input",),
             call_space=CUSTOM_CALLS, call_equals=(("name", CODE_MODE_TOOL),), **_CALL),
    ItemType(CUSTOM_TOOL_CALL_OUTPUT, "The output of a custom tool call, by `call_id`.",
             call_content=("output",), call_content_until=OUTPUTS_COMPARED_UNTIL, call_space=CUSTOM_OUTPUTS, **_OUTPUT),
    ItemType("tool_search_call", "A tool search call.", call_space=CALLS, **_WHOLE, **_CALL),
    ItemType("web_search_call", "A web search call.", call_space=CALLS, **_WHOLE, **_CALL),
    ItemType("image_generation_call", "An image generation call.", call_space=CALLS, **_WHOLE, **_CALL),
    ItemType("local_shell_call", "A local shell call.", call_space=CALLS, **_WHOLE, **_CALL),
    ItemType("tool_search_output", "The output of a tool search.", call_content_until=OUTPUTS_COMPARED_UNTIL,
             call_space=OUTPUTS, **_WHOLE, **_OUTPUT),
    ItemType("mcp_tool_call_output", "The output of an MCP tool call.", call_content_until=OUTPUTS_COMPARED_UNTIL,
             call_space=OUTPUTS, **_WHOLE, **_OUTPUT),
    ItemType(COMPACTION, "A compacted history item.", **_COMPACTION),
    ItemType("compaction_summary", "A compaction summary item.", **_COMPACTION),
    ItemType("context_compaction", "A context compaction item.", **_COMPACTION),
)
ITEM_TYPE = {t.tag: t for t in ITEM_TYPES}
SYSTEM, DEVELOPER, USER, ASSISTANT, TOOL = "system", "developer", "user", "assistant", "tool"
MESSAGE_ROLES = (SYSTEM, DEVELOPER, USER, ASSISTANT, TOOL)
# agent_message content part type -> the string key it carries
AGENT_MESSAGE_PARTS = {"input_text": "text", "encrypted_content": "encrypted_content"}
# reasoning item key -> the entry types it may hold (each entry carries a string `text`)
REASONING_ENTRIES = {"content": ("reasoning_text", "text"), "summary": ("summary_text",)}
# Releases (first, last) whose reducer reads an accepted agent_message item (history_item_accepted's
# agent_message_payload) into a typed item through a serde_json value ("failed to parse agent_message item in
# payload {id}"; a key given twice passes, its last value read). Measured on 0.169.0, 0.169.1 and 0.170.0;
# 0.167.2, 0.168.0 and 0.171.0 take any such item, and no release minds these in an inference's items:
# - an integer anywhere below i64's range or above u64's fails ("invalid type: integer ... as i128, expected
#   any value"). Only one serde_json reads as an i128/u128 (model.types.WIDE_INTEGERS): a wider one, a float
#   to it, passes (2**128, -2**127 - 1, 400 and 4,301 digits measured on 0.169.0 and 0.170.0);
# - its AGENT_MESSAGE_PASSTHROUGH is typed (below).
AGENT_MESSAGE_TYPED = ("0.169.0", "0.170.0")
# A history_item_accepted whose item_id its thread accepted before with a payload (any payload ref of the
# variant the release reads): its payload is not parsed (any body, JSON null included, passes; the ref must
# still resolve). Measured on 0.169.0 (agent_message_payload; its tool_output_payload is an unknown key, so
# an earlier acceptance holding only that one does not count) and 0.171.0 (tool_output_payload,
# agent_message_payload, either way round). An earlier acceptance without a payload, or another thread's,
# does not count: the payload is parsed ("accepted item payload does not match {id}", codex diff --seed 0).
ACCEPTED_AGAIN_UNREAD = True
# Item types history_item_accepted's tool_output_payload may hold (v3; any other: "accepted item
# payload does not match {item_id}", measured on 0.171.0).
TOOL_OUTPUT_TYPES = (FUNCTION_CALL_OUTPUT, CUSTOM_TOOL_CALL_OUTPUT, "mcp_tool_call_output", "tool_search_output")

# The checkpoint histories read, in this order, as call
# items of the thread like a request's input ("model-visible call id {id} was reused with different
# content" against an earlier response's call; measured on every installed release, 0.125.0 to 0.171.0).
# The compaction request's input is not compared (measured on 0.164.0).
CHECKPOINT_CALL_ID_HISTORIES = ("input_history", "replacement_history")

# -- conversations ---------------------------------------------------------------------------

# How a completed response changes its thread's conversation (validate/rules/conversation.py). Up to
# this release the response's output items are appended to the conversation as it stands, whatever
# request set it (a second or late completion of an inference appends again); later releases set the
# conversation to the response's request items and outputs, and only when its inference is the
# thread's latest started one (another inference's completion leaves it alone). In every release the
# response's snapshot, which a request naming its id continues, is its request's items and outputs.
# Measured with duplicated, late and interleaved completions on 0.125.0, 0.131.0, 0.143.0, 0.162.0,
# 0.164.0 (append) and 0.167.2, 0.169.0, 0.170.0, 0.171.0 (latest only).
CONVERSATION_RESPONSE_APPENDS_UNTIL = "0.164.0"

# -- v3 prepared prompts ------------------------------------------------------------------

# A payload whose ref (or part) has non-empty `parts` is stored as text fragments: a JSON array of
# strings with one more fragment than parts. Interleaved with the parts' bodies they form one JSON
# document (0.171.0 parses it: "trailing characters", "expected value", measured). Without parts
# (absent or empty), 0.171.0 reads any JSON body there, a prepared prompt's included (measured).
PROMPT_HEAD = '{"input":['
PROMPT_TAIL = (
    '"tools":[],"parallel_tool_calls":true,"base_instructions":{"text":"You are Codex."},'
    '"output_schema":null,"output_schema_strict":true,"prompt_cache_ttl":null,"cyber_access_program":null}'
)


def prompt_fragments(parts: int) -> list[str]:
    """The fragments of a prompt of ``parts`` input items, as 0.171.0 writes them (short tail)."""
    if not parts:
        return ['{"input":[],' + PROMPT_TAIL]
    return [PROMPT_HEAD] + [","] * (parts - 1) + ["]," + PROMPT_TAIL]


def splice(fragments: list[str], parts: list[str]) -> str:
    """The JSON text ``fragments`` and ``parts`` (the parts' bodies, in order) make together."""
    out = [fragments[0]]
    for part, fragment in zip(parts, fragments[1:]):
        out.append(part)
        out.append(fragment)
    return "".join(out)


# -- sub-agent activity ----------------------------------------------------------------------

# A multi-agent tool call's runtime end whose body holds `agent_thread_id` is a sub-agent activity
# (SubAgentActivity); without that key the reducers read it as the protocol's Collab*EndEvent
# (a wait_agent's is not read). Measured on 0.164.0, 0.165.0, 0.169.0 and 0.171.0: the same rules.
ACTIVITY_MARKER = "agent_thread_id"
# The reducers keep the last ref of each payload id (their `raw_payloads` map), and an activity reads its call's
# invocation by id: at the path of that id's last ref so far, whatever that ref's kind or event (a protocol
# event's ref giving the id another path redirects the read; a ref naming the id's own path again restores
# it). Measured on 0.143.0, 0.162.0, 0.164.0, 0.165.0, 0.166.0, 0.167.2, 0.169.0, 0.169.1 and 0.170.0; v3
# rejects a second ref that differs (STORE.KIND_CONFLICT), so there the read is the call's own ref.
DEFERRED_READ_BY_LAST_REF = True
# Not only a multi-agent call's: a runtime end holding the marker is read as a sub-agent activity
# whatever the call's tool kind, before any other reading (an exec_command's `completed` activity is
# accepted, not parsed as an exec end; a web call's `started` one is "sub-agent activity Started does not
# match tool call kind Web"), except for a kind listed here from the release given on (an mcp call's
# runtime end is not read so on 0.169.0 and 0.171.0; 0.164.0 reads it). Measured on 0.164.0, 0.169.0 and
# 0.171.0 with every tool kind.
ACTIVITY_UNREAD_SINCE = {"mcp": "0.169.0"}
# Without the marker, the keys a Collab*EndEvent must hold first, in the order the reducers ask for
# them ("missing field `call_id`", then `sender_thread_id`; "invalid type: number, expected a string";
# a sender_thread_id not a UUID: "invalid character: expected an optional prefix of `urn:uuid:`"),
# measured on 0.164.0 (spawn_agent, send_message, assign_agent_task, close_agent), 0.169.0 and
# 0.171.0 (spawn_agent, close_agent); later keys are not known to the kit (it accepts what holds these). A wait_agent's
# runtime end is not read.
COLLAB_END_KEYS: tuple[tuple[str, str], ...] = ((CALL_ID, "string"), ("sender_thread_id", "uuid"))
COLLAB_END_UNREAD = ("wait_agent",)
# Then the keys of each tool kind's Collab*EndEvent, in the order the reducers ask for them; a type
# ending in "?" may be absent or null. Measured on 0.164.0, 0.169.0 and 0.171.0 (the same): each key
# removed ("missing field"), null, a number, a string that is no UUID ("invalid character"),
# `reasoning_effort` "zz" (any string), `new_thread_id` on a send_message or close_agent (not read).
COLLAB_STATUS = "agent status"
COLLAB_END_BY_KIND: dict[str, tuple[tuple[str, str], ...]] = {
    "spawn_agent": (("new_thread_id", "uuid?"), ("prompt", "string"), ("model", "string"),
                    ("reasoning_effort", "string"), ("status", COLLAB_STATUS)),
    "send_message": (("receiver_thread_id", "uuid"), ("prompt", "string"), ("status", COLLAB_STATUS)),
    "assign_agent_task": (("receiver_thread_id", "uuid"), ("prompt", "string"), ("status", COLLAB_STATUS)),
    "close_agent": (("receiver_thread_id", "uuid"), ("status", COLLAB_STATUS)),
}
# An agent status (AgentStatus, serde's external tagging): one of these strings (or a one-key object
# naming one, any value), or a one-key object {variant: message} of a message variant, its message a
# string (`completed`'s also null). "unknown variant", "invalid type: unit variant, expected newtype
# variant" (a bare "completed"), "expected map with a single key" (measured on 0.164.0, 0.169.0, 0.171.0).
AGENT_STATUS_UNIT = ("pending_init", "running", "interrupted", "shutdown", "not_found")
AGENT_STATUS_MESSAGE = {"completed": "string?", "errored": "string"}
# activity `kind` -> the tool kinds it may end ("sub-agent activity Started does not match tool call
# kind AssignAgentTask"); None: every multi-agent tool kind.
ACTIVITY_KINDS: dict[str, tuple[str, ...] | None] = {
    "started": ("spawn_agent",),
    "interacted": ("assign_agent_task", "send_message"),
    "interrupted": ("close_agent",),
    "completed": None,
}
# Activities for which the reducers parse the call's invocation payload: `payload` must be an object
# whose `arguments` is a string TEXT (its `type` is not looked at: "custom", "function\u0000", a number or
# none at all pass, measured on 0.164.0, 0.169.0, 0.171.0) and TEXT a JSON object with a string `message`
# (AgentMessageInvocationArgs): "agent activity tool call {id} missing invocation payload",
# "... missing function arguments", "parse agent activity tool call {id} arguments".
ACTIVITY_READS_INVOCATION = ("started", "interacted")


# What an ArgumentField takes, besides an integer of a Rust type (model.types.INT_RANGES: an integer literal
# in its range; 1.0, 1e2 and -0 are not integers: serde_json reads `-0` as the float -0.0, "invalid type:
# floating point `-0.0`, expected u64" on 0.125.0 and 0.164.0): a string without a lone surrogate, or any
# number; one beyond f64 (1e400, 400 digits) only where the release reads numbers with arbitrary precision
# (0.125.0 refuses `"session_id":1e400`, 0.164.0 takes it: release data reducer.number_range).
ARGUMENT_STRING, ARGUMENT_NUMBER = "string", "number"
# serde's derived struct is also read from a JSON array: the fields' values in their order, every field given
# (one an object may leave out too) and no more. Measured on 0.164.0, 0.169.0 and 0.171.0 for the activity
# (["x"] passes; [], ["x",1], [5], [null] fail) and on 0.125.0 and 0.164.0 for write_stdin ([1,"x",null,null]
# and ["s","x",5,6] pass; [1,"x",null], five values, [null,"x",null,null] and [1,"x",-0,null] fail).
ARGUMENTS_AS_ARRAY = True
# An agent_message item's metadata passthrough, as AGENT_MESSAGE_TYPED releases read it: absent, null, an object
# or an array (serde's sequence form) of at most PASSTHROUGH_LENGTH values; these fields (in the sequence form,
# its first values in this order) null or of this type, other keys and values anything (5, "x", true, {} or []
# as the passthrough, a string or array create_time, a number turn_id, [null,"x"] and six values fail;
# ["t",1.5,[],1,2], 1e400, -0 and a create_time given twice pass: measured on 0.169.0 and 0.170.0).
# The releases that check an accepted agent_message's content parts also read a part in serde's sequence
# form, [type, its AGENT_MESSAGE_PARTS value] (["input_text", "x"] and ["encrypted_content", "x"] pass;
# ["input_text"], ["input_text", 5], three values, [] and ["zzz", "x"] fail: measured on 0.169.0, 0.170.0
# and 0.171.0, from the 100,000-mutant run of session 10; 0.167.2 and 0.168.0 check no part).
AGENT_MESSAGE_PART_SEQUENCE = True
AGENT_MESSAGE_PASSTHROUGH = "internal_chat_message_metadata_passthrough"
PASSTHROUGH_FIELDS = (("turn_id", ARGUMENT_STRING), ("create_time", ARGUMENT_NUMBER))
PASSTHROUGH_LENGTH = 5


@dataclass(frozen=True)
class ArgumentField:
    """A key of a tool call's JSON arguments that a reducer reads as a typed struct field (serde's derive):
    given at most once, of one of ``takes`` (ARGUMENT_STRING, ARGUMENT_NUMBER or an INT_RANGES type), or null
    when ``nullable``; absent only when not ``required``. Keys no field names are ignored (repeats and
    surrogates included)."""

    name: str
    takes: tuple[str, ...]
    required: bool = False
    nullable: bool = False

    def __post_init__(self) -> None:
        unknown = set(self.takes) - {ARGUMENT_STRING, ARGUMENT_NUMBER, *INT_RANGES}
        if unknown:
            raise ValueError(f"ArgumentField {self.name}: takes {sorted(unknown)}, which the model does not know")


# The activity's arguments (AgentMessageInvocationArgs), measured on 0.164.0, 0.169.0 and 0.171.0: a
# message given twice, holding a lone surrogate or not a string fails; other keys pass ("task_name": 5 too).
ACTIVITY_ARGUMENT_FIELDS = (ArgumentField("message", (ARGUMENT_STRING,), required=True),)
# Roots an agent path may have: "absolute agent paths must start with `/root` or be `/morpheus`".
AGENT_PATH_ROOT = "/root"
AGENT_PATH_OTHER = "/morpheus"


# -- invocations the reducers parse ----------------------------------------------------------

# Tool kind -> the `tool_name` its invocation must name. The reducers parse such a call's
# invocation at its start as a dispatch payload (DispatchedToolTraceRequestPayload): an object with
# that `tool_name`, `tool_namespace` a string or null, `payload` `{"type": "function", "arguments":
# TEXT}` (the arguments' content is not checked there); a null invocation is not read. "parse
# terminal invocation payload {id} as dispatch payload" (measured on 0.164.0, 0.169.0, 0.171.0).
# The kinds are those whose terminal operation starts at dispatch (common.py: the one list);
# the name an invocation must give is the kind's own.
PARSED_INVOCATIONS = {kind: kind for kind in TERMINAL_AT_DISPATCH_KINDS}
# An invocation whose `tool_namespace` is a string is not parsed so (0.164.0 accepts any name and
# arguments there, measured with an MCP tool's invocation), and is no dispatch: the start creates no
# terminal operation (a runtime start then creates it), and 0.164.0 does not open the call's result
# as it does a dispatched write_stdin's. Measured on 0.164.0, 0.169.0 and 0.171.0.
DISPATCH_NAMESPACED_UNPARSED = True
# Up to this release the reducer also parses the arguments (0.169.0 and 0.171.0 take any arguments text):
# write_stdin's, measured on 0.125.0 and 0.164.0 (a session_id null, true, [1] or {} fails, "abc", 1.5 or
# -0 passes, 1e400 too on 0.164.0; chars absent passes, null or 5 fails; yield_time_ms null passes, -1, 1.5, 1.0, 1e2, "1" or
# 2**64 or -0 fails; a known key given twice fails, even as null twice).
DISPATCH_ARGUMENTS_UNTIL = "0.164.0"
DISPATCH_ARGUMENT_FIELDS = (
    ArgumentField("session_id", (ARGUMENT_STRING, ARGUMENT_NUMBER), required=True),
    ArgumentField("chars", (ARGUMENT_STRING,)),
    ArgumentField("yield_time_ms", ("u64",), nullable=True),
    ArgumentField("max_output_tokens", ("u64",), nullable=True),
)


# The dispatch payload a terminal response (common.TERMINAL_RESPONSE_KINDS) may be instead of an exec end: an
# object of this `type` holding this key, any value there (measured on 0.164.0, 0.169.0, 0.171.0: a number
# accepted; the type without the key, `error`, `code_mode_response` or another type rejected).
DISPATCH_RESPONSE = ("direct_response", "response_item")


def is_dispatch_response(body: Any) -> bool:
    kind, key = DISPATCH_RESPONSE
    return isinstance(body, dict) and body.get("type") == kind and key in body


# -- MCP invocations in runtime starts -------------------------------------------------------

# From SINCE to UNTIL the reducer parses the `invocation` of a runtime start body, whatever the tool
# kind (an exec or patch start too), as an McpInvocation: an object with string `server` and `tool`
# (`arguments` any JSON, or absent). A body without the key (or not an object) is not parsed so.
# "parse MCP runtime invocation in {id}": "missing field `server`", "invalid type: null, expected
# struct McpInvocation", "invalid type: number, expected a string" (measured on 0.164.0 and 0.165.0;
# 0.125.0, 0.135.0, 0.143.0, 0.162.0, 0.166.0, 0.167.2, 0.169.0 and 0.171.0 accept any invocation
# there). A runtime end's is not parsed.
MCP_INVOCATION_KEY = "invocation"
MCP_INVOCATION_STRINGS = ("server", "tool")
MCP_INVOCATION_LAYOUT = (*MCP_INVOCATION_STRINGS, "arguments")  # its sequence form (DISPATCH_LAYOUT's note)
MCP_INVOCATION_SINCE = "0.164.0"
MCP_INVOCATION_UNTIL = "0.165.0"


# -- bodies by payload kind ------------------------------------------------------------------


@dataclass(frozen=True)
class BodyKey:
    name: str
    type: str  # what the reducer needs there, in words ("array of model items", "string", ...)
    required: bool = True
    doc: str = ""


@dataclass(frozen=True)
class BodyContract:
    """What the reducers need a payload of one kind (at one place) to hold."""

    kind: str  # RawPayloadKind
    where: tuple[str, ...]  # "variant.field" refs that hold it
    doc: str
    shape: str  # "object", "array of strings", "any JSON"
    keys: tuple[BodyKey, ...] = ()
    example: Any = None
    dialects: tuple[str, ...] = ("v1", "v2", "v3")
    source: str = ""
    notes: tuple[str, ...] = field(default=())


ITEMS = "array of model items"

# Body keys the validator checks and the corruption operators break, named once (the contracts
# below use them): what a request, a response, a checkpoint and a terminal runtime body hold.
REQUEST_INPUT = "input"
REQUEST_PREVIOUS_RESPONSE = "previous_response_id"
RESPONSE_ITEMS = "output_items"
CHECKPOINT_HISTORIES = ("input_history", "replacement_history")
EXEC_COMMAND, EXEC_CWD, EXEC_PROCESS_ID, EXEC_INTERACTION_INPUT = "command", "cwd", "process_id", "interaction_input"
EXEC_EXIT_CODE, EXEC_AGGREGATED_OUTPUT = "exit_code", "aggregated_output"
# A tool invocation's keys: the tool, its namespace, and the call's payload (function arguments or custom input).
INVOCATION_TOOL, INVOCATION_NAMESPACE, INVOCATION_PAYLOAD = "tool_name", "tool_namespace", "payload"
# serde's sequence form (a derived struct read from a JSON array of its fields' values, in their Rust order, each
# given: KIT.SEQUENCE_FORM) of the body structs whose order is measured, so the kit reads it as the reducers do.
# On 0.164.0: a dispatch payload ["write_stdin", null, {...}] and its function payload ["function", TEXT] (the
# tag first) are read, ["write_stdin", null] is not; an MCP invocation ["s", "t", null] is read, ["s", "t"] and
# ["s", 5, null] are not. A body struct whose order is not measured (an agent activity, a terminal runtime
# body, the thread metadata) in that form is declined.
DISPATCH_LAYOUT = (INVOCATION_TOOL, INVOCATION_NAMESPACE, INVOCATION_PAYLOAD)
DISPATCH_FUNCTION_LAYOUT = ("type", "arguments")
MODEL_ITEM_EXAMPLE = {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "hello"}]}

BODIES: tuple[BodyContract, ...] = (
    BodyContract(
        "session_metadata", ("thread_started.metadata_payload",),
        "The thread's session metadata. Every key is optional for the reducer; those it reads must have their type.",
        "object",
        (
            BodyKey("agent_path", "string or null", False),
            BodyKey("task_name", "string or null", False),
            BodyKey("nickname", "string or null", False),
            BodyKey("agent_role", "string or null", False),
            BodyKey("model", "string or null", False),
            BodyKey("session_source", "`\"exec\"`, or `{\"subagent\": {\"thread_spawn\": {\"parent_thread_id\": ...}}}`", False),
        ),
        {"thread_id": "thread-1", "agent_path": "/root", "task_name": None, "nickname": None, "agent_role": None,
         "session_source": "exec", "cwd": "/home/dev/project", "model": "gpt-5.5", "provider_name": "openai"},
        source='reducer/thread.rs: "parse thread metadata {id}"',
    ),
    BodyContract(
        "inference_request", ("inference_started.request_payload",),
        "The request sent to the provider (Responses API). The reducer appends its `input` items to the thread's "
        "conversation; `previous_response_id` names a response completed earlier in the same thread.",
        "object",
        (BodyKey(REQUEST_INPUT, ITEMS, doc="Every item normalisable (see Model items)."),
         BodyKey(REQUEST_PREVIOUS_RESPONSE, "string", False,
                 "An incremental request's earlier response. A value of another type (a number, an object, ...) "
                 "is read as absent: a full request (measured on 0.164.0, 0.169.0, 0.171.0).")),
        {"model": "gpt-5.5", "input": [MODEL_ITEM_EXAMPLE], "tools": [], "stream": True},
        source='reducer/inference.rs: "did not contain input", "had non-array input"',
    ),
    BodyContract(
        "inference_response", ("inference_completed.response_payload", "inference_failed.partial_response_payload",
                               "inference_cancelled.partial_response_payload"),
        "The response's output items and usage.",
        "object",
        (BodyKey(RESPONSE_ITEMS, ITEMS),
         BodyKey("token_usage", "object or null", False),
         BodyKey("response_id", "string or null", False),
         BodyKey("upstream_request_id", "string or null", False)),
        {"response_id": "resp-1", "upstream_request_id": "req-1", "token_usage": None,
         "output_items": [{"type": "function_call", "name": "exec_command", "arguments": "{\"cmd\":\"ls\"}", "call_id": "call-1"}]},
        source='reducer/inference.rs: "inference response payload {id} did not contain output_items"',
    ),
    BodyContract(
        "prepared_prompt", ("inference_started.prepared_prompt_payload",),
        "Codex's own prompt for the call, stored as text fragments around its `parts` (the `model_item` records): a "
        "JSON array of strings, one more than the ref's parts. The fragments interleaved with the parts' bodies form "
        "one JSON document. Any ref (or part) with non-empty `parts` is stored this way; without parts the reducer "
        "reads any JSON body there.",
        "array of strings",
        example=prompt_fragments(1),
        dialects=("v3",),
        source='0.171.0: "invalid payload fragment count", "invalid type: map, expected a sequence", '
        '"trailing characters", "expected value" (measured)',
    ),
    BodyContract(
        "model_item", ("RawPayloadRef.parts",),
        "One model item a prepared prompt is assembled from; its JSON text is spliced between two fragments.",
        "object", (BodyKey("type", "string", doc="A model item type."),),
        MODEL_ITEM_EXAMPLE, dialects=("v3",), source="0.171.0 (measured)",
    ),
    BodyContract(
        "protocol_event", ("history_item_accepted.agent_message_payload",),
        "An inter-agent message accepted into history: the `agent_message` model item whose `id` is the event's `item_id`.",
        "object",
        (BodyKey("type", '`"agent_message"`'), BodyKey("id", "string: the event's `item_id`"),
         BodyKey("author", "string"), BodyKey("recipient", "string"),
         BodyKey("content", "non-empty array of `input_text` / `encrypted_content` parts"),
         BodyKey(AGENT_MESSAGE_PASSTHROUGH,
                 f"null, or an object (or array of at most {PASSTHROUGH_LENGTH} values) whose "
                 + ", ".join(f"`{n}` is a {t} or null" for n, t in PASSTHROUGH_FIELDS)
                 + f"; typed only by Codex {AGENT_MESSAGE_TYPED[0]} to {AGENT_MESSAGE_TYPED[1]}", False)),
        {"type": "agent_message", "id": "amsg-1", "author": "/root/child", "recipient": "/root",
         "content": [{"type": "input_text", "text": "done"}]},
        dialects=("v2", "v3"),
        source='0.169.0: "accepted agent message does not match receipt ID" (measured)',
    ),
    BodyContract(
        "protocol_event", ("history_item_accepted.tool_output_payload",),
        "A tool output accepted into history: a model item of a tool output type (TOOL_OUTPUT_TYPES) whose `id` is "
        "the event's `item_id`.",
        "object",
        (BodyKey("type", "one of " + ", ".join(f"`{t}`" for t in TOOL_OUTPUT_TYPES)),
         BodyKey("id", "string: the event's `item_id`"), BodyKey("call_id", "string", False)),
        {"type": "function_call_output", "id": "fco-1", "call_id": "call-1", "output": "ok"},
        dialects=("v3",),
        source='0.171.0: "accepted item payload does not match {item_id}", "model item in payload {id} did not '
        'contain a string type" (measured)',
    ),
    BodyContract(
        "terminal_runtime_event", ("tool_call_runtime_started.runtime_payload",),
        "The runtime start that creates a terminal operation, an `exec_command`'s or a `write_stdin`'s (Codex labels "
        "it `tool_runtime_event`). Its `process_id` is the terminal operation's; an `exec_command`'s runtime end may "
        "not change it.",
        "object",
        (BodyKey(EXEC_COMMAND, "array of strings"), BodyKey(EXEC_CWD, "string"),
         BodyKey(EXEC_PROCESS_ID, "string or null", False), BodyKey(EXEC_INTERACTION_INPUT, "string or null", False)),
        {"call_id": "call-1", "process_id": "4242", "turn_id": "turn-1", "command": ["/bin/bash", "-lc", "ls"],
         "cwd": "/home/dev/project", "source": "unified_exec_startup"},
        source='reducer/tool/terminal.rs: "parse terminal runtime start payload {id}", "terminal operation {op} '
        'changed process id from {a} to {b}" (measured on 0.164.0, 0.169.0, 0.171.0)',
    ),
    BodyContract(
        "terminal_runtime_event", ("tool_call_runtime_ended.runtime_payload",),
        "An `exec_command` runtime end.",
        "object",
        (BodyKey(EXEC_EXIT_CODE, "integer (i32)"), BodyKey(EXEC_PROCESS_ID, "string or null, the start's", False),
         BodyKey(EXEC_AGGREGATED_OUTPUT, "string (not null)", False)),
        {"call_id": "call-1", "process_id": "4242", "turn_id": "turn-1", "command": ["/bin/bash", "-lc", "ls"],
         "cwd": "/home/dev/project", "aggregated_output": "README.md\n", "exit_code": 0, "status": "completed"},
        source='reducer/tool/terminal.rs: "parse exec terminal response {id}"',
    ),
    BodyContract(
        "tool_runtime_event", ("tool_call_runtime_ended.runtime_payload",),
        "A multi-agent tool call's runtime end (spawn_agent, send_message, ...) that holds `agent_thread_id`: a "
        "sub-agent activity. Its `kind` must fit the call's tool kind (ACTIVITY_KINDS); for `started` and "
        "`interacted` the reducer also parses the call's invocation arguments, which must hold a string `message`.",
        "object",
        (BodyKey("event_id", "string"), BodyKey("agent_thread_id", "a UUID (the child thread)"),
         BodyKey("agent_path", "string: `/root...` or `/morpheus`"),
         BodyKey("kind", "one of " + ", ".join(f"`{k}`" for k in ACTIVITY_KINDS)),
         BodyKey("occurred_at_ms", "integer (i64), not null", False),
         BodyKey("model", "string or null", False), BodyKey("reasoning_effort", "string or null", False)),
        {"model": "gpt-5.5", "reasoning_effort": "medium", "event_id": "call-41", "occurred_at_ms": 1795625369222,
         "agent_thread_id": "01a2139c-be82-7122-b5b2-7c62fb23c95b", "agent_path": "/root/child_task", "kind": "started"},
        source='"sub-agent activity {A} does not match tool call kind {K}", "agent activity tool call {id} missing '
        'invocation payload", "... missing function arguments", "parse agent activity tool call {id} arguments" '
        "(measured on 0.164.0, 0.165.0, 0.169.0, 0.171.0)",
    ),
    BodyContract(
        "compaction_checkpoint", ("compaction_installed.checkpoint_payload",),
        "The histories before and after a compaction; both are conversations the reducer normalises, and their "
        "call items join the thread's model-visible call ids (a call id reused there with other content is "
        "rejected, CHECKPOINT_CALL_ID_HISTORIES).",
        "object",
        tuple(BodyKey(k, ITEMS) for k in CHECKPOINT_HISTORIES),
        {"input_history": [MODEL_ITEM_EXAMPLE], "replacement_history": [{"type": "compaction", "encrypted_content": "gAAA..."}]},
        source='reducer/compaction.rs: "did not contain array input_history"; "unsupported model item type" '
        "(measured on 0.164.0, 0.169.0, 0.171.0)",
    ),
    BodyContract(
        "tool_invocation", ("tool_call_started.invocation_payload",),
        "The tool invocation as dispatched. Not parsed by the reducers but for a `write_stdin` and a code-mode `wait`.",
        "object",
        (BodyKey(INVOCATION_TOOL, "string"), BodyKey(INVOCATION_NAMESPACE, "string or null"),
         BodyKey(INVOCATION_PAYLOAD, '`{"type": "function", "arguments": ...}` or `{"type": "custom", "input": ...}`')),
        {"tool_name": "exec_command", "tool_namespace": None, "payload": {"type": "function", "arguments": "{\"cmd\":\"ls\"}"}},
        source="upstream-rules A.8",
    ),
    BodyContract(
        "tool_result", ("tool_call_ended.result_payload",),
        "What the tool returned to its caller.",
        "object",
        (BodyKey("type", '`"direct_response"`, `"code_mode_response"` or `"error"`'),),
        {"type": "direct_response", "response_item": {"type": "function_call_output", "call_id": "call-1", "output": "ok"}},
        source="upstream-rules A.8",
    ),
    BodyContract(
        "tool_result", ("code_cell_initial_response.response_payload", "code_cell_ended.response_payload"),
        "What a code cell returned to the model: Codex writes `{\"response\": {\"Result\": ...}}` here (no `type`). "
        "The reducers do not parse its keys.",
        "object",
        example={"response": {"Result": {"cell_id": "1", "content_items": [{"type": "input_text", "text": "done"}],
                                         "error_text": None, "code_mode_host_duration": {"secs": 0, "nanos": 1000}}}},
        source="the 0.164.0 and 0.169.0 corpus (code_mode)",
    ),
)


def contract(where: str, kind: str | None = None) -> BodyContract:
    """The contract of the payload a ref field holds ("variant.field"); ``kind`` tells two apart at
    one place (an exec runtime end, ``terminal_runtime_event``, from a sub-agent activity's)."""
    for c in BODIES:
        if where in c.where and kind in (None, c.kind):
            return c
    raise KeyError(where if kind is None else f"{where} ({kind})")


def required_keys(c: BodyContract) -> tuple[str, ...]:
    return tuple(k.name for k in c.keys if k.required)


def unsupported_item_type() -> str:
    """A model item type no reducer normalises (for corruptions and tests)."""
    return next(t for t in ("narration", "narration_item") if t not in ITEM_TYPE)


def unsupported_role() -> str:
    return next(r for r in ("narrator", "narrator_role") if r not in MESSAGE_ROLES)


def contracts(dialect: str) -> tuple[BodyContract, ...]:
    """The body contracts of ``dialect`` (by name)."""
    return tuple(c for c in BODIES if dialect in c.dialects)
