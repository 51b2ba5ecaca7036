"""Training and inference speed of the presets beside the reference implementation, in one run.

    python benchmarks/throughput.py [--presets cpu paper] [--batch 32] [--model MODEL_DIR]
                                    [--saved-model VERSION_DIR] [--json OUT.json]

Prints, all measured in this run on this machine:
1. the machine: vector units, the fp32 peak they allow (an upper bound) and the ceiling a large
   float32 matrix product reaches on the Keras backend (the highest of the repeats);
2. the reference implementation (the published PyTorch RE-Net network, float32; its plain-Keras
   twin when PyTorch is absent — the table says which): training and inference images/s;
3. every preset under each (dtype policy, XLA) candidate of this machine: images/s, the ratio to the
   reference, GFLOP/s achieved (FLOPs counted from the model's layers) and its share of the
   ceiling; the setting ``tune`` picks from these rates. ``--repeats`` interleaves the reference and
   every network (medians; each ratio is paired with the reference run beside it, min-max shown),
   since a shared virtual machine's speed drifts by tens of percent from minute to minute;
4. inference latency (ms per image) at batch 1 and 64 of each preset's picked setting, of a trained
   ``--model`` through the ``reparse parse`` path, and of a pushed SavedModel's ``serve_bytes``
   signature (PNG bytes in; needs TensorFlow).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import keras
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))


class PresetNetwork:
    """A preset's compiled parsing model under one (dtype, XLA) setting, measured as often as asked."""

    def __init__(self, name: str, dtype: str, jit: bool, batch: int):
        from reparse_tf.training.presets import get_preset
        from reparse_tf.training.throughput import compiled_parser, count_flops

        self.name, self.dtype, self.jit, self.batch = name, dtype, jit, batch
        p = get_preset(name).with_overrides(dtype_policy=dtype, jit_compile=jit, run_eagerly=False, batch_size=batch,
                                            tune=False)
        self.model, self.x, self.y = compiled_parser(p)
        self.gflop_per_image = count_flops(self.model)["forward"] / 1e9

    def rates(self, min_seconds: float) -> dict[str, float]:
        from reparse_tf.training.throughput import inference_rate, training_rate

        return {"train_img_s": training_rate(self.model, self.x, self.y, min_seconds=min_seconds),
                "infer_img_s": inference_rate(self.model.predict_on_batch, self.x, min_seconds=min_seconds)}


def summarise(runs: list[dict[str, float]], ref_runs: list[dict[str, float]]) -> dict:
    """Median rates over the repeats, and the median / min / max of each repeat's ratio to the reference
    measured beside it (the machine's speed drifts between repeats; a paired ratio cancels most of it)."""
    out = {}
    for key in ("train_img_s", "infer_img_s"):
        ratios = [r[key] / q[key] for r, q in zip(runs, ref_runs, strict=True)]
        tag = key.split("_")[0]
        out.update({key: float(np.median([r[key] for r in runs])), f"{tag}_vs_reference": float(np.median(ratios)),
                    f"{tag}_vs_reference_range": [float(min(ratios)), float(max(ratios))],
                    f"{tag}_runs": [r[key] for r in runs]})
    return out


def latency_ms(predict, images: np.ndarray, batches: tuple[int, ...], min_seconds: float) -> dict[str, float]:
    """ms per image of ``predict`` at each batch size (images drawn from ``images``)."""
    from reparse_tf.training.throughput import inference_rate

    return {str(b): 1000 / inference_rate(predict, images[:b], min_seconds=min_seconds) for b in batches}


