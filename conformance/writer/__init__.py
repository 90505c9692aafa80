"""Drive a trace writer in any language and check what it leaves on disk."""
