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

from reparse_tf.data.manifest import has_manifest, read_manifest
from reparse_tf.evaluation.baseline_evaluation import DEFAULT_BASELINES
from reparse_tf.evaluation.metrics import SUMMARY_KEYS, format_mean_std, mean_std, per_param_mean_std
from reparse_tf.evaluation.significance import compare_per_gm
from reparse_tf.evaluation.variants import DEFAULT_VARIANTS, LABELS, READOUT, TABLE_COLUMNS, VARIANTS
from reparse_tf.serving.artifacts import write_json

GROUP_COLUMNS = ("continuous_l1", "continuous_r2", "discrete_f1", "loss_f1")
# issue 21's goals on unseen GMs (standard zoo, 4 folds, per image)
GOALS = {"l1_below_family_oracle": 0.10, "r2": 0.30, "loss_f1_above_family_oracle": 0.10, "discrete_f1": 0.55,
         "key_discrete_f1": 0.80}
KEY_DISCRETE = ("upsampling_type", "nonlinearity_last_layer")
RIVALS = ("spectral_peer", "cnn", "no_fingerprint")


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
        if has_manifest(data) and ((data / "tfrecords").is_dir() or (data / "npz").is_dir()):
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
    if has_manifest(examples):
        return examples
    from reparse_tf.data.ingest import run_ingest

    fmt = "tfrecord" if tfrecords_usable() else "npz"
    print(f"[reparse benchmark] ingesting {root} ({fmt}) -> {examples}")
    run_ingest(root, examples, image_size=image_size, n_folds=n_folds, seed=seed, output_format=fmt)
    return examples


def _default_cluster_fn(examples_dir: Path, out_dir: Path, fold: int, seed: int,
                        validation_fraction: float | None = None) -> Path:
    from reparse_tf.targets.cluster_ground_truth import run_cluster_ground_truth

    return run_cluster_ground_truth(examples_dir, out_dir, fold, seed=seed, validation_fraction=validation_fraction)


def _default_train_fn(**kwargs: Any) -> Path:
    from reparse_tf.training.parser_training import train

    return train(**kwargs)


def _default_evaluate_fn(model_dir: Path, examples_dir: Path, out_dir: Path, fold: int, tfma: bool) -> dict:
    from reparse_tf.evaluation.parsing_evaluation import evaluate_model

    return evaluate_model(model_dir, examples_dir, out_dir, fold=fold, tfma=tfma)


def run_one(cache: Path, examples_dir: Path, cluster_dir: Path, fold: int, variant_kwargs: dict, preset: str,
            seed: int, epochs: int | None, tfma: bool, train_fn: Callable, evaluate_fn: Callable,
            max_train_gms: int | None = None) -> dict:
    """Train + evaluate one model, cached in ``cache/result.json`` (returned as is when present)."""
    from reparse_tf.training.presets import get_preset

    result_path = cache / "result.json"
    if result_path.is_file():
        return json.loads(result_path.read_text())
    kwargs = dict(variant_kwargs)
    overrides = kwargs.pop("overrides", None)
    if overrides:
        preset = get_preset(preset).with_overrides(**overrides)
    if max_train_gms is not None:
        kwargs["max_train_gms"] = max_train_gms
    t0 = time.perf_counter()
    model_dir = train_fn(examples_dir=examples_dir, cluster_gt_dir=cluster_dir, fold=fold, preset=preset,
                         out_dir=cache / "model", resume=True, epochs=epochs, seed=seed, **kwargs)
    t1 = time.perf_counter()
    result = evaluate_fn(Path(model_dir), examples_dir, cache / "eval", fold, tfma)
    history = cache / "model" / "history.json"
    result = {**result, "fold": fold, "seed": seed, "train_seconds": t1 - t0,
              "eval_seconds": time.perf_counter() - t1, "model_dir": str(model_dir),
              "eval_dir": str(cache / "eval"),
              "history": json.loads(history.read_text()) if history.is_file() else []}
    write_json(result_path, result, indent=1, strict=False)
    return result


