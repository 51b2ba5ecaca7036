"""Inference on a MODEL DIR (``keras`` + numpy only, no TensorFlow import): predictions of the 25
hyperparameters, FEN fingerprints and shared-encoder embeddings."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np

import reparse_tf.model.fen  # noqa: F401  (registers the serializable classes)
import reparse_tf.model.fingerprint_losses  # noqa: F401
import reparse_tf.model.parsers  # noqa: F401
from reparse_tf.data.schema import HyperparameterSchema, MinMaxNormalizer, load_schema
from reparse_tf.training.readout import READOUT_PREFIX, has_readout


@dataclass
class Predictions:
    """Parsed hyperparameters of N images.

    Attributes:
        continuous: ``[N, 9]`` normalised (min-max fitted on the training GMs).
        continuous_raw: ``[N, 9]`` in raw units.
        discrete: ``[N, 16]`` int class codes in ``schema.discrete`` order.
        probs: 16 arrays ``[N, C_m]`` of class probabilities.
    """

    continuous: np.ndarray
    continuous_raw: np.ndarray
    discrete: np.ndarray
    probs: list[np.ndarray]

    @classmethod
    def decode(cls, continuous, probs: list, normalizer: MinMaxNormalizer) -> Predictions:
        """From a model's outputs: normalised continuous ``[N, 9]`` and 16 class-probability arrays."""
        cont = np.asarray(continuous, np.float64)
        probs = [np.asarray(pr, np.float32) for pr in probs]
        discrete = np.stack([pr.argmax(axis=-1) for pr in probs], axis=1).astype(np.int64)
        return cls(cont, normalizer.inverse_transform(cont), discrete, probs)


def load_meta(meta_file: Path, where: Path) -> tuple[dict, HyperparameterSchema]:
    """``parser_meta.json`` and the installed schema; a model of another schema version is refused."""
    meta = json.loads(meta_file.read_text())
    schema = load_schema()
    if int(meta.get("schema_version", schema.version)) != schema.version:
        raise ValueError(f"{where}: model schema version {meta['schema_version']} != installed {schema.version}")
    return meta, schema


