"""The ``body`` layer: payload bodies per kind (prepared prompt fragments, model items,
call ids and other identities), and the value edits of :mod:`.values` inside a body."""

from __future__ import annotations

import random
from typing import Any

from .. import jsontext
from ..jsontext import get, put, walk
from ..view import bodies, kinds, set_body
from . import Mutator
from .values import TREE_OPS, as_sequence

ITEM_TYPES = ("message", "function_call", "function_call_output", "custom_tool_call", "custom_tool_call_output",
              "reasoning", "local_shell_call", "web_search_call", "compaction", "image_generation_call",
              "tool_search_call", "not_an_item")
ROLES = ("user", "assistant", "developer", "system", "tool", "critic", "")
CONTENTS: tuple[Any, ...] = ([], "text", None, [{"type": "output_text", "text": "x"}], [{"type": "input_text", "text": "x"}],
                             [{"type": "not_content"}], [{"text": "x"}], [{"type": "input_image", "image_url": "data:"}])


def _parsed_bodies(bundle, want_kind: tuple[str, ...] | None = None) -> list[tuple[tuple, str, Any]]:
    kind_of = kinds(bundle) if want_kind else {}
    out = []
    for key, rid, data in bodies(bundle):
        if want_kind and kind_of.get(rid) not in want_kind:
            continue
        try:
            out.append((key, rid, jsontext.loads(data)))
        except ValueError:
            continue
    return out


def _tree_op(op):
    def apply(bundle, rng: random.Random) -> bool:
        found = _parsed_bodies(bundle)
        if not found:
            return False
        key, _, tree = rng.choice(found)
        new = op(tree, rng)
        if new is None:
            return False
        set_body(bundle, key, jsontext.encode(new))
        return True

    return apply


# JSON texts a fragment may hold, by the edges where Python's json and serde_json part: constants
# that are not JSON, an integer past 4,300 digits, beyond f64, a lone surrogate escape, nesting deeper
# than Python's parser goes (closed and not), and a control character
FRAGMENT_VALUES = ("NaN", "Infinity", "-Infinity", "9" * 4301, "1e400", '"\\ud800"', "[" * 3000 + "]" * 3000,
                   "[" * 3000, '"\t"', '"a\u0000"', "null")


def fragments(bundle, rng: random.Random) -> bool:
    """A prepared prompt's fragments (strings spliced around its parts into the request JSON)."""
    found = [(k, t) for k, _, t in _parsed_bodies(bundle, ("prepared_prompt",)) if isinstance(t, list) and t]
    if not found:
        return False
    key, frags = rng.choice(found)
    i = rng.randrange(len(frags))
    op = rng.randrange(8)
    if op == 0:
        del frags[i]
    elif op == 1:
        frags.insert(i, frags[i])
    elif op == 2:
        frags[i] = str(frags[i]).replace(",", "", 1) if "," in str(frags[i]) else "}" + str(frags[i])
    elif op == 3:
        frags.append("")
    elif op == 4:
        frags[i] = 0
    elif op == 5:
        j = rng.randrange(len(frags))
        frags[i], frags[j] = frags[j], frags[i]
    elif op == 6:
        frags[i] = str(frags[i]) + " "  # whitespace: still splices into the same JSON
    else:  # a value spliced in where one may stand (after "[" or ","), else before the fragment
        literal = rng.choice(FRAGMENT_VALUES)
        frag = str(frags[i])
        frags[i] = frag + literal + "," if frag.endswith(("[", ",")) else literal + "," + frag
    set_body(bundle, key, jsontext.encode(frags))
    return True


def _items(tree: Any) -> list[tuple]:
    return [p for p, v in walk(tree) if isinstance(v, dict) and isinstance(v.get("type"), str)
            and ("role" in v or "call_id" in v or v.get("type") in ITEM_TYPES)]


def item(bundle, rng: random.Random) -> bool:
    """A model item (a ``model_item`` body, or one in a request's input or a response's output):
    its type, role, content or ids."""
    found = [(k, t, _items(t)) for k, _, t in _parsed_bodies(bundle)]
    found = [x for x in found if x[2]]
    if not found:
        return False
    key, tree, paths = rng.choice(found)
    p = rng.choice(paths)
    it = get(tree, p)
    op = rng.randrange(5)
    if op == 0:
        it["type"] = rng.choice([t for t in ITEM_TYPES if t != it["type"]])
    elif op == 1:
        it["role"] = rng.choice(ROLES)
    elif op == 2:
        it["content"] = rng.choice(CONTENTS)
    elif op == 3:
        keys = [k for k in it if k != "type"]
        if not keys:
            return False
        del it[rng.choice(keys)]
    else:
        parent = get(tree, p[:-1]) if p else None
        if isinstance(parent, list):
            parent.insert(p[-1], dict(it))  # the item twice
        else:
            return False
    set_body(bundle, key, jsontext.encode(put(tree, (), tree)))
    return True


def _id_leaves(tree: Any) -> list[tuple]:
    return [p for p, v in walk(tree) if p and isinstance(p[-1], str) and isinstance(v, str)
            and (p[-1] == "id" or p[-1].endswith("_id"))]


def identity(bundle, rng: random.Random, only: str | None = None) -> bool:
    """An id inside a body (``call_id`` with ``only``): another id of the same key, or a fresh one."""
    found = []
    for key, _, tree in _parsed_bodies(bundle):
        for p in _id_leaves(tree):
            if only is None or p[-1] == only:
                found.append((key, tree, p))
    if not found:
        return False
    key, tree, p = rng.choice(found)
    same = sorted({get(t, q) for _, t, q in found if q[-1] == p[-1]} - {get(tree, p)})
    new = rng.choice(same) if same and rng.random() < 0.7 else get(tree, p) + "-x"
    tree = put(tree, p, new)
    set_body(bundle, key, jsontext.encode(tree))
    return True


def json_text(bundle, rng: random.Random) -> bool:
    """A JSON text held in a body's string (a call's arguments, an invocation's): one value edit of
    :mod:`.values` inside it, written back into the string. The other edits never reach inside."""
    found = []
    for key, _, tree in _parsed_bodies(bundle):
        for p, v in walk(tree):
            if isinstance(v, str) and v[:1] in ("{", "["):
                try:
                    found.append((key, tree, p, jsontext.loads_faithful(v)))
                except ValueError:
                    continue
    if not found:
        return False
    key, tree, p, inner = rng.choice(found)
    new = TREE_OPS[rng.choice(sorted(TREE_OPS))](inner, rng)
    if new is None:
        return False
    set_body(bundle, key, jsontext.encode(put(tree, p, jsontext.dumps(new))))
    return True


MUTATORS = [
    *(Mutator(f"body.{name}", "body", _tree_op(op)) for name, op in TREE_OPS.items()),
    Mutator("body.json_text", "body", json_text, weight=3),
    Mutator("body.sequence_form", "body", _tree_op(as_sequence), weight=2),
    Mutator("body.fragments", "body", fragments, weight=3),
    Mutator("body.item", "body", item, weight=3),
    Mutator("body.call_id", "body", lambda b, rng: identity(b, rng, "call_id"), weight=3),
    Mutator("body.identity", "body", identity, weight=2),
]