def _run_one_star(args: tuple) -> dict:
    return run_one(*args)


def comparison_table(per_variant: dict[str, dict[int, dict]]) -> dict[str, dict[str, dict]]:
    """``{variant: {metric: {mean, std, n}}}`` across folds (random GT: fold value = mean over shuffles)."""
    return {v: {k: mean_std([r["summary"].get(k) for r in folds.values()]) for k in SUMMARY_KEYS}
            for v, folds in per_variant.items()}


def aggregated_table(per_variant: dict[str, dict[int, dict]], n_images: tuple[str, ...] = ("1", "10", "100")
                     ) -> dict[str, dict[str, dict[str, dict]]]:
    """Per-GM aggregated parsing (Table 8): ``{variant: {N: {metric: {mean, std, n}}}}`` over folds."""
    out: dict = {}
    for v, folds in per_variant.items():
        for n in n_images:
            vals = [r.get("multi_image", {}).get(n, {}).get("summary") for r in folds.values()]
            vals = [x for x in vals if x]
            if vals:
                out.setdefault(v, {})[n] = {k: mean_std([x.get(k, {}).get("mean") for x in vals])
                                            for k in GROUP_COLUMNS}
    return out


def per_gm_scores(folds: dict[int, dict]) -> dict[str, dict]:
    """``{"<fold>/<gm>": per-GM scores}`` pooled over folds (for the paired tests)."""
    return {f"{k}/{g}": row for k, r in folds.items() for g, row in r.get("per_gm", {}).items()}


def significance(per_variant: dict[str, dict[int, dict]], method: str = "full", seed: int = 0) -> dict:
    """Paired tests over test GMs of ``method`` against every other variant and baseline."""
    if method not in per_variant:
        return {}
    mine = per_gm_scores(per_variant[method])
    return {v: compare_per_gm(mine, per_gm_scores(folds), seed=seed) for v, folds in per_variant.items()
            if v != method}


def check_goals(table: dict[str, dict[str, dict]], per_param: dict[str, dict] | None = None,
                tests: dict | None = None, aggregated: dict | None = None, method: str = "full") -> list[dict]:
    """The parser goals on unseen GMs, each ``{goal, met, detail}`` (``met`` None when not measurable)."""
    def m(v: str, k: str) -> float | None:
        return table.get(v, {}).get(k, {}).get("mean")

    goals = []

    def add(goal: str, ok: bool | None, detail: str) -> None:
        goals.append({"goal": goal, "met": ok, "detail": detail})

    a, b = m(method, "continuous_l1"), m("family_oracle", "continuous_l1")
    ok = None if None in (a, b) else a <= (1 - GOALS["l1_below_family_oracle"]) * b
    add(f"continuous L1 at least {GOALS['l1_below_family_oracle']:.0%} below the family oracle's", ok,
        f"{a} vs {b}" if ok is None else f"{a:.4f} vs {b:.4f} ({1 - a / b:+.1%} below)")
    r2 = m(method, "continuous_r2")
    add(f"continuous mean R² >= {GOALS['r2']:.2f}", None if r2 is None else r2 >= GOALS["r2"], f"R² {r2}")
    a, b = m(method, "loss_f1"), m("family_oracle", "loss_f1")
    ok = None if None in (a, b) else a - b >= GOALS["loss_f1_above_family_oracle"]
    add(f"loss-type F1 >= family oracle + {GOALS['loss_f1_above_family_oracle']:.2f}", ok,
        f"{a} vs {b}" if ok is None else f"{a:.4f} vs {b:.4f} ({a - b:+.3f})")
    d = m(method, "discrete_f1")
    add(f"discrete macro F1 >= {GOALS['discrete_f1']:.2f}", None if d is None else d >= GOALS["discrete_f1"],
        f"F1 {d}")
    if per_param is not None and method in per_param:
        vals = {k: per_param[method].get(k, {}).get("f1", {}).get("mean") for k in KEY_DISCRETE}
        ok = None if None in vals.values() else all(v >= GOALS["key_discrete_f1"] for v in vals.values())
        add(f"{' and '.join(KEY_DISCRETE)} F1 >= {GOALS['key_discrete_f1']:.2f} each", ok,
            ", ".join(f"{k} {v}" if v is None else f"{k} {v:.3f}" for k, v in vals.items()))
    for rival in RIVALS:
        res = (tests or {}).get(rival)
        if not res:
            add(f"ahead of {LABELS.get(rival, rival)} on all three groups, p < 0.05 over test GMs", None, "not run")
            continue
        ok = all(r.get("better") for r in res.values())
        add(f"ahead of {LABELS.get(rival, rival)} on all three groups, p < 0.05 over test GMs", ok,
            "; ".join(f"{k}: diff {r['mean_diff']:+.4f}, p {r['p_value']:.3g}" if r["p_value"] is not None
                      else f"{k}: n/a" for k, r in res.items()))
    if aggregated and method in aggregated and "100" in aggregated[method] and "1" in aggregated[method]:
        one, hundred = aggregated[method]["1"], aggregated[method]["100"]
        better = [hundred["continuous_l1"]["mean"] < one["continuous_l1"]["mean"],
                  hundred["discrete_f1"]["mean"] > one["discrete_f1"]["mean"],
                  hundred["loss_f1"]["mean"] > one["loss_f1"]["mean"]]
        add("per-GM aggregation (N = 100) better than per image on every group", all(better),
            ", ".join(f"{k} {one[k]['mean']:.4f} -> {hundred[k]['mean']:.4f}"
                      for k in ("continuous_l1", "discrete_f1", "loss_f1")))
    return goals


