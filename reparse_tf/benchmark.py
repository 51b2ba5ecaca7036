"""The model-parsing benchmark (paper Tables 4-5): train and evaluate, in one run, the full method,
the random-ground-truth baseline, the no-fingerprint and one-parser ablations and the CNN-backbone
baseline on leave-GMs-out folds; write a comparison table (markdown + JSON), a report, and check the
project goals.

Results are cached per (variant, fold) in ``OUT/cache/<variant>-fold<k>/result.json`` (random GT:
one sub-cache per shuffle) so an interrupted benchmark resumes where it stopped.
"""

from __future__ import annotations

import importlib.util
import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from reparse_tf.artifacts import write_json
from reparse_tf.metrics import SUMMARY_KEYS, mean_std

# variant -> keyword arguments of reparse_tf.training.train
VARIANTS: dict[str, dict[str, Any]] = {
    "full": {"parser": "two", "fingerprint": True, "backbone": "fen", "random_gt": False},
    "random_gt": {"parser": "two", "fingerprint": True, "backbone": "fen", "random_gt": True},
    "no_fingerprint": {"parser": "two", "fingerprint": False, "backbone": "fen", "random_gt": False},
    "one_parser": {"parser": "one", "fingerprint": True, "backbone": "fen", "random_gt": False},
    "cnn": {"parser": "two", "fingerprint": False, "backbone": "cnn", "random_gt": False},
}
LABELS = {"full": "Full method (FEN + PN)", "random_gt": "Random ground truth", "no_fingerprint": "No fingerprint",
          "one_parser": "One parser", "cnn": "CNN backbone"}
TABLE_COLUMNS = ("continuous_l1", "continuous_pearson", "continuous_r2", "continuous_ransac_slope",
                 "discrete_f1", "discrete_accuracy", "loss_f1", "loss_accuracy")
GOALS = {"l1_reduction": 0.30, "discrete_f1_gain": 0.30, "loss_f1_gain": 0.20}


def has_tensorflow() -> bool:
    return importlib.util.find_spec("tensorflow") is not None


def tfrecords_usable() -> bool:
    """TFRecords need TensorFlow installed *and* the TensorFlow Keras backend (the trainer's tf.data path)."""
    import keras

    return has_tensorflow() and keras.backend.backend() == "tensorflow"


def prepare_examples(out_dir: Path, zoo: str, data: str | Path | None, seed: int, image_size: int = 64,
                     n_folds: int = 4) -> Path:
    """An examples dir: ``data`` if it already is one, else ingest ``data`` (a RED layout) or a freshly
    built zoo into ``OUT/examples`` (TFRecords on TF hosts, npz shards otherwise). Reused when present."""
    examples = out_dir / "examples"
    if data is not None:
        data = Path(data)
        if (data / "manifest.json").is_file() and ((data / "tfrecords").is_dir() or (data / "npz").is_dir()):
            return data
        if not (data / "labels.csv").is_file():
            raise FileNotFoundError(f"{data}: neither an examples dir (manifest.json) nor a RED layout (labels.csv)")
        root = data
    else:
        root = out_dir / "zoo"
        if not (root / "labels.csv").is_file():
            from reparse_tf.zoo.build import build_zoo

            print(f"[reparse benchmark] building zoo '{zoo}' -> {root}")
            build_zoo(root, preset=zoo, seed=seed, image_size=image_size)
    if (examples / "manifest.json").is_file():
        return examples
    from reparse_tf.ingest import run_ingest

    fmt = "tfrecord" if tfrecords_usable() else "npz"
    print(f"[reparse benchmark] ingesting {root} ({fmt}) -> {examples}")
    run_ingest(root, examples, image_size=image_size, n_folds=n_folds, seed=seed, output_format=fmt)
    return examples


def _default_cluster_fn(examples_dir: Path, out_dir: Path, fold: int, seed: int) -> Path:
    from reparse_tf.cluster_ground_truth import run_cluster_ground_truth

    return run_cluster_ground_truth(examples_dir, out_dir, fold, seed=seed)


def _default_train_fn(**kwargs: Any) -> Path:
    from reparse_tf.training import train

    return train(**kwargs)


def _default_evaluate_fn(model_dir: Path, examples_dir: Path, out_dir: Path, fold: int, tfma: bool) -> dict:
    from reparse_tf.evaluation import evaluate_model

    return evaluate_model(model_dir, examples_dir, out_dir, fold=fold, tfma=tfma)


