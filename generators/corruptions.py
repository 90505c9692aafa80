"""Corruption operators: one per invariant of the validator's catalogue.

``CORRUPTIONS[invariant_id]`` breaks a valid bundle in exactly that way. Each
operator works on any valid bundle, generated or real (``Bundle.read`` of the
corpus), and returns a :class:`Corrupted` carrying the invariant IDs the
validator must report, the physical line and ``seq`` of the primary finding,
or ``None`` when the bundle offers no place for it (no code cell to break, a
single thread, ...). An operator never returns a bundle it cannot vouch for:
if it cannot guarantee the expected set, it returns ``None``.

The expected set is usually just the invariant. Where breaking one rule
necessarily breaks another it says so (``expected`` has both) and the
operator's description names the reason, e.g. a non-canonical path is both
``REF.PATH_CONFINED`` and ``REF.NAMING``.

A few invariants are reported at the reducer profile in some places although
their catalogue level is higher: a missing payload *the reference reducer
opens* fails the reducer, so ``REF.FILE_EXISTS`` is then a reducer finding.
``Corrupted.reducer_level`` lists such IDs and :meth:`Corrupted.expected_in`
gives the IDs to expect for a dialect and profile.

Randomness comes from the ``rnd`` argument only, so a fixed seed gives the
same corruption of the same bundle, and Hypothesis's ``st.randoms()`` makes
the choices shrinkable.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

from ..bundle import Bundle
from ..model import DIALECTS, facts
from ..model.types import STORE_FILES, Dialect
from ..writer.core import written_dialects
from ..validate import CATALOGUE, Profile, all_invariants


@dataclass(frozen=True)
class Corrupted:
    """A bundle broken in one named way, and what the validator must say about it."""

    bundle: Bundle
    invariant: str  # the invariant the operator targets
    expected: frozenset[str]  # every invariant ID the validator must report (all profiles)
    line: int | None  # 1-based physical line of the primary finding; None for bundle-level findings
    seq: int | None  # seq of the primary finding's event, when the line parses
    reducer_level: frozenset[str] = frozenset()  # expected IDs reported at the reducer profile here
    note: str = ""  # which variant of the operator was applied
    origin: str = ""  # the valid bundle it was made from (generated bundles: its plan)
    release: str | None = None  # RELEASE.* operators: the Codex release to judge with (validate --release)

    def __repr__(self) -> str:
        where = f"line {self.line}, seq {self.seq}" if self.line is not None else "bundle level"
        return (
            f"Corrupted({self.invariant} [{self.note}] at {where}, expected={sorted(self.expected)}, "
            f"events={len(self.bundle.lines)}, from {self.origin or 'a bundle'})"
        )

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:  # what Hypothesis prints for a falsifying example
        printer.text(repr(self))

    def expected_in(self, dialect: str | Dialect, profile: Profile) -> set[str]:
        """The invariant IDs ``validate_bundle`` reports for this bundle in ``profile``."""
        name = dialect if isinstance(dialect, str) else facts.registered_name(dialect)
        return {
            i
            for i in self.expected
            if CATALOGUE[i].active(name, profile) or (i in self.reducer_level and name in CATALOGUE[i].levels)
        }


Apply = Callable[["Bundle", Dialect, random.Random], "Corrupted | None"]


@dataclass(frozen=True)
class Corruption:
    """A corruption operator for one invariant."""

    invariant: str
    description: str
    operator: Apply = field(repr=False)
    needs: frozenset[str] = frozenset()  # plan features a bundle must have (generators use it)
    dialects: frozenset[str] = frozenset()  # dialects it edits bundles of (see ``corruption``)
    edits_store: str | None = STORE_FILES  # the payload store (Layout.store) it edits; None: events and manifest only

    def apply(self, bundle: Bundle, dialect: str | Dialect, rnd: random.Random) -> Corrupted | None:
        d = DIALECTS[dialect] if isinstance(dialect, str) else dialect
        if facts.registered_name(d) not in self.dialects:
            return None
        return self.operator(bundle, d, rnd)


CORRUPTIONS: dict[str, Corruption] = {}

# Catalogue entries no bundle should ever trigger, so no operator can target them.
UNCORRUPTIBLE: dict[str, str] = {
    "KIT.INTERNAL_ERROR": "reports a bug of the kit itself; every bundle, however broken, must end in other findings",
    "BUNDLE.TRACE_CHANGED": "needs a writer appending while the check runs, not a bundle at rest "
    "(tests/test_validate_hostile.py appends from a thread)",
    "KIT.SEARCH_CAP": "about a directory of bundles too deep or too large to search, not about a bundle "
    "(tests/test_hostile_cli.py builds one)",
    "KIT.RELEASE_RULES_CAP": "checked only with a release to judge by (`--release`, compat); "
    "tests/test_hostile_cli.py builds a bundle past the cap",
}


def corruption(
    invariant: str,
    description: str,
    *,
    needs: Iterable[str] = (),
    edits_store: str | None = STORE_FILES,
    dialects: Iterable[str] | None = None,
) -> Callable[[Apply], Apply]:
    """Register the decorated function as the operator for ``invariant``.

    ``edits_store``: the payload store (the model's ``Layout.store``) whose payloads the
    operator adds, rewrites, removes or orphans (dropping an event that refers to one);
    ``None`` for an operator that edits only events and the manifest, which breaks a bundle
    of any store the same way. An operator not declared otherwise edits one file per payload.
    ``dialects``: those it applies to; by default every dialect the writers write, the
    invariant's catalogue has and whose store the operator edits.
    """

    def register(fn: Apply) -> Apply:
        if invariant in CORRUPTIONS:
            raise ValueError(f"two operators for {invariant}")
        names = _dialects_for(invariant, edits_store) if dialects is None else dialects
        CORRUPTIONS[invariant] = Corruption(invariant, description, fn, frozenset(needs), frozenset(names), edits_store)
        return fn

    return register


def _dialects_for(invariant: str, edits_store: str | None) -> list[str]:
    levels = CATALOGUE[invariant].levels
    return [
        name
        for name in written_dialects()
        if name in levels and (edits_store is None or DIALECTS[name].layout.store == edits_store)
    ]


def missing_operators() -> list[str]:
    """Catalogue invariants without an operator (a test requires this to be empty)."""
    return [inv.id for inv in all_invariants() if inv.id not in CORRUPTIONS and inv.id not in UNCORRUPTIBLE]


def applicable(dialect: str) -> list[str]:
    """Invariants of ``dialect``'s catalogue that have an operator for it."""
    return [
        inv.id
        for inv in all_invariants()
        if dialect in inv.levels and inv.id in CORRUPTIONS and dialect in CORRUPTIONS[inv.id].dialects
        and not inv.release_only  # those need a release to judge with: tests/test_release_rules.py
    ]


# Importing the operator modules fills CORRUPTIONS.
from . import _ops_bodies, _ops_conversation, _ops_layout, _ops_lifecycle, _ops_order, _ops_refs, _ops_schema, _ops_store  # noqa: E402,F401
from . import _ops_release  # noqa: E402,F401

