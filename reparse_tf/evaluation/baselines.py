"""Parsing baselines that see no images: what a parser must beat before it parses anything.

- ``constant``: every test GM gets the training GMs' mean (continuous, normalised) and majority
  class (discrete);
- ``label_copy``: every test GM gets the labels of a random training GM, scored over many draws;
- ``family_oracle``: every test GM gets the mean / majority of the training GMs of *its own*
  family (GM type). It reads the test GM's true family, so it is a reference, not a method: a
  parser that recognised the family and nothing else would score this.

Each returns per-GM predictions ``(continuous [n_test, n_cont] normalised, discrete [n_test,
n_disc] codes)`` from label tables alone (the training GMs' normaliser), so every baseline is scored
by the same :mod:`reparse_tf.evaluation.metrics` code as the model. numpy only.
"""

from __future__ import annotations

import numpy as np

from reparse_tf.data.labels import LabelTable
from reparse_tf.data.schema import HyperparameterSchema, MinMaxNormalizer, load_schema, split_labels

LABEL_BASELINES = ("constant", "label_copy", "family_oracle")
LABELS = {"constant": "Constant (training mean / majority)", "label_copy": "Label copy (random training GM)",
          "family_oracle": "Family oracle (true family's mean / majority; reference)"}


def majority(codes: np.ndarray, num_classes: int) -> int:
    """Most frequent code (ties to the smallest)."""
    return int(np.argmax(np.bincount(np.asarray(codes, int), minlength=num_classes)))


def _mean_majority(cont: np.ndarray, disc: np.ndarray, schema: HyperparameterSchema) -> tuple[np.ndarray, np.ndarray]:
    return cont.mean(axis=0), np.array([majority(disc[:, m], p.num_classes) for m, p in enumerate(schema.discrete)])


def constant(train: LabelTable, test: LabelTable, normalizer: MinMaxNormalizer,
             schema: HyperparameterSchema | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Training mean / majority for every test GM."""
    schema = schema or load_schema()
    c, d = _mean_majority(*split_labels(train.values, normalizer, schema), schema)
    return np.tile(c, (len(test), 1)), np.tile(d, (len(test), 1))


def family_oracle(train: LabelTable, test: LabelTable, normalizer: MinMaxNormalizer,
                  schema: HyperparameterSchema | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Mean / majority of the training GMs of each test GM's true family (the global ones when the
    family has no training GM)."""
    schema = schema or load_schema()
    cont, disc = split_labels(train.values, normalizer, schema)
    types = np.asarray(train.gm_types)
    fallback = _mean_majority(cont, disc, schema)
    per_type = {t: _mean_majority(cont[types == t], disc[types == t], schema) for t in set(types.tolist())}
    rows = [per_type.get(t, fallback) for t in test.gm_types]
    return np.stack([r[0] for r in rows]), np.stack([r[1] for r in rows])


def label_copy(train: LabelTable, test: LabelTable, normalizer: MinMaxNormalizer, rng: np.random.Generator,
               schema: HyperparameterSchema | None = None) -> tuple[np.ndarray, np.ndarray]:
    """One draw: each test GM gets the labels of a training GM drawn uniformly."""
    schema = schema or load_schema()
    cont, disc = split_labels(train.values, normalizer, schema)
    pick = rng.integers(0, len(train), size=len(test))
    return cont[pick], disc[pick]


def expand_to_images(gm_pred: tuple[np.ndarray, np.ndarray], test_gms: list[str],
                     image_gms: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-image predictions from per-GM ones (every image of a GM gets its GM's prediction)."""
    row = {g: i for i, g in enumerate(test_gms)}
    idx = np.array([row[str(g)] for g in np.asarray(image_gms).astype(str)], int)
    return gm_pred[0][idx], gm_pred[1][idx]
