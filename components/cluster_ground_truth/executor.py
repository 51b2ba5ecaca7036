"""Executor of the `cluster_ground_truth` component: plain Python (no kfp import) calling reparse_tf."""

from __future__ import annotations

from reparse_tf.components._common import announce, call


def execute(examples: str, cluster_gt: str, fold: int, seed: int, beam_args: list[str]) -> dict:
    """Compute the cluster ground truth of ``fold`` into ``cluster_gt``; return artifact metadata."""
    call("cluster_ground_truth", "reparse_tf.targets.cluster_ground_truth:run_cluster_ground_truth",
         examples_dir=examples, out_dir=cluster_gt, fold=fold, seed=seed, beam_args=list(beam_args) or None)
    announce("cluster_ground_truth", cluster_gt=cluster_gt)
    return {"fold": fold, "seed": seed}
