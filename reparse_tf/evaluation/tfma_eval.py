"""TFMA edge (TensorFlow only): sliced metrics of precomputed predictions.

Predictions are written as GZIP TFRecords of ``tf.train.Example`` next to the test examples: the
example's metadata features (``gm``, ``gm_type``, ``content``, ``path``, ``fold``) plus, per schema
parameter, ``label_<name>`` and ``pred_<name>`` (continuous: normalised float; discrete: int class
code and the predicted probability vector). The image bytes are not repeated (``path`` points to
the source). ``tfma.run_model_analysis`` then runs without a model: one multi-output ModelSpec
whose ``label_keys`` / ``prediction_keys`` map each parameter to its two features, generated from
the schema; MeanAbsoluteError for continuous, MultiClassConfusionMatrixPlot for discrete (accuracy
and macro F1 are derived from the matrix). Slices: overall, gm_type, gm, content.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from reparse_tf.data.schema import HyperparameterSchema, load_schema
from reparse_tf.serving.artifacts import write_json

SLICE_KEYS = ("gm_type", "gm", "content")
META_KEYS = ("gm", "gm_type", "content", "path")


def label_key(name: str) -> str:
    return f"label_{name}"


def prediction_key(name: str) -> str:
    return f"pred_{name}"


def write_prediction_records(path: str | Path, meta: dict[str, np.ndarray], true_cont: np.ndarray,
                             pred_cont: np.ndarray, true_disc: np.ndarray, probs: list[np.ndarray],
                             schema: HyperparameterSchema | None = None) -> Path:
    """Write one Example per test image (atomic: temporary name, then rename).

    Args:
        meta: arrays of length N for ``gm``, ``gm_type``, ``content`` (and optionally ``path``, ``fold``).
        true_cont, pred_cont: ``[N, n_continuous]`` normalised values.
        true_disc: ``[N, n_discrete]`` class codes; probs: one ``[N, C]`` array per discrete parameter.
    """
    import tensorflow as tf

    schema = schema or load_schema()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    n = len(true_cont)

    def _bytes(v: str) -> tf.train.Feature:
        return tf.train.Feature(bytes_list=tf.train.BytesList(value=[str(v).encode()]))

    def _floats(v) -> tf.train.Feature:
        return tf.train.Feature(float_list=tf.train.FloatList(value=np.atleast_1d(v).astype(float).tolist()))

    def _int(v) -> tf.train.Feature:
        return tf.train.Feature(int64_list=tf.train.Int64List(value=[int(v)]))

    with tf.io.TFRecordWriter(str(tmp), options="GZIP") as writer:
        for i in range(n):
            f = {k: _bytes(meta[k][i]) for k in META_KEYS if k in meta}
            if "fold" in meta:
                f["fold"] = _int(meta["fold"][i])
            for j, p in enumerate(schema.continuous):
                f[label_key(p.name)] = _floats(true_cont[i, j])
                f[prediction_key(p.name)] = _floats(pred_cont[i, j])
            for j, p in enumerate(schema.discrete):
                f[label_key(p.name)] = _int(true_disc[i, j])
                f[prediction_key(p.name)] = _floats(probs[j][i])
            writer.write(tf.train.Example(features=tf.train.Features(feature=f)).SerializeToString())
    os.replace(tmp, path)
    return path


def eval_config(schema: HyperparameterSchema | None = None, slice_keys: tuple[str, ...] = SLICE_KEYS):
    """The TFMA EvalConfig for precomputed predictions, generated from the schema."""
    from tensorflow_model_analysis.proto import config_pb2

    schema = schema or load_schema()
    spec = config_pb2.ModelSpec(label_keys={p.name: label_key(p.name) for p in schema.params},
                                prediction_keys={p.name: prediction_key(p.name) for p in schema.params})
    metrics_specs = [
        config_pb2.MetricsSpec(metrics=[config_pb2.MetricConfig(class_name="ExampleCount"),
                                        config_pb2.MetricConfig(class_name="MeanAbsoluteError")],
                               output_names=[p.name for p in schema.continuous]),
        config_pb2.MetricsSpec(metrics=[config_pb2.MetricConfig(class_name="MultiClassConfusionMatrixPlot")],
                               output_names=[p.name for p in schema.discrete]),
    ]
    slicing = [config_pb2.SlicingSpec()] + [config_pb2.SlicingSpec(feature_keys=[k]) for k in slice_keys]
    return config_pb2.EvalConfig(model_specs=[spec], metrics_specs=metrics_specs, slicing_specs=slicing)


def _matrix_from_plot(plot: dict, num_classes: int) -> np.ndarray:
    """Confusion matrix (rows truth, columns prediction) from TFMA's JSON plot entries (0s omitted)."""
    cm = np.zeros((num_classes, num_classes))
    matrices = plot.get("multiClassConfusionMatrixAtThresholds", {}).get("matrices", [])
    if not matrices:
        return cm
    for e in matrices[0].get("entries", []):
        a, p = int(e.get("actualClassId", 0)), int(e.get("predictedClassId", 0))
        if 0 <= a < num_classes and 0 <= p < num_classes:
            cm[a, p] += float(e.get("numWeightedExamples", 0.0))
    return cm


