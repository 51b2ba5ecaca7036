"""The one backend-specific piece of the zoo: a gradient step for an arbitrary loss closure.

``make_step(loss_fn, variables, optimizer, state=())`` returns ``step(*args) -> float``: it differentiates
``loss_fn(*args)`` (a scalar built with ``keras.ops``) with respect to ``variables`` and applies the
gradients with the Keras ``optimizer``; ``state`` are non-trainable variables whose updates inside
``loss_fn`` (BatchNorm moving statistics) are kept. Supports the ``tensorflow`` and ``jax`` backends;
the imports of either library are confined to this module.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import keras
import numpy as np


def make_step(loss_fn: Callable, variables: Sequence, optimizer: keras.optimizers.Optimizer,
              state: Sequence = ()) -> Callable[..., float]:
    """A compiled training step for ``loss_fn`` (see module docstring)."""
    variables, state = list(variables), [v for v in state if all(v is not w for w in variables)]
    optimizer.build(variables)
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        @tf.function(reduce_retracing=True)
        def _tf_step(*args):
            with tf.GradientTape() as tape:
                loss = loss_fn(*args)
            optimizer.apply(tape.gradient(loss, variables), variables)
            return loss

        return lambda *args: float(_tf_step(*[np.asarray(a, "float32") for a in args]))
    if backend == "jax":
        import jax

        def pure(tvals, svals, *args):
            mapping = list(zip(variables, tvals, strict=False)) + list(zip(state, svals, strict=False))
            with keras.StatelessScope(state_mapping=mapping) as scope:
                loss = loss_fn(*args)
            return loss, [scope.get_current_value(v) for v in state]

        grad_fn = jax.jit(jax.value_and_grad(pure, has_aux=True))

        def _jax_step(*args):
            (loss, new_state), grads = grad_fn([v.value for v in variables], [v.value for v in state],
                                               *[np.asarray(a, "float32") for a in args])
            optimizer.apply(grads, variables)
            for v, val in zip(state, new_state, strict=False):
                if val is not None:
                    v.assign(val)
            return float(loss)

        return _jax_step
    raise ValueError(f"the zoo trains on the tensorflow or jax backend, not {backend!r}")
