"""Evaluation, random-GT baseline, TFMA slices, report and benchmark caching (fake parser, fast)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

from reparse_tf.data.folds import assign_folds, split
from reparse_tf.data.labels import read_labels
from reparse_tf.data.schema import MinMaxNormalizer, load_schema
from reparse_tf.evaluation.parsing_evaluation import content_check, evaluate_arrays, pair_task, resolve_split
from reparse_tf.serving.inference import Predictions
from reparse_tf.targets.random_gt import shuffle_gm_labels

SCHEMA = load_schema()
TYPES = ("GAN", "VAE", "AA", "AR")
CONTENTS = ("face", "digits")


def make_arrays(n_gms: int = 8, per_gm: int = 12, size: int = 16, seed: int = 0) -> dict[str, np.ndarray]:
    """Arrays dict; GM ``i`` stamps ``i`` into pixel (0, 0, 0) and a GM-specific periodic pattern."""
    rng = np.random.default_rng(seed)
    labels = np.zeros((n_gms, len(SCHEMA)))
    for j, p in enumerate(SCHEMA.params):
        labels[:, j] = rng.integers(0, 50, n_gms) if p.is_continuous else rng.integers(0, p.num_classes, n_gms)
    yy, xx = np.mgrid[0:size, 0:size]
    images, gm = [], []
    for i in range(n_gms):
        pattern = 20 * np.sin(2 * np.pi * (xx + i * yy) / (2 + i % 4))[..., None]
        for _ in range(per_gm):
            img = np.clip(rng.normal(120, 30, (size, size, 3)) + pattern, 0, 255).astype(np.uint8)
            img[0, 0, 0] = i
            images.append(img)
            gm.append(f"gm{i}")
    idx = np.repeat(np.arange(n_gms), per_gm)
    return {"images": np.stack(images), "gm": np.array(gm), "gm_type": np.array([TYPES[i % 4] for i in idx]),
            "content": np.array([CONTENTS[i % 2] for i in idx]), "path": np.array([f"{g}/x.png" for g in gm]),
            "fold": idx % 4, "labels": labels[idx]}


class FakeParser:
    """Stand-in ModelParser: reads the GM id from pixel (0,0,0), returns that GM's labels with noise."""

    def __init__(self, arrays: dict, train_gms: list[str], noise: float = 0.05, flip: float = 0.1, seed: int = 0):
        self.gm_labels = {int(im[0, 0, 0]): lab for im, lab in zip(arrays["images"], arrays["labels"], strict=True)}
        train = np.isin(arrays["gm"], train_gms)
        self.normalizer = MinMaxNormalizer.fit(arrays["labels"][train][:, SCHEMA.continuous_index], SCHEMA)
        self.noise, self.flip, self.rng = noise, flip, np.random.default_rng(seed)
        self.meta, self.image_size = {"variant": {}}, arrays["images"].shape[1]

    def predict(self, images: np.ndarray, batch_size: int = 64) -> Predictions:
        lab = np.stack([self.gm_labels[int(im[0, 0, 0])] for im in images])
        raw = lab[:, SCHEMA.continuous_index]
        cont = self.normalizer.transform(raw) + self.rng.normal(0, self.noise, raw.shape)
        disc = lab[:, SCHEMA.discrete_index].astype(int)
        flips = self.rng.random(disc.shape) < self.flip
        ncls = np.array([p.num_classes for p in SCHEMA.discrete])
        disc = np.where(flips, (disc + 1) % ncls, disc)
        probs = [np.eye(p.num_classes)[disc[:, j]] * 0.9 + 0.1 / p.num_classes for j, p in enumerate(SCHEMA.discrete)]
        return Predictions(cont, self.normalizer.inverse_transform(cont), disc, probs)

    def fingerprints(self, images: np.ndarray, batch_size: int = 64) -> np.ndarray:
        x = images.astype(np.float32) / 255
        return x - x.mean(axis=(1, 2), keepdims=True)

    def embed(self, images: np.ndarray, batch_size: int = 64) -> np.ndarray:
        return images.astype(np.float32).mean(axis=(1, 2)) / 255


@pytest.fixture(scope="module")
def arrays() -> dict[str, np.ndarray]:
    return make_arrays()


def _split(arrays: dict, fold: int) -> tuple[dict, dict, list[str]]:
    test = arrays["fold"] == fold
    train_gms = sorted(set(arrays["gm"][~test].tolist()))
    return ({k: v[test] for k, v in arrays.items()}, {k: v[~test] for k, v in arrays.items()}, train_gms)


