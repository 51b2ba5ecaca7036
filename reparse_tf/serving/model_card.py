"""The model card a pushed SavedModel carries (``assets.extra/model_card.json``): what the model was
measured at on GMs it never saw, beside the baselines of the same evaluation, so whoever serves it can
read how far to trust it."""

from __future__ import annotations

import datetime
import json
import platform
from pathlib import Path
from typing import Any

from reparse_tf.evaluation.variants import TABLE_COLUMNS
from reparse_tf.training.hardware import processor_name

CARD_FILE = "model_card.json"


def load_card(directory: str | Path) -> dict | None:
    """The card an evaluator wrote into ``directory`` (a blessing folder), None when there is none."""
    path = Path(directory) / CARD_FILE
    return json.loads(path.read_text()) if path.is_file() else None


def _scalars(values: dict | None) -> dict[str, Any]:
    return {k: v for k, v in (values or {}).items() if isinstance(v, bool | int | float | str) or v is None}


def _summary(row: dict) -> dict[str, Any]:
    return {k: row.get("summary", {}).get(k) for k in TABLE_COLUMNS}


def model_card(evaluation: dict) -> dict[str, Any]:
    """The card of an evaluation result (:func:`reparse_tf.evaluation.parsing_evaluation.evaluate_model`
    or :func:`reparse_tf.evaluation.forensic_evaluation.evaluate_forensic`)."""
    task = evaluation.get("task", "parse")
    card: dict[str, Any] = {
        "task": task, "fold": evaluation.get("fold"), "examples_dir": evaluation.get("examples_dir"),
        "test_gms": evaluation.get("test_gms"), "n_test_images": evaluation.get("n_test_images"),
        "measured": {"date": datetime.date.today().isoformat(), "machine": platform.platform(),
                     "processor": processor_name()},
        "note": "figures on GMs unseen in training; baselines from the same evaluation",
    }
    if task == "parse":
        card["metrics"] = _summary(evaluation)
        card["baselines"] = {n: {**_summary(b), "uses_true_family": b.get("uses_true_family", False)}
                             for n, b in (evaluation.get("baselines") or {}).items() if isinstance(b, dict)
                             and "summary" in b}
        card["linear_heads"] = {n: _summary(h) for n, h in (evaluation.get("linear_heads") or {}).items()
                                if isinstance(h, dict) and "summary" in h}
        if isinstance((evaluation.get("baselines") or {}).get("skipped"), str):
            card["baselines_skipped"] = evaluation["baselines"]["skipped"]
    else:
        card["metrics"] = _scalars(evaluation.get("method"))
        card["baselines"] = {"spectral_peer": _scalars(evaluation.get("spectral_peer")),
                             "chance": _scalars(evaluation.get("chance"))}
        if task == "detect":
            families = evaluation["method"].get("per_family") or {}
            card["per_family_auc"] = {f: v.get("auc") for f, v in families.items()}
            # a detect model with a residual detector: each part alone, from the same evaluation
            if "residual_detector" in evaluation:   # the residual detector is ranked only: no threshold of its own
                card["parts"] = {"network": _scalars(evaluation["network"]),
                                 "residual_detector": {"auc": evaluation["residual_detector"]["auc"]}}
        if "open_set" in evaluation:
            card["open_set"] = {k: _scalars(v) for k, v in evaluation["open_set"].items() if isinstance(v, dict)}
    return card
