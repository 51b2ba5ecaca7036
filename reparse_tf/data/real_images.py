"""Real images for deepfake detection and image attribution (the "real" class).

Default source: the zoo's own training content (:mod:`reparse_tf.zoo.content`, packaged data, no
downloads), quantised to ``uint8`` exactly as the GMs' samples are, PNG-encoded and decoded through
:func:`reparse_tf.data.images.decode_bytes` as the ingest decodes every GM image: real and generated
images then share file format, bit depth and resampling, so a detector cannot separate them by how
they were stored. A user's own real photos (``--real DIR``) are decoded the same way.

Images are dealt into ``train`` / ``validation`` / ``test`` splits (per content, seeded): detectors
train on the first, select their epoch and threshold on the second and are scored on the third.
Caveat of the packaged data: the ``natural`` and ``texture`` images are crops of 7 and 3 photographs,
so held-out crops of them can overlap the training crops' pixels; ``digits`` and ``face`` are
distinct images. numpy + Pillow (+ scikit-learn / scikit-image for the packaged data).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from reparse_tf.data.images import decode_bytes, encode_png

REAL = "real"
SPLITS = ("train", "validation", "test")
DEFAULT_FRACTIONS = (0.6, 0.2, 0.2)


@dataclass
class RealImages:
    """``uint8 [N, S, S, 3]`` images of each split, their content (or folder) and where they came from."""

    images: dict[str, np.ndarray]
    content: dict[str, np.ndarray]
    source: str

    def counts(self) -> dict[str, int]:
        return {k: int(len(v)) for k, v in self.images.items()}


def as_ingested(images01: np.ndarray, image_size: int) -> np.ndarray:
    """Float images in [0, 1] -> ``uint8`` as a GM sample (round, clip), through PNG and the ingest decoder."""
    u8 = np.clip(np.round(np.asarray(images01) * 255), 0, 255).astype(np.uint8)
    return np.stack([decode_bytes(encode_png(im), image_size).array for im in u8])


def split_indices(groups: np.ndarray, fractions: tuple[float, float, float] = DEFAULT_FRACTIONS,
                  seed: int = 0) -> dict[str, np.ndarray]:
    """Sorted row indices of each split, dealt within every group (content) with ``seed``."""
    if len(fractions) != 3 or min(fractions) <= 0 or abs(sum(fractions) - 1) > 1e-6:
        raise ValueError(f"fractions must be three positive shares summing to 1, got {fractions!r}")
    rng = np.random.default_rng(seed)
    out: dict[str, list[np.ndarray]] = {s: [] for s in SPLITS}
    groups = np.asarray(groups).astype(str)
    for g in sorted(set(groups.tolist())):
        rows = rng.permutation(np.flatnonzero(groups == g))
        n_train = int(round(fractions[0] * len(rows)))
        n_val = int(round(fractions[1] * len(rows)))
        for s, part in zip(SPLITS, (rows[:n_train], rows[n_train:n_train + n_val], rows[n_train + n_val:]),
                           strict=True):
            out[s].append(part)
    return {s: np.sort(np.concatenate(v)).astype(int) if v else np.zeros(0, int) for s, v in out.items()}


def _split(images: np.ndarray, groups: np.ndarray, source: str, fractions, seed: int) -> RealImages:
    idx = split_indices(groups, fractions, seed)
    empty = [s for s, rows in idx.items() if len(rows) == 0]
    if empty:
        raise ValueError(f"{source}: {len(images)} real images leave the {', '.join(empty)} split(s) empty; "
                         "give at least 5 real images")
    return RealImages({s: images[r] for s, r in idx.items()}, {s: np.asarray(groups)[r] for s, r in idx.items()},
                      source)


def packaged_real_images(contents: list[str], image_size: int = 64, seed: int = 0,
                         fractions: tuple[float, float, float] = DEFAULT_FRACTIONS,
                         max_per_content: int | None = None) -> RealImages:
    """The zoo's training content of ``contents`` as real images (see the module docstring)."""
    from reparse_tf.zoo.content import CONTENTS, training_images

    unknown = sorted(set(contents) - set(CONTENTS))
    if unknown:
        raise ValueError(f"no packaged real images for content {', '.join(unknown)}; known: {', '.join(CONTENTS)}; "
                         "pass your own real images (--real DIR)")
    rng = np.random.default_rng(seed)
    images, groups = [], []
    for name in sorted(set(contents)):
        x = training_images(name, image_size)
        if max_per_content is not None and len(x) > max_per_content:
            x = x[np.sort(rng.choice(len(x), max_per_content, replace=False))]
        images.append(as_ingested(x, image_size))
        groups += [name] * len(x)
    return _split(np.concatenate(images), np.array(groups), "packaged zoo content", fractions, seed)


def folder_real_images(paths: list[str | Path], image_size: int = 64, seed: int = 0,
                       fractions: tuple[float, float, float] = DEFAULT_FRACTIONS) -> RealImages:
    """A user's real images (files / folders, decoded as the ingest does), split per folder."""
    import sys

    from reparse_tf.data.user_images import load_user_images

    data = load_user_images(list(paths), image_size)
    for path, reason in data.skipped:
        print(f"real images: skipped {path}: {reason}", file=sys.stderr)
    if len(data.images) == 0:
        raise ValueError(f"{', '.join(map(str, paths))}: no readable real image")
    return _split(data.images, np.array(data.folders), ", ".join(map(str, paths)), fractions, seed)


def load_real_images(real: list[str | Path] | None, contents: list[str], image_size: int, seed: int = 0,
                     max_per_content: int | None = None) -> RealImages:
    """The user's real images when ``real`` names any, else the packaged content of ``contents``."""
    if real:
        return folder_real_images(real, image_size, seed)
    return packaged_real_images(contents, image_size, seed, max_per_content=max_per_content)
