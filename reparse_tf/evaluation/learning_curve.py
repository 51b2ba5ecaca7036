"""Learning curves of model parsing: a metric against the number of training GMs.

A point is ``{"n_fit_gms": {method: n}, "max_train_gms": n, "table": {method: {metric: {"mean", "std"}}}}``
(``n_fit_gms`` may miss a method, which then uses ``max_train_gms``). Used by ``benchmarks/learning_curve.py``
(subsets of one zoo's folds) and ``benchmarks/more_gms.py`` (past one zoo, with GMs of zoos of other seeds).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

KEYS = (("continuous_l1", "continuous L1 (lower is better)"), ("discrete_f1", "discrete macro F1"),
        ("loss_f1", "loss-type macro F1"))
REFERENCES = ("constant", "family_oracle", "label_copy")  # drawn dashed: they read no image


def _xy(points: list[dict], method: str, key: str) -> list[tuple[float, float]]:
    xy = [(p["n_fit_gms"].get(method, p.get("max_train_gms")), p["table"].get(method, {}).get(key, {}).get("mean"))
          for p in points]
    return [(float(x), float(y)) for x, y in xy if x and y is not None]


def per_doubling(points: list[dict], methods: list[str]) -> dict[str, dict[str, float | None]]:
    """``{method: {metric: slope}}`` of the mean metric against log2(fitted GMs) (None: < 2 distinct sizes)."""
    out: dict[str, dict[str, float | None]] = {}
    for m in methods:
        out[m] = {}
        for key, _ in KEYS:
            xy = _xy(points, m, key)
            out[m][key] = (float(np.polyfit(np.log2([x for x, _ in xy]), [y for _, y in xy], 1)[0])
                           if len({x for x, _ in xy}) >= 2 else None)
    return out


def doublings_to(points: list[dict], method: str, key: str, target: float, lower_is_better: bool) -> float | None:
    """Doublings past the largest point's GMs at which the log-linear trend of ``method``'s ``key`` reaches
    ``target``: 0 when the trend is there already, None when it moves away from it (or has < 2 sizes). An
    extrapolation of a trend, to be printed as one."""
    xy = _xy(points, method, key)
    if len({x for x, _ in xy}) < 2:
        return None
    slope, icpt = np.polyfit(np.log2([x for x, _ in xy]), [y for _, y in xy], 1)
    gap = target - (icpt + slope * np.log2(max(x for x, _ in xy)))  # target minus the trend at the last size
    if (gap >= 0) if lower_is_better else (gap <= 0):
        return 0.0
    if (slope >= 0) if lower_is_better else (slope <= 0):
        return None
    return float(gap / slope)


def plot(points: list[dict], methods: list[str], path: str | Path, labels: dict[str, str]) -> None:
    """One panel per metric of :data:`KEYS`: each method's mean ± std against its training GMs."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(KEYS), figsize=(4.2 * len(KEYS), 3.4))
    for ax, (key, title) in zip(axes, KEYS, strict=True):
        for m in methods:
            xs = [p["n_fit_gms"].get(m, p.get("max_train_gms")) for p in points]
            ys = [p["table"].get(m, {}).get(key, {}).get("mean") for p in points]
            es = [p["table"].get(m, {}).get(key, {}).get("std") or 0 for p in points]
            if any(y is None for y in ys):
                continue
            ax.errorbar(xs, ys, yerr=es, fmt="--" if m in REFERENCES else "-o", capsize=3, label=labels.get(m, m))
        ax.set_xlabel("training GMs per fold")
        ax.set_title(title, fontsize=10)
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
