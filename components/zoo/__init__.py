"""The `zoo` pipeline component (spec and executor in component.py)."""
