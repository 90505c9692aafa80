"""Where the kit's published pages live (reports link their rules to the docs)."""

from __future__ import annotations

import re

from .compilers.json_schema import SCHEMA_BASE

DOCS_URL = SCHEMA_BASE.rsplit("/", 1)[0] + "/"  # the docs site (mkdocs.yml site_url) serves schema/ too


def invariant_anchor(inv_id: str) -> str:
    """The anchor of an invariant on the catalogue page (``REF.ORPHAN`` -> ``ref-orphan``)."""
    return re.sub(r"[^a-z0-9]+", "-", inv_id.lower()).strip("-")


def invariant_url(inv_id: str) -> str:
    return f"{DOCS_URL}reference/invariants/#{invariant_anchor(inv_id)}"
