"""Rule modules; importing them declares every invariant of the catalogue."""

from . import bodies, conversation, layout, lifecycle, order, refs, release, schema, store  # noqa: F401
