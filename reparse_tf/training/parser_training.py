"""Trainer core (backend-agnostic: ``keras`` only): builds FEN + PN from a preset and the cluster
ground truth, fits on in-memory numpy arrays through a :class:`keras.utils.PyDataset`, and writes
the MODEL DIR (``model.keras``, ``parser_meta.json``, ``history.json``, ``checkpoints/``,
``tensorboard/`` on the TF backend).

Data sources (``examples_dir``): an ingested EXAMPLES DIR (TFRecords, read through the TF edge
module ``reparse_tf.data.examples`` on the TF backend, or its ``npz/`` shards), an npz-shard dir, or a
RED layout root (PNG folders; folds assigned like the ingest, 4 folds, seed 0).
"""

from __future__ import annotations

import importlib.util
import json
import math
import os
import time
from pathlib import Path

import keras
import numpy as np

from reparse_tf.data.folds import fold_gms
from reparse_tf.data.labels import LabelTable, read_labels
from reparse_tf.data.manifest import has_manifest
from reparse_tf.data.schema import HyperparameterSchema, load_schema, split_labels
from reparse_tf.data.shard_images import select
from reparse_tf.model import content_adversary
from reparse_tf.model.renet import build_model, compile_model
from reparse_tf.serving.artifacts import write_json
from reparse_tf.targets.cluster_ground_truth import MAX_K, ClusterGroundTruth, compute_cluster_ground_truth
from reparse_tf.training.diagnostics import ParsingDiagnostics, best_epoch
from reparse_tf.training.hardware import tuned
from reparse_tf.training.presets import Preset, get_preset

CHECKPOINT_PATTERN = "epoch_{epoch:03d}.keras"


# -- data -----------------------------------------------------------------------------------------
def training_inputs(examples_dir: str | Path, image_size: int, arrays: dict[str, np.ndarray] | None = None,
                    stream: bool | None = False) -> tuple[dict[str, np.ndarray], LabelTable, dict[str, int]]:
    """(arrays, labels, folds): :func:`load_training_data`, or the same from pre-loaded ``arrays``."""
    if arrays is None:
        return load_training_data(examples_dir, image_size, stream=stream)
    labels = labels_from_arrays(arrays)
    gm_col, fold_col = np.asarray(arrays["gm"]).astype(str), np.asarray(arrays["fold"]).astype(int)
    return arrays, labels, {g: int(fold_col[np.flatnonzero(gm_col == g)[0]]) for g in labels.gms}


def load_training_data(examples_dir: str | Path, image_size: int = 64, gms: list[str] | None = None,
                       stream: bool | None = False) -> tuple[dict[str, np.ndarray], LabelTable, dict[str, int]]:
    """(arrays, labels, folds) from an examples dir, npz-shard dir or RED layout root.

    ``arrays`` has the keys of ``reparse_tf.data.examples.load_arrays`` (images uint8 [N,H,W,3], gm,
    gm_type, content, fold, labels [N,25]); only ``gms`` are loaded when given. ``stream``: npz
    shards' images stay on disk and are read per batch (:mod:`reparse_tf.data.shard_images`; None:
    whenever the shards allow it, i.e. are uncompressed); other sources are always loaded.
    """
    d = Path(examples_dir)
    if not d.is_dir():
        raise FileNotFoundError(f"{d}: examples directory not found")
    if has_manifest(d) and (d / "tfrecords").is_dir() and not (d / "npz").is_dir():
        if keras.backend.backend() != "tensorflow":
            raise ValueError(f"{d}: TFRecord examples need the TensorFlow backend (KERAS_BACKEND="
                             f"{keras.backend.backend()}); write npz shards or pass a RED layout root")
        from reparse_tf.data.examples import load_arrays  # TF edge module

        arrays = load_arrays(d, gms=gms)
    elif (d / "npz").is_dir() or any(d.glob("part-*.npz")):
        from reparse_tf.data.npz_shards import read_npz_shards

        arrays = read_npz_shards(d, gms=gms, stream=stream)
    elif (d / "labels.csv").is_file():
        from reparse_tf.data.npz_shards import read_layout_arrays

        arrays = read_layout_arrays(d, image_size=image_size, gms=gms, progress=True)
    else:
        raise ValueError(f"{d}: neither an examples dir (manifest.json + tfrecords/ or npz/), npz shards "
                         f"(part-*.npz) nor a RED layout (labels.csv)")
    if len(arrays["images"]) == 0:
        raise ValueError(f"{d}: no images for the requested GMs")
    if arrays["images"].shape[1] != image_size:
        raise ValueError(f"{d}: images are {arrays['images'].shape[1]}px but the preset expects {image_size}px")
    labels = labels_from_arrays(arrays)
    if (d / "labels.csv").is_file():
        full = read_labels(d / "labels.csv")
        labels = full.subset([g for g in full.gms if g in set(labels.gms)])
    gm, fold = np.asarray(arrays["gm"]).astype(str), np.asarray(arrays["fold"]).astype(int)
    folds = {g: int(fold[np.flatnonzero(gm == g)[0]]) for g in labels.gms}
    return arrays, labels, folds


