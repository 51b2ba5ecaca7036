"""Trainer (Keras 3): FEN + PN on one fold's training GMs -> a model directory (model.keras, parser_meta.json)."""

# No `from __future__ import annotations`: KFP reads the component signature's annotations as objects.
# The executor lives in executor.py: at run time KFP's `dsl` module only carries types.

from kfp import dsl

from reparse_tf.components._common import component_kwargs


@dsl.component(**component_kwargs())
def trainer(examples: dsl.Input[dsl.Dataset], cluster_gt: dsl.Input[dsl.Artifact], model: dsl.Output[dsl.Model],
            fold: int = 0, preset: str = "tiny", parser: str = "two", fingerprint: bool = True,
            backbone: str = "fen", epochs: int = 0, seed: int = 0):
    """Train the model parser on one fold."""
    from reparse_tf.components.trainer.executor import execute

    model.metadata.update(execute(examples.path, cluster_gt.path, model.path, fold, preset, parser, fingerprint,
                                  backbone, epochs, seed))
