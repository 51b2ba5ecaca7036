"""The `cluster_ground_truth` pipeline component (spec and executor in component.py)."""
