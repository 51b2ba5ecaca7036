"""The `ingest` pipeline component (spec and executor in component.py)."""
