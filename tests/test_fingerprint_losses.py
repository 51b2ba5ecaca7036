"""Fingerprint constraints (eqs. 1-5) against a NumPy FFT reference."""

from __future__ import annotations

import numpy as np
import pytest

keras = pytest.importorskip("keras")
from keras import ops  # noqa: E402

from reparse_tf.model.fingerprint_losses import (  # noqa: E402
    FingerprintConstraints,
    default_window,
    fingerprint_loss,
    fingerprint_terms,
    low_frequency_mask,
)


def numpy_terms(fp: np.ndarray, window: int) -> dict:
    gray = fp.mean(axis=-1)
    h, w = gray.shape[1:]
    spec = np.fft.fftshift(np.fft.fft2(gray), axes=(-2, -1)) / np.sqrt(h * w)
    low = low_frequency_mask(h, w, window).astype(bool)
    amp = np.abs(spec)
    return {"magnitude": (fp ** 2).sum(axis=(1, 2, 3)).mean(),
            "spectrum": (amp[:, low] ** 2).sum(axis=1).mean(),
            "repetitive": -np.where(low, 0, amp).reshape(len(fp), -1).max(axis=1).mean(),
            "energy": (np.abs(spec - spec.transpose(0, 2, 1)) ** 2).sum(axis=(1, 2)).mean()}


def _terms(fp, window):
    return {k: float(ops.convert_to_numpy(v)) for k, v in fingerprint_terms(ops.convert_to_tensor(fp), window).items()}


def test_window_scales_with_image_size():
    assert default_window(64) == 51
    assert default_window(128) == 102
    mask = low_frequency_mask(64, 64, 51)
    assert mask.sum() == 51 * 51 and mask[32, 32] == 1 and mask[0, 0] == 0


def test_terms_match_numpy_on_random_fingerprints():
    fp = np.random.default_rng(0).normal(0, 0.1, (3, 32, 32, 3)).astype(np.float32)
    got, ref = _terms(fp, 25), numpy_terms(fp.astype(np.float64), 25)
    for k in ref:
        np.testing.assert_allclose(got[k], ref[k], rtol=1e-4, atol=1e-5, err_msg=k)


def test_low_frequency_image_has_large_spectrum_and_small_repetitive_term():
    yy, xx = np.mgrid[0:32, 0:32]
    low = np.repeat(np.cos(2 * np.pi * xx / 32)[None, ..., None], 3, axis=-1).astype(np.float32)
    high = np.repeat(np.cos(np.pi * xx)[None, ..., None], 3, axis=-1).astype(np.float32)  # Nyquist
    t_low, t_high = _terms(low, 25), _terms(high, 25)
    # all of the low-frequency tone's energy sits inside the window, none of the Nyquist tone's
    np.testing.assert_allclose(t_low["spectrum"], (low.mean(-1) ** 2).sum(), rtol=1e-4)
    assert t_high["spectrum"] < 1e-6
    assert abs(t_low["repetitive"]) < 1e-3 < abs(t_high["repetitive"])
    assert t_high["repetitive"] == pytest.approx(-np.sqrt(32 * 32), rel=1e-4)


def test_transpose_symmetric_spectrum_has_zero_energy_loss():
    rng = np.random.default_rng(1)
    a = rng.normal(size=(2, 16, 16))
    sym = (a + a.transpose(0, 2, 1))[..., None].repeat(3, axis=-1).astype(np.float32)  # F = F^T => S = S^T
    assert _terms(sym, 13)["energy"] < 1e-8
    assert _terms(a[..., None].repeat(3, -1).astype(np.float32), 13)["energy"] > 1.0


def test_gradients_flow_through_the_fft():
    layer = keras.layers.Dense(3)
    model_in = keras.Input((16, 16, 3))
    fp = FingerprintConstraints(13)(layer(model_in))
    model = keras.Model(model_in, fp)
    model.compile(optimizer=keras.optimizers.SGD(1e-2), loss=None)
    x = np.random.default_rng(2).normal(size=(4, 16, 16, 3)).astype(np.float32)
    before = [np.array(w) for w in layer.get_weights()]
    model.train_on_batch(x, None)
    after = layer.get_weights()
    assert any(not np.allclose(b, a) for b, a in zip(before, after, strict=True))
    total = float(ops.convert_to_numpy(fingerprint_loss(ops.convert_to_tensor(x), 13)))
    ref = numpy_terms(x.astype(np.float64), 13)
    assert total == pytest.approx(0.05 * ref["magnitude"] + 0.001 * ref["spectrum"] + 0.1 * ref["repetitive"]
                                  + ref["energy"], rel=1e-4)


def test_layer_config_round_trip():
    layer = FingerprintConstraints(window=21, lambdas=(1, 2, 3, 4), weight=0.5)
    clone = FingerprintConstraints.from_config(layer.get_config())
    assert clone.window == 21 and clone.lambdas == (1.0, 2.0, 3.0, 4.0) and clone.weight == 0.5
    with pytest.raises(ValueError, match="4 weights"):
        FingerprintConstraints(lambdas=(1, 2))