def test_no_test_gm_on_training_side_of_any_fold(synthetic_layout):
    table = read_labels(synthetic_layout / "labels.csv")
    folds = assign_folds(table.gms, table.gm_types, n_folds=4, seed=0)
    seen_test = []
    for k in range(4):
        train, test = split(folds, k)
        fold, tr, te = resolve_split({"fold": k, "train_gms": train, "test_gms": test}, folds, None)
        assert fold == k and te == test and not set(tr) & set(te)
        seen_test += te
    assert sorted(seen_test) == sorted(table.gms)  # every GM is tested exactly once
    train, test = split(folds, 0)
    with pytest.raises(ValueError, match="among the model's training GMs"):
        resolve_split({"fold": 0, "train_gms": train + test[:1]}, folds, None)
    with pytest.raises(ValueError, match="trained for fold 1"):
        resolve_split({"fold": 1}, folds, 0)


def test_random_gt_shuffles_labels_only(arrays):
    """The trainer's random GT (cluster ground truth's path): training GMs trade labels per parameter
    (each column's multiset kept, not the identity); test GMs keep theirs."""
    from reparse_tf.data.labels import LabelTable
    from reparse_tf.targets.cluster_ground_truth import shuffle_labels_across_gms

    train_gms = [f"gm{i}" for i in range(6)]
    gm_of = {g: arrays["labels"][arrays["gm"] == g][0] for g in sorted(set(arrays["gm"].tolist()))}
    table = LabelTable(list(gm_of), ["GAN"] * len(gm_of), ["face"] * len(gm_of), np.stack(list(gm_of.values())))
    shuffled = shuffle_labels_across_gms(table, train_gms, seed=3)
    for g in ("gm6", "gm7"):  # test GMs keep their true labels
        assert np.array_equal(shuffled.values[shuffled.row(g)], gm_of[g])
    train_old = np.stack([gm_of[g] for g in train_gms])
    train_new = np.stack([shuffled.values[shuffled.row(g)] for g in train_gms])
    for j in range(len(SCHEMA)):  # per-parameter multiset preserved
        assert sorted(train_old[:, j]) == sorted(train_new[:, j])
    assert not np.array_equal(train_old, train_new)  # mapping is not the identity
    with pytest.raises(ValueError, match="at least 2"):
        shuffle_gm_labels({"a": np.zeros(3)})


def test_pair_task_and_content_check(arrays):
    test, train, train_gms = _split(arrays, 0)
    parser = FakeParser(arrays, train_gms)
    tr, te = parser.predict(train["images"]), parser.predict(test["images"])
    res = pair_task({"cont": tr.continuous, "disc": tr.discrete, "gm": train["gm"]},
                    {"cont": te.continuous, "disc": te.discrete, "gm": test["gm"]}, n_pairs=400)
    assert res["auc"] > 0.9 and res["accuracy"] > 0.8  # labels differ between GMs: separable
    cc = content_check(parser.fingerprints(train["images"]), train["content"],
                       parser.fingerprints(test["images"]), test["content"])
    # fold 0 tests gm0, gm4 (face); training majority is digits (gm1, 3, 5, 7 vs gm2, 6): chance = 0
    assert cc["majority_class"] == "digits" and cc["majority_rate"] == 0.0 and 0 <= cc["accuracy"] <= 1
    assert cc["chance"] == pytest.approx(1 / len(cc["classes"]))
    assert set(cc["classes"]) == set(CONTENTS)


def test_evaluate_arrays_end_to_end(arrays, tmp_path):
    test, train, train_gms = _split(arrays, 1)
    good = evaluate_arrays(FakeParser(arrays, train_gms), test, train, tmp_path / "good", fold=1, tfma=False,
                           n_images=(1, 5), repeats=2, n_pairs=300)
    bad = evaluate_arrays(FakeParser(arrays, train_gms, noise=0.4, flip=0.6), test, train, tmp_path / "bad", fold=1,
                          tfma=False, n_images=(1,), repeats=1, n_pairs=300, readout=False)
    assert good["continuous"]["l1"] < bad["continuous"]["l1"]
    assert good["loss"]["f1"] > bad["loss"]["f1"]
    assert set(good["per_gm"]) == set(test["gm"].tolist())
    assert good["multi_image"]["5"]["images_used_max"] == 5
    assert any("TFMA disabled" in n for n in good["notes"])
    saved = json.loads((tmp_path / "good" / "evaluation.json").read_text())
    assert saved["summary"] == pytest.approx(good["summary"])
    sim = good["fingerprint_similarity"]
    assert len(sim["matrix"]) == len(set(test["gm"].tolist())) and sim["intra_mean"] > sim["inter_mean"]
    with np.load(tmp_path / "good" / "fingerprints.npz") as z:
        assert z["spectra"].shape == (len(sim["gms"]), 16, 16)
    heads = good["linear_heads"]
    assert set(heads) == {"image spectrum", "embedding", "fingerprint spectrum"}
    for row in heads.values():
        assert set(row["per_gm"]) == set(test["gm"].tolist()) and 0 <= row["summary"]["loss_f1"] <= 1
        assert row["chosen"]["ridge_alpha"] > 0


