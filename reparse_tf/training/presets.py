"""Training presets: network sizes and optimisation settings (numpy-free, backend-free).

- ``tiny``: CI smoke tests (a whole train in well under a minute on tiny data).
- ``cpu``: reduced FEN/PN for the ``standard`` zoo on a 2-core CPU (dtype / XLA measured per machine).
- ``paper``: RE-Net sec. 4.1: DnCNN-17 x 64 filters, 64x64, batch 32, Adam 1e-4, 10 epochs.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from typing import Any

from reparse_tf.data.folds import DEFAULT_VALIDATION_FRACTION


@dataclass(frozen=True)
class Preset:
    """Knobs of one training preset.

    Attributes:
        fen_depth, fen_width: DnCNN conv layers and filters.
        encoder_filters: filters of the PN shared encoder's stride-2 conv blocks.
        encoder_pool: "flatten" (paper) or "avg" (global average pooling, smaller FC).
        encoder: PN shared encoder on the fingerprint: "conv" (sec. 3.3) or "spectral" (pooled log power
            spectrum, ``spectral_bins`` x ``spectral_bins`` per channel; see ``parsers.shared_encoder``).
        dropout: dropout rate on the shared embedding.
        feature_dim: width of the shared encoder's FC layer (512 in the paper).
        parser_dim: hidden width of each parser (cluster, instance, fusion, direct) branch.
        cnn_width: base width of the ResNet-18-style baseline backbone (widths w, 2w, 4w, 8w).
        gamma: weight of every parsing term (gamma_1..gamma_5 = 5 in sec. 4.1).
        images_per_gm: cap on training images per GM and epoch (None = all).
        dtype_policy: Keras dtype policy of the conv/dense layers ("float32" or "mixed_bfloat16").
        jit_compile: passed to ``Model.compile``.
        fused_batch_norm: batch norm by TensorFlow's fused kernel on the TensorFlow backend (False: Keras'
            composite ops, half of a `cpu`-preset step on a CPU; ``reparse_tf.model.batch_norm``). A speed
            setting: the numbers are the same.
        tune: train with the fastest (dtype policy, XLA) setting measured on this machine, once per
            machine and network shape (``reparse_tf.training.hardware``); ``dtype_policy`` and
            ``jit_compile`` are then only the fallback of an explicit ``tune=False``.
        run_eagerly: no graph tracing/compilation (faster for the few steps of CI runs).
        validation_fraction: share of each family's training GMs held out as validation GMs (model
            selection, early stopping and the per-epoch diagnostics; see ``folds.validation_split``).
        patience: stop after this many epochs without a better validation score (None: train all
            epochs); the best validation epoch's weights are kept either way.
        clusters: cluster ground truth: "elbow" (k-means per GM type, k by the elbow, sec. 3.3.1) or
            "family" (one cluster per GM type).
        class_weight_norm: divide the class weights N / N_i by the number of classes present, so the
            mean weight over training images is 1 (the unnormalised weights make the 32 classifiers
            outweigh the continuous regression by ~35x at initialisation).
        continuous_weight: extra multiplier of the continuous regression terms.
        readout: final predictions from the PN's own heads ("heads", the paper) or from a linear readout
            refitted on the frozen embedding after training ("linear", ``reparse_tf.training.readout``).
        readout_images_per_gm: training images per fitted GM that the linear readout is fitted on.
        classifier_epochs: epochs of the detection / attribution networks (None: ``epochs``); an epoch
            of theirs costs about a third of a parsing epoch and 4 leave the detector underfitted.
        classifier_fingerprint_weight: multiplier of J_f in the detection / attribution networks. 0:
            without the constraints, which measured better on every fold of the standard zoo (README,
            Results); ``fingerprint_weight`` (1) is the paper's recipe (``reparse train --fingerprint``).
        synthetic_attacks: untrained adversarial-attack generators whose perturbations of the real training
            images join the detector's generated training images (0: none;
            ``reparse_tf.training.synthetic_attacks``).
        content_adversary: reversal scale of a content classifier on the embedding
            (``reparse_tf.model.content_adversary``; 0: none). The encoder is trained to make the training
            images' content unreadable, the shortcut by which a parser names its training GMs.
        residual_detector: fit the residual detector (steganalysis co-occurrences + spectral features,
            ``reparse_tf.model.residual_detector``) beside the detection network; the detect model's answer
            is the mean of the two probabilities.
    """

    name: str
    image_size: int = 64
    fen_depth: int = 17
    fen_width: int = 64
    encoder_filters: tuple[int, ...] = (32, 64, 128, 256)
    encoder_pool: str = "flatten"
    encoder: str = "conv"
    spectral_bins: int = 16
    dropout: float = 0.0
    feature_dim: int = 512
    parser_dim: int = 256
    cnn_width: int = 64
    batch_size: int = 32
    learning_rate: float = 1e-4
    epochs: int = 10
    gamma: float = 5.0
    fingerprint_weight: float = 1.0
    images_per_gm: int | None = None
    dtype_policy: str = "float32"
    jit_compile: bool | str = "auto"
    fused_batch_norm: bool = True
    tune: bool = False
    run_eagerly: bool = False
    validation_fraction: float = DEFAULT_VALIDATION_FRACTION
    patience: int | None = None
    clusters: str = "elbow"
    class_weight_norm: bool = False
    continuous_weight: float = 1.0
    readout: str = "heads"
    readout_images_per_gm: int = 16
    classifier_epochs: int | None = None
    classifier_fingerprint_weight: float = 0.0
    synthetic_attacks: int = 0
    content_adversary: float = 0.0
    residual_detector: bool = True

    def to_json(self) -> dict:
        d = asdict(self)
        d["encoder_filters"] = list(self.encoder_filters)
        return d

    @classmethod
    def from_json(cls, d: dict) -> Preset:
        d = dict(d)
        d["encoder_filters"] = tuple(d["encoder_filters"])
        return cls(**d)

    def with_overrides(self, **kw) -> Preset:
        return replace(self, **{k: v for k, v in kw.items() if v is not None})


PRESETS: dict[str, Preset] = {
    "tiny": Preset("tiny", fen_depth=3, fen_width=8, encoder_filters=(8, 16), encoder_pool="avg",
                   feature_dim=32, parser_dim=16, cnn_width=8, batch_size=16, learning_rate=1e-3, epochs=2,
                   jit_compile=False, run_eagerly=True),
    "cpu": Preset("cpu", fen_depth=5, fen_width=16, encoder_filters=(16, 32, 64, 64), encoder_pool="avg",
                  feature_dim=128, parser_dim=64, cnn_width=16, batch_size=32, learning_rate=1e-3, epochs=4,
                  images_per_gm=150, jit_compile=True, tune=True, classifier_epochs=12),
    "paper": Preset("paper", tune=True),
}


def get_preset(name: str | Preset) -> Preset:
    """Preset by name; ``NAME:field=value,...`` for a named preset with fields changed (each value read as the
    type of the field's value in that preset), so one string carries a configuration through the CLI and the
    pipeline's parameters; a :class:`Preset` passes through."""
    if isinstance(name, Preset):
        return name
    base, _, changes = name.partition(":")
    try:
        preset = PRESETS[base]
    except KeyError:
        raise ValueError(f"unknown preset {base!r}; choose one of {', '.join(PRESETS)}") from None
    return preset.with_overrides(**_typed_changes(preset, changes)) if changes else preset


def _typed_changes(preset: Preset, changes: str) -> dict[str, Any]:
    names = {f.name for f in fields(Preset)}
    out: dict[str, Any] = {}
    for item in changes.split(","):
        key, eq, text = (part.strip() for part in item.partition("="))
        if not eq or key not in names or key == "name":
            raise ValueError(f"preset change {item!r}: expected FIELD=VALUE with a field of the preset "
                             f"({', '.join(sorted(names - {'name'}))})")
        current = getattr(preset, key)
        if isinstance(current, bool):
            if text.lower() not in ("true", "false"):
                raise ValueError(f"preset change {item!r}: {key} is true or false")
            out[key] = text.lower() == "true"
        elif isinstance(current, int | float):
            out[key] = type(current)(text)
        elif current is None or isinstance(current, str):
            out[key] = text
        else:
            raise ValueError(f"preset change {item!r}: {key} ({type(current).__name__}) cannot be set in a string")
    return out
