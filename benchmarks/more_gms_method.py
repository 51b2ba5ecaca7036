"""The full method trained on more GMs than one zoo holds, beside the same method on the fold's own GMs.

    reparse zoo build --preset standard --seed 1 --out ZOO1 --workers 2   # 60 more GMs: new architectures
    python benchmarks/more_gms_method.py --examples EXAMPLES --extra ZOO1 [ZOO2 ...] --out OUT
        [--folds 0,1,2,3] [--variant full] [--sizes 60]

``EXAMPLES`` is an ingested zoo (its ``manifest.json`` names the zoo it came from). The script pools that zoo
and the extra zoos into one layout under ``OUT/pool`` (links, one label table), ingests it with a fold table
that keeps every GM of ``EXAMPLES`` in its fold and puts the extra GMs in no test fold (they train in every
split and are never test GMs), and runs ``reparse benchmark`` for ``--variant`` on both (``OUT/bench_own``,
``OUT/bench_pool``; validation GMs are carved from each training side as usual) and on family-stratified
subsets of ``--sizes`` of the pool's fitted GMs (``OUT/bench_pool<N>``). Every run is scored on the fold's own
test GMs in the units of the fold's own fitted GMs (a pooled run's continuous predictions are mapped back
through its normaliser), beside the constant and the family oracle fitted on the same training GMs. Writes
``OUT/more_gms_method.{json,md,png}``: the table (mean ± std over folds), paired tests over the test GMs, the
change per doubling of the training GMs and how many doublings that trend needs to reach each goal of the
parsing issue (an extrapolation). Every benchmark job is cached: a run resumes.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

KEYS = ("continuous_l1", "continuous_r2", "discrete_f1", "loss_f1")


def pool_examples(examples: Path, extras: list[Path], out: Path) -> Path:
    """``out/examples_pool``: the zoo behind ``examples`` plus the ``extras`` (RED layouts), ingested with the
    folds of ``examples`` and the extra GMs in no test fold (built once; GM names must differ across zoos)."""
    from reparse_tf.data.ingest import run_ingest
    from reparse_tf.data.labels import read_labels
    from reparse_tf.targets.cluster_ground_truth import read_fold_info

    dest = out / "examples_pool"
    if (dest / "manifest.json").is_file():
        return dest
    manifest = json.loads((examples / "manifest.json").read_text())
    roots = [Path(manifest["source"]), *extras]
    _, folds, _ = read_fold_info(examples)
    layout = out / "pool"
    layout.mkdir(parents=True, exist_ok=True)
    header, rows, seen = None, [], set()
    for root in roots:
        lines = (root / "labels.csv").read_text().splitlines()
        header = header or lines[0]
        if lines[0] != header:
            raise ValueError(f"{root / 'labels.csv'}: its columns differ from {roots[0] / 'labels.csv'}")
        clash = sorted(seen & set(read_labels(root / "labels.csv").gms))
        if clash:
            raise ValueError(f"{root}: GM names already in an earlier zoo ({', '.join(clash[:5])}); "
                             "build each extra zoo with its own --seed")
        for gm in read_labels(root / "labels.csv").gms:
            link = layout / gm
            if not link.exists():
                link.symlink_to((root / gm).resolve(), target_is_directory=True)
            seen.add(gm)
        rows += lines[1:]
    (layout / "labels.csv").write_text("\n".join([header, *rows]) + "\n")
    table = out / "pool_folds.csv"  # split,gm: the GMs of EXAMPLES keep their folds, the rest train only
    table.write_text("split,gm\n" + "".join(f"{k},{g}\n" for g, k in sorted(folds.items())))
    run_ingest(layout, dest, image_size=int(manifest.get("image_size", 64)), n_folds=str(table),
               output_format="npz")
    return dest


def rescored(bench: Path, variant: str, fold: int, labels, own_norm, seed: int) -> dict[str, dict]:
    """The variant's test predictions of one fold and the constant / family oracle fitted on the same training
    GMs, each scored in ``own_norm``'s units: ``{predictor: {summary, per_gm}}``."""
    from reparse_tf.data.schema import MinMaxNormalizer, load_schema, split_labels
    from reparse_tf.evaluation import baselines as B
    from reparse_tf.evaluation.parsing_evaluation import score_predictions

    schema = load_schema()
    result = json.loads((bench / "cache" / f"{variant}-fold{fold}" / "result.json").read_text())
    meta = json.loads((Path(result["model_dir"]) / "parser_meta.json").read_text())
    norm = MinMaxNormalizer.from_json(meta["normalizer"])
    with np.load(Path(result["eval_dir"]) / "predictions.npz") as z:
        gm, cont, disc = z["gm"].astype(str), z["continuous"], z["discrete"]
    test = sorted(set(gm.tolist()))
    truth = labels.subset(test)
    tc, td = split_labels(truth.values[[truth.row(g) for g in gm]], own_norm, schema)
    info = {"gm": gm, "gm_type": np.array([labels.type_of[g] for g in gm]),
            "content": np.array([labels.contents[labels.row(g)] for g in gm])}
    preds = {variant: (own_norm.transform(norm.inverse_transform(cont)), disc)}
    fit = labels.subset(meta["train_gms"])
    for name, fn in (("constant", B.constant), ("family_oracle", B.family_oracle)):
        preds[name] = B.expand_to_images(fn(fit, truth, own_norm, schema), test, gm)
    out = {}
    for name, (pc, pd) in preds.items():
        s = score_predictions(tc, pc, td, pd, info, None, schema, seed, n_images=())
        out[name] = {"summary": s["summary"], "per_gm": {f"{fold}/{g}": r for g, r in s["per_gm"].items()}}
    out["n_fit_gms"] = len(meta["train_gms"])
    return out


