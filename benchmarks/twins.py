"""Twin GMs: does the parser read the architecture, or the content and training run of its training GMs?

    reparse zoo build --twins-of ZOO --out TWINS --workers 2      # one twin per GM: same architecture,
                                                                  # another content and seed (--twin 2, 3: more)
    python benchmarks/twins.py --examples EXAMPLES_DIR --twins TWINS [TWINS2 ...] --out OUT [--folds 0,1,2,3]
        [--preset cpu] [--no-train]

``EXAMPLES_DIR`` is the ingested source zoo. The script merges the source zoo and its twins into one RED
layout (symlinks) and ingests it into ``OUT/pair_examples`` (twins share their source's fold, which stays the
fold it had), then per fold scores, in the source split's units:

* twins whose samples fail the zoo's quality screen are left out (``--all-twins`` keeps them);
* predictors: the spectral peer and the full method (``--preset``) trained on the fold's source GMs (**S**), and
  trained on the source GMs plus their twins (**S+T**: the same architectures on two or more contents, the same
  number of training images and steps), with the constant and family-oracle baselines;
* test groups: unseen architectures (the fold's test GMs and their twins), **seen architectures on a new
  content and seed** (the twins of the training GMs; S only) and the training GMs themselves.

Plus, without training, the nearest-neighbour structure of the GMs' mean spectral features (is a GM's nearest
GM its twin, or a GM of its content?) and how alike each predictor's answers are for twins. Writes
``OUT/twins.{json,md}``; trained models are cached under ``OUT/cache/`` so the script resumes.
"""

from __future__ import annotations

import argparse
import os
import shutil
from pathlib import Path

import numpy as np

KEYS = ("continuous_l1", "continuous_r2", "discrete_f1", "loss_f1")
GROUPS = {"unseen": "unseen architectures (test GMs + their twins)",
          "unseen_source": "unseen architectures, source GMs",
          "unseen_twin": "unseen architectures, twins",
          "seen_arch": "seen architectures, new content + seed (twins of training GMs)",
          "train": "the training GMs themselves"}


def usable_twins(twins: Path | list[Path], all_twins: bool = False) -> tuple[list[str], list[str]]:
    """(twins to use, twins left out) of one or more twin zoos: a twin whose samples fail the zoo's quality screen
    is a training that did not work (the source zoo redrew such GMs; a twin cannot be redrawn without changing its
    architecture), so it is left out unless ``all_twins``."""
    import json

    use: list[str] = []
    bad: list[str] = []
    for zoo in [twins] if isinstance(twins, Path) else twins:
        for g in (r.split(",")[0] for r in (zoo / "labels.csv").read_text().splitlines()[1:]):
            ok = all_twins or json.loads((zoo / "_specs" / f"{g}.json").read_text())["quality"]["resembles"]
            (use if ok else bad).append(g)
    return use, bad


def pair_examples(examples: Path, twins: list[Path], out: Path, use: list[str]) -> Path:
    """Ingest source zoo + the twins ``use`` of the twin zoos ``twins`` into ``out/pair_examples`` (reused when
    present); check the folds."""
    from reparse_tf.data.ingest import run_ingest
    from reparse_tf.data.manifest import has_manifest, read_manifest

    dest = out / "pair_examples"
    src_manifest = read_manifest(examples)
    if not has_manifest(dest):
        layout = out / "pair_layout"
        shutil.rmtree(layout, ignore_errors=True)
        layout.mkdir(parents=True)
        lines = (examples / "labels.csv").read_text().splitlines()
        roots = {g: Path(src_manifest["source"]) for g in src_manifest["folds"]}
        for zoo in twins:
            rows = [r for r in (zoo / "labels.csv").read_text().splitlines()[1:] if r.split(",")[0] in use]
            lines += rows
            roots.update({r.split(",")[0]: zoo for r in rows})
        (layout / "labels.csv").write_text("\n".join(lines) + "\n")
        for g, root in roots.items():
            os.symlink((root / g).resolve(), layout / g)
        run_ingest(layout, dest, image_size=src_manifest["image_size"], n_folds=src_manifest["n_folds"],
                   seed=src_manifest["seed"], output_format="npz")
    folds = {g: int(f) for g, f in read_manifest(dest)["folds"].items()}
    if sorted(g for g in folds if g not in src_manifest["folds"]) != sorted(use):
        raise ValueError(f"{dest} holds other twins than asked for (remove it to ingest again)")
    moved = [g for g, f in src_manifest["folds"].items() if folds.get(g) != int(f)]
    if moved:
        raise ValueError(f"{dest}: source GMs changed fold when twins were added: {', '.join(moved)}")
    return dest


