"""FEN + a shallow classifier on the fingerprint: deepfake detection and image attribution (sec. 4.5).

The TPAMI paper reuses the fingerprint estimation network for two simpler forensic tasks: a
shallow network of 5 convolutions + 2 FC layers for real-vs-generated detection, and 2
convolutions + 2 FC layers for attribution (which source among real and the training GMs). The
fingerprint constraints J_f apply to generated images only (a real photo has no generator trace to
constrain): :class:`reparse_tf.model.fingerprint_losses.GeneratedFingerprintLoss` on the ``fingerprint``
output, with a 0 / 1 "generated" target. ``keras`` only.

Outputs: ``logits`` (``[B, 1]`` for detect, ``[B, n_classes]`` for attribute) and ``fingerprint``.
"""

from __future__ import annotations

import keras
from keras import layers

from reparse_tf.model.batch_norm import fused_kernel
from reparse_tf.model.fen import ConvBNAct, DnCNN
from reparse_tf.model.fingerprint_losses import GeneratedFingerprintLoss
from reparse_tf.model.parsers import ImagePreprocess
from reparse_tf.training.presets import Preset, get_preset

#: conv layers of the shallow classifier per task (sec. 4.5)
TASK_CONVS = {"detect": 5, "attribute": 2}
TASKS = tuple(TASK_CONVS)


@keras.saving.register_keras_serializable(package="reparse")
class ShallowClassifier(layers.Layer):
    """``n_conv`` stride-2 conv-BN-ReLU blocks, flatten, FC + ReLU, FC to ``n_outputs`` logits.

    Args:
        n_conv: convolutions (each halves the side).
        filters: filters of each convolution (the last value repeats when ``n_conv`` is larger).
        hidden: width of the first FC layer.
        n_outputs: logits.
    """

    def __init__(self, n_conv: int, filters: tuple[int, ...], hidden: int, n_outputs: int, **kwargs):
        super().__init__(**kwargs)
        if n_conv < 1 or n_outputs < 1 or not filters:
            raise ValueError(f"need n_conv >= 1, n_outputs >= 1 and filters, got {n_conv}, {n_outputs}, {filters}")
        self.n_conv, self.filters, self.hidden, self.n_outputs = int(n_conv), tuple(map(int, filters)), int(hidden), \
            int(n_outputs)
        widths = [self.filters[min(i, len(self.filters) - 1)] for i in range(self.n_conv)]
        self.convs = [ConvBNAct(w, strides=2, dtype=self.dtype_policy, name=f"conv{i + 1}")
                      for i, w in enumerate(widths)]
        self.flatten = layers.Flatten(dtype=self.dtype_policy)
        self.fc1 = layers.Dense(self.hidden, activation="relu", dtype=self.dtype_policy, name="fc1")
        self.fc2 = layers.Dense(self.n_outputs, dtype="float32", name="fc2")  # logits in float32

    def build(self, input_shape):
        shape = input_shape
        for conv in self.convs:
            conv.build(shape)
            shape = conv.compute_output_shape(shape)
        flat = 1
        for d in shape[1:]:
            flat *= int(d)
        self.fc1.build((None, flat))
        self.fc2.build((None, self.hidden))

    def embed(self, x, training=None):
        """The first FC layer's output (``hidden`` features): what the logits are read from."""
        for conv in self.convs:
            x = conv(x, training=training)
        return self.fc1(self.flatten(x))

    def call(self, x, training=None):
        return self.fc2(self.embed(x, training=training))

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.n_outputs)

    def get_config(self) -> dict:
        return {**super().get_config(), "n_conv": self.n_conv, "filters": list(self.filters), "hidden": self.hidden,
                "n_outputs": self.n_outputs}


def n_logits(task: str, n_classes: int) -> int:
    """One logit (P(generated)) for detection, one per class for attribution."""
    if task not in TASK_CONVS:
        raise ValueError(f"task must be one of {TASKS}, got {task!r}")
    return 1 if task == "detect" else int(n_classes)


def build_fingerprint_classifier(task: str, n_classes: int = 2, preset: str | Preset = "tiny",
                                 dtype_policy: str | None = None) -> keras.Model:
    """uint8 ``image`` -> {``logits``, ``fingerprint``} (uncompiled); the FEN sized by the preset."""
    p = get_preset(preset)
    dtype = dtype_policy or p.dtype_policy
    s = p.image_size
    with fused_kernel(p.fused_batch_norm):
        image = keras.Input((s, s, 3), dtype="uint8", name="image")
        x = ImagePreprocess(name="preprocess")(image)
        fp = DnCNN(p.fen_depth, p.fen_width, 3, s, dtype=dtype, name="fen")(x)
        fingerprint = layers.Activation("linear", dtype="float32", name="fingerprint")(fp)
        logits = ShallowClassifier(TASK_CONVS[task], p.encoder_filters, p.feature_dim, n_logits(task, n_classes),
                                   dtype=dtype, name="classifier")(fp)
        logits = layers.Activation("linear", dtype="float32", name="logits")(logits)
        return keras.Model(image, {"logits": logits, "fingerprint": fingerprint}, name=f"reparse_{task}")


def compile_fingerprint_classifier(model: keras.Model, task: str, preset: str | Preset = "tiny",
                                   fingerprint_weight: float | None = None) -> keras.Model:
    """Adam(preset lr); cross-entropy on ``logits`` + ``fingerprint_weight`` x J_f on generated images."""
    p = get_preset(preset)
    ce = keras.losses.BinaryCrossentropy(from_logits=True) if task == "detect" else \
        keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    weight = p.classifier_fingerprint_weight if fingerprint_weight is None else fingerprint_weight
    model.compile(optimizer=keras.optimizers.Adam(p.learning_rate),
                  loss={"logits": ce, "fingerprint": GeneratedFingerprintLoss()},
                  loss_weights={"logits": 1.0, "fingerprint": float(weight)},
                  jit_compile=p.jit_compile, run_eagerly=p.run_eagerly)
    return model


def classifier_embeddings(model: keras.Model, images, batch_size: int = 256):
    """``[N, hidden]`` features of a trained detector / attributor (``ShallowClassifier.embed`` on its
    fingerprint) for uint8 ``images``: to probe what its representation carries."""
    import numpy as np

    pre, fen, clf = model.get_layer("preprocess"), model.get_layer("fen"), model.get_layer("classifier")
    out = [keras.ops.convert_to_numpy(clf.embed(fen(pre(images[i:i + batch_size]), training=False), training=False))
           for i in range(0, len(images), batch_size)]
    return np.concatenate(out)
