"""Training of the deepfake detector and the image-attribution network (``keras`` only).

Splits of one leave-GMs-out fold (:func:`forensic_splits`; GMs from :func:`reparse_tf.data.folds.fold_gms`,
real images from :mod:`reparse_tf.data.real_images`):

- ``detect``: trains on every image of the fit GMs (label 1) and the real ``train`` split (label 0),
  class-balanced by sample weights; validation = the validation GMs (unseen) + real ``validation``
  (with no validation GMs: 20 % of the fit GMs' images, held out); test = the fold's test GMs
  (unseen) + real ``test``.
- ``attribute``: classes ``real`` + the fit GMs. Each fit GM's images are dealt 60 / 20 / 20 into
  train / validation / test (closed set: a GM is known, its held-out images are not); validation and
  test add the validation and test GMs as "unknown generator" images for the open-set score. Each
  epoch draws as many real images as images of one GM.

The epoch kept is the one with the best validation score (detect: AUC; attribute: closed-set
balanced accuracy); thresholds (detect: P(generated); attribute: the open-set score) are chosen on the
validation split. Test data reaches neither. Writes the MODEL DIR: ``model.keras``,
``task_meta.json``, ``history.json``, and for ``detect`` the residual detector fitted on the same training split
(``residual_detector.npz``, :mod:`reparse_tf.model.residual_detector`), whose probability the answer averages
with the network's.
"""

from __future__ import annotations

import json
import math
import os
import time
from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np

from reparse_tf.data.folds import fold_gms
from reparse_tf.data.real_images import REAL, SPLITS, RealImages, load_real_images, split_indices
from reparse_tf.model.fingerprint_classifier import (
    TASKS,
    build_fingerprint_classifier,
    compile_fingerprint_classifier,
)
from reparse_tf.model.residual_detector import RESIDUAL_DETECTOR_FILE, ResidualDetector, combine
from reparse_tf.serving.artifacts import write_json
from reparse_tf.training.hardware import tuned
from reparse_tf.training.presets import Preset, get_preset
from reparse_tf.training.synthetic_attacks import synthetic_attacks

META_FILE = "task_meta.json"
RESIDUAL_PER_SOURCE = 150   # generated images per GM that the residual detector is fitted on (all real images)


@dataclass
class SourceSet:
    """Images with their source (a GM name or ``real``), family (``real`` for real images) and content."""

    images: np.ndarray
    source: np.ndarray
    family: np.ndarray
    content: np.ndarray

    @property
    def generated(self) -> np.ndarray:
        return self.source != REAL

    def __len__(self) -> int:
        return len(self.source)


def _concat(parts: list[SourceSet]) -> SourceSet:
    return SourceSet(*(np.concatenate([getattr(p, k) for p in parts]) for k in ("images", "source", "family",
                                                                                 "content")))


def forensic_splits(task: str, arrays: dict[str, np.ndarray], fit: list[str], validation: list[str],
                    test: list[str], real: RealImages, seed: int = 0) -> dict[str, SourceSet]:
    """``{"train", "validation", "test"}`` :class:`SourceSet` of ``task`` (module docstring)."""
    if task not in TASKS:
        raise ValueError(f"task must be one of {TASKS}, got {task!r}")
    gm = np.asarray(arrays["gm"]).astype(str)
    family = np.asarray(arrays["gm_type"]).astype(str)
    content = np.asarray(arrays["content"]).astype(str)
    images = np.asarray(arrays["images"])

    def of(gms: list[str], rows: np.ndarray | None = None) -> SourceSet:
        r = np.flatnonzero(np.isin(gm, gms)) if rows is None else rows
        return SourceSet(images[r], gm[r], family[r], content[r])

    def reals(split: str) -> SourceSet:
        n = len(real.images[split])
        return SourceSet(real.images[split], np.full(n, REAL), np.full(n, REAL), np.asarray(real.content[split]))

    out = {"validation": [of(validation), reals("validation")], "test": [of(test), reals("test")]}
    fit_rows = np.flatnonzero(np.isin(gm, fit))
    parts = split_indices(gm[fit_rows], seed=seed)
    if task == "detect" and validation:
        out["train"] = [of(fit), reals("train")]
    elif task == "detect":
        # no validation GMs (a zoo too small to spare any): validate on held-out images of the fit GMs
        out["train"] = [of(fit, fit_rows[np.sort(np.concatenate([parts["train"], parts["test"]]))]), reals("train")]
        out["validation"].insert(0, of(fit, fit_rows[parts["validation"]]))
    else:
        out["train"] = [of(fit, fit_rows[parts["train"]]), reals("train")]
        for s in ("validation", "test"):
            out[s].insert(0, of(fit, fit_rows[parts[s]]))
    return {s: _concat([p for p in out[s] if len(p)]) for s in SPLITS}


