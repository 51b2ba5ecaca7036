"""Fingerprint constraints of RE-Net (sec. 3.2, eqs. 1-5) on ``keras.ops`` (backend-agnostic).

The fingerprint ``F`` ([B, H, W, C] float) is reduced to grayscale (channel mean) and transformed
with a 2-D FFT; the spectrum ``S`` is centred (fftshift: DC at ``(H//2, W//2)``) and scaled to be
orthonormal (divided by ``sqrt(H*W)``) so that Parseval holds (``sum |S|^2 == sum F_gray^2``) and
the terms do not grow with the image size. Per image:

- magnitude ``J_m = ||F||^2`` (sum of squares over H, W, C),
- spectrum ``J_s = ||L(S, f)||^2``: energy inside the centred ``f x f`` low-frequency window,
- repetitive ``J_r = -max |H(S, f)|``: the largest magnitude outside that window,
- energy ``J_e = ||S - S^T||^2`` (complex difference, summed over the spectrum).

Every term is the paper's per-image norm, then averaged over the batch. ``J_f`` (eq. 5) weights
them with ``lambda = (0.05, 0.001, 0.1, 1)``. The window defaults to ``51/64`` of the image side
(51 on 64x64, the reference), rounded. All math runs in float32 whatever the layer policy.
"""

from __future__ import annotations

import keras
import numpy as np
from keras import ops

DEFAULT_LAMBDAS = (0.05, 0.001, 0.1, 1.0)
REFERENCE_WINDOW = (51, 64)  # f = 51 on 64 x 64 images


def default_window(image_size: int) -> int:
    """Low-frequency window side ``f`` for an image side, scaled from 51 on 64."""
    if image_size < 2:
        raise ValueError(f"image_size must be >= 2, got {image_size}")
    return max(1, min(image_size - 1, int(round(image_size * REFERENCE_WINDOW[0] / REFERENCE_WINDOW[1]))))


def low_frequency_mask(height: int, width: int, window: int) -> np.ndarray:
    """float32 ``[H, W]``: 1 inside the centred ``window x window`` square of a shifted spectrum."""
    if not 0 < window <= min(height, width):
        raise ValueError(f"window must be in [1, {min(height, width)}], got {window}")
    mask = np.zeros((height, width), np.float32)
    r0, c0 = height // 2 - window // 2, width // 2 - window // 2
    mask[r0:r0 + window, c0:c0 + window] = 1.0
    return mask


