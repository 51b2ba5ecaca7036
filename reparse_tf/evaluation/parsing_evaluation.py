"""Evaluate a trained model parser on its fold's unseen test GMs (paper Sec. 4).

:func:`evaluate_model` loads a :class:`reparse_tf.serving.inference.ModelParser`, predicts every image of
the fold's test GMs and computes: per-image parsing metrics (:mod:`reparse_tf.evaluation.metrics`), multi-image
parsing (:mod:`reparse_tf.evaluation.aggregation`, Table 8), the "same GM?" pair task (Sec. 3.4 / Table 9),
the content-independence check of the fingerprints (Sec. 4.3), fingerprint samples / spectra and the
GM x GM fingerprint cosine matrix (Fig. 10-11), and TFMA sliced metrics (TF hosts only).
Works without TensorFlow (``KERAS_BACKEND=jax``): data come from npz shards or a RED layout via
:mod:`reparse_tf.data.npz_shards`, and only the TFMA step is skipped, with a note.
"""

from __future__ import annotations

import importlib.util
import time
from pathlib import Path
from typing import Any

import numpy as np

from reparse_tf.data.manifest import manifest_folds
from reparse_tf.data.schema import HyperparameterSchema, load_schema, split_labels
from reparse_tf.evaluation.aggregation import multi_image_eval
from reparse_tf.evaluation.metrics import parsing_metrics
from reparse_tf.evaluation.spectral_peer import SpectralPeer, spectral_features
from reparse_tf.serving.artifacts import write_json

RESULT_FILE = "evaluation.json"


# ---------------------------------------------------------------------------------- data loading
def load_examples(examples_dir: str | Path, gms: list[str], image_size: int | None = None) -> dict[str, np.ndarray]:
    """Arrays (``images``, ``gm``, ``gm_type``, ``content``, ``fold``, ``labels``) of ``gms``.

    Accepts an npz examples dir (``npz/``), a TFRecord examples dir (``tfrecords/``, needs
    TensorFlow) or a RED layout root (``labels.csv`` + image folders).
    """
    d = Path(examples_dir)
    if (d / "npz").is_dir() or any(d.glob("part-*.npz")):
        from reparse_tf.data.npz_shards import read_npz_shards

        arrays = read_npz_shards(d, gms=gms)
    elif (d / "tfrecords").is_dir():
        if importlib.util.find_spec("tensorflow") is None:
            raise ValueError(f"{d}: TFRecord examples need TensorFlow; on this host ingest with --format npz")
        from reparse_tf.data.examples import load_arrays

        arrays = load_arrays(d, gms=gms)
    elif (d / "labels.csv").is_file():
        from reparse_tf.data.npz_shards import read_layout_arrays

        arrays = read_layout_arrays(d, image_size=image_size or 64, gms=gms)
    else:
        raise FileNotFoundError(f"{d}: not an examples dir (no npz/ or tfrecords/) nor a RED layout (no labels.csv)")
    missing = sorted(set(gms) - set(np.asarray(arrays["gm"]).astype(str).tolist()))
    if missing:
        raise ValueError(f"{d}: no images for GMs {', '.join(missing)}")
    return arrays


def resolve_split(meta: dict, folds: dict[str, int] | None, fold: int | None) -> tuple[int, list[str], list[str]]:
    """(fold, train GMs, test GMs) of a model, checked for leakage against the examples' folds."""
    model_fold = meta.get("fold")
    if fold is None:
        fold = model_fold
    if fold is None:
        raise ValueError("the model's parser_meta.json has no fold; pass fold=")
    fold = int(fold)
    if model_fold is not None and int(model_fold) != fold:
        raise ValueError(f"model was trained for fold {model_fold}, asked to evaluate fold {fold}")
    train_gms = [str(g) for g in meta.get("train_gms", [])]
    test_gms = [str(g) for g in meta.get("test_gms", [])]
    if folds is not None:
        fold_test = sorted(g for g, f in folds.items() if f == fold)
        if not fold_test:
            raise ValueError(f"fold {fold} has no GMs in the examples manifest")
        test_gms = fold_test
        if not train_gms:
            train_gms = sorted(g for g, f in folds.items() if f != fold)
    leak = sorted(set(train_gms) & set(test_gms))
    if leak:
        raise ValueError(f"test GMs {', '.join(leak)} were among the model's training GMs (fold {fold})")
    if not test_gms:
        raise ValueError(f"no test GMs for fold {fold}")
    return fold, sorted(train_gms), sorted(test_gms)


