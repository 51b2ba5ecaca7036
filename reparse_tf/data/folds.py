"""Leave-GMs-out folds: GMs (never images) are dealt into folds, stratified by GM type.

Fold ``k`` is the test set of split ``k``; its training GMs are all the others. Folds are either
dealt at random (:func:`assign_folds`) or read from a fold table (``split,gm`` CSV, e.g. the four
official RED116 test sets shipped as ``schemas/red116_test_splits.csv``), where GMs in no test set
get :data:`TRAIN_ONLY` and train in every split. Zoo twins (one architecture trained on another content,
``<gm>_twinK``) are dealt with their source GM (:func:`twin_group`), in folds and in validation GMs. Pure
numpy, so the TFRecord ingest and the JAX-side PNG loader assign the same folds.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from reparse_tf.data.schema import SCHEMA_DIR

DEFAULT_VALIDATION_FRACTION = 0.12
TRAIN_ONLY = -1
RED116_TEST_SPLITS = SCHEMA_DIR / "red116_test_splits.csv"
FOLD_TABLES = {"red116": RED116_TEST_SPLITS}
_TWIN = re.compile(r"_twin\d+$")


def twin_group(gm: str) -> str:
    """The architecture group of a GM: a zoo twin ``<gm>_twinK`` (:func:`reparse_tf.zoo.spec.twin`) belongs to
    ``<gm>``'s group, every other GM is a group of its own. Groups are dealt whole, so an architecture is never
    on both sides of a split."""
    return _TWIN.sub("", gm)


def _groups_by_type(gms: list[str], gm_types: dict[str, str]) -> dict[str, dict[str, list[str]]]:
    """``{type: {group: [its GMs]}}``, both levels sorted."""
    out: dict[str, dict[str, list[str]]] = {}
    for g in sorted(gms):
        out.setdefault(gm_types[g], {}).setdefault(twin_group(g), []).append(g)
    return {t: dict(sorted(v.items())) for t, v in sorted(out.items())}


def assign_folds(gms: list[str], gm_types: list[str], n_folds: int = 4, seed: int = 0) -> dict[str, int]:
    """Map each GM to a fold in ``[0, n_folds)``.

    Within each GM type (taken in sorted order) the GMs' groups (:func:`twin_group`: a GM and its twins) are
    shuffled with ``seed`` and dealt round-robin, each type starting at the currently smallest fold, so every
    fold's test GMs span the types (when a type has at least ``n_folds`` groups) and fold sizes differ by at most
    one group per type. Deterministic for a seed and independent of the input order; adding twins to a dataset
    leaves every other GM's fold as it was.
    """
    if n_folds < 2:
        raise ValueError(f"n_folds must be at least 2, got {n_folds}")
    by_type = _groups_by_type(list(gms), dict(zip(gms, gm_types, strict=True)))
    if sum(map(len, by_type.values())) < n_folds:
        raise ValueError(f"{len(gms)} GMs cannot fill {n_folds} folds: need at least one test GM per fold")
    rng = np.random.default_rng(seed)
    sizes = np.zeros(n_folds, dtype=int)
    folds: dict[str, int] = {}
    for groups in by_type.values():
        members = list(groups)
        rng.shuffle(members)
        order = np.argsort(sizes, kind="stable")
        for i, group in enumerate(members):
            fold = int(order[i % n_folds])
            folds.update({gm: fold for gm in groups[group]})
            sizes[fold] += 1
    return folds


def read_fold_table(path: str | Path) -> dict[str, int]:
    """``{gm: fold}`` from a ``split,gm`` CSV; splits are numbered in sorted order of their names."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: fold table not found")
    with path.open(newline="") as fh:
        reader = csv.DictReader(fh)
        if not {"split", "gm"} <= set(reader.fieldnames or []):
            raise ValueError(f"{path}: a fold table needs the columns split,gm (found {reader.fieldnames})")
        rows = [(r["split"].strip(), r["gm"].strip(), n) for n, r in enumerate(reader, start=2)]
    index = {name: k for k, name in enumerate(sorted({s for s, _, _ in rows}))}
    folds: dict[str, int] = {}
    for name, gm, line in rows:
        if gm in folds:
            raise ValueError(f"{path}:{line}: GM {gm} is in two test splits")
        folds[gm] = index[name]
    if len(index) < 1:
        raise ValueError(f"{path}: no rows")
    return folds


def resolve_folds(spec: int | str, gms: list[str], gm_types: list[str], seed: int = 0) -> dict[str, int]:
    """Folds of ``gms`` from ``spec``: a number of random folds, a shipped table's name (``red116``) or
    a fold-table path. Every GM a table names must be present; GMs it does not name are
    :data:`TRAIN_ONLY`."""
    if isinstance(spec, int) or str(spec).isdigit():
        return assign_folds(gms, gm_types, n_folds=int(spec), seed=seed)
    path = FOLD_TABLES.get(str(spec), Path(spec))
    table = read_fold_table(path)
    missing = sorted(set(table) - set(gms))
    if missing:
        raise ValueError(f"fold table {path} names GMs that are not in the dataset: {', '.join(missing)}")
    return {g: table.get(g, TRAIN_ONLY) for g in gms}


