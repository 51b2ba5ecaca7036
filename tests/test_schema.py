"""Schema, normaliser, folds and the shipped RED116 label table."""

from __future__ import annotations

import csv
from collections import Counter

import numpy as np
import pytest

from reparse_tf.data.folds import (
    RED116_TEST_SPLITS,
    TRAIN_ONLY,
    assign_folds,
    held_out_folds,
    read_fold_table,
    resolve_folds,
    split,
)
from reparse_tf.data.labels import read_labels
from reparse_tf.data.schema import SCHEMA_DIR, MinMaxNormalizer, load_schema
from reparse_tf.data.synthetic import random_labels


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


REFERENCE = SCHEMA_DIR.parent.parent / "shared" / "reference"


def test_red116_table_rows_and_families():
    table = read_labels(SCHEMA_DIR / "red116_labels.csv")
    s = load_schema()
    assert len(table) == 116
    # the dataset's row order: case-insensitive, "_" before letters (CONT_ENC before CONTRAGAN)
    assert table.gms == sorted(table.gms, key=str.lower)
    assert table.gms.index("CONT_ENC") + 1 == table.gms.index("CONTRAGAN")
    assert table.gms[-4:-1] == ["WGAN_DRA", "WGAN_WC", "WGANGP"]
    assert Counter(table.gm_types) == {"GAN": 85, "VAE": 9, "AA": 6, "AR": 11, "NF": 5}
    # GMs without a conv layer do not downsample (the arrays' coding: 1 = used)
    no_conv = table.column("conv_layers") == 0
    assert no_conv.sum() >= 10 and np.all(table.column("downsampling")[no_conv] == 0)
    parts = table.values[:, [s.index(n) for n in ("conv_layers", "fc_layers", "pooling_layers",
                                                   "normalization_layers")]].sum(axis=1)
    assert np.mean(np.abs(parts - table.column("layers")) <= 1) > 0.9


def test_red116_table_equals_the_published_arrays_row_by_row():
    if not (REFERENCE / "red116_ground_truth_normalized.csv").is_file():
        pytest.skip("../shared/reference not available")
    table = read_labels(SCHEMA_DIR / "red116_labels.csv")
    s = load_schema()
    with (REFERENCE / "red116_names.csv").open(newline="") as fh:
        names = {int(r["row"]): r["gm"] for r in csv.DictReader(fh)}
    with (REFERENCE / "red116_ground_truth_normalized.csv").open(newline="") as fh:
        arrays = {int(r["row"]): r for r in csv.DictReader(fh)}
    assert table.gms == [names[k] for k in range(116)]
    lo, hi = table.values.min(axis=0), table.values.max(axis=0)
    for k, gm in enumerate(table.gms):
        for p in s.params:
            got, want = table.values[k, s.index(p.name)], float(arrays[k][p.name])
            if p.kind == "continuous":
                got = (got - lo[s.index(p.name)]) / (hi[s.index(p.name)] - lo[s.index(p.name)])
                assert abs(got - want) < 1e-5, (k, gm, p.name, got, want)
            else:
                assert got == want, (k, gm, p.name)


def test_red116_test_splits_shipped():
    table = read_labels(SCHEMA_DIR / "red116_labels.csv")
    folds = read_fold_table(RED116_TEST_SPLITS)
    assert sorted(Counter(folds.values()).items()) == [(0, 12), (1, 12), (2, 12), (3, 12)]
    assert set(folds) <= set(table.gms)
    # the paper: each test set holds two ARs and one AA (and one NF: three sets of the published four)
    for k in range(4):
        types = Counter(table.type_of[g] for g, f in folds.items() if f == k)
        assert (types["AR"], types["AA"]) == (2, 1) and types["NF"] <= 1, (k, types)
    if (REFERENCE / "red116_test_splits.csv").is_file():
        assert RED116_TEST_SPLITS.read_text() == (REFERENCE / "red116_test_splits.csv").read_text()


def test_fold_table_folds_and_errors(tmp_path):
    gms = [f"g{i}" for i in range(8)]
    table = tmp_path / "splits.csv"
    table.write_text("split,gm\nb,g1\na,g0\nb,g2\n")
    folds = resolve_folds(str(table), gms, ["GAN"] * 8)
    assert folds["g0"] == 0 and folds["g1"] == folds["g2"] == 1
    assert {folds[g] for g in gms[3:]} == {TRAIN_ONLY}  # in no test set: trained on in every split
    train, test = split(folds, 1)
    assert test == ["g1", "g2"] and train == ["g0", *gms[3:]]
    assert held_out_folds(folds) == [0, 1]
    assert resolve_folds("4", gms, ["GAN"] * 8) == assign_folds(gms, ["GAN"] * 8, 4)
    with pytest.raises(ValueError, match="not in the dataset: g1, g2"):
        resolve_folds(str(table), gms[:1] + ["g9"], ["GAN"] * 2)
    table.write_text("split,gm\na,g0\nb,g0\n")
    with pytest.raises(ValueError, match=r"splits.csv:3: GM g0 is in two test splits"):
        read_fold_table(table)
    with pytest.raises(ValueError):
        split(folds, TRAIN_ONLY)
