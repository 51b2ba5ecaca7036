"""Stand-ins for the library entry points the pipeline components call (wiring tests only).

Loaded inside each component subprocess through ``REPARSE_COMPONENT_STANDINS=pipeline_standins``
(with this folder on PYTHONPATH). Each writes a small, checkable file into its output directory
and reads its declared inputs, so the test sees artifacts flow along the DAG.
``REPARSE_STANDIN_FAIL=<function>`` makes that stand-in raise.
"""

from __future__ import annotations

import json
import os
from pathlib import Path


def _maybe_fail(name: str) -> None:
    if os.environ.get("REPARSE_STANDIN_FAIL") == name:
        raise ValueError(f"stand-in {name} was told to fail")


def _write(out_dir, name: str, payload: dict) -> Path:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / name).write_text(json.dumps(payload))
    return out


def build_zoo(out_root, preset="tiny", seed=0, image_size=64):
    _maybe_fail("build_zoo")
    from reparse_tf.data.synthetic import make_synthetic_layout

    make_synthetic_layout(out_root, n_gms=4, images_per_gm=2, size=16, seed=seed)
    return Path(out_root)


def run_ingest(root, out_dir, image_size=64, n_folds=4, seed=0, labels=None, beam_args=None):
    _maybe_fail("run_ingest")
    gms = sorted(p.name for p in Path(root).iterdir() if p.is_dir())
    manifest = {"image_size": image_size, "n_folds": n_folds, "seed": seed, "beam_args": beam_args,
                "folds": {gm: i % n_folds for i, gm in enumerate(gms)}, "counts": {gm: 2 for gm in gms},
                "skipped": []}
    _write(out_dir, "manifest.json", manifest)
    return manifest


def run_cluster_ground_truth(examples_dir, out_dir, fold, seed=0, beam_args=None):
    _maybe_fail("run_cluster_ground_truth")
    manifest = json.loads((Path(examples_dir) / "manifest.json").read_text())
    return _write(out_dir, "cluster_gt.json", {"fold": fold, "train_gms": [g for g, f in manifest["folds"].items()
                                                                           if f != fold]})


def train(examples_dir, cluster_gt_dir, fold, preset="tiny", out_dir=None, epochs=None, seed=0, **variant):
    _maybe_fail("train")
    cgt = json.loads((Path(cluster_gt_dir) / "cluster_gt.json").read_text())
    return _write(out_dir, "parser_meta.json", {"fold": fold, "preset": preset, "epochs": epochs, **variant,
                                                "train_gms": cgt["train_gms"]})


def evaluate_model(model_dir, examples_dir, out_dir, fold=None, tfma=True):
    _maybe_fail("evaluate_model")
    meta = json.loads((Path(model_dir) / "parser_meta.json").read_text())
    result = {"fold": fold, "n_train_gms": len(meta["train_gms"]), "continuous": {"l1": 0.2},
              "discrete": {"accuracy": float(os.environ.get("REPARSE_STANDIN_ACCURACY", "0.6"))}}
    _write(out_dir, "evaluation.json", result)
    return result


def train_forensic(task, examples_dir, fold, preset="tiny", out_dir=None, epochs=None, seed=0):
    _maybe_fail("train_forensic")
    manifest = json.loads((Path(examples_dir) / "manifest.json").read_text())
    return _write(out_dir, "task_meta.json", {"task": task, "fold": fold, "preset": preset, "epochs": epochs,
                                              "train_gms": [g for g, f in manifest["folds"].items() if f != fold]})


def evaluate_forensic(model_dir, examples_dir, out_dir):
    _maybe_fail("evaluate_forensic")
    meta = json.loads((Path(model_dir) / "task_meta.json").read_text())
    result = {"task": meta["task"], "fold": meta["fold"], "method": {"auc": float(os.environ.get(
        "REPARSE_STANDIN_AUC", "0.9"))}}
    _write(out_dir, f"{meta['task']}.json", result)
    return result


def push(model_dir, serving_dir, model_name="reparse", version=None, card=None):
    _maybe_fail("push")
    root = Path(serving_dir) / model_name
    version = version or 1 + max((int(p.name) for p in root.glob("[0-9]*")), default=0)
    out = root / str(version)
    out.mkdir(parents=True)
    (out / "saved_model.pb").write_bytes(b"stand-in")
    if card is not None:
        (out / "assets.extra").mkdir()
        (out / "assets.extra" / "model_card.json").write_text(json.dumps(card))
    return out
