"""The residual detector: co-occurrence features on known images, a faint additive perturbation found on held-out
images, save / load."""

from __future__ import annotations

import numpy as np
import pytest

from reparse_tf.model.residual_detector import (
    ORDER,
    TRUNCATION,
    ResidualDetector,
    combine,
    cooccurrence_features,
    cross_channel_features,
)

LEVELS = 2 * TRUNCATION + 1
BINS = LEVELS ** ORDER


def _smooth_images(n: int, size: int = 32, seed: int = 0) -> np.ndarray:
    """Natural-looking 8-bit images: random 4 x 4 colour fields upsampled bilinearly (residuals mostly 0)."""
    from scipy import ndimage

    rng = np.random.default_rng(seed)
    coarse = rng.uniform(40, 215, (n, 4, 4, 3))
    return np.clip(np.round(ndimage.zoom(coarse, (1, size / 4, size / 4, 1), order=1)), 0, 255).astype(np.uint8)


def _attacked(images: np.ndarray, seed: int = 1) -> np.ndarray:
    """A faint attack: +-1 grey level on a random half of the pixels (what a bounded perturbation stored as
    8 bits leaves)."""
    rng = np.random.default_rng(seed)
    noise = rng.choice([-1, 0, 1], size=images.shape, p=[0.25, 0.5, 0.25])
    return np.clip(images.astype(int) + noise, 0, 255).astype(np.uint8)


def test_cooccurrences_of_a_flat_image_sit_in_the_zero_residual_bin():
    flat = np.full((2, 16, 16, 3), 120, np.uint8)
    f = cooccurrence_features(flat)
    assert f.shape == (2, 4 * BINS)
    zero = sum(TRUNCATION * LEVELS ** k for k in range(ORDER))   # three residuals of 0
    assert np.allclose(f.reshape(2, 4, BINS)[:, :, zero], 1.0)
    # a vertical +-2 stripe pattern leaves row differences at 0 and column differences away from it
    stripes = flat.copy()
    stripes[:, :, ::2] += 2
    g = cooccurrence_features(stripes).reshape(2, 4, BINS)
    assert np.allclose(g[:, :2, zero], 1.0) and np.all(g[:, 2:, zero] == 0)
    assert np.allclose(g.sum(axis=2), 1.0)


def test_cross_channel_statistics_see_noise_on_grey_images_but_not_a_colour_cast():
    grey = np.repeat(_smooth_images(2)[..., :1], 3, axis=-1)
    cast = np.clip(grey.astype(int) + [6, 0, -6], 0, 255).astype(np.uint8)
    zero_hist = np.eye(LEVELS)[TRUNCATION]
    for images in (grey, cast):   # every colour difference equals its mean: all mass on 0
        f = cross_channel_features(images).reshape(2, 2, LEVELS + 2 * LEVELS ** 2)
        assert np.allclose(f[:, :, :LEVELS], zero_hist)
    noisy = cross_channel_features(_attacked(grey)).reshape(2, 2, -1)[:, :, :LEVELS]
    assert np.all(noisy[:, :, TRUNCATION] < 0.7)


def test_residual_detector_finds_a_faint_perturbation_on_held_out_images(tmp_path):
    from sklearn.metrics import roc_auc_score

    clean = _smooth_images(96)
    images = np.concatenate([clean[:48], _attacked(clean[48:])])
    generated = np.r_[np.zeros(48, bool), np.ones(48, bool)]
    fit = np.r_[np.arange(0, 32), np.arange(48, 80)]
    held = np.setdiff1d(np.arange(96), fit)
    det = ResidualDetector.fit(images[fit], generated[fit])
    p = det.p_generated(images[held])
    assert roc_auc_score(generated[held], p) > 0.95
    # the colour and spectrum of an image barely move under +-1: its mean stays within a grey level
    assert abs(images[held][generated[held]].mean() - clean[80:].mean()) < 1
    loaded = ResidualDetector.load(det.save(tmp_path / "r.npz"))
    assert np.allclose(loaded.p_generated(images[held]), p)
    assert not list(tmp_path.glob(".*tmp*"))
    with pytest.raises(ValueError, match="real and generated"):
        ResidualDetector.fit(images[:4], np.ones(4, bool))
    assert np.allclose(combine([0.2, 1.0], [0.6, 0.0]), [0.4, 0.5])