def markdown_table(table: dict[str, dict[str, dict]], goals: list[dict] | None = None) -> str:
    """The paper's Table 4/5-style comparison as markdown."""
    lines = ["| method | " + " | ".join(TABLE_COLUMNS) + " |", "| --- " * (len(TABLE_COLUMNS) + 1) + "|"]
    for v, row in table.items():
        lines.append(f"| {LABELS.get(v, v)} | " + " | ".join(format_mean_std(row.get(k, {})) for k in TABLE_COLUMNS)
                     + " |")
    if goals:
        lines += ["", "Goals (unseen GMs):", "", markdown_goals(goals)]
    return "\n".join(lines) + "\n"


def markdown_goals(goals: list[dict]) -> str:
    return "\n".join(f"- {'MET' if g['met'] else 'NOT MET' if g['met'] is not None else 'NOT MEASURED'}: "
                     f"{g['goal']} — {g['detail']}" for g in goals) + "\n"


def markdown_details(per_param: dict, aggregated: dict, tests: dict, method: str = "full") -> str:
    """Per-parameter, per-GM aggregated and significance tables as markdown."""
    from reparse_tf.data.schema import load_schema

    schema = load_schema()
    variants = list(per_param)
    lines = ["## Per parameter (mean ± std over folds; continuous: L1, discrete and loss: macro F1)", "",
             "| parameter | " + " | ".join(LABELS.get(v, v) for v in variants) + " |",
             "| --- " * (len(variants) + 1) + "|"]
    for p in schema.params:
        key = "l1" if p.is_continuous else "f1"
        lines.append(f"| {p.name} ({key}) | " + " | ".join(format_mean_std(per_param[v].get(p.name, {}).get(key, {}))
                                                          for v in variants) + " |")
    lines += ["", "## Per GM, aggregated over N images (mean ± std over folds)", "",
              "| method | N | " + " | ".join(GROUP_COLUMNS) + " |", "| --- " * (len(GROUP_COLUMNS) + 2) + "|"]
    for v, by_n in aggregated.items():
        for n, row in by_n.items():
            lines.append(f"| {LABELS.get(v, v)} | {n} | "
                         + " | ".join(format_mean_std(row.get(k, {})) for k in GROUP_COLUMNS) + " |")
    return "\n".join(lines) + "\n" + ("\n" + markdown_tests(tests, method) if tests else "")


