"""Classifier trainer (Keras 3): FEN + a shallow classifier, real vs generated (``detect``) or real + each
training GM (``attribute``), on one fold -> a model directory (model.keras, task_meta.json)."""

# No `from __future__ import annotations`: KFP reads the component signature's annotations as objects.
# The executor lives in executor.py: at run time KFP's `dsl` module only carries types.

from kfp import dsl

from reparse_tf.components._common import component_kwargs


@dsl.component(**component_kwargs())
def classifier_trainer(examples: dsl.Input[dsl.Dataset], model: dsl.Output[dsl.Model], task: str = "detect",
                       fold: int = 0, preset: str = "tiny", epochs: int = 0, seed: int = 0):
    """Train the deepfake detector or the attribution network on one fold."""
    from reparse_tf.components.classifier_trainer.executor import execute

    model.metadata.update(execute(examples.path, model.path, task, fold, preset, epochs, seed))
