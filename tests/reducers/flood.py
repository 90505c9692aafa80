"""Fake reducer: prints SIZE bytes to stdout and to stderr, then accepts (bounded tails)."""
import sys

size = int(sys.argv[1])
chunk = b"x" * 65536 + b"\n"
for _ in range(size // len(chunk)):
    sys.stdout.buffer.write(chunk)
    sys.stderr.buffer.write(chunk)
sys.stderr.buffer.write(b"LAST LINE\n")