def subsample_per_gm(gms: np.ndarray, per_gm: int, seed: int = 0) -> np.ndarray:
    """Sorted indices of at most ``per_gm`` images of every GM."""
    rng = np.random.default_rng(seed)
    gms = np.asarray(gms).astype(str)
    idx = [rng.choice(np.flatnonzero(gms == g), size=min(per_gm, int((gms == g).sum())), replace=False)
           for g in sorted(set(gms.tolist()))]
    return np.sort(np.concatenate(idx)) if idx else np.zeros(0, int)


# ---------------------------------------------------------------------------------- analyses
def radial_spectrum(x: np.ndarray, bins: int = 16) -> np.ndarray:
    """``[N, bins]`` log radial power spectrum of ``[N,H,W,C]`` arrays (channel mean, DC removed)."""
    g = np.asarray(x, np.float64).mean(axis=-1)
    g = g - g.mean(axis=(1, 2), keepdims=True)
    power = np.abs(np.fft.fftshift(np.fft.fft2(g), axes=(1, 2))) ** 2
    h, w = g.shape[1:]
    yy, xx = np.mgrid[0:h, 0:w]
    r = np.hypot(yy - h // 2, xx - w // 2)
    edges = np.linspace(0, r.max() + 1e-9, bins + 1)
    which = np.clip(np.digitize(r.ravel(), edges) - 1, 0, bins - 1)
    counts = np.bincount(which, minlength=bins).astype(float)
    flat = power.reshape(len(g), -1)
    radial = np.stack([np.bincount(which, weights=row, minlength=bins) for row in flat]) / np.maximum(counts, 1)
    return np.log1p(radial)


def fingerprint_features(x: np.ndarray) -> np.ndarray:
    """Pooled statistics of fingerprints: radial spectrum + per-channel mean / std."""
    x = np.asarray(x, np.float64)
    return np.concatenate([radial_spectrum(x), x.mean(axis=(1, 2)), x.std(axis=(1, 2))], axis=1)


def content_check(train_x: np.ndarray, train_content: np.ndarray, test_x: np.ndarray,
                  test_content: np.ndarray, seed: int = 0) -> dict:
    """Logistic regression on pooled fingerprint statistics: train GMs -> content, tested on test GMs.

    A fingerprint free of content should score near chance: ``chance`` is a uniform guess over the
    training contents (1 / their number); ``majority_rate`` the accuracy of always answering the
    training majority content (0 when no test GM has that content).
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    train_content = np.asarray(train_content).astype(str)
    test_content = np.asarray(test_content).astype(str)
    classes = sorted(set(train_content.tolist()))
    if len(classes) < 2:
        return {"skipped": f"training GMs have a single content class ({classes})"}
    clf = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000, random_state=seed))
    clf.fit(fingerprint_features(train_x), train_content)
    pred = clf.predict(fingerprint_features(test_x))
    values, counts = np.unique(train_content, return_counts=True)
    majority = values[np.argmax(counts)]
    return {"accuracy": float(np.mean(pred == test_content)), "chance": 1.0 / len(classes),
            "majority_rate": float(np.mean(test_content == majority)), "majority_class": str(majority),
            "classes": classes, "n_train": int(len(train_content)), "n_test": int(len(test_content)),
            "test_classes": sorted(set(test_content.tolist()))}


def embedding_probes(train_emb: np.ndarray, train: dict, test_emb: np.ndarray, test: dict, seed: int = 0) -> dict:
    """Linear probes (logistic regression) on the frozen shared-encoder embedding: trained on training-GM
    images to predict the family (``gm_type``) and the content, scored on the test GMs' images.

    A high family probe with a poor parser says the network sees the family but does not map it to
    the labels; a high content probe says the embedding carries content (a shortcut)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    out = {}
    for key in ("gm_type", "content"):
        y_tr, y_te = np.asarray(train[key]).astype(str), np.asarray(test[key]).astype(str)
        if len(set(y_tr.tolist())) < 2:
            out[key] = {"skipped": f"training GMs have a single {key}"}
            continue
        clf = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000, random_state=seed))
        clf.fit(train_emb, y_tr)
        values, counts = np.unique(y_tr, return_counts=True)
        out[key] = {"accuracy": float(np.mean(clf.predict(test_emb) == y_te)),
                    "chance": float(np.mean(y_te == values[np.argmax(counts)])),
                    "train_accuracy": float(np.mean(clf.predict(train_emb) == y_tr))}
    return out


