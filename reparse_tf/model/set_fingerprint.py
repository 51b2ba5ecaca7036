"""The set fingerprint: what a generator leaves in *every* image it makes, read from a set of its images.

A single image's spectrum is dominated by its content. Averaged over ``n`` images of one source, the
high-pass residuals (image minus its 3 x 3 box blur) keep what is the same in every image, the
generator's fixed pattern (Marra et al. 2019, "Do GANs leave artificial fingerprints?"), while the
content, which differs from image to image, falls as ``1 / n`` in power. The pattern's position
depends on the weights; where its power lies in frequency depends on the architecture: up to three
stride-2 up-samplings leave patterns of period 2, 4 or 8 pixels, whose peaks lie on the lattice of
multiples of ``size / 8``.
The features of a set therefore keep the 2-D power spectrum of the mean residual in 2 x 2 frequency
cells (an azimuthal average would mix the lattice with its ring), the share of each frequency ring's power that is
common to the set (``1 / n`` for content alone, 1 for a fixed pattern) and that share on the lattice,
beside the per-image spectral features of :mod:`reparse_tf.evaluation.spectral_peer` averaged over
the set.

:class:`SetParser` fits the spectral peer's scikit-learn heads (ridge, class-balanced logistic,
regularisation chosen by cross-validation grouped by GM) on sets drawn from the training GMs.
numpy / scipy / scikit-learn only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from reparse_tf.data.schema import MinMaxNormalizer
from reparse_tf.evaluation.spectral_peer import (
    SpectralPeer,
    azimuthal_average,
    high_pass,
    load_peer,
    save_peer,
    spectral_features,
    spectrum_cells,
)

LATTICE_DIVISIONS = 8   # lattice step size / 8: the peaks of up to three stride-2 up-samplings
EPS = 1e-10
SET_PARSER_FILES = ("set_parser.npz", "set_parser.json")   # beside a parse model's files


def residuals(images: np.ndarray) -> np.ndarray:
    """``[N, H, W]`` float32 high-pass residuals of uint8 images ``[N, H, W, 3]`` (grey minus its 3 x 3 box
    blur, as the spectral peer's residual spectrum)."""
    return high_pass(np.asarray(images, np.float32).mean(axis=-1) / 255.0)


def fixed_pattern_share(residual_set: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(common, share)`` of a set of residuals ``[n, H, W]``: the power spectrum of their mean (what every image
    shares) and its ratio to the mean power spectrum of one residual, per frequency (unshifted). Content that
    differs from image to image gives a share of about ``1 / n``; a pattern present in every image gives 1."""
    common = np.abs(np.fft.fft2(residual_set.mean(axis=0))) ** 2
    each = (np.abs(np.fft.fft2(residual_set)) ** 2).mean(axis=0)
    return common, common / (each + EPS)


@dataclass
class ImageCache:
    """What the set features need of each image, computed once: its residual, its channel means and the
    spectral peer's per-image features."""

    residual: np.ndarray        # [N, H, W] float32
    image_features: np.ndarray  # [N, D] spectral peer features
    colour: np.ndarray          # [N, 3] channel means in [0, 1]

    @classmethod
    def of(cls, images: np.ndarray, batch: int = 2048) -> ImageCache:
        images = np.asarray(images)
        if images.ndim != 4 or images.shape[-1] != 3 or len(images) == 0:
            raise ValueError(f"expected uint8 images [N, H, W, 3] with N > 0, got {images.shape}")
        res = np.concatenate([residuals(images[s:s + batch]) for s in range(0, len(images), batch)])
        colour = np.concatenate([np.asarray(images[s:s + batch], np.float32).mean(axis=(1, 2)) / 255.0
                                 for s in range(0, len(images), batch)])
        return cls(res, spectral_features(images), colour)

    def set_features(self, index: np.ndarray, with_image_spectra: bool = True) -> np.ndarray:
        """``[D]`` features of the set of images ``index`` (at least 2)."""
        index = np.asarray(index)
        if len(index) < 2:
            raise ValueError("a set fingerprint needs at least 2 images")
        res = self.residual[index]
        mean_res = res.mean(axis=0)
        h, w = mean_res.shape
        common, share = fixed_pattern_share(res)
        share = np.fft.fftshift(share)
        # 2 x 2 frequency cells keep each lattice frequency in a cell of its own at a quarter of the dimensions;
        # the spectrum of a real image is symmetric, so half of the plane says everything
        shifted = np.fft.fftshift(common)
        half = spectrum_cells(shifted[None], 2, EPS)[0]
        step_h, step_w = max(h // LATTICE_DIVISIONS, 1), max(w // LATTICE_DIVISIONS, 1)
        lattice = share[h // 2::step_h, w // 2::step_w]       # non-negative lattice frequencies
        parts = [half.ravel(), np.log(azimuthal_average(share[None])[0] + EPS),
                 np.log(azimuthal_average(shifted[None])[0] + EPS), np.log(lattice.ravel() + EPS),
                 [np.log(res.std() + EPS), np.log(mean_res.std() + EPS)],
                 self.colour[index].mean(axis=0), self.colour[index].std(axis=0)]
        if with_image_spectra:
            parts.append(self.image_features[index].mean(axis=0))
        return np.concatenate([np.asarray(p, np.float64).ravel() for p in parts]).astype(np.float32)


def draw_sets(gms: np.ndarray, names: list[str], size: int, count: int, rng: np.random.Generator
              ) -> list[tuple[str, np.ndarray]]:
    """``count`` sets of ``size`` image indices for each GM of ``names`` (rows of ``gms``): disjoint while the
    GM has enough images, then random subsets; a GM with fewer than ``size`` images gives all of them."""
    gms = np.asarray(gms).astype(str)
    out = []
    for g in names:
        idx = np.flatnonzero(gms == g)
        if len(idx) == 0:
            raise ValueError(f"GM {g!r} has no images")
        k = min(size, len(idx))
        if k * count <= len(idx):
            perm = rng.permutation(idx)
            out += [(g, perm[i * k:(i + 1) * k]) for i in range(count)]
        else:
            out += [(g, rng.choice(idx, k, replace=False)) for _ in range(count)]
    return out


@dataclass
class SetParser:
    """Parser of a *set* of images from one source: the spectral peer's heads on set fingerprints.

    ``normalizer``: the min-max of the training GMs, for answers in raw units (None: normalised units only);
    ``card``: what its evaluation measured, saved with it."""

    peer: SpectralPeer
    set_size: int
    with_image_spectra: bool = True
    normalizer: MinMaxNormalizer | None = None
    image_size: int = 64
    card: dict = field(default_factory=dict)

    @classmethod
    def fit(cls, cache: ImageCache, sets: list[tuple[str, np.ndarray]], cont: np.ndarray, disc: np.ndarray,
            set_size: int, with_image_spectra: bool = True, seed: int = 0, schema=None,
            normalizer: MinMaxNormalizer | None = None) -> SetParser:
        """Fit on training ``sets`` ``(gm, image indices)`` with their normalised continuous targets ``cont`` and
        class codes ``disc`` (one row per set); regularisation is chosen by CV grouped by GM."""
        x = np.stack([cache.set_features(ix, with_image_spectra) for _, ix in sets])
        gms = np.array([g for g, _ in sets])
        return cls(SpectralPeer.fit(None, gms, cont, disc, schema, seed, features=x), set_size, with_image_spectra,
                   normalizer, int(cache.residual.shape[1]))

    def save(self, directory: str | Path) -> Path:
        """Write ``SET_PARSER_FILES`` into ``directory`` (:func:`~reparse_tf.evaluation.spectral_peer.save_peer`)."""
        return save_peer(directory, SET_PARSER_FILES, self.peer,
                         {"set_size": self.set_size, "with_image_spectra": self.with_image_spectra,
                          "normalizer": self.normalizer.to_json() if self.normalizer else None,
                          "image_size": self.image_size, "card": self.card})

    @classmethod
    def load(cls, directory: str | Path) -> SetParser:
        peer, meta = load_peer(directory, SET_PARSER_FILES, "set parser")
        norm = MinMaxNormalizer.from_json(meta["normalizer"]) if meta.get("normalizer") else None
        return cls(peer, int(meta["set_size"]), bool(meta["with_image_spectra"]), norm, int(meta["image_size"]),
                   meta.get("card") or {})

    def parse_source(self, images: np.ndarray, max_sets: int = 10, seed: int = 0):
        """:class:`~reparse_tf.serving.inference.Predictions` of disjoint sets of ``set_size`` images of *one*
        source (at most ``max_sets``; the images left over are not used): one row per set, to be aggregated
        as a folder's images are. Fewer than ``set_size`` images is an error."""
        from reparse_tf.serving.inference import Predictions

        if self.normalizer is None:
            raise ValueError("this set parser has no normaliser: it answers in normalised units only")
        n = len(images)
        if n and np.asarray(images).shape[1:3] != (self.image_size, self.image_size):
            raise ValueError(f"images of {np.asarray(images).shape[1:3]} pixels: the set parser reads "
                             f"{self.image_size} x {self.image_size}")
        if n < self.set_size:
            raise ValueError(f"{n} images: the set parser needs at least {self.set_size} images of one source")
        cache = ImageCache.of(images)
        order = np.random.default_rng(seed).permutation(n)
        sets = [order[i * self.set_size:(i + 1) * self.set_size] for i in range(min(max_sets, n // self.set_size))]
        cont, _, probs = self.predict(cache, sets)
        return Predictions.decode(cont, probs, self.normalizer)

    def predict(self, cache: ImageCache, sets: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray, list[np.ndarray]]:
        """``(continuous [S, n_cont], discrete [S, n_disc], probs)`` for ``sets`` of image indices into ``cache``."""
        x = np.stack([cache.set_features(ix, self.with_image_spectra) for ix in sets])
        return self.peer.predict(features=x)
