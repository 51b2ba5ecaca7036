"""Batch normalisation that runs as one fused kernel on the TensorFlow backend (``keras`` only here).

Keras 3's :class:`keras.layers.BatchNormalization` is a composite of reductions and element-wise ops; on
TensorFlow its forward and backward passes were 48 % of a `cpu`-preset training step on a 2-core CPU
(the convolutions 28 %; TensorFlow profiler, ``benchmarks/step_profile.py --trace``). TensorFlow's own
``FusedBatchNormV3`` does each pass in one oneDNN kernel. :class:`FusedBatchNormalization` is a drop-in
subclass: same variables, config and semantics (biased batch variance in the moving average), and on any
other backend (JAX compiles the composite with XLA) or layout it is the parent layer.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import keras
from keras import layers

_FUSED = [True]   # what layers built now use (``fused_kernel``)


@contextlib.contextmanager
def fused_kernel(enabled: bool = True) -> Iterator[None]:
    """Layers built inside use the fused kernel (True) or Keras' composite ops (False: the implementation
    before, kept so a benchmark can time both in one run). A speed setting: the numbers are the same."""
    before, _FUSED[0] = _FUSED[0], bool(enabled)
    try:
        yield
    finally:
        _FUSED[0] = before


@keras.saving.register_keras_serializable(package="reparse")
class FusedBatchNormalization(layers.BatchNormalization):
    """:class:`keras.layers.BatchNormalization` over the channels of ``[B, H, W, C]`` tensors, computed by
    TensorFlow's fused kernel on the TensorFlow backend (``reparse_tf.model.batch_norm_tf``)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fused = _FUSED[0]

    def _fusable(self, inputs, mask) -> bool:
        rank = len(inputs.shape)
        return (self.fused and keras.backend.backend() == "tensorflow" and mask is None and rank == 4
                and self.axis in (-1, rank - 1) and not self.renorm and not self.synchronized)

    def call(self, inputs, training=None, mask=None):
        if not self._fusable(inputs, mask):
            return super().call(inputs, training=training, mask=mask)
        from reparse_tf.model.batch_norm_tf import fused_batch_norm  # TF edge module, TF backend only

        return fused_batch_norm(self, inputs, training=bool(training and self.trainable))