class ModelParser:
    """A trained parsing model loaded from a MODEL DIR."""

    def __init__(self, model: keras.Model, meta: dict, schema: HyperparameterSchema | None = None):
        self.model, self.meta = model, meta
        self.schema = schema or load_schema()
        self.normalizer = MinMaxNormalizer.from_json(meta["normalizer"])
        self.image_size = int(meta["image_size"])
        # a model with a linear readout (reparse_tf.training.readout) predicts with it
        prefix = READOUT_PREFIX if has_readout(model) else "final_"
        names = [f"{prefix}continuous", *(f"{prefix}{p.name}" for p in self.schema.discrete)]
        self._predict_model = keras.Model(model.inputs, [model.get_layer(n).output for n in names])
        self._embed_model = keras.Model(model.inputs, model.get_layer("embedding").output)
        self._forward_model = keras.Model(model.inputs, [*self._predict_model.outputs, self._embed_model.output])
        # the constraint layer is the identity on the FEN output (a nested model's own .output
        # belongs to its inner graph); the CNN backbone has neither
        names = {layer.name for layer in model.layers}
        self._fen_model = (keras.Model(model.inputs, model.get_layer("fingerprint_constraints").output)
                           if "fingerprint_constraints" in names else None)

    @classmethod
    def load(cls, model_dir: str | Path) -> ModelParser:
        d = Path(model_dir)
        for name in ("model.keras", "parser_meta.json"):
            if not (d / name).is_file():
                raise FileNotFoundError(f"{d / name}: missing (not a trained MODEL DIR)")
        meta, schema = load_meta(d / "parser_meta.json", d)
        model = keras.saving.load_model(d / "model.keras", compile=False)
        return cls(model, meta, schema)

    def _check(self, images: np.ndarray) -> np.ndarray:
        images = np.asarray(images)
        if images.ndim == 3:
            images = images[None]
        s = self.image_size
        if images.ndim != 4 or images.shape[1:] != (s, s, 3):
            raise ValueError(f"expected images [N, {s}, {s}, 3], got {images.shape}")
        if images.dtype != np.uint8:
            raise ValueError(f"expected uint8 images, got {images.dtype}")
        return images

    def _run(self, model: keras.Model, images: np.ndarray, batch_size: int):
        images = self._check(images)
        if not len(images):
            raise ValueError("no images to predict")
        # predict_on_batch per chunk: Model.predict sets up a data pipeline on every call (~70 ms here),
        # which dominates the few images of an interactive `reparse parse`
        chunks = [model.predict_on_batch(images[i:i + batch_size]) for i in range(0, len(images), batch_size)]
        return chunks[0] if len(chunks) == 1 else keras.tree.map_structure(lambda *x: np.concatenate(x), *chunks)

    def predict(self, images_uint8: np.ndarray, batch_size: int = 64) -> Predictions:
        """Parse the hyperparameters of each image (eq. 13 and eq. 16 final predictions, or the linear
        readout's where the model has one)."""
        outs = self._run(self._predict_model, images_uint8, batch_size)
        return Predictions.decode(outs[0], outs[1:], self.normalizer)

    def parser_parts(self, images_uint8: np.ndarray, batch_size: int = 64) -> dict[str, Predictions]:
        """Predictions of each parser alone (``cluster`` and ``instance`` of the two-parser PN): the
        cluster parser's continuous output and classes, the instance parser's classes with the cluster
        continuous output plus its deviation (eq. 13 with the fusion of eq. 16 left out). Empty for
        the one-parser variant."""
        names = {layer.name for layer in self.model.layers}
        if "cluster_continuous" not in names:
            return {}
        if not hasattr(self, "_parts_model"):
            outs = [f"{part}_{p.name}" for part in ("cluster", "instance") for p in self.schema.discrete]
            self._parts_model = keras.Model(self.model.inputs, [self.model.get_layer(n).output for n in
                                                                ("cluster_continuous", "instance_continuous", *outs)])
        outs = self._run(self._parts_model, images_uint8, batch_size)
        n = len(self.schema.discrete)
        result = {}
        for i, part in enumerate(("cluster", "instance")):
            logits = outs[2 + i * n: 2 + (i + 1) * n]
            probs = [np.exp(lg - lg.max(-1, keepdims=True)) for lg in (np.asarray(x, np.float64) for x in logits)]
            probs = [p / p.sum(-1, keepdims=True) for p in probs]
            cont = np.asarray(outs[0], np.float64) + (np.asarray(outs[1], np.float64) if part == "instance" else 0.0)
            result[part] = Predictions.decode(cont, probs, self.normalizer)
        return result

    def forward(self, images) -> dict:
        """Symbolic-friendly forward pass (keras ops, any backend tensor of uint8 images ``[N,H,W,3]``):
        ``{"continuous": [N, 9] normalised, "probs": 16 x [N, C_m], "embedding": [N, D]}``. Used by the
        serving export, which traces it into a SavedModel signature."""
        outs = self._forward_model(images, training=False)
        return {"continuous": outs[0], "probs": list(outs[1:-1]), "embedding": outs[-1]}

    def fingerprints(self, images: np.ndarray, batch_size: int = 64) -> np.ndarray | None:
        """FEN output ``[N, H, W, 3]`` float32 (None for the CNN backbone, which has no FEN)."""
        if self._fen_model is None:
            return None
        return np.asarray(self._run(self._fen_model, images, batch_size), np.float32)

    def embed(self, images: np.ndarray, batch_size: int = 64) -> np.ndarray:
        """Shared-encoder features ``[N, D]`` float32."""
        return np.asarray(self._run(self._embed_model, images, batch_size), np.float32)


def load_parser(path: str | Path):
    """A trained MODEL DIR (:class:`ModelParser`), a pushed SavedModel version directory, or a pushed
    model's root (its highest version) (:class:`reparse_tf.serving.saved_model.SavedModelParser`, needs TensorFlow)."""
    p = Path(path)
    if (p / "model.keras").is_file():
        return ModelParser.load(p)
    from reparse_tf.serving.artifacts import saved_model_dir

    p = saved_model_dir(p)
    if not (p / "saved_model.pb").is_file():
        raise FileNotFoundError(f"{p}: neither a trained model dir (model.keras + parser_meta.json) nor a "
                                "pushed SavedModel (a version dir or a model root of version dirs)")
    from reparse_tf.serving.saved_model import SavedModelParser

    return SavedModelParser(p)