def labels_from_arrays(arrays: dict[str, np.ndarray]) -> LabelTable:
    """One label row per GM (first image of each GM)."""
    gm = np.asarray(arrays["gm"]).astype(str)
    names, first = np.unique(gm, return_index=True)
    return LabelTable(list(names), [str(arrays["gm_type"][i]) for i in first],
                      [str(arrays["content"][i]) for i in first], np.asarray(arrays["labels"])[first])



def cluster_max_k(clusters: str) -> int:
    """Largest k per GM type for a preset's ``clusters`` setting."""
    if clusters not in ("elbow", "family"):
        raise ValueError(f"clusters must be 'elbow' or 'family', got {clusters!r}")
    return 1 if clusters == "family" else MAX_K


def diagnostic_samples(arrays: dict[str, np.ndarray], gm_col: np.ndarray, cgt: ClusterGroundTruth,
                       val_gms: list[str], seed: int = 0, heldin_per_gm: int = 8, val_per_gm: int = 48) -> tuple:
    """(held-in, validation) ``(images, normalised continuous, discrete codes)`` samples for
    :class:`ParsingDiagnostics`: held-in images score against the targets trained on (shuffled ones
    for random GT), validation images against their GMs' true labels."""
    from reparse_tf.evaluation.parsing_evaluation import subsample_per_gm

    schema = load_schema()

    def rows_of(gms: list[str], per_gm: int) -> np.ndarray:
        rows = np.flatnonzero(np.isin(gm_col, gms))
        return rows[subsample_per_gm(gm_col[rows], per_gm, seed)]

    r = rows_of(cgt.gms, heldin_per_gm)
    g = cgt.gm_rows(gm_col[r])
    heldin = (arrays["images"][r], cgt.gm_continuous[g], cgt.gm_discrete[g])
    if not val_gms:
        return heldin, None
    r = rows_of(val_gms, val_per_gm)
    labels = np.asarray(arrays["labels"], np.float64)[r]
    return heldin, (arrays["images"][r], *split_labels(labels, cgt.normalizer, schema))


def add_linear_readout(model: keras.Model, arrays: dict[str, np.ndarray], gm_col: np.ndarray,
                       cgt: ClusterGroundTruth, per_gm: int, seed: int, schema: HyperparameterSchema
                       ) -> tuple[keras.Model, dict]:
    """``model`` with :mod:`reparse_tf.training.readout`'s heads, fitted on ``per_gm`` images of each fitted GM
    against the targets trained on; and what the readout's cross-validation chose."""
    from reparse_tf.evaluation.parsing_evaluation import subsample_per_gm
    from reparse_tf.training.readout import attach_readout, fit_readout

    rows = np.flatnonzero(np.isin(gm_col, cgt.gms))
    rows = rows[subsample_per_gm(gm_col[rows], per_gm, seed)]
    embed = keras.Model(model.inputs, model.get_layer("embedding").output)
    emb = embed.predict(arrays["images"][rows], batch_size=64, verbose=0)
    g = cgt.gm_rows(gm_col[rows])
    heads = fit_readout(emb, gm_col[rows], cgt.gm_continuous[g], cgt.gm_discrete[g], schema, seed)
    print(f"linear readout fitted on {len(rows)} images of {len(cgt.gms)} GMs ({heads.chosen})")
    return attach_readout(model, heads, schema), {"kind": "linear", "images": int(len(rows)), **heads.chosen}


