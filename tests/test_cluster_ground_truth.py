"""Cluster ground truth: hand-computed targets, leave-GMs-out, persistence, Beam component."""

from __future__ import annotations

import json

import numpy as np
import pytest

from reparse_tf.data.folds import validation_split
from reparse_tf.data.labels import LabelTable, write_labels
from reparse_tf.data.schema import load_schema
from reparse_tf.targets.cluster_ground_truth import (
    ClusterGroundTruth,
    class_weights_from_counts,
    compute_cluster_ground_truth,
    elbow_k,
    run_cluster_ground_truth,
    shuffle_labels_across_gms,
)

SCHEMA = load_schema()


def hand_table() -> LabelTable:
    """5 GANs in two obvious groups (a1,a2,a3 | b1,b2; a3 differs in one discrete parameter), 1 VAE,
    and a test GM t1 with extreme values."""
    n = len(SCHEMA)
    ci, di = SCHEMA.continuous_index, SCHEMA.discrete_index
    rows = {}
    for gm, level, disc in [("a1", 0, 0), ("a2", 1, 0), ("a3", 2, 1), ("b1", 50, 1), ("b2", 52, 1),
                            ("v1", 25, 0), ("t1", 100, 1)]:
        v = np.zeros(n)
        v[ci] = level
        v[di] = disc
        if gm == "a3":  # differs from a1/a2 in the first discrete parameter only
            v[di] = 0
            v[di[0]] = 1
        rows[gm] = v
    gms = list(rows)
    types = ["GAN"] * 5 + ["VAE", "GAN"]
    return LabelTable(gms, types, ["face"] * 7, np.stack([rows[g] for g in gms]))


def test_elbow_k():
    assert elbow_k([100, 10, 8, 7, 6]) == 2
    assert elbow_k([100, 90, 10, 9, 8]) == 3
    assert elbow_k([5.0]) == 1 and elbow_k([0.0, 0.0, 0.0]) == 1


def test_cluster_targets_equal_hand_computed_ones():
    table = hand_table()
    train = ["a1", "a2", "a3", "b1", "b2", "v1"]
    cgt = compute_cluster_ground_truth(table, train, seed=0)
    assert cgt.gms == sorted(train) and "t1" not in cgt.gms
    assert cgt.k_per_type == {"GAN": 2, "VAE": 1}
    rows = {g: i for i, g in enumerate(cgt.gms)}
    a = cgt.cluster_of[rows["a1"]]
    assert cgt.cluster_of[rows["a2"]] == a == cgt.cluster_of[rows["a3"]] != cgt.cluster_of[rows["b1"]]
    # normaliser fitted on training GMs only: min 0, max 52 (t1 = 100 never enters)
    np.testing.assert_allclose(cgt.normalizer.maximum, 52)
    np.testing.assert_allclose(cgt.cluster_continuous[a], 1 / 52)                # mean of 0, 1, 2
    np.testing.assert_allclose(cgt.cluster_continuous[cgt.cluster_of[rows["b1"]]], 51 / 52)
    np.testing.assert_allclose(cgt.deviation_continuous[rows["a3"]], (2 - 1) / 52)
    assert (cgt.cluster_discrete[a] == 0).all()                                   # majority 0,0,1 -> 0
    np.testing.assert_array_equal(cgt.fusion[rows["a3"]], [0.0] + [1.0] * 15)    # a3's 1st class 1 != 0
    np.testing.assert_array_equal(cgt.fusion[rows["a1"]], 1.0)
    t = cgt.targets(["a3", "a3", "b2"])
    p0 = SCHEMA.discrete[0].name
    np.testing.assert_array_equal(t[f"cluster_{p0}"], [0, 0, 1])
    np.testing.assert_array_equal(t[f"instance_{p0}"], [1, 1, 1])
    with pytest.raises(ValueError, match="t1"):
        cgt.targets(["t1"])


def test_class_weights_are_n_over_n_i_and_zero_for_absent_classes():
    w = class_weights_from_counts(np.array([0, 0, 1]), np.array([10, 30, 20]), 4)
    np.testing.assert_allclose(w, [60 / 40, 60 / 20, 0, 0])
    cgt = compute_cluster_ground_truth(hand_table(), ["a1", "a2", "a3", "b1", "b2", "v1"],
                                       image_counts={"a1": 10, "a2": 10, "a3": 10, "b1": 10, "b2": 10, "v1": 50})
    assert cgt.class_weight_basis == "images"
    np.testing.assert_allclose(cgt.class_weights[0][:2], [100 / 70, 100 / 30], rtol=1e-6)   # 0: a1 a2 v1
    assert (cgt.class_weights[0][2:] == 0).all()


def test_random_gt_shuffles_only_training_gms_and_keeps_column_values():
    table = hand_table()
    train = ["a1", "a2", "a3", "b1", "b2", "v1"]
    shuffled = shuffle_labels_across_gms(table, train, seed=3)
    rows = [table.row(g) for g in train]
    np.testing.assert_array_equal(shuffled.values[table.row("t1")], table.values[table.row("t1")])
    assert not np.array_equal(shuffled.values[rows], table.values[rows])
    for j in range(len(SCHEMA)):
        np.testing.assert_array_equal(np.sort(shuffled.values[rows, j]), np.sort(table.values[rows, j]))
    cgt = compute_cluster_ground_truth(table, train, random_gt=True, seed=3)
    assert cgt.random_gt and set(cgt.gms) == set(train)


def test_save_load_round_trip(tmp_path):
    cgt = compute_cluster_ground_truth(hand_table(), ["a1", "a2", "a3", "b1", "b2", "v1"])
    out = cgt.save(tmp_path / "cgt")
    assert sorted(p.name for p in out.iterdir()) == ["arrays.npz", "cluster_gt.json"]
    back = ClusterGroundTruth.load(out)
    assert back.gms == cgt.gms and back.k_per_type == cgt.k_per_type
    for k, v in cgt.targets(cgt.gms).items():
        np.testing.assert_array_equal(back.targets(back.gms)[k], v)
    with pytest.raises(FileNotFoundError, match="cluster_gt.json"):
        ClusterGroundTruth.load(tmp_path)


def test_beam_component_uses_training_gms_of_the_fold(tmp_path):
    table = hand_table()
    ex = tmp_path / "examples"
    ex.mkdir()
    write_labels(table, ex / "labels.csv")
    folds = {"a1": 1, "a2": 1, "a3": 2, "b1": 2, "b2": 3, "v1": 3, "t1": 0}
    (ex / "manifest.json").write_text(json.dumps({"image_size": 32, "n_folds": 4, "folds": folds,
                                                  "counts": {g: 5 for g in folds}}))
    out = run_cluster_ground_truth(ex, tmp_path / "cgt", fold=0, validation_fraction=0.0)
    cgt = ClusterGroundTruth.load(out)
    assert cgt.gms == sorted(g for g, f in folds.items() if f != 0)
    assert cgt.class_weight_basis == "images"
    # by default the validation GMs the trainer carves (one of the 5 training GANs) are left out
    train = sorted(g for g, f in folds.items() if f != 0)
    fit, val = validation_split(train, dict(zip(table.gms, table.gm_types, strict=True)))
    cgt = ClusterGroundTruth.load(run_cluster_ground_truth(ex, tmp_path / "cgt_val", fold=0))
    assert len(val) == 1 and cgt.gms == fit and val[0] not in cgt.gms
    with pytest.raises(FileNotFoundError, match="manifest.json"):
        run_cluster_ground_truth(tmp_path, tmp_path / "x", fold=0)
