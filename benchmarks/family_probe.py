"""Can the family (GAN / VAE / AA / AR / NF) of an unseen GM be read from its images' spectra?

    python benchmarks/family_probe.py --examples EXAMPLES_DIR [--folds 0,1,2,3] [--per-gm 50] [--out FILE.md]
                                      [--models FORENSIC_MODEL_DIR ...]

Per fold: class-balanced logistic regression on the spectral peer's features of ``--per-gm`` images of each
fitted training GM (validation GMs left out, as everywhere), scored on the fold's test GMs: accuracy per
image, per family, and of the per-GM majority vote, for a few penalties. The family oracle's lead over
every parser says how much recognising the family alone would give; this says whether it can be learnt.

``--models``: the same question for the representation of trained detectors / attributors (``reparse train
--task detect|attribute``; the features their logits are read from), on each model's own fold: linear
probes for family and content, and the spectral peer's linear parsing heads on those features beside the
same heads on the image spectrum, all fitted on ``--per-gm`` images of the model's training GMs and scored
on 100 images of each of its test GMs.
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
    ap.add_argument("--models", nargs="*", default=[], help="forensic MODEL DIRs whose features to probe instead")
    args = ap.parse_args(argv)
    if args.models:
        return probe_models(args)
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
    write_table(args.out, "Family of unseen GMs from image spectra (logistic regression, class-balanced; per family: "
                "share of its test images recognised)", lines)
    return 0


def probe_models(args: argparse.Namespace) -> int:
    import json

    import keras

    from reparse_tf.data.schema import MinMaxNormalizer, load_schema
    from reparse_tf.evaluation.parsing_evaluation import embedding_probes, linear_heads, load_examples, subsample_per_gm
    from reparse_tf.evaluation.spectral_peer import spectral_features
    from reparse_tf.model.fingerprint_classifier import classifier_embeddings
    from reparse_tf.targets.cluster_ground_truth import read_fold_info

    schema = load_schema()
    labels, _, _ = read_fold_info(args.examples)
    cols = ("continuous_l1", "continuous_r2", "discrete_f1", "loss_f1")
    lines = ["| model | fold | family probe (chance) | content probe (chance) | heads on | " + " | ".join(cols) + " |",
             "| --- " * (5 + len(cols)) + "|"]
    for d in args.models:
        meta = json.loads((Path(d) / "task_meta.json").read_text())
        model = keras.saving.load_model(Path(d) / "model.keras", compile=False)
        fit = meta["train_gms"]
        # the units of the parser's evaluation: min-max over the training side (fit + validation GMs)
        side = labels.subset(fit + meta["validation_gms"]).values
        normalizer = MinMaxNormalizer.fit(side[:, schema.continuous_index], schema)
        sets = []
        for gms, per_gm in ((fit, args.per_gm), (meta["test_gms"], 100)):
            ex = load_examples(args.examples, gms)
            keep = subsample_per_gm(ex["gm"], per_gm, 0)
            sets.append({k: np.asarray(v)[keep] for k, v in ex.items()})
        train, test = sets
        emb = [classifier_embeddings(model, s["images"]) for s in sets]
        probes = embedding_probes(emb[0], train, emb[1], test)
        heads = linear_heads({"image spectrum": (spectral_features(train["images"]), spectral_features(test["images"])),
                              f"{meta['task']} features": tuple(emb)}, train, test, normalizer, schema)
        fam, con = probes["gm_type"], probes["content"]
        for name, h in heads.items():
            lines.append(f"| {Path(d).name} | {meta['fold']} | {fam['accuracy']:.3f} ({fam['chance']:.3f}) | "
                         f"{con['accuracy']:.3f} ({con['chance']:.3f}) | {name} | "
                         + " | ".join(f"{h['summary'][c]:.3f}" for c in cols) + " |")
            print(lines[-1], flush=True)
    write_table(args.out, "What detectors' and attributors' features carry about unseen GMs (linear probes and "
                "linear parsing heads, fitted on the model's training GMs)", lines)
    return 0


def write_table(out: str | None, title: str, lines: list[str]) -> None:
    """The markdown table under its title, written atomically to ``out`` (nothing when None)."""
    if out:
        tmp = Path(out).with_suffix(".tmp")
        tmp.write_text(f"# {title}\n\n" + "\n".join(lines) + "\n")
        os.replace(tmp, out)


if __name__ == "__main__":
    raise SystemExit(main())
