"""The invariant catalogue: every rule the validator checks, as data.

Rules are declared next to the code that checks them (``rules/*.py``) with
:func:`invariant`; importing the rules package fills :data:`CATALOGUE`.
"""

from __future__ import annotations

from .findings import Invariant, Profile, Severity

CATALOGUE: dict[str, Invariant] = {}

R, W, S = Profile.REDUCER, Profile.WRITER, Profile.STRICT


class _AsV2:
    """Default of ``invariant(v3=...)``: v3 keeps v2's level (0.171.0 replays events as 0.169.0 does)."""


AS_V2 = _AsV2()


def invariant(
    id: str,
    meaning: str,
    *,
    v1: Profile | None,
    v2: Profile | None,
    v3: Profile | None | _AsV2 = AS_V2,
    source: str,
    severity: Severity = Severity.ERROR,
    notes: str = "",
    kit_only: bool = False,
) -> Invariant:
    if id in CATALOGUE:
        raise ValueError(f"invariant {id} declared twice")
    if v3 is AS_V2:
        v3 = v2
    levels = {name: p for name, p in (("v1", v1), ("v2", v2), ("v3", v3)) if p is not None}
    inv = Invariant(id, meaning, levels, source, severity, notes, kit_only)
    CATALOGUE[id] = inv
    return inv


def all_invariants() -> list[Invariant]:
    from . import rules  # noqa: F401  (declares them)

    return sorted(CATALOGUE.values(), key=lambda i: i.id)
