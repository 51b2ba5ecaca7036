"""TensorFlow edge of training: ``tf.distribute.MirroredStrategy`` scope and a streaming
``tf.data`` input pipeline from the ingested TFRecords (for datasets that do not fit in memory).

The trainer core (:mod:`reparse_tf.training`) stays backend-agnostic and calls
:func:`mirrored_scope` only on the TensorFlow backend.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

import numpy as np
import tensorflow as tf

from reparse_tf.cluster_ground_truth import ClusterGroundTruth


def mirrored_scope():
    """``MirroredStrategy().scope()`` when several GPUs are visible, else a null context."""
    gpus = tf.config.list_logical_devices("GPU")
    if len(gpus) > 1:
        strategy = tf.distribute.MirroredStrategy()
        print(f"MirroredStrategy over {strategy.num_replicas_in_sync} GPUs")
        return strategy.scope()
    return contextlib.nullcontext()


def make_dataset(examples_dir: str | Path, cgt: ClusterGroundTruth, output_names: list[str], batch_size: int,
                 shuffle: bool = True, seed: int = 0) -> tf.data.Dataset:
    """(image uint8, targets dict) batches of the cluster GT's training GMs streamed from TFRecords.

    Targets come from per-GM lookup tables built from ``cgt.targets``; outputs without a loss get zeros.
    """
    from reparse_tf.examples import read_examples

    gms = list(cgt.gms)
    per_gm = cgt.targets(gms)
    table = tf.lookup.StaticHashTable(
        tf.lookup.KeyValueTensorInitializer(tf.constant(gms), tf.range(len(gms), dtype=tf.int64)), -1)
    consts = {k: tf.constant(v) for k, v in per_gm.items()}

    def to_xy(ex):
        row = table.lookup(ex["gm"])
        y = {n: (tf.gather(consts[n], row) if n in consts else tf.constant(0.0)) for n in output_names}
        return ex["image"], y

    ds = read_examples(examples_dir, gms=gms, deterministic=not shuffle)
    if shuffle:
        ds = ds.shuffle(4096, seed=seed, reshuffle_each_iteration=True)
    return ds.map(to_xy, num_parallel_calls=tf.data.AUTOTUNE).batch(batch_size).prefetch(tf.data.AUTOTUNE)


def dataset_size(examples_dir: str | Path, gms: list[str]) -> int:
    """Number of examples of ``gms`` from the ingest manifest counts."""
    import json

    counts = json.loads((Path(examples_dir) / "manifest.json").read_text()).get("counts", {})
    return int(np.sum([counts.get(g, 0) for g in gms]))
