"""The residual detector as TensorFlow ops (TF edge), so that a pushed detector's serving signature answers what
``reparse detect`` answers: the features of :func:`reparse_tf.model.residual_detector.detector_features` (the
spectral peer's ring spectra, histograms and colour moments; the residual co-occurrences; the cross-channel
statistics) computed in float64, as numpy computes them, and fed to the fitted logistic regression. The numpy
path stays the reference; a test holds the two together.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import tensorflow as tf

from reparse_tf.evaluation.spectral_peer import HIST_BINS, ring_index
from reparse_tf.model.residual_detector import LOG_FLOOR, ORDER, TRUNCATION, ResidualDetector

LEVELS = 2 * TRUNCATION + 1
SPECTRUM_FLOOR = 1e-8   # as spectral_peer.log_spectrum


def _ring_matrix(size: int) -> tf.Tensor:
    """``[size^2, size / 2]`` averaging weights of the centred spectrum's rings (as ``azimuthal_average``)."""
    r, n_bins = ring_index(size, size)
    m = np.zeros((size * size, n_bins), np.float64)
    keep = np.flatnonzero(r < n_bins)
    m[keep, r[keep]] = 1.0
    return tf.constant(m / m.sum(axis=0))


def _histogram(codes: tf.Tensor, bins: int) -> tf.Tensor:
    """Per-row normalised histogram ``[N, bins]`` of int32 codes ``[N, P]`` in ``[0, bins)``."""
    h = tf.math.bincount(codes, minlength=bins, maxlength=bins, axis=-1, dtype=tf.float64)
    return h / tf.reduce_sum(h, axis=-1, keepdims=True)


def _take(x: tf.Tensor, start: int, stop: int, axis: int) -> tf.Tensor:
    return x[:, :, start:stop] if axis == 2 else x[:, :, :, start:stop]


def _diff(x: tf.Tensor, axis: int) -> tf.Tensor:
    n = tf.shape(x)[axis]
    return tf.gather(x, tf.range(1, n), axis=axis) - tf.gather(x, tf.range(0, n - 1), axis=axis)


def detector_features(images: tf.Tensor, size: int) -> tf.Tensor:
    """``[N, D]`` float64 features of uint8 images ``[N, size, size, 3]``, in the numpy path's order."""
    n = tf.shape(images)[0]
    xi = tf.cast(images, tf.int32)
    x = tf.cast(images, tf.float64) / 255.0
    # the grey level as numpy computes it (the same operations in the same order): a grey level that should be
    # 240 / 255 may come out a hair below, and its histogram bin must be numpy's
    gray = (x[..., 0] + x[..., 1] + x[..., 2]) / 3.0
    padded = tf.pad(gray[..., None], [[0, 0], [1, 1], [1, 1], [0, 0]], mode="SYMMETRIC")   # scipy's "reflect"
    residual = gray - tf.nn.avg_pool2d(padded, 3, 1, "VALID")[..., 0]
    ring = _ring_matrix(size)

    def log_spectrum(g: tf.Tensor) -> tf.Tensor:
        g = g - tf.reduce_mean(g, axis=(1, 2), keepdims=True)
        f = tf.signal.fft2d(tf.cast(g, tf.complex128))
        power = tf.signal.fftshift(tf.math.real(f * tf.math.conj(f)), axes=(1, 2)) / float(size * size)
        return tf.math.log(tf.reshape(power, [n, size * size]) @ ring + SPECTRUM_FLOOR)

    width = 256 // HIST_BINS
    hists = [_histogram(tf.reshape(xi[..., k] // width, [n, -1]), HIST_BINS) for k in range(3)]
    hists.append(_histogram(tf.reshape(tf.cast(tf.floor(gray * 255.0 / width), tf.int32), [n, -1]), HIST_BINS))
    spectral = [log_spectrum(gray), log_spectrum(residual), *hists, tf.reduce_mean(x, axis=(1, 2)),
                tf.math.reduce_std(x, axis=(1, 2))]

    channels_first = tf.transpose(xi, [0, 3, 1, 2])
    kinds = []
    for axis in (2, 3):
        first = _diff(channels_first, axis)
        for d in (first, _diff(first, axis)):
            q = tf.clip_by_value(d, -TRUNCATION, TRUNCATION) + TRUNCATION
            length = q.shape[axis]
            code = tf.add_n([_take(q, k, length - ORDER + 1 + k, axis) * LEVELS ** k for k in range(ORDER)])
            kinds.append(_histogram(tf.reshape(code, [n, -1]), LEVELS ** ORDER))
    for d in (xi[..., 0] - xi[..., 1], xi[..., 1] - xi[..., 2]):
        mean = tf.cast(tf.round(tf.reduce_mean(tf.cast(d, tf.float64), axis=(1, 2), keepdims=True)), tf.int32)
        q = tf.clip_by_value(d - mean, -TRUNCATION, TRUNCATION) + TRUNCATION
        kinds += [_histogram(tf.reshape(q, [n, -1]), LEVELS),
                  _histogram(tf.reshape(q[:, :, :-1] * LEVELS + q[:, :, 1:], [n, -1]), LEVELS ** 2),
                  _histogram(tf.reshape(q[:, :-1, :] * LEVELS + q[:, 1:, :], [n, -1]), LEVELS ** 2)]
    return tf.concat([*spectral, tf.math.log(tf.concat(kinds, axis=1) + LOG_FLOOR)], axis=1)


def residual_p_generated(detector: ResidualDetector, size: int) -> Callable[[tf.Tensor], tf.Tensor]:
    """A TF function of uint8 images ``[N, size, size, 3]`` returning the residual detector's P(generated) ``[N]``."""
    mean = tf.constant(detector.mean, tf.float64)
    scale = tf.constant(detector.scale, tf.float64)
    coef = tf.constant(detector.coef[:, None], tf.float64)

    def p_generated(images: tf.Tensor) -> tf.Tensor:
        z = ((detector_features(images, size) - mean) / scale) @ coef
        return tf.cast(tf.sigmoid(z[:, 0] + detector.intercept), tf.float32)

    return p_generated
