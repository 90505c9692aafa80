"""What each payload id was first referenced as, to catch a later ref that differs.

0.171.0 keeps the first ref of every payload id and compares every later ref to it
whole: "conflicting references for payload {id}" when the kind, the shard, the capture
or the parts differ (measured: an explicit `complete` capture is no capture, empty
`parts` are no parts, key order and unknown keys do not count).

Memory follows the refs, not their size: each distinct form is kept once and each
canonical id costs a small code in a page of 64.
"""

from __future__ import annotations

from array import array

from ...model.common import ZSTD_SHARDS

PAGE_BITS = 6
PAGE = 1 << PAGE_BITS
# A canonical payload id is the layout's prefix then n (the index below relies on n ending it).
_PREFIX, _, _SUFFIX = ZSTD_SHARDS.payload_id.partition("{n}")
_P = len(_PREFIX)
assert not _SUFFIX, "canonical payload ids end with their ordinal"


def ref_form(ref) -> tuple:
    """(kind, shard, capture, parts) of a typed ref, as the reducer compares them."""
    parts = getattr(ref, "parts", None)
    return (
        ref.kind.type,
        ref.shard,
        capture_form(getattr(ref, "capture", None)),
        tuple((p.raw_payload_id, *ref_form(p)) for p in parts) if parts else None,
    )


def capture_form(cap) -> tuple | None:
    if cap is None:
        return None
    status = type(cap).__struct_config__.tag
    if status == "complete":
        return None
    return (status, getattr(cap, "original_bytes", None), getattr(cap, "retained_bytes", None))


def describe(form: tuple) -> str:
    kind, shard, capture, parts = form
    out = f"kind {kind!r}, shard {shard}"
    if capture is not None:
        out += f", capture {capture[0]} " + "/".join(str(x) for x in capture[1:] if x is not None)
    if parts:
        out += f", {len(parts)} part(s)"
    return out


def difference(old: tuple, new: tuple) -> str:
    """The first component two forms differ in ("kind", "shard", "capture", "parts")."""
    return next(name for name, a, b in zip(("kind", "shard", "capture", "parts"), old, new) if a != b)


class RefForms:
    def __init__(self) -> None:
        self.codes: dict[tuple, int] = {}  # form -> code (from 1)
        self.forms: list[tuple] = []  # code - 1 -> form
        self.pages: dict[int, array] = {}  # canonical ordinal >> PAGE_BITS -> codes of 64 ids
        self.others: dict[str, int] = {}  # any other id -> code

    def first(self, rid: str, form: tuple) -> tuple | None:
        """Remember ``form`` for ``rid`` if it is the first; return the earlier form when it differs."""
        tail = rid[_P:]
        # ASCII digits only: "²" is a digit to isdigit() (not to int()), "١" is 1 to int(); both are other ids
        if rid[:_P] == _PREFIX and tail.isascii() and tail.isdigit() and tail[:1] != "0" and len(tail) < 19:
            return self.first_canonical(int(tail), form)
        code = self._code(form)
        old = self.others.setdefault(rid, code)
        return None if old == code else self.forms[old - 1]

    def first_canonical(self, n: int, form: tuple) -> tuple | None:
        """``first`` for the canonical id of ordinal ``n`` (n >= 1, fewer than 19 digits)."""
        code = self.codes.get(form)
        if code is None:
            code = self._code(form)
        page = self.pages.get(n >> PAGE_BITS)
        if page is None:
            page = self.pages[n >> PAGE_BITS] = array("I", bytes(4 * PAGE))
        old = page[n & (PAGE - 1)]
        if not old:
            page[n & (PAGE - 1)] = code
            return None
        return None if old == code else self.forms[old - 1]

    def first_plain(self, ns: list[int], kinds: list[str], shard: int) -> bool:
        """``first_canonical(n, (kind, shard, None, None))`` for each n and kind (refs of no
        capture or parts), all or none: False, with nothing recorded, when one of the ids has
        another form already."""
        # kinds in their first ref's order: new forms get their codes in the order one by one gives them
        codes = {kind: self.codes.get((kind, shard, None, None), 0) for kind in dict.fromkeys(kinds)}
        pages = self.pages
        for n, kind in zip(ns, kinds):
            page = pages.get(n >> PAGE_BITS)
            old = page[n & (PAGE - 1)] if page is not None else 0
            if old and old != codes[kind]:  # (a form not yet coded is on no id)
                return False
        for kind in codes:
            codes[kind] = self._code((kind, shard, None, None))
        for n, kind in zip(ns, kinds):
            page = pages.get(n >> PAGE_BITS)
            if page is None:
                page = pages[n >> PAGE_BITS] = array("I", bytes(4 * PAGE))
            page[n & (PAGE - 1)] = codes[kind]
        return True

    def _code(self, form: tuple) -> int:
        code = self.codes.get(form)
        if code is None:
            self.forms.append(form)
            code = self.codes[form] = len(self.forms)
        return code