def linear_heads(features: dict[str, tuple[np.ndarray, np.ndarray]], train: dict, test: dict, normalizer,
                 schema: HyperparameterSchema | None = None, seed: int = 0) -> dict:
    """Regularised linear parsers (the spectral peer's ridge / logistic heads, penalty chosen by
    GM-grouped CV) on frozen features: ``{name: (train_features, test_features)}`` -> ``{name: scores}``
    (:func:`score_predictions`' dict plus the ``chosen`` penalties).

    Fitted on the same training-GM images for every feature set, so the rows compare representations:
    if the network's embedding or fingerprint beats the image spectrum under the same heads, the
    features transfer and it is the network's own heads that overfit."""
    schema = schema or load_schema()
    cont, disc = split_labels(train["labels"], normalizer, schema)
    true_cont, true_disc = split_labels(test["labels"], normalizer, schema)
    out = {}
    for name, (x_train, x_test) in features.items():
        peer = SpectralPeer.fit(None, train["gm"], cont, disc, schema, seed, features=np.asarray(x_train, np.float64))
        pc, pd, probs = peer.predict(features=np.asarray(x_test, np.float64))
        out[name] = {**score_predictions(true_cont, pc, true_disc, pd, test, probs, schema, seed),
                     "chosen": peer.chosen}
    return out


def representation_heads(parser: Any, train: dict, test: dict, schema: HyperparameterSchema | None = None,
                         seed: int = 0, batch_size: int = 64, embeddings: tuple | None = None,
                         fingerprints: tuple | None = None) -> dict:
    """:func:`linear_heads` on the image spectrum (the spectral peer's features), the model's embedding
    and its fingerprint's spectrum (when it has a FEN), all fitted on ``train``'s images.
    ``embeddings`` / ``fingerprints``: (train, test) arrays already computed (None: computed here)."""
    emb_train, emb_test = embeddings or (parser.embed(train["images"], batch_size=batch_size),
                                         parser.embed(test["images"], batch_size=batch_size))
    heads = {"image spectrum": (spectral_features(train["images"]), spectral_features(test["images"])),
             "embedding": (emb_train, emb_test)}
    fp_train, fp_test = fingerprints or (parser.fingerprints(train["images"], batch_size=batch_size),
                                         parser.fingerprints(test["images"], batch_size=batch_size))
    if fp_train is not None:
        heads["fingerprint spectrum"] = (fingerprint_features(fp_train), fingerprint_features(fp_test))
    return linear_heads(heads, train, test, parser.normalizer, schema, seed)


def pair_task(train: dict, test: dict, n_pairs: int = 2000, seed: int = 0) -> dict:
    """"Same GM?" from the parsed score of :mod:`reparse_tf.evaluation.same_source`, in brief: AUC on pairs of test
    GMs, accuracy at the threshold chosen on pairs of training GMs (``reparse same-source --evaluate``
    does the full protocol, thresholds from validation GMs).

    ``train`` / ``test``: dicts with ``cont`` [N,9], ``disc`` [N,16], ``gm`` [N].
    """
    from reparse_tf.evaluation.same_source import choose_threshold, pair_metrics, parsed_similarity, sample_pairs

    rng = np.random.default_rng(seed)

    def scores(d: dict, unseen: bool):
        pairs = sample_pairs(d["gm"], set(np.asarray(d["gm"]).astype(str).tolist()) if unseen else set(),
                             n_pairs // 2, rng)
        return parsed_similarity(d["cont"][pairs.i], d["disc"][pairs.i], d["cont"][pairs.j], d["disc"][pairs.j]), pairs

    s_tr, p_tr = scores(train, False)
    s_te, p_te = scores(test, True)
    if len(set(p_tr.same.tolist())) < 2 or len(set(p_te.same.tolist())) < 2:
        return {"skipped": "need same-GM and different-GM pairs on both sides"}
    thr = choose_threshold(s_tr, p_tr.same)[0]
    m, tr = pair_metrics(s_te, p_te, thr), pair_metrics(s_tr, p_tr, thr)
    return {"auc": m["auc"], "accuracy": m["accuracy"], "threshold": thr, "train_accuracy": tr["accuracy"],
            "train_auc": tr["auc"], "n_test_pairs": m["n_pairs"], "n_train_pairs": tr["n_pairs"]}


def fingerprint_cosine_matrix(fps: np.ndarray, gms: np.ndarray, per_gm: int = 8, seed: int = 0) -> dict:
    """GM x GM mean cosine similarity of fingerprint pairs (Fig. 11); the diagonal excludes self-pairs."""
    rng = np.random.default_rng(seed)
    gms = np.asarray(gms).astype(str)
    names = sorted(set(gms.tolist()))
    vecs = []
    for g in names:
        idx = np.flatnonzero(gms == g)
        idx = rng.choice(idx, size=min(per_gm, len(idx)), replace=False)
        v = np.asarray(fps[idx], np.float64).reshape(len(idx), -1)
        vecs.append(v / np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-12))
    mat = np.zeros((len(names), len(names)))
    for a in range(len(names)):
        for b in range(len(names)):
            c = vecs[a] @ vecs[b].T
            if a == b:
                n = len(c)
                mat[a, b] = (c.sum() - np.trace(c)) / (n * (n - 1)) if n > 1 else np.nan
            else:
                mat[a, b] = c.mean()
    diag = np.nanmean(np.diag(mat)) if len(names) else np.nan
    off = mat[~np.eye(len(names), dtype=bool)]
    return {"gms": names, "matrix": [[None if not np.isfinite(x) else float(x) for x in row] for row in mat],
            "intra_mean": None if not np.isfinite(diag) else float(diag),
            "inter_mean": float(off.mean()) if off.size else None}


