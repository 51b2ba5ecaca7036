"""The random-ground-truth baseline (paper Sec. 4.2): per parameter, the label values are shuffled
across the *training* GMs, so each GM gets a meaningless label vector with the real per-parameter
distribution. Only labels move: images, GM names and test GMs are untouched. numpy only.
"""

from __future__ import annotations

import numpy as np


def derangement(n: int, rng: np.random.Generator) -> np.ndarray:
    """A random cyclic permutation of ``range(n)`` (Sattolo): no element stays in place when n > 1."""
    perm = np.arange(n)
    for i in range(n - 1, 0, -1):
        j = int(rng.integers(0, i))
        perm[i], perm[j] = perm[j], perm[i]
    return perm


def shuffle_gm_labels(gm_values: dict[str, np.ndarray], seed: int = 0) -> dict[str, np.ndarray]:
    """Shuffle each parameter (column) independently across GMs.

    Args:
        gm_values: ``{gm: raw 25-vector}`` of the training GMs.

    Returns:
        ``{gm: shuffled 25-vector}``; every column's multiset of values is preserved and every
        column's GM permutation moves every GM (when there are at least two GMs).
    """
    gms = sorted(gm_values)
    if len(gms) < 2:
        raise ValueError(f"random ground truth needs at least 2 training GMs, got {len(gms)}")
    values = np.stack([np.asarray(gm_values[g], np.float64) for g in gms])
    rng = np.random.default_rng(seed)
    out = np.empty_like(values)
    for j in range(values.shape[1]):
        out[:, j] = values[derangement(len(gms), rng), j]
    return {g: out[i] for i, g in enumerate(gms)}