class ParsingDataset(keras.utils.PyDataset):
    """Batches of (uint8 images, targets dict) for the training GMs.

    Each epoch draws at most ``images_per_gm`` images per GM (all when None) and shuffles them.
    ``extra_targets``: per-image targets of outputs beyond the parsing heads (the content adversary's).
    Outputs without a loss get zero targets (Keras needs one per output).
    """

    def __init__(self, images: np.ndarray, gms: np.ndarray, cgt: ClusterGroundTruth, output_names: list[str],
                 batch_size: int, images_per_gm: int | None = None, seed: int = 0, shuffle: bool = True,
                 extra_targets: dict[str, np.ndarray] | None = None):
        super().__init__()
        self.images, self.gms = images, np.asarray(gms).astype(str)
        self.targets = {**cgt.targets(self.gms), **(extra_targets or {})}
        self.output_names = list(output_names)
        self.batch_size, self.images_per_gm, self.shuffle = int(batch_size), images_per_gm, shuffle
        self.rng = np.random.default_rng(seed)
        self._by_gm = [np.flatnonzero(self.gms == g) for g in np.unique(self.gms)]
        self.on_epoch_end()

    def on_epoch_end(self) -> None:
        idx = []
        for rows in self._by_gm:
            if self.images_per_gm is not None and len(rows) > self.images_per_gm:
                rows = self.rng.choice(rows, self.images_per_gm, replace=False) if self.shuffle \
                    else rows[: self.images_per_gm]
            idx.append(rows)
        idx = np.concatenate(idx)
        self.index = self.rng.permutation(idx) if self.shuffle else np.sort(idx)

    @property
    def num_batches(self) -> int:
        return math.ceil(len(self.index) / self.batch_size)

    def __getitem__(self, i: int):
        rows = self.index[i * self.batch_size:(i + 1) * self.batch_size]
        y = {name: (self.targets[name][rows] if name in self.targets else np.zeros((len(rows),), np.float32))
             for name in self.output_names}
        return self.images[rows], y


# -- callbacks ------------------------------------------------------------------------------------
class HistoryWriter(keras.callbacks.Callback):
    """Appends each epoch's logs (+ seconds, images/s) to ``history.json`` atomically."""

    def __init__(self, path: Path, n_images: int):
        super().__init__()
        self.path, self.n_images = Path(path), n_images
        self.records: list[dict] = json.loads(self.path.read_text()) if self.path.is_file() else []

    def on_epoch_begin(self, epoch, logs=None):
        self._t0 = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        dt = time.perf_counter() - self._t0
        rec = {"epoch": epoch + 1, "seconds": round(dt, 3), "images_per_s": round(self.n_images / dt, 2)}
        rec.update({k: float(v) for k, v in (logs or {}).items()})
        self.records = [r for r in self.records if r["epoch"] < epoch + 1] + [rec]
        write_json(self.path, self.records)


def last_checkpoint(ckpt_dir: Path) -> tuple[Path | None, int]:
    """(path, epoch) of the newest ``epoch_NNN.keras`` checkpoint, or (None, 0)."""
    best: tuple[Path | None, int] = (None, 0)
    for p in Path(ckpt_dir).glob("epoch_*.keras"):
        try:
            n = int(p.stem.split("_")[1])
        except (IndexError, ValueError):
            continue
        if n > best[1]:
            best = (p, n)
    return best


def _distribution_scope():
    """Data parallelism over all accelerators: ``keras.distribution.DataParallel`` on JAX,
    ``MirroredStrategy`` (TF edge module) on TensorFlow; a null scope with one device."""
    import contextlib

    backend = keras.backend.backend()
    if backend == "jax":
        devices = keras.distribution.list_devices()
        if len(devices) > 1:
            keras.distribution.set_distribution(keras.distribution.DataParallel(devices=devices))
    elif backend == "tensorflow":
        from reparse_tf.training.distribution import mirrored_scope  # TF edge module

        return mirrored_scope()
    return contextlib.nullcontext()


