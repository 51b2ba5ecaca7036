"""Can the content be factored out of the spectral features? Runs on the output of ``benchmarks/twins.py``.

    python benchmarks/content_invariance.py --twins-out OUT [--folds 0,1,2,3]

Uses ``OUT/pair_examples`` (a zoo and its twins) and ``OUT/spectral_features.npy``, and writes
``OUT/content_invariance.{json,md}``. Per fold, in the source split's units, on the unseen architectures (test
GMs and their twins) and on the seen architectures under a new content (the twins of the training GMs):

* the spectral peer on the raw features;
* on features standardised per content with the training GMs' statistics (each content's mean and std over its
  training GMs' images);
* on features minus the mean features of the *real* images of the content (the packaged data the zoo trains
  on: no GM involved);
* per content: a peer fitted only on the training GMs (and their twins) of the test GM's content, against one
  fitted on all of them, on the same test GMs (paired over GMs).

Plus the nearest-GM structure (:func:`reparse_tf.evaluation.twins.twin_retrieval`) of each feature set.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import numpy as np

KEYS = ("continuous_l1", "continuous_r2", "discrete_f1", "loss_f1")


def main(argv: list[str] | None = None) -> int:
    from reparse_tf.data.folds import DEFAULT_VALIDATION_FRACTION, fold_gms, twin_group
    from reparse_tf.data.manifest import read_manifest
    from reparse_tf.data.schema import MinMaxNormalizer, load_schema, split_labels
    from reparse_tf.evaluation.metrics import mean_std
    from reparse_tf.evaluation.parsing_evaluation import load_examples, score_predictions
    from reparse_tf.evaluation.significance import compare_per_gm
    from reparse_tf.evaluation.spectral_peer import SpectralPeer, spectral_features
    from reparse_tf.evaluation.twins import twin_retrieval, twins_by_source, twins_of
    from reparse_tf.serving.artifacts import write_json
    from reparse_tf.targets.cluster_ground_truth import read_fold_info
    from reparse_tf.zoo.content import CONTENTS, load_content

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--twins-out", required=True, help="output dir of benchmarks/twins.py")
    ap.add_argument("--folds", default="0,1,2,3")
    ap.add_argument("--images-per-gm", type=int, default=100)
    args = ap.parse_args(argv)
    out = Path(args.twins_out)
    pair = out / "pair_examples"
    schema = load_schema()
    labels, folds, _ = read_fold_info(pair)
    data = {k: np.asarray(v) for k, v in load_examples(pair, labels.gms).items() if k != "images"}
    gm_of = data["gm"].astype(str)
    feats = np.load(out / "spectral_features.npy")
    content = dict(zip(labels.gms, labels.contents, strict=True))
    family = dict(labels.type_of)
    image_content = np.array([content[g] for g in gm_of])
    unknown = sorted(set(labels.contents) - set(CONTENTS))
    if unknown:
        raise ValueError(f"{pair}: contents {unknown} are not the zoo's packaged contents: no real images for them")
    size = int(read_manifest(pair)["image_size"])
    real_mean = {c: spectral_features(load_content(c, size)[0]).mean(axis=0) for c in sorted(set(labels.contents))}
    minus_real = feats - np.stack([real_mean[c] for c in image_content])
    twin_of = twins_by_source(labels.gms)
    # peers fitted on GMs and their twins take fewer images per GM: as many images in all
    per_twin_gm = args.images_per_gm // (1 + max(map(len, twin_of.values()), default=0))

    def rows(gms: list[str]) -> np.ndarray:
        return np.flatnonzero(np.isin(gm_of, gms))

    result: dict = {"retrieval": {"raw": twin_retrieval(feats, gm_of, content, family),
                                  "minus_real_content_mean": twin_retrieval(minus_real, gm_of, content, family)},
                    "folds": {}}
    per_gm: dict[str, dict] = {}
    for k in [int(x) for x in args.folds.split(",")]:
        src = {g: f for g, f in folds.items() if twin_group(g) == g}
        split = fold_gms(src, k, family, DEFAULT_VALIDATION_FRACTION)
        fit = split.fit
        fit_st = sorted(fit + twins_of(fit, twin_of))
        groups = {"unseen": sorted(split.test + twins_of(split.test, twin_of)), "seen_arch": twins_of(fit, twin_of)}
        norm = MinMaxNormalizer.fit(labels.subset(fit).values[:, schema.continuous_index], schema)
        by_content = {c: rows([g for g in fit if content[g] == c]) for c in set(labels.contents)}
        # a content without training GMs gets the statistics of all training GMs
        every = rows(fit)
        mu = {c: feats[i if len(i) else every].mean(axis=0) for c, i in by_content.items()}
        sd = {c: feats[i if len(i) else every].std(axis=0) + 1e-6 for c, i in by_content.items()}
        z = (feats - np.stack([mu[c] for c in image_content])) / np.stack([sd[c] for c in image_content])

        def peer(gms: list[str], x: np.ndarray, per: int, norm=norm) -> SpectralPeer:
            return SpectralPeer.fit_gms(x, gm_of, data["labels"], gms, norm, per, 0, schema)

        def score(p: SpectralPeer, x: np.ndarray, gms: list[str], norm=norm) -> dict:
            idx = rows(gms)
            pc, pd, probs = p.predict(features=x[idx])
            tc, td = split_labels(data["labels"][idx], norm, schema)
            meta = {"gm": gm_of[idx], "gm_type": data["gm_type"][idx], "content": data["content"][idx]}
            return score_predictions(tc, pc, td, pd, meta, probs, schema, 0, n_images=())

        fold_res: dict = {}
        for name, x in (("raw", feats), ("content_standardised", z), ("minus_real_content_mean", minus_real)):
            p = peer(fit, x, args.images_per_gm)
            fold_res[name] = {gr: {key: score(p, x, gms)["summary"][key] for key in KEYS} for gr, gms in groups.items()}
        # one peer per content (training GMs + twins of that content) against one peer on all of them
        everyone = peer(fit_st, feats, per_twin_gm)
        for c in sorted(set(labels.contents)):
            test = [g for g in groups["unseen"] if content[g] == c]
            own = [g for g in fit_st if content[g] == c]
            if not test or len(own) < 3:
                continue
            for name, p in (("all_contents", everyone), ("own_content", peer(own, feats, per_twin_gm))):
                per_gm.setdefault(name, {}).update({f"{k}/{g}": v for g, v in score(p, feats, test)["per_gm"].items()})
        result["folds"][str(k)] = fold_res
        print(f"fold {k}: " + ", ".join(f"{n} {v['unseen']['continuous_l1']:.3f}" for n, v in fold_res.items()),
              flush=True)
    names = list(next(iter(result["folds"].values())))
    result["table"] = {n: {gr: {key: mean_std([f[n][gr][key] for f in result["folds"].values()]) for key in KEYS}
                           for gr in ("unseen", "seen_arch")} for n in names}
    result["per_content"] = {n: {key: float(np.mean([v[key] for v in s.values()])) for key in
                                 ("continuous_l1", "discrete_accuracy", "loss_accuracy")} for n, s in per_gm.items()}
    result["per_content_test"] = (compare_per_gm(per_gm["own_content"], per_gm["all_contents"])
                                  if "own_content" in per_gm else {})
    write_json(out / ".content_invariance.json.tmp", result, indent=1, strict=False)
    os.replace(out / ".content_invariance.json.tmp", out / "content_invariance.json")
    md = render(result)
    (out / "content_invariance.md").write_text(md)
    print(md)
    return 0


def render(result: dict) -> str:
    lines = [f"# Content factored out of the spectral features (folds {', '.join(result['folds'])})", ""]
    for gr, title in (("unseen", "unseen architectures"), ("seen_arch", "seen architectures, new content + seed")):
        lines += [f"## {title}", "", "| features | " + " | ".join(KEYS) + " |", "| --- " * (len(KEYS) + 1) + "|"]
        for n, row in result["table"].items():
            lines.append(f"| {n} | " + " | ".join(f"{row[gr][k]['mean']:.3f} ± {row[gr][k]['std']:.3f}"
                                                  for k in KEYS) + " |")
        lines.append("")
    lines += ["## One peer per content vs one for all (unseen GMs, per-GM means; paired Wilcoxon)", "",
              "| peer | continuous L1 | discrete accuracy | loss accuracy |", "| --- | --- | --- | --- |"]
    for n, v in result["per_content"].items():
        lines.append(f"| {n} | {v['continuous_l1']:.3f} | {v['discrete_accuracy']:.3f} | {v['loss_accuracy']:.3f} |")
    t = result["per_content_test"]
    lines += ["", "own content - all contents: " + (", ".join(
        f"{k} {t[k]['mean_diff']:+.3f} (p {t[k]['p_value']:.2g}, n {t[k]['n']})" for k in t
        if t[k]["p_value"] is not None) or "n/a"), "",
        "## Nearest GM", "", "| features | twin is nearest (chance) | twin's median rank (chance) | same content "
        "(chance) | same family (chance) |", "| --- | --- | --- | --- | --- |"]
    for n, r in result["retrieval"].items():
        lines.append(f"| {n} | " + " | ".join(f"{r[a]:.2f} ({r[a + '_chance']:.2f})" for a in
                                              ("twin_nn", "twin_rank", "content_nn", "family_nn")) + " |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    raise SystemExit(main())
