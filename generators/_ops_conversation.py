"""Corruptions of a thread's model conversation (the validator's rules/conversation.py)."""

from __future__ import annotations

from ..model.common import EnvelopeKey as E
from ..model import bodies as MB
from ._edit import Editor
from ._ops_bodies import _owned_body
from ._ops_common import fresh, pick, result
from .corruptions import corruption


@corruption(
    "INFERENCE.CONVERSATION_MISMATCH",
    "After a response, two incremental requests continue it with different new items (fresh user messages): "
    "the second one's item no longer matches the thread's conversation.",
)
def _conversation_fork(bundle, dialect, rnd):
    ed = Editor(bundle, dialect)
    starts = {ed.payload(i)["inference_call_id"]: i for i in ed.lines_of("inference_started")}
    options = []
    users = ed.payload_users()
    for j in ed.lines_of("inference_completed"):
        p = ed.payload(j)
        i = starts.get(p["inference_call_id"])
        got = None if i is None or not isinstance(p.get("response_id"), str) else _owned_body(ed, i, "request_payload", users)
        if got is not None and isinstance(got[1], dict):
            options.append((i, j, p["response_id"], got[1]))
    got = pick(rnd, options)
    if got is None or not ed.editable():
        return None
    i, j, response_id, body = got
    for k in (1, 2):  # each a request continuing the response: a copy of its start, with its own body
        copy = ed.clone(i)
        p = copy[E.PAYLOAD]
        p["inference_call_id"] = fresh(rnd, f"inference-fork{k}-")  # distinct whatever rnd draws
        item = {"type": "message", "role": "user", "content": [{"type": "input_text", "text": fresh(rnd, f"fork {k} ")}]}
        ed.set_body(p["request_payload"]["path"], {**body, MB.REQUEST_PREVIOUS_RESPONSE: response_id, MB.REQUEST_INPUT: [item]})
        ed.insert(j + k, copy)
    return result(ed, "INFERENCE.CONVERSATION_MISMATCH", j + 2, note="a response continued twice")
