"""Parsing network (PN, sec. 3.3): shared encoder, cluster / instance parsers, fusion encoder, losses.

Heads are generated from the schema: one regression head for the continuous parameters and one
classifier per discrete parameter (``schema.discrete``: 6 architecture + 10 loss flags).
Final predictions: eq. 13 (continuous = cluster mean + deviation) and eq. 16 (discrete =
``p * softmax(cluster) + (1 - p) * softmax(instance)``). The ``one`` parser variant replaces both
parsers with direct heads (``direct_*``) and the same ``final_*`` outputs. ``keras`` only.
"""

from __future__ import annotations

import keras
import numpy as np
from keras import layers, ops

from reparse_tf.data.schema import HyperparameterSchema, load_schema
from reparse_tf.model.fen import ConvBNAct
from reparse_tf.model.fingerprint_losses import fftshift2

PARSERS = ("two", "one")
ENCODERS = ("conv", "spectral")


# -- layers ---------------------------------------------------------------------------------------
@keras.saving.register_keras_serializable(package="reparse")
class ImagePreprocess(layers.Layer):
    """uint8 (or float 0..255) image -> float32 in [-1, 1]."""

    def __init__(self, **kwargs):
        kwargs.setdefault("dtype", "float32")
        super().__init__(**kwargs)

    def call(self, images):
        return ops.cast(images, "float32") / 127.5 - 1.0

    def compute_output_shape(self, input_shape):
        return input_shape


@keras.saving.register_keras_serializable(package="reparse")
class BasicBlock(layers.Layer):
    """ResNet basic block: two 3x3 conv-BN, projection shortcut when shape changes, ReLU."""

    def __init__(self, filters: int, strides: int = 1, **kwargs):
        super().__init__(**kwargs)
        self.filters, self.strides = int(filters), int(strides)
        self.conv1 = ConvBNAct(self.filters, strides=self.strides, dtype=self.dtype_policy, name="conv1")
        self.conv2 = ConvBNAct(self.filters, activation=None, dtype=self.dtype_policy, name="conv2")
        self.proj = None
        self.relu = layers.ReLU(dtype=self.dtype_policy)

    def build(self, input_shape):
        if self.strides != 1 or input_shape[-1] != self.filters:
            # a 1x1 stride-s conv is a stride-1 1x1 conv of every s-th pixel; written that way because
            # TF 2.21's oneDNN kernels segfault in the backward pass of 1x1 stride-2 convolutions on
            # AVX-512 / AMX Xeons (reproduced with a bare Conv2D)
            self.proj = ConvBNAct(self.filters, kernel_size=1, strides=1, activation=None,
                                  dtype=self.dtype_policy, name="proj")
            self.proj.build(input_shape)
        self.conv1.build(input_shape)
        self.conv2.build(self.conv1.compute_output_shape(input_shape))

    def call(self, x, training=None):
        y = self.conv2(self.conv1(x, training=training), training=training)
        shortcut = x if self.proj is None else self.proj(x[:, ::self.strides, ::self.strides, :], training=training)
        return self.relu(y + shortcut)

    def compute_output_shape(self, input_shape):
        return self.conv1.compute_output_shape(input_shape)

    def get_config(self) -> dict:
        return {**super().get_config(), "filters": self.filters, "strides": self.strides}


@keras.saving.register_keras_serializable(package="reparse")
class DiscreteFusion(layers.Layer):
    """Eq. 16 for discrete parameter ``index``: ``p * softmax(cluster) + (1 - p) * softmax(instance)``
    with ``p = sigmoid(fusion_logits[:, index])``. Inputs ``[cluster_logits, instance_logits,
    fusion_logits]``; output class probabilities (float32)."""

    def __init__(self, index: int, **kwargs):
        kwargs.setdefault("dtype", "float32")
        super().__init__(**kwargs)
        self.index = int(index)

    def call(self, inputs):
        cluster, instance, fusion = (ops.cast(t, "float32") for t in inputs)
        p = ops.sigmoid(fusion[:, self.index:self.index + 1])
        return p * ops.softmax(cluster, axis=-1) + (1.0 - p) * ops.softmax(instance, axis=-1)

    def compute_output_shape(self, input_shapes):
        return input_shapes[0]

    def get_config(self) -> dict:
        return {**super().get_config(), "index": self.index}


