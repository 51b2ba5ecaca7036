"""TensorFlow edge of :class:`reparse_tf.model.batch_norm.FusedBatchNormalization`: the fused kernel."""

from __future__ import annotations

import tensorflow as tf


def fused_batch_norm(layer, x: tf.Tensor, training: bool) -> tf.Tensor:
    """``layer``'s batch norm of NHWC ``x`` by ``FusedBatchNormV3``; in training, updates the moving
    statistics as Keras does (momentum, biased batch variance)."""
    if x.dtype not in (tf.float16, tf.bfloat16, tf.float32):
        x = tf.cast(x, tf.float32)
    channels = x.shape[-1]
    gamma = tf.convert_to_tensor(layer.gamma) if layer.scale else tf.ones((channels,), tf.float32)
    beta = tf.convert_to_tensor(layer.beta) if layer.center else tf.zeros((channels,), tf.float32)
    moving_mean = tf.convert_to_tensor(layer.moving_mean)
    moving_variance = tf.convert_to_tensor(layer.moving_variance)
    if not training:
        y, _, _ = tf.compat.v1.nn.fused_batch_norm(x, gamma, beta, mean=moving_mean, variance=moving_variance,
                                                   epsilon=layer.epsilon, is_training=False)
        return tf.cast(y, layer.compute_dtype)
    y, mean, variance = tf.compat.v1.nn.fused_batch_norm(x, gamma, beta, epsilon=layer.epsilon, is_training=True)
    # the kernel returns the Bessel-corrected variance; Keras averages the biased one
    n = tf.cast(tf.reduce_prod(tf.shape(x)[:-1]), tf.float32)
    variance = variance * (n - 1.0) / n
    momentum = float(layer.momentum)
    layer.moving_mean.assign(moving_mean * momentum + mean * (1.0 - momentum))
    layer.moving_variance.assign(moving_variance * momentum + variance * (1.0 - momentum))
    return tf.cast(y, layer.compute_dtype)
