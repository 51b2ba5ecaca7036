"""The benchmark's variants (the method, its ablations and baselines) and how tables name them.

A module of its own so the report can name the rows without importing the benchmark runner.
"""

from __future__ import annotations

from typing import Any

from reparse_tf.evaluation.baseline_evaluation import LABELS as BASELINE_LABELS

# variant -> keyword arguments of reparse_tf.training.parser_training.train ("overrides": preset fields changed)
VARIANTS: dict[str, dict[str, Any]] = {
    "full": {"parser": "two", "fingerprint": True, "backbone": "fen", "random_gt": False},
    "random_gt": {"parser": "two", "fingerprint": True, "backbone": "fen", "random_gt": True},
    "no_fingerprint": {"parser": "two", "fingerprint": False, "backbone": "fen", "random_gt": False},
    "one_parser": {"parser": "one", "fingerprint": True, "backbone": "fen", "random_gt": False},
    "cnn": {"parser": "two", "fingerprint": False, "backbone": "cnn", "random_gt": False},
    # ablations of the training recipe (issue: what the diagnostics show)
    "family_clusters": {"parser": "two", "fingerprint": True, "backbone": "fen", "random_gt": False,
                        "overrides": {"clusters": "family"}},
    "balanced_loss": {"parser": "two", "fingerprint": True, "backbone": "fen", "random_gt": False,
                      "overrides": {"class_weight_norm": True, "continuous_weight": 10.0}},
    "family_balanced": {"parser": "two", "fingerprint": True, "backbone": "fen", "random_gt": False,
                        "overrides": {"clusters": "family", "class_weight_norm": True, "continuous_weight": 10.0}},
    # content-invariant PN input: the pooled log spectrum of the fingerprint instead of conv blocks
    "spectral_encoder": {"parser": "two", "fingerprint": True, "backbone": "fen", "random_gt": False,
                         "overrides": {"encoder": "spectral"}},
    "dropout": {"parser": "two", "fingerprint": True, "backbone": "fen", "random_gt": False,
                "overrides": {"dropout": 0.5}},
    # against the content shortcut: a gradient-reversed content classifier on the embedding
    "content_adversary": {"parser": "two", "fingerprint": True, "backbone": "fen", "random_gt": False,
                          "overrides": {"content_adversary": 1.0}},
    "content_adversary_x10": {"parser": "two", "fingerprint": True, "backbone": "fen", "random_gt": False,
                              "overrides": {"content_adversary": 10.0}},
    # training length: three times the epochs, stopped early and selected on the validation GMs
    "long_training": {"parser": "two", "fingerprint": True, "backbone": "fen", "random_gt": False,
                      "overrides": {"epochs": 12, "patience": 3}},
    # the same method under a fixed speed setting (the cpu preset's before it was measured per machine):
    # parsing metrics must not depend on the dtype / XLA choice
    "full_bf16_xla": {"parser": "two", "fingerprint": True, "backbone": "fen", "random_gt": False,
                      "overrides": {"dtype_policy": "mixed_bfloat16", "jit_compile": True, "tune": False}},
    # bf16 on TensorFlow's own kernels (AMX tiles where there are) against float32, both fixed
    "full_bf16": {"parser": "two", "fingerprint": True, "backbone": "fen", "random_gt": False,
                  "overrides": {"dtype_policy": "mixed_bfloat16", "jit_compile": False, "tune": False}},
    "full_float32": {"parser": "two", "fingerprint": True, "backbone": "fen", "random_gt": False,
                     "overrides": {"dtype_policy": "float32", "jit_compile": False, "tune": False}},
    # the fastest cpu-preset setting measured on a bf16 CPU: four times the batch (issue 24's x2 training goal)
    "full_bf16_batch128": {"parser": "two", "fingerprint": True, "backbone": "fen", "random_gt": False,
                           "overrides": {"dtype_policy": "mixed_bfloat16", "jit_compile": False, "tune": False,
                                         "batch_size": 128}},
    # Keras' composite batch norm instead of TensorFlow's fused kernel (the implementation before; a speed setting)
    "full_keras_bn": {"parser": "two", "fingerprint": True, "backbone": "fen", "random_gt": False,
                      "overrides": {"fused_batch_norm": False}},
}
DEFAULT_VARIANTS = ("full", "random_gt", "no_fingerprint", "one_parser", "cnn")
LABELS = {"full": "Full method (FEN + PN)", "random_gt": "Random ground truth", "no_fingerprint": "No fingerprint",
          "one_parser": "One parser", "cnn": "CNN backbone", "family_clusters": "Full, one cluster per family",
          "balanced_loss": "Full, balanced loss terms", "family_balanced": "Full, family clusters + balanced loss",
          "spectral_encoder": "Full, spectral encoder", "dropout": "Full, dropout 0.5 on the embedding",
          "content_adversary": "Full, content adversary (gradient reversal x1)",
          "content_adversary_x10": "Full, content adversary (gradient reversal x10)",
          "long_training": "Full, 12 epochs, early stopping on validation GMs",
          "full_bf16_xla": "Full, mixed_bfloat16 + XLA (fixed speed setting)",
          "full_bf16": "Full, mixed_bfloat16, XLA off (fixed speed setting)",
          "full_float32": "Full, float32, XLA off (fixed speed setting)",
          "full_bf16_batch128": "Full, mixed_bfloat16, XLA off, batch 128 (fixed speed setting)",
          "full_keras_bn": "Full, Keras' composite batch norm (no fused kernel)",
          **BASELINE_LABELS}
# a trained variant's frozen embedding under the spectral peer's regularised linear heads (evaluation's
# ``linear_heads``): tells the representation from the network's own heads
READOUT = "+readout"
LABELS.update({f"{v}{READOUT}": f"{LABELS[v]}, linear readout of the embedding" for v in VARIANTS})
TABLE_COLUMNS = ("continuous_l1", "continuous_pearson", "continuous_r2", "continuous_ransac_slope",
                 "discrete_f1", "discrete_accuracy", "loss_f1", "loss_accuracy")
