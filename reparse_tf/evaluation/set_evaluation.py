"""Parsing a *set* of images of one unseen GM: the set fingerprint against the per-image parsers aggregated
over the same sets (the paper's multi-image parsing, Table 8) and the label baselines.

Per fold, the training GMs (the fold's fitted GMs: validation GMs and test GMs excluded) give sets of
``size`` images to fit on; each test GM gives ``test_sets`` sets of the same size. Every predictor is scored
on the same test sets, one row per set, so per-set figures are per-GM aggregated figures at N = ``size``:

* ``set_fingerprint``: :class:`~reparse_tf.model.set_fingerprint.SetParser` on the set fingerprint and the
  set's mean per-image spectra; ``set_fingerprint_only``: on the set fingerprint alone;
  ``set_fingerprint_sources``: as the first, fitted without the training GMs' twins (on examples with twins:
  does seeing an architecture under a second content and seed teach the parser what does not depend on them?);
* ``spectral_peer_vote``: the spectral peer fitted on single images (100 per training GM), its answers for
  the set's images aggregated (mean / vote, :func:`~reparse_tf.evaluation.aggregation.aggregate_gm`);
* ``constant`` and ``family_oracle`` (the latter uses the test GM's true family).
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from reparse_tf.data.folds import DEFAULT_VALIDATION_FRACTION, fold_gms, twin_group
from reparse_tf.data.schema import MinMaxNormalizer, load_schema, split_labels
from reparse_tf.evaluation import baselines as B
from reparse_tf.evaluation.aggregation import aggregate_gm
from reparse_tf.evaluation.metrics import parsing_metrics, per_parameter_headline
from reparse_tf.evaluation.parsing_evaluation import per_gm_scores, subsample_per_gm
from reparse_tf.evaluation.spectral_peer import SpectralPeer
from reparse_tf.model.set_fingerprint import ImageCache, SetParser, draw_sets

PREDICTORS = ("set_fingerprint", "set_fingerprint_only", "set_fingerprint_sources", "spectral_peer_vote", "constant",
              "family_oracle")
#: the ablations cost a fit each
DEFAULT_PREDICTORS = tuple(p for p in PREDICTORS if p not in ("set_fingerprint_only", "set_fingerprint_sources"))
LABELS = {"set_fingerprint": "set fingerprint + mean image spectra",
          "set_fingerprint_only": "set fingerprint alone",
          "set_fingerprint_sources": "set fingerprint + mean image spectra, fitted without the twins",
          "spectral_peer_vote": "spectral peer, its answers for the set aggregated",
          "constant": "constant (training mean / majority)",
          "family_oracle": "family oracle (reference: uses the true family)"}


def _score(true_c: np.ndarray, pred_c: np.ndarray, true_d: np.ndarray, pred_d: np.ndarray, set_gms: list[str],
           fold: int, schema) -> dict:
    """Summary, per-parameter figures and per-GM scores (``"<fold>/<gm>"``, for paired tests) of set predictions."""
    metrics = parsing_metrics(true_c, pred_c, true_d, pred_d, schema, slope=False)
    per_gm = {f"{fold}/{g}": v for g, v in per_gm_scores(true_c, pred_c, true_d, pred_d, set_gms, schema).items()}
    return {"summary": metrics["summary"], "per_parameter": per_parameter_headline(metrics), "per_gm": per_gm}


def evaluate_fold(cache: ImageCache, data: dict[str, np.ndarray], labels, folds: dict[str, int], fold: int,
                  size: int, seed: int = 0, train_sets: int = 15, test_sets: int = 10, peer_images_per_gm: int = 100,
                  predictors: tuple[str, ...] = DEFAULT_PREDICTORS,
                  validation_fraction: float = DEFAULT_VALIDATION_FRACTION, peers: dict | None = None,
                  keep: dict | None = None) -> dict:
    """``{predictor: {"summary", "per_parameter", "per_gm"}}`` plus ``"_split"`` for one fold and set size.

    ``data``: ``gm`` and raw ``labels`` ``[N, 25]`` of every image in ``cache`` (all folds); ``labels`` /
    ``folds``: the examples' label table and fold map (:func:`~reparse_tf.targets.cluster_ground_truth.
    read_fold_info`). ``seed`` draws the sets (training and test) and seeds the fits. ``peers``: a dict in which
    the per-image spectral peer of each fold is kept, fitted once (with seed 0) for every set size and draw;
    ``keep``: a dict that receives the fitted set parsers (with the fold's normaliser)."""
    unknown = [p for p in predictors if p not in PREDICTORS]
    if unknown:
        raise ValueError(f"unknown predictors {unknown}; known: {', '.join(PREDICTORS)}")
    schema = load_schema()
    split = fold_gms(folds, fold, labels.type_of, validation_fraction)
    fit, test = list(split.fit), list(split.test)
    norm = MinMaxNormalizer.fit(labels.subset(split.normalizer).values[:, schema.continuous_index], schema)
    rng = np.random.default_rng(seed)
    gms = np.asarray(data["gm"]).astype(str)
    raw = np.asarray(data["labels"], np.float64)
    test_draw = draw_sets(gms, test, size, test_sets, rng)
    set_gms = [g for g, _ in test_draw]
    true_c, true_d = split_labels(np.stack([raw[ix[0]] for _, ix in test_draw]), norm, schema)
    out: dict = {"_split": {"fit": fit, "test": test, "size": size, "seed": seed, "train_sets": train_sets,
                            "test_sets": test_sets}}

    clock = [time.perf_counter()]

    def record(name: str, pred_c: np.ndarray, pred_d: np.ndarray) -> None:
        out[name] = {**_score(true_c, pred_c, true_d, pred_d, set_gms, fold, schema),
                     "seconds": time.perf_counter() - clock[0]}
        clock[0] = time.perf_counter()

    set_parsers = {"set_fingerprint": (True, False), "set_fingerprint_only": (False, False),
                   "set_fingerprint_sources": (True, True)}  # name: (with image spectra, without twins)
    if set(set_parsers) & set(predictors):
        train_draw = draw_sets(gms, fit, size, train_sets, rng)
        for name, (with_spectra, sources) in set_parsers.items():
            if name in predictors:
                sets = [(g, ix) for g, ix in train_draw if not sources or twin_group(g) == g]
                c, d = split_labels(np.stack([raw[ix[0]] for _, ix in sets]), norm, schema)
                parser = SetParser.fit(cache, sets, c, d, size, with_spectra, seed, schema, norm)
                if keep is not None:
                    keep[name] = parser
                pc, pd, _ = parser.predict(cache, [ix for _, ix in test_draw])
                record(name, pc, pd)
                out[name]["chosen"] = parser.peer.chosen
    if "spectral_peer_vote" in predictors:
        peers = {} if peers is None else peers
        if fold not in peers:
            rows = np.flatnonzero(np.isin(gms, fit))
            rows = rows[subsample_per_gm(gms[rows], peer_images_per_gm, 0)]
            c, d = split_labels(raw[rows], norm, schema)
            peers[fold] = SpectralPeer.fit(None, gms[rows], c, d, schema, 0, features=cache.image_features[rows])
        peer = peers[fold]
        needed = np.unique(np.concatenate([ix for _, ix in test_draw]))
        pc_i, pd_i, probs_i = peer.predict(features=cache.image_features[needed])
        pos = {int(i): k for k, i in enumerate(needed)}
        agg = [aggregate_gm(pc_i[[pos[i] for i in ix]], pd_i[[pos[i] for i in ix]],
                            [p[[pos[i] for i in ix]] for p in probs_i], schema) for _, ix in test_draw]
        record("spectral_peer_vote", np.stack([a[0] for a in agg]), np.stack([a[1] for a in agg]))
        out["spectral_peer_vote"]["chosen"] = peer.chosen
    for name, fn in (("constant", B.constant), ("family_oracle", B.family_oracle)):
        if name in predictors:
            record(name, *B.expand_to_images(fn(labels.subset(fit), labels.subset(test), norm, schema), test,
                                             np.array(set_gms)))
    return out


def build_set_parser(examples_dir: str | Path, fold: int, out_dir: str | Path, size: int = 10, train_sets: int = 15,
                     test_sets: int = 10, seed: int = 0,
                     validation_fraction: float = DEFAULT_VALIDATION_FRACTION) -> SetParser:
    """Fit the set parser on ``fold``'s fitted GMs of an ingested zoo (validation GMs carved as a training preset
    with ``validation_fraction`` does, so it fits the same GMs as the parse model), measure it on the fold's
    unseen test GMs beside the spectral peer's aggregated answers and the label baselines (one row per set of
    ``size`` images), and save it with that card into ``out_dir`` (:data:`~reparse_tf.model.set_fingerprint.
    SET_PARSER_FILES`); returns it."""
    from reparse_tf.evaluation.parsing_evaluation import load_examples
    from reparse_tf.targets.cluster_ground_truth import read_fold_info

    labels, folds, _ = read_fold_info(examples_dir)
    split = fold_gms(folds, fold, labels.type_of, validation_fraction)
    data = load_examples(examples_dir, sorted(split.fit + split.test))
    keep: dict = {}
    result = evaluate_fold(ImageCache.of(data["images"]), data, labels, folds, fold, size, seed, train_sets,
                           test_sets, validation_fraction=validation_fraction, keep=keep)
    parser = keep["set_fingerprint"]
    parser.card = {"examples": str(examples_dir), "fold": fold, "set_size": size, "train_sets_per_gm": train_sets,
                   "test_sets_per_gm": test_sets, "fit_gms": list(split.fit), "test_gms": list(split.test),
                   "rows": {p: {"label": LABELS[p], "summary": result[p]["summary"],
                                "per_parameter": result[p]["per_parameter"]} for p in DEFAULT_PREDICTORS}}
    parser.save(out_dir)
    return parser
