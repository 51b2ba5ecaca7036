"""Deepfake detection and image attribution: losses, splits, training on the tiny zoo, CLI, serving."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from conftest import _built_once

from reparse_tf.data.real_images import REAL, RealImages, as_ingested, packaged_real_images, split_indices
from reparse_tf.model.fingerprint_losses import GeneratedFingerprintLoss, fingerprint_loss, per_image_fingerprint_loss
from reparse_tf.training.forensic_training import (
    class_ids,
    forensic_splits,
    probabilities,
    unknown_scores,
)

REAL_PER_CONTENT = 40  # keeps the tiny runs short


def test_generated_fingerprint_loss_skips_real_images():
    rng = np.random.default_rng(0)
    fp = rng.normal(0, 0.1, (4, 16, 16, 3)).astype(np.float32)
    per_image = np.asarray(per_image_fingerprint_loss(fp, 13))
    assert per_image.shape == (4,)
    assert np.isclose(per_image.mean(), float(fingerprint_loss(fp, 13)), rtol=1e-5)
    loss = GeneratedFingerprintLoss(window=13)
    generated = np.array([1, 0, 1, 0], np.float32)
    assert np.isclose(float(loss(generated, fp)), (per_image[0] + per_image[2]) / 4, rtol=1e-5)
    assert float(loss(np.zeros(4, np.float32), fp)) == 0.0


def test_packaged_real_images_are_stored_like_gm_samples():
    from reparse_tf.zoo.content import training_images
    from reparse_tf.zoo.train import to_uint8

    x = training_images("digits", 64)[:5]
    assert np.array_equal(as_ingested(x, 64), to_uint8(x))  # PNG round trip is lossless at the same size
    real = packaged_real_images(["digits", "texture"], 64, seed=0, max_per_content=30)
    assert real.counts() == {"train": 36, "validation": 12, "test": 12}
    assert all(set(c.tolist()) == {"digits", "texture"} for c in real.content.values())
    again = packaged_real_images(["digits", "texture"], 64, seed=0, max_per_content=30)
    assert all(np.array_equal(real.images[s], again.images[s]) for s in real.images)


def test_split_indices_partition_each_group():
    groups = np.array(["a"] * 10 + ["b"] * 5)
    idx = split_indices(groups, seed=1)
    allrows = np.concatenate(list(idx.values()))
    assert sorted(allrows.tolist()) == list(range(15))
    assert [len(idx[s]) for s in ("train", "validation", "test")] == [9, 3, 3]
    with pytest.raises(ValueError, match="fractions"):
        split_indices(groups, (0.5, 0.5, 0.0))


def _arrays(n_gms: int = 6, per_gm: int = 10) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    gm = np.repeat([f"g{i}" for i in range(n_gms)], per_gm)
    return {"images": rng.integers(0, 256, (len(gm), 8, 8, 3), dtype=np.uint8), "gm": gm,
            "gm_type": np.repeat(["GAN", "VAE"] * (n_gms // 2), per_gm), "content": np.full(len(gm), "digits")}


def _real(n: int = 10) -> RealImages:
    rng = np.random.default_rng(1)
    imgs = {s: rng.integers(0, 256, (n, 8, 8, 3), dtype=np.uint8) for s in ("train", "validation", "test")}
    return RealImages(imgs, {s: np.full(n, "digits") for s in imgs}, "test")


@pytest.mark.parametrize("task", ["detect", "attribute"])
def test_unseen_gms_never_reach_training(task):
    splits = forensic_splits(task, _arrays(), ["g0", "g1", "g2", "g3"], ["g4"], ["g5"], _real())
    assert "g5" not in splits["train"].source and "g5" not in splits["validation"].source
    assert "g4" not in splits["train"].source and "g4" in splits["validation"].source
    assert set(splits["test"].source.tolist()) >= {"g5", REAL}
    # no training image reappears in validation or test (real or generated)
    seen = {im.tobytes() for im in splits["train"].images}
    assert not any(im.tobytes() in seen for s in ("validation", "test") for im in splits[s].images)
    classes = [REAL, "g0", "g1", "g2", "g3"]
    y = class_ids(task, splits["test"].source, classes)
    if task == "detect":
        assert set(y.tolist()) == {0, 1}
        assert len(splits["train"]) == 40 + 10  # every image of the fit GMs + real train
    else:
        assert (y[splits["test"].source == "g5"] == -1).all() and set(y.tolist()) == {-1, 0, 1, 2, 3, 4}


def test_detect_without_validation_gms_validates_on_held_out_images():
    splits = forensic_splits("detect", _arrays(), ["g0", "g1", "g2", "g3"], [], ["g5"], _real())
    assert splits["validation"].generated.any()
    seen = {im.tobytes() for im in splits["train"].images}
    assert not any(im.tobytes() in seen for im in splits["validation"].images)


def test_open_set_scores_on_known_logits():
    z = np.array([[10.0, 0.0, 0.0], [0.1, 0.0, 0.0]])
    s = unknown_scores(z)
    assert s["msp"][0] < 0.001 and s["msp"][1] > 0.6  # confident vs flat
    assert s["energy"][0] < s["energy"][1]
    assert np.allclose(probabilities("attribute", z).sum(1), 1)
    assert np.allclose(probabilities("detect", np.zeros((2, 1))), 0.5)


def test_synthetic_attacks_perturb_real_training_images_within_the_budget():
    from reparse_tf.training.forensic_training import SourceSet, with_synthetic_attacks
    from reparse_tf.training.synthetic_attacks import MIN_MEAN_CHANGE, SOURCE_PREFIX, synthetic_attacks
    from reparse_tf.zoo.train import AA_EPS

    real = packaged_real_images(["digits", "texture"], 16, seed=0, max_per_content=10).images["train"]
    adv, sources, rows = synthetic_attacks(real, 3, seed=0, per_generator=4)
    assert adv.shape == (12, 16, 16, 3) and adv.dtype == np.uint8 and len(set(sources.tolist())) == 3
    change = np.abs(adv.astype(int) - real[rows].astype(int))
    assert change.max() <= round(AA_EPS * 255) + 1  # the attacks' L-infinity budget (+ rounding)
    for s in set(sources.tolist()):  # every generator kept changes its images
        assert change[sources == s].mean() >= MIN_MEAN_CHANGE
    again = synthetic_attacks(real, 3, seed=0, per_generator=4)
    assert np.array_equal(adv, again[0]) and np.array_equal(rows, again[2])

    train = SourceSet(np.concatenate([real[:5], real[:2]]), np.array([REAL] * 5 + ["g0", "g0"]),
                      np.array([REAL] * 5 + ["GAN", "GAN"]), np.array(["digits"] * 4 + ["texture"] * 3))
    out = with_synthetic_attacks(train, 2, seed=1)
    added = np.char.startswith(out.source.astype(str), SOURCE_PREFIX)
    assert len(out) == len(train) + 2 * 32 and added.sum() == 64 and out.generated[added].all()
    assert set(out.family[added].tolist()) == {"AA"} and set(out.content[added].tolist()) <= {"digits", "texture"}


# ------------------------------------------------------------- trained on the tiny zoo (fold 0)
@pytest.fixture(scope="session")
def forensic_models(tiny_examples, tmp_path_factory) -> dict[str, Path]:
    from reparse_tf.training.forensic_training import train_forensic

    def build(d: Path) -> None:
        for task in ("detect", "attribute"):
            train_forensic(task, tiny_examples, 0, "tiny", d / task, epochs=5 if task == "detect" else 3,
                           verbose=0, max_real_per_content=REAL_PER_CONTENT)

    folder = _built_once(tmp_path_factory, "forensic_models", build)
    return {t: folder / t for t in ("detect", "attribute")}


def test_detector_beats_chance_on_held_out_images(forensic_models, tiny_examples, tmp_path):
    from reparse_tf.evaluation.forensic_evaluation import evaluate_forensic

    result = evaluate_forensic(forensic_models["detect"], tiny_examples, tmp_path)
    meta = json.loads((forensic_models["detect"] / "task_meta.json").read_text())
    assert set(meta["test_gms"]).isdisjoint(meta["train_gms"] + meta["validation_gms"])
    m = result["method"]
    assert m["n_generated"] > 0 and m["n_real"] > 0 and 0 <= m["auc"] <= 1
    assert set(m["per_family"]) == set(result["method"]["per_family"]) and "spectral_peer" in result
    # per test GM: against every real image and against those of its own content, with its family
    assert set(m["per_gm"]) == set(meta["test_gms"])
    assert all(0 <= v["auc_own_content"] <= 1 and v["family"] in m["per_family"] for v in m["per_gm"].values())
    assert (tmp_path / "detect.md").is_file() and (tmp_path / "report.html").is_file()
    # the answer is the mean of the network's and the residual detector's probabilities, each scored alone too,
    # with the thresholds of the answer and of the network chosen on validation data
    from reparse_tf.serving.forensic_inference import load_classifier

    assert meta["residual_detector"]["features"] > 0 and {"p_generated", "p_generated_network"} <= set(
        meta["thresholds"])
    assert {"network", "residual_detector"} <= set(result)
    assert "residual detector" in (tmp_path / "detect.md").read_text()
    clf = load_classifier(forensic_models["detect"])
    p = clf.p_generated(np.full((2, 64, 64, 3), 128, np.uint8))
    assert np.allclose(p["p_generated"], (p["network"] + p["residual"]) / 2)
    # the model card says which unseen GMs and how many images its figures come from
    from reparse_tf.serving.model_card import model_card

    card = model_card(result)
    assert card["test_gms"] == meta["test_gms"] and card["n_test_images"] == m["n_generated"] + m["n_real"]
    # held-out data the epoch was chosen on: real images and (the tiny zoo has no validation GMs)
    # held-out images of the fit GMs, none trained on; chance is 0.5. Unseen-GM AUC on 8 tiny GMs is
    # left to the benchmark (benchmarks/forensics.py): here it swings either side of chance. Measured on
    # this held-out AUC: 0.61-0.69 over seeds, epochs 3-5 and both J_f weights; a detector that learnt
    # nothing scores 0.5.
    assert meta["validation_score"] > 0.6, meta["validation_score"]


def test_attribution_beats_chance_on_held_out_images(forensic_models, tiny_examples, tmp_path):
    from reparse_tf.evaluation.forensic_evaluation import evaluate_forensic

    result = evaluate_forensic(forensic_models["attribute"], tiny_examples, tmp_path)
    m = result["method"]
    assert m["n_classes"] == len(result["classes"]) and result["classes"][0] == REAL
    assert m["balanced_accuracy"] > 2 * result["chance"]["accuracy"], m
    assert set(result["open_set"]) >= {"msp", "energy", "n_unknown"} and result["open_set"]["n_unknown"] > 0


def test_detect_and_attribute_commands_skip_bad_files(forensic_models, image_folder, capsys):
    from reparse_tf.cli import main

    for task in ("detect", "attribute"):
        rc = main([task, str(image_folder), "--model", str(forensic_models[task]), "--json"])
        out, err = capsys.readouterr()
        assert rc == 0 and "corrupt.png" in err
        data = json.loads(out)
        assert len(data["results"]) == 7 and [s["path"] for s in data["skipped"]] == [
            str(image_folder / "a" / "corrupt.png")]
        key = "p_generated" if task == "detect" else "source"
        assert all(key in r for r in data["results"])
    assert main(["detect", str(image_folder / "a" / "corrupt.png"), "--model", str(forensic_models["detect"])]) == 1
    assert main(["attribute", str(image_folder), "--model", str(forensic_models["detect"])]) == 2  # wrong kind


def test_pushed_detector_answers_png_bytes(forensic_models, tmp_path):
    tf = pytest.importorskip("tensorflow")
    from reparse_tf.data.images import encode_png
    from reparse_tf.serving.forensic_inference import load_classifier
    from reparse_tf.serving.saved_model import push

    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (3, 64, 64, 3), dtype=np.uint8)
    for task in ("detect", "attribute"):
        version = push(forensic_models[task], tmp_path, model_name=task)
        served = load_classifier(tmp_path / task)  # the model root: its highest version
        assert served.path == version
        local = load_classifier(forensic_models[task])
        assert np.allclose(served.logits(images), local.logits(images), atol=1e-4)
        sig = tf.saved_model.load(str(version)).signatures["serve_bytes"]
        out = sig(image_bytes=tf.constant([encode_png(im) for im in images]))
        if task == "detect":   # the signature answers as `reparse detect`: network and residual detector (TF ops)
            p = local.p_generated(images)
            assert np.allclose(out["p_generated"].numpy(), p["p_generated"], atol=1e-4)
            assert np.allclose(out["p_generated_network"].numpy(), p["network"], atol=1e-4)
            assert np.allclose(out["p_residual"].numpy(), p["residual"], atol=1e-4)
        else:
            assert np.allclose(out["probabilities"].numpy(), probabilities(task, local.logits(images)), atol=1e-4)
    # `reparse detect` on the pushed version answers as on the MODEL DIR: its residual detector travels along
    served, local = load_classifier(tmp_path / "detect"), load_classifier(forensic_models["detect"])
    assert served.residual is not None
    assert np.allclose([a["p_generated"] for a in served.answer(images)],
                       [a["p_generated"] for a in local.answer(images)], atol=1e-4)


def test_classifier_fingerprint_weight_defaults_to_none_and_the_paper_is_opt_in():
    from reparse_tf.cli import build_parser
    from reparse_tf.commands.train import _classifier_weight
    from reparse_tf.training.presets import get_preset

    def weight(*flags):
        return _classifier_weight(build_parser().parse_args(["train", "--task", "detect", "--examples", "E",
                                                             "--fold", "0", "--preset", "cpu", "--out", "M",
                                                             *flags]))

    assert weight() is None and get_preset("cpu").classifier_fingerprint_weight == 0.0
    assert weight("--fingerprint") == get_preset("cpu").fingerprint_weight == 1.0
    assert weight("--no-fingerprint") == 0.0
    with pytest.raises(SystemExit):  # one or the other
        weight("--fingerprint", "--no-fingerprint")


# ------------------------------------------------------------- the packaged default models
def test_default_models_answer_without_model_flag(trained, forensic_models, image_folder, tmp_path, monkeypatch,
                                                  capsys):
    from reparse_tf.cli import main
    from reparse_tf.serving import default_models
    from reparse_tf.serving.model_card import CARD_FILE

    monkeypatch.setattr(default_models, "PACKAGED_DIR", tmp_path / "pkg")
    # nothing packaged: a clear error naming the build command, exit 2
    assert main(["parse", str(image_folder)]) == 2
    assert "reparse defaults build" in capsys.readouterr().err
    card = tmp_path / CARD_FILE
    card.write_text(json.dumps({"task": "parse", "fold": 0, "test_gms": ["g1"], "metrics": {"continuous_l1": 0.25}}))
    dest = default_models.install(trained, "parse", card)
    assert (dest / "model.keras").is_file() and (dest / "parser_meta.json").is_file() and (dest / CARD_FILE).is_file()
    assert not (dest / "checkpoints").exists() and not (dest / "history.json").exists()
    for task in ("detect", "attribute"):
        default_models.install(forensic_models[task], task)
    # a failed install (not a model dir) leaves the previous default in place
    with pytest.raises(FileNotFoundError, match="model.keras"):
        default_models.install(tmp_path, "parse")
    assert (dest / "model.keras").is_file()
    for task, key in (("parse", "parameters"), ("detect", "p_generated"), ("attribute", "source")):
        assert main([task, str(image_folder), "--json"]) == 0, task
        data = json.loads(capsys.readouterr().out)
        assert data["model"] == str(default_models.packaged_dir(task)) and len(data["results"]) == 7
        assert all(key in r for r in data["results"])
    img = sorted((image_folder / "a").glob("*.png"))[0]
    assert main(["same-source", str(img), str(img), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["scores"]["parsed"]["score"] == pytest.approx(1.0, abs=1e-5)
    assert main(["same-source", "--evaluate"]) == 2  # would write into the package: --model required
    capsys.readouterr()
    assert main(["defaults", "list", "--json"]) == 0
    rows = {r["task"]: r for r in json.loads(capsys.readouterr().out)}
    assert all(r["present"] and r["bytes"] > 0 for r in rows.values())
    assert rows["parse"]["card"]["metrics"]["continuous_l1"] == 0.25 and rows["detect"]["card"] is None
    assert main(["defaults", "list"]) == 0
    assert "continuous_l1 0.250" in capsys.readouterr().out
