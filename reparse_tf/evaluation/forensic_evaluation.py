"""Evaluation of the deepfake detector and the attribution network on a fold's held-out data.

Rebuilds the splits the model was trained with (:func:`reparse_tf.training.forensic_training.forensic_splits`,
same seeds, same real images) and scores the ``test`` split only, beside its chance level and a
no-FEN peer from the same run: the spectral features of :mod:`reparse_tf.evaluation.spectral_peer` (the
frequency-analysis detectors of Durall et al. / Frank et al. / Dzanic et al.) into a class-balanced
logistic regression fitted on the training split.

- detect: ROC AUC of P(generated) on unseen GMs vs unseen real images, per GM family; accuracy,
  balanced accuracy and per-family detection rate at the threshold chosen on validation data.
- attribute: closed-set accuracy over real + every fit GM on held-out images, per class, confusion
  matrix; open-set AUROC of the "unknown generator" scores (unseen GMs vs held-out known images)
  and the rates at the threshold chosen on validation GMs.

Writes ``<task>.json``, ``<task>.md`` and ``report.html`` to the output folder.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from reparse_tf.serving.artifacts import write_json
from reparse_tf.serving.forensic_inference import SourceClassifier, load_classifier
from reparse_tf.training.forensic_training import (
    SourceSet,
    class_ids,
    model_splits,
    probabilities,
    unknown_scores,
)


def _auc(y: np.ndarray, s: np.ndarray) -> float | None:
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(y, s)) if len(set(np.asarray(y).tolist())) == 2 else None


def fit_spectral_peer(train: SourceSet, y_train: np.ndarray, per_source: int = 150, seed: int = 0):
    """A class-balanced logistic regression on spectral features of ``per_source`` training images of every
    source; returns ``images -> class probabilities [N, C]``."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from reparse_tf.evaluation.parsing_evaluation import subsample_per_gm
    from reparse_tf.evaluation.spectral_peer import spectral_features

    rows = subsample_per_gm(train.source, per_source, seed)
    clf = make_pipeline(StandardScaler(), LogisticRegression(C=0.1, max_iter=2000, class_weight="balanced"))
    clf.fit(spectral_features(train.images[rows]), y_train[rows])
    n_classes = int(y_train.max()) + 1

    def predict(images: np.ndarray) -> np.ndarray:
        full = np.zeros((len(images), n_classes))
        full[:, clf.classes_] = clf.predict_proba(spectral_features(images))
        return full

    return predict


def detection_metrics(p: np.ndarray, test: SourceSet, threshold: float) -> dict[str, Any]:
    """AUC overall, per family and per GM (its images vs every real image, and vs the real images of its
    content), rates at ``threshold``."""
    y = test.generated
    pred = p >= threshold
    real = ~y
    fams = sorted(set(test.family[y].tolist()))
    per_family = {f: {"auc": _auc(y[(test.family == f) | real], p[(test.family == f) | real]),
                      "detection_rate": float(pred[test.family == f].mean()),
                      "n_gms": int(len(set(test.source[test.family == f].tolist())))} for f in fams}
    per_gm = {}
    for g in sorted(set(test.source[y].tolist())):
        rows = test.source == g
        # against the real images of the GM's own content too: what the detector sees of the generator, not of
        # the content (contents differ in how generated their real images look)
        own = real & np.isin(test.content, np.unique(test.content[rows]))
        per_gm[g] = {"family": str(test.family[rows][0]), "auc": _auc(y[rows | real], p[rows | real]),
                     "auc_own_content": _auc(y[rows | own], p[rows | own]),
                     "detection_rate": float(pred[rows].mean())}
    return {"auc": _auc(y, p), "accuracy": float((pred == y).mean()),
            "balanced_accuracy": float((pred[y].mean() + (~pred[real]).mean()) / 2),
            "real_accepted_rate": float((~pred[real]).mean()), "detection_rate": float(pred[y].mean()),
            "per_family": per_family, "per_gm": per_gm, "threshold": float(threshold),
            "n_generated": int(y.sum()), "n_real": int(real.sum())}


