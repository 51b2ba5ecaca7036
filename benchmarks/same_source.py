"""Same-generator detection over trained models of several folds (TPAMI Table 9 / Fig. 12 protocol).

    python benchmarks/same_source.py --examples EXAMPLES_DIR --models DIR [DIR ...] [--out PREFIX]

For each model (one per fold): :func:`reparse_tf.evaluation.same_source.evaluate_same_source` (thresholds chosen on
pairs of the model's validation GMs and fitted GMs, scored on pairs of its test GMs and other images of
its fitted GMs). Prints, per score (parsed hyperparameters, FEN fingerprint, and the spectral-feature
baseline computed in the same run), the test AUC, AUC on unseen-GM pairs, accuracy at the validation
threshold and the error per pair category, as mean +- std over the models. Writes PREFIX.md / .json.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import numpy as np


def _ms(values: list[float | None]) -> str:
    v = [x for x in values if x is not None]
    return "n/a" if not v else f"{np.mean(v):.3f} ± {np.std(v):.3f}"


def main(argv: list[str] | None = None) -> int:
    from reparse_tf.evaluation.same_source import CATEGORIES, evaluate_same_source
    from reparse_tf.serving.artifacts import write_json
    from reparse_tf.serving.inference import ModelParser

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--examples", required=True)
    ap.add_argument("--models", nargs="+", required=True, help="trained model dirs, one per fold")
    ap.add_argument("--per-gm", type=int, default=32)
    ap.add_argument("--pairs", type=int, default=400, help="pairs per category and side")
    ap.add_argument("--out", default=None, help="output prefix (writes PREFIX.md and PREFIX.json)")
    args = ap.parse_args(argv)
    runs = []
    for d in args.models:
        parser = ModelParser.load(d)
        r = evaluate_same_source(parser, args.examples, args.per_gm, args.pairs, seed=0)
        r.pop("spectrum_scaler")
        runs.append({"model": str(d), "fold": parser.meta.get("fold"), **r})
        print(f"{d}: " + ", ".join(f"{s} AUC {m['auc']:.3f} (unseen {m['auc_unseen']:.3f})"
                                   for s, m in r["test"].items()), flush=True)
    scores = list(runs[0]["test"])
    lines = [f"Same-source detection, {len(runs)} models (folds {', '.join(str(r['fold']) for r in runs)}), "
             f"{args.per_gm} images per GM and side, {args.pairs} pairs per category; thresholds from validation "
             "GMs; mean ± std over folds. Chance: AUC 0.5, accuracy 0.60 (3 of 5 categories are different-GM "
             "pairs).", "",
             "| score | test AUC | AUC, unseen-GM pairs | accuracy at threshold | validation AUC |",
             "| --- | --- | --- | --- | --- |"]
    for s in scores:
        lines.append(f"| {s} | {_ms([r['test'][s]['auc'] for r in runs])} | "
                     f"{_ms([r['test'][s]['auc_unseen'] for r in runs])} | "
                     f"{_ms([r['test'][s]['accuracy'] for r in runs])} | "
                     f"{_ms([r['validation'][s]['auc'] for r in runs])} |")
    lines += ["", "Error per pair category (test, at the validation threshold):", "",
              "| score | " + " | ".join(CATEGORIES) + " |", "| --- " * (1 + len(CATEGORIES)) + "|"]
    for s in scores:
        lines.append(f"| {s} | " + " | ".join(_ms([r["test"][s]["error_by_category"].get(c) for r in runs])
                                              for c in CATEGORIES) + " |")
    text = "\n".join(lines)
    print(text)
    if args.out:
        out = Path(args.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_name(f".{out.name}.md.tmp")
        tmp.write_text(text + "\n")
        os.replace(tmp, out.with_name(out.name + ".md"))
        write_json(out.with_name(out.name + ".json"), {"runs": runs}, indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
