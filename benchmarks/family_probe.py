"""Can the family (GAN / VAE / AA / AR / NF) of an unseen GM be read from its images' spectra?

    python benchmarks/family_probe.py --examples EXAMPLES_DIR [--folds 0,1,2,3] [--per-gm 50] [--out FILE.md]

Per fold: class-balanced logistic regression on the spectral peer's features of ``--per-gm`` images of each
fitted training GM (validation GMs left out, as everywhere), scored on the fold's test GMs: accuracy per
image, per family, and of the per-GM majority vote, for a few penalties. The family oracle's lead over
every parser says how much recognising the family alone would give; this says whether it can be learnt.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import numpy as np

CS = (0.01, 0.1, 1.0)


def main(argv: list[str] | None = None) -> int:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from reparse_tf.data.folds import fold_gms
    from reparse_tf.evaluation.parsing_evaluation import load_examples, subsample_per_gm
    from reparse_tf.evaluation.spectral_peer import spectral_features
    from reparse_tf.targets.cluster_ground_truth import read_fold_info

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--examples", required=True)
    ap.add_argument("--folds", default="0,1,2,3")
    ap.add_argument("--per-gm", type=int, default=50)
    ap.add_argument("--out", default=None, help="write the table (markdown) here")
    args = ap.parse_args(argv)
    labels, folds, _ = read_fold_info(args.examples)
    families = sorted(set(labels.gm_types))
    lines = ["| fold | C | image accuracy | per-GM vote accuracy | chance (majority) | "
             + " | ".join(families) + " |", "| --- " * (5 + len(families)) + "|"]
    for k in (int(x) for x in args.folds.split(",")):
        split = fold_gms(folds, k, labels.type_of)
        sets = []
        for gms in (split.fit, split.test):
            ex = load_examples(args.examples, gms)
            keep = subsample_per_gm(ex["gm"], args.per_gm, 0)
            sets.append((spectral_features(ex["images"][keep]), ex["gm_type"][keep].astype(str),
                         ex["gm"][keep].astype(str)))
        (x_tr, y_tr, _), (x_te, y_te, gm_te) = sets
        values, counts = np.unique(y_tr, return_counts=True)
        chance = float(np.mean(y_te == values[np.argmax(counts)]))
        for c in CS:
            clf = make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=3000, class_weight="balanced"))
            pred = clf.fit(x_tr, y_tr).predict(x_te)
            votes = [max(set(pred[gm_te == g].tolist()), key=pred[gm_te == g].tolist().count) == y_te[gm_te == g][0]
                     for g in sorted(set(gm_te.tolist()))]
            per = [f"{np.mean(pred[y_te == f] == f):.2f}" if (y_te == f).any() else "n/a" for f in families]
            lines.append(f"| {k} | {c} | {np.mean(pred == y_te):.3f} | {np.mean(votes):.3f} | {chance:.3f} | "
                         + " | ".join(per) + " |")
            print(lines[-1], flush=True)
    md = ("# Family of unseen GMs from image spectra (logistic regression, class-balanced; per family: share of "
          "its test images recognised)\n\n" + "\n".join(lines) + "\n")
    if args.out:
        tmp = Path(args.out).with_suffix(".tmp")
        tmp.write_text(md)
        os.replace(tmp, args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