@keras.saving.register_keras_serializable(package="reparse")
class LogSpectrumPooling(layers.Layer):
    """``[B, S, S, C]`` fingerprint -> ``[B, C * bins * bins]``: the centred log power spectrum of each
    channel, average-pooled over ``bins x bins`` blocks of frequencies.

    The spectrum's magnitude does not move when the image content is translated, and up-sampling
    and normalisation leave their traces at fixed frequencies (Durall / Frank et al. 2020); pooling
    it keeps a few hundred numbers, too few to memorise a training GM's content."""

    def __init__(self, bins: int = 16, **kwargs):
        kwargs.setdefault("dtype", "float32")
        super().__init__(**kwargs)
        self.bins = int(bins)

    def call(self, fingerprint):
        f = ops.transpose(ops.cast(fingerprint, "float32"), (0, 3, 1, 2))
        real, imag = ops.fft2((f, ops.zeros_like(f)))
        h, w = f.shape[-2], f.shape[-1]
        logp = ops.log(fftshift2(real * real + imag * imag) / float(h * w) + 1e-6)
        c = f.shape[1]
        blocks = ops.reshape(logp, (-1, c, self.bins, h // self.bins, self.bins, w // self.bins))
        return ops.reshape(ops.mean(blocks, axis=(3, 5)), (-1, c * self.bins * self.bins))

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[-1] * self.bins * self.bins)

    def get_config(self) -> dict:
        return {**super().get_config(), "bins": self.bins}


# -- losses ---------------------------------------------------------------------------------------
@keras.saving.register_keras_serializable(package="reparse")
class SquaredError(keras.losses.Loss):
    """``||y_pred - y_true||_2^2`` summed over the last axis (eqs. 7 and 10), mean over the batch."""

    def __init__(self, name: str = "squared_error", **kwargs):
        super().__init__(name=name, **kwargs)

    def call(self, y_true, y_pred):
        d = ops.cast(y_pred, "float32") - ops.cast(y_true, "float32")
        return ops.sum(d * d, axis=-1)


@keras.saving.register_keras_serializable(package="reparse")
class WeightedSparseCrossEntropy(keras.losses.Loss):
    """Class-weighted cross-entropy on logits (eq. 11): ``-w[y] * log softmax(logits)[y]``.

    Args:
        class_weights: one weight per class (None = all 1, eq. 8).
    """

    def __init__(self, class_weights: list[float] | None = None, name: str = "weighted_ce", **kwargs):
        super().__init__(name=name, **kwargs)
        self.class_weights = None if class_weights is None else [float(w) for w in class_weights]

    def call(self, y_true, y_pred):
        logits = ops.cast(y_pred, "float32")
        labels = ops.cast(ops.reshape(y_true, (-1,)), "int32")
        onehot = ops.one_hot(labels, logits.shape[-1], dtype="float32")
        nll = -ops.sum(onehot * ops.log_softmax(logits, axis=-1), axis=-1)
        if self.class_weights is None:
            return nll
        w = ops.convert_to_tensor(np.asarray(self.class_weights, np.float32))
        return nll * ops.sum(onehot * w, axis=-1)

    def get_config(self) -> dict:
        return {**super().get_config(), "class_weights": self.class_weights}


@keras.saving.register_keras_serializable(package="reparse")
class SummedBinaryCrossEntropy(keras.losses.Loss):
    """Fusion loss (eq. 15): binary cross-entropy on logits summed over the M classifiers."""

    def __init__(self, name: str = "fusion_bce", **kwargs):
        super().__init__(name=name, **kwargs)

    def call(self, y_true, y_pred):
        z, y = ops.cast(y_pred, "float32"), ops.cast(y_true, "float32")
        # numerically stable log(1 + exp(-|z|)) form
        bce = ops.maximum(z, 0.0) - z * y + ops.log1p(ops.exp(-ops.abs(z)))
        return ops.sum(bce, axis=-1)


# -- network pieces --------------------------------------------------------------------------------
def shared_encoder(x, filters: tuple[int, ...], pool: str, feature_dim: int, dtype=None, encoder: str = "conv",
                   spectral_bins: int = 16, dropout: float = 0.0):
    """The PN shared encoder -> the ``embedding`` tensor.

    ``conv`` (sec. 3.3): conv blocks (stride 2), pooled, FC ``feature_dim``. ``spectral``: the pooled
    log power spectrum of the fingerprint (:class:`LogSpectrumPooling`), batch-normalised, FC
    ``feature_dim``. ``dropout`` acts on the embedding."""
    if encoder not in ENCODERS:
        raise ValueError(f"encoder must be one of {ENCODERS}, got {encoder!r}")
    if encoder == "spectral":
        x = LogSpectrumPooling(spectral_bins, name="encoder_spectrum")(x)
        x = layers.BatchNormalization(name="encoder_spectrum_bn")(x)
    else:
        for i, f in enumerate(filters):
            x = ConvBNAct(f, strides=2, name=f"encoder_block{i + 1}", dtype=dtype)(x)
        if pool == "flatten":
            x = layers.Flatten(name="encoder_flatten", dtype=dtype)(x)
        elif pool == "avg":
            x = layers.GlobalAveragePooling2D(name="encoder_pool", dtype=dtype)(x)
        else:
            raise ValueError(f"encoder pool must be 'flatten' or 'avg', got {pool!r}")
    x = layers.Dense(feature_dim, activation="relu", name="embedding", dtype=dtype)(x)
    return layers.Dropout(dropout, name="embedding_dropout")(x) if dropout else x


def resnet18_features(x, width: int, feature_dim: int, dtype=None):
    """ResNet-18-style backbone (stem + 4 stages x 2 basic blocks, widths w..8w) -> ``embedding``."""
    x = ConvBNAct(width, name="cnn_stem", dtype=dtype)(x)
    for s, mult in enumerate((1, 2, 4, 8)):
        for b in range(2):
            x = BasicBlock(width * mult, strides=2 if (b == 0 and s > 0) else 1,
                           name=f"cnn_stage{s + 1}_block{b + 1}", dtype=dtype)(x)
    x = layers.GlobalAveragePooling2D(name="cnn_pool", dtype=dtype)(x)
    return layers.Dense(feature_dim, activation="relu", name="embedding", dtype=dtype)(x)


def parser_heads(features, prefix: str, hidden: int, schema: HyperparameterSchema, dtype=None) -> dict:
    """One parser branch: hidden FC, then ``<prefix>_continuous`` and ``<prefix>_<param>`` logits."""
    h = layers.Dense(hidden, activation="relu", name=f"{prefix}_hidden", dtype=dtype)(features)
    out = {f"{prefix}_continuous": layers.Dense(len(schema.continuous), name=f"{prefix}_continuous",
                                                dtype="float32")(h)}
    for p in schema.discrete:
        out[f"{prefix}_{p.name}"] = layers.Dense(p.num_classes, name=f"{prefix}_{p.name}", dtype="float32")(h)
    return out


def parsing_heads(features, parser: str, hidden: int, schema: HyperparameterSchema, dtype=None) -> dict:
    """All PN outputs (logits + ``final_*``) for the ``two`` (cluster + instance + fusion) or ``one`` parser."""
    if parser not in PARSERS:
        raise ValueError(f"parser must be one of {PARSERS}, got {parser!r}")
    if parser == "one":
        out = parser_heads(features, "direct", hidden, schema, dtype)
        out["final_continuous"] = layers.Identity(name="final_continuous", dtype="float32")(
            out["direct_continuous"])
        for p in schema.discrete:
            out[f"final_{p.name}"] = layers.Softmax(name=f"final_{p.name}", dtype="float32")(out[f"direct_{p.name}"])
        return out
    out = {**parser_heads(features, "cluster", hidden, schema, dtype),
           **parser_heads(features, "instance", hidden, schema, dtype)}
    h = layers.Dense(hidden, activation="relu", name="fusion_hidden", dtype=dtype)(features)
    out["fusion"] = layers.Dense(len(schema.discrete), name="fusion", dtype="float32")(h)
    out["final_continuous"] = layers.Add(name="final_continuous", dtype="float32")(
        [out["cluster_continuous"], out["instance_continuous"]])
    for m, p in enumerate(schema.discrete):
        out[f"final_{p.name}"] = DiscreteFusion(m, name=f"final_{p.name}")(
            [out[f"cluster_{p.name}"], out[f"instance_{p.name}"], out["fusion"]])
    return out


def parsing_losses(parser: str, class_weights: list[np.ndarray], gamma: float = 5.0,
                   schema: HyperparameterSchema | None = None, normalize_class_weights: bool = False,
                   continuous_weight: float = 1.0) -> tuple[dict, dict]:
    """(losses, loss_weights) keyed by output name: eq. 9 + eq. 12 + gamma_5 * eq. 15 (``two``),
    or direct regression + weighted CE (``one``). Final outputs carry no loss.

    ``normalize_class_weights`` divides each parameter's weights by its number of present classes
    (mean weight 1 over the training images); ``continuous_weight`` scales the regression terms."""
    schema = schema or load_schema()
    if len(class_weights) != len(schema.discrete):
        raise ValueError(f"expected {len(schema.discrete)} class-weight vectors, got {len(class_weights)}")
    if normalize_class_weights:
        class_weights = [np.asarray(w, float) / max(int(np.count_nonzero(w)), 1) for w in class_weights]
    losses: dict = {}
    if parser == "one":
        losses["direct_continuous"] = SquaredError()
        for m, p in enumerate(schema.discrete):
            losses[f"direct_{p.name}"] = WeightedSparseCrossEntropy(list(class_weights[m]))
    else:
        losses["cluster_continuous"] = SquaredError()
        losses["instance_continuous"] = SquaredError()
        for m, p in enumerate(schema.discrete):
            losses[f"cluster_{p.name}"] = WeightedSparseCrossEntropy(None)
            losses[f"instance_{p.name}"] = WeightedSparseCrossEntropy(list(class_weights[m]))
        losses["fusion"] = SummedBinaryCrossEntropy()
    return losses, {k: float(gamma) * (continuous_weight if k.endswith("_continuous") else 1.0) for k in losses}