@pytest.mark.skipif(importlib.util.find_spec("tensorflow_model_analysis") is None, reason="needs TFMA")
def test_tfma_slices_cover_every_gm_type(arrays, tmp_path):
    from reparse_tf.evaluation.tfma_eval import run_tfma, slice_summary, write_prediction_records

    test, _, train_gms = _split(arrays, 2)
    test = {k: v[::3] for k, v in test.items()}
    parser = FakeParser(arrays, train_gms)
    pred = parser.predict(test["images"])
    tc = parser.normalizer.transform(test["labels"][:, SCHEMA.continuous_index])
    td = test["labels"][:, SCHEMA.discrete_index].astype(int)
    meta = {k: test[k] for k in ("gm", "gm_type", "content", "path", "fold")}
    path = write_prediction_records(tmp_path / "preds.tfrecord.gz", meta, tc, pred.continuous, td, pred.probs)
    table = run_tfma(path, tmp_path / "tfma")
    slices = {tuple(s["slice"].items()) for s in table["slices"]}
    for key in ("gm_type", "gm", "content"):
        for value in set(test[key].tolist()):
            assert ((key, value),) in slices
    overall = next(s for s in table["slices"] if not s["slice"])["metrics"]
    assert set(overall) == set(SCHEMA.names)
    first_cont = SCHEMA.continuous[0]
    assert overall[first_cont.name]["mae"] == pytest.approx(np.abs(pred.continuous[:, 0] - tc[:, 0]).mean(), rel=1e-4)
    first_disc = SCHEMA.discrete[0]
    assert overall[first_disc.name]["accuracy"] == pytest.approx(np.mean(pred.discrete[:, 0] == td[:, 0]))
    assert any(r["slice"] == "overall" for r in slice_summary(table))


