"""The one backend-specific piece of the zoo: a gradient step for an arbitrary loss closure.

``make_step(loss_fn, variables, optimizer, reads=())`` returns ``step(*args) -> float``: it differentiates
``loss_fn(*args)`` (a scalar built with ``keras.ops``) with respect to ``variables`` and applies the
gradients with the Keras ``optimizer``; ``reads`` are other variables the loss reads (the discriminator in a
generator step), and the updates the loss makes to the non-trainable ones among them (BatchNorm moving
statistics) are kept. Under TensorFlow, ``tf.function`` reads every variable live; under JAX the whole step
(gradient and optimizer update) is one ``jax.jit`` function of the variables' current values, so ``reads``
must name every variable that changes between steps, or the compiled step keeps the value it saw when first
traced. Supports the ``tensorflow`` and ``jax`` backends; the imports of either
library are confined to this module.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import keras
import numpy as np


def _other(vs: Sequence, *taken: Sequence) -> list:
    """``vs`` without the variables (by identity) already in ``taken``, in order, without repeats."""
    out: list = []
    for v in vs:
        if all(v is not w for group in (*taken, out) for w in group):
            out.append(v)
    return out


def make_step(loss_fn: Callable, variables: Sequence, optimizer: keras.optimizers.Optimizer,
              reads: Sequence = ()) -> Callable[..., float]:
    """A compiled training step for ``loss_fn`` (see module docstring)."""
    variables = _other(variables)
    others = _other(reads, variables)
    state = [v for v in others if not v.trainable]
    reads = [v for v in others if v.trainable]
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

        def pure(tvals, svals, rvals, *args):
            mapping = [*zip(variables, tvals, strict=True), *zip(state, svals, strict=True),
                       *zip(reads, rvals, strict=True)]
            with keras.StatelessScope(state_mapping=mapping) as scope:
                loss = loss_fn(*args)
            return loss, [scope.get_current_value(v) for v in state]

        @jax.jit
        def update(tvals, ovals, svals, rvals, *args):
            (loss, new_state), grads = jax.value_and_grad(pure, has_aux=True)(tvals, svals, rvals, *args)
            new_t, new_o = optimizer.stateless_apply(ovals, grads, tvals)
            return loss, new_t, new_o, new_state

        def _jax_step(*args):
            loss, new_t, new_o, new_s = update(
                [v.value for v in variables], [v.value for v in optimizer.variables], [v.value for v in state],
                [v.value for v in reads], *[np.asarray(a, "float32") for a in args])
            for v, val in zip([*variables, *optimizer.variables, *state], [*new_t, *new_o, *new_s], strict=True):
                if val is not None:
                    v.assign(val)
            return float(loss)

        return _jax_step
    raise ValueError(f"the zoo trains on the tensorflow or jax backend, not {backend!r}")
