"""The spectral peer with the residual's 2-D spectrum against the ring-averaged one, per image of unseen GMs.

    python benchmarks/peer_2d_spectrum.py --examples EXAMPLES_DIR --out OUT [--folds 0,1,2,3] [--per-gm 100]

A ring (azimuthal) average mixes the up-sampling lattice's peaks with every other frequency of their ring; the
``spectral_peer_2d`` baseline keeps the residual's 2-D log spectrum in 2 x 2 frequency cells beside the ring
averages. Both peers, the constant and the family oracle are fitted on each fold's fitted GMs
(:func:`reparse_tf.evaluation.baseline_evaluation.evaluate_baselines`, cached in ``OUT/fold<k>``: resumable) and
scored on its unseen test GMs. Prints and writes ``OUT/peer_2d_spectrum.{md,json}``: mean ± std over folds, the
per-parameter F1 of the discrete parameters, and the paired tests (2-D - ring) over the test GMs of all folds.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

NAMES = ("spectral_peer_2d", "spectral_peer", "constant", "family_oracle")
COLUMNS = ("continuous_l1", "continuous_r2", "discrete_f1", "loss_f1")


def main(argv: list[str] | None = None) -> int:
    from reparse_tf.evaluation.baseline_evaluation import LABELS, evaluate_baselines
    from reparse_tf.evaluation.significance import compare_per_gm, format_paired
    from reparse_tf.serving.artifacts import write_json

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--examples", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--folds", default="0,1,2,3")
    ap.add_argument("--per-gm", type=int, default=100, help="training images per fitted GM for the peers")
    args = ap.parse_args(argv)
    out = Path(args.out)
    folds = [int(f) for f in args.folds.split(",")]
    runs = {k: evaluate_baselines(args.examples, k, out / f"fold{k}", NAMES, peer_images_per_gm=args.per_gm)
            for k in folds}

    def ms(values: list[float]) -> str:
        return f"{np.mean(values):.3f} ± {np.std(values):.3f}"

    lines = [f"Folds {args.folds}, per image of unseen test GMs, mean ± std over folds (examples "
             f"`{Path(args.examples).name}`).", "", "| predictor | " + " | ".join(COLUMNS) + " |",
             "| --- |" + " --- |" * len(COLUMNS)]
    lines += [f"| {LABELS[n]} | " + " | ".join(ms([runs[k][n]["summary"][c] for k in folds]) for c in COLUMNS) + " |"
              for n in NAMES]
    discrete = sorted(runs[folds[0]]["spectral_peer"]["metrics"]["discrete"])
    lines += ["", "Macro F1 per discrete parameter (mean over folds):", "",
              "| parameter | " + " | ".join(LABELS[n] for n in NAMES[:2]) + " |", "| --- | --- | --- |"]
    lines += [f"| {p} | " + " | ".join(f"{np.mean([runs[k][n]['metrics']['discrete'][p]['f1'] for k in folds]):.3f}"
                                       for n in NAMES[:2]) + " |" for p in discrete]

    def units(name: str) -> dict[str, dict]:
        return {f"{k}/{g}": v for k in folds for g, v in runs[k][name]["per_gm"].items()}

    tests = {other: compare_per_gm(units("spectral_peer_2d"), units(other)) for other in NAMES[1:]}
    lines += ["", "Paired over the test GMs of all folds (2-D peer − other; Wilcoxon signed-rank):", "",
              "| other | " + " | ".join(next(iter(tests.values()))) + " |", "| --- |" + " --- |" * len(
                  next(iter(tests.values())))]
    lines += [f"| {LABELS[o]} | " + " | ".join(format_paired(t) for t in ts.values()) + " |" for o, ts in tests.items()]
    text = "\n".join(lines) + "\n"
    print(text)
    out.mkdir(parents=True, exist_ok=True)
    (out / "peer_2d_spectrum.md").write_text(text)
    write_json(out / "peer_2d_spectrum.json", {
        "folds": folds, "summary": {n: {str(k): runs[k][n]["summary"] for k in folds} for n in NAMES},
        "discrete_f1": {n: {p: [runs[k][n]["metrics"]["discrete"][p]["f1"] for k in folds] for p in discrete}
                        for n in NAMES[:2]},
        "paired": tests, "chosen": {str(k): runs[k]["spectral_peer_2d"].get("chosen") for k in folds}}, strict=False)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
