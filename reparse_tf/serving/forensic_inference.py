"""A trained detector / attribution network, from its MODEL DIR or a pushed SavedModel.

:func:`load_classifier` accepts a MODEL DIR (``model.keras`` + ``task_meta.json``), a pushed
SavedModel version dir or a pushed model root (highest version; needs TensorFlow). Both give the
same :class:`SourceClassifier` interface: ``logits(images)`` and ``answer(images)`` (the decoded
answer at the thresholds chosen on validation data). A detect model's answer averages the network's
P(generated) with its residual detector's (:mod:`reparse_tf.model.residual_detector`) when the model has one;
a pushed SavedModel carries it in ``assets.extra`` for this Python path (its serving signatures compute the same
answer as TF ops).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from reparse_tf.data.real_images import REAL
from reparse_tf.model.residual_detector import ResidualDetector, combine
from reparse_tf.training.forensic_training import META_FILE, probabilities, unknown_scores

#: open-set score used for the "unknown generator" answer
OPEN_SET_SCORE = "msp"


class SourceClassifier:
    """Logits of uint8 images from a Keras model or a SavedModel signature, plus the task's metadata."""

    def __init__(self, logits_fn, meta: dict, path: Path, residual: ResidualDetector | None = None):
        self._logits_fn, self.meta, self.path, self.residual = logits_fn, meta, path, residual
        self.task: str = meta["task"]
        self.classes: list[str] = list(meta["classes"])
        self.image_size = int(meta["image_size"])
        self.thresholds: dict = meta.get("thresholds", {})

    def logits(self, images_uint8: np.ndarray, batch_size: int = 64) -> np.ndarray:
        images = np.asarray(images_uint8, np.uint8)
        if images.ndim != 4 or images.shape[1:] != (self.image_size, self.image_size, 3):
            raise ValueError(f"expected uint8 [N, {self.image_size}, {self.image_size}, 3] images, got {images.shape}")
        out = [np.asarray(self._logits_fn(images[s:s + batch_size]), np.float64)
               for s in range(0, len(images), batch_size)]
        return np.concatenate(out) if out else np.zeros((0, 1 if self.task == "detect" else len(self.classes)))

    def p_generated(self, images_uint8: np.ndarray, batch_size: int = 64) -> dict[str, np.ndarray]:
        """A detect model's ``{"p_generated"}`` (its answer), with ``"network"`` and ``"residual"`` (each part
        alone) when it has a residual detector."""
        p_net = probabilities("detect", self.logits(images_uint8, batch_size))
        if self.residual is None:
            return {"p_generated": p_net}
        p_res = self.residual.p_generated(np.asarray(images_uint8, np.uint8))
        return {"p_generated": combine(p_net, p_res), "network": p_net, "residual": p_res}

    def answer(self, images_uint8: np.ndarray, batch_size: int = 64) -> list[dict[str, Any]]:
        """Per image: detect ``{p_generated, generated}`` (with a residual detector also ``p_network`` and
        ``p_residual``, the parts); attribute ``{source, probability, top, unknown_score, unknown}`` (``source`` is
        ``unknown generator`` above the open-set threshold)."""
        if self.task == "detect":
            thr = self.thresholds.get("p_generated", {}).get("threshold", 0.5)
            p = self.p_generated(images_uint8, batch_size)
            parts = [k for k in ("network", "residual") if k in p]
            return [{"p_generated": float(v), "generated": bool(v >= thr), "threshold": thr,
                     **{f"p_{k}": float(p[k][i]) for k in parts}} for i, v in enumerate(p["p_generated"])]
        z = self.logits(images_uint8, batch_size)
        probs = probabilities(self.task, z)
        score = unknown_scores(z)[OPEN_SET_SCORE]
        thr = self.thresholds.get(OPEN_SET_SCORE, {}).get("threshold")
        out = []
        for p, s in zip(probs, score, strict=True):
            order = np.argsort(-p)[:3]
            unknown = thr is not None and s >= thr
            best = self.classes[order[0]]
            out.append({"source": "unknown generator" if unknown else best, "most_likely_known": best,
                        "probability": float(p[order[0]]), "top": [[self.classes[k], float(p[k])] for k in order],
                        "unknown_score": float(s), "unknown": bool(unknown), "threshold": thr,
                        "generated": best != REAL or bool(unknown)})
        return out


def _keras_classifier(model_dir: Path) -> SourceClassifier:
    import keras

    from reparse_tf.training.forensic_training import logits_model

    meta = json.loads((model_dir / META_FILE).read_text())
    model = logits_model(keras.saving.load_model(model_dir / "model.keras"))
    # one batch per call: Model.predict's per-call data pipeline costs more than a few images' forward pass
    return SourceClassifier(model.predict_on_batch, meta, model_dir, ResidualDetector.beside(model_dir, meta))


def _saved_model_classifier(version_dir: Path) -> SourceClassifier:
    import tensorflow as tf

    from reparse_tf.serving.saved_model import ASSETS_EXTRA

    meta = json.loads((version_dir / ASSETS_EXTRA / META_FILE).read_text())
    serve = tf.saved_model.load(str(version_dir)).signatures["serving_default"]
    return SourceClassifier(lambda x: serve(images=tf.constant(x))["logits"].numpy(), meta, version_dir,
                            ResidualDetector.beside(version_dir / ASSETS_EXTRA, meta))


def is_forensic_model(path: str | Path) -> bool:
    """True for a detector / attribution MODEL DIR or pushed version dir."""
    from reparse_tf.serving.saved_model import ASSETS_EXTRA

    p = Path(path)
    return (p / META_FILE).is_file() or (p / ASSETS_EXTRA / META_FILE).is_file()


def load_classifier(path: str | Path, task: str | None = None) -> SourceClassifier:
    """The detector / attribution network at ``path`` (module docstring); ``task`` checks its kind."""
    from reparse_tf.serving.saved_model import ASSETS_EXTRA

    p = Path(path)
    if (p / "model.keras").is_file() and (p / META_FILE).is_file():
        clf = _keras_classifier(p)
    else:
        from reparse_tf.serving.artifacts import saved_model_dir

        p = saved_model_dir(p)
        if not (p / "saved_model.pb").is_file() or not (p / ASSETS_EXTRA / META_FILE).is_file():
            raise FileNotFoundError(f"{path}: not a detector / attribution model (a MODEL DIR with model.keras + "
                                    f"{META_FILE}, or a pushed SavedModel with {ASSETS_EXTRA}/{META_FILE})")
        clf = _saved_model_classifier(p)
    if task is not None and clf.task != task:
        raise ValueError(f"{path}: a {clf.task!r} model, not a {task!r} model (train one with "
                         f"`reparse train --task {task}`)")
    return clf
