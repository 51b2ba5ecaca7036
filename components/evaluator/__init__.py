"""The `evaluator` pipeline component (spec and executor in component.py)."""
