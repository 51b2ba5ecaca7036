"""Trainer: MODEL DIR contents, inference API, resume, every variant flag (tiny preset, small data)."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from reparse_tf.data.schema import load_schema


def test_model_dir_and_inference_api(trained, layout64):
    from reparse_tf.serving.inference import ModelParser

    assert {"model.keras", "parser_meta.json", "history.json", "checkpoints"} <= {p.name for p in trained.iterdir()}
    meta = json.loads((trained / "parser_meta.json").read_text())
    assert not set(meta["train_gms"]) & set(meta["test_gms"]) and meta["test_gms"]
    hist = json.loads((trained / "history.json").read_text())
    assert [r["epoch"] for r in hist] == [1, 2] and all(np.isfinite(r["loss"]) for r in hist)
    assert sorted(p.name for p in (trained / "checkpoints").iterdir()) == ["epoch_001.keras", "epoch_002.keras"]

    schema = load_schema()
    parser = ModelParser.load(trained)
    images = np.random.default_rng(0).integers(0, 256, (5, 64, 64, 3)).astype(np.uint8)
    pred = parser.predict(images, batch_size=4)
    assert pred.continuous.shape == pred.continuous_raw.shape == (5, len(schema.continuous))
    assert pred.discrete.shape == (5, len(schema.discrete)) and len(pred.probs) == len(schema.discrete)
    for m, p in enumerate(schema.discrete):
        assert pred.probs[m].shape == (5, p.num_classes)
        np.testing.assert_array_equal(pred.discrete[:, m], pred.probs[m].argmax(-1))
    np.testing.assert_allclose(pred.continuous_raw, parser.normalizer.inverse_transform(pred.continuous))
    assert parser.fingerprints(images).shape == (5, 64, 64, 3)
    assert parser.embed(images).shape == (5, 32)
    with pytest.raises(ValueError, match="expected images"):
        parser.predict(images[:, :32])


def test_resume_continues_from_last_checkpoint(trained, tmp_path):
    from reparse_tf.training.parser_training import train

    out = tmp_path / "m"
    shutil.copytree(trained, out)
    (out / "checkpoints" / "epoch_002.keras").unlink()       # pretend the run died after epoch 1
    train(json.loads((out / "parser_meta.json").read_text())["examples_dir"], None, fold=0, preset="tiny",
          out_dir=out, epochs=3, resume=True, verbose=0)
    hist = json.loads((out / "history.json").read_text())
    assert [r["epoch"] for r in hist] == [1, 2, 3]
    assert (out / "checkpoints" / "epoch_003.keras").is_file()


@pytest.mark.parametrize("variant", [{"parser": "one", "random_gt": True}, {"fingerprint": False},
                                     {"backbone": "cnn"}], ids=["one_random_gt", "no_fingerprint", "cnn"])
def test_every_variant_trains(variant, layout64, tmp_path):
    from reparse_tf.serving.inference import ModelParser
    from reparse_tf.training.parser_training import train

    out = train(layout64, None, fold=1, preset="tiny", out_dir=tmp_path / "m", epochs=1, verbose=0, **variant)
    meta = json.loads((out / "parser_meta.json").read_text())
    assert all(meta["variant"][k] == v for k, v in variant.items())
    hist = json.loads((out / "history.json").read_text())
    assert np.isfinite(hist[-1]["loss"])
    parser = ModelParser.load(out)
    images = np.zeros((2, 64, 64, 3), np.uint8)
    assert parser.predict(images).discrete.shape == (2, len(load_schema().discrete))
    assert (parser.fingerprints(images) is None) == (variant.get("backbone") == "cnn")


def test_content_adversary_trains_on_the_fitted_gms_contents(layout64, tmp_path):
    import keras

    from reparse_tf.serving.inference import ModelParser
    from reparse_tf.training.parser_training import load_training_data, train

    out = train(layout64, None, fold=1, preset="tiny:content_adversary=1.0", out_dir=tmp_path / "m", epochs=1,
                verbose=0)
    meta = json.loads((out / "parser_meta.json").read_text())
    arrays, _, _ = load_training_data(layout64, 64)
    fitted = np.isin(arrays["gm"], meta["train_gms"])
    assert meta["content_adversary_contents"] == sorted(set(arrays["content"][fitted]))
    model = keras.saving.load_model(out / "model.keras", compile=False)
    assert model.get_layer("content_adversary").output.shape[-1] == len(meta["content_adversary_contents"])
    hist = json.loads((out / "history.json").read_text())
    assert np.isfinite(hist[-1]["content_adversary_loss"])
    # inference reads the parsing outputs only
    assert ModelParser.load(out).predict(arrays["images"][:2]).discrete.shape == (2, len(load_schema().discrete))


def test_cluster_gt_dir_must_match_the_fold(layout64, tmp_path):
    from reparse_tf.targets.cluster_ground_truth import compute_cluster_ground_truth
    from reparse_tf.training.parser_training import load_training_data, train

    _, labels, folds = load_training_data(layout64, 64)
    wrong = compute_cluster_ground_truth(labels, labels.gms)          # includes test GMs
    wrong.save(tmp_path / "cgt")
    with pytest.raises(ValueError, match="other GMs"):
        train(layout64, tmp_path / "cgt", fold=0, preset="tiny", out_dir=tmp_path / "m", epochs=1, verbose=0)


def test_linear_readout_layers_reproduce_the_fitted_heads():
    import keras

    from reparse_tf.model.renet import build_model
    from reparse_tf.training.readout import attach_readout, fit_readout, has_readout

    schema = load_schema()
    rng = np.random.default_rng(0)
    model = build_model("tiny")
    images = rng.integers(0, 256, (48, 64, 64, 3)).astype(np.uint8)
    images[:24] //= 2   # two groups of GMs with different image statistics
    gms = np.repeat([f"g{i}" for i in range(6)], 8)
    emb = keras.Model(model.inputs, model.get_layer("embedding").output).predict(images, verbose=0)
    cont = rng.random((6, len(schema.continuous)))[np.repeat(np.arange(6), 8)]
    codes = np.stack([rng.integers(0, p.num_classes, 6) for p in schema.discrete], axis=1)
    codes[:, 0] = 1                        # a parameter with one class in training
    codes[:, 1] = [0, 2, 0, 2, 0, 2]       # two classes: sklearn's binary model
    heads = fit_readout(emb, gms, cont, codes[np.repeat(np.arange(6), 8)], schema)
    with_readout = attach_readout(model, heads, schema)
    assert has_readout(with_readout) and not has_readout(model)
    assert set(model.output_names) < set(with_readout.output_names)
    out = with_readout.predict(images, verbose=0)
    want_cont, want_disc, want_probs = heads.predict(features=emb.astype(np.float64))
    np.testing.assert_allclose(out["readout_continuous"], want_cont, atol=1e-4)
    for m, p in enumerate(schema.discrete):
        np.testing.assert_allclose(out[f"readout_{p.name}"], want_probs[m], atol=1e-4)
    assert (np.stack([out[f"readout_{p.name}"].argmax(-1) for p in schema.discrete], 1) == want_disc).all()


def test_training_with_a_linear_readout_predicts_with_it(layout64, tmp_path):
    from reparse_tf.serving.inference import ModelParser
    from reparse_tf.training.parser_training import train

    out = train(layout64, None, fold=0, preset="tiny", out_dir=tmp_path / "m", epochs=1, verbose=0, readout="linear")
    meta = json.loads((out / "parser_meta.json").read_text())
    assert meta["readout"]["kind"] == "linear" and meta["readout"]["images"] > 0
    parser = ModelParser.load(out)
    images = np.random.default_rng(0).integers(0, 256, (3, 64, 64, 3)).astype(np.uint8)
    pred = parser.predict(images)
    direct = parser.model.predict(images, verbose=0)
    np.testing.assert_allclose(pred.continuous, direct["readout_continuous"], rtol=1e-5, atol=1e-6)
    # the serving export traces ModelParser.forward: it must serve the readout too
    served = parser.forward(images)
    np.testing.assert_allclose(np.asarray(served["continuous"]), direct["readout_continuous"], rtol=1e-5, atol=1e-6)


def test_preset_strings_change_fields_with_their_types():
    import argparse

    from reparse_tf.commands import preset_arg
    from reparse_tf.training.presets import get_preset

    p = get_preset("cpu:encoder=spectral,readout=linear,epochs=2,tune=false,learning_rate=5e-4")
    assert (p.name, p.encoder, p.readout, p.epochs, p.tune, p.learning_rate) == ("cpu", "spectral", "linear", 2,
                                                                                 False, 5e-4)
    assert get_preset("cpu:epochs=2").fen_width == get_preset("cpu").fen_width  # the rest is the named preset's
    for bad, why in (("cpu:nope=1", "FIELD=VALUE"), ("cpu:epochs", "FIELD=VALUE"), ("cpu:tune=maybe", "true or false"),
                     ("cpu:encoder_filters=8", "cannot be set"), ("huge", "unknown preset")):
        with pytest.raises(ValueError, match=why):
            get_preset(bad)
    assert preset_arg("tiny:epochs=1") == "tiny:epochs=1"
    with pytest.raises(argparse.ArgumentTypeError, match="unknown preset"):
        preset_arg("huge")