def trained(examples: Path, fold: int, preset, out: Path) -> Path:
    """Train (or reuse) the full method on ``fold`` of ``examples``; returns the model dir."""
    from reparse_tf.training.parser_training import train

    done = out / "done"
    if not done.is_file():
        train(examples_dir=examples, cluster_gt_dir=None, fold=fold, preset=preset, out_dir=out / "model",
              resume=True, seed=0)
        done.write_text("ok\n")
    return out / "model"


def main(argv: list[str] | None = None) -> int:
    from reparse_tf.data.folds import fold_gms, twin_group
    from reparse_tf.data.schema import MinMaxNormalizer, load_schema, split_labels
    from reparse_tf.evaluation import baselines as B
    from reparse_tf.evaluation.metrics import mean_std
    from reparse_tf.evaluation.parsing_evaluation import load_examples, score_predictions
    from reparse_tf.evaluation.significance import compare_per_gm
    from reparse_tf.evaluation.spectral_peer import SpectralPeer, spectral_features
    from reparse_tf.evaluation.twins import twin_agreement, twin_pairs, twin_retrieval, twins_by_source, twins_of
    from reparse_tf.serving.artifacts import write_json
    from reparse_tf.targets.cluster_ground_truth import read_fold_info
    from reparse_tf.training.presets import get_preset

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--examples", required=True, help="ingested source zoo (reparse ingest)")
    ap.add_argument("--twins", required=True, nargs="+", help="twin zoos (reparse zoo build --twins-of [--twin K])")
    ap.add_argument("--out", required=True)
    ap.add_argument("--folds", default="0,1,2,3")
    ap.add_argument("--preset", default="cpu")
    ap.add_argument("--peer-images-per-gm", type=int, default=100)
    ap.add_argument("--no-train", action="store_true", help="spectral peer and baselines only")
    ap.add_argument("--all-twins", action="store_true",
                    help="also use twins whose samples fail the quality screen (left out by default)")
    args = ap.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    examples = Path(args.examples)
    twin_zoos = [Path(t) for t in args.twins]
    use, left_out = usable_twins(twin_zoos, args.all_twins)
    pair = pair_examples(examples, twin_zoos, out, use)
    schema = load_schema()
    labels, folds, _ = read_fold_info(pair)
    data = load_examples(pair, labels.gms)
    data = {k: np.asarray(v) for k, v in data.items()}
    gm_of = data["gm"].astype(str)
    content = {g: c for g, c in zip(labels.gms, labels.contents, strict=True)}
    family = dict(labels.type_of)
    feat_file = out / "spectral_features.npy"
    if not feat_file.is_file():
        np.save(feat_file, spectral_features(data["images"]))
    feats = np.load(feat_file)
    twin_of = twins_by_source(labels.gms)
    pairs = twin_pairs(labels.gms)
    same_labels = sum(np.array_equal(labels.subset([s]).values, labels.subset([t]).values) for s, t in pairs)
    result: dict = {"preset": args.preset, "pairs": len(pairs), "architectures": len(twin_of),
                    "pairs_with_identical_labels": int(same_labels),
                    "twins_left_out": left_out,
                    "retrieval": {"spectral_features": twin_retrieval(feats, gm_of, content, family)},
                    "folds": {}}
    base_preset = get_preset(args.preset)
    # S+T trains on up to (1 + twin zoos) times the GMs with that fraction of the images each: about the same images
    # per epoch and steps as S
    st_preset = base_preset.with_overrides(images_per_gm=max(1, base_preset.images_per_gm // (1 + len(twin_zoos))))
    per_gm: dict[str, dict[str, dict]] = {}
    agreement: dict[str, list[dict]] = {}
    retrieval_models: dict[str, list[dict]] = {}

    def rows(gms: list[str]) -> np.ndarray:
        return np.flatnonzero(np.isin(gm_of, gms))

    for k in [int(x) for x in args.folds.split(",")]:
        src = {g: f for g, f in folds.items() if twin_group(g) == g}
        split = fold_gms(src, k, family, base_preset.validation_fraction)
        fit_s, test_s = split.fit, split.test
        fit_st = sorted(fit_s + twins_of(fit_s, twin_of))
        groups = {"unseen_source": test_s, "unseen_twin": twins_of(test_s, twin_of),
                  "seen_arch": twins_of(fit_s, twin_of), "train": fit_s}
        groups["unseen"] = sorted(groups["unseen_source"] + groups["unseen_twin"])
        groups = {gr: v for gr, v in groups.items() if v}  # e.g. no twin built for a fold's test GMs
        norm = MinMaxNormalizer.fit(labels.subset(fit_s).values[:, schema.continuous_index], schema)
        preds: dict[str, dict[str, tuple]] = {}  # predictor -> group -> (cont, disc, probs)
        for name, fit, per in (("spectral_peer_S", fit_s, args.peer_images_per_gm),
                               ("spectral_peer_ST", fit_st, args.peer_images_per_gm // (1 + len(twin_zoos)))):
            peer = SpectralPeer.fit_gms(feats, gm_of, data["labels"], fit, norm, per, 0, schema)
            preds[name] = {gr: peer.predict(features=feats[rows(gms)]) for gr, gms in groups.items()}
        for name, fn in (("constant", B.constant), ("family_oracle", B.family_oracle)):
            preds[name] = {}
            for gr, gms in groups.items():
                c, d = B.expand_to_images(fn(labels.subset(fit_s), labels.subset(gms), norm, schema), gms,
                                          gm_of[rows(gms)])
                preds[name][gr] = (c, d, None)
        if not args.no_train:
            from reparse_tf.serving.inference import ModelParser

            for name, ex, preset in (("full_S", examples, base_preset), ("full_ST", pair, st_preset)):
                parser = ModelParser.load(trained(ex, k, preset, out / "cache" / f"{name}-fold{k}"))
                fitted = sorted(parser.meta["train_gms"])
                if fitted != (fit_s if name == "full_S" else fit_st):
                    raise ValueError(f"{name} fold {k}: the model was fitted on other GMs than this split's")
                preds[name] = {}
                for gr, gms in groups.items():
                    p = parser.predict(data["images"][rows(gms)])
                    preds[name][gr] = (norm.transform(p.continuous_raw), p.discrete, p.probs)
                idx = rows(groups["unseen"])
                emb = parser.embed(data["images"][idx])
                retrieval_models.setdefault(name, []).append(twin_retrieval(emb, gm_of[idx], content, family))
        fold_res: dict = {"fit_gms": len(fit_s), "fit_gms_st": len(fit_st), "groups": {g: len(v) for g, v in
                                                                                   groups.items()}, "scores": {}}
        for name, by_group in preds.items():
            fold_res["scores"][name] = {}
            for gr, (c, d, probs) in by_group.items():
                if name.endswith("_ST") and gr in ("seen_arch",):
                    continue  # S+T trained on these
                idx = rows(groups[gr])
                tc, td = split_labels(data["labels"][idx], norm, schema)
                test = {"gm": gm_of[idx], "gm_type": data["gm_type"][idx], "content": data["content"][idx]}
                s = score_predictions(tc, c, td, d, test, probs, schema, 0, n_images=(100,), repeats=3)
                fold_res["scores"][name][gr] = {"summary": {key: s["summary"].get(key) for key in KEYS},
                                                "per_gm_100": s["multi_image"].get("100", {}).get("summary")}
                per_gm.setdefault(f"{name}/{gr}", {}).update({f"{k}/{g}": v for g, v in s["per_gm"].items()})
            idx = rows(groups["unseen"])
            agreement.setdefault(name, []).append(twin_agreement(by_group["unseen"][0], by_group["unseen"][1],
                                                                 gm_of[idx], family, seed=k))
        tc, td = split_labels(data["labels"][rows(groups["unseen"])], norm, schema)
        agreement.setdefault("true_labels", []).append(twin_agreement(tc, td, gm_of[rows(groups["unseen"])], family,
                                                                      seed=k))
        result["folds"][str(k)] = fold_res
        print(f"fold {k}: " + ", ".join(f"{n} {fold_res['scores'][n]['unseen']['summary']['continuous_l1']:.3f}"
                                        for n in fold_res["scores"]), flush=True)

    names = list(next(iter(result["folds"].values()))["scores"])
    table = {n: {gr: {key: mean_std([f["scores"][n].get(gr, {}).get("summary", {}).get(key)
                                     for f in result["folds"].values()]) for key in KEYS}
                 for gr in GROUPS} for n in names}
    result["table"] = table
    result["twin_agreement"] = {n: {key: mean_std([a[key] for a in v]) for key in v[0] if key != "pairs"}
                                for n, v in agreement.items()}
    result["retrieval"].update({n: {key: mean_std([r[key] for r in v]) for key in v[0]}
                                for n, v in retrieval_models.items()})
    tests = {}
    for a, b in (("full_ST", "full_S"), ("spectral_peer_ST", "spectral_peer_S")):
        if f"{a}/unseen" in per_gm:
            tests[f"{a} vs {b}, unseen"] = compare_per_gm(per_gm[f"{a}/unseen"], per_gm[f"{b}/unseen"])
    for a in ("full_S", "spectral_peer_S"):
        if f"{a}/seen_arch" in per_gm:
            # the same architectures are not the same GMs: compare each group with the constant on its own GMs
            for gr in ("seen_arch", "unseen"):
                tests[f"{a} vs constant, {gr}"] = compare_per_gm(per_gm[f"{a}/{gr}"], per_gm[f"constant/{gr}"])
    result["paired_tests"] = tests
    write_json(out / ".twins.json.tmp", result, indent=1, strict=False)
    os.replace(out / ".twins.json.tmp", out / "twins.json")
    md = render(result, names)
    (out / "twins.md").write_text(md)
    print(md)
    return 0


def _num(r: dict, key: str) -> str:
    v = r.get(key)
    v = v.get("mean") if isinstance(v, dict) else v
    return "n/a" if v is None else f"{v:.2f}"


def render(result: dict, names: list[str]) -> str:
    """Markdown tables of :func:`main`'s result."""
    from reparse_tf.evaluation.metrics import format_mean_std
    from reparse_tf.evaluation.significance import paired_table

    lines = [f"# Twin GMs ({result['pairs']} twins of {result.get('architectures', result['pairs'])} architectures; "
             f"{result['pairs_with_identical_labels']} with their source's labels; preset {result['preset']}; "
             f"folds {', '.join(result['folds'])})", "",
             f"Twins left out (samples fail the quality screen): {len(result['twins_left_out'])}"
             + (f" ({', '.join(result['twins_left_out'])})" if result["twins_left_out"] else ""), ""]
    for gr, title in GROUPS.items():
        lines += [f"## {title}", "", "| predictor | " + " | ".join(KEYS) + " |", "| --- " * (len(KEYS) + 1) + "|"]
        for n in names:
            row = result["table"][n][gr]
            if all(row[key].get("mean") is None for key in KEYS):
                continue
            lines.append(f"| {n} | " + " | ".join(format_mean_std(row[key]) for key in KEYS) + " |")
        lines.append("")
    lines += ["## Twin agreement on unseen architectures (per-GM answers; others: a different architecture of the "
              "same family)", "", "| predictor | continuous L1, twins | continuous L1, others | discrete agreement, "
              "twins | discrete agreement, others |", "| --- | --- | --- | --- | --- |"]
    for n, a in result["twin_agreement"].items():
        lines.append(f"| {n} | " + " | ".join(format_mean_std(a[k]) for k in
                                             ("cont_l1", "cont_l1_others", "disc_agree", "disc_agree_others")) + " |")
    lines += ["", "## Nearest GM (GM-mean features, standardised)", "",
              "| features | twin is nearest (chance) | twin's median rank (chance) | same content (chance) | "
              "same family (chance) |", "| --- | --- | --- | --- | --- |"]
    for n, r in result["retrieval"].items():
        cells = [f"{_num(r, a)} ({_num(r, a + '_chance')})"
                 for a in ("twin_nn", "twin_rank", "content_nn", "family_nn")]
        lines.append(f"| {n} | " + " | ".join(cells) + " |")
    lines += ["", "## Paired tests over GMs, all folds (Wilcoxon; mean difference a - b)", "",
              *paired_table(result["paired_tests"])]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    raise SystemExit(main())
