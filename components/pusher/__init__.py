"""The `pusher` pipeline component (spec and executor in component.py)."""
