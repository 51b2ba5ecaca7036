"""The residual detector: the steganalysis view of a generated image, beside the detection network.

An adversarial attack adds a perturbation of a few grey levels to a real image: its spectrum and
colours stay those of the real image, and the detection network, which learns what GMs draw,
scores many attacks as real. Steganalysis has the tool for small additive signals: the
co-occurrences of quantised, truncated noise residuals (Fridrich & Kodovsky 2012, "Rich models for
steganalysis of digital images"). A natural image resized and stored as 8 bits has residuals whose
joint statistics a faint added pattern changes, wherever the pattern sits.

Features per image: for the first- and second-order pixel differences along rows and along columns
of every channel, the residuals truncated to ``[-T, T]`` and the normalised histogram of three
neighbouring residuals in the difference's direction (``(2T + 1)^3`` bins each, channels pooled);
the same truncated statistics of the colour differences R - G and G - B (grey content has none, a
perturbation drawn per channel does), both in log; beside them the spectral peer's features
(:func:`~reparse_tf.evaluation.spectral_peer.spectral_features`). A class-balanced logistic regression
on standardised features gives P(generated). :class:`ResidualDetector` is saved as plain arrays
(``np.savez``, no pickle) beside a detect model; the detect model's answer is the mean of the
network's and this detector's probabilities. numpy / scikit-learn only.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from reparse_tf.evaluation.spectral_peer import spectral_features

TRUNCATION = 2          # T: residuals beyond +-2 grey levels are content, not perturbation
ORDER = 3               # neighbouring residuals per co-occurrence
LOG_FLOOR = 1e-5
DEFAULT_C = 0.1         # logistic regularisation (the spectral peer's detection setting)
RESIDUAL_DETECTOR_FILE = "residual_detector.npz"


def _checked(images: np.ndarray) -> np.ndarray:
    images = np.asarray(images)
    if images.ndim != 4 or images.shape[-1] != 3:
        raise ValueError(f"expected images [N, H, W, 3], got {images.shape}")
    return images


def _row_histograms(codes: np.ndarray, bins: int) -> np.ndarray:
    """``[n, bins]`` histogram of each row of int codes ``[n, ...]`` in ``[0, bins)``, normalised to sum 1 (one
    bincount for the batch: each row's codes are offset by ``row * bins``)."""
    n = len(codes)
    flat = codes.reshape(n, -1).astype(np.int64) + np.arange(n)[:, None] * bins
    hist = np.bincount(flat.ravel(), minlength=n * bins).reshape(n, bins).astype(np.float64)
    return hist / hist.sum(axis=1, keepdims=True)


def cooccurrence_features(images: np.ndarray, batch: int = 512) -> np.ndarray:
    """``[N, 4 (2T+1)^3]`` co-occurrence histograms of uint8 images ``[N, H, W, 3]`` (module docstring), each
    of the four residual kinds normalised to sum 1."""
    images = _checked(images)
    levels = 2 * TRUNCATION + 1
    bins = levels ** ORDER
    weights = levels ** np.arange(ORDER)
    out = []
    for s in range(0, len(images), batch):
        x = np.asarray(images[s:s + batch], np.int16).transpose(0, 3, 1, 2)   # [n, C, H, W]
        kinds = []
        for axis in (2, 3):
            for order in (1, 2):
                q = np.clip(np.diff(x, n=order, axis=axis), -TRUNCATION, TRUNCATION) + TRUNCATION
                length = q.shape[axis]
                code = sum(np.take(q, np.arange(k, length - ORDER + 1 + k), axis=axis).astype(np.int32) * w
                           for k, w in enumerate(weights))
                kinds.append(_row_histograms(code, bins))
        out.append(np.concatenate(kinds, axis=1))
    return np.concatenate(out).astype(np.float32)


def cross_channel_features(images: np.ndarray, batch: int = 512) -> np.ndarray:
    """``[N, 2 (L + 2 L^2)]``, ``L = 2T + 1``: for the colour differences R - G and G - B (less their rounded mean:
    a colour cast is not noise), the histogram of the truncated difference and of its horizontal and vertical
    neighbour pairs, each normalised to sum 1. Real images of grey content have R = G = B exactly; a
    perturbation drawn per channel breaks that."""
    images = _checked(images)
    levels = 2 * TRUNCATION + 1
    out = []
    for s in range(0, len(images), batch):
        x = np.asarray(images[s:s + batch], np.int16)
        parts = []
        for d in (x[..., 0] - x[..., 1], x[..., 1] - x[..., 2]):
            d = d - np.round(d.mean(axis=(1, 2), keepdims=True)).astype(np.int16)
            q = (np.clip(d, -TRUNCATION, TRUNCATION) + TRUNCATION).astype(np.int32)
            parts += [_row_histograms(q, levels), _row_histograms(q[:, :, :-1] * levels + q[:, :, 1:], levels ** 2),
                      _row_histograms(q[:, :-1, :] * levels + q[:, 1:, :], levels ** 2)]
        out.append(np.concatenate(parts, axis=1))
    return np.concatenate(out).astype(np.float32)


def detector_features(images: np.ndarray) -> np.ndarray:
    """The detector's input: spectral peer features, log co-occurrences and log cross-channel histograms."""
    residual = np.concatenate([cooccurrence_features(images), cross_channel_features(images)], axis=1)
    return np.concatenate([spectral_features(images), np.log(residual + LOG_FLOOR)], axis=1)


def combine(p_network: np.ndarray, p_residual: np.ndarray) -> np.ndarray:
    """A detect model's P(generated): the mean of its network's and its residual detector's probabilities (the
    network sees what GMs draw, the residual detector what an attack adds)."""
    return (np.asarray(p_network, np.float64) + np.asarray(p_residual, np.float64)) / 2


@dataclass
class ResidualDetector:
    """A standardised logistic regression on :func:`detector_features`: ``p_generated(images) -> [N]``."""

    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray
    intercept: float

    @classmethod
    def fit(cls, images: np.ndarray, generated: np.ndarray, c: float = DEFAULT_C, seed: int = 0
            ) -> ResidualDetector:
        from sklearn.linear_model import LogisticRegression
        from sklearn.preprocessing import StandardScaler

        generated = np.asarray(generated, bool)
        if generated.all() or not generated.any():
            raise ValueError("the residual detector needs real and generated images")
        x = detector_features(images)
        scaler = StandardScaler().fit(x)
        clf = LogisticRegression(C=c, class_weight="balanced", max_iter=3000, random_state=seed)
        clf.fit(scaler.transform(x), generated)
        return cls(scaler.mean_, scaler.scale_, clf.coef_[0], float(clf.intercept_[0]))

    def p_generated(self, images: np.ndarray) -> np.ndarray:
        from scipy.special import expit

        return expit((detector_features(images) - self.mean) / self.scale @ self.coef + self.intercept)

    def describe(self) -> dict:
        return {"file": RESIDUAL_DETECTOR_FILE, "features": int(len(self.coef)), "truncation": TRUNCATION,
                "order": ORDER, "combined_with_network": "mean of the two probabilities"}

    def save(self, path: str | Path) -> Path:
        """Write the arrays to ``path`` (under a temporary name, then renamed)."""
        path = Path(path)
        tmp = path.with_name(f".{path.name}.tmp.npz")
        np.savez(tmp, mean=self.mean, scale=self.scale, coef=self.coef, intercept=np.asarray(self.intercept),
                 truncation=np.asarray(TRUNCATION), order=np.asarray(ORDER))
        tmp.replace(path)
        return path

    @classmethod
    def beside(cls, folder: str | Path, meta: dict) -> ResidualDetector | None:
        """The residual detector in ``folder`` (a MODEL DIR, or a pushed version's ``assets.extra``) when the
        model's ``task_meta.json`` ``meta`` says it has one; None for any other model."""
        if meta.get("task") != "detect" or not meta.get("residual_detector"):
            return None
        path = Path(folder) / RESIDUAL_DETECTOR_FILE
        if not path.is_file():
            raise FileNotFoundError(f"{path}: missing (the model's metadata names a residual detector; its "
                                    f"thresholds were chosen on the combined probability)")
        return cls.load(path)

    @classmethod
    def load(cls, path: str | Path) -> ResidualDetector:
        with np.load(path, allow_pickle=False) as a:
            if int(a["truncation"]) != TRUNCATION or int(a["order"]) != ORDER:
                raise ValueError(f"{path}: fitted with truncation {int(a['truncation'])} / order {int(a['order'])}, "
                                 f"this reparse computes {TRUNCATION} / {ORDER}")
            return cls(a["mean"], a["scale"], a["coef"], float(a["intercept"]))
