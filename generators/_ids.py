"""Identifiers and text in the formats real Codex bundles use, from a seeded Random."""

from __future__ import annotations

import random

WORDS = (
    "list files build test fix the parser add a flag check output run lint update docs "
    "refactor module rename helper read config print version compare results explain error "
    "retry request format table parse args clean cache bump release tidy imports"
).split()


class Ids:
    """Makes ids like Codex's: UUIDv7 threads/turns, UUIDv4 calls, ``call-N`` tools."""

    def __init__(self, rnd: random.Random):
        self.rnd = rnd
        self.counter = 0

    def _n(self) -> int:
        self.counter += 1
        return self.counter

    def uuid4(self) -> str:
        h = f"{self.rnd.getrandbits(128) & ~(0xF << 76) & ~(0x3 << 62) | (0x4 << 76) | (0x2 << 62):032x}"
        return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"

    def uuid7(self, ms: int) -> str:
        rand = self.rnd.getrandbits(74)
        value = (ms & (2**48 - 1)) << 80 | 0x7 << 76 | (rand >> 62) << 64 | 0x2 << 62 | (rand & (2**62 - 1))
        h = f"{value:032x}"
        return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"

    def number(self) -> int:
        """A bundle-unique small number (the mock server's request counter in real bundles)."""
        return self._n()

    def words(self, n: int) -> str:
        return " ".join(self.rnd.choice(WORDS) for _ in range(n))

    def text(self, size: int) -> str:
        """About ``size`` characters of plain text (at least one word)."""
        out: list[str] = []
        total = 0
        while total < size or not out:
            w = self.rnd.choice(WORDS)
            out.append(w)
            total += len(w) + 1
        return " ".join(out)
