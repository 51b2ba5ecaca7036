"""Zoo: build the GM zoo (a RED layout of images + labels.csv) as the pipeline's optional first step."""

# No `from __future__ import annotations`: KFP reads the component signature's annotations as objects.
# The executor lives in executor.py: at run time KFP's `dsl` module only carries types.

from kfp import dsl

from reparse_tf.components._common import component_kwargs


@dsl.component(**component_kwargs())
def zoo(red_layout: dsl.Output[dsl.Dataset], zoo_preset: str = "tiny", seed: int = 0, image_size: int = 64):
    """Build the built-in GM zoo as a RED layout dataset."""
    from reparse_tf.components.zoo.executor import execute

    red_layout.metadata.update(execute(red_layout.path, zoo_preset, seed, image_size))
