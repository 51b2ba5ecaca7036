"""The spectral parser: the spectral peer with the residual's 2-D spectrum, shipped as a per-image parser.

On the built-in ``standard`` zoo (4 folds, unseen GMs) this scikit-learn parser of an image's spectral features
(:mod:`reparse_tf.evaluation.spectral_peer`, ``cells = 2``) reads the architecture better than the trained
networks do (README, Results), the up-sampling type above all; ``reparse parse --spectral`` answers with it.
It is fitted on the same GMs as the parse model it sits beside and saved as plain arrays.
numpy / scipy / scikit-learn only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from reparse_tf.data.schema import MinMaxNormalizer
from reparse_tf.evaluation.spectral_peer import SpectralPeer, load_peer, save_peer, spectral_features

SPECTRAL_PARSER_FILES = ("spectral_parser.npz", "spectral_parser.json")   # beside a parse model's files
CELLS = 2   # the 2-D residual spectrum in 2 x 2 frequency cells (``spectral_peer_2d``)


@dataclass
class SpectralParser:
    """Per-image parser: a fitted :class:`SpectralPeer` on ``spectral_features(images, cells)``.

    ``normalizer``: the training GMs' min-max, for answers in raw units; ``card``: what its evaluation measured."""

    peer: SpectralPeer
    normalizer: MinMaxNormalizer
    cells: int = CELLS
    image_size: int = 64
    card: dict = field(default_factory=dict)

    def predict(self, images: np.ndarray, batch_size: int | None = None):
        """:class:`~reparse_tf.serving.inference.Predictions` of uint8 ``[N, S, S, 3]`` images, one row each
        (``batch_size`` is accepted for the network parser's signature; features are computed in chunks anyway)."""
        from reparse_tf.serving.inference import Predictions

        images = np.asarray(images)
        if len(images) and images.shape[1:3] != (self.image_size, self.image_size):
            raise ValueError(f"images of {images.shape[1:3]} pixels: the spectral parser reads "
                             f"{self.image_size} x {self.image_size}")
        cont, _, probs = self.peer.predict(features=spectral_features(images, cells=self.cells))
        return Predictions.decode(cont, probs, self.normalizer)

    def save(self, directory: str | Path) -> Path:
        """Write ``SPECTRAL_PARSER_FILES`` into ``directory``."""
        return save_peer(directory, SPECTRAL_PARSER_FILES, self.peer,
                         {"cells": self.cells, "normalizer": self.normalizer.to_json(),
                          "image_size": self.image_size, "card": self.card})

    @classmethod
    def load(cls, directory: str | Path) -> SpectralParser:
        peer, meta = load_peer(directory, SPECTRAL_PARSER_FILES, "spectral parser")
        return cls(peer, MinMaxNormalizer.from_json(meta["normalizer"]), int(meta["cells"]), int(meta["image_size"]),
                   meta.get("card") or {})