def main(argv: list[str] | None = None) -> int:
    from reparse_tf.data.schema import MinMaxNormalizer
    from reparse_tf.evaluation.benchmark import run_benchmark
    from reparse_tf.evaluation.learning_curve import doublings_to, per_doubling, plot
    from reparse_tf.evaluation.metrics import format_mean_std, mean_std
    from reparse_tf.evaluation.significance import compare_per_gm, paired_table
    from reparse_tf.evaluation.variants import LABELS
    from reparse_tf.serving.artifacts import write_json, write_text
    from reparse_tf.targets.cluster_ground_truth import read_fold_info

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--examples", required=True, help="ingested zoo whose folds are scored (reparse ingest)")
    ap.add_argument("--extra", required=True, nargs="+", help="zoos (RED layouts) of other seeds: training GMs only")
    ap.add_argument("--out", required=True)
    ap.add_argument("--folds", default="0,1,2,3")
    ap.add_argument("--variant", default="full", help="benchmark variant to train (default full)")
    ap.add_argument("--sizes", default="", help="subsets of the pool's fitted GMs to train on as well, e.g. 60")
    ap.add_argument("--preset", default="cpu")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    examples = Path(args.examples)
    folds = [int(x) for x in args.folds.split(",")]
    pooled = pool_examples(examples, [Path(e) for e in args.extra], out)
    # side -> (benchmark dir, examples, max_train_gms)
    sides = {"own": (out / "bench_own", examples, None),
             **{f"pool{n}": (out / f"bench_pool{n}", pooled, n) for n in sorted(int(x) for x in args.sizes.split(",")
                                                                               if x)},
             "pool": (out / "bench_pool", pooled, None)}
    for bench, ex, n in sides.values():
        run_benchmark(bench, preset=args.preset, folds=folds, variants=[args.variant], examples_dir=ex,
                      baselines=["constant", "family_oracle"], tfma=False, seed=args.seed, max_train_gms=n)
    labels, _, _ = read_fold_info(pooled)
    scores: dict[str, dict[int, dict]] = {side: {} for side in sides}
    for k in folds:
        own_result = json.loads((out / "bench_own" / "cache" / f"{args.variant}-fold{k}" / "result.json").read_text())
        own_norm = MinMaxNormalizer.from_json(json.loads((Path(own_result["model_dir"]) / "parser_meta.json"
                                                          ).read_text())["normalizer"])
        for side, (bench, _, _) in sides.items():
            scores[side][k] = rescored(bench, args.variant, k, labels, own_norm, args.seed)
    names = [args.variant, "constant", "family_oracle"]
    table = {f"{side}/{n}": {key: mean_std([scores[side][k][n]["summary"][key] for k in folds]) for key in KEYS}
             for side in sides for n in names}
    fit_gms = {side: mean_std([scores[side][k]["n_fit_gms"] for k in folds]) for side in sides}

    def per_gm(side: str, name: str) -> dict:
        return {g: r for k in folds for g, r in scores[side][k][name]["per_gm"].items()}

    method = args.variant
    tests = {"pool vs own": compare_per_gm(per_gm("pool", method), per_gm("own", method), seed=args.seed),
             **{f"{side} vs its family oracle": compare_per_gm(per_gm(side, method), per_gm(side, "family_oracle"),
                                                               seed=args.seed) for side in ("own", "pool")}}
    points = [{"n_fit_gms": {n: fit_gms[side]["mean"] for n in names},
               "table": {n: table[f"{side}/{n}"] for n in names}} for side in sides]
    slopes = per_doubling(points, names)
    oracle = table["pool/family_oracle"]
    goals = {"continuous_l1": (0.9 * oracle["continuous_l1"]["mean"], True),
             "discrete_f1": (0.55, False), "loss_f1": (oracle["loss_f1"]["mean"] + 0.10, False)}
    reach = {key: {"target": t, "doublings": doublings_to(points, args.variant, key, t, lower)}
             for key, (t, lower) in goals.items()}
    result = {"examples": str(examples), "pooled": str(pooled), "variant": args.variant, "preset": args.preset,
              "folds": folds, "fit_gms": fit_gms, "table": table, "tests": tests, "per_doubling": slopes,
              "doublings_to_goals": reach,
              "per_fold": {f"{side}/{n}": {str(k): scores[side][k][n]["summary"] for k in folds}
                           for side in sides for n in names}}
    write_json(out / "more_gms_method.json", result, indent=1, strict=False)
    label = {args.variant: LABELS.get(args.variant, args.variant), "constant": "Constant",
             "family_oracle": "Family oracle (uses the true family)"}
    plot(points, names, out / "more_gms_method.png", label)
    lines = [f"# {label[args.variant]} on more GMs ({args.preset} preset, folds {args.folds})", "",
             "Per image of each fold's own test GMs, in the units of the fold's own fitted GMs; mean ± std over folds.",
             "", "| training GMs | predictor | " + " | ".join(KEYS) + " |", "| --- " * (len(KEYS) + 2) + "|"]
    for side in sides:
        n = f"{fit_gms[side]['mean']:.0f}" + {"own": " (own zoo)", "pool": " (pooled)"}.get(side, " (pool subset)")
        lines += [f"| {n} | {label[p]} | " + " | ".join(format_mean_std(table[f'{side}/{p}'][key]) for key in KEYS)
                  + " |" for p in names]
    lines += ["", "Paired over test GMs (mean difference, Wilcoxon p):", "", *paired_table(tests)]
    lines += ["", "Change per doubling of the training GMs (least-squares slope against log2 of the fitted GMs):", "",
              "| predictor | " + " | ".join(k for k, _ in goals.items()) + " |", "| --- " * (len(goals) + 1) + "|"]
    lines += [f"| {label[p]} | " + " | ".join("n/a" if slopes[p][k] is None else f"{slopes[p][k]:+.3f}" for k in goals)
              + " |" for p in names]
    lines += ["", f"Doublings past {fit_gms['pool']['mean']:.0f} GMs at which that trend of the "
              f"{label[args.variant]} reaches each goal (an extrapolation): " + "; ".join(
                  f"{k} {r['target']:.3f}: " + ("never on this trend" if r["doublings"] is None
                                                 else f"{r['doublings']:.1f}") for k, r in reach.items())]
    write_text(out / "more_gms_method.md", "\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
