"""The TensorFlow-free data path: RED layout PNG folders or npz shards -> numpy arrays.

numpy + Pillow only (GPU hosts run JAX without TensorFlow). The arrays dict has the keys of
:func:`reparse_tf.data.examples.load_arrays`: ``images`` uint8 ``[N,H,W,3]``, ``gm``, ``gm_type``,
``content``, ``path`` (str arrays), ``fold`` int64 ``[N]``, ``labels`` float64 ``[N,25]`` raw in
schema order. Validation, RGB conversion and resizing are those of the TFRecord ingest
(:mod:`reparse_tf.data.layout`, :mod:`reparse_tf.data.images`), and folds come from the same
:func:`reparse_tf.data.folds.assign_folds`, so both paths see the same images in the same folds.
"""

from __future__ import annotations

import math
import os
import secrets
from pathlib import Path

import numpy as np

from reparse_tf.data.images import ImageError, load_image
from reparse_tf.data.layout import Layout, scan_layout
from reparse_tf.data.schema import HyperparameterSchema, load_schema

ARRAY_KEYS = ("images", "gm", "gm_type", "content", "path", "fold", "labels")
STRING_KEYS = ("gm", "gm_type", "content", "path")


def empty_arrays(image_size: int, n_params: int) -> dict[str, np.ndarray]:
    return {"images": np.zeros((0, image_size, image_size, 3), np.uint8),
            **{k: np.zeros(0, dtype=str) for k in STRING_KEYS},
            "fold": np.zeros(0, np.int64), "labels": np.zeros((0, n_params), np.float64)}


def decode_layout(layout: Layout, image_size: int, schema: HyperparameterSchema | None = None,
                  progress: bool = True) -> tuple[dict[str, np.ndarray], list[dict]]:
    """Decode every image of a validated layout; return (arrays, per-image reports).

    Reports are ``{path, gm, ok, reason | sha1, mode, warnings}`` (paths relative to the root), as
    the TFRecord ingest writes them; bad images are skipped, never fatal.
    """
    from tqdm.auto import tqdm

    schema = schema or load_schema()
    table = layout.labels
    row = {g: i for i, g in enumerate(table.gms)}
    images, gms, reports, paths = [], [], [], []
    for path, gm in tqdm(layout.items(), desc="decode", unit="img", disable=not progress, mininterval=1.0):
        rel = os.path.relpath(path, layout.root)
        try:
            dec = load_image(path, image_size)
        except ImageError as exc:
            reports.append({"path": rel, "gm": gm, "ok": False, "reason": str(exc)})
            continue
        reports.append({"path": rel, "gm": gm, "ok": True, "sha1": dec.sha1, "mode": dec.source_mode,
                        "warnings": dec.warnings})
        images.append(dec.array)
        gms.append(gm)
        paths.append(rel)
    if not images:
        return empty_arrays(image_size, len(schema)), reports
    idx = np.array([row[g] for g in gms])
    arrays = {
        "images": np.stack(images).astype(np.uint8),
        "gm": np.array(gms, dtype=str),
        "gm_type": np.array([table.gm_types[i] for i in idx], dtype=str),
        "content": np.array([table.contents[i] for i in idx], dtype=str),
        "path": np.array(paths, dtype=str),
        "fold": np.array([layout.folds[g] for g in gms], dtype=np.int64),
        "labels": table.values[idx].astype(np.float64),
    }
    return arrays, reports


def read_layout_arrays(root: str | Path, image_size: int = 64, gms: list[str] | None = None, n_folds: int | str = 4,
                       seed: int = 0, labels: str | Path | None = None, report: dict | None = None,
                       progress: bool = False) -> dict[str, np.ndarray]:
    """Read a RED layout's image folders directly into numpy arrays (see module doc for the keys).

    Args:
        root: RED layout root; validated like ``reparse ingest`` (raises ``LayoutError``).
        image_size: side of the square RGB images.
        gms: only these GMs (folds are still assigned over all GMs of the layout).
        n_folds, seed: fold assignment, identical to the ingest with the same arguments.
        labels: label table instead of ``root/labels.csv``.
        report: if given, filled with ``skipped`` ([{path, reason}]) and ``warnings``.
    """
    layout = scan_layout(root, labels=labels, n_folds=n_folds, seed=seed, gms=gms)
    arrays, reports = decode_layout(layout, image_size, progress=progress)
    if report is not None:
        report["skipped"] = list(layout.ignored) + [{"path": r["path"], "reason": r["reason"]}
                                                    for r in reports if not r["ok"]]
        report["warnings"] = [{"path": r["path"], "warning": w} for r in reports if r["ok"] for w in r["warnings"]]
        report["folds"] = {g: layout.folds[g] for g in layout.gms}
    return arrays