def markdown_tests(tests: dict, method: str) -> str:
    """Paired tests of ``method`` against every other row, as markdown."""
    lines = [f"## {LABELS.get(method, method)} against each other row: paired over test GMs of all folds",
             "", "Per-GM scores: continuous L1 (lower is better), discrete and loss accuracy (higher is better);"
             " difference = method - other, bootstrap 95 % CI, Wilcoxon signed-rank p.", "",
             "| other | score | n GMs | difference | 95 % CI | p | method better (p < 0.05) |",
             "| --- | --- | --- | --- | --- | --- | --- |"]
    for v, res in tests.items():
        for k, r in res.items():
            if r["mean_diff"] is None:
                continue
            ci = "n/a" if r["ci_low"] is None else f"[{r['ci_low']:+.4f}, {r['ci_high']:+.4f}]"
            pv = "n/a" if r["p_value"] is None else f"{r['p_value']:.3g}"
            lines.append(f"| {LABELS.get(v, v)} | {k} | {r['n']} | {r['mean_diff']:+.4f} | {ci} | {pv} | "
                         f"{'yes' if r['better'] else 'no'} |")
    return "\n".join(lines) + "\n"


def diagnostics_rows(per_variant: dict[str, dict[int, dict]]) -> dict[str, dict[str, dict]]:
    """Per trained variant, mean ± std over folds of: the selected epoch's held-in and validation
    figures and fingerprint RMS, the test figures, each parser alone on the test GMs, and the linear
    probes of the embedding (family / content accuracy on test GMs and its chance level)."""
    from reparse_tf.training.diagnostics import best_epoch

    out: dict[str, dict[str, dict]] = {}
    for v, folds in per_variant.items():
        if v not in VARIANTS:
            continue
        rows: dict[str, list] = {}
        for r in folds.values():
            hist = r.get("history") or []
            sel = best_epoch(hist) or (hist[-1]["epoch"] if hist else None)
            rec = next((h for h in hist if h["epoch"] == sel), {})
            vals = {"selected_epoch": sel, **{f"{prefix}_{k}": rec.get(f"{prefix}_{k}") for prefix in ("heldin", "val")
                                              for k in GROUP_COLUMNS}, "fp_rms": rec.get("fp_rms")}
            vals.update({f"test_{k}": r.get("summary", {}).get(k) for k in GROUP_COLUMNS})
            for part, summ in (r.get("parser_parts") or {}).items():
                vals.update({f"{part}_only_{k}": summ.get(k) for k in GROUP_COLUMNS})
            for key, probe in (r.get("embedding_probes") or {}).items():
                if "accuracy" in probe:
                    vals[f"probe_{key}"], vals[f"probe_{key}_chance"] = probe["accuracy"], probe["chance"]
            for k, x in vals.items():
                rows.setdefault(k, []).append(x)
        if rows:
            out[v] = {k: mean_std(x) for k, x in rows.items()}
    return out


def markdown_diagnostics(diag: dict[str, dict[str, dict]]) -> str:
    """The diagnostics rows as a markdown table (one row per figure, one column per variant)."""
    if not diag:
        return ""
    variants = list(diag)
    keys = list(dict.fromkeys(k for d in diag.values() for k in d))
    lines = ["## Diagnostics (selected epoch; held-in = training GMs' images, val = validation GMs, test = unseen)",
             "", "| figure | " + " | ".join(LABELS.get(v, v) for v in variants) + " |",
             "| --- " * (len(variants) + 1) + "|"]
    lines += [f"| {k} | " + " | ".join(format_mean_std(diag[v].get(k, {})) for v in variants) + " |" for k in keys]
    return "\n".join(lines) + "\n"


