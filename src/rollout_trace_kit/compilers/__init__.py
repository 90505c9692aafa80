"""What the model compiles to: JSON Schema, msgspec types, Codex's canonical encoding."""
