"""The invariant catalogue: every rule the validator checks, as data.

Rules are declared next to the code that checks them (``rules/*.py``) with
:func:`invariant`; importing the rules package fills :data:`CATALOGUE`.
"""

from __future__ import annotations

from ..model import DIALECTS
from ..model.types import Dialect
from .findings import Invariant, Profile, Severity

CATALOGUE: dict[str, Invariant] = {}

R, W, S = Profile.REDUCER, Profile.WRITER, Profile.STRICT

_INHERIT = object()


def invariant(
    id: str,
    meaning: str,
    *,
    v1: Profile | None,
    v2: Profile | None,
    source: str,
    severity: Severity = Severity.ERROR,
    notes: str = "",
    kit_only: bool = False,
    release_only: bool = False,
    declines: bool = False,
    **newer: Profile | None,
) -> Invariant:
    """Declare a rule with its level per dialect.

    A dialect not named (``v3=...``) takes the level of the dialect it extends, so a
    new dialect starts with its parent's rules; ``None`` removes a rule from one.
    """
    if id in CATALOGUE:
        raise ValueError(f"invariant {id} declared twice")
    given = {"v1": v1, "v2": v2, **newer}
    unknown = set(given) - set(DIALECTS)
    if unknown:
        raise ValueError(f"invariant {id}: unknown dialect(s) {sorted(unknown)}")
    levels: dict[str, Profile] = {}
    for d in DIALECTS.values():  # oldest first: a parent is resolved before its children
        p = given.get(d.name, _INHERIT)
        if p is _INHERIT:
            p = levels.get(d.extends.name) if d.extends is not None else None
        if isinstance(p, Profile):  # else None: not a rule of this dialect
            levels[d.name] = p
    if declines and (severity is not Severity.ERROR or not kit_only):
        raise ValueError(f"invariant {id}: a cap reached is an error of the kit (kit_only), never 'ok'")
    inv = Invariant(id, meaning, levels, source, severity, notes, kit_only, release_only, declines)
    CATALOGUE[id] = inv
    return inv


def declines(invariant_id: str) -> bool:
    """Whether a finding of ``invariant_id`` says the kit declined to judge (a cap reached, a form it does
    not read): never 'ok', and no fault of the bundle's producer."""
    all_invariants()
    inv = CATALOGUE.get(invariant_id)
    return inv is not None and inv.declines


def all_invariants() -> list[Invariant]:
    from . import rules  # noqa: F401  (declares them)

    return sorted(CATALOGUE.values(), key=lambda i: i.id)


def level_in(inv: Invariant, dialect: Dialect) -> Profile | None:
    """``inv``'s level in ``dialect``; a dialect built outside the model takes its parent's."""
    for name in dialect.lineage:
        if name in DIALECTS:
            return inv.levels.get(name)
    return None