# -- entry point ----------------------------------------------------------------------------------
def train(examples_dir: str | Path, cluster_gt_dir: str | Path | None, fold: int, preset: str | Preset = "tiny",
          out_dir: str | Path = "model", parser: str = "two", fingerprint: bool = True, random_gt: bool = False,
          backbone: str = "fen", resume: bool = False, epochs: int | None = None, seed: int = 0,
          dtype_policy: str | None = None, jit_compile: bool | str | None = None, verbose: int | None = None,
          arrays: dict[str, np.ndarray] | None = None, split_seed: int = 0,
          max_train_gms: int | None = None, readout: str | None = None, stream: bool | None = None) -> Path:
    """Train FEN + PN on the training GMs of ``fold`` and write the MODEL DIR; returns its path.

    Args:
        examples_dir: examples dir / npz shards / RED layout root (see module doc).
        cluster_gt_dir: saved :class:`ClusterGroundTruth`; None = computed in-process from the
            fold's training GMs (image-count class weights).
        fold: test fold; its GMs never reach training, clustering, weights or normalisation.
        preset: ``tiny`` | ``cpu`` | ``paper`` or a :class:`Preset`.
        parser, fingerprint, random_gt, backbone: the variants ("two"/"one", J_f on/off, random
            ground truth, "fen"/"cnn").
        resume: continue from the newest checkpoint in ``out_dir/checkpoints``.
        epochs: total epochs (overrides the preset).
        dtype_policy, jit_compile: override the preset (and its ``tune``; see
            :mod:`reparse_tf.training.hardware`).
        arrays: pre-loaded arrays (skip reading ``examples_dir``; used by tests and benchmarks).
        split_seed: seed of the validation-GM draw (the same for every variant of a fold).
        max_train_gms: fit at most this many of the fitted GMs (learning curve; stratified by family,
            the normaliser still fitted on all of them so every point is scored in the same units).
        readout: "heads" | "linear" (overrides the preset; see :mod:`reparse_tf.training.readout`).
        stream: read the training images from the npz shards per batch instead of loading them (None:
            whenever the shards are uncompressed; :mod:`reparse_tf.data.shard_images`).

    The preset's ``validation_fraction`` of each family's training GMs are validation GMs: they
    are not fitted, clustered, weighted or used for normalisation; the per-epoch diagnostics score
    them and the best-scoring epoch is the one saved.
    """
    schema = load_schema()
    p = get_preset(preset).with_overrides(epochs=epochs, readout=readout)
    # the dtype / XLA setting: given, else the preset's, else (``tune``) the fastest measured here
    p = tuned(p) if dtype_policy is None and jit_compile is None else \
        p.with_overrides(dtype_policy=dtype_policy, jit_compile=jit_compile, tune=False)
    out = Path(out_dir)
    ckpt_dir = out / "checkpoints"
    ckpt_dir.mkdir(parents=True, exist_ok=True)
    arrays, labels, folds = training_inputs(examples_dir, p.image_size, arrays, stream=stream)
    split_gms = fold_gms(folds, fold, labels.type_of, p.validation_fraction, split_seed, max_train_gms)
    train_gms, val_gms, test_gms = split_gms.fit, split_gms.validation, split_gms.test
    # learning curve: fewer GMs, the full fit set's units
    normalizer_gms = split_gms.normalizer if len(split_gms.normalizer) > len(train_gms) else None
    if normalizer_gms is not None and cluster_gt_dir is not None:
        raise ValueError("max_train_gms clusters its subset in-process: pass cluster_gt_dir=None")
    gm_col = np.asarray(arrays["gm"]).astype(str)
    counts = {g: int((gm_col == g).sum()) for g in train_gms}
    max_k = cluster_max_k(p.clusters)

    cgt = None
    if cluster_gt_dir is not None:
        cgt = ClusterGroundTruth.load(cluster_gt_dir)
        if set(cgt.gms) != set(train_gms):
            raise ValueError(f"{cluster_gt_dir}: cluster ground truth was fitted on other GMs than the fitted "
                             f"training GMs of fold {fold} ({len(cgt.gms)} vs {len(train_gms)} GMs; validation "
                             f"GMs: {len(val_gms)}, validation_fraction {p.validation_fraction})")
        if cgt.random_gt != random_gt:
            print(f"note: {cluster_gt_dir} has random_gt={cgt.random_gt}; recomputing with random_gt={random_gt}")
            cgt = None
        elif max(cgt.k_per_type.values()) > max_k:
            print(f"note: {cluster_gt_dir} has {cgt.n_clusters} clusters; recomputing with clusters={p.clusters}")
            cgt = None
    if cgt is None:
        cgt = compute_cluster_ground_truth(labels, train_gms, seed=seed, image_counts=counts, random_gt=random_gt,
                                           max_k=max_k, normalizer_gms=normalizer_gms)
        cgt.save(out / "cluster_gt")

    train_mask = np.isin(gm_col, train_gms)
    # the content adversary's classes: the contents of the fitted GMs' images
    contents = sorted(set(np.asarray(arrays["content"]).astype(str)[train_mask])) if p.content_adversary else []
    keras.utils.set_random_seed(seed)
    ckpt, done = last_checkpoint(ckpt_dir) if resume else (None, 0)
    with _distribution_scope():
        if ckpt is not None:
            model = keras.saving.load_model(ckpt)
            print(f"resuming from {ckpt} (epoch {done})")
        else:
            model = build_model(p, parser=parser, fingerprint=fingerprint, backbone=backbone, schema=schema,
                                n_contents=len(contents))
            compile_model(model, parser, cgt.class_weights, p, schema=schema)
    images = arrays["images"] if train_mask.all() else select(arrays["images"], train_mask)
    extra = {content_adversary.OUTPUT: np.searchsorted(
        contents, np.asarray(arrays["content"]).astype(str)[train_mask]).astype(np.int32)} if contents else None
    data = ParsingDataset(images, gm_col[train_mask], cgt, model.output_names, p.batch_size,
                          p.images_per_gm, seed=seed + done, extra_targets=extra)
    n_per_epoch = len(data.index)
    heldin, validation = diagnostic_samples(arrays, gm_col, cgt, val_gms, seed)
    callbacks = [ParsingDiagnostics(heldin, validation, schema=schema),
                 keras.callbacks.ModelCheckpoint(str(ckpt_dir / CHECKPOINT_PATTERN), save_weights_only=False),
                 HistoryWriter(out / "history.json", n_per_epoch)]
    if p.patience is not None and val_gms:
        callbacks.append(keras.callbacks.EarlyStopping("val_score", patience=p.patience, mode="max"))
    if keras.backend.backend() == "tensorflow" and importlib.util.find_spec("tensorboard") is not None:
        callbacks.append(keras.callbacks.TensorBoard(str(out / "tensorboard"), update_freq="epoch"))
    t0 = time.perf_counter()
    if done < p.epochs:
        print(f"training fold {fold}: {len(train_gms)} GMs, {n_per_epoch} images/epoch, preset {p.name}, "
              f"parser={parser} fingerprint={fingerprint} random_gt={random_gt} backbone={backbone}, "
              f"epochs {done + 1}..{p.epochs} ({keras.backend.backend()}, {p.dtype_policy})")
        model.fit(data, epochs=p.epochs, initial_epoch=done, callbacks=callbacks,
                  verbose=verbose if verbose is not None else 2)
    seconds = time.perf_counter() - t0
    # model selection on validation GMs only: keep the best val_score epoch's weights
    records = json.loads((out / "history.json").read_text()) if (out / "history.json").is_file() else []
    selected = best_epoch(records)
    last = max((r["epoch"] for r in records), default=0)
    if selected is not None and selected != last:
        model.load_weights(ckpt_dir / CHECKPOINT_PATTERN.format(epoch=selected))
        print(f"selected epoch {selected} of {last} (best val_score on {len(val_gms)} validation GMs)")

    readout = None
    if p.readout == "linear":
        model, readout = add_linear_readout(model, arrays, gm_col, cgt, p.readout_images_per_gm, seed, schema)
    elif p.readout != "heads":
        raise ValueError(f"readout must be 'heads' or 'linear', got {p.readout!r}")
    tmp = out / ".model.tmp.keras"
    model.save(tmp)
    os.replace(tmp, out / "model.keras")
    meta = {"schema_version": schema.version, "image_size": p.image_size, "preset": p.to_json(),
            "variant": {"parser": parser, "fingerprint": fingerprint, "random_gt": random_gt, "backbone": backbone},
            "fold": fold, "seed": seed, "train_gms": train_gms, "validation_gms": val_gms, "test_gms": test_gms,
            "selected_epoch": selected or last, "epochs_trained": last,
            "normalizer": cgt.normalizer.to_json(),
            "cluster": {"n_clusters": cgt.n_clusters, "k_per_type": cgt.k_per_type,
                        "class_weight_basis": cgt.class_weight_basis,
                        "class_weights": {q.name: cgt.class_weights[m].tolist()
                                          for m, q in enumerate(schema.discrete)},
                        "source": str(cluster_gt_dir) if cluster_gt_dir is not None else str(out / "cluster_gt")},
            "examples_dir": str(examples_dir), "backend": keras.backend.backend(),
            "images_per_epoch": n_per_epoch, "train_seconds_this_run": round(seconds, 2), "readout": readout,
            "content_adversary_contents": contents}
    write_json(out / "parser_meta.json", meta)
    print(f"model written to {out} (model.keras, parser_meta.json, history.json, checkpoints/)")
    return out
