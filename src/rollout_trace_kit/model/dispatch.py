"""Behaviour keyed by the model's vocabulary: one table per concern, one rule per class.

Every walker of the model (the compilers, the canonical encoder, the generators, the docs)
does one thing per class of type expression (``Str``, ``Int``, ... ``Named``) or of named
type (``Struct``, ``StrEnum``, ``UnitKind``, ``TaggedUnion``). Each such concern is a
:class:`Table` from the class to its rule, built with :func:`type_expr_table` or
:func:`named_type_table`. Every table registers itself in :data:`TABLES`, and the completeness
test (``tests/test_dispatch.py``) checks each against its union as ``types.py`` declares it:
a class added to the vocabulary fails there, naming every table that lacks a rule for it,
instead of at the first value that reaches the walker. (The habit comes from ``jsonschema``,
whose validators are a table keyed by the keywords of the vocabulary.)
"""

from __future__ import annotations

from typing import Any, Callable, Mapping, TypeVar, get_args

from .types import NamedType, TypeExpr

TYPE_EXPR_CLASSES: tuple[type, ...] = get_args(TypeExpr)
NAMED_TYPE_CLASSES: tuple[type, ...] = get_args(NamedType)

F = TypeVar("F", bound=Callable[..., Any])


class Table(dict[type, F]):
    """A rule per class of ``union`` for one ``concern``; looked up with ``table[type(t)]``.

    A class without a rule raises ``TypeError`` naming the concern (a dict would raise a bare
    ``KeyError``)."""

    def __init__(self, concern: str, union: tuple[type, ...], rules: Mapping[type, F]):
        super().__init__(rules)
        self.concern = concern
        self.union = union

    def __missing__(self, cls: type) -> F:
        raise TypeError(f"{self.concern}: no rule for {cls.__name__}")

    def missing(self) -> list[str]:
        """Classes of the union without a rule."""
        return [c.__name__ for c in self.union if c not in self]

    def extra(self) -> list[str]:
        """Keys that are not classes of the union."""
        return [getattr(c, "__name__", repr(c)) for c in self if c not in self.union]


TABLES: list[Table[Any]] = []  # every table built so far, for the completeness test


def type_expr_table(concern: str, rules: Mapping[type, F]) -> Table[F]:
    """A table over the type expressions (``TypeExpr``)."""
    return _register(Table(concern, TYPE_EXPR_CLASSES, rules))


def named_type_table(concern: str, rules: Mapping[type, F]) -> Table[F]:
    """A table over the named types (``NamedType``)."""
    return _register(Table(concern, NAMED_TYPE_CLASSES, rules))


def _register(table: Table[F]) -> Table[F]:
    TABLES.append(table)
    return table
