"""A thread's model conversation, as the reducers match incremental requests against it.

Measured on Codex 0.164.0, 0.169.0 and 0.171.0 (tests/test_reducer_verdicts_dispatch.py
and tests/test_reducer_verdicts_conversation.py replay each case through them): every thread
keeps one conversation, a list of items. A full request (no ``previous_response_id``) sets it
to its input, unchecked. A response's snapshot is its request's items followed by its output
items; what the response does to the conversation is release data (model/bodies.py:
CONVERSATION_RESPONSE_APPENDS_UNTIL: v1 reducers append its outputs to the conversation as it
stands, later ones set it to the snapshot when the response's inference is the thread's latest).
An incremental request is the snapshot of the response it names followed by its own input: its
items past the snapshot must match the conversation's items at the same positions, where the
conversation has any ("model conversation mismatch while reducing turn {t} for thread {th} at
item index {n}: existing item conversation_item:{m} does not match the current model payload
item"); it then becomes the conversation. What "match" compares is model data
(model/bodies.py: ItemType.match_keys, match_as).

Each item is kept as a 16-byte digest; a response's snapshot is a tuple of the digests
the conversation already holds (shared objects), so memory grows with the conversation
times the few snapshots and requests kept per thread (KEPT_SNAPSHOTS).
"""

from __future__ import annotations

import hashlib
import marshal

from ...model import bodies as B
from ..catalogue import R, invariant

CONVERSATION_MISMATCH = invariant(
    "INFERENCE.CONVERSATION_MISMATCH",
    "An incremental request's items past the snapshot of the response it names (that response's request and "
    "output items) match the thread's conversation items at the same positions: the conversation is what the "
    "last request or response of the thread held (model/bodies.py: ItemType.match_keys).",
    v1=R, v2=R,
    source='reducer/conversation.rs: "model conversation mismatch while reducing turn {t} for thread {th} at item '
    'index {n}: existing item conversation_item:{m} does not match the current model payload item" (measured on '
    "0.164.0, 0.169.0, 0.171.0; a full request is never checked so)",
)


def _values(item: dict, key: str):
    if key.endswith("[].text"):
        entries = item.get(key[: -len("[].text")])
        if not isinstance(entries, list):
            return None
        return tuple(e.get("text") if isinstance(e, dict) else None for e in entries)
    return item.get(key)


def compared(item) -> tuple:
    """What the reducers compare of an item in a conversation."""
    kind = item.get("type") if isinstance(item, dict) else None
    t = B.ITEM_TYPE.get(kind) if isinstance(kind, str) else None
    if t is None:  # not an item the reducers normalise: the body checks reject it
        return (repr(kind),)
    return (t.match_as or t.tag, *(_values(item, k) for k in t.match_keys))


def digest(item) -> bytes:
    """The item as the reducers compare it in a conversation (a digest of what they compare)."""
    seen = compared(item)
    try:
        # marshal's version 0 writes each value with its type and in full (no references, no interning
        # flag): two seen tuples give the same bytes exactly when their reprs are the same (1 and 1.0,
        # 0.0 and -0.0, a list and a tuple, key order all differ in both), at a twelfth of repr's cost
        # on the corpus's request items (long message texts)
        data = marshal.dumps(seen, 0)
    except ValueError:  # nested deeper than marshal writes: the repr, as before
        data = repr(seen).encode("utf-8", "surrogatepass")
    return hashlib.blake2b(data, digest_size=16).digest()


KEPT_SNAPSHOTS = 8  # per thread


def response_appends(release: str) -> bool:
    """Whether ``release``'s reducer appends a response's outputs to the conversation as it stands
    (model/bodies.py: CONVERSATION_RESPONSE_APPENDS_UNTIL), rather than setting it for the latest request."""
    from ...model.types import release_key

    return release_key(release) <= release_key(B.CONVERSATION_RESPONSE_APPENDS_UNTIL)


class Conversations:
    """The conversation of every thread (by thread index) and the snapshots of its responses."""

    def __init__(self, appends: bool = False) -> None:
        self.appends = appends
        # thread -> its conversation; absent: nothing known to compare against (none yet, a compaction,
        # or a request continuing a response whose snapshot is no longer kept)
        self.current: dict[int, list[bytes]] = {}
        # (thread, response id) -> the conversation after it. Only the last few responses of each
        # thread are kept: a request continues a recent response, and keeping every snapshot would
        # grow with responses x conversation length (a long thread is not a live entity). A request
        # continuing an older response is not compared (the kit errs towards accepting).
        self.snapshots: dict[tuple[int, str], tuple[bytes, ...]] = {}
        self.recent: dict[int, list[str]] = {}  # thread -> its kept response ids, oldest first
        # inference -> (thread, its request's items; None: not known). Kept past the completion, for
        # the last few inferences of each thread, because a later completion of the same inference is
        # read again (a duplicate or late completion is not an error for the reducers).
        self.requests: dict[str, tuple[int, tuple[bytes, ...] | None]] = {}
        self.completed: dict[int, list[str]] = {}  # thread -> its completed inferences kept, oldest first
        self.latest: dict[int, str] = {}  # thread -> its latest started inference

    def request(self, thread: int, call: str, body: dict) -> int | None:
        """Record a request; the item index where it does not match the conversation, or None."""
        own = tuple(digest(i) for i in body[B.REQUEST_INPUT])
        items: tuple[bytes, ...] | None = own
        previous = body.get(B.REQUEST_PREVIOUS_RESPONSE)
        self.latest[thread] = call
        mismatch = None
        if isinstance(previous, str):
            base = self.snapshots.get((thread, previous))
            if base is None:  # a response not traced, or no longer kept: the conversation is not known
                items = None
            else:
                items = base + own
                now = self.current.get(thread, ())
                for j in range(len(base), min(len(items), len(now))):
                    if now[j] != items[j]:
                        mismatch = j
                        break
        if items is None:
            self.current.pop(thread, None)
        else:
            self.current[thread] = list(items)
        self.requests[call] = (thread, items)
        return mismatch

    def response(self, call: str, response_id: str | None, outputs: list) -> None:
        """A response to ``call``: its snapshot, and the conversation it leaves (CONVERSATION_RESPONSE_APPENDS_UNTIL)."""
        got = self.requests.get(call)
        if got is None:
            return
        thread, items = got
        out = tuple(digest(o) for o in outputs)
        if self.appends:
            now = self.current.get(thread)
            if now is not None:
                now.extend(out)
        elif self.latest.get(thread) == call:
            if items is None:
                self.current.pop(thread, None)
            else:
                self.current[thread] = list(items + out)
        if items is not None and response_id is not None:
            self.snapshots[(thread, response_id)] = items + out
            kept = self.recent.setdefault(thread, [])
            kept.append(response_id)
            if len(kept) > KEPT_SNAPSHOTS:
                old = kept.pop(0)
                if old not in kept:
                    self.snapshots.pop((thread, old), None)
        done = self.completed.setdefault(thread, [])
        if call not in done:
            done.append(call)
            if len(done) > KEPT_SNAPSHOTS:
                self.requests.pop(done.pop(0), None)

    def drop(self, call: str) -> None:
        """A failed or cancelled inference: its partial output is not taken as the conversation."""
        self.requests.pop(call, None)

    def forget(self, thread: int) -> None:
        """A compaction replaced the thread's history: nothing known to compare against."""
        self.current.pop(thread, None)
