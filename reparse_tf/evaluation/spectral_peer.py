"""The spectral peer: the frequency-analysis detectors of the image-forensics literature used as a
model parser (Durall et al. 2020, "Watch your up-convolution"; Frank et al. 2020, "Leveraging
frequency analysis for deep fake image recognition"; Dzanic et al. 2020, "Fourier spectrum
discrepancies in deep network generated images").

Per image: the azimuthally averaged log power spectrum of the grey image and of its high-pass
residual (image minus its 3x3 box blur, which keeps the up-sampling artefacts and drops content),
plus colour and value histograms. The ``spectral_peer_2d`` variant adds the residual's 2-D log power
spectrum in ``cell x cell`` frequency cells (:func:`spectrum_cells`): a ring average mixes the
up-sampling lattice's peaks with the rest of their ring. scikit-learn fits, on the training GMs' images only, ridge
regression for the continuous parameters and class-balanced logistic regression per discrete
parameter; the regularisation strength is picked by cross-validation *grouped by GM* over the
training GMs (an image-level split would reward memorising GMs). numpy / scipy / scikit-learn only.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from scipy import ndimage

from reparse_tf.data.schema import HyperparameterSchema, load_schema

RIDGE_ALPHAS = (0.1, 1.0, 10.0, 100.0, 1000.0, 10000.0)
LOGISTIC_CS = (0.001, 0.01, 0.1, 1.0)
HIST_BINS = 16


def ring_index(h: int, w: int) -> tuple[np.ndarray, int]:
    """``(r, R)``: the integer radius of every frequency of a centred ``h x w`` spectrum (flattened) and the number
    of complete rings, ``R = min(h, w) // 2`` (the inscribed circle)."""
    yy, xx = np.mgrid[0:h, 0:w]
    return np.floor(np.hypot(yy - h // 2, xx - w // 2)).astype(int).ravel(), min(h, w) // 2


def azimuthal_average(power: np.ndarray) -> np.ndarray:
    """``[N, R]`` mean of ``power`` ``[N, H, W]`` (centred spectra) over rings of integer radius
    ``r = 0 .. R-1`` (:func:`ring_index`: every ring is complete)."""
    n, h, w = power.shape
    r, n_bins = ring_index(h, w)
    keep = r < n_bins
    counts = np.bincount(r[keep], minlength=n_bins).astype(float)
    flat = power.reshape(n, -1)[:, keep]
    sums = np.stack([np.bincount(r[keep], weights=row, minlength=n_bins) for row in flat])
    return sums / counts


def high_pass(gray: np.ndarray) -> np.ndarray:
    """``[N, H, W]`` residual of grey images: each minus its 3 x 3 box blur (keeps the up-sampling artefacts,
    drops most of the content)."""
    return gray - ndimage.uniform_filter(gray, size=(1, 3, 3), mode="reflect")


def log_spectrum(gray: np.ndarray) -> np.ndarray:
    """Azimuthally averaged log power spectrum ``[N, R]`` of ``[N, H, W]`` float images (mean removed)."""
    g = gray - gray.mean(axis=(1, 2), keepdims=True)
    power = np.abs(np.fft.fftshift(np.fft.fft2(g), axes=(1, 2))) ** 2 / (g.shape[1] * g.shape[2])
    return np.log(azimuthal_average(power) + 1e-8)


def spectrum_cells(power: np.ndarray, cell: int = 2, eps: float = 1e-10) -> np.ndarray:
    """``[N, (H / cell) (W / 2 cell)]`` log of centred power spectra ``[N, H, W]`` summed in ``cell x cell``
    frequency cells, over the half plane of non-negative horizontal frequencies (the spectrum of a real image
    is symmetric, so the other half says nothing new)."""
    n, h, w = power.shape
    h, w = h - h % cell, w - w % cell
    cells = power[:, :h, :w].reshape(n, h // cell, cell, w // cell, cell).sum(axis=(2, 4))
    return np.log(cells[:, :, cells.shape[2] // 2:] + eps).reshape(n, -1)


def spectral_features(images: np.ndarray, batch: int = 2048, cells: int = 0) -> np.ndarray:
    """``[N, D]`` features of uint8 images ``[N, H, W, 3]``: log spectrum of the grey image and of its
    high-pass residual, per-channel and grey histograms (``HIST_BINS`` bins), channel means / stds; with
    ``cells`` > 0, the residual's 2-D log spectrum in ``cells x cells`` frequency cells after them."""
    images = np.asarray(images)
    if images.ndim != 4 or images.shape[-1] != 3:
        raise ValueError(f"expected images [N, H, W, 3], got {images.shape}")
    out = []
    edges = np.linspace(0, 256, HIST_BINS + 1)
    for s in range(0, len(images), batch):
        x = images[s:s + batch].astype(np.float64) / 255.0
        gray = x.mean(axis=-1)
        residual = high_pass(gray)
        hists = [np.stack([np.histogram(ch, bins=edges)[0] for ch in c]) / c[0].size
                 for c in (images[s:s + batch, ..., k].reshape(len(x), -1) for k in range(3))]
        hists.append(np.stack([np.histogram(g, bins=edges)[0] for g in (gray * 255).reshape(len(x), -1)])
                     / gray[0].size)
        parts = [log_spectrum(gray), log_spectrum(residual), *hists, x.mean(axis=(1, 2)), x.std(axis=(1, 2))]
        if cells:
            power = np.abs(np.fft.fftshift(np.fft.fft2(residual), axes=(1, 2))) ** 2
            parts.append(spectrum_cells(power, cells))
        out.append(np.concatenate(parts, axis=1))
    return np.concatenate(out).astype(np.float32)


def _group_folds(groups: np.ndarray, k: int = 3):
    from sklearn.model_selection import GroupKFold

    k = min(k, len(set(groups.tolist())))
    return list(GroupKFold(n_splits=k).split(np.zeros(len(groups)), groups=groups)) if k >= 2 else []


@dataclass
class SpectralPeer:
    """Fitted spectral-feature parser: ``predict(images) -> (continuous [N, n_cont], discrete [N, n_disc],
    probs)`` with continuous values in the training GMs' normalised units."""

    scaler: object
    ridge: object
    classifiers: list = field(default_factory=list)   # per discrete parameter: estimator or constant code
    num_classes: list[int] = field(default_factory=list)
    chosen: dict = field(default_factory=dict)

    @classmethod
    def fit(cls, images: np.ndarray, gms: np.ndarray, cont: np.ndarray, disc: np.ndarray,
            schema: HyperparameterSchema | None = None, seed: int = 0, features: np.ndarray | None = None
            ) -> SpectralPeer:
        """Fit on training images with their GMs' normalised continuous targets and class codes."""
        from sklearn.linear_model import LogisticRegression, Ridge
        from sklearn.preprocessing import StandardScaler

        schema = schema or load_schema()
        gms = np.asarray(gms).astype(str)
        x = spectral_features(images) if features is None else features
        scaler = StandardScaler().fit(x)
        x = scaler.transform(x)
        splits = _group_folds(gms)

        def cv_score(make, y, score) -> float:
            vals = []
            for tr, va in splits:
                if y.ndim == 1 and len(np.unique(y[tr])) < 2:
                    continue
                vals.append(score(y[va], make().fit(x[tr], y[tr]).predict(x[va])))
            return float(np.mean(vals)) if vals else 0.0

        def l1(t, p):
            return -float(np.mean(np.abs(t - p)))

        alpha = max(RIDGE_ALPHAS, key=lambda a: cv_score(lambda: Ridge(alpha=a), cont, l1)) if splits \
            else RIDGE_ALPHAS[-1]
        ridge = Ridge(alpha=alpha).fit(x, cont)

        def balanced_accuracy(t, p):
            from sklearn.metrics import balanced_accuracy_score

            return float(balanced_accuracy_score(t, p))

        def logistic(c):
            return LogisticRegression(C=c, class_weight="balanced", max_iter=500, random_state=seed)

        # one C for every discrete parameter (chosen on the mean grouped-CV balanced accuracy): 16
        # separate choices on ~45 GMs would mostly fit the noise of the CV
        multi = [m for m in range(disc.shape[1]) if len(set(disc[:, m].tolist())) > 1]
        c_best = max(LOGISTIC_CS, key=lambda c: np.mean([cv_score(lambda: logistic(c), disc[:, m], balanced_accuracy)
                                                         for m in multi])) if splits and multi else LOGISTIC_CS[1]
        classifiers = [logistic(c_best).fit(x, disc[:, m]) if m in multi else int(disc[0, m])
                       for m in range(disc.shape[1])]
        return cls(scaler, ridge, classifiers, [p.num_classes for p in schema.discrete],
                   {"ridge_alpha": alpha, "logistic_C": c_best, "n_features": int(x.shape[1])})

    @classmethod
    def fit_gms(cls, features: np.ndarray, gms: np.ndarray, labels: np.ndarray, fit: list[str], normalizer,
                per_gm: int, seed: int = 0, schema: HyperparameterSchema | None = None) -> SpectralPeer:
        """Fit on at most ``per_gm`` rows of each GM in ``fit``, given every row's ``features``, GM and raw
        ``labels`` ``[N, 25]``; continuous targets in ``normalizer``'s units."""
        from reparse_tf.data.schema import split_labels
        from reparse_tf.evaluation.parsing_evaluation import subsample_per_gm

        schema = schema or load_schema()
        gms = np.asarray(gms).astype(str)
        rows = np.flatnonzero(np.isin(gms, fit))
        rows = rows[subsample_per_gm(gms[rows], per_gm, seed)]
        cont, disc = split_labels(np.asarray(labels)[rows], normalizer, schema)
        return cls.fit(None, gms[rows], cont, disc, schema, seed, features=features[rows])

    def to_arrays(self) -> dict[str, np.ndarray]:
        """The fitted coefficients as plain arrays (saved with ``np.savez``: no pickled objects)."""
        out = {"scaler_mean": self.scaler.mean_, "scaler_scale": self.scaler.scale_, "ridge_coef": self.ridge.coef_,
               "ridge_intercept": np.atleast_1d(self.ridge.intercept_), "num_classes": np.asarray(self.num_classes)}
        for m, clf in enumerate(self.classifiers):
            if isinstance(clf, int):
                out[f"constant_{m}"] = np.asarray(clf)
            else:
                out[f"coef_{m}"], out[f"intercept_{m}"], out[f"classes_{m}"] = clf.coef_, clf.intercept_, clf.classes_
        return out

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray], chosen: dict | None = None) -> SpectralPeer:
        """The peer of :meth:`to_arrays`' output: the scikit-learn estimators with their fitted attributes set."""
        from sklearn.linear_model import LogisticRegression, Ridge
        from sklearn.preprocessing import StandardScaler

        scaler = StandardScaler()
        scaler.mean_, scaler.scale_ = arrays["scaler_mean"], arrays["scaler_scale"]
        scaler.var_, scaler.n_features_in_ = scaler.scale_ ** 2, len(scaler.mean_)
        ridge = Ridge()
        ridge.coef_, ridge.intercept_ = arrays["ridge_coef"], arrays["ridge_intercept"]
        ridge.n_features_in_ = ridge.coef_.shape[-1]
        num_classes = [int(k) for k in arrays["num_classes"]]
        classifiers: list = []
        for m in range(len(num_classes)):
            if f"constant_{m}" in arrays:
                classifiers.append(int(arrays[f"constant_{m}"]))
                continue
            clf = LogisticRegression()
            clf.coef_, clf.intercept_ = arrays[f"coef_{m}"], arrays[f"intercept_{m}"]
            clf.classes_ = arrays[f"classes_{m}"]
            clf.n_features_in_ = clf.coef_.shape[1]
            classifiers.append(clf)
        return cls(scaler, ridge, classifiers, num_classes, dict(chosen or {}))

    def predict(self, images: np.ndarray | None = None, features: np.ndarray | None = None
                ) -> tuple[np.ndarray, np.ndarray, list[np.ndarray]]:
        x = self.scaler.transform(spectral_features(images) if features is None else features)
        cont = self.ridge.predict(x)
        probs = []
        for clf, k in zip(self.classifiers, self.num_classes, strict=True):
            p = np.zeros((len(x), k), np.float32)
            if isinstance(clf, int):
                p[:, clf] = 1.0
            else:
                p[:, clf.classes_.astype(int)] = clf.predict_proba(x)
            probs.append(p)
        disc = np.stack([p.argmax(axis=1) for p in probs], axis=1)
        return cont, disc, probs


def save_peer(directory: str | Path, files: tuple[str, str], peer: SpectralPeer, meta: dict) -> Path:
    """Write a fitted peer's coefficients (``files[0]``, plain arrays: no pickle) and ``meta`` with its ``chosen``
    regularisation (``files[1]``, JSON) into ``directory``, each under a temporary name renamed when complete."""
    from reparse_tf.serving.artifacts import write_json

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    tmp = directory / f".{files[0]}.tmp.npz"
    np.savez(tmp, **peer.to_arrays())
    tmp.replace(directory / files[0])
    write_json(directory / files[1], {**meta, "chosen": peer.chosen}, indent=1, strict=False)
    return directory


def load_peer(directory: str | Path, files: tuple[str, str], what: str) -> tuple[SpectralPeer, dict]:
    """``(peer, meta)`` written by :func:`save_peer`; a missing file is an error naming ``what`` and the file."""
    directory = Path(directory)
    missing = [f for f in files if not (directory / f).is_file()]
    if missing:
        raise FileNotFoundError(f"{directory}: no {what} ({', '.join(missing)} missing)")
    meta = json.loads((directory / files[1]).read_text())
    with np.load(directory / files[0], allow_pickle=False) as z:
        return SpectralPeer.from_arrays(dict(z), meta.get("chosen")), meta
