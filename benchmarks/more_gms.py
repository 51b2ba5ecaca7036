"""More GMs than one zoo holds: the learning curve past a fold's own training GMs.

    reparse zoo build --preset standard --seed 1 --out ZOO1 --workers 2   # 60 more GMs: new architectures
    reparse ingest ZOO1 --out EXAMPLES1 --format npz
    python benchmarks/more_gms.py --examples EXAMPLES --extra EXAMPLES1 [EXAMPLES2 ...] --out OUT
        [--folds 0,1,2,3] [--sizes 20,60] [--draws 2] [--peer-images-per-gm 100]

Per fold of ``EXAMPLES``, the test GMs are the fold's own; the training pool is the fold's fitted GMs plus every
GM of the extra zoos (built from other seeds: other architectures and training runs on the same contents and
recipes; they are never test GMs). The spectral peer, the constant and the family oracle are fitted on

* ``own``: the fold's fitted GMs alone (the figure of the standard benchmark), and
* family-stratified draws of ``--sizes`` GMs from the pool (``--draws`` draws each), and all of the pool,

and scored on the test GMs in the units of the fold's own fitted GMs. Writes ``OUT/more_gms.{json,md,png}``:
the table (mean ± std over folds and draws), the change per doubling, paired tests of the whole pool against
the fold's own GMs over the test GMs, and how many doublings the trend needs to reach each goal of the parsing
issue (an extrapolation). Spectral features and every fitted point are cached under ``OUT/``: a run resumes,
and processes given different ``--folds`` share the work (a last run over all folds writes the table).
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable
from functools import partial
from pathlib import Path

import numpy as np

KEYS = ("continuous_l1", "continuous_r2", "discrete_f1", "loss_f1")
PREDICTORS = ("spectral_peer", "constant", "family_oracle")


def load_pool(examples: list[Path], out: Path) -> dict:
    """The label table (``table``) and each image's GM, labels, family, content and spectral features (cached
    under ``out``) of the zoos ``examples``; GM names must differ across zoos (build extra zoos with other seeds)."""
    from reparse_tf.data.labels import LabelTable
    from reparse_tf.evaluation.parsing_evaluation import load_examples
    from reparse_tf.evaluation.spectral_peer import spectral_features
    from reparse_tf.targets.cluster_ground_truth import read_fold_info

    tables, parts = [], []
    for i, ex in enumerate(examples):
        labels, _, _ = read_fold_info(ex)
        clash = sorted(set(labels.gms) & {g for t in tables for g in t.gms})
        if clash:
            raise ValueError(f"{ex}: GM names already in an earlier zoo ({', '.join(clash[:5])}); "
                             "build each extra zoo with its own --seed")
        feat_file = out / f"spectral_features_{i}_{ex.name}.npz"
        if not feat_file.is_file():
            data = load_examples(ex, labels.gms)
            np.savez(out / f".{feat_file.name}", features=spectral_features(np.asarray(data["images"])),
                     gm=np.asarray(data["gm"]).astype(str), labels=np.asarray(data["labels"], np.float64),
                     gm_type=np.asarray(data["gm_type"]).astype(str), content=np.asarray(data["content"]).astype(str))
            os.replace(out / f".{feat_file.name}", feat_file)
        with np.load(feat_file) as z:
            parts.append({k: z[k] for k in z.files})
        tables.append(labels)
    labels = LabelTable(sum((t.gms for t in tables), []), sum((t.gm_types for t in tables), []),
                        sum((t.contents for t in tables), []), np.concatenate([t.values for t in tables]))
    return {"table": labels, **{k: np.concatenate([p[k] for p in parts]) for k in parts[0]}}


def score_point(pool: dict, fit: list[str], test: list[str], norm, per_gm_images: int, seed: int) -> dict:
    """``{predictor: score_predictions(...)}`` of the predictors fitted on ``fit`` and scored on ``test``."""
    from reparse_tf.data.schema import load_schema, split_labels
    from reparse_tf.evaluation import baselines as B
    from reparse_tf.evaluation.parsing_evaluation import score_predictions
    from reparse_tf.evaluation.spectral_peer import SpectralPeer

    schema = load_schema()
    gm, labels = pool["gm"], pool["labels"]
    te = np.flatnonzero(np.isin(gm, test))
    peer = SpectralPeer.fit_gms(pool["features"], gm, labels, fit, norm, per_gm_images, seed, schema)
    preds = {"spectral_peer": peer.predict(features=pool["features"][te])}
    table = pool["table"]
    for name, fn in (("constant", B.constant), ("family_oracle", B.family_oracle)):
        pc, pd = B.expand_to_images(fn(table.subset(fit), table.subset(test), norm, schema), test, gm[te])
        preds[name] = (pc, pd, None)
    tc, td = split_labels(labels[te], norm, schema)
    info = {"gm": gm[te], "gm_type": pool["gm_type"][te], "content": pool["content"][te]}
    return {name: score_predictions(tc, pc, td, pd, info, probs, schema, seed, n_images=())
            for name, (pc, pd, probs) in preds.items()}


def cached_point(path: Path, score: Callable[[], dict], fit: list[str]) -> dict:
    """``score()``'s summaries and per-GM scores, kept in ``path`` (reused when it was fitted on the same GMs), so
    a run resumes and several processes can share the folds (``--folds``) of one ``--out``."""
    import json

    from reparse_tf.serving.artifacts import write_json

    if path.is_file():
        kept = json.loads(path.read_text())
        if kept["fit"] == sorted(fit):
            return kept["scores"]
    scores = {m: {"summary": s["summary"], "per_gm": s["per_gm"]} for m, s in score().items()}
    path.parent.mkdir(parents=True, exist_ok=True)
    write_json(path.with_name(f".{path.name}.tmp"), {"fit": sorted(fit), "scores": scores}, strict=False)
    os.replace(path.with_name(f".{path.name}.tmp"), path)
    return scores


def main(argv: list[str] | None = None) -> int:
    from reparse_tf.data.folds import fold_gms, stratified_subset
    from reparse_tf.data.schema import MinMaxNormalizer, load_schema
    from reparse_tf.evaluation.learning_curve import doublings_to, per_doubling, plot
    from reparse_tf.evaluation.metrics import mean_std
    from reparse_tf.evaluation.significance import compare_per_gm
    from reparse_tf.evaluation.variants import LABELS
    from reparse_tf.serving.artifacts import write_json
    from reparse_tf.targets.cluster_ground_truth import read_fold_info
    from reparse_tf.training.presets import get_preset

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--examples", required=True, help="ingested zoo whose folds are scored (reparse ingest)")
    ap.add_argument("--extra", required=True, nargs="+", help="ingested zoos of other seeds: training GMs only")
    ap.add_argument("--out", required=True)
    ap.add_argument("--folds", default="0,1,2,3")
    ap.add_argument("--sizes", default="20,60", help="pool draws below the whole pool (GMs per draw)")
    ap.add_argument("--draws", type=int, default=2, help="draws per size (the whole pool: one)")
    ap.add_argument("--peer-images-per-gm", type=int, default=100)
    ap.add_argument("--preset", default="cpu", help="training preset whose validation share carves the fold")
    args = ap.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    examples = Path(args.examples)
    extras = [Path(e) for e in args.extra]
    pool = load_pool([examples, *extras], out)
    schema = load_schema()
    own_labels, folds, _ = read_fold_info(examples)
    family = pool["table"].type_of
    extra_gms = [g for g in pool["table"].gms if g not in set(own_labels.gms)]
    validation_fraction = get_preset(args.preset).validation_fraction
    runs: dict[str, list[dict]] = {}   # point -> one entry per (fold, draw)
    per_gm: dict[str, dict] = {}       # "<point>/<predictor>" -> {"<fold>/<gm>": scores} (single-draw points)
    sizes = sorted(int(x) for x in args.sizes.split(",") if x)
    for k in [int(x) for x in args.folds.split(",")]:
        split = fold_gms(folds, k, family, validation_fraction)
        norm = MinMaxNormalizer.fit(own_labels.subset(split.fit).values[:, schema.continuous_index], schema)
        every = sorted(split.fit + extra_gms)
        plan = [("own", split.fit, 0), ("all", every, 0)]
        plan += [(f"pool{n}", stratified_subset(every, family, n, seed=1000 * k + s), s)
                 for n in sizes if n < len(every) for s in range(args.draws)]
        for point, fit, draw in plan:
            scores = cached_point(out / "cache" / f"fold{k}-{point}-draw{draw}-per{args.peer_images_per_gm}.json",
                                  partial(score_point, pool, fit, split.test, norm, args.peer_images_per_gm, draw),
                                  fit)
            runs.setdefault(point, []).append({"fold": k, "draw": draw, "n_fit": len(fit),
                                               "n_extra": len(set(fit) & set(extra_gms)),
                                               **{m: {key: s["summary"].get(key) for key in KEYS}
                                                  for m, s in scores.items()}})
            if point in ("own", "all"):
                for m, s in scores.items():
                    per_gm.setdefault(f"{point}/{m}", {}).update({f"{k}/{g}": v for g, v in s["per_gm"].items()})
        print(f"fold {k}: peer L1 own {runs['own'][-1]['spectral_peer']['continuous_l1']:.3f}, "
              f"all {runs['all'][-1]['spectral_peer']['continuous_l1']:.3f} ({len(every)} GMs)", flush=True)

    order = ["own"] + [f"pool{n}" for n in sizes if f"pool{n}" in runs] + ["all"]
    points = [{"point": p, "max_train_gms": int(np.mean([r["n_fit"] for r in runs[p]])),
               "n_extra": float(np.mean([r["n_extra"] for r in runs[p]])), "runs": len(runs[p]),
               "n_fit_gms": {}, "table": {m: {key: mean_std([r[m][key] for r in runs[p]]) for key in KEYS}
                                          for m in PREDICTORS}} for p in order]
    # every point, the fold's own GMs included (a subset of the pool like the draws, chosen by the fold's split)
    curve = sorted(points, key=lambda p: p["max_train_gms"])
    slopes = per_doubling(curve, list(PREDICTORS))
    oracle = next(p for p in points if p["point"] == "all")["table"]["family_oracle"]
    goals = {"continuous_l1": (0.9 * oracle["continuous_l1"]["mean"], True, "10 % below the family oracle's L1"),
             "discrete_f1": (0.55, False, "discrete F1 0.55"),
             "loss_f1": (oracle["loss_f1"]["mean"] + 0.10, False, "0.10 above the family oracle's loss F1")}
    reach = {key: {"target": t, "goal": text, "doublings": doublings_to(curve, "spectral_peer", key, t, low)}
             for key, (t, low, text) in goals.items()}
    tests = {f"all vs own, {m}": compare_per_gm(per_gm[f"all/{m}"], per_gm[f"own/{m}"]) for m in PREDICTORS}
    result = {"examples": str(examples), "extra": [str(e) for e in extras], "extra_gms": len(extra_gms),
              "folds": sorted({r["fold"] for r in runs["own"]}), "draws": args.draws,
              "peer_images_per_gm": args.peer_images_per_gm, "points": points, "runs": runs,
              "per_doubling": slopes, "reach": reach, "paired_tests": tests}
    write_json(out / ".more_gms.json.tmp", result, indent=1, strict=False)
    os.replace(out / ".more_gms.json.tmp", out / "more_gms.json")
    md = render(result, LABELS)
    (out / "more_gms.md").write_text(md)
    plot(curve, list(PREDICTORS), out / "more_gms.png", LABELS)
    print(md)
    return 0


def render(result: dict, labels: dict[str, str]) -> str:
    """Markdown of :func:`main`'s result."""
    from reparse_tf.evaluation.metrics import format_mean_std
    from reparse_tf.evaluation.significance import paired_table

    lines = [f"# More GMs: the fold's own training GMs plus {result['extra_gms']} GMs of other seeds "
             f"(folds {', '.join(map(str, result['folds']))}; {result['draws']} draws per pooled size; the peer sees "
             f"{result['peer_images_per_gm']} images per GM)", "",
             "Per image of the fold's test GMs, in the units of its own fitted GMs; mean ± std over folds and draws.",
             "", "| training GMs | of them from other seeds | predictor | " + " | ".join(KEYS) + " |",
             "| --- " * (len(KEYS) + 3) + "|"]
    for p in result["points"]:
        name = "own (the fold's fitted GMs)" if p["point"] == "own" else p["max_train_gms"]
        for m, row in p["table"].items():
            lines.append(f"| {name} | {p['n_extra']:.0f} | {labels.get(m, m)} | "
                         + " | ".join(format_mean_std(row[key]) for key in KEYS) + " |")
    lines += ["", "Change per doubling of the training GMs (least-squares slope of the means against log2 GMs, every "
              "point):", "", "| predictor | continuous L1 | discrete F1 | loss F1 |", "| --- | --- | --- | --- |"]
    for m, s in result["per_doubling"].items():
        lines.append(f"| {labels.get(m, m)} | " + " | ".join("n/a" if s.get(key) is None else f"{s[key]:+.3f}"
                                                           for key in ("continuous_l1", "discrete_f1", "loss_f1"))
                     + " |")
    lines += ["", "The spectral peer's trend extrapolated to the parsing goals (doublings past the whole pool; "
              "None: the trend moves away):", ""]
    for r in result["reach"].values():
        d = r["doublings"]
        lines.append(f"- {r['goal']} ({r['target']:.3f}): " + ("never on this trend" if d is None else
                                                                 f"{d:.1f} doublings"))
    lines += ["", "Paired over test GMs, all folds (Wilcoxon; mean difference all - own):", "",
              *paired_table(result["paired_tests"])]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    raise SystemExit(main())
