"""Sample quality of a zoo GM: do its samples resemble its training content?

There is no pretrained feature network offline, so the check works in pixel space:

* features: images area-pooled to ``16 x 16`` RGB (global structure and colour), projected on the first
  ``32`` principal components of the GM's *training* images (scikit-learn PCA);
* **Fréchet distance** (FD) between Gaussian fits of the features of the GM's samples and of the training
  images (the FID formula on these features);
* two baselines from the same run: ``fd_noise``, the FD of *structure-free* images (independent pixels with
  the training images' per-pixel mean and standard deviation), and ``fd_real``, the FD of held-out real
  images (one half of the training images against the other);
* ``fd_ratio = fd / fd_noise``: 0 is as good as real images can be, 1 is no better than structure-free
  noise. A GM *resembles* its content when ``fd_ratio <= RESEMBLES``.

This is a coarse, pixel-level screen (it cannot see fine texture), used to report and track the zoo's
quality; it is not a substitute for looking at the sample sheet.
"""

from __future__ import annotations

import numpy as np
from scipy import linalg
from sklearn.decomposition import PCA

POOL = 16
COMPONENTS = 32
RESEMBLES = 0.5


def _pooled(images: np.ndarray) -> np.ndarray:
    """``[N, S, S, 3]`` (uint8 or float in [0, 1]) -> ``[N, POOL * POOL * 3]`` float in [0, 1]."""
    x = np.asarray(images)
    x = x.astype(np.float32) / 255.0 if x.dtype == np.uint8 else x.astype(np.float32)
    n, s = x.shape[0], x.shape[1]
    f = max(s // POOL, 1)
    return x.reshape(n, s // f, f, s // f, f, 3).mean(axis=(2, 4)).reshape(n, -1)


def frechet(a: np.ndarray, b: np.ndarray) -> float:
    """Fréchet distance between Gaussian fits of two feature sets ``[N, d]``."""
    mu_a, mu_b = a.mean(0), b.mean(0)
    eps = 1e-6 * np.eye(a.shape[1])  # keeps the product non-singular for few or degenerate samples
    ca, cb = np.cov(a, rowvar=False) + eps, np.cov(b, rowvar=False) + eps
    covmean, _ = linalg.sqrtm(ca @ cb, disp=False)
    return float(np.sum((mu_a - mu_b) ** 2) + np.trace(ca + cb - 2 * np.real(covmean)))


def sample_quality(samples: np.ndarray, real: np.ndarray, seed: int = 0) -> dict[str, float]:
    """FD of ``samples`` to ``real`` (the GM's training images) and its two baselines (module docstring)."""
    rng = np.random.default_rng(seed)
    r = _pooled(real)
    k = min(COMPONENTS, len(r) // 2 - 1, r.shape[1])
    pca = PCA(k, random_state=seed).fit(r)
    fr, fs = pca.transform(r), pca.transform(_pooled(samples))
    real01 = np.asarray(real, np.float32)
    noise = np.clip(real01.mean(0) + real01.std(0) * rng.standard_normal((len(real01), *real01.shape[1:])), 0, 1)
    half = rng.permutation(len(r))
    fd = frechet(fs, fr)
    fd_noise = frechet(pca.transform(_pooled(noise)), fr)
    fd_real = frechet(fr[half[: len(r) // 2]], fr[half[len(r) // 2:]])
    return {"fd": round(fd, 4), "fd_noise": round(fd_noise, 4), "fd_real": round(fd_real, 4),
            "fd_ratio": round(fd / fd_noise, 4), "resembles": bool(fd / fd_noise <= RESEMBLES)}
