"""Every ref of an event gets the generic checks, found from the model, not from a list.

The model says where refs sit in each variant (``facts.ref_sites``: top-level fields,
a list of refs, a ref inside a tagged union, a ref's parts). After the lifecycle handlers
ran (they check the refs whose bodies they read, with the read they know), this pass
walks the typed event along those sites and checks each ref no handler checked: whether
it exists, its kind, conflicts with earlier refs, confinement. A ref field added to a
variant in the model, or in a dialect derived from it, is checked with no other edit.
"""

from __future__ import annotations

from typing import Any, Callable, Iterator

from ...model import facts
from ...model.types import Dialect, Field

# One step of a site's path on a typed event: yields (value, pointer suffix) pairs.
Step = Callable[[Any, str], Iterator[tuple[Any, str]]]


def _key(name: str) -> Step:
    def step(value, pointer):
        inner = getattr(value, name, None)
        if inner is not None:
            yield inner, f"{pointer}/{name}"

    return step


def _each(value, pointer):
    if isinstance(value, list):
        for i, item in enumerate(value):
            yield item, f"{pointer}/{i}"


def _tag(tag: str) -> Step:
    def step(value, pointer):
        config = getattr(type(value), "__struct_config__", None)
        if config is not None and config.tag == tag:
            yield value, pointer

    return step


def _steps(path) -> tuple[Step, ...]:
    return tuple(_each if s == "*" else _tag(s[1]) if isinstance(s, tuple) else _key(s) for s in path)


def compile_sites(dialect: Dialect) -> dict[str, tuple[tuple[str | None, tuple[Step, ...], Field, bool], ...]]:
    """Variant -> (field name of a top-level ref or None, steps to the ref, its model field,
    whether the reducer reads it at the event) of each outermost site. A ref's parts are
    sites under it: checking the ref checks them (StoreRefChecker.check_value), so they
    are left out here."""
    out = {}
    for tag, sites in facts.ref_sites(dialect).items():
        outer = [s for s in sites if not any(o is not s and s.path[: len(o.path)] == o.path for o in sites)]
        if outer:
            out[tag] = tuple(
                (_top_level(s.path), _steps(s.path), s.field, facts.reducer_reads(dialect, s.field))
                for s in outer
            )
    return out


def _top_level(path) -> str | None:
    """The field name of a site that is a top-level field of the payload, else None."""
    return path[0] if len(path) == 1 and isinstance(path[0], str) else None


def refs_at(payload, steps: tuple[Step, ...]) -> Iterator[tuple[Any, str]]:
    """(ref, JSON pointer) of every ref ``steps`` lead to in a typed payload."""
    found = [(payload, "/payload")]
    for step in steps:
        found = [pair for value, pointer in found for pair in step(value, pointer)]
        if not found:
            return iter(())
    return iter(found)