def fftshift2(x):
    """Centre the zero frequency of the last two axes (numpy ``fftshift`` semantics)."""
    h, w = x.shape[-2], x.shape[-1]
    return ops.roll(ops.roll(x, h // 2, axis=-2), w // 2, axis=-1)


def centred_spectrum(fingerprint):
    """(real, imag) ``[B, H, W]`` orthonormal, centred FFT of the grayscale fingerprint."""
    f = ops.cast(fingerprint, "float32")
    gray = ops.mean(f, axis=-1)
    real, imag = ops.fft2((gray, ops.zeros_like(gray)))
    scale = float(np.sqrt(gray.shape[-2] * gray.shape[-1]))
    return fftshift2(real) / scale, fftshift2(imag) / scale


def per_image_terms(fingerprint, window: int) -> dict:
    """The four constraint terms per image, each ``[B]``: ``magnitude``, ``spectrum``, ``repetitive``, ``energy``."""
    f = ops.cast(fingerprint, "float32")
    h, w = f.shape[1], f.shape[2]
    real, imag = centred_spectrum(f)
    power = real * real + imag * imag
    low = ops.convert_to_tensor(low_frequency_mask(h, w, window))
    # sqrt(power + eps): finite gradient at zero magnitude
    amplitude = ops.sqrt(power + 1e-12) * (1.0 - low)
    d_re = real - ops.transpose(real, (0, 2, 1))
    d_im = imag - ops.transpose(imag, (0, 2, 1))
    return {"magnitude": ops.sum(ops.square(f), axis=(1, 2, 3)),
            "spectrum": ops.sum(power * low, axis=(1, 2)),
            "repetitive": -ops.max(ops.reshape(amplitude, (-1, h * w)), axis=-1),
            "energy": ops.sum(d_re * d_re + d_im * d_im, axis=(1, 2))}


def fingerprint_terms(fingerprint, window: int) -> dict:
    """The four per-batch constraint terms ``{"magnitude", "spectrum", "repetitive", "energy"}``."""
    return {k: ops.mean(v) for k, v in per_image_terms(fingerprint, window).items()}


def per_image_fingerprint_loss(fingerprint, window: int, lambdas: tuple[float, ...] = DEFAULT_LAMBDAS):
    """``J_f`` (eq. 5) of every image, ``[B]``."""
    t = per_image_terms(fingerprint, window)
    l1, l2, l3, l4 = lambdas
    return l1 * t["magnitude"] + l2 * t["spectrum"] + l3 * t["repetitive"] + l4 * t["energy"]


def fingerprint_loss(fingerprint, window: int, lambdas: tuple[float, ...] = DEFAULT_LAMBDAS):
    """``J_f`` (eq. 5): weighted sum of the four terms, averaged over the batch."""
    return ops.mean(per_image_fingerprint_loss(fingerprint, window, lambdas))


@keras.saving.register_keras_serializable(package="reparse")
class GeneratedFingerprintLoss(keras.losses.Loss):
    """``J_f`` as a Keras loss on the FEN output that applies to generated images only.

    ``y_true`` is 1 for a generated image and 0 for a real one (``[B]`` or ``[B, 1]``), ``y_pred`` the
    fingerprint ``[B, H, W, C]``: a real image has no generator fingerprint to constrain (sec. 4.5, the
    detection and attribution networks). Per-image values, reduced by Keras (mean over the batch).

    Args:
        window: low-frequency window side; None = :func:`default_window` of the fingerprint size.
        lambdas: weights of (magnitude, spectrum, repetitive, energy).
    """

    def __init__(self, window: int | None = None, lambdas=DEFAULT_LAMBDAS, name: str = "generated_fingerprint",
                 **kwargs):
        super().__init__(name=name, **kwargs)
        self.window = window
        self.lambdas = tuple(float(v) for v in lambdas)

    def call(self, y_true, y_pred):
        window = self.window or default_window(int(y_pred.shape[1]))
        generated = ops.reshape(ops.cast(y_true, "float32"), (-1,))
        return generated * per_image_fingerprint_loss(y_pred, window, self.lambdas)

    def get_config(self) -> dict:
        return {**super().get_config(), "window": self.window, "lambdas": list(self.lambdas)}


@keras.saving.register_keras_serializable(package="reparse")
class FingerprintConstraints(keras.layers.Layer):
    """Identity on the fingerprint that adds ``weight * J_f`` to the model's losses.

    Args:
        window: low-frequency window side ``f``; None = :func:`default_window` of the input size.
        lambdas: weights of (magnitude, spectrum, repetitive, energy).
        weight: overall multiplier (0 disables the constraint but keeps the layer, for ablations).
    """

    def __init__(self, window: int | None = None, lambdas=DEFAULT_LAMBDAS, weight: float = 1.0, **kwargs):
        kwargs.setdefault("dtype", "float32")
        super().__init__(**kwargs)
        if len(lambdas) != 4:
            raise ValueError(f"lambdas must have 4 weights, got {lambdas!r}")
        self.window = window
        self.lambdas = tuple(float(v) for v in lambdas)
        self.weight = float(weight)

    def call(self, fingerprint):
        if self.weight:
            window = self.window or default_window(int(fingerprint.shape[1]))
            self.add_loss(self.weight * fingerprint_loss(fingerprint, window, self.lambdas))
        return fingerprint

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self) -> dict:
        return {**super().get_config(), "window": self.window, "lambdas": list(self.lambdas),
                "weight": self.weight}
