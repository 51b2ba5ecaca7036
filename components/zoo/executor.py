"""Executor of the `zoo` component: plain Python (no kfp import) calling reparse_tf."""

from __future__ import annotations

from pathlib import Path

from reparse_tf.components._common import announce, call, scalar_metadata


def execute(red_layout: str, zoo_preset: str, seed: int, image_size: int) -> dict:
    """Build the zoo into ``red_layout``; return artifact metadata."""
    call("zoo", "reparse_tf.zoo.build:build_zoo", out_root=red_layout, preset=zoo_preset, seed=seed,
         image_size=image_size)
    gms = sorted(p.name for p in Path(red_layout).iterdir() if p.is_dir())
    announce("zoo", red_layout=red_layout)
    return scalar_metadata({"zoo_preset": zoo_preset, "seed": seed, "image_size": image_size, "n_gms": len(gms)})
