"""The schema-3 payload store: records in zstd-compressed shard files."""
