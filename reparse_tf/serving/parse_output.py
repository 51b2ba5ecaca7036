"""What ``reparse parse`` answers: the 25 parsed hyperparameters of each image, or of each folder
(multi-image parsing as in the evaluation: mean of the continuous parameters, majority vote of the
discrete ones), as JSON-ready records and a readable table.

Per parameter: ``value`` (raw units for continuous, class name for discrete) and ``confidence``:
the class probability of a discrete answer (per folder: the mean probability of the voted class
and the fraction of images that voted for it); for a continuous answer per folder, the standard
deviation across the folder's images in raw units (none for a single image). Continuous values are
clipped to the range of the training GMs (the min-max normaliser's), since a regression head can
overshoot it (a negative layer count); ``normalized`` keeps the unclipped prediction.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from reparse_tf.data.schema import HyperparameterSchema, MinMaxNormalizer, load_schema
from reparse_tf.evaluation.aggregation import aggregate_gm
from reparse_tf.serving.inference import Predictions


def _parameters(pred: Predictions, rows: np.ndarray, normalizer: MinMaxNormalizer,
                schema: HyperparameterSchema) -> list[dict[str, Any]]:
    """Parameter records of the images ``rows`` of ``pred`` (one image, or aggregated)."""
    cont, disc = aggregate_gm(pred.continuous[rows], pred.discrete[rows], [p[rows] for p in pred.probs], schema)
    lo, hi = normalizer.inverse_transform(np.stack([np.zeros(len(cont)), np.ones(len(cont))]))
    raw = np.clip(np.asarray(pred.continuous_raw)[rows], lo, hi)
    out: list[dict[str, Any]] = []
    mean_raw = raw.mean(axis=0)
    for j, p in enumerate(schema.continuous):
        rec = {"name": p.name, "kind": "continuous", "value": float(mean_raw[j]), "normalized": float(cont[j]),
               "range": [float(lo[j]), float(hi[j])]}
        rec["spread"] = float(raw[:, j].std()) if len(rows) > 1 else None
        out.append(rec)
    for j, p in enumerate(schema.discrete):
        code = int(disc[j])
        rec = {"name": p.name, "kind": "loss" if p.group == "loss" else "discrete", "value": p.classes[code],
               "code": code, "probability": float(np.asarray(pred.probs[j])[rows, code].mean())}
        if len(rows) > 1:
            rec["agreement"] = float(np.mean(pred.discrete[rows, j] == code))
        out.append(rec)
    return out


def parse_records(pred: Predictions, paths: list[str], normalizer: MinMaxNormalizer, folders: list[str] | None = None,
                  schema: HyperparameterSchema | None = None) -> list[dict[str, Any]]:
    """One record per image (``folders`` None) or per folder: ``{"source", "n_images", "parameters"}``."""
    schema = schema or load_schema()
    if folders is None:
        return [{"source": path, "n_images": 1, "parameters": _parameters(pred, np.array([i]), normalizer, schema)}
                for i, path in enumerate(paths)]
    folders_arr = np.asarray(folders, dtype=object)
    return [{"source": f, "n_images": int(np.sum(folders_arr == f)),
             "parameters": _parameters(pred, np.flatnonzero(folders_arr == f), normalizer, schema)}
            for f in dict.fromkeys(folders)]


def confidence_text(rec: dict[str, Any], unit: str = "images") -> str:
    """The confidence column of one parameter record (``unit``: what was aggregated, images or sets)."""
    if rec["kind"] == "continuous":
        return "" if rec["spread"] is None else f"± {rec['spread']:.3g} (spread)"
    text = f"p = {rec['probability']:.2f}"
    return text + (f", {rec['agreement']:.0%} of {unit}" if "agreement" in rec else "")


def value_text(rec: dict[str, Any]) -> str:
    return f"{rec['value']:.4g}" if rec["kind"] == "continuous" else str(rec["value"])