def with_synthetic_attacks(train: SourceSet, n_generators: int, seed: int = 0) -> SourceSet:
    """``train`` plus its real images perturbed by ``n_generators`` untrained AA generators (family AA,
    content of the image perturbed; :mod:`reparse_tf.training.synthetic_attacks`)."""
    real_rows = np.flatnonzero(~train.generated)
    images, sources, rows = synthetic_attacks(train.images[real_rows], n_generators, seed)
    return _concat([train, SourceSet(images, sources, np.full(len(sources), "AA"), train.content[real_rows][rows])])


def class_ids(task: str, sources: np.ndarray, classes: list[str]) -> np.ndarray:
    """Detect: 1 generated / 0 real. Attribute: index in ``classes``, -1 for an unknown generator."""
    sources = np.asarray(sources).astype(str)
    if task == "detect":
        return (sources != REAL).astype(np.int64)
    lookup = {c: i for i, c in enumerate(classes)}
    return np.array([lookup.get(s, -1) for s in sources], np.int64)


class SourceDataset(keras.utils.PyDataset):
    """Batches ``(images, {logits, fingerprint}, {logits: weight, fingerprint: 1})``.

    Each epoch draws at most ``per_source`` images of every generator and ``real_cap`` real images
    (all when None). ``weight``: per-image loss weights (default 1).
    """

    def __init__(self, data: SourceSet, y: np.ndarray, batch_size: int, per_source: int | None,
                 real_cap: int | None = None, weight: np.ndarray | None = None, seed: int = 0,
                 binary: bool = False):
        super().__init__()
        self.data, self.y, self.batch_size = data, np.asarray(y), int(batch_size)
        sources = np.unique(data.source)
        self._caps = [real_cap if s == REAL else per_source for s in sources]
        self.weight = np.ones(len(y), np.float32) if weight is None else np.asarray(weight, np.float32)
        self.binary = binary
        self.rng = np.random.default_rng(seed)
        self._groups = [np.flatnonzero(data.source == s) for s in sources]
        self.on_epoch_end()

    def on_epoch_end(self) -> None:
        idx = [rows if cap is None or len(rows) <= cap else self.rng.choice(rows, cap, replace=False)
               for rows, cap in zip(self._groups, self._caps, strict=True)]
        self.index = self.rng.permutation(np.concatenate(idx))

    @property
    def num_batches(self) -> int:
        return math.ceil(len(self.index) / self.batch_size)

    def __getitem__(self, i: int):
        rows = self.index[i * self.batch_size:(i + 1) * self.batch_size]
        y = self.y[rows].astype(np.float32)[:, None] if self.binary else self.y[rows]
        generated = self.data.generated[rows].astype(np.float32)
        return self.data.images[rows], {"logits": y, "fingerprint": generated}, \
            {"logits": self.weight[rows], "fingerprint": np.ones(len(rows), np.float32)}


def cell_balanced_weights(cells: np.ndarray, mass: np.ndarray | None = None) -> np.ndarray:
    """Per-image weights giving every cell (e.g. class x content) the same total weight, mean 1.

    ``mass``: each image's expected draws per epoch (1 by default; ``cap / n`` for a capped GM)."""
    cells = np.asarray(cells).astype(str)
    mass = np.ones(len(cells)) if mass is None else np.asarray(mass, np.float64)
    _, inv = np.unique(cells, return_inverse=True)
    per_cell = np.bincount(inv, weights=mass)
    return mass.sum() / (len(per_cell) * per_cell[inv])


def detection_weights(train: SourceSet, cap: int | None) -> np.ndarray:
    """Loss weights of the detector's training images: each (real | generated) x content cell weighs the
    same, so neither the class sizes nor the contents' mix (which differs between the real images and
    the GMs) can stand in for the real-vs-generated decision."""
    mass = np.ones(len(train))
    if cap is not None:
        for g in np.unique(train.source[train.generated]):
            rows = train.source == g
            mass[rows] = min(1.0, cap / rows.sum())
    cells = np.char.add(np.where(train.generated, "generated/", "real/"), train.content.astype(str))
    return cell_balanced_weights(cells, mass)


