"""Ingest (ImageIngest): a RED layout -> GZIP TFRecord shards of tf.train.Example, split by GM into folds."""

# No `from __future__ import annotations`: KFP reads the component signature's annotations as objects.
# The executor lives in executor.py: at run time KFP's `dsl` module only carries types.

from kfp import dsl

from reparse_tf.components._common import component_kwargs


@dsl.component(**component_kwargs())
def ingest(data: dsl.Input[dsl.Dataset], examples: dsl.Output[dsl.Dataset], image_size: int = 64, n_folds: int = 4,
           seed: int = 0, beam_args: list = []):  # noqa: B006 - KFP parameter default, never mutated
    """Turn a RED layout into TFRecord examples with folds."""
    from reparse_tf.components.ingest.executor import execute

    examples.metadata.update(execute(data.path, examples.path, image_size, n_folds, seed, beam_args))
