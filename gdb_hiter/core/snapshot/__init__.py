"""Snapshots: the document and its schema, diffs, reports, redaction."""
