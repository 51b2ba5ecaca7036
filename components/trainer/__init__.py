"""The `trainer` pipeline component (spec and executor in component.py)."""
