"""Leave-GMs-out folds: GMs (never images) are dealt into folds, stratified by GM type.

Fold ``k`` is the test set of split ``k``; its training GMs are all the others. Pure numpy, so
the TFRecord ingest and the JAX-side PNG loader assign the same folds.
"""

from __future__ import annotations

import numpy as np


def assign_folds(gms: list[str], gm_types: list[str], n_folds: int = 4, seed: int = 0) -> dict[str, int]:
    """Map each GM to a fold in ``[0, n_folds)``.

    Within each GM type (taken in sorted order) the GMs are shuffled with ``seed`` and dealt
    round-robin, each type starting at the currently smallest fold, so every fold's test GMs span
    the types (when a type has at least ``n_folds`` GMs) and fold sizes differ by at most one per
    type. Deterministic for a seed and independent of the input order.
    """
    if n_folds < 2:
        raise ValueError(f"n_folds must be at least 2, got {n_folds}")
    if len(gms) < n_folds:
        raise ValueError(f"{len(gms)} GMs cannot fill {n_folds} folds: need at least one test GM per fold")
    rng = np.random.default_rng(seed)
    by_type: dict[str, list[str]] = {}
    for gm, t in zip(gms, gm_types, strict=True):
        by_type.setdefault(t, []).append(gm)
    sizes = np.zeros(n_folds, dtype=int)
    folds: dict[str, int] = {}
    for t in sorted(by_type):
        members = sorted(by_type[t])
        rng.shuffle(members)
        order = np.argsort(sizes, kind="stable")
        for i, gm in enumerate(members):
            fold = int(order[i % n_folds])
            folds[gm] = fold
            sizes[fold] += 1
    return folds


def split(folds: dict[str, int], test_fold: int) -> tuple[list[str], list[str]]:
    """(training GMs, test GMs) of split ``test_fold``, each sorted."""
    if test_fold not in set(folds.values()):
        raise ValueError(f"fold {test_fold} has no GMs (folds: {sorted(set(folds.values()))})")
    train = sorted(g for g, f in folds.items() if f != test_fold)
    test = sorted(g for g, f in folds.items() if f == test_fold)
    return train, test
