"""Streaming bundle validator with an invariant catalogue and profiles."""

from .catalogue import CATALOGUE, all_invariants
from .context import Options
from .engine import validate_bundle
from .findings import BundleReport, Finding, Invariant, Profile, Severity

__all__ = [
    "CATALOGUE",
    "BundleReport",
    "Finding",
    "Invariant",
    "Options",
    "Profile",
    "Severity",
    "all_invariants",
    "validate_bundle",
]
