"""The benchmark / evaluation report: one self-contained HTML file (PNGs embedded as base64), the
PNGs themselves and ``report.json`` with every number shown.

Contents: comparison table and goals (Tables 4-5), per-parameter bars method vs random GT (Fig. 6-7),
confusion matrices (Fig. 9), multi-image parsing (Table 8), pair task (Table 9), content check,
TFMA per-slice tables, estimated fingerprints and spectra of test GMs (Fig. 10) and the GM x GM
fingerprint cosine matrix (Fig. 11). matplotlib with the Agg backend.
"""

from __future__ import annotations

import base64
import html
import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from reparse_tf.data.schema import HyperparameterSchema, load_schema
from reparse_tf.evaluation.metrics import per_param_mean_std
from reparse_tf.evaluation.variants import LABELS, TABLE_COLUMNS


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: Path) -> Path:
    fig.savefig(path, dpi=90, bbox_inches="tight")
    _plt().close(fig)
    return path


def per_param_bars(per_variant: dict[str, dict], path: Path, schema: HyperparameterSchema) -> Path | None:
    """Fig. 6-7: per-parameter L1 (continuous) and F1 (discrete, losses), each variant, mean ± std over folds."""
    plt = _plt()
    stats = {v: per_param_mean_std([r["metrics"] for r in folds.values() if "metrics" in r], schema)
             for v, folds in per_variant.items() if any("metrics" in r for r in folds.values())}
    if not stats:
        return None
    panels = [("L1 error (lower is better)", schema.continuous, "l1"),
              ("F1 (architecture, discrete)", schema.discrete_architecture, "f1"),
              ("F1 (loss types)", schema.losses, "f1")]
    fig, axes = plt.subplots(3, 1, figsize=(11, 10))
    width = 0.8 / len(stats)
    for ax, (title, params, key) in zip(axes, panels, strict=True):
        x = np.arange(len(params))
        for i, (v, st) in enumerate(stats.items()):
            mean = [st[p.name][key]["mean"] or 0 for p in params]
            std = [st[p.name][key]["std"] or 0 for p in params]
            ax.bar(x + i * width, mean, width, yerr=std, label=v, capsize=2)
        ax.set_xticks(x + width * (len(stats) - 1) / 2, [p.name for p in params], rotation=30, ha="right")
        ax.set_title(title)
        ax.legend(fontsize=7)
    fig.tight_layout()
    return _save(fig, path)