def write_npz_shards(arrays: dict[str, np.ndarray], out_dir: str | Path, shard_size: int = 10_000,
                     compress: bool = False) -> list[Path]:
    """Write ``out_dir/part-XXXXX-of-YYYYY.npz`` (same keys, rows split in order); atomic per shard.

    Strings are stored as fixed-width unicode arrays (no pickle needed to read them back).
    """
    missing = [k for k in ARRAY_KEYS if k not in arrays]
    if missing:
        raise ValueError(f"arrays lack keys: {', '.join(missing)}")
    n = len(arrays["images"])
    if any(len(arrays[k]) != n for k in ARRAY_KEYS):
        raise ValueError("arrays have different lengths: " + ", ".join(f"{k}={len(arrays[k])}" for k in ARRAY_KEYS))
    if shard_size < 1:
        raise ValueError(f"shard_size must be positive, got {shard_size}")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    n_shards = max(1, math.ceil(n / shard_size))
    save = np.savez_compressed if compress else np.savez
    paths = []
    for s in range(n_shards):
        sl = slice(s * shard_size, (s + 1) * shard_size)
        path = out_dir / f"part-{s:05d}-of-{n_shards:05d}.npz"
        tmp = out_dir / f".{path.name}.tmp-{secrets.token_hex(4)}.npz"
        save(tmp, **{k: np.asarray(arrays[k])[sl] for k in ARRAY_KEYS})
        os.replace(tmp, path)
        paths.append(path)
    return paths


def shard_files(directory: str | Path) -> list[Path]:
    """The ``part-*.npz`` files of ``directory`` (or of ``directory/npz``), sorted; an error when none."""
    directory = Path(directory)
    if (directory / "npz").is_dir():
        directory = directory / "npz"
    files = sorted(directory.glob("part-*.npz"))
    if not files:
        raise FileNotFoundError(f"{directory}: no npz shards (part-*.npz)")
    return files


def read_npz_shards(directory: str | Path, gms: list[str] | None = None,
                    folds: list[int] | None = None, stream: bool | None = False) -> dict[str, np.ndarray]:
    """Read all ``part-*.npz`` of ``directory`` (or of ``directory/npz``) into one arrays dict.

    ``stream``: leave the images on disk (``images`` is a :class:`reparse_tf.data.shard_images.ShardImages`
    read on demand; the other keys are loaded); None: whenever the shards allow it (uncompressed), else
    load them. With a ``gms`` / ``folds`` filter, uncompressed shards give up only the selected images, so
    the peak memory is theirs, not the whole zoo's."""
    from reparse_tf.data.shard_images import ShardImages, select

    files = shard_files(directory)
    on_disk = None
    if stream is not False or gms is not None or folds is not None:
        try:
            on_disk = ShardImages.open(files)
        except ValueError:
            if stream:
                raise
    lazy = on_disk is not None
    keys = [k for k in ARRAY_KEYS if not (lazy and k == "images")]
    parts: dict[str, list[np.ndarray]] = {k: [] for k in keys}
    for f in files:
        with np.load(f, allow_pickle=False) as z:
            missing = [k for k in ARRAY_KEYS if k not in z.files]
            if missing:
                raise ValueError(f"{f}: npz shard lacks keys: {', '.join(missing)}")
            for k in keys:
                parts[k].append(z[k])
    out = {k: np.concatenate(v) for k, v in parts.items()}
    if lazy:
        out["images"] = on_disk
    keep = np.ones(len(out["gm"]), bool)
    if gms is not None:
        keep &= np.isin(out["gm"], np.asarray(list(gms), dtype=str))
    if folds is not None:
        keep &= np.isin(out["fold"], np.asarray(list(folds), dtype=np.int64))
    if not keep.all():
        out = {k: select(v, keep) for k, v in out.items()}
    if lazy and stream is False:
        out["images"] = out["images"][slice(None)]
    return out
