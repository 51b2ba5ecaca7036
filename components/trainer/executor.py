"""Executor of the `trainer` component: plain Python (no kfp import) calling reparse_tf."""

from __future__ import annotations

from reparse_tf.components._common import announce, call


def execute(examples: str, cluster_gt: str, model: str, fold: int, preset: str, parser: str, fingerprint: bool,
            backbone: str, epochs: int, seed: int) -> dict:
    """Train into ``model``; ``epochs=0`` keeps the preset's number. Return artifact metadata."""
    call("trainer", "reparse_tf.training.parser_training:train", examples_dir=examples, cluster_gt_dir=cluster_gt,
         fold=fold,
         preset=preset, out_dir=model, parser=parser, fingerprint=fingerprint, backbone=backbone,
         epochs=epochs or None, seed=seed)
    announce("trainer", model=model)
    return {"fold": fold, "preset": preset, "parser": parser, "fingerprint": fingerprint, "backbone": backbone,
            "seed": seed, "framework": "keras"}
