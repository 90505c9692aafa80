"""Codex-specific helpers: npm installs of the real CLI, its loopback mock provider, probes."""
