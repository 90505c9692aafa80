"""What a case expects: the kit's verdict per profile and each release epoch's reducer verdict.

Both come from the model: the validator's profiles are derived from it, and a release's
reducer verdict is the compatibility rule of the release table (``rollout-trace compat``),
with the error class of the model's table of Codex reducer errors.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterable

from ...model import releases
from ...model.reducer_errors import UNCLASSIFIED, expected_error_class
from ...validate import Options, Profile, validate_bundle
from ...validate.findings import Severity


def profile_verdicts(bundle: Path, dialect: str) -> dict[str, dict]:
    """Per profile: ``valid`` or ``invalid``, the invariant IDs of its errors and of its warnings."""
    out = {}
    for profile in Profile:
        report = validate_bundle(bundle, Options(profile=profile, dialect=dialect, releases=False))
        out[profile.label] = {
            "verdict": "valid" if report.ok else "invalid",
            "errors": sorted({f.invariant for f in report.findings if f.severity is Severity.ERROR}),
            "warnings": sorted({f.invariant for f in report.findings if f.severity is Severity.WARNING}),
        }
    return out


def _expand(ranges: list[str]) -> set[str]:
    order = [r.version for r in releases.table()]
    out: set[str] = set()
    for r in ranges:
        first, _, last = r.partition("..")
        i, j = order.index(first), order.index(last or first)
        out.update(order[i : j + 1])
    return out


def reducer_verdicts(bundle: Path, dialect: str, reducer_errors: list[str], breaks: Iterable[str] = ()) -> list[dict]:
    """Per epoch of the release table: does its reducer accept the bundle (None: no reducer, no
    facts, or a bundle past one of the kit's own limits, which says nothing of what Codex does),
    and with which error class it rejects it (None: any)."""
    from ...model import DIALECTS
    from ...validate import CATALOGUE

    report = validate_bundle(bundle, Options(profile=Profile.REDUCER, dialect=dialect, releases=True))
    readers = _expand((report.releases or {}).get("readers") or [])
    kit_limit = any(CATALOGUE[i].kit_only for i in breaks if i in CATALOGUE)
    out = []
    for epoch in releases.table_epochs():
        rep = epoch.representative
        has_reducer = epoch.status != "unknown" and bool(rep.get("has_reducer"))
        accepts = (epoch.first in readers) if has_reducer and not kit_limit else None
        # a reducer of another dialect rejects for the schema_version whatever else is wrong
        own = rep.schema_version == DIALECTS[dialect].schema_version
        error_class = _error_class(bundle, dialect, epoch.first, reducer_errors) if accepts is False and own else None
        out.append({"first": epoch.first, "last": epoch.last, "accepts": accepts, "error_class": error_class})
    return out


def _error_class(bundle: Path, dialect: str, release: str, reducer_errors: list[str]) -> str | None:
    """The class ``release``'s reducer rejects the bundle with: from the errors of the reducer profile
    and of the release's own rules (``validate --release``; a body key it requires has the class its
    probe measured)."""
    from ...validate.rules.release import BODY_REQUIRED, body_error_class

    report = validate_bundle(bundle, Options(profile=Profile.REDUCER, dialect=dialect, release=release, releases=False))
    rel = releases.release(release)
    own = [f for f in report.findings if f.severity is Severity.ERROR and f.invariant.startswith("RELEASE.")]
    measured = [body_error_class(rel, f.message) or UNCLASSIFIED for f in own if f.invariant == BODY_REQUIRED.id]
    if own and any(expected_error_class([i]) is None for i in reducer_errors):
        return None  # an error of no known class may stop the reducer before the release's own (measured: 0.162.0)
    return expected_error_class(reducer_errors + [f.invariant for f in own if f.invariant != BODY_REQUIRED.id],
                                measured)