def _spectrum(fp: np.ndarray) -> np.ndarray:
    """Log-magnitude centred spectrum of fingerprints ``[n,H,W,C]`` averaged over samples -> ``[H,W]``."""
    g = np.asarray(fp, np.float64).mean(axis=-1)
    return np.log1p(np.abs(np.fft.fftshift(np.fft.fft2(g - g.mean(axis=(1, 2), keepdims=True)), axes=(1, 2)))).mean(0)


# ---------------------------------------------------------------------------------- evaluation
def _headline(metrics: dict) -> dict:
    """The dotted-path friendly view: ``continuous.l1``, ``discrete.f1``, ``loss.accuracy`` ..."""
    s = metrics["summary"]
    return {"continuous": {k.removeprefix("continuous_"): v for k, v in s.items() if k.startswith("continuous_")},
            "discrete": {k.removeprefix("discrete_"): v for k, v in s.items() if k.startswith("discrete_")},
            "loss": {k.removeprefix("loss_"): v for k, v in s.items() if k.startswith("loss_")}}


#: the per-GM scores of every evaluation (the units of the paired tests over test GMs)
GM_KEYS = ("continuous_l1", "discrete_accuracy", "loss_accuracy", "discrete_f1", "loss_f1")


def per_gm_scores(true_cont: np.ndarray, pred_cont: np.ndarray, true_disc: np.ndarray, pred_disc: np.ndarray,
                  gms: np.ndarray, schema: HyperparameterSchema | None = None) -> dict[str, dict[str, float]]:
    """``{gm: {GM_KEYS score: value}}`` over each GM's rows (no RANSAC slopes: none is read per GM)."""
    gms = np.asarray(gms).astype(str)
    out = {}
    for g in sorted(set(gms.tolist())):
        m = gms == g
        s = parsing_metrics(true_cont[m], pred_cont[m], true_disc[m], pred_disc[m], schema, slope=False)["summary"]
        out[g] = {k: s[k] for k in GM_KEYS}
    return out


def score_predictions(true_cont: np.ndarray, pred_cont: np.ndarray, true_disc: np.ndarray, pred_disc: np.ndarray,
                      test: dict[str, np.ndarray], probs: list[np.ndarray] | None = None,
                      schema: HyperparameterSchema | None = None, seed: int = 0,
                      n_images: tuple[int, ...] = (1, 10, 100), repeats: int = 5) -> dict:
    """Per-image metrics, per-GM scores and per-GM aggregated (multi-image) metrics of one parser's
    predictions on the test images (``test``: ``gm``, ``gm_type``, ``content`` per image). The model
    and every baseline are scored by this one function."""
    schema = schema or load_schema()
    gms = np.asarray(test["gm"]).astype(str)
    metrics = parsing_metrics(true_cont, pred_cont, true_disc, pred_disc, schema, seed)
    names, first, counts = np.unique(gms, return_index=True, return_counts=True)
    scores = per_gm_scores(true_cont, pred_cont, true_disc, pred_disc, gms, schema)
    per_gm = {g: {"gm_type": str(np.asarray(test["gm_type"])[i]), "content": str(np.asarray(test["content"])[i]),
                  "n": int(n), **scores[g]} for g, i, n in zip(names.tolist(), first, counts, strict=True)}
    return {"summary": metrics["summary"], "metrics": metrics, "per_gm": per_gm,
            "multi_image": multi_image_eval(pred_cont, pred_disc, probs, gms, true_cont, true_disc, n_images,
                                            repeats, seed, schema=schema)}


