"""A small synthetic RED-layout dataset for tests and I/O benchmarks (no training involved).

Each GM stamps a GM-specific periodic pattern (its "fingerprint") on natural-looking smooth
content; labels are random valid values from the schema. It is *not* a model-parsing dataset
(labels do not cause the pattern): use the GM zoo for science, this for plumbing.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from reparse_tf.data.labels import LabelTable, write_labels
from reparse_tf.data.schema import HyperparameterSchema, load_schema

FAMILIES = ("GAN", "VAE", "AA", "AR", "NF")
CONTENTS = ("face", "digits", "natural")


def random_labels(n_gms: int, rng: np.random.Generator, schema: HyperparameterSchema | None = None) -> np.ndarray:
    """``[n_gms, 25]`` random raw values, valid for the schema, with plausible magnitudes."""
    schema = schema or load_schema()
    out = np.zeros((n_gms, len(schema)))
    for j, p in enumerate(schema.params):
        if p.is_continuous:
            out[:, j] = rng.integers(0, int(min(p.high, 50)) + 1, n_gms)
        else:
            out[:, j] = rng.integers(0, p.num_classes, n_gms)
    c = {p.name: schema.index(p.name) for p in schema.continuous}
    out[:, c["parameters"]] = rng.integers(10_000, 5_000_000, n_gms)
    out[:, c["layers"]] = out[:, [c["conv_layers"], c["fc_layers"], c["pooling_layers"],
                                  c["normalization_layers"]]].sum(axis=1)
    return out


def make_synthetic_layout(root: str | Path, n_gms: int = 8, images_per_gm: int = 6, size: int = 32,
                          seed: int = 0) -> LabelTable:
    """Write ``root/<gm>/*.png`` and ``root/labels.csv``; return the label table."""
    root = Path(root)
    rng = np.random.default_rng(seed)
    gms = [f"syn{i:03d}" for i in range(n_gms)]
    table = LabelTable(gms, [FAMILIES[i % len(FAMILIES)] for i in range(n_gms)],
                       [CONTENTS[i % len(CONTENTS)] for i in range(n_gms)], random_labels(n_gms, rng))
    yy, xx = np.mgrid[0:size, 0:size]
    for i, gm in enumerate(gms):
        folder = root / gm
        folder.mkdir(parents=True, exist_ok=True)
        period = 2 + i % 5
        pattern = 12 * np.sin(2 * np.pi * (xx + i * yy) / period)[..., None]
        for k in range(images_per_gm):
            base = rng.normal(128, 40, (4, 4, 3))
            content = np.asarray(Image.fromarray(base.clip(0, 255).astype(np.uint8)).resize((size, size),
                                                                                              Image.BICUBIC))
            img = (content + pattern + rng.normal(0, 3, (size, size, 3))).clip(0, 255).astype(np.uint8)
            Image.fromarray(img).save(folder / f"{k:04d}.png")
    write_labels(table, root / "labels.csv")
    return table