def run_benchmark(out_dir: str | Path, zoo: str = "standard", preset: str = "cpu", data: str | Path | None = None,
                  folds: list[int] | None = None, variants: list[str] | None = None, n_shuffles: int | None = None,
                  seed: int = 0, epochs: int | None = None, tfma: bool = True, report: bool = True,
                  train_fn: Callable | None = None, evaluate_fn: Callable | None = None,
                  cluster_fn: Callable | None = None, examples_dir: str | Path | None = None,
                  workers: int = 1, baselines: list[str] | None = None, copy_draws: int = 20,
                  max_train_gms: int | None = None, write: bool = True) -> dict:
    """Train and evaluate every variant on every fold, score the baselines on the same folds; return
    (and write) the comparison.

    Args:
        out_dir: everything goes here (zoo, examples, cluster_gt, cache, benchmark.{json,md}, report/).
        zoo / data: GM zoo preset to build, or a RED layout / examples dir to use instead.
        preset: training preset (``cpu`` default); folds: test folds (default all).
        variants: subset of :data:`VARIANTS` (default :data:`DEFAULT_VARIANTS`); n_shuffles: random-GT
            shuffles (default 3).
        baselines: subset of :data:`reparse_tf.evaluation.baseline_evaluation.BASELINES` (default
            ``DEFAULT_BASELINES``; [] none).
        copy_draws: label-copy draws per fold.
        max_train_gms: train every variant on at most this many of each fold's fitted GMs (learning
            curve; stratified by family); baselines too.
        train_fn / evaluate_fn / cluster_fn: injectable (tests); default to the library entry points.
        examples_dir: skip zoo/ingest and use this examples dir.
        write: write ``benchmark.{json,md}`` and the report (False: only fill the cache and return).
        workers: train/evaluate this many (variant, fold) jobs at once in spawned processes (GPU hosts).
    """
    from tqdm import tqdm

    from reparse_tf.training.presets import get_preset

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    variants = list(DEFAULT_VARIANTS if variants is None else variants)
    unknown = [v for v in variants if v not in VARIANTS]
    if unknown:
        raise ValueError(f"unknown variants {unknown}; known: {', '.join(VARIANTS)}")
    baselines = list(DEFAULT_BASELINES if baselines is None else baselines)
    n_shuffles = n_shuffles or 3
    train_fn, evaluate_fn = train_fn or _default_train_fn, evaluate_fn or _default_evaluate_fn
    cluster_fn = cluster_fn or _default_cluster_fn
    examples = Path(examples_dir) if examples_dir else prepare_examples(out_dir, zoo, data, seed)
    manifest = read_manifest(examples) if has_manifest(examples) else {}
    folds = list(folds) if folds is not None else list(range(int(manifest.get("n_folds", 4))))
    fraction = get_preset(preset).validation_fraction
    jobs = [(v, k, s) for k in folds for v in variants for s in range(n_shuffles if v == "random_gt" else 1)]
    per_variant: dict[str, dict[int, dict]] = {v: {} for v in variants}
    shuffles: dict[tuple[str, int], list[dict]] = {}
    for k in folds:
        cluster_dir = out_dir / "cluster_gt" / f"fold{k}"
        if variants and max_train_gms is None and not (cluster_dir / "cluster_gt.json").is_file():
            cluster_fn(examples, cluster_dir, k, seed, fraction)

    def job_args(v: str, k: int, s: int) -> tuple:
        cache = out_dir / "cache" / f"{v}-fold{k}"
        if v == "random_gt":
            cache = cache / f"shuffle{s}"
        # a learning-curve subset clusters its own GMs in-process
        cluster = None if max_train_gms is not None else out_dir / "cluster_gt" / f"fold{k}"
        return (cache, examples, cluster, k, VARIANTS[v], preset, seed + s, epochs,
                tfma, train_fn, evaluate_fn, max_train_gms)

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
            from reparse_tf.evaluation.baseline_evaluation import mean_of_results

            combined = {**mean_of_results(rs), "variant": v, "fold": k, "n_shuffles": len(rs),
                        "shuffle_summaries": [r["summary"] for r in rs]}
            write_json(out_dir / "cache" / f"{v}-fold{k}" / "result.json", combined, indent=1, strict=False)
            per_variant[v][k] = combined
        else:
            per_variant[v][k] = rs[0]
    for v in [v for v in per_variant if v != "random_gt"]:
        readout = {k: r["linear_heads"]["embedding"] for k, r in per_variant[v].items()
                   if "embedding" in (r.get("linear_heads") or {})}
        if readout:
            per_variant[f"{v}{READOUT}"] = readout
    if baselines:
        from reparse_tf.evaluation.baseline_evaluation import evaluate_baselines

        for k in tqdm(folds, desc="baselines", unit="fold"):
            for name, r in evaluate_baselines(examples, k, out_dir / "cache" / f"baselines-fold{k}", tuple(baselines),
                                              seed, copy_draws, validation_fraction=fraction,
                                              max_train_gms=max_train_gms).items():
                per_variant.setdefault(name, {})[k] = r
    table = comparison_table(per_variant)
    per_param = {v: per_param_mean_std([r["metrics"] for r in fr.values() if "metrics" in r])
                 for v, fr in per_variant.items()}
    aggregated = aggregated_table(per_variant)
    main = "full" if "full" in per_variant else (variants[0] if variants else None)
    tests = significance(per_variant, main, seed) if main else {}
    goals = check_goals(table, per_param, tests, aggregated, main or "full")
    # the same goals and paired tests for the main method's linear readout, where it was fitted
    readout_main = f"{main}{READOUT}" if main and f"{main}{READOUT}" in per_variant else None
    readout_tests = significance(per_variant, readout_main, seed) if readout_main else {}
    readout_goals = check_goals(table, per_param, readout_tests, aggregated, readout_main) if readout_main else []
    diag = diagnostics_rows(per_variant)
    result = {"zoo": zoo if data is None and examples_dir is None else None, "data": str(data or examples),
              "preset": get_preset(preset).name, "examples_dir": str(examples), "folds": folds,
              "variants": variants, "baselines": baselines, "n_shuffles": n_shuffles,
              "max_train_gms": max_train_gms, "table": table, "per_param": per_param, "aggregated": aggregated,
              "significance": tests, "goals": goals,
              "readout": {"method": readout_main, "significance": readout_tests, "goals": readout_goals},
              "per_fold": {v: {str(k): r["summary"] for k, r in fr.items()} for v, fr in per_variant.items()},
              # per test GM, so runs on other data with the same GMs can be paired (benchmarks/untrained_control.py)
              "per_gm": {v: per_gm_scores(fr) for v, fr in per_variant.items()},
              "diagnostics": diag,
              "history": {v: {str(k): r.get("history", []) for k, r in fr.items()} for v, fr in per_variant.items()
                          if v in VARIANTS},
              "cache": str(out_dir / "cache")}
    if not write:
        return result
    write_json(out_dir / "benchmark.json", result, indent=1, strict=False)
    md = markdown_table(table, goals) + "\n"
    if readout_main:
        md += (f"Goals of {LABELS.get(readout_main, readout_main)}:\n\n" + markdown_goals(readout_goals) + "\n")
    md += markdown_details(per_param, aggregated, tests, main or "full") + "\n"
    if readout_main:
        md += markdown_tests(readout_tests, readout_main) + "\n"
    md += markdown_diagnostics(diag)
    tmp = out_dir / ".benchmark.md.tmp"
    title = f"zoo {zoo}" if result["zoo"] else f"data {result['data']}"
    details = [title, f"preset {result['preset']}", f"folds {folds}"]
    if "random_gt" in variants:
        details.append(f"random-GT shuffles {n_shuffles}")
    if max_train_gms is not None:
        details.append(f"at most {max_train_gms} training GMs")
    tmp.write_text(f"# reparse benchmark ({', '.join(details)})\n\n" + md)
    os.replace(tmp, out_dir / "benchmark.md")
    print(md)
    if report:
        from reparse_tf.evaluation.report import write_report

        result["report"] = str(write_report(out_dir / "report", result, per_variant))
        write_json(out_dir / "benchmark.json", result, indent=1, strict=False)
    print(f"[reparse benchmark] table: {out_dir / 'benchmark.md'}, numbers: {out_dir / 'benchmark.json'}, "
          f"cache: {out_dir / 'cache'}" + (f", report: {result['report']}" if report else ""))
    return result