def confusion_grid(results: list[dict], path: Path, schema: HyperparameterSchema) -> Path | None:
    """Confusion matrices (summed over folds; rows truth, columns prediction) of every discrete parameter."""
    plt = _plt()
    results = [r for r in results if "metrics" in r]
    if not results:
        return None
    params = schema.discrete
    cols = 4
    rows = int(np.ceil(len(params) / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(3 * cols, 2.8 * rows))
    for ax, p in zip(np.ravel(axes), params, strict=False):
        cm = sum(np.asarray(r["metrics"]["discrete"][p.name]["confusion"]) for r in results)
        ax.imshow(cm, cmap="Blues")
        for (i, j), val in np.ndenumerate(cm):
            ax.text(j, i, str(int(val)), ha="center", va="center", fontsize=7,
                    color="white" if val > 0.5 * cm.max() else "black")
        ax.set_title(p.name, fontsize=8)
        ax.set_xticks(range(p.num_classes), [c[:6] for c in p.classes], fontsize=6, rotation=45)
        ax.set_yticks(range(p.num_classes), [c[:6] for c in p.classes], fontsize=6)
        ax.set_xlabel("predicted", fontsize=6)
        ax.set_ylabel("truth", fontsize=6)
    for ax in np.ravel(axes)[len(params):]:
        ax.axis("off")
    fig.tight_layout()
    return _save(fig, path)


def fingerprint_figure(npz_path: Path, path: Path, max_gms: int = 12) -> Path | None:
    """Fig. 10: per test GM, a sample image, its estimated fingerprint and the mean fingerprint spectrum."""
    if not npz_path.is_file():
        return None
    plt = _plt()
    with np.load(npz_path) as z:
        gms, images, fps, spectra = z["gms"][:max_gms], z["images"][:max_gms], z["fingerprints"][:max_gms], \
            z["spectra"][:max_gms]
    fig, axes = plt.subplots(3, len(gms), figsize=(1.6 * len(gms), 5), squeeze=False)
    for i, g in enumerate(gms):
        fp = fps[i].mean(axis=-1)
        lim = float(np.abs(fp).max()) or 1.0
        axes[0, i].imshow(images[i])
        axes[1, i].imshow(fp, cmap="seismic", vmin=-lim, vmax=lim)
        axes[2, i].imshow(spectra[i], cmap="viridis")
        axes[0, i].set_title(str(g), fontsize=7)
        for r in range(3):
            axes[r, i].axis("off")
    axes[0, 0].text(-0.2, 0.5, "image", transform=axes[0, 0].transAxes, rotation=90, va="center", ha="right")
    axes[1, 0].text(-0.2, 0.5, "fingerprint", transform=axes[1, 0].transAxes, rotation=90, va="center", ha="right")
    axes[2, 0].text(-0.2, 0.5, "spectrum", transform=axes[2, 0].transAxes, rotation=90, va="center", ha="right")
    fig.tight_layout()
    return _save(fig, path)


def cosine_figure(sim: dict, path: Path) -> Path | None:
    """Fig. 11: GM x GM mean fingerprint cosine similarity."""
    if not sim or not sim.get("gms"):
        return None
    plt = _plt()
    mat = np.array([[np.nan if x is None else x for x in row] for row in sim["matrix"]], float)
    n = len(sim["gms"])
    fig, ax = plt.subplots(figsize=(2 + 0.35 * n, 1.5 + 0.35 * n))
    im = ax.imshow(mat, cmap="magma")
    ax.set_xticks(range(n), sim["gms"], rotation=90, fontsize=6)
    ax.set_yticks(range(n), sim["gms"], fontsize=6)
    ax.set_title(f"fingerprint cosine (intra {sim.get('intra_mean', 0) or 0:.3f}, "
                 f"inter {sim.get('inter_mean', 0) or 0:.3f})", fontsize=8)
    fig.colorbar(im, ax=ax, fraction=0.046)
    return _save(fig, path)


def _table(rows: list[dict], floatfmt: str = "{:.3f}") -> str:
    if not rows:
        return "<p>(none)</p>"
    cols = list(rows[0])

    def cell(v: Any) -> str:
        if isinstance(v, float):
            return floatfmt.format(v)
        if isinstance(v, dict) and "mean" in v:
            if v["mean"] is None:
                return "n/a"
            return f"{v['mean']:.3f}" if v.get("std") is None else f"{v['mean']:.3f} ± {v['std']:.3f}"
        return html.escape("n/a" if v is None else str(v))

    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in cols)
    body = "".join("<tr>" + "".join(f"<td>{cell(r.get(c))}</td>" for c in cols) + "</tr>" for r in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def write_report(out_dir: str | Path, bench: dict, per_variant: dict[str, dict] | None = None,
                 schema: HyperparameterSchema | None = None) -> Path:
    """Write ``out_dir/report.html`` (+ PNGs, ``report.json``); return the HTML path.

    Args:
        bench: a :func:`reparse_tf.evaluation.benchmark.run_benchmark` result (``table``, ``goals``, ...).
        per_variant: ``{variant: {fold: evaluation result}}`` (per-parameter metrics, fingerprints, TFMA).
    """

    schema = schema or load_schema()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    per_variant = per_variant or {}
    main_variant = "full" if "full" in per_variant else next(iter(per_variant), None)
    main = list(per_variant.get(main_variant, {}).values())
    figures: dict[str, Path | None] = {
        "per_parameter": per_param_bars(per_variant, out / "per_parameter.png", schema),
        "confusion": confusion_grid(main, out / "confusion.png", schema),
    }
    for r in main:
        k = r.get("fold")
        if r.get("eval_dir"):
            figures[f"fingerprints_fold{k}"] = fingerprint_figure(Path(r["eval_dir"]) / "fingerprints.npz",
                                                                  out / f"fingerprints_fold{k}.png")
        figures[f"cosine_fold{k}"] = cosine_figure(r.get("fingerprint_similarity", {}), out / f"cosine_fold{k}.png")
    numbers: dict[str, Any] = {"table": bench.get("table", {}), "goals": bench.get("goals", []),
                               "per_fold": bench.get("per_fold", {}), "main_variant": main_variant}
    setting = [f"{name} {html.escape(str(bench[key]))}" for key, name in
               (("model_dir", "model"), ("zoo", "zoo"), ("preset", "preset"), ("folds", "folds"),
                ("n_shuffles", "random-GT shuffles")) if bench.get(key) not in (None, "", [])]
    parts = [f"<h1>reparse model-parsing report</h1><p>{', '.join(setting)}. Metrics per image of the unseen "
             f"(test-fold) GMs{'; mean ± std over folds' if len(bench.get('folds') or []) > 1 else ''}.</p>"]
    rows = [{"method": LABELS.get(v, v), **{c: row.get(c, {}) for c in TABLE_COLUMNS}}
            for v, row in bench.get("table", {}).items()]
    if rows:
        parts += ["<h2>Comparison with the baselines of the same run (Tables 4-5)</h2>", _table(rows)]
    if bench.get("goals"):
        parts += ["<h2>Goals</h2><ul>" + "".join(
            f"<li><b>{'MET' if g['met'] else 'NOT MET' if g['met'] is not None else 'NOT MEASURED'}</b> "
            f"{html.escape(g['goal'])}: {html.escape(g['detail'])}</li>" for g in bench["goals"]) + "</ul>"]
    if main:
        mi = [{"fold": r.get("fold"), "N": n, "images used": f"{m['images_used_min']}-{m['images_used_max']}",
               "L1": m["summary"].get("continuous_l1"), "discrete F1": m["summary"].get("discrete_f1"),
               "loss F1": m["summary"].get("loss_f1")}
              for r in main for n, m in r.get("multi_image", {}).items()]
        pt = [{"fold": r.get("fold"), **{k: v for k, v in r.get("pair_task", {}).items()
                                         if k in ("auc", "accuracy", "threshold", "skipped")}} for r in main]
        cc_keys = ("accuracy", "chance", "majority_class", "majority_rate", "skipped")
        cc = [{"fold": r.get("fold"), "input": which, **{k: v for k, v in c.items() if k in cc_keys}}
              for r in main for which, c in (r.get("content_independence", {}) or {}).items() if isinstance(c, dict)]
        pg = [{"fold": r.get("fold"), "gm": g, **m} for r in main for g, m in r.get("per_gm", {}).items()]
        numbers.update({"multi_image": mi, "pair_task": pt, "content_independence": cc, "per_gm": pg})
        pt = [r for r in pt if len(r) > 1]
        parts += _section(f"Multi-image parsing (Table 8, {html.escape(str(main_variant))})", mi)
        parts += _section("Same-GM pair task (Table 9)", pt)
        parts += _section("Content independence of fingerprints (Sec. 4.3)", cc,
                          "Logistic regression on pooled fingerprint statistics, trained on training GMs, tested on "
                          "test GMs; chance = a uniform guess over the training contents, majority rate = always "
                          "answering the training majority content. The image reference is the same classifier "
                          "on raw pixels.")
        parts += _section("Per test GM", pg)
        for r in main:
            slices = (r.get("tfma") or {}).get("slices")
            if slices:
                numbers.setdefault("tfma_slices", {})[str(r.get("fold"))] = slices
                parts += [f"<h2>TFMA slices, fold {r.get('fold')}</h2>", _table(slices)]
        notes = sorted({n for r in main for n in r.get("notes", [])})
        if notes:
            parts += ["<h2>Notes</h2><ul>" + "".join(f"<li>{html.escape(n)}</li>" for n in notes) + "</ul>"]
    for name, png in figures.items():
        if png is not None:
            data = base64.b64encode(png.read_bytes()).decode()
            parts.append(f"<h2>{html.escape(name)}</h2><img alt='{name}' src='data:image/png;base64,{data}'/>")
    numbers["figures"] = {k: str(v) for k, v in figures.items() if v is not None}
    return _write_page(out, parts, numbers)


def _section(title: str, rows: list[dict], intro: str = "") -> list[str]:
    """A titled table, or nothing when there are no rows (a report shows only what was measured)."""
    if not rows:
        return []
    return [f"<h2>{title}</h2>" + (f"<p>{html.escape(intro)}</p>" if intro else ""), _table(rows)]


def _write_page(out: Path, parts: list[str], numbers: dict) -> Path:
    """``out/report.html`` from the HTML ``parts`` and ``out/report.json`` from ``numbers`` (atomic)."""
    style = ("<style>body{font-family:sans-serif;max-width:1200px;margin:auto}table{border-collapse:collapse;"
             "font-size:12px}td,th{border:1px solid #ccc;padding:3px 6px}img{max-width:100%}</style>")
    page = f"<!doctype html><html><head><meta charset='utf-8'><title>reparse report</title>{style}</head><body>" \
           + "\n".join(parts) + "</body></html>"
    for name, text in (("report.html", page), ("report.json", json.dumps(numbers, indent=1, default=str))):
        tmp = out / f".{name}.tmp"
        tmp.write_text(text)
        os.replace(tmp, out / name)
    print(f"[reparse report] {out / 'report.html'} (+ {len(numbers.get('figures', {}))} PNGs, report.json)")
    return out / "report.html"


def _embedded(name: str, png: Path | None) -> list[str]:
    if png is None:
        return []
    data = base64.b64encode(png.read_bytes()).decode()
    return [f"<h2>{html.escape(name)}</h2><img alt='{html.escape(name)}' src='data:image/png;base64,{data}'/>"]


def write_forensic_report(result: dict, eval_dir: str | Path) -> Path:
    """The report of an evaluated detector / attribution network (a
    :func:`reparse_tf.evaluation.forensic_evaluation.evaluate_forensic` result): ``eval_dir/report.html`` +
    ``report.json``."""
    out = Path(eval_dir)
    task = result["task"]
    from reparse_tf.evaluation.forensic_evaluation import DETECTORS

    named = DETECTORS if task == "detect" else (("FEN + shallow classifier", "method"), ("spectral peer",
                                                                                         "spectral_peer"))
    rows = [*((n, result.get(k)) for n, k in named), ("chance", result["chance"])]
    parts = [f"<h1>reparse {html.escape(task)} report</h1><p>fold {result['fold']}: {result['n_train_gms']} training "
             f"GMs, {result['n_test_gms']} unseen test GMs; real images: {html.escape(str(result['real_source']))}; "
             f"epoch {result.get('selected_epoch')} chosen on validation data.</p>"]
    figures: dict[str, Path] = {}
    if task == "detect":
        keys = ("auc", "balanced_accuracy", "detection_rate", "real_accepted_rate")
        parts += ["<h2>Unseen GMs vs unseen real images</h2>",
                  _table([{"": n, **{k: m.get(k) for k in keys}} for n, m in rows if m])]
        parts += ["<h2>Per GM family</h2>",
                  _table([{"family": f, **v} for f, v in result["method"]["per_family"].items()])]
    else:
        keys = ("balanced_accuracy", "accuracy", "per_class_min")
        parts += ["<h2>Closed set: real + every training GM, held-out images</h2>",
                  _table([{"": n, **{k: m.get(k) for k in keys}} for n, m in rows if m]),
                  "<h2>Open set: unknown generator (unseen GMs vs held-out known images)</h2>",
                  _table([{"score": k, **v} for k, v in result["open_set"].items() if isinstance(v, dict)]),
                  "<h2>Per class</h2>", _table([{"class": c, "accuracy": a}
                                                for c, a in result["method"]["per_class"].items()])]
        plt = _plt()
        cm = np.asarray(result["method"]["confusion_matrix"], float)
        fig, ax = plt.subplots(figsize=(7, 7))
        ax.imshow(cm / np.maximum(cm.sum(1, keepdims=True), 1), cmap="viridis")
        ax.set(xlabel="predicted class", ylabel="true class", title="confusion matrix (row-normalised)")
        figures["confusion matrix"] = _save(fig, out / "confusion_matrix.png")
    for name, png in figures.items():
        parts += _embedded(name, png)
    return _write_page(out, parts, {**result, "figures": {k: str(v) for k, v in figures.items()}})


def write_model_report(result: dict, eval_dir: str | Path) -> Path:
    """The report of one evaluated model (an
    :func:`reparse_tf.evaluation.parsing_evaluation.evaluate_model` result whose
    outputs are in ``eval_dir``), written beside them: ``eval_dir/report.html`` + PNGs + ``report.json``."""
    fold = result["fold"]
    result = {**result, "eval_dir": str(eval_dir)}
    preset = result.get("preset")
    bench = {"model_dir": result.get("model_dir"), "folds": [fold], "table": model_table(result),
             "preset": preset.get("name") if isinstance(preset, dict) else preset}
    return write_report(Path(eval_dir), bench, {"model": {fold: result}})


def model_table(result: dict) -> dict[str, dict[str, dict]]:
    """The comparison rows of one evaluated model: the model, its label baselines on the same split
    and the linear heads on its frozen representations, as one-fold ``{row: {metric: {mean, std}}}``."""
    def row(summary: dict) -> dict:
        return {k: {"mean": summary.get(k), "std": None} for k in TABLE_COLUMNS}

    rows = {"this model": row(result["summary"])} if "summary" in result else {}
    for name, b in (result.get("baselines") or {}).items():
        if isinstance(b, dict) and "summary" in b:
            rows[name] = row(b["summary"])
    for name, h in (result.get("linear_heads") or {}).items():
        if isinstance(h, dict) and "summary" in h:
            rows[f"linear heads on the {name}"] = row(h["summary"])
    return rows
