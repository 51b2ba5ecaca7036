"""Evaluator (TFMA + reparse metrics): per-slice metrics and report on the fold's test GMs, plus the blessing
(does the model pass the thresholds that allow pushing it?)."""

# No `from __future__ import annotations`: KFP reads the component signature's annotations as objects.
# The executor lives in executor.py: at run time KFP's `dsl` module only carries types.

from kfp import dsl

from reparse_tf.components._common import component_kwargs


@dsl.component(**component_kwargs())
def evaluator(model: dsl.Input[dsl.Model], examples: dsl.Input[dsl.Dataset], evaluation: dsl.Output[dsl.Artifact],
              blessing: dsl.Output[dsl.Artifact], fold: int = 0, tfma: bool = True,
              thresholds: list = []):  # noqa: B006 - KFP parameter default
    """Evaluate the model on its fold's test GMs and bless it against the thresholds."""
    from reparse_tf.components.evaluator.executor import execute

    eval_meta, bless_meta = execute(model.path, examples.path, evaluation.path, blessing.path, fold, tfma, thresholds)
    evaluation.metadata.update(eval_meta)
    blessing.metadata.update(bless_meta)