def logits_model(model: keras.Model) -> keras.Model:
    """The classifier without the fingerprint output (inference)."""
    return keras.Model(model.inputs, model.get_layer("logits").output)


def probabilities(task: str, logits: np.ndarray) -> np.ndarray:
    """Detect: P(generated) ``[N]``; attribute: softmax ``[N, C]``."""
    z = np.asarray(logits, np.float64)
    if task == "detect":
        return 1 / (1 + np.exp(-z[:, 0]))
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def unknown_scores(logits: np.ndarray) -> dict[str, np.ndarray]:
    """Open-set scores, higher = more likely an unknown generator: ``msp`` (1 - maximum softmax
    probability, Hendrycks & Gimpel 2017) and ``energy`` (-logsumexp of the logits, Liu et al. 2020)."""
    z = np.asarray(logits, np.float64)
    m = z.max(axis=1, keepdims=True)
    lse = (m + np.log(np.exp(z - m).sum(axis=1, keepdims=True)))[:, 0]
    return {"msp": 1 - np.exp(m[:, 0] - lse), "energy": -lse}


def validation_score(task: str, logits: np.ndarray, y: np.ndarray) -> float:
    """Detect: ROC AUC of P(generated); attribute: closed-set balanced accuracy (the mean of the known
    classes' accuracies: the real class has more images than any GM)."""
    from sklearn.metrics import balanced_accuracy_score, roc_auc_score

    if task == "detect":
        return float(roc_auc_score(y, logits[:, 0])) if len(set(y.tolist())) == 2 else float("nan")
    known = y >= 0
    return float(balanced_accuracy_score(y[known], np.argmax(logits[known], axis=1))) if known.any() \
        else float("nan")


class BestValidationEpoch(keras.callbacks.Callback):
    """Scores the validation split each epoch (``val_score`` in the logs) and keeps the best weights."""

    def __init__(self, task: str, images: np.ndarray, y: np.ndarray, batch_size: int = 128):
        super().__init__()
        self.task, self.images, self.y, self.batch_size = task, images, y, batch_size
        self.best: tuple[float, int, list | None] = (-np.inf, 0, None)

    def on_train_begin(self, logs=None):
        self._logits = logits_model(self.model)

    def on_epoch_end(self, epoch, logs=None):
        logits = self._logits.predict(self.images, batch_size=self.batch_size, verbose=0)
        score = validation_score(self.task, logits, self.y)
        if logs is not None:
            logs["val_score"] = score
        if np.isfinite(score) and score > self.best[0]:
            self.best = (score, epoch + 1, self.model.get_weights())


def calibrate(task: str, logits: np.ndarray, y: np.ndarray, p_residual: np.ndarray | None = None) -> dict:
    """Thresholds chosen on validation data: detect P(generated) (balanced accuracy; with ``p_residual``, the
    residual detector's, of the mean of both probabilities, and ``p_generated_network`` of the network's alone),
    attribute the open-set scores (known vs unknown generator, balanced accuracy)."""
    from reparse_tf.evaluation.same_source import choose_threshold

    def pick(p: np.ndarray) -> dict:
        thr, acc = choose_threshold(p, y == 1, balanced=True)
        return {"threshold": thr, "validation_balanced_accuracy": acc}

    if task == "detect":
        p_net = probabilities(task, logits)
        if p_residual is None:
            return {"p_generated": pick(p_net)}
        return {"p_generated": pick(combine(p_net, p_residual)), "p_generated_network": pick(p_net)}
    unknown = y < 0
    if not unknown.any() or unknown.all():
        return {}
    return {name: dict(zip(("threshold", "validation_balanced_accuracy"),
                           choose_threshold(s, unknown, balanced=True), strict=True))
            for name, s in unknown_scores(logits).items()}


def fit_residual_detector(train: SourceSet, per_source: int = RESIDUAL_PER_SOURCE, seed: int = 0) -> ResidualDetector:
    """The residual detector on at most ``per_source`` images of each generated source and every real image of
    the training split."""
    from reparse_tf.evaluation.parsing_evaluation import subsample_per_gm

    rows = np.union1d(subsample_per_gm(train.source, per_source, seed), np.flatnonzero(~train.generated))
    return ResidualDetector.fit(train.images[rows], train.generated[rows], seed=seed)


