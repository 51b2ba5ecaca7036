"""Same-generator detection: "were these two images made by the same generator?" (coordinated
misinformation attacks; TPAMI Sec. 3.4 and 4.5, Table 9, Fig. 12).

Scores of an image pair, higher meaning more likely one GM:

- ``parsed`` (the paper's FEN + PN): mean of the cosine similarity of the two normalised continuous
  predictions and the fraction of the 16 discrete predictions that agree;
- ``fingerprint`` (the paper's FEN row): cosine similarity of the two FEN fingerprints;
- ``spectrum`` (a baseline without the model): cosine similarity of the images' spectral-peer
  features (:func:`reparse_tf.evaluation.spectral_peer.spectral_features`), standardised on validation images.

The decision is ``score >= threshold``, the threshold that maximises accuracy on *validation* pairs
(the model's validation GMs play the unseen GMs, its fitted GMs the seen ones); test GMs only score.
Pairs fall in the paper's five categories (:data:`CATEGORIES`), sampled equally. numpy / sklearn.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from reparse_tf.evaluation.spectral_peer import spectral_features
from reparse_tf.serving.artifacts import write_json

CATEGORIES = ("same seen GM", "same unseen GM", "two seen GMs", "two unseen GMs", "seen and unseen GM")
SAME = (True, True, False, False, False)
THRESHOLDS_FILE = "same_source.json"


def cosine(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise cosine similarity of ``[N, ...]`` arrays (flattened per row)."""
    a = np.asarray(a, np.float64).reshape(len(a), -1)
    b = np.asarray(b, np.float64).reshape(len(b), -1)
    return np.sum(a * b, axis=1) / np.maximum(np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1), 1e-12)


def parsed_similarity(cont_a: np.ndarray, disc_a: np.ndarray, cont_b: np.ndarray, disc_b: np.ndarray) -> np.ndarray:
    """Mean of the cosine of the continuous parts and the fraction of equal discrete codes."""
    return 0.5 * (cosine(cont_a, cont_b) + np.mean(np.asarray(disc_a) == np.asarray(disc_b), axis=1))


@dataclass
class Pairs:
    """Image index pairs ``(i, j)``, whether they share a GM, and their :data:`CATEGORIES` index."""

    i: np.ndarray
    j: np.ndarray
    same: np.ndarray
    category: np.ndarray


def sample_pairs(gms: np.ndarray, unseen: set[str], n_per_category: int, rng: np.random.Generator) -> Pairs:
    """``n_per_category`` pairs of each category that ``gms`` allows (a category needing two GMs of a
    kind, or a GM with two images, is left out when there is none)."""
    gms = np.asarray(gms).astype(str)
    groups = {g: np.flatnonzero(gms == g) for g in sorted(set(gms.tolist()))}
    kinds = {k: [g for g in groups if (g in unseen) == k] for k in (False, True)}
    multi = {k: [g for g in kinds[k] if len(groups[g]) >= 2] for k in (False, True)}
    rows: list[tuple[int, int, int]] = []

    def one(g: str) -> int:
        return int(rng.choice(groups[g]))

    for c in range(len(CATEGORIES)):
        for _ in range(n_per_category):
            if c in (0, 1):
                pool = multi[c == 1]
                if not pool:
                    break
                a, b = rng.choice(groups[pool[rng.integers(len(pool))]], 2, replace=False)
            elif c in (2, 3):
                pool = kinds[c == 3]
                if len(pool) < 2:
                    break
                ga, gb = rng.choice(len(pool), 2, replace=False)
                a, b = one(pool[ga]), one(pool[gb])
            else:
                if not kinds[False] or not kinds[True]:
                    break
                a = one(kinds[False][rng.integers(len(kinds[False]))])
                b = one(kinds[True][rng.integers(len(kinds[True]))])
            rows.append((int(a), int(b), c))
    arr = np.array(rows, int).reshape(-1, 3)
    return Pairs(arr[:, 0], arr[:, 1], np.array([SAME[c] for c in arr[:, 2]], bool), arr[:, 2])


def choose_threshold(scores: np.ndarray, same: np.ndarray, balanced: bool = False) -> tuple[float, float]:
    """(threshold, accuracy): the cut between sorted scores that maximises the accuracy of
    ``score >= threshold`` (``balanced``: the mean of the two classes' accuracies)."""
    s = np.asarray(scores, np.float64)
    y = np.asarray(same, bool)
    order = np.argsort(s)
    s, y = s[order], y[order]
    w_pos, w_neg = (1 / (2 * max(1, y.sum())), 1 / (2 * max(1, (~y).sum()))) if balanced else (1 / len(s),) * 2
    # predicting "same" for items k.. : correct = negatives below k + positives from k
    neg_below = np.concatenate([[0], np.cumsum(~y)]) * w_neg
    pos_from = np.concatenate([np.cumsum(y[::-1])[::-1], [0]]) * w_pos
    correct = neg_below + pos_from
    cuts = np.concatenate([[s[0] - 1e-9], (s[1:] + s[:-1]) / 2, [s[-1] + 1e-9]])
    valid = np.concatenate([[True], s[1:] > s[:-1], [True]])  # no cut between equal scores
    k = int(np.argmax(np.where(valid, correct, -1)))
    return float(cuts[k]), float(correct[k])


