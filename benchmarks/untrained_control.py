"""The parsers on images that carry the architecture and no training run, beside the same GMs trained.

    reparse zoo build --preset untrained --out ZOO_U --workers 2      # the standard architectures, never trained
    reparse ingest ZOO_U --out EX_U --folds 4 --format npz
    python benchmarks/untrained_control.py --trained EXAMPLES --untrained EX_U --out OUT
        [--folds 0,1,2,3] [--variants full] [--preset cpu]

Runs ``reparse benchmark`` (the variants and the four baselines) on both examples dirs (``OUT/trained``,
``OUT/untrained``; every job cached, so a run resumes), then writes ``OUT/untrained_control.{md,json}``: each
predictor's figures on both zoos side by side, the discrete architecture parameters one by one, and paired tests
over the test GMs that have the same architecture and fold in both zoos (a GM the trained zoo redrew after a
failed quality screen is left out of the pairs): untrained - trained for every predictor, and on the untrained
zoo the method against each baseline. If the parsers read the architecture once content and training stop
masking it, the untrained zoo's figures bound how far removing that masking would go.
"""

from __future__ import annotations

import argparse
from pathlib import Path

KEYS = ("continuous_l1", "continuous_r2", "discrete_f1", "loss_f1")
PAIRED = ("continuous_l1", "discrete_accuracy", "loss_accuracy")
SIDES = ("trained", "untrained")


def same_architecture(trained: Path, untrained: Path) -> list[str]:
    """``"<fold>/<gm>"`` of the GMs in the same fold with the same architecture labels in both examples dirs."""
    import numpy as np

    from reparse_tf.data.schema import load_schema
    from reparse_tf.targets.cluster_ground_truth import read_fold_info

    schema = load_schema()
    cols = [schema.index(p.name) for p in schema.params if p.group == "architecture"]
    (la, fa, _), (lb, fb, _) = read_fold_info(trained), read_fold_info(untrained)
    return sorted(f"{fa[g]}/{g}" for g in set(fa) & set(fb) if fa[g] == fb[g]
                  and np.allclose(la.values[la.row(g), cols], lb.values[lb.row(g), cols]))


def main(argv: list[str] | None = None) -> int:
    from reparse_tf.data.schema import load_schema
    from reparse_tf.evaluation.benchmark import run_benchmark
    from reparse_tf.evaluation.metrics import format_mean_std
    from reparse_tf.evaluation.significance import compare_per_gm, format_paired
    from reparse_tf.evaluation.variants import LABELS
    from reparse_tf.serving.artifacts import write_json, write_text

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--trained", required=True, help="ingested trained zoo (e.g. standard)")
    ap.add_argument("--untrained", required=True, help="ingested untrained zoo (reparse zoo build --preset untrained)")
    ap.add_argument("--out", required=True)
    ap.add_argument("--folds", default="0,1,2,3")
    ap.add_argument("--variants", default="full", help="benchmark variants to train on both (default full)")
    ap.add_argument("--preset", default="cpu")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    out = Path(args.out)
    folds = [int(x) for x in args.folds.split(",")]
    variants = [v for v in args.variants.split(",") if v]
    examples = {"trained": Path(args.trained), "untrained": Path(args.untrained)}
    res = {side: run_benchmark(out / side, preset=args.preset, folds=folds, variants=variants,
                               examples_dir=examples[side], tfma=False, report=False, seed=args.seed)
           for side in SIDES}
    pairs = set(same_architecture(examples["trained"], examples["untrained"]))
    predictors = [v for v in res["trained"]["table"] if v in res["untrained"]["table"]]

    def paired(a: dict, b: dict) -> dict:
        return compare_per_gm({g: r for g, r in a.items() if g in pairs}, {g: r for g, r in b.items() if g in pairs},
                              keys=PAIRED, seed=args.seed)

    change = {v: paired(res["untrained"]["per_gm"][v], res["trained"]["per_gm"][v]) for v in predictors
              if v in res["untrained"]["per_gm"] and v in res["trained"]["per_gm"]}
    main_v = variants[0] if variants else None
    method_tests = {side: res[side]["significance"] for side in SIDES} if main_v else {}
    schema = load_schema()
    discrete = [p.name for p in schema.params if p.group == "architecture" and not p.is_continuous]
    per_param = {side: {v: {p: res[side]["per_param"].get(v, {}).get(p, {}).get("f1", {}).get("mean")
                            for p in discrete} for v in predictors} for side in SIDES}
    result = {"trained": str(examples["trained"]), "untrained": str(examples["untrained"]), "folds": folds,
              "preset": args.preset, "variants": variants, "n_pairs": len(pairs),
              "table": {side: {v: res[side]["table"][v] for v in predictors} for side in SIDES},
              "untrained_minus_trained": change, "method_vs_baselines": method_tests,
              "discrete_f1": per_param, "goals_untrained": res["untrained"]["goals"]}
    write_json(out / "untrained_control.json", result, indent=1, strict=False)

    label = {v: LABELS.get(v, v) for v in predictors}
    lines = [f"# The parsers on untrained GMs beside the same GMs trained ({args.preset} preset, folds {args.folds})",
             "", "Per image of each fold's test GMs, mean ± std over folds (trained / untrained zoo).", "",
             "| predictor | " + " | ".join(KEYS) + " |", "| --- " * (len(KEYS) + 1) + "|"]
    lines += [f"| {label[v]} | " + " | ".join(
        " / ".join(format_mean_std(res[side]["table"][v][k]) for side in SIDES) for k in KEYS) + " |"
        for v in predictors]
    lines += ["", f"Untrained - trained, paired over the {len(pairs)} test GMs with the same architecture and fold "
              "in both zoos (mean difference, Wilcoxon p):", "",
              "| predictor | " + " | ".join(PAIRED) + " |", "| --- " * (len(PAIRED) + 1) + "|"]
    lines += [f"| {label[v]} | " + " | ".join(format_paired(t[k]) for k in PAIRED) + " |" for v, t in change.items()]
    if main_v:
        lines += ["", f"{label[main_v]} - each predictor on the same zoo, paired over its test GMs (trained / "
                  "untrained):", "", "| predictor | " + " | ".join(PAIRED) + " |", "| --- " * (len(PAIRED) + 1) + "|"]
        lines += [f"| {label[v]} | " + " | ".join(" / ".join(format_paired(method_tests[side][v][k]) for side in SIDES)
                                                 for k in PAIRED) + " |"
                  for v in predictors if v != main_v and all(v in method_tests[s] for s in SIDES)]
    lines += ["", "Discrete architecture parameters, macro F1 (trained / untrained):", "",
              "| parameter | " + " | ".join(label[v] for v in predictors) + " |",
              "| --- " * (len(predictors) + 1) + "|"]
    lines += [f"| {p} | " + " | ".join(" / ".join("n/a" if per_param[side][v][p] is None else
                                                  f"{per_param[side][v][p]:.3f}" for side in SIDES)
                                       for v in predictors) + " |" for p in discrete]
    if main_v:
        lines += ["", f"Parsing goals of {label[main_v]} on the untrained zoo:", ""]
        lines += [f"- {'met' if g['met'] else 'not met' if g['met'] is False else 'n/a'}: {g['goal']} ({g['detail']})"
                  for g in res["untrained"]["goals"]]
    write_text(out / "untrained_control.md", "\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
