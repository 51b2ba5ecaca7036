"""Fingerprint estimation network (FEN, sec. 3.2): a DnCNN mapping an image to a same-size fingerprint.

Stem conv + ReLU, ``depth - 2`` conv-BN-ReLU blocks, output conv (3 channels, linear), all 3x3
"same" convolutions with ``width`` filters: DnCNN-17 is ``depth=17, width=64``. ``keras`` only.
"""

from __future__ import annotations

import keras
from keras import layers

from reparse_tf.model.batch_norm import FusedBatchNormalization


@keras.saving.register_keras_serializable(package="reparse")
class ConvBNAct(layers.Layer):
    """3x3 (or ``kernel_size``) convolution, optional batch norm, optional activation.

    Args:
        filters: output channels (> 0).
        kernel_size: square kernel side.
        strides: convolution stride.
        batch_norm: add batch normalisation (``FusedBatchNormalization``) after the convolution (the conv then
            has no bias).
        activation: Keras activation name or None.
    """

    def __init__(self, filters: int, kernel_size: int = 3, strides: int = 1, batch_norm: bool = True,
                 activation: str | None = "relu", **kwargs):
        super().__init__(**kwargs)
        if int(filters) <= 0:
            raise ValueError(f"filters must be positive, got {filters!r}")
        self.filters, self.kernel_size, self.strides = int(filters), int(kernel_size), int(strides)
        self.batch_norm, self.activation_name = bool(batch_norm), activation
        self.conv = layers.Conv2D(self.filters, self.kernel_size, strides=self.strides, padding="same",
                                  use_bias=not self.batch_norm, dtype=self.dtype_policy, name="conv")
        self.bn = FusedBatchNormalization(dtype=self.dtype_policy, name="bn") if self.batch_norm else None
        self.act = layers.Activation(activation, dtype=self.dtype_policy) if activation else None

    def build(self, input_shape):
        self.conv.build(input_shape)
        if self.bn is not None:
            self.bn.build(self.conv.compute_output_shape(input_shape))

    def call(self, x, training=None):
        x = self.conv(x)
        if self.bn is not None:
            x = self.bn(x, training=training)
        return self.act(x) if self.act is not None else x

    def compute_output_shape(self, input_shape):
        return self.conv.compute_output_shape(input_shape)

    def get_config(self) -> dict:
        return {**super().get_config(), "filters": self.filters, "kernel_size": self.kernel_size,
                "strides": self.strides, "batch_norm": self.batch_norm, "activation": self.activation_name}


@keras.saving.register_keras_serializable(package="reparse")
class DnCNN(keras.Model):
    """DnCNN fingerprint estimator: float image ``[B, H, W, C]`` -> fingerprint ``[B, H, W, C]``.

    Args:
        depth: total conv layers (>= 2): stem + ``depth - 2`` conv-BN-ReLU blocks + output conv.
        width: filters of the hidden layers.
        channels: image channels (fingerprint has the same).
        image_size: spatial side (None = any size).
    """

    def __init__(self, depth: int = 17, width: int = 64, channels: int = 3, image_size: int | None = None,
                 dtype=None, **kwargs):
        if int(depth) < 2:
            raise ValueError(f"DnCNN depth must be >= 2 (stem + output conv), got {depth!r}")
        if int(width) <= 0:
            raise ValueError(f"DnCNN width must be positive, got {width!r}")
        kwargs.setdefault("name", "fen")
        inputs = keras.Input((image_size, image_size, channels), name="image_float")
        x = ConvBNAct(width, batch_norm=False, name="stem", dtype=dtype)(inputs)
        for i in range(int(depth) - 2):
            x = ConvBNAct(width, name=f"block{i + 1}", dtype=dtype)(x)
        outputs = ConvBNAct(channels, batch_norm=False, activation=None, name="output", dtype=dtype)(x)
        super().__init__(inputs, outputs, **kwargs)
        self.depth, self.width, self.channels, self.image_size = int(depth), int(width), int(channels), image_size
        self._layer_dtype = dtype

    def get_config(self) -> dict:
        return {"name": self.name, "depth": self.depth, "width": self.width, "channels": self.channels,
                "image_size": self.image_size, "dtype": self._layer_dtype}

    @classmethod
    def from_config(cls, config, custom_objects=None):
        return cls(**config)
