"""Serving export (TensorFlow edge): a trained model directory -> SavedModel in TF Serving layout.

``push(model_dir, serving_dir)`` writes ``<serving_dir>/<model_name>/<version>/`` (version = next
integer) with two signatures, built with Keras 3's ``keras.export.ExportArchive``:

- ``serving_default(images)``: uint8 ``[N, H, W, 3]`` images (resized to the model's image size
  when they differ);
- ``serve_bytes(image_bytes)``: a ``[N]`` string batch of encoded PNG/JPEG/BMP/GIF images.

Both return, per schema parameter, the decoded prediction: continuous parameters as raw values
(``<name>``), discrete ones as class ids (``<name>``) and probabilities (``<name>_probs``); plus
``continuous_normalized`` [N, n_continuous] and the shared-encoder ``embedding`` [N, D].
A detector / attribution model (``task_meta.json``) gets the same two signatures returning
``p_generated`` (detect; with a residual detector the mean of ``p_generated_network`` and ``p_residual``,
which are returned too) or ``probabilities``, ``source`` and ``unknown_score`` (attribute), plus
``logits``; its ``task_meta.json`` (classes, thresholds) and residual detector travel in ``assets.extra/``.
``parser_meta.json`` (and ``same_source.json``, the same-generator thresholds, when the model has
them) travel in ``assets.extra/`` (TF Serving's place for side files). The
version is written under a temporary name and renamed, so a serving poller never sees half a model.
"""

from __future__ import annotations

import re
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from reparse_tf.data.schema import HyperparameterSchema
from reparse_tf.evaluation.same_source import THRESHOLDS_FILE

META_FILE = "parser_meta.json"
ASSETS_EXTRA = "assets.extra"
_VALID_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


def output_names(schema: HyperparameterSchema) -> list[str]:
    """Every output key of the serving signatures, in schema order."""
    names = []
    for p in schema.params:
        names += [p.name] if p.is_continuous else [p.name, f"{p.name}_probs"]
    return names + ["continuous_normalized", "embedding"]


def _forward(parser: Any) -> Callable[[Any], dict[str, Any]]:
    """The parser's keras-ops forward pass: uint8 images -> {continuous, probs, embedding}."""
    forward = getattr(parser, "forward", None)
    if forward is None:
        raise ValueError(f"{type(parser).__name__} has no forward(images_uint8) method; the serving export needs "
                         "the keras-ops forward pass that ModelParser.predict decodes")
    return forward


def build_serving_fn(parser: Any) -> Callable[[tf.Tensor], dict[str, tf.Tensor]]:
    """A TF function of uint8 ``[N, H, W, 3]`` images returning the decoded outputs of :func:`output_names`."""
    schema: HyperparameterSchema = parser.schema
    forward = _forward(parser)
    size = int(parser.image_size)
    minimum = tf.constant(np.asarray(parser.normalizer.minimum), tf.float32)
    span = tf.constant(np.asarray(parser.normalizer.span), tf.float32)

    def serve(images: tf.Tensor) -> dict[str, tf.Tensor]:
        raw = forward(_resized(images, size))
        continuous = tf.cast(raw["continuous"], tf.float32)
        cont_raw = continuous * span + minimum
        out: dict[str, tf.Tensor] = {"continuous_normalized": continuous,
                                     "embedding": tf.cast(raw["embedding"], tf.float32)}
        for j, p in enumerate(schema.continuous):
            out[p.name] = cont_raw[:, j]
        for p, probs in zip(schema.discrete, raw["probs"], strict=True):
            probs = tf.cast(probs, tf.float32)
            out[p.name] = tf.argmax(probs, axis=-1, output_type=tf.int32)
            out[f"{p.name}_probs"] = probs
        return out

    return serve


# file signatures tf.io.decode_image reads; checked first so a bad element is named by its index
_MAGIC = ((b"\x89PNG\r\n\x1a\n", 8), (b"\xff\xd8\xff", 3), (b"GIF8", 4), (b"BM", 2))


