"""TensorFlow edge of training: the ``tf.distribute.MirroredStrategy`` scope.

The parser's training loop stays backend-agnostic and imports this module only on the TensorFlow
backend (JAX uses ``keras.distribution.DataParallel``).
"""

from __future__ import annotations

import contextlib

import tensorflow as tf


def mirrored_scope():
    """``MirroredStrategy().scope()`` when several GPUs are visible, else a null context."""
    gpus = tf.config.list_logical_devices("GPU")
    if len(gpus) > 1:
        strategy = tf.distribute.MirroredStrategy()
        print(f"MirroredStrategy over {strategy.num_replicas_in_sync} GPUs")
        return strategy.scope()
    return contextlib.nullcontext()
