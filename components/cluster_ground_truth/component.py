"""ClusterGroundTruth (Beam): cluster targets, class weights and min-max ranges from the fold's training GMs."""

# No `from __future__ import annotations`: KFP reads the component signature's annotations as objects.
# The executor lives in executor.py: at run time KFP's `dsl` module only carries types.

from kfp import dsl

from reparse_tf.components._common import component_kwargs


@dsl.component(**component_kwargs())
def cluster_ground_truth(examples: dsl.Input[dsl.Dataset], cluster_gt: dsl.Output[dsl.Artifact], fold: int = 0,
                         seed: int = 0, beam_args: list = []):  # noqa: B006 - KFP parameter default
    """Fit cluster ground truth on the training GMs of one fold."""
    from reparse_tf.components.cluster_ground_truth.executor import execute

    cluster_gt.metadata.update(execute(examples.path, cluster_gt.path, fold, seed, beam_args))