def main(argv: list[str] | None = None) -> int:
    from reference_renet import encoder_flat, keras_reference, reference_rates

    from reparse_tf.serving.artifacts import write_json
    from reparse_tf.training.hardware import candidate_settings, matmul_gflops, pick_fastest, this_machine
    from reparse_tf.training.throughput import TRAIN_FLOPS_FACTOR, count_flops

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--presets", nargs="*", default=["cpu", "paper"], help="none: only the reference and latency")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--latency-batches", type=int, nargs="+", default=[1, 64])
    ap.add_argument("--min-seconds", type=float, default=3.0, help="time each measurement at least this long")
    ap.add_argument("--repeats", type=int, default=3, help="interleaved repeats of every measurement")
    ap.add_argument("--model", default=None, help="a trained MODEL DIR: time `reparse parse`'s predictions")
    ap.add_argument("--saved-model", default=None, help="a pushed SavedModel version dir: time serve_bytes")
    ap.add_argument("--json", default=None)
    args = ap.parse_args(argv)
    machine = this_machine()
    ceiling = matmul_gflops(dtype="float32")
    out: dict = {"machine": machine.describe(), "backend": keras.backend.backend(), "matmul_gflops_float32": ceiling}
    if machine.has_bf16_units:
        out["matmul_gflops_bfloat16"] = matmul_gflops(dtype="bfloat16")
    peak = machine.peak_gflops()
    print(f"machine: {machine.processor}, {machine.cores} cores, {', '.join(machine.vector_units)}; fp32 peak "
          f"{'unknown' if peak is None else f'{peak:.0f}'} GFLOP/s (2 FMA pipes assumed), matmul ceiling "
          f"{ceiling:.0f} GFLOP/s float32" + (f", {out['matmul_gflops_bfloat16']:.0f} bfloat16"
                                              if "matmul_gflops_bfloat16" in out else "")
          + f"; Keras {keras.__version__} on {keras.backend.backend()}", flush=True)

    networks = [PresetNetwork(name, dtype, jit, args.batch) for name in args.presets
                for dtype, jit in candidate_settings(machine)]
    ref_runs, runs, ceilings = [], {id(n): [] for n in networks}, [ceiling]
    for rep in range(args.repeats):   # interleaved: each repeat measures the reference and every network
        ceilings.append(matmul_gflops(dtype="float32"))
        ref_runs.append(reference_rates(args.batch, 64, min_seconds=args.min_seconds))
        print(f"repeat {rep + 1}: reference train {ref_runs[-1]['train_img_s']:.1f} / inference "
              f"{ref_runs[-1]['infer_img_s']:.1f} img/s", flush=True)
        for n in networks:
            runs[id(n)].append(n.rates(args.min_seconds))
            print(f"  {n.name} {n.dtype} xla={n.jit}: train {runs[id(n)][-1]['train_img_s']:.1f} / inference "
                  f"{runs[id(n)][-1]['infer_img_s']:.1f} img/s", flush=True)
    ref = {"implementation": ref_runs[0]["implementation"],
           "gflop_per_image": count_flops(keras_reference(64))["forward"] / 1e9,
           **summarise(ref_runs, ref_runs)}
    assert encoder_flat(64) == 4608   # the published FC input: same layer shapes
    out["reference"] = ref
    # the highest matmul rate seen in the run is the ceiling the shares are taken against
    ceiling = out["matmul_gflops_float32"] = max(ceilings)
    out["matmul_gflops_float32_runs"] = ceilings

    def gflops(r: dict, key: str) -> float:
        return r["gflop_per_image"] * r[key] * (TRAIN_FLOPS_FACTOR if key == "train_img_s" else 1)

    rows = [{"preset": "reference", "dtype": "float32", "xla": False, **ref}]
    latency: dict = {}
    # one set of random images for every latency row
    images = np.random.default_rng(0).integers(0, 256, (max(args.latency_batches), 64, 64, 3)).astype(np.uint8)
    for name in args.presets:
        mine = [n for n in networks if n.name == name]
        pick = pick_fastest({(n.dtype, n.jit): float(np.median([r["train_img_s"] for r in runs[id(n)]]))
                             for n in mine})
        for n in mine:
            rows.append({"preset": name, "dtype": n.dtype, "xla": n.jit, "batch": n.batch,
                         "gflop_per_image": n.gflop_per_image, "tune_picks": (n.dtype, n.jit) == pick,
                         **summarise(runs[id(n)], ref_runs)})
            if (n.dtype, n.jit) == pick:
                latency[f"{name} ({n.dtype}, XLA {'on' if n.jit else 'off'})"] = latency_ms(
                    n.model.predict_on_batch, images, tuple(args.latency_batches), args.min_seconds)
    for r in rows:
        r["train_gflop_s"], r["infer_gflop_s"] = gflops(r, "train_img_s"), gflops(r, "infer_img_s")
        r["train_of_ceiling"], r["infer_of_ceiling"] = r["train_gflop_s"] / ceiling, r["infer_gflop_s"] / ceiling
        r["infer_of_peak"] = None if peak is None else r["infer_gflop_s"] / peak
    out["rows"] = rows
    if args.model:
        from reparse_tf.serving.inference import ModelParser

        parser = ModelParser.load(args.model)
        latency[f"reparse parse --model {args.model}"] = latency_ms(parser.predict, images,
                                                                    tuple(args.latency_batches), args.min_seconds)
    if args.saved_model:
        latency[f"SavedModel serve_bytes {args.saved_model}"] = serve_bytes_latency(
            args.saved_model, images, tuple(args.latency_batches), args.min_seconds)
    out["latency_ms_per_image"] = latency

    print(f"\n| network | dtype | XLA | GFLOP/image | train img/s | x reference (range) | inference img/s | "
          f"x reference (range) | train GFLOP/s (share of {ceiling:.0f}) | inference GFLOP/s (share) |")
    print("| --- " * 10 + "|")
    for r in rows:
        mark = " (tune's pick)" if r.get("tune_picks") else ""

        def ratio(tag: str, r=r) -> str:
            lo, hi = r[f"{tag}_vs_reference_range"]
            return f"{r[f'{tag}_vs_reference']:.2f} ({lo:.2f}-{hi:.2f})"

        print(f"| {r['preset']}{mark} | {r['dtype']} | {'on' if r['xla'] else 'off'} | {r['gflop_per_image']:.3f} | "
              f"{r['train_img_s']:.1f} | {ratio('train')} | {r['infer_img_s']:.1f} | {ratio('infer')} | "
              f"{r['train_gflop_s']:.1f} ({r['train_of_ceiling']:.0%}) | "
              f"{r['infer_gflop_s']:.1f} ({r['infer_of_ceiling']:.0%}) |")
    if latency:
        bs = [str(b) for b in args.latency_batches]
        print("\n| inference | " + " | ".join(f"ms/image at batch {b}" for b in bs) + " |")
        print("| --- " * (1 + len(bs)) + "|")
        for name, ms in latency.items():
            print(f"| {name} | " + " | ".join(f"{ms[b]:.2f}" for b in bs) + " |")
    if args.json:
        write_json(args.json, out, indent=1, strict=False)
        print(f"written to {args.json}")
    return 0


def serve_bytes_latency(version_dir: str, images: np.ndarray, batches: tuple[int, ...], min_seconds: float) -> dict:
    """ms per image of a SavedModel's ``serve_bytes`` signature fed PNG-encoded ``images``."""
    import tensorflow as tf

    loaded = tf.saved_model.load(version_dir)
    fn = loaded.signatures["serve_bytes"] if "serve_bytes" in loaded.signatures else loaded.serve_bytes
    pngs = tf.constant([tf.io.encode_png(im).numpy() for im in images])
    return latency_ms(lambda b: fn(image_bytes=b), pngs, batches, min_seconds)


if __name__ == "__main__":
    raise SystemExit(main())
