"""Training and inference throughput (images/s) of the presets, float32 vs mixed_bfloat16 and
jit_compile on/off, on this machine. Prints a table; the float32 baseline is from the same run.

    python benchmarks/throughput.py [--presets cpu paper] [--batches 3] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import time

import keras
import numpy as np

from reparse_tf.data.schema import load_schema
from reparse_tf.model.renet import build_model, compile_model
from reparse_tf.training.presets import get_preset


def measure(preset_name: str, dtype: str, jit: bool, batches: int) -> dict:
    schema = load_schema()
    p = get_preset(preset_name).with_overrides(dtype_policy=dtype, jit_compile=jit, run_eagerly=False)
    model = build_model(p)
    compile_model(model, "two", [np.ones(q.num_classes, np.float32) for q in schema.discrete], p)
    rng = np.random.default_rng(0)
    b = p.batch_size
    x = rng.integers(0, 256, (b, p.image_size, p.image_size, 3)).astype(np.uint8)
    y = {n: np.zeros((b,), np.float32) for n in model.output_names}
    y["cluster_continuous"] = y["instance_continuous"] = np.zeros((b, len(schema.continuous)), np.float32)
    y["fusion"] = np.zeros((b, len(schema.discrete)), np.float32)
    model.train_on_batch(x, y)  # compile / warm up
    t0 = time.perf_counter()
    for _ in range(batches):
        model.train_on_batch(x, y)
    train_ips = batches * b / (time.perf_counter() - t0)
    model.predict_on_batch(x)
    t0 = time.perf_counter()
    for _ in range(batches):
        model.predict_on_batch(x)
    infer_ips = batches * b / (time.perf_counter() - t0)
    return {"preset": preset_name, "dtype": dtype, "jit_compile": jit, "batch": b,
            "train_img_s": round(train_ips, 1), "infer_img_s": round(infer_ips, 1)}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--presets", nargs="+", default=["cpu", "paper"])
    ap.add_argument("--dtypes", nargs="+", default=["float32", "mixed_bfloat16"])
    ap.add_argument("--jit", nargs="+", default=["off", "on"], choices=("off", "on"))
    ap.add_argument("--batches", type=int, default=3)
    ap.add_argument("--json", default=None)
    args = ap.parse_args(argv)
    rows = []
    for preset in args.presets:
        for dtype in args.dtypes:
            for jit in args.jit:
                r = measure(preset, dtype, jit == "on", args.batches)
                base = next((q for q in rows if q["preset"] == preset and q["dtype"] == "float32"
                             and q["jit_compile"] == r["jit_compile"]), r)
                r["train_speedup"] = round(r["train_img_s"] / base["train_img_s"], 2)
                r["infer_speedup"] = round(r["infer_img_s"] / base["infer_img_s"], 2)
                rows.append(r)
                print(json.dumps(r), flush=True)
    print(f"\nbackend={keras.backend.backend()}")
    cols = list(rows[0])
    print("| " + " | ".join(cols) + " |\n|" + "---|" * len(cols))
    for r in rows:
        print("| " + " | ".join(str(r[c]) for c in cols) + " |")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(rows, fh, indent=2)
        print(f"written to {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
