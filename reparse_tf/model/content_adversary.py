"""Content adversary: a classifier of the image's content behind a gradient reversal (``keras`` only).

The parser's embedding reads which content (training dataset) an image shows far better than anything
about its generator, and with a few dozen training GMs the content names the GM. Domain-adversarial
training (Ganin & Lempitsky, ICML 2015) removes such a shortcut: a small head learns to predict the
content from the embedding, and the gradient that reaches the embedding through it is reversed and
scaled, so the encoder is pushed to make the content unreadable while the parsing heads train as usual.
"""

from __future__ import annotations

import keras
from keras import layers, ops

OUTPUT = "content_adversary"


@keras.saving.register_keras_serializable(package="reparse")
class GradientReversal(layers.Layer):
    """The identity forward; ``-scale`` times the incoming gradient backward.

    ``stop_gradient((1 + s) x) - s x`` equals ``x`` and has derivative ``-s``: the same on every backend,
    without a custom-gradient hook."""

    def __init__(self, scale: float = 1.0, **kwargs):
        kwargs.setdefault("dtype", "float32")
        super().__init__(**kwargs)
        self.scale = float(scale)

    def call(self, x):
        x = ops.cast(x, "float32")
        return ops.stop_gradient((1.0 + self.scale) * x) - self.scale * x

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self) -> dict:
        return {**super().get_config(), "scale": self.scale}


def content_adversary_head(features, n_contents: int, hidden: int, scale: float, dtype=None):
    """Logits over ``n_contents`` contents, read from ``features`` through a :class:`GradientReversal`."""
    if n_contents < 2:
        raise ValueError(f"a content adversary needs at least 2 contents among the training GMs, got {n_contents}")
    x = GradientReversal(scale, name=f"{OUTPUT}_reversal")(features)
    x = layers.Dense(hidden, activation="relu", name=f"{OUTPUT}_hidden", dtype=dtype)(x)
    return layers.Dense(n_contents, name=OUTPUT, dtype="float32")(x)


def content_adversary_loss() -> keras.losses.Loss:
    """Cross-entropy of the adversary's logits against the content index."""
    return keras.losses.SparseCategoricalCrossentropy(from_logits=True)
