"""Sample quality of a zoo GM: do its samples resemble its training content?

There is no pretrained feature network offline, so the check works in pixel space, in two views:

* ``global``: images area-pooled to ``16 x 16`` RGB (layout and colour);
* ``local``: one random ``16 x 16`` full-resolution crop per image (texture, edges, noise).

In each view the features are projected on the first ``32`` principal components of the GM's *training*
images (scikit-learn PCA) and compared with the **Fréchet distance** (FD) between Gaussian fits (the FID
formula on these features). Two baselines come from the same run: ``fd_noise``, the FD of *structure-free*
images (independent pixels with the training images' per-pixel mean and standard deviation; in the global
view this is close to the mean image), and ``fd_real``, the FD of held-out real images (one half of the
training images against the other). ``fd_ratio = fd / fd_noise`` per view: 0 is as good as real images can
be, 1 is no better than structure-free noise. The GM's ratio is the worse of the two views, and it
*resembles* its content when that ratio is at most ``RESEMBLES``.

This is a coarse, pixel-level screen used to report and track the zoo's quality; it does not replace looking
at the sample sheet.
"""

from __future__ import annotations

import numpy as np
from scipy import linalg
from sklearn.decomposition import PCA

POOL = 16
COMPONENTS = 32
RESEMBLES = 0.5
#: a GM screened during training (``Preset.checks``) stops early once its FD ratio is at most this
SETTLED = 0.25
#: ... and an attempt that can still be redrawn is given up once its FD ratio is above this (no better than noise)
HOPELESS = 1.0


def _float(images: np.ndarray) -> np.ndarray:
    x = np.asarray(images)
    return x.astype(np.float32) / 255.0 if x.dtype == np.uint8 else x.astype(np.float32)


def _pooled(x: np.ndarray) -> np.ndarray:
    """``[N, S, S, 3]`` in [0, 1] -> ``[N, POOL * POOL * 3]``."""
    n, s = x.shape[0], x.shape[1]
    f = max(s // POOL, 1)
    return x.reshape(n, s // f, f, s // f, f, 3).mean(axis=(2, 4)).reshape(n, -1)


def _crops(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One random ``POOL x POOL`` crop per image, flattened."""
    n, s = x.shape[0], x.shape[1]
    c = min(POOL, s)
    ys, xs = rng.integers(0, s - c + 1, n), rng.integers(0, s - c + 1, n)
    return np.stack([x[i, y:y + c, z:z + c] for i, (y, z) in enumerate(zip(ys, xs, strict=True))]).reshape(n, -1)


def frechet(a: np.ndarray, b: np.ndarray) -> float:
    """Fréchet distance between Gaussian fits of two feature sets ``[N, d]``."""
    mu_a, mu_b = a.mean(0), b.mean(0)
    eps = 1e-6 * np.eye(a.shape[1])  # keeps the product non-singular for few or degenerate samples
    ca, cb = np.cov(a, rowvar=False) + eps, np.cov(b, rowvar=False) + eps
    covmean = linalg.sqrtm(ca @ cb)
    return float(np.sum((mu_a - mu_b) ** 2) + np.trace(ca + cb - 2 * np.real(covmean)))


def _view(feat, real: np.ndarray, samples: np.ndarray, noise: np.ndarray, seed: int) -> dict[str, float]:
    rng = np.random.default_rng(seed)
    r = feat(real, rng)
    k = min(COMPONENTS, len(r) // 2 - 1, r.shape[1])
    pca = PCA(k, random_state=seed).fit(r)
    fr = pca.transform(r)
    half = rng.permutation(len(r))
    fd = frechet(pca.transform(feat(samples, rng)), fr)
    fd_noise = frechet(pca.transform(feat(noise, rng)), fr)
    fd_real = frechet(fr[half[: len(r) // 2]], fr[half[len(r) // 2:]])
    return {"fd": round(fd, 4), "fd_noise": round(fd_noise, 4), "fd_real": round(fd_real, 4),
            "fd_ratio": round(fd / fd_noise, 4)}


def sample_quality(samples: np.ndarray, real: np.ndarray, seed: int = 0) -> dict:
    """Both views' FDs and baselines of ``samples`` against ``real`` (the GM's training images), the GM's
    ``fd_ratio`` (worse view) and ``resembles`` (module docstring)."""
    real, samples = _float(real), _float(samples)
    rng = np.random.default_rng(seed)
    noise = np.clip(real.mean(0) + real.std(0) * rng.standard_normal(real.shape), 0, 1).astype(np.float32)
    views = {"global": _view(lambda x, _: _pooled(x), real, samples, noise, seed),
             "local": _view(_crops, real, samples, noise, seed)}
    ratio = max(v["fd_ratio"] for v in views.values())
    return {"fd_ratio": ratio, "resembles": bool(ratio <= RESEMBLES), **views}