def _decode_batch(image_bytes: tf.Tensor, size: int) -> tf.Tensor:
    """Decode a [N] string batch of encoded images to uint8 [N, size, size, 3] as the ingest does:
    centre crop to a square, then bicubic up- or antialiased Lanczos downsampling (none at ``size``).
    An element that is not a PNG / JPEG / GIF / BMP image fails the call with its index."""

    def decode(args: tuple[tf.Tensor, tf.Tensor]) -> tf.Tensor:
        index, data = args
        known = tf.reduce_any([tf.equal(tf.strings.substr(data, 0, n), magic) for magic, n in _MAGIC])
        check = tf.debugging.Assert(known, [tf.strings.format(
            "serve_bytes: image_bytes[{}] is not a PNG, JPEG, GIF or BMP image; drop it and resend the batch",
            index)])
        with tf.control_dependencies([check]):
            image = tf.io.decode_image(data, channels=3, expand_animations=False)
        shape = tf.shape(image)
        side = tf.minimum(shape[0], shape[1])
        image = tf.image.crop_to_bounding_box(image, (shape[0] - side) // 2, (shape[1] - side) // 2, side, side)
        image = tf.cast(image, tf.float32)
        image = tf.cond(tf.equal(side, size), lambda: tf.image.resize(image, (size, size), "nearest"),
                        lambda: tf.cond(side < size, lambda: tf.image.resize(image, (size, size), "bicubic"),
                                        lambda: tf.image.resize(image, (size, size), "lanczos3", antialias=True)))
        return tf.cast(tf.clip_by_value(tf.round(image), 0, 255), tf.uint8)

    index = tf.range(tf.shape(image_bytes, out_type=tf.int64)[0])
    return tf.map_fn(decode, (index, image_bytes), fn_output_signature=tf.TensorSpec([size, size, 3], tf.uint8))


def _load_parser(model_dir: Path) -> Any:
    from reparse_tf.serving.inference import ModelParser

    return ModelParser.load(model_dir)


def _resized(images: tf.Tensor, size: int) -> tf.Tensor:
    images = tf.convert_to_tensor(images)
    if images.shape[1] != size or images.shape[2] != size:
        images = tf.cast(tf.clip_by_value(tf.round(tf.image.resize(images, (size, size))), 0, 255), tf.uint8)
    return images


def build_classifier_fn(model: keras.Model, task: str, size: int, residual: Any = None
                        ) -> Callable[[tf.Tensor], dict[str, tf.Tensor]]:
    """A TF function of uint8 images returning a detector's ``p_generated`` (with a residual detector
    ``residual``: the mean of ``p_generated_network`` and ``p_residual``, as ``reparse detect``) or an attribution
    network's ``probabilities`` / ``source`` (class id; names in ``task_meta.json``) / ``unknown_score`` (1 - max
    probability), and ``logits``."""
    from reparse_tf.training.forensic_training import logits_model

    net = logits_model(model)
    if residual is not None:
        from reparse_tf.serving.residual_detector_tf import residual_p_generated

        p_residual = residual_p_generated(residual, size)

    def serve(images: tf.Tensor) -> dict[str, tf.Tensor]:
        images = _resized(images, size)
        logits = tf.cast(net(images, training=False), tf.float32)
        if task == "detect":
            p_net = tf.sigmoid(logits[:, 0])
            if residual is None:
                return {"logits": logits, "p_generated": p_net}
            p_res = p_residual(images)
            return {"logits": logits, "p_generated": (p_net + p_res) / 2, "p_generated_network": p_net,
                    "p_residual": p_res}
        probs = tf.nn.softmax(logits, axis=-1)
        return {"logits": logits, "probabilities": probs, "source": tf.argmax(probs, axis=-1, output_type=tf.int32),
                "unknown_score": 1.0 - tf.reduce_max(probs, axis=-1)}

    return serve


def _write_archive(tracked: Any, serve: Callable, size: int, export_dir: Path) -> None:
    """The two signatures (``serving_default`` on uint8 images, ``serve_bytes`` on encoded images)."""
    archive = keras.export.ExportArchive()
    archive.track(tracked)
    archive.add_endpoint("serving_default", serve,
                         input_signature=[tf.TensorSpec([None, size, size, 3], tf.uint8, name="images")])
    archive.add_endpoint("serve_bytes", lambda image_bytes: serve(_decode_batch(image_bytes, size)),
                         input_signature=[tf.TensorSpec([None], tf.string, name="image_bytes")])
    archive.write_out(str(export_dir), verbose=False)
    (export_dir / ASSETS_EXTRA).mkdir(exist_ok=True)


def export_saved_model(model_dir: str | Path, export_dir: str | Path) -> Path:
    """Write the SavedModel of ``model_dir`` (``model.keras`` + ``parser_meta.json``, or a detector /
    attribution network's ``task_meta.json``) to ``export_dir``."""
    from reparse_tf.training.forensic_training import META_FILE as TASK_META_FILE

    model_dir, export_dir = Path(model_dir), Path(export_dir)
    if (model_dir / TASK_META_FILE).is_file():
        import json

        from reparse_tf.model.residual_detector import RESIDUAL_DETECTOR_FILE, ResidualDetector

        meta = json.loads((model_dir / TASK_META_FILE).read_text())
        model = keras.saving.load_model(model_dir / "model.keras")
        size = int(meta["image_size"])
        residual = ResidualDetector.beside(model_dir, meta)
        _write_archive(model, build_classifier_fn(model, meta["task"], size, residual), size, export_dir)
        shutil.copy2(model_dir / TASK_META_FILE, export_dir / ASSETS_EXTRA / TASK_META_FILE)
        if residual is not None:   # `reparse detect` on the pushed version computes it in numpy
            shutil.copy2(model_dir / RESIDUAL_DETECTOR_FILE, export_dir / ASSETS_EXTRA / RESIDUAL_DETECTOR_FILE)
        return export_dir
    if not (model_dir / META_FILE).is_file():
        raise FileNotFoundError(f"{model_dir}: not a trained model directory (no {META_FILE} or {TASK_META_FILE})")
    parser = _load_parser(model_dir)
    size = int(parser.image_size)
    _write_archive(parser.model, build_serving_fn(parser), size, export_dir)
    shutil.copy2(model_dir / META_FILE, export_dir / ASSETS_EXTRA / META_FILE)
    # same-generator thresholds chosen on validation GMs (``reparse same-source --evaluate``) travel too
    if (model_dir / THRESHOLDS_FILE).is_file():
        shutil.copy2(model_dir / THRESHOLDS_FILE, export_dir / ASSETS_EXTRA / THRESHOLDS_FILE)
    return export_dir


def next_version(model_root: Path) -> int:
    """1 + the largest integer version folder under ``model_root`` (1 when there is none)."""
    from reparse_tf.serving.artifacts import versions

    return max(versions(model_root), default=0) + 1


def push(model_dir: str | Path, serving_dir: str | Path, model_name: str = "reparse",
         version: int | None = None, card: dict | None = None) -> Path:
    """Export ``model_dir`` to ``<serving_dir>/<model_name>/<version>/``; return that folder.
    ``card``: a model card (:func:`reparse_tf.serving.model_card.model_card`) for ``assets.extra/``.

    Raises:
        ValueError: a bad model name, or a version that exists already.
        FileNotFoundError: ``model_dir`` is not a trained model directory.
    """
    if not _VALID_NAME.match(model_name):
        raise ValueError(f"model name {model_name!r} must be letters, digits, '_', '-' or '.'")
    root = Path(serving_dir) / model_name
    root.mkdir(parents=True, exist_ok=True)
    version = next_version(root) if version is None else int(version)
    if version < 1:
        raise ValueError(f"version must be a positive integer, got {version}")
    final = root / str(version)
    if final.exists():
        raise ValueError(f"{final} exists already: versions are immutable, push a new one")
    tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{version}-", dir=root))
    try:
        export_saved_model(model_dir, tmp / "export")
        if card is not None:
            from reparse_tf.serving.artifacts import write_json
            from reparse_tf.serving.model_card import CARD_FILE

            write_json(tmp / "export" / ASSETS_EXTRA / CARD_FILE, card, indent=1, strict=False)
        (tmp / "export").rename(final)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return final


class SavedModelParser:
    """A pushed SavedModel version (``<serving_dir>/<name>/<version>/``) with the prediction interface
    of :class:`reparse_tf.serving.inference.ModelParser` (``predict``; no fingerprints or parser parts)."""

    def __init__(self, version_dir: str | Path):
        from reparse_tf.data.schema import MinMaxNormalizer
        from reparse_tf.serving.inference import load_meta

        self.path = Path(version_dir)
        meta_file = self.path / ASSETS_EXTRA / META_FILE
        if not (self.path / "saved_model.pb").is_file() or not meta_file.is_file():
            raise FileNotFoundError(f"{self.path}: not a pushed reparse SavedModel (saved_model.pb and "
                                    f"{ASSETS_EXTRA}/{META_FILE} expected)")
        self.meta, self.schema = load_meta(meta_file, self.path)
        self.normalizer = MinMaxNormalizer.from_json(self.meta["normalizer"])
        self.image_size = int(self.meta["image_size"])
        self._serve = tf.saved_model.load(str(self.path)).signatures["serving_default"]

    def predict(self, images_uint8: np.ndarray, batch_size: int = 64):
        from reparse_tf.serving.inference import Predictions

        images = np.asarray(images_uint8, np.uint8)
        outs: dict[str, list[np.ndarray]] = {}
        for s in range(0, len(images), batch_size):
            for k, v in self._serve(images=tf.constant(images[s:s + batch_size])).items():
                outs.setdefault(k, []).append(v.numpy())
        cat = {k: np.concatenate(v) for k, v in outs.items()}
        return Predictions.decode(cat["continuous_normalized"], [cat[f"{p.name}_probs"] for p in self.schema.discrete],
                                  self.normalizer)

    def fingerprints(self, images: np.ndarray, batch_size: int = 64) -> None:
        return None
