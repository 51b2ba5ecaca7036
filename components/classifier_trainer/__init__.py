"""The `classifier_trainer` pipeline component (spec in component.py, executor in executor.py)."""
