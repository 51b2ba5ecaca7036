"""Executor of the `classifier_trainer` component: plain Python (no kfp import) calling reparse_tf."""

from __future__ import annotations

from reparse_tf.components._common import announce, call


def execute(examples: str, model: str, task: str, fold: int, preset: str, epochs: int, seed: int) -> dict:
    """Train ``task`` into ``model``; ``epochs=0`` keeps the preset's number. Return artifact metadata."""
    call("classifier_trainer", "reparse_tf.training.forensic_training:train_forensic", task=task, examples_dir=examples,
         fold=fold, preset=preset, out_dir=model, epochs=epochs or None, seed=seed)
    announce("classifier_trainer", model=model)
    return {"task": task, "fold": fold, "preset": preset, "seed": seed, "framework": "keras"}