def run_one(cache: Path, examples_dir: Path, cluster_dir: Path, fold: int, variant_kwargs: dict, preset: str,
            seed: int, epochs: int | None, tfma: bool, train_fn: Callable, evaluate_fn: Callable) -> dict:
    """Train + evaluate one model, cached in ``cache/result.json`` (returned as is when present)."""
    result_path = cache / "result.json"
    if result_path.is_file():
        return json.loads(result_path.read_text())
    t0 = time.perf_counter()
    model_dir = train_fn(examples_dir=examples_dir, cluster_gt_dir=cluster_dir, fold=fold, preset=preset,
                         out_dir=cache / "model", resume=True, epochs=epochs, seed=seed, **variant_kwargs)
    t1 = time.perf_counter()
    result = evaluate_fn(Path(model_dir), examples_dir, cache / "eval", fold, tfma)
    result = {**result, "fold": fold, "seed": seed, "train_seconds": t1 - t0,
              "eval_seconds": time.perf_counter() - t1, "model_dir": str(model_dir),
              "eval_dir": str(cache / "eval")}
    write_json(result_path, result, indent=1, strict=False)
    return result


def _run_one_star(args: tuple) -> dict:
    return run_one(*args)


def comparison_table(per_variant: dict[str, dict[int, dict]]) -> dict[str, dict[str, dict]]:
    """``{variant: {metric: {mean, std, n}}}`` across folds (random GT: fold value = mean over shuffles)."""
    return {v: {k: mean_std([r["summary"].get(k) for r in folds.values()]) for k in SUMMARY_KEYS}
            for v, folds in per_variant.items()}


def check_goals(table: dict[str, dict[str, dict]]) -> list[dict]:
    """The project goals on unseen GMs, each ``{goal, met, detail}`` (``met`` None when not measurable)."""
    def m(v: str, k: str) -> float | None:
        return table.get(v, {}).get(k, {}).get("mean")

    goals = []
    full_l1, rgt_l1 = m("full", "continuous_l1"), m("random_gt", "continuous_l1")
    ok = None if None in (full_l1, rgt_l1) else full_l1 <= (1 - GOALS["l1_reduction"]) * rgt_l1
    goals.append({"goal": f"continuous L1 at least {GOALS['l1_reduction']:.0%} below random GT", "met": ok,
                  "detail": f"full {full_l1} vs random GT {rgt_l1}"
                  + ("" if ok is None else f" (reduction {1 - full_l1 / rgt_l1:.1%})" if rgt_l1 else "")})
    for key, gain, label in (("discrete_f1", GOALS["discrete_f1_gain"], "discrete F1"),
                             ("loss_f1", GOALS["loss_f1_gain"], "loss-type F1")):
        a, b = m("full", key), m("random_gt", key)
        ok = None if None in (a, b) else a - b >= gain
        goals.append({"goal": f"{label} >= random GT + {gain:.2f}", "met": ok,
                      "detail": f"full {a} vs random GT {b}" + ("" if ok is None else f" (gain {a - b:+.3f})")})
    for other in ("cnn", "no_fingerprint"):
        checks = []
        for key, lower in (("continuous_l1", True), ("discrete_f1", False), ("loss_f1", False)):
            a, b = m("full", key), m(other, key)
            if None not in (a, b):
                checks.append((key, a < b if lower else a > b, a, b))
        ok = None if not checks else sum(c[1] for c in checks) >= 2
        goals.append({"goal": f"full method ahead of {LABELS[other]} (better on >= 2 of L1, discrete F1, loss F1)",
                      "met": ok, "detail": "; ".join(f"{k}: full {a:.4f} vs {b:.4f} ({'better' if w else 'not better'})"
                                                     for k, w, a, b in checks) or "not run"})
    return goals


def _fmt(cell: dict) -> str:
    if cell.get("mean") is None:
        return "n/a"
    return f"{cell['mean']:.3f} ± {cell['std']:.3f}"


def markdown_table(table: dict[str, dict[str, dict]], goals: list[dict] | None = None) -> str:
    """The paper's Table 4/5-style comparison as markdown."""
    lines = ["| method | " + " | ".join(TABLE_COLUMNS) + " |", "| --- " * (len(TABLE_COLUMNS) + 1) + "|"]
    for v, row in table.items():
        lines.append(f"| {LABELS.get(v, v)} | " + " | ".join(_fmt(row.get(k, {})) for k in TABLE_COLUMNS) + " |")
    if goals:
        lines += ["", "Goals (unseen GMs):", ""]
        lines += [f"- {'MET' if g['met'] else 'NOT MET' if g['met'] is not None else 'NOT MEASURED'}: "
                  f"{g['goal']} — {g['detail']}" for g in goals]
    return "\n".join(lines) + "\n"


