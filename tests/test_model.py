"""FEN + PN model: no TensorFlow in model code, overfitting a batch, JAX backend smoke run."""

from __future__ import annotations

import ast
import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
MODEL_FILES = ["model/fingerprint_losses.py", "model/fen.py", "model/parsers.py", "model/renet.py",
               "training/presets.py", "training/parser_training.py", "serving/inference.py",
               "targets/cluster_ground_truth.py", "training/readout.py", "evaluation/spectral_peer.py",
               "model/content_adversary.py", "model/batch_norm.py"]


@pytest.mark.parametrize("name", MODEL_FILES)
def test_model_modules_import_no_tensorflow(name):
    tree = ast.parse((ROOT / "reparse_tf" / name).read_text())
    for node in ast.walk(tree):
        mods = []
        if isinstance(node, ast.Import):
            mods = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            mods = [node.module or ""]
        for m in mods:
            assert not m.startswith("tensorflow"), f"{name} imports {m}"
            # these import their TF edge modules lazily, on the TF backend only
            exempt = name in ("training/parser_training.py", "model/batch_norm.py")
            assert m not in ("reparse_tf.data.examples", "reparse_tf.training.distribution",
                             "reparse_tf.model.batch_norm_tf") or exempt, m


def _batch(n=16, seed=0):
    from reparse_tf.data.schema import load_schema

    rng = np.random.default_rng(seed)
    schema = load_schema()
    x = rng.integers(0, 256, (n, 64, 64, 3)).astype(np.uint8)
    y = {"cluster_continuous": rng.random((n, 9)).astype(np.float32),
         "instance_continuous": rng.normal(0, 0.1, (n, 9)).astype(np.float32),
         "fusion": rng.integers(0, 2, (n, len(schema.discrete))).astype(np.float32)}
    for p in schema.discrete:
        y[f"cluster_{p.name}"] = rng.integers(0, p.num_classes, n).astype(np.int32)
        y[f"instance_{p.name}"] = rng.integers(0, p.num_classes, n).astype(np.int32)
    return x, y


def test_full_model_overfits_a_batch(tmp_path):
    from reparse_tf.data.schema import load_schema
    from reparse_tf.model.renet import build_model, compile_model

    schema = load_schema()
    model = build_model("tiny", parser="two")
    weights = [np.ones(p.num_classes, np.float32) for p in schema.discrete]
    compile_model(model, "two", weights, "tiny")
    model.run_eagerly = False  # exercise the compiled train step
    x, y = _batch()
    y = {n: y.get(n, np.zeros((len(x),), np.float32)) for n in model.output_names}
    hist = model.fit(x, y, batch_size=16, epochs=12, verbose=0).history["loss"]
    assert hist[-1] < 0.7 * hist[0], hist
    out = model.predict(x[:2], verbose=0)
    probs = out[f"final_{schema.discrete[0].name}"]
    np.testing.assert_allclose(probs.sum(axis=-1), 1.0, rtol=1e-5)
    np.testing.assert_allclose(out["final_continuous"], out["cluster_continuous"] + out["instance_continuous"],
                               rtol=1e-5, atol=1e-6)
    assert model.get_layer("fen").output.shape[1:] == (64, 64, 3)


def test_log_spectrum_pooling_ignores_shifts_and_finds_a_sinusoid():
    from reparse_tf.model.parsers import LogSpectrumPooling

    layer = LogSpectrumPooling(bins=8)
    rng = np.random.default_rng(0)
    f = rng.normal(size=(2, 32, 32, 3)).astype(np.float32)
    shifted = np.roll(f, (5, -11), axis=(1, 2))  # circular shift: same power spectrum
    np.testing.assert_allclose(np.asarray(layer(f)), np.asarray(layer(shifted)), atol=1e-4)
    # a horizontal sinusoid of 8 cycles: energy at column 16 +- 8 of the centred spectrum, i.e. blocks
    # (row 4, col 2) and (row 4, col 6) of the 8 x 8 pooling (4 x 4 frequencies each)
    x = np.sin(2 * np.pi * 8 * np.arange(32) / 32)[None, None, :, None] * np.ones((1, 32, 1, 3))
    pooled = np.asarray(layer(x.astype(np.float32))).reshape(3, 8, 8)[0]
    top = set(zip(*np.unravel_index(np.argsort(pooled, axis=None)[-2:], pooled.shape), strict=True))
    assert top == {(4, 2), (4, 6)}


def test_spectral_encoder_model_saves_and_reloads(tmp_path):
    import keras

    from reparse_tf.model.renet import build_model
    from reparse_tf.training.presets import get_preset

    model = build_model(get_preset("tiny").with_overrides(encoder="spectral", dropout=0.2))
    assert model.get_layer("encoder_spectrum").output.shape[1:] == (3 * 16 * 16,)
    x = np.random.default_rng(1).integers(0, 256, (2, 64, 64, 3)).astype(np.uint8)
    model.save(tmp_path / "m.keras")
    again = keras.saving.load_model(tmp_path / "m.keras", compile=False)
    np.testing.assert_allclose(model.predict(x, verbose=0)["final_continuous"],
                               again.predict(x, verbose=0)["final_continuous"], rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match="'fft'"):
        build_model(get_preset("tiny").with_overrides(encoder="fft"))


def test_gradient_reversal_is_the_identity_forward_and_negates_the_gradient_backward():
    import tensorflow as tf

    from reparse_tf.model.content_adversary import GradientReversal

    layer = GradientReversal(0.5)
    x = tf.constant([[1.0, -2.0, 3.0]])
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = layer(x)
        loss = tf.reduce_sum(y * tf.constant([[1.0, 2.0, 3.0]]))
    np.testing.assert_allclose(y.numpy(), x.numpy())
    np.testing.assert_allclose(tape.gradient(loss, x).numpy(), [[-0.5, -1.0, -1.5]])
    assert GradientReversal.from_config(layer.get_config()).scale == 0.5


