"""How fast a network trains and infers here: FLOPs counted from its layers, images/s of a step.

- :func:`count_flops`: multiply-adds x 2 of every convolution and dense layer the model runs on one
  image, recorded while it runs (nested layers included, so the FEN, the encoder and the 16 + 16
  heads all count); training is taken as 3x the forward pass (forward + two backward products).
- :func:`training_rate` / :func:`inference_rate` (both through :func:`images_per_second`): images/s
  of ``train_on_batch`` / ``predict_on_batch`` after a warm-up call (tracing, XLA compilation).
- :func:`parser_batch`: a random uint8 batch and zero targets of the parsing model;
  :func:`compiled_parser`: the compiled parsing model of a preset with such a batch.

``keras`` only, so the same numbers come from the TensorFlow and the JAX backend.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator

import keras
import numpy as np

#: training FLOPs per forward FLOP (forward, gradient w.r.t. the input, gradient w.r.t. the weights)
TRAIN_FLOPS_FACTOR = 3


def _conv_flops(layer, inputs, outputs) -> float:
    k = int(np.prod(layer.kernel_size))
    c_in = int(inputs.shape[-1]) // int(getattr(layer, "groups", 1) or 1)
    return 2.0 * float(np.prod(outputs.shape[1:])) * k * c_in


def _dense_flops(layer, inputs, outputs) -> float:
    return 2.0 * float(np.prod(inputs.shape[1:])) * int(layer.units)


_COUNTED: tuple[tuple[type, Callable], ...] = ((keras.layers.Conv2D, _conv_flops), (keras.layers.Dense, _dense_flops))


@contextlib.contextmanager
def _recording(log: list[tuple[str, float]]) -> Iterator[None]:
    """Wrap ``call`` of the counted layer classes so every call appends (layer name, FLOPs)."""
    patched = []
    for cls, flops in _COUNTED:
        own = cls.__dict__.get("call")
        inherited = cls.call

        def call(self, inputs, *args, _inner=inherited, _flops=flops, **kwargs):
            out = _inner(self, inputs, *args, **kwargs)
            log.append((self.path if hasattr(self, "path") else self.name, _flops(self, inputs, out)))
            return out

        cls.call = call
        patched.append((cls, own))
    try:
        yield
    finally:
        for cls, own in patched:
            if own is None:
                del cls.call
            else:
                cls.call = own


def count_flops(model: keras.Model, image_size: int | None = None) -> dict:
    """Forward FLOPs per image of ``model`` (uint8 image input), from one eager call on a batch of 1.

    Returns ``{"forward": total, "train": 3 x total, "layers": n_counted, "by_layer": {path: FLOPs}}``.
    Element-wise work (batch norm, activations, the FFT of the fingerprint constraints) is not
    counted: it is under 1 % of the convolutions at 64 x 64.
    """
    shape = model.inputs[0].shape
    size = image_size or int(shape[1])
    x = np.zeros((1, size, size, int(shape[-1])), np.uint8)
    log: list[tuple[str, float]] = []
    with _recording(log):
        model(x, training=False)
    by_layer: dict[str, float] = {}
    for name, f in log:
        by_layer[name] = by_layer.get(name, 0.0) + f
    total = float(sum(by_layer.values()))
    return {"forward": total, "train": TRAIN_FLOPS_FACTOR * total, "layers": len(by_layer), "by_layer": by_layer}


def parser_batch(model: keras.Model, batch: int, image_size: int, seed: int = 0) -> tuple[np.ndarray, dict]:
    """Random uint8 images and zero targets for every output of the parsing model: class indices for
    the classifiers, ``[B, 9]`` for the continuous heads, ``[B, 16]`` for the fusion encoder."""
    from reparse_tf.data.schema import load_schema

    schema = load_schema()
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 256, (batch, image_size, image_size, 3)).astype(np.uint8)
    width = {"continuous": len(schema.continuous), "fusion": len(schema.discrete)}
    y = {}
    for name in model.output_names:
        tail = next((w for key, w in width.items() if name.endswith(key)), None)
        y[name] = np.zeros((batch,) if tail is None else (batch, tail), np.float32)
    return x, y


def compiled_parser(preset, parser: str = "two", **build_kwargs) -> tuple[keras.Model, np.ndarray, dict]:
    """(compiled parsing model of ``preset``, images, targets) for timing a step; unit class weights."""
    from reparse_tf.data.schema import load_schema
    from reparse_tf.model.renet import build_model, compile_model

    model = build_model(preset, parser=parser, **build_kwargs)
    compile_model(model, parser, [np.ones(q.num_classes, np.float32) for q in load_schema().discrete], preset)
    return (model, *parser_batch(model, preset.batch_size, preset.image_size))


def images_per_second(step: Callable[[], object], batch: int, steps: int = 3, min_seconds: float = 2.0) -> float:
    """Images/s of ``step`` (one batch of ``batch`` images) over at least ``steps`` calls and ``min_seconds``,
    after one warm-up call."""
    step()  # warm up: tracing, compilation, first allocation
    n, t0 = 0, time.perf_counter()
    while n < steps or time.perf_counter() - t0 < min_seconds:
        step()
        n += 1
    return n * batch / (time.perf_counter() - t0)


def training_rate(model: keras.Model, x: np.ndarray, y, steps: int = 3, min_seconds: float = 2.0) -> float:
    """Training images/s of a compiled model (``train_on_batch`` on one fixed batch)."""
    return images_per_second(lambda: model.train_on_batch(x, y), len(x), steps, min_seconds)


def inference_rate(predict: Callable[[np.ndarray], object], x: np.ndarray, steps: int = 3,
                   min_seconds: float = 2.0) -> float:
    """Inference images/s of ``predict(x)`` (e.g. ``model.predict_on_batch``)."""
    return images_per_second(lambda: predict(x), len(x), steps, min_seconds)