def model_splits(meta: dict, examples_dir: str | Path, arrays: dict[str, np.ndarray] | None = None,
                 synthetic_attacks: bool = True) -> tuple[dict[str, SourceSet], RealImages]:
    """The splits a detect / attribute MODEL DIR was trained with (``meta``: its ``task_meta.json``), rebuilt
    from the examples and the same real images (checked against the counts the training recorded);
    ``synthetic_attacks``: add the preset's synthetic attacks to a detector's training split, as its training did."""
    from reparse_tf.evaluation.parsing_evaluation import load_examples

    leak = sorted(set(meta["test_gms"]) & set(meta["train_gms"] + meta["validation_gms"]))
    if leak:
        raise ValueError(f"test GMs {', '.join(leak)} were trained or validated on")
    if arrays is None:
        arrays = load_examples(examples_dir, meta["train_gms"] + meta["validation_gms"] + meta["test_gms"],
                               int(meta["image_size"]))
    contents = sorted(set(np.asarray(arrays["content"]).astype(str).tolist()))
    real = load_real_images(meta["real"]["paths"] or None, contents, int(meta["image_size"]), meta["seed"],
                            meta["real"].get("max_per_content"))
    if real.counts() != meta["real"]["counts"]:
        raise ValueError(f"the real images ({real.source}: {real.counts()}) differ from those the model was trained "
                         f"with ({meta['real']['counts']}): the splits cannot be rebuilt")
    splits = forensic_splits(meta["task"], arrays, meta["train_gms"], meta["validation_gms"], meta["test_gms"], real,
                             meta["seed"])
    synthetic = (meta.get("preset") or {}).get("synthetic_attacks", 0)
    if meta["task"] == "detect" and synthetic and synthetic_attacks:
        splits["train"] = with_synthetic_attacks(splits["train"], synthetic, meta["seed"])
    return splits, real


def add_residual_detector(model_dir: str | Path, examples_dir: str | Path | None = None,
                          arrays: dict[str, np.ndarray] | None = None) -> ResidualDetector:
    """Fit the residual detector of an existing detect MODEL DIR on its own training split, write it and
    re-choose the thresholds on its validation split (``examples_dir``: default, the one it was trained on)."""
    model_dir = Path(model_dir)
    meta = json.loads((model_dir / META_FILE).read_text())
    if meta["task"] != "detect":
        raise ValueError(f"{model_dir}: a {meta['task']!r} model; the residual detector is for detect models")
    splits, _ = model_splits(meta, examples_dir or meta["examples_dir"], arrays)
    residual = fit_residual_detector(splits["train"], seed=meta["seed"])
    val = splits["validation"]
    logits = logits_model(keras.saving.load_model(model_dir / "model.keras")).predict(val.images, batch_size=128,
                                                                                       verbose=0)
    residual.save(model_dir / RESIDUAL_DETECTOR_FILE)
    meta["thresholds"] = calibrate("detect", logits, class_ids("detect", val.source, meta["classes"]),
                                   residual.p_generated(val.images))
    meta["residual_detector"] = residual.describe()
    write_json(model_dir / META_FILE, meta)
    return residual


