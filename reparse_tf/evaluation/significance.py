"""Paired significance of a difference between two parsers over the same test GMs.

The unit is the test GM (images of one GM are not independent): each method gets one score per
test GM, pooled over every fold, and the paired differences are tested with the Wilcoxon
signed-rank test (scipy) and summarised by a percentile-bootstrap 95 % CI of their mean.
"""

from __future__ import annotations

import numpy as np
from scipy import stats

# per-GM score -> True when lower is better
GM_SCORES = {"continuous_l1": True, "discrete_accuracy": False, "loss_accuracy": False}


def paired_test(a: np.ndarray, b: np.ndarray, n_boot: int = 10_000, seed: int = 0) -> dict:
    """Compare paired scores ``a`` and ``b`` (one per test GM): ``{n, mean_diff (a - b), ci_low,
    ci_high, p_value}``; ``p_value`` is the two-sided Wilcoxon signed-rank p (1.0 when every
    difference is zero, None with fewer than 2 pairs)."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    if a.shape != b.shape or a.ndim != 1:
        raise ValueError(f"paired scores must be two 1-D arrays of one length, got {a.shape} and {b.shape}")
    keep = np.isfinite(a) & np.isfinite(b)
    d = a[keep] - b[keep]
    out = {"n": int(len(d)), "mean_diff": float(d.mean()) if len(d) else None, "ci_low": None, "ci_high": None,
           "p_value": None}
    if len(d) < 2:
        return out
    rng = np.random.default_rng(seed)
    boots = d[rng.integers(0, len(d), size=(n_boot, len(d)))].mean(axis=1)
    out["ci_low"], out["ci_high"] = (float(v) for v in np.percentile(boots, [2.5, 97.5]))
    out["p_value"] = 1.0 if np.all(d == 0) else float(stats.wilcoxon(d, zero_method="wilcox").pvalue)
    return out


def compare_per_gm(method: dict[str, dict], other: dict[str, dict], keys=tuple(GM_SCORES), seed: int = 0) -> dict:
    """Paired tests of ``method`` against ``other`` on the GMs both scored.

    ``method`` / ``other``: ``{"<fold>/<gm>": {score: value}}``. Returns ``{score: paired_test +
    better}``: ``better`` is True when the method's mean is better, in the score's direction, and the
    difference is significant (p < 0.05)."""
    common = sorted(set(method) & set(other))
    out = {}
    for k in keys:
        a = np.array([method[g].get(k, np.nan) for g in common], float)
        b = np.array([other[g].get(k, np.nan) for g in common], float)
        r = paired_test(a, b, seed=seed)
        lower = GM_SCORES.get(k, False)
        if r["mean_diff"] is None or r["p_value"] is None:
            r["better"] = None
        else:
            r["better"] = bool((r["mean_diff"] < 0 if lower else r["mean_diff"] > 0) and r["p_value"] < 0.05)
        out[k] = r
    return out


def format_paired(test: dict) -> str:
    """``"+diff (p P, n N)"`` of a :func:`paired_test` result for tables (``n/a`` without pairs)."""
    if test["mean_diff"] is None:
        return "n/a"
    p = "n/a" if test["p_value"] is None else f"{test['p_value']:.2g}"
    return f"{test['mean_diff']:+.3f} (p {p}, n {test['n']})"


def paired_table(tests: dict[str, dict], first: str = "comparison") -> list[str]:
    """Markdown rows of :func:`compare_per_gm` results ``{row name: {score: paired_test}}``, one column per per-GM
    score (continuous L1, discrete and loss accuracy)."""
    lines = [f"| {first} | continuous L1 | discrete accuracy | loss accuracy |", "| --- | --- | --- | --- |"]
    return lines + [f"| {name} | " + " | ".join(format_paired(t[k]) for k in GM_SCORES) + " |"
                    for name, t in tests.items()]