def attribution_metrics(probs: np.ndarray, y: np.ndarray, classes: list[str], test: SourceSet) -> dict[str, Any]:
    """Closed-set accuracy over the known classes' held-out images: balanced (the mean over classes: the
    real class has more held-out images than any GM) and per image; per class and per family."""
    from sklearn.metrics import confusion_matrix

    known = y >= 0
    pred = np.argmax(probs[known], axis=1)
    right = pred == y[known]
    per_class = {c: float(right[y[known] == k].mean()) for k, c in enumerate(classes) if np.any(y[known] == k)}
    fam = test.family[known]
    return {"balanced_accuracy": float(np.mean(list(per_class.values()))), "accuracy": float(right.mean()),
            "n_images": int(known.sum()), "n_classes": len(classes),
            "per_class_min": float(min(per_class.values())), "per_class": per_class,
            "per_family": {f: float(right[fam == f].mean()) for f in sorted(set(fam.tolist()))},
            "confusion_matrix": confusion_matrix(y[known], pred, labels=np.arange(len(classes))).tolist()}


def open_set_metrics(logits: np.ndarray, y: np.ndarray, thresholds: dict) -> dict[str, Any]:
    """AUROC of each unknown-generator score (unseen GMs vs known held-out images), rates at the threshold."""
    unknown = y < 0
    out = {}
    for name, s in unknown_scores(logits).items():
        thr = thresholds.get(name, {}).get("threshold")
        row: dict[str, Any] = {"auroc": _auc(unknown, s), "threshold": thr}
        if thr is not None:
            flagged = s >= thr
            row |= {"unknown_flagged_rate": float(flagged[unknown].mean()) if unknown.any() else None,
                    "known_flagged_rate": float(flagged[~unknown].mean())}
        out[name] = row
    return out | {"n_unknown": int(unknown.sum()), "n_known": int((~unknown).sum())}


def evaluate_forensic(model_dir: str | Path, examples_dir: str | Path, out_dir: str | Path,
                      arrays: dict[str, np.ndarray] | None = None, peer: bool = True) -> dict[str, Any]:
    """Score a detector / attribution MODEL DIR on its fold's test split; write ``<task>.json`` / ``.md``."""
    clf: SourceClassifier = load_classifier(model_dir)
    meta = clf.meta
    try:
        # the spectral peer is fitted on the training split without the model's synthetic attacks
        splits, real = model_splits(meta, examples_dir, arrays, synthetic_attacks=False)
    except ValueError as e:
        raise ValueError(f"{model_dir}: {e}") from None
    test = splits["test"]
    y = class_ids(clf.task, test.source, clf.classes)
    result: dict[str, Any] = {"task": clf.task, "fold": meta["fold"], "model": str(model_dir),
                              "selected_epoch": meta.get("selected_epoch"),
                              "validation_score": meta.get("validation_score"),
                              "real_source": real.source, "n_test_gms": len(meta["test_gms"]),
                              "n_train_gms": len(meta["train_gms"]), "examples_dir": str(examples_dir),
                              "test_gms": list(meta["test_gms"]), "n_test_images": len(test.images)}
    y_train = class_ids(clf.task, splits["train"].source, clf.classes)
    if clf.task == "detect":
        p = clf.p_generated(test.images)
        result["method"] = detection_metrics(p["p_generated"], test,
                                             clf.thresholds.get("p_generated", {}).get("threshold", 0.5))
        if "network" in p:   # the parts of the answer alone: the network at its own threshold, the residual
            # detector ranked only (AUCs; its threshold was never chosen alone)
            result["network"] = detection_metrics(p["network"], test,
                                                  clf.thresholds["p_generated_network"]["threshold"])
            result["residual_detector"] = detection_metrics(p["residual"], test, 0.5)
        result["chance"] = {"auc": 0.5, "balanced_accuracy": 0.5}
        if peer:
            from reparse_tf.evaluation.same_source import choose_threshold

            val, peer_probs = splits["validation"], fit_spectral_peer(splits["train"], y_train)
            peer_thr = choose_threshold(peer_probs(val.images)[:, 1], val.generated, balanced=True)[0]
            result["spectral_peer"] = detection_metrics(peer_probs(test.images)[:, 1], test, peer_thr)
    else:
        logits = clf.logits(test.images)
        result["method"] = attribution_metrics(probabilities(clf.task, logits), y, clf.classes, test)
        result["open_set"] = open_set_metrics(logits, y, clf.thresholds)
        result["chance"] = {"accuracy": 1 / len(clf.classes), "auroc": 0.5}
        result["classes"] = clf.classes
        if peer:
            result["spectral_peer"] = attribution_metrics(fit_spectral_peer(splits["train"], y_train)(test.images), y,
                                                          clf.classes, test)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / f"{clf.task}.json", result)
    (out / f"{clf.task}.md").write_text(markdown(result))
    from reparse_tf.evaluation.report import write_forensic_report

    write_forensic_report(result, out)
    return result