def _scores_from_matrix(cm: np.ndarray) -> dict:
    """Accuracy and macro F1 (over classes present in truth or prediction) of a confusion matrix."""
    total = cm.sum()
    tp = np.diag(cm)
    support, predicted = cm.sum(axis=1), cm.sum(axis=0)
    present = (support + predicted) > 0
    denom = support + predicted
    f1 = np.divide(2 * tp, denom, out=np.zeros_like(tp), where=denom > 0)
    return {"accuracy": float(tp.sum() / total) if total else None,
            "f1": float(f1[present].mean()) if present.any() else None,
            "confusion": cm.astype(int).tolist(), "example_count": int(total)}


def _slice_name(slice_key: tuple) -> dict[str, str]:
    return {str(k): (v.decode() if isinstance(v, bytes) else str(v)) for k, v in slice_key}


def run_tfma(predictions_path: str | Path, out_dir: str | Path, schema: HyperparameterSchema | None = None,
             slice_keys: tuple[str, ...] = SLICE_KEYS) -> dict:
    """Run TFMA on a predictions file; return ``{"slices": [{"slice": {...}, "metrics": {name: {...}}}]}``.

    Continuous parameters get ``mae`` and ``example_count``; discrete ones ``accuracy``, ``f1`` and
    ``confusion``. The raw TFMA output stays in ``out_dir``; the plain table is written to
    ``out_dir/tfma_slices.json``.
    """
    import tensorflow_model_analysis as tfma

    schema = schema or load_schema()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    result = tfma.run_model_analysis(eval_config=eval_config(schema, slice_keys), data_location=str(predictions_path),
                                     file_format="tfrecords", output_path=str(out_dir / "tfma_output"))
    slices: dict[tuple, dict] = {}
    for key, metrics in result.slicing_metrics:
        entry = slices.setdefault(tuple(key), {})
        for p in schema.continuous:
            m = metrics.get(p.name, {}).get("", {})
            entry[p.name] = {"mae": m.get("mean_absolute_error", {}).get("doubleValue"),
                             "example_count": int(m.get("example_count", {}).get("doubleValue", 0))}
    for key, plots in result.plots:
        entry = slices.setdefault(tuple(key), {})
        for p in schema.discrete:
            entry[p.name] = _scores_from_matrix(_matrix_from_plot(plots.get(p.name, {}).get("", {}), p.num_classes))
    table = {"slice_keys": list(slice_keys),
             "slices": [{"slice": _slice_name(k), "metrics": v}
                        for k, v in sorted(slices.items(), key=lambda kv: (len(kv[0]), str(kv[0])))]}
    write_json(out_dir / "tfma_slices.json", table, indent=1)
    return table


def slice_summary(table: dict, schema: HyperparameterSchema | None = None) -> list[dict]:
    """One row per slice: continuous MAE, discrete / loss accuracy and F1 averaged over parameters."""
    schema = schema or load_schema()
    rows = []
    for s in table["slices"]:
        m = s["metrics"]

        def avg(names: list[str], key: str, m: dict = m) -> float | None:
            vals = [m[n][key] for n in names if n in m and m[n].get(key) is not None]
            return float(np.mean(vals)) if vals else None

        arch = [p.name for p in schema.discrete_architecture]
        loss = [p.name for p in schema.losses]
        cont = [p.name for p in schema.continuous]
        label = ", ".join(f"{k}={v}" for k, v in s["slice"].items()) or "overall"
        count = max((m[n].get("example_count", 0) for n in cont if n in m), default=0)
        rows.append({"slice": label, "examples": count, "continuous_mae": avg(cont, "mae"),
                     "discrete_f1": avg(arch, "f1"), "discrete_accuracy": avg(arch, "accuracy"),
                     "loss_f1": avg(loss, "f1"), "loss_accuracy": avg(loss, "accuracy")})
    return rows
