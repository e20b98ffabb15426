"""Ingest: turn a raw EOIR release or a published extract into the decisions table."""