def train_forensic(task: str, examples_dir: str | Path, fold: int, preset: str | Preset = "tiny",
                   out_dir: str | Path = "model", real: list[str] | None = None, epochs: int | None = None,
                   seed: int = 0, split_seed: int = 0, fingerprint_weight: float | None = None,
                   max_real_per_content: int | None = None,
                   arrays: dict[str, np.ndarray] | None = None, real_images: RealImages | None = None,
                   verbose: int | None = None) -> Path:
    """Train the ``task`` ("detect" | "attribute") network on fold ``fold``; write and return the MODEL DIR.

    Args:
        examples_dir: examples dir / npz shards / RED layout root (as
            :func:`reparse_tf.training.parser_training.train`).
        fold: test fold: its GMs are never trained on, validated on or calibrated on.
        real: files / folders of real images (default: the packaged zoo content of the GMs' contents).
        max_real_per_content: draw at most this many packaged real images per content (small runs).
        fingerprint_weight: multiplier of J_f (None: the preset's ``classifier_fingerprint_weight``, 0;
            the paper's recipe is the preset's ``fingerprint_weight``, 1).
        arrays, real_images: pre-loaded data (tests, benchmarks).
    """
    from reparse_tf.training.parser_training import HistoryWriter, training_inputs

    base = get_preset(preset)
    p = tuned(base.with_overrides(epochs=epochs or base.classifier_epochs))
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    arrays, labels, folds = training_inputs(examples_dir, p.image_size, arrays)
    gms = fold_gms(folds, fold, labels.type_of, p.validation_fraction, split_seed)
    contents = sorted(set(np.asarray(arrays["content"]).astype(str).tolist()))
    if real_images is None:
        real_images = load_real_images(real, contents, p.image_size, seed, max_real_per_content)
    splits = forensic_splits(task, arrays, gms.fit, gms.validation, gms.test, real_images, seed)
    if task == "detect" and p.synthetic_attacks:
        splits["train"] = with_synthetic_attacks(splits["train"], p.synthetic_attacks, seed)
    classes = [REAL] if task == "detect" else [REAL, *gms.fit]
    n_classes = 2 if task == "detect" else len(classes)
    y = {s: class_ids(task, d.source, classes) for s, d in splits.items()}

    keras.utils.set_random_seed(seed)
    model = build_fingerprint_classifier(task, n_classes, p)
    compile_fingerprint_classifier(model, task, p, fingerprint_weight)
    detect = task == "detect"
    # detection: every real image each epoch, weighted (detection_weights); attribution: "real" capped
    # like any other source
    weights = detection_weights(splits["train"], p.images_per_gm) if detect else None
    real_cap = None if detect else p.images_per_gm or max(int((splits["train"].source == g).sum()) for g in gms.fit)
    data = SourceDataset(splits["train"], y["train"], p.batch_size, p.images_per_gm, real_cap, weights, seed,
                         binary=detect)
    selection = BestValidationEpoch(task, splits["validation"].images, y["validation"])
    history = HistoryWriter(out / "history.json", len(data.index))
    print(f"training {task} fold {fold}: {len(gms.fit)} GMs + real ({real_images.source}), {len(data.index)} "
          f"images/epoch, {p.epochs} epochs, preset {p.name} ({keras.backend.backend()})")
    t0 = time.perf_counter()
    model.fit(data, epochs=p.epochs, callbacks=[selection, history], verbose=verbose if verbose is not None else 2)
    seconds = time.perf_counter() - t0
    best_score, best_epoch, best_weights = selection.best
    if best_weights is not None:
        model.set_weights(best_weights)
    val_logits = logits_model(model).predict(splits["validation"].images, batch_size=128, verbose=0)
    residual, p_residual = None, None
    (out / RESIDUAL_DETECTOR_FILE).unlink(missing_ok=True)   # a previous training's, in the same folder
    if detect and p.residual_detector:
        residual = fit_residual_detector(splits["train"], seed=seed)
        residual.save(out / RESIDUAL_DETECTOR_FILE)
        p_residual = residual.p_generated(splits["validation"].images)
    tmp = out / ".model.tmp.keras"
    model.save(tmp)
    os.replace(tmp, out / "model.keras")
    meta = {"task": task, "classes": classes, "image_size": p.image_size, "preset": p.to_json(), "fold": fold,
            "seed": seed, "split_seed": split_seed, "train_gms": gms.fit, "validation_gms": gms.validation,
            "test_gms": gms.test, "real": {"source": real_images.source, "paths": [str(r) for r in real or []],
                                           "max_per_content": max_real_per_content,
                                           "counts": real_images.counts()},
            "fingerprint_weight": p.classifier_fingerprint_weight if fingerprint_weight is None
            else fingerprint_weight,
            "selected_epoch": best_epoch, "validation_score": best_score,
            "thresholds": calibrate(task, val_logits, y["validation"], p_residual),
            "residual_detector": residual.describe() if residual else None, "examples_dir": str(examples_dir),
            "backend": keras.backend.backend(), "images_per_epoch": len(data.index),
            "train_seconds": round(seconds, 2)}
    write_json(out / META_FILE, meta)
    print(f"{task} model written to {out} (epoch {best_epoch}, validation score {best_score:.4f})")
    return out