def held_out_folds(folds: dict[str, int]) -> list[int]:
    """The folds that are test sets (every fold but :data:`TRAIN_ONLY`), sorted."""
    return sorted({f for f in folds.values() if f != TRAIN_ONLY})


def split(folds: dict[str, int], test_fold: int) -> tuple[list[str], list[str]]:
    """(training GMs, test GMs) of split ``test_fold``, each sorted."""
    if test_fold == TRAIN_ONLY or test_fold not in set(folds.values()):
        raise ValueError(f"fold {test_fold} has no test GMs (test folds: {held_out_folds(folds)})")
    train = sorted(g for g, f in folds.items() if f != test_fold)
    test = sorted(g for g, f in folds.items() if f == test_fold)
    return train, test


def validation_split(train_gms: list[str], gm_types: dict[str, str],
                     fraction: float = DEFAULT_VALIDATION_FRACTION, seed: int = 0,
                     min_type_size: int = 3) -> tuple[list[str], list[str]]:
    """(fit GMs, validation GMs): validation GMs carved from a fold's *training* GMs, stratified by type.

    Each type with at least ``min_type_size`` training GM groups (:func:`twin_group`) gives
    ``max(1, round(fraction * n))`` of them, drawn with ``seed``, with all their GMs; smaller types stay whole in
    the fit set. Validation GMs take part in model selection and early stopping only: never in fitting,
    clustering, class weights or normalisation. ``fraction`` 0 gives no validation GMs. Deterministic,
    independent of input order.
    """
    if not 0.0 <= fraction < 1.0:
        raise ValueError(f"validation fraction must be in [0, 1), got {fraction}")
    rng = np.random.default_rng(seed + 7919)  # not the fold-assignment stream
    val: list[str] = []
    if fraction > 0:
        for groups in _groups_by_type(list(train_gms), gm_types).values():
            members = list(groups)
            if len(members) >= min_type_size:
                k = max(1, int(round(fraction * len(members))))
                val += [g for i in sorted(rng.choice(len(members), size=k, replace=False)) for g in groups[members[i]]]
    fit = sorted(set(train_gms) - set(val))
    return fit, sorted(val)


def stratified_subset(gms: list[str], gm_types: dict[str, str], n: int, seed: int = 0) -> list[str]:
    """At most ``n`` of ``gms``, each type keeping its share (largest remainders; every type keeps at
    least one GM while ``n`` allows). For learning curves: nested in ``n`` for one seed."""
    gms = sorted(gms)
    if n >= len(gms):
        return gms
    if n < 1:
        raise ValueError(f"a subset needs at least 1 GM, got {n}")
    rng = np.random.default_rng(seed + 104729)
    by_type: dict[str, list[str]] = {}
    for g in gms:
        by_type.setdefault(gm_types[g], []).append(g)
    order = {t: [m[i] for i in rng.permutation(len(m))] for t, m in sorted(by_type.items())}
    quota = {t: n * len(m) / len(gms) for t, m in order.items()}
    take = {t: min(len(order[t]), max(1, int(q))) for t, q in quota.items()}
    while sum(take.values()) > n:  # more types than n: drop from the largest takes
        t = max(take, key=lambda k: (take[k], k))
        take[t] -= 1
    for t in sorted(quota, key=lambda k: (int(quota[k]) - quota[k], k)):
        if sum(take.values()) >= n:
            break
        if take[t] < len(order[t]):
            take[t] += 1
    return sorted(g for t, m in order.items() for g in m[:take[t]])


@dataclass(frozen=True)
class FoldGMs:
    """The GMs of one split: ``fit`` (trained on), ``validation`` (model selection only), ``test``, and
    ``normalizer`` (the GMs whose ranges set the continuous units: the fit GMs before any subsetting,
    so learning-curve points are scored in one set of units)."""

    fit: list[str]
    validation: list[str]
    test: list[str]
    normalizer: list[str]


def fold_gms(folds: dict[str, int], test_fold: int, gm_types: dict[str, str],
             validation_fraction: float = DEFAULT_VALIDATION_FRACTION, seed: int = 0,
             max_train_gms: int | None = None) -> FoldGMs:
    """Split ``test_fold``: test GMs, validation GMs carved from the training side, and the fit GMs,
    optionally a family-stratified subset of ``max_train_gms`` of them (learning curves)."""
    train, test = split(folds, test_fold)
    fit, val = validation_split(train, gm_types, validation_fraction, seed)
    normalizer = fit
    if max_train_gms is not None and max_train_gms < len(fit):
        fit = stratified_subset(fit, gm_types, max_train_gms, seed)
    return FoldGMs(fit, val, test, normalizer)
