"""Grammar-aware mutators, grouped by the layer of the bundle they change.

Layers: ``value`` (envelope and event values), ``body`` (payload bodies per kind), ``ref``
(payload refs), ``store`` (the v3 shard store's bytes; v1 and v2 payload files stand in) and
``order`` (event order and identity). :data:`MIX` is the fixed share of each layer in a run:
at least a fifth each in the body, ref and store layers, because value mutations alone rarely
disagree. Within a layer, a mutator is drawn uniformly among those that apply to the bundle.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Callable

from ....bundle import Bundle

LAYERS = ("value", "body", "ref", "store", "order")
MIX = {"value": 15, "body": 25, "ref": 25, "store": 25, "order": 10}  # percent of the mutants

Apply = Callable[[Bundle, random.Random], bool]  # edits the bundle in place; False: not applicable


@dataclass(frozen=True)
class Mutator:
    name: str  # "layer.what"
    layer: str
    apply: Apply
    store: bool | None = None  # True: v3 shard stores only; False: payload files only; None: both
    weight: int = 1  # relative share within its layer

    def fits(self, bundle_is_store: bool) -> bool:
        return self.store is None or self.store == bundle_is_store


def registry() -> list[Mutator]:
    from . import bodies, order, refs, store, values

    return [*values.MUTATORS, *bodies.MUTATORS, *refs.MUTATORS, *store.MUTATORS, *order.MUTATORS]


def by_name() -> dict[str, Mutator]:
    return {m.name: m for m in registry()}


def draw_layer(rng: random.Random) -> str:
    return rng.choices(LAYERS, weights=[MIX[layer] for layer in LAYERS])[0]


def mutate(bundle: Bundle, rng: random.Random, layer: str | None = None, tries: int = 20) -> tuple[Mutator, Bundle] | None:
    """One mutant of ``bundle`` (which is left alone): the mutator and the changed copy."""
    from ..view import is_store

    layer = layer or draw_layer(rng)
    candidates = [m for m in registry() if m.layer == layer and m.fits(is_store(bundle))]
    for _ in range(tries):
        m = rng.choices(candidates, weights=[c.weight for c in candidates])[0]
        copy = bundle.copy()
        if m.apply(copy, rng) and _changed(bundle, copy):
            return m, copy
    return None


def _changed(a: Bundle, b: Bundle) -> bool:
    return (a.manifest, a.lines, a.payloads, a.specials) != (b.manifest, b.lines, b.payloads, b.specials)
