"""TensorFlow edge: read an examples directory written by ``reparse ingest``.

``read_examples`` gives a ``tf.data.Dataset`` of parsed dicts
``{"image": uint8 [H,W,3], "gm", "gm_type", "content", "path": tf.string, "fold": int64,
<param>: float32 (raw units, one per schema parameter)}``; ``load_arrays`` gives numpy arrays
with the keys of :mod:`reparse_tf.data.npz_shards` (and reads npz examples directories too).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import tensorflow as tf

from reparse_tf.data.ingest import NPZ_DIR, TFRECORD_DIR
from reparse_tf.data.manifest import read_manifest
from reparse_tf.data.schema import HyperparameterSchema, load_schema

STRING_FEATURES = ("gm", "gm_type", "content", "path")


def feature_spec(schema: HyperparameterSchema | None = None) -> dict[str, tf.io.FixedLenFeature]:
    """``tf.io.parse_example`` spec of the ingest's Examples (derived from the schema)."""
    schema = schema or load_schema()
    spec = {"image": tf.io.FixedLenFeature([], tf.string), "fold": tf.io.FixedLenFeature([], tf.int64)}
    spec.update({k: tf.io.FixedLenFeature([], tf.string) for k in STRING_FEATURES})
    spec.update({p.name: tf.io.FixedLenFeature([], tf.float32) for p in schema.params})
    return spec


def decode(parsed: dict[str, tf.Tensor]) -> dict[str, tf.Tensor]:
    """Decode the PNG ``image`` of a parsed (single) Example to ``uint8 [H, W, 3]``."""
    out = dict(parsed)
    out["image"] = tf.io.decode_png(parsed["image"], channels=3, dtype=tf.uint8)
    return out



def tfrecord_files(examples_dir: str | Path) -> list[str]:
    """The TFRecord shards of an examples directory (sorted); error when there are none."""
    files = sorted(str(p) for p in (Path(examples_dir) / TFRECORD_DIR).glob("part-*.tfrecord.gz"))
    if not files:
        raise FileNotFoundError(f"{examples_dir}: no TFRecord shards under {TFRECORD_DIR}/ (run `reparse ingest`)")
    return files


def read_examples(examples_dir: str | Path, folds: list[int] | None = None, gms: list[str] | None = None,
                  schema: HyperparameterSchema | None = None, deterministic: bool = True) -> tf.data.Dataset:
    """``tf.data.Dataset`` of parsed dicts, optionally only the given folds and/or GMs."""
    ds = tf.data.TFRecordDataset(tfrecord_files(examples_dir), compression_type="GZIP",
                                 num_parallel_reads=None if deterministic else tf.data.AUTOTUNE)
    spec = feature_spec(schema)
    ds = ds.map(lambda s: tf.io.parse_single_example(s, spec), num_parallel_calls=tf.data.AUTOTUNE,
                deterministic=deterministic)
    if folds is not None:
        wanted_folds = tf.constant(list(folds), tf.int64)
        ds = ds.filter(lambda x: tf.reduce_any(tf.equal(x["fold"], wanted_folds)))
    if gms is not None:
        wanted_gms = tf.constant(list(gms), tf.string)
        ds = ds.filter(lambda x: tf.reduce_any(tf.equal(x["gm"], wanted_gms)))
    return ds.map(decode, num_parallel_calls=tf.data.AUTOTUNE, deterministic=deterministic)


def load_arrays(examples_dir: str | Path, gms: list[str] | None = None, folds: list[int] | None = None,
                schema: HyperparameterSchema | None = None) -> dict[str, np.ndarray]:
    """All (selected) examples as numpy, sorted by path: ``images`` uint8 [N,H,W,3], ``gm``,
    ``gm_type``, ``content``, ``path`` (str), ``fold`` int64, ``labels`` float64 [N,25] (raw)."""
    if (Path(examples_dir) / NPZ_DIR).is_dir():
        from reparse_tf.data.npz_shards import read_npz_shards

        return read_npz_shards(examples_dir, gms=gms, folds=folds)
    schema = schema or load_schema()
    size = int(read_manifest(examples_dir)["image_size"])
    cols: dict[str, list] = {k: [] for k in ("images", *STRING_FEATURES, "fold", "labels")}
    for batch in read_examples(examples_dir, folds=folds, gms=gms, schema=schema).batch(512).as_numpy_iterator():
        cols["images"].append(batch["image"])
        for k in STRING_FEATURES:
            cols[k].append(np.char.decode(batch[k].astype(bytes), "utf-8"))
        cols["fold"].append(batch["fold"].astype(np.int64))
        cols["labels"].append(np.stack([batch[p.name] for p in schema.params], axis=1).astype(np.float64))
    if not cols["images"]:
        from reparse_tf.data.npz_shards import empty_arrays

        return empty_arrays(size, len(schema))
    out = {k: np.concatenate(v) for k, v in cols.items()}
    order = np.argsort(out["path"], kind="stable")
    return {k: v[order] for k, v in out.items()}
