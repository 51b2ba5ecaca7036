"""Schema, normaliser, folds and the shipped RED116 label table."""

from __future__ import annotations

import csv
from collections import Counter

import numpy as np
import pytest

from reparse_tf.folds import assign_folds, split
from reparse_tf.labels import read_labels
from reparse_tf.schema import SCHEMA_DIR, MinMaxNormalizer, load_schema
from reparse_tf.synthetic import random_labels


def test_schema_counts_and_groups():
    s = load_schema()
    assert len(s) == 25
    assert len(s.continuous) == 9
    assert len(s.discrete) == 16
    assert len(s.losses) == 10
    assert len(s.discrete_architecture) == 6
    assert all(p.name.startswith("loss_") for p in s.losses)
    assert list(s.continuous_index) == [s.index(p.name) for p in s.continuous]
    with pytest.raises(KeyError, match="unknown hyperparameter"):
        s.index("nope")


def test_validate_row_reports_each_problem():
    s = load_schema()
    good = random_labels(1, np.random.default_rng(0), s)[0]
    assert s.validate_row(good) == []
    bad = good.copy()
    bad[s.index("layers")] = -1
    bad[s.index("normalization_type")] = 7
    bad[s.index("loss_KL")] = 0.5
    msgs = s.validate_row(bad)
    assert len(msgs) == 3
    assert any("layers" in m and "range" in m for m in msgs)
    assert any("normalization_type" in m for m in msgs)
    assert s.validate_row(good[:10]) == ["expected 25 values, got 10"]


def test_normalizer_round_trip():
    s = load_schema()
    raw = random_labels(12, np.random.default_rng(1), s)[:, s.continuous_index]
    norm = MinMaxNormalizer.fit(raw, s)
    z = norm.transform(raw)
    assert z.min() >= 0 and z.max() <= 1
    np.testing.assert_allclose(norm.inverse_transform(z), raw)
    again = MinMaxNormalizer.from_json(norm.to_json())
    np.testing.assert_allclose(again.transform(raw), z)
    with pytest.raises(ValueError):
        MinMaxNormalizer.fit(raw[:, :3], s)


def _gms(n_per_type: int = 6):
    types = ["GAN", "VAE", "AA", "AR", "NF"]
    gms = [f"{t}{i}" for t in types for i in range(n_per_type)]
    return gms, [g.rstrip("0123456789") for g in gms]


def test_folds_disjoint_balanced_deterministic_order_independent():
    gms, types = _gms()
    folds = assign_folds(gms, types, n_folds=4, seed=3)
    assert set(folds) == set(gms) and set(folds.values()) == {0, 1, 2, 3}
    tests = [set(split(folds, k)[1]) for k in range(4)]
    assert sum(len(t) for t in tests) == len(gms)  # every GM in exactly one test fold
    for k in range(4):
        train, test = split(folds, k)
        assert not set(train) & set(test)
        assert len({types[gms.index(g)] for g in test}) >= 4  # several GM types per fold
    sizes = Counter(folds.values())
    assert max(sizes.values()) - min(sizes.values()) <= 1
    assert assign_folds(gms, types, 4, seed=3) == folds
    assert assign_folds(gms[::-1], types[::-1], 4, seed=3) == folds
    assert assign_folds(gms, types, 4, seed=4) != folds
    with pytest.raises(ValueError):
        assign_folds(gms[:3], types[:3], 4)


def test_red116_table_reads_and_matches_red100():
    path = SCHEMA_DIR / "red116_labels.csv"
    table = read_labels(path)
    s = load_schema()
    assert len(table) == 116
    assert sum(g.startswith("RED116_row_") for g in table.gms) == 16
    assert Counter(table.gm_types)["AA"] == 6
    ref = SCHEMA_DIR.parent.parent / "shared" / "reference" / "red100_ground_truth.tsv"
    if not ref.is_file():
        pytest.skip("reference tables not available")
    with ref.open(newline="") as fh:
        rows = {r["gm"]: r for r in csv.DictReader(fh, delimiter="\t")}
    for gm in ("AAE", "ACGAN"):
        assert table.gms.index(gm) == list(rows).index(gm)  # rows 0 and 1 of the alphabetical order
        got = table.values[table.row(gm)]
        for p in s.architecture:
            expect = float(rows[gm][p.name])
            if p.name in ("skip_connection", "downsampling"):
                expect = 1 - expect  # supplement coding 0 = used -> layout 1 = used
            assert got[s.index(p.name)] == expect, (gm, p.name)
    # the layers counting rule holds for the de-normalised unnamed rows too (up to rounding)
    parts = table.values[:, [s.index(n) for n in ("conv_layers", "fc_layers", "pooling_layers",
                                                   "normalization_layers")]].sum(axis=1)
    assert np.mean(np.abs(parts - table.column("layers")) <= 1) > 0.9