def evaluate_arrays(parser: Any, test: dict[str, np.ndarray], train: dict[str, np.ndarray] | None, out_dir: str | Path,
                    fold: int, tfma: bool = True, schema: HyperparameterSchema | None = None, seed: int = 0,
                    n_images: tuple[int, ...] = (1, 10, 100), repeats: int = 5, n_pairs: int = 2000,
                    fingerprint_samples: int = 4, batch_size: int = 64, readout: bool = True) -> dict:
    """Evaluate ``parser`` on test arrays (see :func:`evaluate_model`); ``train`` is a per-GM sample of
    training-GM images used for the pair threshold, the content check, the embedding probes and
    (``readout``) the linear heads of :func:`representation_heads` (None skips them all)."""
    schema = schema or load_schema()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    notes: list[str] = []
    t0 = time.perf_counter()
    pred = parser.predict(test["images"], batch_size=batch_size)
    predict_s = time.perf_counter() - t0
    norm = parser.normalizer
    true_cont, true_disc = split_labels(test["labels"], norm, schema)
    gms = np.asarray(test["gm"]).astype(str)
    scored = score_predictions(true_cont, pred.continuous, true_disc, pred.discrete, test, pred.probs, schema,
                               seed, n_images, repeats)
    result: dict[str, Any] = {
        "fold": fold, "n_test_images": int(len(gms)), "test_gms": sorted(set(gms.tolist())),
        "predict_seconds": predict_s, "predict_ms_per_image": 1000 * predict_s / max(len(gms), 1),
        **_headline(scored["metrics"]), **scored,
    }
    np.savez(out_dir / "predictions.npz", gm=gms, continuous=pred.continuous, discrete=pred.discrete,
             true_continuous=true_cont, true_discrete=true_disc)
    # each parser alone: does the instance parser's deviation (and the fusion) help on unseen GMs?
    if hasattr(parser, "parser_parts"):
        result["parser_parts"] = {part: parsing_metrics(true_cont, pp.continuous, true_disc, pp.discrete, schema,
                                                        seed)["summary"]
                                  for part, pp in parser.parser_parts(test["images"], batch_size).items()}

    # pair task + content check need training-GM images
    fp_test = parser.fingerprints(test["images"], batch_size=batch_size)
    if train is not None and len(train["images"]):
        tr_pred = parser.predict(train["images"], batch_size=batch_size)
        result["pair_task"] = pair_task({"cont": tr_pred.continuous, "disc": tr_pred.discrete, "gm": train["gm"]},
                                        {"cont": pred.continuous, "disc": pred.discrete, "gm": gms}, n_pairs, seed)
        emb_train = parser.embed(train["images"], batch_size=batch_size)
        emb_test = parser.embed(test["images"], batch_size=batch_size)
        result["embedding_probes"] = embedding_probes(emb_train, train, emb_test, test, seed)
        fp_train = None if fp_test is None else parser.fingerprints(train["images"], batch_size=batch_size)
        if readout:
            result["linear_heads"] = representation_heads(parser, train, test, schema, seed, batch_size,
                                                          (emb_train, emb_test), (fp_train, fp_test))
        if fp_test is None:
            result["content_independence"] = {"skipped": "model has no fingerprint estimator (CNN backbone)"}
        else:
            result["content_independence"] = {
                "fingerprint": content_check(fp_train, train["content"], fp_test, test["content"], seed),
                # same classifier on the images themselves: shows content *is* learnable from pixels
                "image_reference": content_check(train["images"], train["content"], test["images"], test["content"],
                                                 seed)}
    else:
        notes.append("no training-GM images given: pair task and content check skipped")

    # fingerprint figures (Fig. 10-11)
    if fp_test is not None:
        pick = subsample_per_gm(gms, fingerprint_samples, seed)
        names = sorted(set(gms.tolist()))
        first = [int(np.flatnonzero(gms == g)[0]) for g in names]
        spectra = np.stack([_spectrum(fp_test[pick[gms[pick] == g]]) for g in names])
        np.savez(out_dir / "fingerprints.npz", gms=np.array(names), images=np.asarray(test["images"])[first],
                 fingerprints=np.asarray(fp_test)[first].astype(np.float32), spectra=spectra.astype(np.float32))
        result["fingerprint_similarity"] = fingerprint_cosine_matrix(fp_test[pick], gms[pick], seed=seed)
        result["fingerprint_magnitude"] = float(np.mean(np.abs(fp_test)))
    else:
        notes.append("model has no fingerprint estimator: fingerprint figures skipped")

    # TFMA (TensorFlow hosts only)
    if not tfma:
        notes.append("TFMA disabled (tfma=False)")
    elif any(importlib.util.find_spec(m) is None for m in ("tensorflow", "tensorflow_model_analysis")):
        notes.append("TFMA skipped: TensorFlow / tensorflow_model_analysis not installed on this host")
    else:
        from reparse_tf.evaluation.tfma_eval import run_tfma, slice_summary, write_prediction_records

        meta = {k: np.asarray(test[k]).astype(str) for k in ("gm", "gm_type", "content", "path") if k in test}
        if "fold" in test:
            meta["fold"] = np.asarray(test["fold"])
        records = write_prediction_records(out_dir / "predictions.tfrecord.gz", meta, true_cont, pred.continuous,
                                           true_disc, pred.probs, schema)
        table = run_tfma(records, out_dir / "tfma", schema)
        result["tfma"] = {"predictions": str(records), "slices": slice_summary(table, schema),
                          "table": str(out_dir / "tfma" / "tfma_slices.json")}
    result["notes"] = notes
    write_json(out_dir / RESULT_FILE, result, indent=1)
    return result


