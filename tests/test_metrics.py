"""Metric functions against hand-computed values; multi-image aggregation."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from scipy import stats

from reparse_tf.data.schema import load_schema
from reparse_tf.evaluation.aggregation import aggregate_gm, multi_image_eval, sample_indices
from reparse_tf.evaluation.metrics import (
    continuous_param_metrics,
    discrete_param_metrics,
    parsing_metrics,
    ransac_slope,
    summarize_runs,
)


def test_continuous_metrics_match_hand_computation():
    t = np.array([0.0, 0.5, 1.0])
    p = np.array([0.1, 0.5, 0.7])
    m = continuous_param_metrics(t, p)
    assert m["l1"] == pytest.approx(0.4 / 3)
    assert m["r2"] == pytest.approx(1 - 0.1 / 0.5)  # SS_res 0.01+0+0.09, SS_tot 0.5
    d = p - t
    tstat = d.mean() / (d.std(ddof=1) / math.sqrt(3))
    assert m["p_value"] == pytest.approx(2 * stats.t.sf(abs(tstat), df=2))
    dt, dp = t - t.mean(), p - p.mean()
    pearson = np.sum(dt * dp) / math.sqrt(np.sum(dt**2) * np.sum(dp**2))
    assert m["pearson"] == pytest.approx(pearson)


def test_ransac_slope_ignores_outlier_and_handles_constants():
    t = np.arange(10, dtype=float)
    p = 2 * t + 1
    p[9] = 100.0
    assert ransac_slope(t, p) == pytest.approx(2.0)
    assert ransac_slope(np.ones(5), np.arange(5.0)) is None  # constant truth: no line
    assert ransac_slope(np.arange(5.0), np.full(5, 0.3)) == 0.0  # constant prediction
    m = continuous_param_metrics(np.ones(4), np.array([1.0, 0.9, 1.1, 1.0]))
    assert m["pearson"] is None and m["ransac_slope"] is None
    assert continuous_param_metrics(np.arange(4.0), np.arange(4.0))["p_value"] == 1.0


def test_discrete_metrics_match_hand_computation():
    m = discrete_param_metrics([0, 0, 1, 1], [0, 1, 1, 1], num_classes=4)
    assert m["accuracy"] == pytest.approx(0.75)
    assert m["f1"] == pytest.approx((2 / 3 + 0.8) / 2)  # macro over the classes present
    assert m["confusion"] == [[1, 1, 0, 0], [0, 2, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0]]
    with pytest.raises(ValueError, match="outside the declared"):
        discrete_param_metrics([0, 5], [0, 1], num_classes=2)


def test_parsing_metrics_iterate_schema_and_are_json():
    s = load_schema()
    rng = np.random.default_rng(0)
    n = 30
    tc = rng.random((n, len(s.continuous)))
    td = np.stack([rng.integers(0, p.num_classes, n) for p in s.discrete], 1)
    res = parsing_metrics(tc, tc, td, td, s)
    assert list(res["continuous"]) == [p.name for p in s.continuous]
    assert list(res["discrete"]) == [p.name for p in s.discrete]
    assert res["summary"]["continuous_l1"] == 0.0
    assert res["summary"]["discrete_f1"] == 1.0 and res["summary"]["loss_accuracy"] == 1.0
    json.dumps(res, allow_nan=False)
    noisy = parsing_metrics(tc, np.clip(tc + rng.normal(0, 0.2, tc.shape), 0, 1), td,
                            (td + 1) % 2, s)["summary"]
    assert noisy["continuous_l1"] > 0.05 and noisy["loss_accuracy"] == 0.0
    pred = np.clip(tc + rng.normal(0, 0.2, tc.shape), 0, 1)
    full, fast = (parsing_metrics(tc, pred, td, td, s, slope=slope)["summary"] for slope in (True, False))
    assert fast["continuous_ransac_slope"] is None and full["continuous_ransac_slope"] is not None
    assert {k: v for k, v in fast.items() if "ransac" not in k} == {k: v for k, v in full.items() if "ransac" not in k}
    with pytest.raises(ValueError, match="continuous arrays"):
        parsing_metrics(tc[:, :3], tc[:, :3], td, td, s)


def test_summarize_runs_mean_std():
    out = summarize_runs([{"continuous_l1": 0.1}, {"continuous_l1": 0.3}, {"continuous_l1": None}])
    assert out["continuous_l1"]["mean"] == pytest.approx(0.2)
    assert out["continuous_l1"]["std"] == pytest.approx(0.1)
    assert out["continuous_l1"]["n"] == 2


def test_aggregate_vote_and_mean():
    s = load_schema()
    n_d = len(s.discrete)
    cont = np.array([[0.0] * 9, [0.3] * 9, [0.6] * 9])
    disc = np.zeros((3, n_d), int)
    disc[:2, 0] = 2  # majority 2 for the first discrete parameter
    c, d = aggregate_gm(cont, disc, None, s)
    assert np.allclose(c, 0.3)
    assert d[0] == 2 and (d[1:] == 0).all()
    probs = [np.tile(np.eye(p.num_classes)[-1], (3, 1)) for p in s.discrete]  # confident in the last class
    _, d2 = aggregate_gm(cont, disc, probs, s, method="mean_prob")
    assert list(d2) == [p.num_classes - 1 for p in s.discrete]


def test_sample_indices_capped_and_distinct():
    gms = np.array(["a"] * 3 + ["b"] * 12)
    picks = sample_indices(gms, 10, np.random.default_rng(0))
    assert len(picks["a"]) == 3 and len(picks["b"]) == 10
    assert len(set(picks["b"].tolist())) == 10 and set(gms[picks["b"]]) == {"b"}


def test_multi_image_eval_averaging_helps_and_reports_cap():
    s = load_schema()
    rng = np.random.default_rng(1)
    n_gms, per = 8, 20
    gms = np.repeat([f"g{i}" for i in range(n_gms)], per)
    gm_cont = rng.random((n_gms, len(s.continuous)))
    gm_disc = np.stack([rng.integers(0, p.num_classes, n_gms) for p in s.discrete], 1)
    tc, td = np.repeat(gm_cont, per, 0), np.repeat(gm_disc, per, 0)
    pc = tc + rng.normal(0, 0.3, tc.shape)
    pd = np.where(rng.random(td.shape) < 0.6, td, 0)  # right 60% of the time (else class 0)
    out = multi_image_eval(pc, pd, None, gms, tc, td, n_images=(1, 10, 100), repeats=3, seed=0, schema=s)
    assert out["100"]["capped"] and out["100"]["images_used_max"] == per
    assert not out["10"]["capped"]
    assert out["10"]["summary"]["continuous_l1"]["mean"] < out["1"]["summary"]["continuous_l1"]["mean"]
    assert out["10"]["summary"]["loss_accuracy"]["mean"] > out["1"]["summary"]["loss_accuracy"]["mean"]


def test_discrete_metrics_equal_sklearns_macro_f1_and_accuracy():
    import warnings

    from sklearn.metrics import accuracy_score, f1_score

    rng = np.random.default_rng(0)
    for _ in range(200):
        k, n = int(rng.integers(2, 5)), int(rng.integers(1, 30))
        t, p = rng.integers(0, k, n), rng.integers(0, k, n)
        m = discrete_param_metrics(t, p, k)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            assert m["f1"] == pytest.approx(f1_score(t, p, average="macro", zero_division=0), abs=1e-12)
        assert m["accuracy"] == pytest.approx(accuracy_score(t, p), abs=1e-12)
