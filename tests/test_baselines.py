"""Parsing baselines, spectral peer, significance, validation GMs and a planted-signal training run."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from reparse_tf.data.folds import fold_gms, stratified_subset, validation_split
from reparse_tf.data.labels import LabelTable
from reparse_tf.data.schema import MinMaxNormalizer, load_schema
from reparse_tf.evaluation import baselines as B
from reparse_tf.evaluation.metrics import parsing_metrics
from reparse_tf.evaluation.significance import compare_per_gm, paired_table, paired_test
from reparse_tf.evaluation.spectral_peer import SpectralPeer, azimuthal_average, log_spectrum, spectral_features

SCHEMA = load_schema()


def table(rows: list[tuple[str, str, dict]]) -> LabelTable:
    """Label table from (gm, type, {param: value}) rows; unset parameters are 0."""
    values = np.zeros((len(rows), len(SCHEMA)))
    for i, (_, _, vals) in enumerate(rows):
        for name, v in vals.items():
            values[i, SCHEMA.index(name)] = v
    return LabelTable([r[0] for r in rows], [r[1] for r in rows], ["face"] * len(rows), values)


# training: two GAN (layers 0 and 10, upsampling 1 and 1, KL 0) and one VAE (layers 20, upsampling 0, KL 1)
TRAIN = table([("g1", "GAN", {"layers": 0, "upsampling_type": 1}), ("g2", "GAN", {"layers": 10, "upsampling_type": 1}),
               ("v1", "VAE", {"layers": 20, "upsampling_type": 0, "loss_KL": 1})])
TEST = table([("g3", "GAN", {"layers": 5, "upsampling_type": 1}), ("v2", "VAE", {"layers": 20, "loss_KL": 1})])
NORM = MinMaxNormalizer.fit(TRAIN.values[:, SCHEMA.continuous_index], SCHEMA)
L = list(SCHEMA.continuous_index).index(SCHEMA.index("layers"))
UP = list(SCHEMA.discrete_index).index(SCHEMA.index("upsampling_type"))
KL = list(SCHEMA.discrete_index).index(SCHEMA.index("loss_KL"))


def test_constant_predicts_training_mean_and_majority():
    cont, disc = B.constant(TRAIN, TEST, NORM)
    # layers normalised by the training range 0..20: mean of (0, 0.5, 1) = 0.5
    np.testing.assert_allclose(cont[:, L], [0.5, 0.5])
    assert disc[:, UP].tolist() == [1, 1] and disc[:, KL].tolist() == [0, 0]
    true_c = NORM.transform(TEST.values[:, SCHEMA.continuous_index])
    m = parsing_metrics(true_c, cont, TEST.values[:, SCHEMA.discrete_index].astype(int), disc)
    # layers: mean of |0.5 - 0.25| and |0.5 - 1.0| -> L1 0.375
    assert m["continuous"]["layers"]["l1"] == pytest.approx(0.375)
    assert m["discrete"]["loss_KL"]["accuracy"] == pytest.approx(0.5)


def test_family_oracle_uses_each_test_gms_family():
    cont, disc = B.family_oracle(TRAIN, TEST, NORM)
    np.testing.assert_allclose(cont[:, L], [0.25, 1.0])       # GAN mean (0 + 0.5) / 2, VAE 1.0
    assert disc[:, UP].tolist() == [1, 0] and disc[:, KL].tolist() == [0, 1]
    true_c = NORM.transform(TEST.values[:, SCHEMA.continuous_index])
    m = parsing_metrics(true_c, cont, TEST.values[:, SCHEMA.discrete_index].astype(int), disc)
    assert m["continuous"]["layers"]["l1"] == pytest.approx(0.0)
    assert m["discrete"]["loss_KL"]["f1"] == pytest.approx(1.0)
    # a family absent from training falls back to the global mean / majority
    alone = table([("n1", "NF", {"layers": 20})])
    np.testing.assert_allclose(B.family_oracle(TRAIN, alone, NORM)[0][:, L], [0.5])


def test_label_copy_draws_training_rows_and_averages_to_their_mean():
    rng = np.random.default_rng(0)
    draws = [B.label_copy(TRAIN, TEST, NORM, rng) for _ in range(3000)]
    layers = np.stack([d[0][:, L] for d in draws])
    assert set(np.unique(layers).tolist()) == {0.0, 0.5, 1.0}
    # expected L1 of g3 (0.25): (0.25 + 0.25 + 0.75) / 3
    assert np.mean(np.abs(layers[:, 0] - 0.25)) == pytest.approx(1.25 / 3, abs=0.02)
    cont, disc = B.expand_to_images(draws[0], ["g3", "v2"], np.array(["v2", "g3", "v2"]))
    np.testing.assert_array_equal(cont, draws[0][0][[1, 0, 1]])


def test_mean_of_results_averages_numbers_and_keeps_the_rest():
    from reparse_tf.evaluation.baseline_evaluation import mean_of_results

    got = mean_of_results([{"a": 1.0, "b": {"c": 2, "d": None}, "s": "x", "l": [1]},
                           {"a": 3.0, "b": {"c": 4, "d": 1.0}, "s": "y", "l": [2]}])
    assert got == {"a": 2.0, "b": {"c": 3.0, "d": 1.0}, "s": "x", "l": [1]}


def test_sinusoid_puts_its_energy_in_its_radial_bin():
    size, k = 64, 9
    xx = np.mgrid[0:size, 0:size][1]
    img = np.sin(2 * np.pi * k * xx / size)[None]
    spec = log_spectrum(img)
    assert spec.shape == (1, size // 2) and int(np.argmax(spec[0])) == k
    # ring averages of a constant spectrum are that constant
    np.testing.assert_allclose(azimuthal_average(np.ones((2, 16, 16))), 1.0)
    rgb = (np.repeat((127.5 + 100 * img[..., None]), 3, axis=-1)).astype(np.uint8)
    feats = spectral_features(rgb)
    assert feats.shape[0] == 1 and np.isfinite(feats).all()
    assert int(np.argmax(feats[0, :size // 2])) == k
    # the 2-D variant: a horizontal sinusoid's power sits in the cell of row 0, column k of the half plane, which
    # a ring average shares with every other direction
    cells = spectral_features(rgb, cells=2)[:, feats.shape[1]:].reshape(size // 2, size // 4)
    assert np.unravel_index(np.argmax(cells), cells.shape) == (size // 4, k // 2)


def _planted(n_gms: int = 12, per_gm: int = 20, size: int = 32, seed: int = 0):
    """GMs whose upsampling type (deconvolution = 1) stamps a checkerboard on random smooth content."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size]
    checker = 40.0 * ((-1.0) ** (xx + yy))
    images, gms, up = [], [], []
    for i in range(n_gms):
        for _ in range(per_gm):
            base = rng.normal(128, 30, (4, 4, 1)).repeat(size // 4, 0).repeat(size // 4, 1)
            img = base + (checker[..., None] if i % 2 else 0) + rng.normal(0, 4, (size, size, 3))
            images.append(np.clip(img, 0, 255).astype(np.uint8))
            gms.append(f"gm{i:02d}")
            up.append(i % 2)
    return np.stack(images), np.array(gms), np.array(up)


def test_spectral_peer_recovers_a_planted_spectral_label():
    images, gms, up = _planted()
    disc = np.zeros((len(up), len(SCHEMA.discrete)), int)
    disc[:, UP] = up
    cont = np.random.default_rng(1).random((len(up), len(SCHEMA.continuous)))
    train = np.isin(gms, [f"gm{i:02d}" for i in range(8)])
    peer = SpectralPeer.fit(images[train], gms[train], cont[train], disc[train], SCHEMA)
    pred_c, pred_d, probs = peer.predict(images[~train])
    assert pred_c.shape == (int((~train).sum()), len(SCHEMA.continuous)) and len(probs) == len(SCHEMA.discrete)
    assert np.mean(pred_d[:, UP] == up[~train]) > 0.95
    assert (pred_d[:, KL] == 0).all()     # a single training class is predicted as a constant
    assert peer.chosen["ridge_alpha"] > 0


def test_paired_test_on_known_cases():
    a = np.arange(10, dtype=float)
    r = paired_test(a + 1.0, a)
    assert r["mean_diff"] == pytest.approx(1.0) and r["ci_low"] == pytest.approx(1.0)
    # all 10 differences positive: exact two-sided Wilcoxon p = 2 / 2^10
    assert r["p_value"] == pytest.approx(2 / 1024)
    assert paired_test(a, a)["p_value"] == 1.0
    noisy = paired_test(a + np.random.default_rng(0).normal(0, 1, 10), a)
    assert noisy["ci_low"] < noisy["mean_diff"] < noisy["ci_high"]
    # lower-is-better scores: a smaller L1 counts as better, a higher accuracy too
    per = {f"0/g{i}": {"continuous_l1": 0.1, "discrete_accuracy": 0.9, "loss_accuracy": 0.5 + i / 100}
           for i in range(10)}
    worse = {k: {"continuous_l1": 0.3 + i / 100, "discrete_accuracy": 0.5, "loss_accuracy": 0.5 + i / 100}
             for i, k in enumerate(per)}
    res = compare_per_gm(per, worse)
    assert res["continuous_l1"]["better"] and res["discrete_accuracy"]["better"]
    assert res["loss_accuracy"]["better"] is False and res["loss_accuracy"]["p_value"] == 1.0
    header, rule, row = paired_table({"a - b": res})
    assert header.startswith("| comparison | continuous L1") and rule.count("---") == 4
    assert row.startswith("| a - b | -0.245 (p 0.002, n 10) |") and row.endswith("| +0.000 (p 1, n 10) |")


def test_validation_gms_are_training_side_stratified_and_subsets_nested():
    types = {f"g{i}": "GAN" for i in range(18)} | {f"v{i}": "VAE" for i in range(7)} | {"n0": "NF", "n1": "NF"}
    fit, val = validation_split(sorted(types), types, 0.12, seed=0)
    assert not set(fit) & set(val) and sorted(fit + val) == sorted(types)
    assert sum(types[g] == "GAN" for g in val) == 2 and sum(types[g] == "VAE" for g in val) == 1
    assert not any(types[g] == "NF" for g in val)   # a type with 2 GMs stays whole
    assert validation_split(sorted(types), types, 0.0) == (sorted(types), [])
    small, large = stratified_subset(fit, types, 8), stratified_subset(fit, types, 16)
    assert len(small) == 8 and len(large) == 16 and set(small) <= set(large)
    assert {types[g] for g in small} == {"GAN", "VAE", "NF"}
    folds = {g: i % 3 for i, g in enumerate(sorted(types))}
    part = fold_gms(folds, 1, types, 0.12, max_train_gms=8)
    assert len(part.fit) == 8 and set(part.fit) < set(part.normalizer)
    assert not (set(part.normalizer) | set(part.validation)) & set(part.test)
    assert sorted(part.normalizer + part.validation + part.test) == sorted(types)


@pytest.fixture(scope="module")
def planted_arrays():
    images, gms, up = _planted(n_gms=16, per_gm=16, size=32)
    labels = np.zeros((len(gms), len(SCHEMA)))
    rng = np.random.default_rng(3)
    per_gm = {g: rng.integers(0, 20, len(SCHEMA)).astype(float) for g in np.unique(gms)}
    for i, g in enumerate(gms):
        labels[i] = per_gm[g]
        for j in SCHEMA.discrete_index:
            labels[i, j] = labels[i, j] % SCHEMA.params[j].num_classes
        labels[i, SCHEMA.index("upsampling_type")] = up[i]
    fold = np.array([(int(g[2:]) // 2) % 4 for g in gms])   # 4 test GMs per fold, two of each class
    return {"images": images, "gm": gms, "gm_type": np.array(["GAN"] * len(gms)),
            "content": np.array(["face"] * len(gms)), "fold": fold, "labels": labels}


def test_validation_gms_stay_out_of_fitting_and_full_beats_random_gt_on_a_planted_signal(planted_arrays, tmp_path):
    from reparse_tf.evaluation.parsing_evaluation import evaluate_arrays
    from reparse_tf.serving.inference import ModelParser
    from reparse_tf.targets.cluster_ground_truth import ClusterGroundTruth
    from reparse_tf.training.parser_training import train
    from reparse_tf.training.presets import get_preset

    # graph mode and batch 8: ~190 steps, enough for the batch-norm statistics to settle
    preset = get_preset("tiny").with_overrides(image_size=32, epochs=8, batch_size=8, learning_rate=2e-3,
                                               validation_fraction=0.2, run_eagerly=False)
    test = planted_arrays["fold"] == 0
    accuracy = {}
    for random_gt in (False, True):
        out = train(None, None, fold=0, preset=preset, out_dir=tmp_path / str(random_gt), random_gt=random_gt,
                    arrays=planted_arrays, verbose=0)
        meta = json.loads((out / "parser_meta.json").read_text())
        val, fit, tst = set(meta["validation_gms"]), set(meta["train_gms"]), set(meta["test_gms"])
        assert len(val) == 2 and not val & tst and not val & fit and not fit & tst
        cgt = ClusterGroundTruth.load(out / "cluster_gt")
        assert set(cgt.gms) == fit                                   # clustering and class weights
        fit_rows = np.isin(planted_arrays["gm"], sorted(fit))
        np.testing.assert_allclose(cgt.normalizer.minimum,          # normalisation: fitted GMs only
                                   planted_arrays["labels"][fit_rows][:, SCHEMA.continuous_index].min(axis=0))
        history = json.loads((out / "history.json").read_text())
        assert {"val_score", "heldin_discrete_f1", "val_continuous_l1", "fp_rms", "fp_energy"} <= set(history[-1])
        assert 1 <= meta["selected_epoch"] <= 8 and meta["epochs_trained"] == 8
        parser = ModelParser.load(out)
        res = evaluate_arrays(parser, {k: v[test] for k, v in planted_arrays.items()}, None, tmp_path / "ev",
                              0, tfma=False, n_images=(1,), repeats=1)
        accuracy[random_gt] = res["metrics"]["discrete"]["upsampling_type"]["accuracy"]
    assert accuracy[False] >= 0.9 and accuracy[False] > accuracy[True] + 0.2, accuracy


def test_benchmark_scores_every_baseline_on_real_examples(tiny_examples, tmp_path):
    from reparse_tf.evaluation.benchmark import run_benchmark

    res = run_benchmark(tmp_path / "b", folds=[0, 1], variants=[], examples_dir=tiny_examples, report=False,
                        copy_draws=5)
    assert set(res["table"]) == {"constant", "label_copy", "family_oracle", "spectral_peer"}
    for name in res["table"]:
        assert res["table"][name]["continuous_l1"]["n"] == 2
        assert set(res["per_param"][name]) == {p.name for p in SCHEMA.params}
    cache = tmp_path / "b" / "cache" / "baselines-fold0"
    oracle = json.loads((cache / "family_oracle" / "result.json").read_text())
    assert oracle["uses_true_family"] and not set(oracle["train_gms"]) & set(oracle["test_gms"])
    assert not set(oracle["validation_gms"]) & set(oracle["train_gms"])
    # KL is used exactly by the VAE and NF families: the family oracle gets it right on every test GM
    assert oracle["metrics"]["discrete"]["loss_KL"]["accuracy"] == 1.0
    copy = json.loads((cache / "label_copy" / "result.json").read_text())
    assert copy["draws"] == 5 and len(copy["draw_summaries"]) == 5
    md = (tmp_path / "b" / "benchmark.md").read_text()
    assert "Per parameter" in md and "Family oracle" in md and "Spectral peer" in md
    # cached: a second run reads the results instead of refitting
    stamp = (cache / "spectral_peer" / "result.json").stat().st_mtime_ns
    again = run_benchmark(tmp_path / "b", folds=[0, 1], variants=[], examples_dir=tiny_examples, report=False,
                          copy_draws=5)
    assert again["table"] == res["table"] and (cache / "spectral_peer" / "result.json").stat().st_mtime_ns == stamp


def test_learning_curve_slope_per_doubling():
    from reparse_tf.evaluation.learning_curve import doublings_to, per_doubling

    points = [{"max_train_gms": n, "n_fit_gms": {"peer": n},
               "table": {"peer": {"continuous_l1": {"mean": 0.3 - 0.02 * np.log2(n)}}}} for n in (10, 20, 40)]
    slopes = per_doubling(points, ["peer"])["peer"]
    assert slopes["continuous_l1"] == pytest.approx(-0.02) and slopes["discrete_f1"] is None
    at_40 = 0.3 - 0.02 * np.log2(40)
    assert doublings_to(points, "peer", "continuous_l1", at_40 - 0.06, lower_is_better=True) == pytest.approx(3)
    assert doublings_to(points, "peer", "continuous_l1", at_40 + 0.01, lower_is_better=True) == 0
    # a trend moving away from the target never gets there
    assert doublings_to(points, "peer", "continuous_l1", at_40 + 0.06, lower_is_better=False) is None


@pytest.fixture(scope="module")
def seed1_tiny_zoo(tmp_path_factory) -> Path:
    """Three GMs of a tiny zoo built from seed 1 (names ``s1_...``): extra training GMs."""
    from reparse_tf.zoo.build import build_zoo

    return Path(build_zoo(tmp_path_factory.mktemp("seed1") / "zoo", preset="tiny", seed=1, limit=3, progress=False))


def test_more_gms_benchmark_adds_other_seeds_to_training_only(tiny_examples, seed1_tiny_zoo, tmp_path,
                                                              benchmark_script):
    from reparse_tf.data.ingest import run_ingest

    bench = benchmark_script("more_gms")
    extra = tmp_path / "examples1"
    run_ingest(seed1_tiny_zoo, extra, image_size=64, n_folds=2, seed=0, output_format="npz")
    out = tmp_path / "bench"
    argv = ["--examples", str(tiny_examples), "--extra", str(extra), "--out", str(out), "--folds", "0",
            "--sizes", "4", "--draws", "2", "--peer-images-per-gm", "8", "--preset", "tiny"]
    assert bench.main(argv) == 0
    res = json.loads((out / "more_gms.json").read_text())
    own, pool4, every = (res["runs"][p] for p in ("own", "pool4", "all"))
    assert res["extra_gms"] == 3 and own[0]["n_extra"] == 0 and every[0]["n_extra"] == 3
    assert every[0]["n_fit"] == own[0]["n_fit"] + 3 and len(pool4) == 2 and all(r["n_fit"] == 4 for r in pool4)
    # the test GMs are the fold's own GMs in every point
    folds = json.loads((tiny_examples / "manifest.json").read_text())["folds"]
    assert res["paired_tests"]["all vs own, constant"]["continuous_l1"]["n"] == sum(f == 0 for f in folds.values())
    assert "More GMs" in (out / "more_gms.md").read_text() and (out / "more_gms.png").is_file()
    # every point is cached: a second run fits nothing and writes the same table
    stamps = {f: f.stat().st_mtime_ns for f in (out / "cache").iterdir()}
    assert len(stamps) == 4 and bench.main(argv) == 0
    assert {f: f.stat().st_mtime_ns for f in (out / "cache").iterdir()} == stamps
    assert json.loads((out / "more_gms.json").read_text())["points"] == res["points"]
    with pytest.raises(ValueError, match="already in an earlier zoo"):
        bench.main(["--examples", str(tiny_examples), "--extra", str(tiny_examples), "--out", str(tmp_path / "x")])



def test_more_gms_method_trains_on_the_pool_and_scores_the_folds_own_test_gms(tiny_examples, seed1_tiny_zoo,
                                                                               tmp_path, benchmark_script):
    bench = benchmark_script("more_gms_method")
    out = tmp_path / "bench"
    argv = ["--examples", str(tiny_examples), "--extra", str(seed1_tiny_zoo), "--out", str(out), "--folds", "0",
            "--preset", "tiny"]
    assert bench.main(argv) == 0
    pooled = json.loads((out / "examples_pool" / "manifest.json").read_text())
    own_folds = json.loads((tiny_examples / "manifest.json").read_text())["folds"]
    extra = {g: k for g, k in pooled["folds"].items() if g not in own_folds}
    assert len(extra) == 3 and set(extra.values()) == {-1}  # the extra GMs are never test GMs
    assert all(pooled["folds"][g] == k for g, k in own_folds.items())  # the own GMs keep their folds
    metas = {side: json.loads((out / f"bench_{side}" / "cache" / "full-fold0" / "model" / "parser_meta.json"
                               ).read_text()) for side in ("own", "pool")}

    def training_side(m: dict) -> set[str]:  # fitted + validation GMs (the pool may carve validation GMs)
        return set(m["train_gms"]) | set(m["validation_gms"])

    assert training_side(metas["pool"]) == training_side(metas["own"]) | set(extra)
    assert metas["pool"]["test_gms"] == metas["own"]["test_gms"]
    res = json.loads((out / "more_gms_method.json").read_text())
    assert res["fit_gms"]["pool"]["mean"] == len(metas["pool"]["train_gms"]) > res["fit_gms"]["own"]["mean"]
    n_test = sum(k == 0 for k in own_folds.values())
    assert res["tests"]["pool vs own"]["continuous_l1"]["n"] == n_test
    # the own run scored in its own units is the benchmark's own figure
    own_bench = json.loads((out / "bench_own" / "cache" / "full-fold0" / "result.json").read_text())
    assert res["per_fold"]["own/full"]["0"]["continuous_l1"] == pytest.approx(own_bench["summary"]["continuous_l1"])
    assert "on more GMs" in (out / "more_gms_method.md").read_text()


def test_untrained_control_pairs_the_same_gms_of_two_zoos(tiny_examples, tmp_path, monkeypatch, benchmark_script):
    """benchmarks/untrained_control.py on the tiny zoo and the same tiny GMs never trained."""
    from dataclasses import replace

    from reparse_tf.data.ingest import run_ingest
    from reparse_tf.zoo import spec as zoo_spec
    from reparse_tf.zoo.build import build_zoo

    bench = benchmark_script("untrained_control")
    monkeypatch.setitem(zoo_spec.PRESETS, "tiny", replace(zoo_spec.PRESETS["tiny"], steps=0, family_steps={}))
    zoo = build_zoo(tmp_path / "zoo_untrained", preset="tiny", seed=0, progress=False)
    assert all(json.loads(f.read_text())["trained_steps"] == 0 for f in (zoo / "_specs").glob("*.json"))
    untrained = tmp_path / "examples_untrained"
    run_ingest(zoo, untrained, image_size=64, n_folds=4, seed=0)
    folds = json.loads((tiny_examples / "manifest.json").read_text())["folds"]
    assert bench.same_architecture(tiny_examples, untrained) == sorted(f"{k}/{g}" for g, k in folds.items())
    out = tmp_path / "control"
    # baselines only (the trained variants go through the same rows and pairing; the benchmark tests train them)
    argv = ["--trained", str(tiny_examples), "--untrained", str(untrained), "--out", str(out), "--folds", "0",
            "--preset", "tiny", "--variants", ""]
    assert bench.main(argv) == 0
    res = json.loads((out / "untrained_control.json").read_text())
    n_test = sum(k == 0 for k in folds.values())
    assert res["n_pairs"] == len(folds)
    # paired over fold 0's test GMs, which differ only in their images: the spectral peer's answers change
    peer = res["untrained_minus_trained"]["spectral_peer"]["continuous_l1"]
    assert peer["n"] == n_test and peer["mean_diff"] != 0
    assert {"spectral_peer", "constant", "family_oracle", "label_copy"} <= set(res["table"]["untrained"])
    # the constant reads no images: the same on both zoos, so its paired difference is exactly zero
    assert res["untrained_minus_trained"]["constant"]["continuous_l1"]["mean_diff"] == pytest.approx(0.0, abs=1e-12)
    assert "upsampling_type" in (out / "untrained_control.md").read_text()
    # a GM whose architecture differs between the zoos is left out of the pairs
    table = (untrained / "labels.csv").read_text().splitlines()
    header = table[0].split(",")
    cells = table[1].split(",")
    gm, col = cells[header.index("gm")], header.index("layers")
    cells[col] = str(float(cells[col]) + 1)
    (untrained / "labels.csv").write_text("\n".join([table[0], ",".join(cells), *table[2:]]) + "\n")
    assert f"{folds[gm]}/{gm}" not in bench.same_architecture(tiny_examples, untrained)


def test_peer_2d_benchmark_scores_both_peers_on_unseen_gms(tiny_examples, tmp_path, benchmark_script):
    bench = benchmark_script("peer_2d_spectrum")
    out = tmp_path / "peer2d"
    assert bench.main(["--examples", str(tiny_examples), "--out", str(out), "--folds", "0", "--per-gm", "8"]) == 0
    res = json.loads((out / "peer_2d_spectrum.json").read_text())
    # the 2-D peer has the ring peer's features and the residual's 2-D cells: 32 x 16 of them at 64 x 64
    assert res["chosen"]["0"]["n_features"] == 134 + 32 * 16
    cached = json.loads((out / "fold0" / "spectral_peer_2d" / "result.json").read_text())
    assert set(cached["test_gms"]).isdisjoint(cached["train_gms"] + cached["validation_gms"])
    paired = res["paired"]["spectral_peer"]["continuous_l1"]
    assert paired["n"] == len(cached["test_gms"])
    assert "upsampling_type" in res["discrete_f1"]["spectral_peer_2d"]
    assert "Spectral peer + 2-D residual spectrum" in (out / "peer_2d_spectrum.md").read_text()


def test_spectral_parser_answers_as_its_evaluation_measured(trained, tiny_zoo, tiny_examples, tmp_path, capsys):
    """The spectral parser (``spectral_peer_2d`` fitted on fold 0's fitted GMs) saved beside a model dir: its card is
    the baseline evaluation of the same fold, and ``reparse parse --spectral`` answers per image from the saved
    coefficients exactly as the fitted peer does."""
    import shutil

    from reparse_tf.cli import main
    from reparse_tf.evaluation.baseline_evaluation import build_spectral_parser, evaluate_baselines
    from reparse_tf.evaluation.parsing_evaluation import load_examples
    from reparse_tf.model.spectral_parser import SpectralParser

    model = tmp_path / "model"
    shutil.copytree(trained, model)
    fitted = build_spectral_parser(tiny_examples, 0, model)
    card = json.loads((model / "spectral_parser.json").read_text())["card"]
    assert card["fold"] == 0 and set(card["test_gms"]).isdisjoint(card["fit_gms"])
    again = evaluate_baselines(tiny_examples, 0, tmp_path / "scores", ("spectral_peer_2d",))["spectral_peer_2d"]
    assert card["rows"]["spectral_peer_2d"]["summary"] == pytest.approx(again["summary"])
    assert {"constant", "family_oracle"} <= set(card["rows"])
    loaded = SpectralParser.load(model)
    images = load_examples(tiny_examples, card["test_gms"][:1])["images"][:5]
    a, b = fitted.predict(images), loaded.predict(images)
    np.testing.assert_allclose(a.continuous, b.continuous)
    assert all(np.array_equal(x, y) for x, y in zip(a.probs, b.probs, strict=True))
    gm_dir = tiny_zoo / card["test_gms"][0]
    assert main(["parse", str(gm_dir), "--model", str(model), "--spectral", "--json"]) == 0
    records = json.loads(capsys.readouterr().out)["results"]
    assert len(records) == len(list(gm_dir.glob("*.png"))) and len(records[0]["parameters"]) == len(SCHEMA.names)
    assert main(["parse", str(gm_dir), "--model", str(model), "--spectral", "--set"]) == 2
    assert "choose one" in capsys.readouterr().err
    shutil.rmtree(tmp_path / "bare", ignore_errors=True)
    shutil.copytree(trained, tmp_path / "bare")
    assert main(["parse", str(gm_dir), "--model", str(tmp_path / "bare"), "--spectral"]) != 0
    assert "no spectral parser" in capsys.readouterr().err