def test_benchmark_caches_resumes_and_reports(arrays, tmp_path):
    from reparse_tf.evaluation.benchmark import run_benchmark

    examples = tmp_path / "examples"
    examples.mkdir()
    (examples / "manifest.json").write_text(json.dumps({"n_folds": 4}))
    calls: list[tuple] = []
    fail_on = {("one_parser", 1)}

    def cluster_fn(examples_dir, out_dir, fold, seed, validation_fraction):
        Path(out_dir).mkdir(parents=True, exist_ok=True)
        (Path(out_dir) / "cluster_gt.json").write_text("{}")

    def train_fn(*, examples_dir, cluster_gt_dir, fold, out_dir, random_gt, parser, fingerprint, backbone, seed,
                 **kw):
        variant = "random_gt" if random_gt else "one_parser" if parser == "one" else "full"
        if (variant, fold) in fail_on:
            fail_on.clear()
            raise RuntimeError("interrupted")
        calls.append((variant, fold, seed))
        Path(out_dir).mkdir(parents=True, exist_ok=True)
        (Path(out_dir) / "variant.json").write_text(json.dumps({"variant": variant, "seed": seed}))
        return Path(out_dir)

    def evaluate_fn(model_dir, examples_dir, out_dir, fold, tfma):
        v = json.loads((Path(model_dir) / "variant.json").read_text())
        test, train, train_gms = _split(arrays, fold)
        noisy = v["variant"] == "random_gt"
        parser = FakeParser(arrays, train_gms, noise=0.4 if noisy else 0.05, flip=0.6 if noisy else 0.1,
                            seed=v["seed"])
        return evaluate_arrays(parser, test, train, out_dir, fold, tfma=False, n_images=(1, 3), repeats=1,
                               n_pairs=200, readout=v["variant"] == "full")

    kw = dict(folds=[0, 1], variants=["full", "random_gt", "one_parser"], n_shuffles=2, train_fn=train_fn,
              evaluate_fn=evaluate_fn, cluster_fn=cluster_fn, examples_dir=examples, baselines=[])
    with pytest.raises(RuntimeError, match="interrupted"):
        run_benchmark(tmp_path / "bench", **kw)
    done_before = len(calls)
    res = run_benchmark(tmp_path / "bench", **kw)
    # 2 folds x (full + 2 shuffles + one_parser) = 8 models, none trained twice
    assert len(calls) == 8 and len(set(calls)) == 8 and done_before < 8
    assert {c[2] for c in calls if c[0] == "random_gt"} == {0, 1}  # one seed per shuffle
    for v in ("full", "random_gt", "one_parser"):
        for k in (0, 1):
            assert (tmp_path / "bench" / "cache" / f"{v}-fold{k}" / "result.json").is_file()
    again = run_benchmark(tmp_path / "bench", **{**kw, "report": False})
    assert len(calls) == 8 and again["table"] == res["table"]
    t = res["table"]
    assert t["full"]["continuous_l1"]["mean"] < t["random_gt"]["continuous_l1"]["mean"]
    assert t["full"]["continuous_l1"]["n"] == 2
    # each trained variant's embedding under linear heads is a row of its own; random GT gets none
    assert t["full+readout"]["loss_f1"]["n"] == 2 and "random_gt+readout" not in t
    assert "full+readout" in res["significance"] and res["readout"]["method"] == "full+readout"
    assert res["readout"]["goals"] and "full" in res["readout"]["significance"]
    goals = {g["goal"]: g["met"] for g in res["goals"]}
    assert any("CNN" in g and m is None for g, m in goals.items())  # not run -> not measured
    md = (tmp_path / "bench" / "benchmark.md").read_text()
    assert "Random ground truth" in md and "±" in md and "linear readout of the embedding against each" in md
    html = Path(res["report"]).read_text()
    assert html.count("data:image/png;base64,") >= 3 and "Comparison" in html
    numbers = json.loads((Path(res["report"]).parent / "report.json").read_text())
    assert numbers["table"] == json.loads(json.dumps(res["table"]))
    for png in numbers["figures"].values():
        assert Path(png).stat().st_size > 1000


@pytest.mark.parametrize("flag", ["--workers", "--shuffles", "--epochs"])
def test_benchmark_cli_rejects_counts_below_one(tmp_path, capsys, flag):
    from reparse_tf.cli import main

    with pytest.raises(SystemExit) as err:
        main(["benchmark", "--out", str(tmp_path / "bench"), flag, "0"])
    assert err.value.code == 2 and f"{flag}: must be at least 1, got 0" in capsys.readouterr().err
    assert not (tmp_path / "bench").exists()


def test_pooled_runs_compare_per_gm_means_over_the_runs(tmp_path, capsys, benchmark_script):
    """Each row's per-GM score is its mean over the runs, on the GMs every run scored; the paired test then sees
    one pair per GM (a method better by 0.05 in both runs on 10 GMs is better, p < 0.05)."""
    import json

    bench = benchmark_script("pooled_runs")
    rng = np.random.default_rng(0)
    runs = []
    for r in range(2):
        base = {f"0/gm{i}": rng.random(3) for i in range(10 + r)}   # gm10 only in the second run
        per_gm = {"a": {g: {"continuous_l1": v[0] - 0.05, "discrete_accuracy": v[1], "loss_accuracy": v[2]}
                        for g, v in base.items()},
                  "b": {g: {"continuous_l1": v[0], "discrete_accuracy": v[1], "loss_accuracy": v[2]}
                        for g, v in base.items()}}
        path = tmp_path / f"run{r}.json"
        path.write_text(json.dumps({"per_gm": per_gm}))
        runs.append(path)
    pooled = bench.mean_over_runs([json.loads(p.read_text()) for p in runs], "a")
    assert sorted(pooled) == [f"0/gm{i}" for i in range(10)]
    out = tmp_path / "pooled.json"
    assert bench.main([*map(str, runs), "--pairs", "a:b", "--json", str(out)]) == 0
    test = json.loads(out.read_text())["tests"]["a - b"]
    assert test["continuous_l1"]["n"] == 10 and abs(test["continuous_l1"]["mean_diff"] + 0.05) < 1e-9
    assert test["continuous_l1"]["better"] is True and test["discrete_accuracy"]["p_value"] == 1.0
    assert "| a - b |" in capsys.readouterr().out
