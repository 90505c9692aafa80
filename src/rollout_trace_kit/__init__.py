"""rollout-trace-kit: specification and conformance test kit for Codex rollout trace bundles."""

__version__ = "0.1.0"