#: the rows of a detection result: the model's answer, its parts alone (a model with a residual detector), the peer
DETECTORS = (("detect model (network + residual detector when it has one)", "method"),
             ("its network alone (FEN + 5 conv + 2 FC)", "network"),
             ("its residual detector alone (AUC only)", "residual_detector"),
             ("spectral peer", "spectral_peer"))


def _f(v: float | None) -> str:
    return "n/a" if v is None else f"{v:.3f}"


def markdown(result: dict[str, Any]) -> str:
    """A short report of one :func:`evaluate_forensic` result."""
    lines = [f"# {result['task']}: fold {result['fold']} ({result['n_train_gms']} training GMs, "
             f"{result['n_test_gms']} unseen test GMs; real images: {result['real_source']})", ""]
    if result["task"] == "detect":
        lines += ["| | AUC | balanced accuracy | detection rate | real accepted |", "| --- | --- | --- | --- | --- |"]
        for name, key in DETECTORS:
            if key in result:
                m = result[key]
                rates = ["—"] * 3 if key == "residual_detector" else \
                    [_f(m[k]) for k in ("balanced_accuracy", "detection_rate", "real_accepted_rate")]
                lines.append(f"| {name} | {_f(m['auc'])} | {' | '.join(rates)} |")
        lines += ["| chance | 0.500 | 0.500 | | |", "", "| family | AUC | detection rate | GMs |",
                  "| --- | --- | --- | --- |"]
        lines += [f"| {f} | {_f(v['auc'])} | {_f(v['detection_rate'])} | {v['n_gms']} |"
                  for f, v in result["method"]["per_family"].items()]
    else:
        m = result["method"]
        peer = result.get("spectral_peer", {})
        lines += [f"Closed set ({m['n_classes']} classes, {m['n_images']} held-out images): balanced accuracy "
                  f"{_f(m['balanced_accuracy'])} (per image {_f(m['accuracy'])}, worst class "
                  f"{_f(m['per_class_min'])}); spectral peer {_f(peer.get('balanced_accuracy'))} (per image "
                  f"{_f(peer.get('accuracy'))}); chance {_f(result['chance']['accuracy'])}.",
                  "", "| unknown-generator score | AUROC | unseen GMs flagged | known flagged |",
                  "| --- | --- | --- | --- |"]
        for name in ("msp", "energy"):
            o = result["open_set"][name]
            lines.append(f"| {name} | {_f(o['auroc'])} | {_f(o.get('unknown_flagged_rate'))} | "
                         f"{_f(o.get('known_flagged_rate'))} |")
    return "\n".join(lines) + "\n"