def evaluation_arrays(parser: Any, examples_dir: str | Path, fold: int | None = None, train_images_per_gm: int = 16,
                      seed: int = 0) -> tuple[int, list[str], dict, dict | None]:
    """(fold, training GMs, test arrays, a sample of ``train_images_per_gm`` images per training GM or None)
    for a loaded parser: its fold's test GMs of ``examples_dir``."""
    fold, train_gms, test_gms = resolve_split(dict(parser.meta), manifest_folds(examples_dir), fold)
    test = load_examples(examples_dir, test_gms, parser.image_size)
    train = None
    if train_gms and train_images_per_gm > 0:
        train = load_examples(examples_dir, train_gms, parser.image_size)
        keep = subsample_per_gm(train["gm"], train_images_per_gm, seed)
        train = {k: np.asarray(v)[keep] for k, v in train.items()}
    return fold, train_gms, test, train


def evaluate_model(model_dir: str | Path, examples_dir: str | Path, out_dir: str | Path, fold: int | None = None,
                   tfma: bool = True, *, train_images_per_gm: int = 16, seed: int = 0, **kwargs: Any) -> dict:
    """Evaluate the model of ``model_dir`` on its fold's test GMs of ``examples_dir``.

    Writes ``out_dir/evaluation.json`` (every number), ``predictions.npz``, ``fingerprints.npz`` and,
    on TensorFlow hosts, ``predictions.tfrecord.gz`` + ``tfma/``. Returns the result dict:
    ``continuous`` / ``discrete`` / ``loss`` headline metrics, ``summary``, per-parameter
    ``metrics``, ``per_gm``, ``multi_image``, ``pair_task``, ``content_independence``,
    ``fingerprint_similarity``, ``tfma`` and ``notes``.
    """
    from reparse_tf.serving.inference import ModelParser

    model_dir, examples_dir, out_dir = Path(model_dir), Path(examples_dir), Path(out_dir)
    parser = ModelParser.load(model_dir)
    fold, train_gms, test, train = evaluation_arrays(parser, examples_dir, fold, train_images_per_gm, seed)
    result = evaluate_arrays(parser, test, train, out_dir, fold, tfma, seed=seed, **kwargs)
    result.update({"model_dir": str(model_dir), "examples_dir": str(examples_dir), "train_gms": train_gms,
                   "variant": dict(parser.meta.get("variant", {})), "preset": parser.meta.get("preset")})
    from reparse_tf.evaluation.baseline_evaluation import model_baselines  # imports this module

    result["baselines"] = model_baselines(dict(parser.meta), examples_dir, fold, out_dir / "baselines", seed,
                                          test=test)
    write_json(out_dir / RESULT_FILE, result, indent=1)
    print(f"[reparse evaluate] fold {fold}: {len(result['test_gms'])} test GMs, {result['n_test_images']} images -> "
          f"{out_dir / RESULT_FILE}")
    return result
