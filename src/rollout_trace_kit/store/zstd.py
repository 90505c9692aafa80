"""zstd from the standard library (Python >= 3.14) or its backport (same API)."""

from __future__ import annotations

import sys

if sys.version_info >= (3, 14):
    from compression.zstd import CompressionParameter, ZstdCompressor, ZstdDecompressor, ZstdError, zstd_version_info
else:  # pragma: no cover - depends on the interpreter
    from backports.zstd import CompressionParameter, ZstdCompressor, ZstdDecompressor, ZstdError, zstd_version_info

__all__ = ["CompressionParameter", "ZstdCompressor", "ZstdDecompressor", "ZstdError", "zstd_version_info"]
