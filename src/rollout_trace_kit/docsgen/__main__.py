"""``python -m rollout_trace_kit.docsgen --write docs``: regenerate the committed reference pages.

``--check`` writes nothing and exits 1 when a page is stale (the docs test does the same).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from . import stale_pages, write_pages


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m rollout_trace_kit.docsgen", description=__doc__.split("\n")[0])
    p.add_argument("docs_dir", nargs="?", default="docs", help="the docs directory (default: docs)")
    mode = p.add_mutually_exclusive_group(required=True)
    mode.add_argument("--write", action="store_true", help="rewrite stale pages")
    mode.add_argument("--check", action="store_true", help="exit 1 if a page is stale")
    args = p.parse_args(argv)
    docs = Path(args.docs_dir)
    if args.check:
        stale = stale_pages(docs)
        for rel in stale:
            print(f"stale: {docs / rel}", file=sys.stderr)
        return 1 if stale else 0
    for rel in write_pages(docs):
        print(f"wrote {docs / rel}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
