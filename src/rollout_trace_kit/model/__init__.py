"""The executable specification: one model per trace dialect.

Everything else in the kit (JSON Schema files, the validator, the generators,
the docs) is derived from the dialects defined here.
"""

from __future__ import annotations

from .types import Dialect
from .v1 import V1
from .v2 import V2
from .v3 import V3

DIALECTS: dict[str, Dialect] = {d.name: d for d in (V1, V2, V3)}
# The dialect the kit writes, generates and reads when none is named (the writer, the generators,
# the reducer campaigns): v2, the dialect the most published releases write.
DEFAULT_DIALECT: str = V2.name


def dialect_for_schema_version(version: object) -> Dialect | None:
    """The dialect whose writers write ``schema_version == version``, if any."""
    for d in DIALECTS.values():
        if type(version) is int and d.schema_version == version:
            return d
    return None


def get_dialect(name: str) -> Dialect:
    try:
        return DIALECTS[name]
    except KeyError:
        raise ValueError(f"unknown dialect {name!r}; known: {', '.join(DIALECTS)}") from None


__all__ = ["DEFAULT_DIALECT", "DIALECTS", "Dialect", "V1", "V2", "V3", "dialect_for_schema_version", "get_dialect"]
