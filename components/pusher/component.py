"""Pusher: export the blessed model as a SavedModel in TF Serving layout ``<dir>/<model_name>/<version>/``.

The SavedModel goes into the component's own output artifact and, when ``serving_dir`` is given,
to that deployment destination too (what TFX's Pusher calls push_destination). An unblessed
model is not pushed unless ``force`` is set; the step then succeeds and records why.
"""

# No `from __future__ import annotations`: KFP reads the component signature's annotations as objects.
# The executor lives in executor.py: at run time KFP's `dsl` module only carries types.

from kfp import dsl

from reparse_tf.components._common import component_kwargs


@dsl.component(**component_kwargs())
def pusher(model: dsl.Input[dsl.Model], blessing: dsl.Input[dsl.Artifact], pushed_model: dsl.Output[dsl.Model],
           serving_dir: str = "", model_name: str = "reparse", force: bool = False):
    """Export the model for TF Serving when it is blessed (or forced)."""
    from reparse_tf.components.pusher.executor import execute

    pushed_model.metadata.update(execute(model.path, blessing.path, pushed_model.path, serving_dir, model_name,
                                         force))
