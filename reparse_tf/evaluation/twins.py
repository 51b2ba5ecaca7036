"""Twin GMs: one architecture trained from two seeds on two contents (:func:`reparse_tf.zoo.spec.twin`).

Twins have the same labels, so they tell what a generator's images carry of its *architecture* from what
they carry of its content and its training run. Two measures, both on per-GM means:

* :func:`twin_retrieval`: is a GM's nearest other GM (in some feature space) its twin, a GM of its content, of
  its family? Chance rates beside each.
* :func:`twin_agreement`: does a parser give a GM and its twin the same answer? Compared with pairs of
  different architectures of one family, whose labels differ.
"""

from __future__ import annotations

import numpy as np

from reparse_tf.data.folds import twin_group


def twins_by_source(gms: list[str]) -> dict[str, list[str]]:
    """``{source GM: [its twins]}`` for the twins in ``gms`` whose source GM is there too, both levels sorted."""
    present = set(gms)
    out: dict[str, list[str]] = {}
    for g in sorted(present):
        if twin_group(g) != g and twin_group(g) in present:
            out.setdefault(twin_group(g), []).append(g)
    return dict(sorted(out.items()))


def twin_pairs(gms: list[str]) -> list[tuple[str, str]]:
    """``(source, twin)`` for every twin in ``gms`` whose source GM is there too, sorted."""
    return [(s, t) for s, ts in twins_by_source(gms).items() for t in ts]


def twins_of(gms: list[str], by_source: dict[str, list[str]]) -> list[str]:
    """The twins (``by_source``: :func:`twins_by_source`) of the GMs ``gms``, sorted."""
    return sorted(t for g in gms for t in by_source.get(g, []))


def gm_means(values: np.ndarray, gms: np.ndarray) -> tuple[list[str], np.ndarray]:
    """(sorted GM names, ``[n_gms, D]`` mean of ``values`` ``[N, D]`` over each GM's rows)."""
    gms = np.asarray(gms).astype(str)
    names = sorted(set(gms.tolist()))
    return names, np.stack([np.asarray(values, np.float64)[gms == g].mean(axis=0) for g in names])


def twin_retrieval(features: np.ndarray, gms: np.ndarray, content: dict[str, str], family: dict[str, str]) -> dict:
    """Nearest-neighbour structure of GM-mean ``features`` (standardised over GMs, Euclidean).

    For the GMs that have a twin: ``twin_nn`` (share whose nearest other GM is a twin: its source or another twin
    of it), ``twin_rank`` (median rank of its nearest twin among the other GMs, 1 = nearest) and their chance
    values (``k / (n - 1)`` and ``n / (k + 1)`` for ``k`` twins, averaged);
    for all GMs: ``content_nn`` / ``family_nn`` (nearest other GM has the same content / family) with the chance
    share of such GMs among the others."""
    names, means = gm_means(features, gms)
    sd = means.std(axis=0)
    z = (means - means.mean(axis=0)) / np.where(sd > 0, sd, 1.0)
    dist = np.sqrt(((z[:, None, :] - z[None, :, :]) ** 2).sum(axis=-1))
    np.fill_diagonal(dist, np.inf)
    nearest = dist.argmin(axis=1)
    index = {g: i for i, g in enumerate(names)}
    n = len(names)
    partners = {g: [index[h] for h in names if h != g and twin_group(h) == twin_group(g)] for g in names}
    with_twin = [g for g in names if partners[g]]
    ranks = [int((dist[index[g]] < dist[index[g], partners[g]].min()).sum()) + 1 for g in with_twin]

    def share(key: dict[str, str]) -> tuple[float, float]:
        hit = np.mean([key[names[nearest[i]]] == key[g] for i, g in enumerate(names)])
        chance = np.mean([(sum(key[h] == key[g] for h in names) - 1) / (n - 1) for g in names])
        return float(hit), float(chance)

    out = {"n_gms": n, "n_with_twin": len(with_twin)}
    if with_twin:
        k = np.array([len(partners[g]) for g in with_twin], float)
        out.update({"twin_nn": float(np.mean([nearest[index[g]] in partners[g] for g in with_twin])),
                    "twin_nn_chance": float(np.mean(k / (n - 1))), "twin_rank": float(np.median(ranks)),
                    "twin_rank_chance": float(np.mean(n / (k + 1)))})
    for name, key in (("content", content), ("family", family)):
        out[f"{name}_nn"], out[f"{name}_nn_chance"] = share(key)
    return out


def _modes(codes: np.ndarray) -> np.ndarray:
    """Per column, the most frequent code."""
    return np.array([np.bincount(col).argmax() for col in np.asarray(codes, int).T])


def twin_agreement(pred_cont: np.ndarray, pred_disc: np.ndarray, gms: np.ndarray, family: dict[str, str],
                   seed: int = 0) -> dict:
    """How alike a parser's answers are for twins, against pairs of different architectures.

    Per GM: the mean continuous prediction and the majority discrete prediction. For each twin pair:
    ``cont_l1`` (mean absolute difference of the continuous means, normalised units) and ``disc_agree`` (share of
    discrete parameters predicted alike); the same for one random partner per source GM among the other
    architectures of its family (``*_others``). A parser that reads the architecture gives twins closer answers
    than other architectures; one that reads the content or the seed does not."""
    gms = np.asarray(gms).astype(str)
    names = sorted(set(gms.tolist()))
    cont = {g: pred_cont[gms == g].mean(axis=0) for g in names}
    disc = {g: _modes(pred_disc[gms == g]) for g in names}
    pairs = twin_pairs(names)
    rng = np.random.default_rng(seed)
    sources = [s for s, _ in pairs]
    others = []
    for s in sources:
        pool = [g for g in names if family[g] == family[s] and twin_group(g) != s]
        if pool:
            others.append((s, pool[int(rng.integers(len(pool)))]))

    def stats(ps: list[tuple[str, str]]) -> tuple[float | None, float | None]:
        if not ps:
            return None, None
        return (float(np.mean([np.abs(cont[a] - cont[b]).mean() for a, b in ps])),
                float(np.mean([(disc[a] == disc[b]).mean() for a, b in ps])))

    (c_t, d_t), (c_o, d_o) = stats(pairs), stats(others)
    return {"pairs": len(pairs), "cont_l1": c_t, "disc_agree": d_t, "cont_l1_others": c_o, "disc_agree_others": d_o}
