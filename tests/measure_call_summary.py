"""Measure how a release's reducer summarises a reused call's arguments (model/bodies.py: ItemType.summary_bytes,
SUMMARY_CUT_PANICS_UNTIL, call_content_json's numbers): the instrument behind tests/test_reducer_verdicts_arguments.py's
summary cases, for a release the table does not hold yet or a number spelling nobody measured.

    python -m tests.measure_call_summary 0.125.0 0.171.0 --numbers 1e16 1.50 -0

For each release: the first byte of the compact JSON from which a difference is not seen (the cut), whether a
character the cut splits makes it panic, and for each number literal the bytes the release writes for it (the
cut found with the number before the difference, less the literal's own length). Each answer is a binary search of
real reducer runs on minimal bundles (summary_bundle), about 8 runs a question.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from ._helpers import real_reduce
from .test_reducer_verdicts_arguments import E4, _call, summary_bundle


def _accepted(release: str, items: list) -> int:
    with tempfile.TemporaryDirectory() as tmp:
        return real_reduce(release, summary_bundle(items, release, Path(tmp) / "b"), Path(tmp)).returncode


def _reused(release: str, head: str, byte: int) -> bool:
    """Whether ``release`` tells apart two arguments ``head`` + x's, differing at raw byte ``byte``."""
    pair = [_call(head + "x" * (byte - len(head.encode())) + c + "x" * 40 + '"]') for c in "AB"]
    return _accepted(release, pair) != 0


def cut(release: str, head: str = '["', low: int = 150, high: int = 300) -> int:
    """The smallest raw byte offset (after ``head``) at which a difference is not seen."""
    while low < high:
        mid = (low + high) // 2
        low, high = (low, mid) if not _reused(release, head, mid) else (mid + 1, high)
    return low


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("releases", nargs="+")
    parser.add_argument("--numbers", nargs="*", default=["1e16", "1E+2", "1e02", "1.50", "-0", "1e15", "1e-5"])
    args = parser.parse_args()
    for release in args.releases:
        at = cut(release)
        split = _accepted(release, [_call('["' + "x" * (at - 4) + E4 + "x" * 40 + '"]')])
        print(f"{release}: cut at byte {at} of the compact JSON; a character across it: exit {split}")
        for literal in args.numbers:
            written = len(literal) + at - cut(release, "[" + literal + ',"')
            print(f"  {literal!r:>24} written in {written} bytes")


if __name__ == "__main__":
    main()
