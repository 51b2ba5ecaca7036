"""Serving export: push a model, reload the SavedModel, compare its signatures with ModelParser.predict."""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from reparse_tf.data.schema import MinMaxNormalizer, load_schema

SIZE = 16


@dataclass
class _Predictions:
    continuous: np.ndarray
    continuous_raw: np.ndarray
    discrete: np.ndarray
    probs: list[np.ndarray]


class StandInParser:
    """A small keras model with ModelParser's interface (used until the real trainer is wired here)."""

    def __init__(self, model, normalizer, image_size):
        self.model, self.normalizer, self.image_size = model, normalizer, image_size
        self.schema = load_schema()
        self.meta = {"image_size": image_size}

    @classmethod
    def build(cls, out_dir: Path) -> Path:
        import keras

        schema = load_schema()
        keras.utils.set_random_seed(0)
        inp = keras.Input((SIZE, SIZE, 3), dtype="uint8")
        x = keras.layers.Rescaling(1 / 255)(keras.ops.cast(inp, "float32"))
        x = keras.layers.Conv2D(4, 3, activation="relu")(x)
        emb = keras.layers.Dense(8, activation="tanh")(keras.layers.GlobalAveragePooling2D()(x))
        outs = {"continuous": keras.layers.Dense(len(schema.continuous), activation="sigmoid")(emb), "embedding": emb}
        outs |= {p.name: keras.layers.Dense(p.num_classes, activation="softmax")(emb) for p in schema.discrete}
        out_dir.mkdir(parents=True)
        keras.Model(inp, outs).save(out_dir / "model.keras")
        rng = np.random.default_rng(0)
        norm = MinMaxNormalizer.fit(rng.uniform(0, 100, (5, len(schema.continuous))), schema)
        (out_dir / "parser_meta.json").write_text(json.dumps({"image_size": SIZE, "normalizer": norm.to_json()}))
        return out_dir

    @classmethod
    def load(cls, model_dir):
        import keras

        meta = json.loads((Path(model_dir) / "parser_meta.json").read_text())
        return cls(keras.saving.load_model(Path(model_dir) / "model.keras"),
                   MinMaxNormalizer.from_json(meta["normalizer"]), meta["image_size"])

    def forward(self, images):
        out = self.model(images)
        return {"continuous": out["continuous"], "embedding": out["embedding"],
                "probs": [out[p.name] for p in self.schema.discrete]}

    def predict(self, images, batch_size=64):
        out = {k: np.asarray(v) for k, v in self.model.predict(images, verbose=0).items()}
        probs = [out[p.name] for p in self.schema.discrete]
        return _Predictions(out["continuous"], self.normalizer.inverse_transform(out["continuous"]),
                            np.stack([p.argmax(-1) for p in probs], axis=1), probs)


@pytest.fixture(scope="module")
def pushed(tmp_path_factory, monkeypatch_module):
    from reparse_tf.serving import saved_model as serving

    monkeypatch_module.setattr(serving, "_load_parser", StandInParser.load)
    root = tmp_path_factory.mktemp("serving")
    model_dir = StandInParser.build(root / "model")
    return model_dir, serving.push(model_dir, root / "serving", model_name="reparse"), root / "serving"


@pytest.fixture(scope="module")
def monkeypatch_module():
    mp = pytest.MonkeyPatch()
    yield mp
    mp.undo()


def _images(n: int, seed: int = 1) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (n, SIZE, SIZE, 3), dtype=np.uint8)


def test_push_writes_tf_serving_layout(pushed):
    model_dir, version_dir, serving_dir = pushed
    assert version_dir == serving_dir / "reparse" / "1"
    assert (version_dir / "saved_model.pb").is_file() and (version_dir / "variables").is_dir()
    assert (version_dir / "assets.extra" / "parser_meta.json").read_text() == (
        model_dir / "parser_meta.json").read_text()
    assert [p.name for p in (serving_dir / "reparse").iterdir()] == ["1"], "no temporary folder left behind"


