"""The JSON Schema of snapshot files (package data)."""
