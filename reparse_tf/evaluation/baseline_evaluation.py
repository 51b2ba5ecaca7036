"""Score the parsing baselines on a fold's unseen test GMs, in the result format of
:func:`reparse_tf.evaluation.parsing_evaluation.evaluate_model` (``summary``, per-parameter ``metrics``, ``per_gm``,
``multi_image``), so the benchmark tables, the significance tests and the report treat them like
any trained variant.

Baselines fit on the same GMs as the model (the fold's training GMs less its validation GMs) and
are scored in the same normalised units (min-max of those GMs). Results are cached per baseline
in ``OUT/<baseline>/result.json``.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

from reparse_tf.data.folds import DEFAULT_VALIDATION_FRACTION, fold_gms
from reparse_tf.data.manifest import has_manifest, read_manifest
from reparse_tf.data.schema import MinMaxNormalizer, load_schema, split_labels
from reparse_tf.evaluation import baselines as B
from reparse_tf.evaluation.parsing_evaluation import load_examples, score_predictions, subsample_per_gm
from reparse_tf.serving.artifacts import write_json
from reparse_tf.targets.cluster_ground_truth import read_fold_info

BASELINES = (*B.LABEL_BASELINES, "spectral_peer", "spectral_peer_2d")
DEFAULT_BASELINES = BASELINES[:-1]   # the 2-D variant costs twice the peer's fit: on request
LABELS = {**B.LABELS, "spectral_peer": "Spectral peer (FFT + histograms, ridge / logistic)",
          "spectral_peer_2d": "Spectral peer + 2-D residual spectrum (2 x 2 frequency cells)"}
PEER_CELLS = {"spectral_peer": 0, "spectral_peer_2d": 2}   # frequency cell of the 2-D residual spectrum (0: none)


def mean_of_results(results: list[dict]) -> dict:
    """Element-wise mean of the numeric leaves of result dicts with one structure (lists and strings
    are taken from the first: label-copy draws)."""
    first = next((r for r in results if r is not None), None)
    if isinstance(first, dict):
        return {k: mean_of_results([r[k] for r in results if isinstance(r, dict) and k in r]) for k in first}
    if isinstance(first, bool) or not isinstance(first, int | float):
        return first
    vals = [float(r) for r in results if isinstance(r, int | float) and r is not None and np.isfinite(r)]
    return float(np.mean(vals)) if vals else None


def evaluate_baselines(examples_dir: str | Path, fold: int, out_dir: str | Path,
                       names: tuple[str, ...] = DEFAULT_BASELINES,
                       seed: int = 0, copy_draws: int = 20, peer_images_per_gm: int = 100,
                       validation_fraction: float = DEFAULT_VALIDATION_FRACTION,
                       max_train_gms: int | None = None, test: dict[str, np.ndarray] | None = None,
                       keep: dict | None = None) -> dict[str, dict]:
    """``{baseline: result}`` for fold ``fold`` of an examples dir (cached in ``out_dir``);
    ``max_train_gms``: fit on a family-stratified subset of the fitted GMs (learning curve); ``test``:
    the fold's test arrays when the caller has loaded them already (read from ``examples_dir`` otherwise);
    ``keep``: receives each spectral peer fitted here (not those read from the cache) and the normaliser."""
    unknown = [n for n in names if n not in BASELINES]
    if unknown:
        raise ValueError(f"unknown baselines {unknown}; known: {', '.join(BASELINES)}")
    out_dir = Path(out_dir)
    results = {n: json.loads((out_dir / n / "result.json").read_text()) for n in names
               if (out_dir / n / "result.json").is_file()}
    todo = [n for n in names if n not in results]
    if not todo:
        return results
    schema = load_schema()
    labels, folds, _ = read_fold_info(examples_dir)
    split_gms = fold_gms(folds, fold, labels.type_of, validation_fraction, max_train_gms=max_train_gms)
    fit_gms, val_gms, test_gms = split_gms.fit, split_gms.validation, split_gms.test
    normalizer = MinMaxNormalizer.fit(labels.subset(split_gms.normalizer).values[:, schema.continuous_index], schema)
    fit_table, test_table = labels.subset(fit_gms), labels.subset(test_gms)
    if test is None or set(np.asarray(test["gm"]).astype(str).tolist()) != set(test_gms):
        test = load_examples(examples_dir, test_gms)
    true_cont, true_disc = split_labels(test["labels"], normalizer, schema)
    rng = np.random.default_rng(seed)
    common = {"fold": fold, "train_gms": fit_gms, "validation_gms": val_gms, "test_gms": test_gms,
              "n_test_images": int(len(test["gm"]))}

    def score(cont: np.ndarray, disc: np.ndarray, probs=None, per_gm_constant: bool = True) -> dict:
        # a prediction that is one vector per GM aggregates to itself: one multi-image draw is exact
        return score_predictions(true_cont, cont, true_disc, disc, test, probs, schema, seed,
                                 repeats=1 if per_gm_constant else 5)

    for name in todo:
        t0 = time.perf_counter()
        extra: dict = {}
        if name == "constant":
            r = score(*B.expand_to_images(B.constant(fit_table, test_table, normalizer, schema), test_gms, test["gm"]))
        elif name == "family_oracle":
            r = score(*B.expand_to_images(B.family_oracle(fit_table, test_table, normalizer, schema), test_gms,
                                          test["gm"]))
            extra["uses_true_family"] = True
        elif name == "label_copy":
            draws = [score(*B.expand_to_images(B.label_copy(fit_table, test_table, normalizer, rng, schema),
                                               test_gms, test["gm"])) for _ in range(copy_draws)]
            r = mean_of_results(draws)
            extra["draws"] = copy_draws
            extra["draw_summaries"] = [d["summary"] for d in draws]
        else:
            r, extra, peer = _spectral_peer(examples_dir, fit_gms, normalizer, test, score, peer_images_per_gm,
                                            seed, PEER_CELLS[name])
            if keep is not None:
                keep[name], keep["normalizer"] = peer, normalizer
        r = {**r, **common, **extra, "variant": name, "seconds": time.perf_counter() - t0}
        write_json(out_dir / name / "result.json", r, indent=1, strict=False)
        results[name] = r
    return {n: results[n] for n in names}


def model_baselines(meta: dict, examples_dir: str | Path, fold: int, out_dir: str | Path, seed: int = 0,
                    names: tuple[str, ...] = B.LABEL_BASELINES, test: dict[str, np.ndarray] | None = None) -> dict:
    """The label baselines of a trained model's own split (its fitted GMs, the same test GMs, whose
    arrays ``test`` the evaluation has loaded), for the report and the model card:
    ``{baseline: {"summary", "uses_true_family"}}`` or ``{"skipped": why}``."""
    if not has_manifest(examples_dir):
        return {"skipped": f"{examples_dir} has no ingest manifest: baselines need `reparse ingest` output"}
    fraction = (meta.get("preset") or {}).get("validation_fraction", DEFAULT_VALIDATION_FRACTION)
    results = evaluate_baselines(examples_dir, fold, out_dir, names=names, seed=seed, validation_fraction=fraction,
                                 test=test)
    fit = sorted(meta.get("train_gms") or [])
    if fit and any(sorted(r["train_gms"]) != fit for r in results.values()):
        return {"skipped": "the model was fitted on another GM subset than the fold's default split"}
    return {n: {"summary": r["summary"], "uses_true_family": bool(r.get("uses_true_family"))}
            for n, r in results.items()}


def _spectral_peer(examples_dir, fit_gms, normalizer, test, score, per_gm: int, seed: int, cells: int = 0
                   ) -> tuple[dict, dict, object]:
    from reparse_tf.evaluation.spectral_peer import SpectralPeer, spectral_features

    schema = load_schema()
    train = load_examples(examples_dir, fit_gms)
    keep = subsample_per_gm(train["gm"], per_gm, seed)
    images, gms = np.asarray(train["images"])[keep], np.asarray(train["gm"]).astype(str)[keep]
    labels = np.asarray(train["labels"], np.float64)[keep]
    cont, disc = split_labels(labels, normalizer, schema)
    features = spectral_features(images, cells=cells)   # once, for the fit and the held-in scores
    peer = SpectralPeer.fit(images, gms, cont, disc, schema, seed, features=features)
    pred_c, pred_d, probs = peer.predict(features=spectral_features(test["images"], cells=cells))
    heldin_c, heldin_d, _ = peer.predict(features=features)
    heldin = score_predictions(cont, heldin_c, disc, heldin_d, {"gm": gms, "gm_type": train["gm_type"][keep],
                                                                  "content": train["content"][keep]},
                               None, schema, seed, n_images=())["summary"]
    return (score(pred_c, pred_d, probs, per_gm_constant=False),
            {"chosen": peer.chosen, "heldin_summary": heldin, "train_images": int(len(images))}, peer)


def build_spectral_parser(examples_dir: str | Path, fold: int, out_dir: str | Path, seed: int = 0,
                          validation_fraction: float = DEFAULT_VALIDATION_FRACTION):
    """Fit the spectral parser (``spectral_peer_2d``) on ``fold``'s fitted GMs of an ingested zoo (validation GMs
    carved as a training preset with ``validation_fraction`` does, so it fits the same GMs as the parse model),
    measure it on the fold's unseen test GMs beside the constant and the family oracle, and save it with that
    card into ``out_dir`` (:data:`~reparse_tf.model.spectral_parser.SPECTRAL_PARSER_FILES`); returns it."""
    import tempfile

    from reparse_tf.evaluation.metrics import per_parameter_headline
    from reparse_tf.model.spectral_parser import SpectralParser

    names = ("spectral_peer_2d", "constant", "family_oracle")
    keep: dict = {}
    with tempfile.TemporaryDirectory() as scores:   # fitted afresh: the cache would not hold the peer
        results = evaluate_baselines(examples_dir, fold, scores, names, seed, validation_fraction=validation_fraction,
                                     keep=keep)
    first = results[names[0]]
    card = {"examples": str(examples_dir), "fold": fold, "fit_gms": first["train_gms"],
            "test_gms": first["test_gms"], "n_test_images": first["n_test_images"],
            "rows": {n: {"label": LABELS[n], "summary": r["summary"],
                         "per_parameter": per_parameter_headline(r["metrics"])} for n, r in results.items()}}
    image_size = int(read_manifest(examples_dir)["image_size"])
    parser = SpectralParser(keep[names[0]], keep["normalizer"], PEER_CELLS[names[0]], image_size, card)
    parser.save(out_dir)
    return parser