def test_signatures_match_model_parser_predict(pushed):
    import tensorflow as tf

    from reparse_tf.serving.saved_model import output_names

    model_dir, version_dir, _ = pushed
    schema = load_schema()
    loaded = tf.saved_model.load(str(version_dir))
    assert set(loaded.signatures) >= {"serving_default", "serve_bytes"}
    images = _images(5)
    expected = StandInParser.load(model_dir).predict(images)
    got = {k: v.numpy() for k, v in loaded.signatures["serving_default"](images=tf.constant(images)).items()}
    assert sorted(got) == sorted(output_names(schema))
    np.testing.assert_allclose(np.stack([got[p.name] for p in schema.continuous], 1), expected.continuous_raw,
                               rtol=1e-4, atol=1e-3)
    np.testing.assert_allclose(got["continuous_normalized"], expected.continuous, rtol=1e-4, atol=1e-5)
    np.testing.assert_array_equal(np.stack([got[p.name] for p in schema.discrete], 1), expected.discrete)
    for p, probs in zip(schema.discrete, expected.probs, strict=True):
        np.testing.assert_allclose(got[f"{p.name}_probs"], probs, atol=1e-5)

    encoded = []
    for img in images:
        buf = io.BytesIO()
        Image.fromarray(img).save(buf, format="PNG")
        encoded.append(buf.getvalue())
    from_bytes = loaded.signatures["serve_bytes"](image_bytes=tf.constant(encoded))
    np.testing.assert_allclose(from_bytes["continuous_normalized"].numpy(), expected.continuous, atol=1e-5)
    # a batch with one undecodable element fails with that element's index
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"image_bytes\[1\] is not a PNG, JPEG"):
        loaded.signatures["serve_bytes"](image_bytes=tf.constant([encoded[0], b"not an image", encoded[2]]))


def test_parse_reads_a_pushed_saved_model(pushed, tmp_path, capsys):
    from reparse_tf.cli import main
    from reparse_tf.data.images import encode_png
    from reparse_tf.serving.inference import load_parser
    from reparse_tf.serving.saved_model import SavedModelParser

    model_dir, version_dir, serving_dir = pushed
    parser = load_parser(serving_dir / "reparse")  # a model root: its highest version
    assert isinstance(parser, SavedModelParser) and parser.path == version_dir and parser.fingerprints(None) is None
    images = _images(70)  # more than one batch
    got, expected = parser.predict(images), StandInParser.load(model_dir).predict(images)
    np.testing.assert_allclose(got.continuous, expected.continuous, atol=1e-5)
    np.testing.assert_array_equal(got.discrete, expected.discrete)
    (tmp_path / "0.png").write_bytes(encode_png(images[0]))
    assert main(["parse", str(tmp_path / "0.png"), "--model", str(version_dir), "--json"]) == 0
    params = json.loads(capsys.readouterr().out)["results"][0]["parameters"]
    assert [p["name"] for p in params] == load_schema().names
    with pytest.raises(FileNotFoundError, match="neither a trained model dir"):
        load_parser(tmp_path)


def test_push_makes_next_version_and_refuses_overwrite(pushed, tmp_path):
    from reparse_tf.serving.saved_model import next_version, push

    model_dir, _, serving_dir = pushed
    assert next_version(serving_dir / "reparse") == 2
    with pytest.raises(ValueError, match="exists already"):
        push(model_dir, serving_dir, version=1)
    with pytest.raises(FileNotFoundError, match="not a trained model directory"):
        push(tmp_path, serving_dir)


@pytest.mark.parametrize("shape", [(90, 150), (40, 52)])
def test_serve_bytes_decodes_like_the_ingest(shape):
    """Non-square images, larger and smaller than the model: centre crop + resampling as the ingest."""
    import tensorflow as tf

    from reparse_tf.data.images import decode_bytes
    from reparse_tf.serving.saved_model import _decode_batch

    yy, xx = np.mgrid[0:shape[0], 0:shape[1]]
    img = np.stack([128 + 60 * np.sin(xx / 9), 128 + 60 * np.cos(yy / 7), 128 + 40 * np.sin((xx + yy) / 13)],
                   -1).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, format="PNG")
    served = _decode_batch(tf.constant([buf.getvalue()]), 64).numpy()[0].astype(float)
    ingested = np.asarray(decode_bytes(buf.getvalue(), 64).array, float)
    assert served.shape == ingested.shape == (64, 64, 3)
    assert np.abs(served - ingested).max() <= 2 and np.abs(served - ingested).mean() < 0.5
