"""FEN + PN assembled into one Keras model with named outputs (``keras`` only).

Input ``image``: uint8 ``[B, S, S, 3]``. Layers of note: ``fen`` (DnCNN, absent for the CNN
backbone), ``fingerprint_constraints`` (adds J_f), ``embedding`` (shared-encoder features).
Outputs: logits ``cluster_*`` / ``instance_*`` / ``fusion`` (``two`` parser) or ``direct_*``
(``one``), and predictions ``final_continuous`` (normalised) and ``final_<param>`` (probabilities).
"""

from __future__ import annotations

import keras

from reparse_tf.data.schema import HyperparameterSchema, load_schema
from reparse_tf.model import content_adversary
from reparse_tf.model.batch_norm import fused_kernel
from reparse_tf.model.fen import DnCNN
from reparse_tf.model.fingerprint_losses import FingerprintConstraints, default_window
from reparse_tf.model.parsers import (
    ImagePreprocess,
    parsing_heads,
    parsing_losses,
    resnet18_features,
    shared_encoder,
)
from reparse_tf.training.presets import Preset, get_preset

BACKBONES = ("fen", "cnn")


def build_model(preset: str | Preset = "tiny", parser: str = "two", fingerprint: bool = True,
                backbone: str = "fen", schema: HyperparameterSchema | None = None,
                dtype_policy: str | None = None, n_contents: int = 0) -> keras.Model:
    """Build the (uncompiled) parsing model.

    Args:
        preset: preset name or :class:`Preset`.
        parser: "two" (cluster + instance + fusion) or "one" (direct heads).
        fingerprint: add the fingerprint constraints J_f on the FEN output (False: FEN trained by
            the parsing loss only).
        backbone: "fen" (DnCNN FEN + PN encoder) or "cnn" (ResNet-18-style on the image, no FEN).
        dtype_policy: overrides the preset's policy ("float32" / "mixed_bfloat16").
        n_contents: contents among the training images; with the preset's ``content_adversary`` > 0 the
            model gets a ``content_adversary`` output (training only: nothing reads it at inference).
    """
    preset = get_preset(preset)
    schema = schema or load_schema()
    if backbone not in BACKBONES:
        raise ValueError(f"backbone must be one of {BACKBONES}, got {backbone!r}")
    dtype = dtype_policy or preset.dtype_policy
    s = preset.image_size
    with fused_kernel(preset.fused_batch_norm):
        image = keras.Input((s, s, 3), dtype="uint8", name="image")
        x = ImagePreprocess(name="preprocess")(image)
        if backbone == "fen":
            fp = DnCNN(preset.fen_depth, preset.fen_width, 3, s, dtype=dtype, name="fen")(x)
            fp = FingerprintConstraints(default_window(s), weight=preset.fingerprint_weight if fingerprint else 0.0,
                                        name="fingerprint_constraints")(fp)
            features = shared_encoder(fp, preset.encoder_filters, preset.encoder_pool, preset.feature_dim, dtype,
                                      preset.encoder, preset.spectral_bins, preset.dropout)
        else:
            features = resnet18_features(x, preset.cnn_width, preset.feature_dim, dtype)
        outputs = parsing_heads(features, parser, preset.parser_dim, schema, dtype)
        if preset.content_adversary > 0:
            outputs[content_adversary.OUTPUT] = content_adversary.content_adversary_head(
                features, n_contents, preset.parser_dim, preset.content_adversary, dtype)
        return keras.Model(image, outputs, name=f"reparse_{backbone}_{parser}")


def compile_model(model: keras.Model, parser: str, class_weights, preset: str | Preset = "tiny",
                  jit_compile: bool | str | None = None, schema: HyperparameterSchema | None = None) -> keras.Model:
    """Compile with Adam(preset lr) and the parsing losses (eq. 17; J_f comes via ``add_loss``)."""
    preset = get_preset(preset)
    losses, weights = parsing_losses(parser, class_weights, preset.gamma, schema, preset.class_weight_norm,
                                     preset.continuous_weight)
    if content_adversary.OUTPUT in model.output_names:  # weighted as one parsing term; the reversal scales it
        losses[content_adversary.OUTPUT] = content_adversary.content_adversary_loss()
        weights[content_adversary.OUTPUT] = float(preset.gamma)
    full = {name: losses.get(name) for name in model.output_names}
    full_w = {name: weights.get(name, 0.0) for name in model.output_names}
    model.compile(optimizer=keras.optimizers.Adam(preset.learning_rate), loss=full, loss_weights=full_w,
                  jit_compile=preset.jit_compile if jit_compile is None else jit_compile,
                  run_eagerly=preset.run_eagerly)
    return model
