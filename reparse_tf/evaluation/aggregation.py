"""Multi-image parsing (paper Table 8): aggregate the predictions of N images of one GM.

Continuous parameters are averaged; discrete ones are decided by majority vote (ties go to the
class with the highest mean probability when probabilities are given, else the lowest code) or by
the arg-max of the mean probability. numpy only.
"""

from __future__ import annotations

import numpy as np

from reparse_tf.data.schema import HyperparameterSchema, load_schema
from reparse_tf.evaluation.metrics import SUMMARY_KEYS, parsing_metrics, summarize_runs

DEFAULT_N_IMAGES = (1, 10, 100)


def aggregate_gm(cont: np.ndarray, disc: np.ndarray, probs: list[np.ndarray] | None = None,
                 schema: HyperparameterSchema | None = None, method: str = "vote") -> tuple[np.ndarray, np.ndarray]:
    """One parsed vector from the predictions of several images of one GM.

    Args:
        cont: ``[n, n_continuous]`` normalised predictions.
        disc: ``[n, n_discrete]`` predicted class codes.
        probs: optional list (one per discrete parameter) of ``[n, C]`` probabilities.
        method: ``"vote"`` (majority vote) or ``"mean_prob"`` (arg-max of the mean probability).

    Returns:
        ``(cont [n_continuous], disc [n_discrete])``.
    """
    schema = schema or load_schema()
    cont, disc = np.asarray(cont, float), np.asarray(disc).astype(int)
    if len(cont) == 0 or len(cont) != len(disc):
        raise ValueError(f"need the same non-zero number of continuous and discrete rows, got {len(cont)}, {len(disc)}")
    if method not in ("vote", "mean_prob"):
        raise ValueError(f"method must be 'vote' or 'mean_prob', got {method!r}")
    if method == "mean_prob" and probs is None:
        raise ValueError("method 'mean_prob' needs probabilities")
    out = np.zeros(disc.shape[1], dtype=int)
    for j, p in enumerate(schema.discrete):
        mean_prob = np.asarray(probs[j], float).mean(axis=0) if probs is not None else None
        if method == "mean_prob":
            out[j] = int(np.argmax(mean_prob))
            continue
        counts = np.bincount(disc[:, j], minlength=p.num_classes).astype(float)
        if mean_prob is not None:  # tie-break by mean probability
            counts = counts + 1e-3 * mean_prob[: len(counts)] / max(mean_prob.sum(), 1e-12)
        out[j] = int(np.argmax(counts))
    return cont.mean(axis=0), out


def sample_indices(gms: np.ndarray, n_images: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """For each GM, ``min(n_images, available)`` distinct image indices drawn without replacement."""
    gms = np.asarray(gms).astype(str)
    out = {}
    for gm in sorted(set(gms.tolist())):
        idx = np.flatnonzero(gms == gm)
        out[gm] = rng.choice(idx, size=min(n_images, len(idx)), replace=False)
    return out


def multi_image_eval(pred_cont: np.ndarray, pred_disc: np.ndarray, probs: list[np.ndarray] | None,
                     gms: np.ndarray, true_cont: np.ndarray, true_disc: np.ndarray,
                     n_images: tuple[int, ...] = DEFAULT_N_IMAGES, repeats: int = 5, seed: int = 0,
                     method: str = "vote", schema: HyperparameterSchema | None = None) -> dict:
    """Table 8: metrics of per-GM aggregated predictions for each N, mean ± std over ``repeats`` draws.

    Each draw samples N images per GM (capped by the images available; the cap is reported as
    ``images_used``), aggregates them into one vector per GM and scores the GMs.
    """
    schema = schema or load_schema()
    gms = np.asarray(gms).astype(str)
    rng = np.random.default_rng(seed)
    per_gm_counts = {g: int((gms == g).sum()) for g in sorted(set(gms.tolist()))}
    out: dict[str, dict] = {}
    for n in n_images:
        summaries = []
        for _ in range(repeats):
            picks = sample_indices(gms, n, rng)
            rows_c, rows_d, tc, td = [], [], [], []
            for idx in picks.values():
                c, d = aggregate_gm(pred_cont[idx], pred_disc[idx],
                                    None if probs is None else [p[idx] for p in probs], schema, method)
                rows_c.append(c)
                rows_d.append(d)
                tc.append(true_cont[idx[0]])
                td.append(true_disc[idx[0]])
            res = parsing_metrics(np.array(tc), np.array(rows_c), np.array(td), np.array(rows_d), schema, seed)
            summaries.append(res["summary"])
        used = [min(n, c) for c in per_gm_counts.values()]
        out[str(n)] = {"requested": n, "images_used_min": int(min(used)), "images_used_max": int(max(used)),
                       "capped": bool(min(used) < n), "n_gms": len(per_gm_counts), "repeats": repeats,
                       "summary": {k: v for k, v in summarize_runs(summaries).items() if k in SUMMARY_KEYS}}
    return out