@pytest.mark.parametrize("dtype", ["float32", "mixed_bfloat16"])
def test_fused_batch_norm_computes_what_keras_batch_norm_does(dtype):
    """Forward (training and inference), gradients and moving statistics equal Keras' layer's; the fused kernel
    is what runs (one FusedBatchNormV3 op instead of the composite), and ``fused_kernel(False)`` builds the
    composite."""
    import keras
    import tensorflow as tf

    from reparse_tf.model.batch_norm import FusedBatchNormalization, fused_kernel

    rng = np.random.default_rng(0)
    x = tf.constant(rng.normal(2.0, 3.0, (4, 8, 8, 5)).astype(np.float32))
    upstream = tf.constant(rng.normal(size=(4, 8, 8, 5)).astype(np.float32))
    with fused_kernel(False):
        composite = FusedBatchNormalization(momentum=0.9, dtype=dtype)
    layers = [keras.layers.BatchNormalization(momentum=0.9, dtype=dtype), FusedBatchNormalization(momentum=0.9,
                                                                                                   dtype=dtype)]
    gamma, beta = rng.normal(1.0, 0.2, 5).astype(np.float32), rng.normal(0.0, 0.2, 5).astype(np.float32)
    results = []
    for layer in [*layers, composite]:
        layer.build(x.shape)
        layer.gamma.assign(gamma)
        layer.beta.assign(beta)
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = layer(x, training=True)
            loss = tf.reduce_sum(tf.cast(y, tf.float32) * upstream)
        dx, dgamma = tape.gradient(loss, [x, layer.gamma.value])
        results.append([np.asarray(v, np.float32) for v in (y, dx, dgamma, layer.moving_mean, layer.moving_variance,
                                                            layer(x, training=False))])
    tol = 1e-5 if dtype == "float32" else 2e-2
    for reference, other in ((results[0], results[1]), (results[0], results[2])):
        for a, b in zip(reference, other, strict=True):
            np.testing.assert_allclose(b, a, rtol=tol, atol=tol)
    ops = {op.type for op in tf.function(lambda t: layers[1](t, training=True)).get_concrete_function(
        tf.TensorSpec(x.shape)).graph.get_operations()}
    assert any(t.startswith("FusedBatchNorm") for t in ops) and "SquaredDifference" not in ops, ops
    assert composite.fused is False and FusedBatchNormalization().fused is True


def test_content_adversary_needs_two_contents():
    from reparse_tf.model.renet import build_model
    from reparse_tf.training.presets import get_preset

    with pytest.raises(ValueError, match="at least 2 contents"):
        build_model(get_preset("tiny").with_overrides(content_adversary=1.0), n_contents=1)


def test_bad_arguments_name_the_value():
    from reparse_tf.model.fen import DnCNN
    from reparse_tf.model.renet import build_model

    with pytest.raises(ValueError, match="depth must be >= 2"):
        DnCNN(depth=1)
    with pytest.raises(ValueError, match="'vit'"):
        build_model("tiny", backbone="vit")
    with pytest.raises(ValueError, match="'three'"):
        build_model("tiny", parser="three")
    with pytest.raises(ValueError, match="unknown preset"):
        build_model("huge")


JAX_SCRIPT = """
import numpy as np, keras
assert keras.backend.backend() == "jax"
from reparse_tf.model.renet import build_model, compile_model
from reparse_tf.data.schema import load_schema
s = load_schema()
m = build_model("tiny")
compile_model(m, "two", [np.ones(p.num_classes) for p in s.discrete], "tiny")
rng = np.random.default_rng(0)
x = rng.integers(0, 256, (8, 64, 64, 3)).astype(np.uint8)
y = {n: np.zeros((8,), np.float32) for n in m.output_names}
y["cluster_continuous"] = y["instance_continuous"] = np.zeros((8, 9), np.float32)
y["fusion"] = np.ones((8, 16), np.float32)
h = m.fit(x, y, epochs=2, verbose=0).history["loss"]
assert np.isfinite(h).all() and h[-1] < h[0], h
import sys
assert "tensorflow" not in sys.modules, "tensorflow was imported"
print("JAX_OK", h)
"""


@pytest.mark.skipif(importlib.util.find_spec("jax") is None, reason="jax not installed")
def test_model_trains_under_jax_backend():
    env = {**os.environ, "KERAS_BACKEND": "jax", "JAX_PLATFORMS": "cpu"}
    res = subprocess.run([sys.executable, "-c", JAX_SCRIPT], env=env, cwd=ROOT, capture_output=True, text=True,
                         timeout=300)
    assert res.returncode == 0 and "JAX_OK" in res.stdout, res.stderr[-3000:]


def test_basic_block_projection_is_a_strided_1x1_conv():
    """The shortcut subsamples then applies a stride-1 1x1 conv (the stride-2 1x1 conv's backward pass
    crashes oneDNN on AVX-512 / AMX CPUs); its output equals the strided conv's, odd sizes included."""
    import keras
    import numpy as np

    from reparse_tf.model.parsers import BasicBlock

    for side in (16, 15):
        x = np.random.default_rng(0).random((2, side, side, 8)).astype("float32")
        block = BasicBlock(16, strides=2)
        assert tuple(block(x).shape) == (2, (side + 1) // 2, (side + 1) // 2, 16)
        ref = keras.layers.Conv2D(16, 1, strides=2, padding="same", use_bias=False)
        ref.build(x.shape)
        ref.kernel.assign(block.proj.conv.kernel)
        assert np.allclose(ref(x), block.proj.conv(x[:, ::2, ::2, :]), atol=1e-6)
