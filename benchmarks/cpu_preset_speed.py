"""The `cpu` preset's training speed by setting and batch size, as ratios to its old fixed setting in the same run.

    python benchmarks/cpu_preset_speed.py [--preset cpu] [--repeats 3] [--min-seconds 6] [--json OUT.json]

Issue 24 asks for the `cpu` preset's training images/s doubled from its old fixed setting (mixed_bfloat16 with
XLA, batch 32, Keras' composite batch norm). Every setting below is a compiled parsing model timed on one fixed
batch (``train_on_batch``); the repeats are interleaved (every setting once per round), and each ratio is taken
against the old setting's measurement of the same round, so a change of load between rounds does not enter the
ratio.
"""

from __future__ import annotations

import argparse

import numpy as np

OLD = "old fixed: mixed_bfloat16 + XLA, batch 32, Keras batch norm"
# (label, dtype policy, XLA, batch size, fused batch norm); the first is the baseline every ratio is taken against
SETTINGS = ((OLD, "mixed_bfloat16", True, 32, False),
            ("mixed_bfloat16, XLA off, batch 32, Keras batch norm", "mixed_bfloat16", False, 32, False),
            ("float32, XLA off, batch 32, fused batch norm", "float32", False, 32, True),
            ("mixed_bfloat16, XLA on, batch 32, fused batch norm", "mixed_bfloat16", True, 32, True),
            ("mixed_bfloat16, XLA off, batch 32, fused batch norm", "mixed_bfloat16", False, 32, True),
            ("mixed_bfloat16, XLA off, batch 128, fused batch norm", "mixed_bfloat16", False, 128, True))


def main(argv: list[str] | None = None) -> int:
    from reparse_tf.training.hardware import this_machine
    from reparse_tf.training.presets import get_preset
    from reparse_tf.training.throughput import compiled_parser, training_rate

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--preset", default="cpu")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--min-seconds", type=float, default=6.0)
    ap.add_argument("--json", default=None)
    args = ap.parse_args(argv)
    models = {label: compiled_parser(get_preset(args.preset).with_overrides(
        dtype_policy=dtype, jit_compile=jit, batch_size=batch, fused_batch_norm=fused, tune=False, run_eagerly=False))
        for label, dtype, jit, batch, fused in SETTINGS}
    runs: dict[str, list[float]] = {label: [] for label in models}
    for r in range(args.repeats):
        for label, (model, x, y) in models.items():
            runs[label].append(training_rate(model, x, y, steps=3, min_seconds=args.min_seconds))
            print(f"round {r + 1}: {label}: {runs[label][-1]:.1f} img/s", flush=True)
    base = np.array(runs[OLD])
    ratios = {label: np.array(v) / base for label, v in runs.items()}
    result = {"preset": args.preset, "machine": this_machine().describe(), "repeats": args.repeats,
              "settings": {label: {"median_images_per_s": float(np.median(v)),
                                   "ratio_to_old_median": float(np.median(ratios[label])),
                                   "ratio_range": [float(ratios[label].min()), float(ratios[label].max())],
                                   "images_per_s": v} for label, v in runs.items()}}
    for label, v in result["settings"].items():
        print(f"{label:40s} {v['median_images_per_s']:7.1f} img/s  x{v['ratio_to_old_median']:.2f} "
              f"({v['ratio_range'][0]:.2f}-{v['ratio_range'][1]:.2f})")
    if args.json:
        from reparse_tf.serving.artifacts import write_json

        write_json(args.json, result, indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