def pair_metrics(scores: np.ndarray, pairs: Pairs, threshold: float) -> dict[str, Any]:
    """AUC, accuracy at ``threshold`` and error per category; the same on unseen-GM pairs alone."""
    from sklearn.metrics import roc_auc_score

    s = np.asarray(scores, np.float64)
    right = (s >= threshold) == pairs.same
    unseen = np.isin(pairs.category, [1, 3])

    def auc(mask: np.ndarray) -> float | None:
        return float(roc_auc_score(pairs.same[mask], s[mask])) if len(set(pairs.same[mask].tolist())) == 2 else None

    return {"auc": auc(np.ones(len(s), bool)), "accuracy": float(right.mean()),
            "auc_unseen": auc(unseen), "accuracy_unseen": float(right[unseen].mean()) if unseen.any() else None,
            "error_by_category": {CATEGORIES[c]: float(1 - right[pairs.category == c].mean())
                                  for c in range(len(CATEGORIES)) if np.any(pairs.category == c)},
            "n_pairs": int(len(s)), "threshold": float(threshold)}


@dataclass
class SpectrumScaler:
    """Standardisation of spectral features (fitted on validation-side images)."""

    mean: np.ndarray
    std: np.ndarray

    @classmethod
    def fit(cls, images: np.ndarray) -> SpectrumScaler:
        f = spectral_features(images).astype(np.float64)
        return cls(f.mean(axis=0), np.maximum(f.std(axis=0), 1e-6))

    def __call__(self, images: np.ndarray) -> np.ndarray:
        return (spectral_features(images) - self.mean) / self.std

    def to_json(self) -> dict:
        return {"mean": self.mean.tolist(), "std": self.std.tolist()}

    @classmethod
    def from_json(cls, data: dict) -> SpectrumScaler:
        return cls(np.asarray(data["mean"], np.float64), np.asarray(data["std"], np.float64))


def image_features(parser: Any, images: np.ndarray, scaler: SpectrumScaler | None,
                   batch_size: int = 64) -> dict[str, Any]:
    """Per-image inputs of the pair scores (``fingerprint`` None when the model has no FEN)."""
    pred = parser.predict(images, batch_size=batch_size)
    return {"cont": pred.continuous, "disc": pred.discrete,
            "fingerprint": parser.fingerprints(images, batch_size=batch_size),
            "spectrum": None if scaler is None else scaler(images)}


def pair_scores(fa: dict[str, Any], fb: dict[str, Any]) -> dict[str, np.ndarray]:
    """Every score available for row-aligned features ``fa`` / ``fb`` (see :func:`image_features`)."""
    out = {"parsed": parsed_similarity(fa["cont"], fa["disc"], fb["cont"], fb["disc"])}
    for name in ("fingerprint", "spectrum"):
        if fa.get(name) is not None and fb.get(name) is not None:
            out[name] = cosine(fa[name], fb[name])
    return out


def _take(feats: dict[str, Any], idx: np.ndarray) -> dict[str, Any]:
    return {k: None if v is None else np.asarray(v)[idx] for k, v in feats.items()}


def _score_pairs(feats: dict[str, Any], pairs: Pairs) -> dict[str, np.ndarray]:
    return pair_scores(_take(feats, pairs.i), _take(feats, pairs.j))


