"""Parsing a set of images of one unseen GM: the set fingerprint against the spectral peer's aggregated answers.

    python benchmarks/set_fingerprint.py --examples EXAMPLES_DIR --out OUT [--folds 0,1,2,3] [--sizes 10,100]
        [--draws 3] [--ablation] [--twins-ablation] [--twins PAIR_EXAMPLES ...]

Per fold, set size N and draw (:mod:`reparse_tf.evaluation.set_evaluation`): sets of N images of the fold's
fitted training GMs to fit on, 10 sets of N images of each test GM to score on; the set fingerprint parser, the
spectral peer's per-image answers aggregated over the same sets, the constant and the family oracle, all from this
run. Prints and writes ``OUT/set_fingerprint.{json,md}``: mean ± std over folds (each fold's figure the mean over
draws) with the spread over draws, the per-parameter figures, and paired tests over the test GMs (Wilcoxon, per-GM
scores averaged over draws, pooled over folds).

``--twins-ablation`` (on examples with twins, e.g. ``benchmarks/twins.py``'s ``OUT/pair_examples``): the set
parser also fitted without the training GMs' twins, on the same sets and scored on the same test sets.

``--twins``: ingested examples holding GMs and their twins (``benchmarks/twins.py`` writes them as
``OUT/pair_examples``): is a GM's nearest GM its twin (same architecture, another content, seed or weight draw)
under the set fingerprint (one set of N images per GM), and under the mean of its per-image spectral features?
Each fold's results are cached in ``OUT/cache/`` so the script resumes.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

KEYS = ("continuous_l1", "continuous_r2", "discrete_f1", "loss_f1")
COMPARISONS = (("set_fingerprint", "spectral_peer_vote"), ("set_fingerprint_only", "spectral_peer_vote"),
               ("set_fingerprint", "set_fingerprint_only"), ("set_fingerprint", "set_fingerprint_sources"),
               ("set_fingerprint", "constant"),
               ("set_fingerprint", "family_oracle"))


def summarise(runs: dict[tuple[int, int], dict], predictors: tuple[str, ...]) -> dict:
    """Mean ± std over folds of each predictor's summary (each fold: the mean over its draws), the mean std over
    draws within a fold, the per-parameter means and the paired tests (per-GM scores averaged over draws)."""
    from reparse_tf.evaluation.metrics import mean_std
    from reparse_tf.evaluation.significance import compare_per_gm

    folds = sorted({f for f, _ in runs})
    out: dict = {"summary": {}, "draw_std": {}, "per_parameter": {}, "paired": {}}
    per_gm: dict[str, dict[str, dict]] = {}
    for p in predictors:
        by_fold = {f: [r[p] for (ff, _), r in runs.items() if ff == f] for f in folds}
        out["summary"][p] = {k: mean_std([float(np.mean([d["summary"][k] for d in ds])) for ds in by_fold.values()])
                             for k in KEYS}
        out["draw_std"][p] = {k: float(np.mean([np.std([d["summary"][k] for d in ds]) for ds in by_fold.values()]))
                              for k in KEYS}
        names = list(next(iter(by_fold.values()))[0]["per_parameter"])
        out["per_parameter"][p] = {n: float(np.mean([d["per_parameter"][n] for ds in by_fold.values() for d in ds]))
                                   for n in names}
        gms = {g for ds in by_fold.values() for d in ds for g in d["per_gm"]}
        per_gm[p] = {g: {k: float(np.mean([d["per_gm"][g][k] for ds in by_fold.values() for d in ds
                                           if g in d["per_gm"]]))
                         for k in ("continuous_l1", "discrete_accuracy", "loss_accuracy")} for g in gms}
    for a, b in COMPARISONS:
        if a in predictors and b in predictors:
            out["paired"][f"{a} - {b}"] = compare_per_gm(per_gm[a], per_gm[b])
    return out


def markdown(result: dict) -> str:
    from reparse_tf.evaluation.metrics import format_mean_std
    from reparse_tf.evaluation.set_evaluation import LABELS
    from reparse_tf.evaluation.significance import paired_table

    lines = [f"# Parsing a set of N images of an unseen GM ({result['examples']}, folds {result['folds']}, "
             f"{result['draws']} draws of the sets)", ""]
    for size, s in result["sizes"].items():
        lines += [f"## N = {size}", "", "| predictor | continuous L1 ↓ | continuous R² | discrete F1 | loss F1 |",
                  "| --- | --- | --- | --- | --- |"]
        for p, row in s["summary"].items():
            cells = [f"{format_mean_std(row[k])} (draws ± {s['draw_std'][p][k]:.3f})" for k in KEYS]
            lines.append(f"| {LABELS[p]} | " + " | ".join(cells) + " |")
        lines += ["", "Paired over test GMs (Wilcoxon; L1 lower is better, accuracies higher):", "",
                  *paired_table(s["paired"])]
        params = list(next(iter(s["per_parameter"].values())))
        lines += ["", "Per parameter (continuous: L1; discrete: macro F1):", "",
                  "| parameter | " + " | ".join(s["per_parameter"]) + " |",
                  "| --- |" + " --- |" * len(s["per_parameter"])]
        lines += [f"| {n} | " + " | ".join(f"{v[n]:.3f}" for v in s["per_parameter"].values()) + " |" for n in params]
        lines.append("")
    for name, r in result.get("twin_retrieval", {}).items():
        lines += [f"## Twin retrieval: {name}", "", "| features | nearest GM is a twin (chance) | median rank of the "
                  "nearest twin (chance) | nearest GM same content (chance) | same family (chance) |",
                  "| --- | --- | --- | --- | --- |"]
        for feat, t in r.items():
            lines.append(f"| {feat} | {t['twin_nn']:.3f} ({t['twin_nn_chance']:.3f}) | {t['twin_rank']:.1f} "
                         f"({t['twin_rank_chance']:.1f}) | {t['content_nn']:.3f} ({t['content_nn_chance']:.3f}) | "
                         f"{t['family_nn']:.3f} ({t['family_nn_chance']:.3f}) |")
        lines.append("")
    return "\n".join(lines)


def twin_retrieval_sets(examples: Path, size: int, seed: int = 0) -> dict:
    """Twin retrieval under the set fingerprint (one set of ``size`` images per GM) and the mean spectral features."""
    from reparse_tf.evaluation.parsing_evaluation import load_examples
    from reparse_tf.evaluation.twins import twin_retrieval
    from reparse_tf.model.set_fingerprint import ImageCache, draw_sets
    from reparse_tf.targets.cluster_ground_truth import read_fold_info

    labels, _, _ = read_fold_info(examples)
    data = load_examples(examples, labels.gms)
    cache = ImageCache.of(data["images"])
    gms = np.asarray(data["gm"]).astype(str)
    sets = draw_sets(gms, labels.gms, size, 1, np.random.default_rng(seed))
    content = dict(zip(labels.gms, labels.contents, strict=True))
    names = np.array([g for g, _ in sets])
    out = {}
    for feat, fn in (("set fingerprint + mean image spectra", lambda ix: cache.set_features(ix, True)),
                     ("set fingerprint alone", lambda ix: cache.set_features(ix, False)),
                     ("mean per-image spectral features", lambda ix: cache.image_features[ix].mean(axis=0))):
        out[feat] = twin_retrieval(np.stack([fn(ix) for _, ix in sets]), names, content, dict(labels.type_of))
    return out


def main(argv: list[str] | None = None) -> int:
    from reparse_tf.evaluation.parsing_evaluation import load_examples
    from reparse_tf.evaluation.set_evaluation import DEFAULT_PREDICTORS, PREDICTORS, evaluate_fold
    from reparse_tf.model.set_fingerprint import ImageCache
    from reparse_tf.serving.artifacts import write_json, write_text
    from reparse_tf.targets.cluster_ground_truth import read_fold_info

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--examples", required=True, help="ingested zoo (reparse ingest)")
    ap.add_argument("--out", required=True)
    ap.add_argument("--folds", default="0,1,2,3")
    ap.add_argument("--sizes", default="10,100", help="set sizes N")
    ap.add_argument("--draws", type=int, default=3, help="draws of the training and test sets (seeds 0..)")
    ap.add_argument("--train-sets", type=int, default=15, help="sets per training GM")
    ap.add_argument("--test-sets", type=int, default=10, help="sets per test GM")
    ap.add_argument("--ablation", action="store_true", help="also the set fingerprint without the mean image spectra")
    ap.add_argument("--twins-ablation", action="store_true",
                    help="also the set parser fitted without the training GMs' twins (examples with twins)")
    ap.add_argument("--twins", nargs="*", default=[], help="ingested examples with twins, for twin retrieval")
    args = ap.parse_args(argv)
    out = Path(args.out)
    (out / "cache").mkdir(parents=True, exist_ok=True)
    folds_run = [int(x) for x in args.folds.split(",")]
    sizes = [int(x) for x in args.sizes.split(",")]
    labels, folds, _ = read_fold_info(args.examples)
    extra = {"set_fingerprint_only": args.ablation, "set_fingerprint_sources": args.twins_ablation}
    predictors = tuple(p for p in PREDICTORS if p in DEFAULT_PREDICTORS or extra.get(p))
    data: dict | None = None
    cache = None
    peers: dict = {}
    result: dict = {"examples": str(args.examples), "folds": folds_run, "draws": args.draws,
                    "train_sets": args.train_sets, "test_sets": args.test_sets, "sizes": {}}
    for size in sizes:
        runs = {}
        for fold in folds_run:
            for draw in range(args.draws):
                f = out / "cache" / f"fold{fold}_n{size}_draw{draw}.json"
                if not f.is_file() or not set(predictors) <= set(json.loads(f.read_text())):
                    if cache is None:
                        data = load_examples(args.examples, labels.gms)
                        cache = ImageCache.of(data["images"])
                    r = evaluate_fold(cache, data, labels, folds, fold, size, seed=draw, train_sets=args.train_sets,
                                      test_sets=args.test_sets, predictors=predictors, peers=peers)
                    write_json(f, r, strict=False)
                runs[(fold, draw)] = json.loads(f.read_text())
                s = runs[(fold, draw)]
                print(f"N={size} fold {fold} draw {draw}: " + ", ".join(
                    f"{p} {s[p]['summary']['continuous_l1']:.3f}/{s[p]['summary']['discrete_f1']:.3f}/"
                    f"{s[p]['summary']['loss_f1']:.3f}" for p in predictors), flush=True)
        result["sizes"][str(size)] = summarise(runs, predictors)
    if args.twins:
        result["twin_retrieval"] = {f"{t}, N = {max(sizes)}": twin_retrieval_sets(Path(t), max(sizes))
                                    for t in args.twins}
    write_json(out / "set_fingerprint.json", result, indent=1, strict=False)
    md = markdown(result)
    write_text(out / "set_fingerprint.md", md + "\n")
    print(md)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
