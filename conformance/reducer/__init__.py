"""Fuzz any reducer command with valid and corrupted bundles and judge what it does."""
