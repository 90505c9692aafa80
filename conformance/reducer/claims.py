"""What a program under test claims (``--profile``): the rules it enforces, or only robustness.

``reducer``, ``writer`` and ``strict`` are the validator's profiles: valid bundles must be
accepted, a bundle breaking a rule of the profile must be rejected (cleanly), the others
may be accepted or rejected. ``robustness`` is for tolerant readers and viewers: valid
bundles must be accepted, and no bundle, valid or corrupt, may crash or hang the program;
rejecting a corrupt bundle is optional. Every claim forbids crashes and hangs.
"""

from __future__ import annotations

from dataclasses import dataclass

from ...validate import Profile

ROBUSTNESS = "robustness"


@dataclass(frozen=True)
class Claim:
    label: str
    profile: Profile  # the rules the kit judges each bundle by
    rejects: bool = True  # bundles breaking a rule of ``profile`` must be rejected

    @classmethod
    def parse(cls, text: str) -> "Claim":
        if text == ROBUSTNESS:
            # judged by the strictest rules, so only transforms that break nothing are applied
            # to its bundles; rejection is never required
            return cls(ROBUSTNESS, Profile.STRICT, rejects=False)
        try:
            return cls(text, Profile.parse(text))
        except ValueError:
            raise ValueError(f"unknown claim {text!r}; known: {', '.join(LABELS)}") from None


LABELS = tuple(p.label for p in Profile) + (ROBUSTNESS,)
