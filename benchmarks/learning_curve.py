"""Learning curve of model parsing: is the number of training GMs the lever?

    python benchmarks/learning_curve.py --examples EXAMPLES_DIR --out OUT [--folds 0,1,2,3]
        [--variant-folds 0,1] [--gms 15,30] [--variants full] [--baselines spectral_peer,constant,family_oracle]
        [--preset cpu] [--all-out BENCH_DIR]

Trains each variant and fits each baseline on a family-stratified subset of every fold's fitted
training GMs (``--gms``, plus all of them), scores all on the same unseen test GMs in the same
normalised units, and writes ``OUT/learning_curve.{json,md,png}``. Every point is a
``reparse benchmark`` run cached under ``OUT/gms<N>/`` (``OUT/all/``), so the script resumes.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    from reparse_tf.evaluation.benchmark import run_benchmark
    from reparse_tf.evaluation.learning_curve import KEYS, per_doubling, plot
    from reparse_tf.evaluation.variants import LABELS, READOUT

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--examples", required=True, help="ingested examples dir (reparse ingest)")
    ap.add_argument("--out", required=True)
    ap.add_argument("--folds", default="0,1,2,3", help="folds of the baselines (cheap)")
    ap.add_argument("--variant-folds", default="0,1", help="folds of the trained variants")
    ap.add_argument("--gms", default="15,30", help="training-GM counts below 'all'")
    ap.add_argument("--variants", default="full")
    ap.add_argument("--baselines", default="spectral_peer,constant,family_oracle")
    ap.add_argument("--preset", default="cpu")
    ap.add_argument("--epochs", type=int, default=None)
    ap.add_argument("--all-out", default=None,
                    help="benchmark dir of the 'all GMs' point (reuses its cache; default OUT/all)")
    args = ap.parse_args(argv)
    out = Path(args.out)
    folds = [int(k) for k in args.folds.split(",")]
    variant_folds = [int(k) for k in args.variant_folds.split(",")]
    variants = [v for v in args.variants.split(",") if v]
    base = [b for b in args.baselines.split(",") if b]
    points: list[dict] = []
    for n in [int(x) for x in args.gms.split(",") if x] + [None]:
        bench_dir = out / f"gms{n}" if n else Path(args.all_out or out / "all")
        table: dict = {}
        for names, fl, kind in ((base, folds, "baselines"), (variants, variant_folds, "variants")):
            if not names:
                continue
            res = run_benchmark(bench_dir, preset=args.preset, folds=fl, variants=names if kind == "variants" else [],
                                baselines=names if kind == "baselines" else [], tfma=False, report=False,
                                examples_dir=args.examples, max_train_gms=n, epochs=args.epochs, write=False)
            table.update({m: res["table"][m] for m in names})
            if kind == "variants":  # the embedding's linear readout, where the evaluation fitted one
                table.update({f"{m}{READOUT}": res["table"][f"{m}{READOUT}"] for m in names
                              if f"{m}{READOUT}" in res["table"]})
        n_fit = {}
        for m in table:
            src = next(bench_dir.glob(f"cache/{m.removesuffix(READOUT)}-fold*/model/parser_meta.json"), None) or \
                next(bench_dir.glob(f"cache/baselines-fold*/{m}/result.json"), None)
            if src is not None:
                n_fit[m] = len(json.loads(src.read_text())["train_gms"])
        points.append({"max_train_gms": n, "n_fit_gms": n_fit, "table": table})
    methods = list(points[-1]["table"])
    lines = ["| method | training GMs | " + " | ".join(k for k, _ in KEYS) + " |", "| --- " * (len(KEYS) + 2) + "|"]
    for m in methods:
        for p in points:
            row = p["table"].get(m, {})
            cells = [f"{row[k]['mean']:.3f} ± {row[k]['std']:.3f}" if row.get(k, {}).get("mean") is not None
                     else "n/a" for k, _ in KEYS]
            lines.append(f"| {LABELS.get(m, m)} | {p['n_fit_gms'].get(m, p['max_train_gms'])} | " + " | ".join(cells)
                         + " |")
    slopes = per_doubling(points, methods)
    lines += ["", "Change per doubling of the training GMs (least-squares slope of the fold mean against "
              "log2 of the number of fitted GMs; a trend over few points, not a forecast):", "",
              "| method | " + " | ".join(k for k, _ in KEYS) + " |", "| --- " * (len(KEYS) + 1) + "|"]
    for m in methods:
        lines.append(f"| {LABELS.get(m, m)} | " + " | ".join(
            "n/a" if slopes[m].get(k) is None else f"{slopes[m][k]:+.3f}" for k, _ in KEYS) + " |")
    md = "\n".join(lines) + "\n"
    tmp = out / ".learning_curve.json.tmp"
    tmp.write_text(json.dumps({"folds": folds, "variant_folds": variant_folds, "preset": args.preset,
                               "points": points, "per_doubling": slopes}, indent=1))
    os.replace(tmp, out / "learning_curve.json")
    (out / "learning_curve.md").write_text(f"# Learning curve (baselines: folds {folds}; trained variants: folds "
                                           f"{variant_folds}; preset {args.preset})\n\n" + md)
    print(md)
    plot(points, methods, out / "learning_curve.png", LABELS)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