def evaluate_pairs(parser: Any, seen: dict[str, np.ndarray], validation: dict[str, np.ndarray],
                   test: dict[str, np.ndarray], n_per_category: int = 400, seed: int = 0,
                   batch_size: int = 64) -> dict[str, Any]:
    """Thresholds from validation pairs, AUC / accuracy / per-category error on test pairs.

    ``seen``: images of the fitted GMs (``images``, ``gm``), split alternately between the two sides;
    ``validation`` / ``test``: images of the validation GMs / test GMs, the unseen GMs of each side.
    Nothing of the test side enters the thresholds or the spectrum standardisation.
    """
    rng = np.random.default_rng(seed)
    gm = np.asarray(seen["gm"]).astype(str)
    to_validation = np.zeros(len(gm), bool)
    for g in set(gm.tolist()):  # alternate each GM's images between the two sides
        to_validation[np.flatnonzero(gm == g)[::2]] = True
    sides = {}
    for name, unseen, pick in (("validation", validation, to_validation), ("test", test, ~to_validation)):
        ugm = np.asarray(unseen["gm"]).astype(str)
        sides[name] = {"images": np.concatenate([np.asarray(seen["images"])[pick], np.asarray(unseen["images"])]),
                       "gm": np.concatenate([gm[pick], ugm]), "unseen": set(ugm.tolist())}
    scaler = SpectrumScaler.fit(sides["validation"]["images"])
    result: dict[str, Any] = {"categories": list(CATEGORIES), "n_per_category": n_per_category,
                              "validation_gms": sorted(sides["validation"]["unseen"]),
                              "test_gms": sorted(sides["test"]["unseen"]), "n_seen_gms": len(set(gm.tolist())),
                              "chance": {"auc": 0.5, "accuracy": 0.6}}
    scores: dict[str, dict[str, np.ndarray]] = {}
    pairs: dict[str, Pairs] = {}
    for name, side in sides.items():
        feats = image_features(parser, side["images"], scaler, batch_size)
        pairs[name] = sample_pairs(side["gm"], side["unseen"], n_per_category, rng)
        scores[name] = _score_pairs(feats, pairs[name])
    val_same = pairs["validation"].same
    result["thresholds"] = {s: choose_threshold(v, val_same)[0] for s, v in scores["validation"].items()}
    for name in sides:
        result[name] = {s: pair_metrics(v, pairs[name], result["thresholds"][s]) for s, v in scores[name].items()}
    result["spectrum_scaler"] = scaler.to_json()
    return result


def evaluate_same_source(parser: Any, examples_dir: str | Path, per_gm: int = 32, n_per_category: int = 400,
                         seed: int = 0, batch_size: int = 64) -> dict[str, Any]:
    """:func:`evaluate_pairs` on a trained model's fold of ``examples_dir``: ``per_gm`` images of each
    validation and test GM, ``2 * per_gm`` of each fitted GM (these may have been trained on)."""
    from reparse_tf.evaluation.parsing_evaluation import load_examples

    meta = dict(parser.meta)
    val_gms, test_gms = list(meta.get("validation_gms") or []), list(meta.get("test_gms") or [])
    fitted = list(meta.get("train_gms") or [])
    if not val_gms or not test_gms or not fitted:
        raise ValueError("same-source evaluation needs a model trained with validation GMs (parser_meta.json: "
                         "train_gms, validation_gms, test_gms)")
    rng = np.random.default_rng(seed)

    def sample(gms: list[str], n: int) -> dict[str, np.ndarray]:
        data = load_examples(examples_dir, gms, parser.image_size)
        g = np.asarray(data["gm"]).astype(str)
        keep = np.concatenate([rng.permutation(np.flatnonzero(g == x))[:n] for x in sorted(set(g.tolist()))])
        return {"images": np.asarray(data["images"])[keep], "gm": g[keep]}

    result = evaluate_pairs(parser, sample(fitted, 2 * per_gm), sample(val_gms, per_gm), sample(test_gms, per_gm),
                            n_per_category, seed, batch_size)
    return {"per_gm": per_gm, **result}


def write_thresholds(result: dict[str, Any], path: str | Path) -> Path:
    """The thresholds and the spectrum scaler of an evaluation, for :func:`decide` (atomic write)."""
    keep = {k: result[k] for k in ("thresholds", "spectrum_scaler", "validation_gms")}
    keep["validation"] = {s: {k: m[k] for k in ("auc", "accuracy")} for s, m in result["validation"].items()}
    keep["test"] = {s: {k: m[k] for k in ("auc", "auc_unseen", "accuracy")} for s, m in result["test"].items()}
    return write_json(Path(path), keep, indent=1)


def load_thresholds(model: str | Path, version_dir: str | Path | None = None) -> dict[str, Any] | None:
    """The calibration of a MODEL DIR (``same_source.json``) or of a pushed SavedModel version
    (``assets.extra/same_source.json``); None when it has none."""
    for p in (Path(model) / THRESHOLDS_FILE, Path(version_dir or model) / "assets.extra" / THRESHOLDS_FILE):
        if p.is_file():
            return json.loads(p.read_text())
    return None


def decide(parser: Any, image_a: np.ndarray, image_b: np.ndarray, calibration: dict[str, Any] | None
           ) -> dict[str, dict[str, Any]]:
    """``{score: {"score", "threshold", "same"}}`` for one pair of uint8 images (threshold and decision
    None without a calibration)."""
    scaler = SpectrumScaler.from_json(calibration["spectrum_scaler"]) if calibration else None
    images = np.stack([image_a, image_b])
    feats = image_features(parser, images, scaler)
    scores = pair_scores(_take(feats, np.array([0])), _take(feats, np.array([1])))
    out = {}
    for name, value in scores.items():
        thr = (calibration or {}).get("thresholds", {}).get(name)
        out[name] = {"score": float(value[0]), "threshold": thr,
                     "same": None if thr is None else bool(value[0] >= thr)}
    return out