def run_benchmark(out_dir: str | Path, zoo: str = "standard", preset: str = "cpu", data: str | Path | None = None,
                  folds: list[int] | None = None, variants: list[str] | None = None, n_shuffles: int | None = None,
                  seed: int = 0, epochs: int | None = None, tfma: bool = True, report: bool = True,
                  train_fn: Callable | None = None, evaluate_fn: Callable | None = None,
                  cluster_fn: Callable | None = None, examples_dir: str | Path | None = None,
                  workers: int = 1) -> dict:
    """Train and evaluate every variant on every fold; return (and write) the comparison.

    Args:
        out_dir: everything goes here (zoo, examples, cluster_gt, cache, benchmark.{json,md}, report/).
        zoo / data: GM zoo preset to build, or a RED layout / examples dir to use instead.
        preset: training preset (``cpu`` default); folds: test folds (default all).
        variants: subset of :data:`VARIANTS`; n_shuffles: random-GT shuffles (default 1 on cpu, else 3).
        train_fn / evaluate_fn / cluster_fn: injectable (tests); default to the library entry points.
        examples_dir: skip zoo/ingest and use this examples dir.
        workers: train/evaluate this many (variant, fold) jobs at once in spawned processes (GPU hosts).
    """
    from tqdm import tqdm

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    variants = list(variants or VARIANTS)
    unknown = [v for v in variants if v not in VARIANTS]
    if unknown:
        raise ValueError(f"unknown variants {unknown}; known: {', '.join(VARIANTS)}")
    n_shuffles = n_shuffles or (1 if preset == "cpu" else 3)
    train_fn, evaluate_fn = train_fn or _default_train_fn, evaluate_fn or _default_evaluate_fn
    cluster_fn = cluster_fn or _default_cluster_fn
    examples = Path(examples_dir) if examples_dir else prepare_examples(out_dir, zoo, data, seed)
    manifest = json.loads((examples / "manifest.json").read_text()) if (examples / "manifest.json").is_file() else {}
    folds = list(folds) if folds is not None else list(range(int(manifest.get("n_folds", 4))))
    jobs = [(v, k, s) for k in folds for v in variants for s in range(n_shuffles if v == "random_gt" else 1)]
    per_variant: dict[str, dict[int, dict]] = {v: {} for v in variants}
    shuffles: dict[tuple[str, int], list[dict]] = {}
    for k in folds:
        cluster_dir = out_dir / "cluster_gt" / f"fold{k}"
        if not (cluster_dir / "cluster_gt.json").is_file():
            cluster_fn(examples, cluster_dir, k, seed)

    def job_args(v: str, k: int, s: int) -> tuple:
        cache = out_dir / "cache" / f"{v}-fold{k}"
        if v == "random_gt":
            cache = cache / f"shuffle{s}"
        return (cache, examples, out_dir / "cluster_gt" / f"fold{k}", k, VARIANTS[v], preset, seed + s, epochs,
                tfma, train_fn, evaluate_fn)

    if workers > 1 and len(jobs) > 1:  # independent (variant, fold) jobs in spawned processes; results cached
        import multiprocessing

        with multiprocessing.get_context("spawn").Pool(min(workers, len(jobs))) as pool:
            for _ in tqdm(pool.imap_unordered(_run_one_star, [job_args(*j) for j in jobs]), total=len(jobs),
                          desc="benchmark", unit="model"):
                pass
    for v, k, s in tqdm(jobs, desc="benchmark", unit="model", disable=workers > 1):
        shuffles.setdefault((v, k), []).append(run_one(*job_args(v, k, s)))
    for (v, k), rs in shuffles.items():
        if v == "random_gt":  # fold value = mean over shuffles, cached beside the shuffles
            summary = {key: mean_std([r["summary"].get(key) for r in rs])["mean"] for key in SUMMARY_KEYS}
            combined = {"variant": v, "fold": k, "n_shuffles": len(rs), "summary": summary,
                        "metrics": rs[0]["metrics"], "shuffle_summaries": [r["summary"] for r in rs]}
            write_json(out_dir / "cache" / f"{v}-fold{k}" / "result.json", combined, indent=1, strict=False)
            per_variant[v][k] = combined
        else:
            per_variant[v][k] = rs[0]
    table = comparison_table(per_variant)
    goals = check_goals(table)
    result = {"zoo": zoo, "preset": preset, "examples_dir": str(examples), "folds": folds, "variants": variants,
              "n_shuffles": n_shuffles, "table": table, "goals": goals,
              "per_fold": {v: {str(k): r["summary"] for k, r in fr.items()} for v, fr in per_variant.items()},
              "cache": str(out_dir / "cache")}
    write_json(out_dir / "benchmark.json", result, indent=1, strict=False)
    md = markdown_table(table, goals)
    tmp = out_dir / ".benchmark.md.tmp"
    tmp.write_text(f"# reparse benchmark (zoo {zoo}, preset {preset}, folds {folds})\n\n" + md)
    os.replace(tmp, out_dir / "benchmark.md")
    print(md)
    if report:
        from reparse_tf.report import write_report

        result["report"] = str(write_report(out_dir / "report", result, per_variant))
        write_json(out_dir / "benchmark.json", result, indent=1, strict=False)
    print(f"[reparse benchmark] table: {out_dir / 'benchmark.md'}, numbers: {out_dir / 'benchmark.json'}, "
          f"cache: {out_dir / 'cache'}" + (f", report: {result['report']}" if report else ""))
    return result
