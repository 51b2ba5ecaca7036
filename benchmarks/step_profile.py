"""Where a training step's time goes: the parsing model measured whole and with parts removed.

    python benchmarks/step_profile.py [--presets cpu paper] [--dtype float32] [--xla on] [--trace] [--json OUT.json]

Per preset, in one run: training images/s of the full model (FEN + J_f + PN with cluster and
instance parsers, 16 + 16 classifiers, fusion), without the FFT constraint path (J_f), with one
parser instead of two (half the heads), and of its convolutional core alone (FEN + shared encoder +
one regression head); plus the Python-side batch assembly of the training data
(``ParsingDataset.__getitem__``). Each part's cost is the difference of time per image, so the
shares say how much of a step is not convolution. The convolutions' FLOPs are counted from the
layers (``reparse_tf.training.throughput``).

``--trace`` adds the TensorFlow profiler's view of the full model's step (TensorFlow backend): every op's
time on the compute threads, grouped by what it belongs to (convolutions, batch norm, activations, J_f,
heads, losses, optimizer), forward and backward apart. Subtraction cannot see batch norm (it sits inside
the convolutional blocks); the trace does.
"""

from __future__ import annotations

import argparse
import collections
import re
import tempfile
import time
from pathlib import Path

import keras
import numpy as np


def core_model(p) -> keras.Model:
    """FEN + shared encoder + one linear regression head (the convolutions and batch norms of the parsing model)."""
    from reparse_tf.model.batch_norm import fused_kernel
    from reparse_tf.model.fen import DnCNN
    from reparse_tf.model.parsers import ImagePreprocess, shared_encoder

    with fused_kernel(p.fused_batch_norm):
        image = keras.Input((p.image_size, p.image_size, 3), dtype="uint8", name="image")
        fp = DnCNN(p.fen_depth, p.fen_width, 3, p.image_size, dtype=p.dtype_policy,
                   name="fen")(ImagePreprocess()(image))
        emb = shared_encoder(fp, p.encoder_filters, p.encoder_pool, p.feature_dim, p.dtype_policy)
        return keras.Model(image, keras.layers.Dense(9, dtype="float32", name="out")(emb))


def data_rate(p, n_gms: int = 45, per_gm: int = 150, seconds: float = 2.0) -> float:
    """Images/s of the training data's batch assembly (indexing + the 70 target arrays), no model."""
    from reparse_tf.data.labels import LabelTable
    from reparse_tf.data.schema import load_schema
    from reparse_tf.model.renet import build_model
    from reparse_tf.targets.cluster_ground_truth import compute_cluster_ground_truth
    from reparse_tf.training.parser_training import ParsingDataset

    schema = load_schema()
    rng = np.random.default_rng(0)
    gms = [f"gm{i}" for i in range(n_gms)]
    values = np.stack([[rng.integers(0, q.num_classes) if q.kind != "continuous" else rng.random()
                        for q in schema.params] for _ in gms]).astype(np.float64)
    table = LabelTable(gms, ["GAN"] * n_gms, ["faces"] * n_gms, values)
    cgt = compute_cluster_ground_truth(table, gms, seed=0)
    images = rng.integers(0, 256, (n_gms * per_gm, p.image_size, p.image_size, 3)).astype(np.uint8)
    names = build_model(p.with_overrides(dtype_policy="float32")).output_names
    data = ParsingDataset(images, np.repeat(gms, per_gm), cgt, names, p.batch_size, p.images_per_gm)
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        data[n % data.num_batches]
        n += 1
    return n * p.batch_size / (time.perf_counter() - t0)


#: op-scope names -> what the op belongs to (first match along the op's scope path)
TRACE_GROUPS = (("bn", "batch norm"), ("fingerprint_constraints", "FFT constraints J_f"), ("conv", "convolution"),
                ("activation", "activation"), ("adam", "optimizer"), ("compile_loss", "losses"),
                ("cluster_", "heads"), ("instance_", "heads"), ("fusion", "heads"), ("final_", "heads"),
                ("direct_", "heads"), ("encoder_dense", "heads"), ("embedding", "heads"))


def op_group(scope: str) -> str:
    """What an op of ``scope`` (e.g. ``gradient_tape/model/fen/block1/bn/moments/Mean``) belongs to, with its
    direction: ``"backward batch norm"``."""
    parts = [re.sub(r"_\d+$", "", part) for part in scope.split("/")]
    direction = "backward" if parts[0] == "gradient_tape" else "forward"
    for part in parts[::-1]:
        for key, group in TRACE_GROUPS:
            if part.startswith(key):
                return f"{direction} {group}"
    return f"{direction} other"


def trace_breakdown(model: keras.Model, x, y, steps: int = 10) -> dict:
    """TensorFlow profiler trace of ``steps`` ``train_on_batch`` calls: ms per step by :func:`op_group`, summed over
    the compute threads (so the total exceeds the wall time when ops run side by side), and the wall ms per step."""
    import tensorflow as tf
    from tensorflow.tsl.profiler.protobuf import xplane_pb2

    for _ in range(3):   # tracing, graph optimisation, first allocations
        model.train_on_batch(x, y)
    with tempfile.TemporaryDirectory() as logdir:
        tf.profiler.experimental.start(logdir)
        t0 = time.perf_counter()
        for _ in range(steps):
            model.train_on_batch(x, y)
        wall = time.perf_counter() - t0
        tf.profiler.experimental.stop()
        space = xplane_pb2.XSpace()
        space.ParseFromString(next(Path(logdir).rglob("*.xplane.pb")).read_bytes())
    ps = collections.Counter()
    for plane in space.planes:
        for line in plane.lines:
            if not line.name.startswith("tf_Compute"):
                continue
            for event in line.events:
                # op events are "scope:OpType"; "Process" / "Run" and "__inference_*" enclose the ops
                scope, sep, kind = plane.event_metadata[event.metadata_id].name.rpartition(":")
                if sep and not scope.startswith("__") and kind not in ("Process", "Run"):
                    ps[op_group(scope)] += event.duration_ps
    total = sum(ps.values())
    return {"wall_ms_per_step": 1000 * wall / steps, "op_ms_per_step": total / 1e9 / steps,
            "groups_ms_per_step": {k: v / 1e9 / steps for k, v in ps.most_common()},
            "shares": {k: v / total for k, v in ps.most_common()}}


def main(argv: list[str] | None = None) -> int:
    from reparse_tf.serving.artifacts import write_json
    from reparse_tf.training.presets import get_preset
    from reparse_tf.training.throughput import compiled_parser, count_flops, training_rate

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--presets", nargs="+", default=["cpu", "paper"])
    ap.add_argument("--dtype", default="float32")
    ap.add_argument("--xla", default="on", choices=("on", "off"))
    ap.add_argument("--min-seconds", type=float, default=3.0)
    ap.add_argument("--trace", action="store_true", help="add the TensorFlow profiler's breakdown of the full step")
    ap.add_argument("--fused-batch-norm", default="on", choices=("on", "off"),
                    help="batch norm by TensorFlow's fused kernel (off: Keras' composite ops)")
    ap.add_argument("--json", default=None)
    args = ap.parse_args(argv)
    out = {}
    for name in args.presets:
        p = get_preset(name).with_overrides(dtype_policy=args.dtype, jit_compile=args.xla == "on", run_eagerly=False,
                                            tune=False, fused_batch_norm=args.fused_batch_norm == "on")
        rates = {}
        for label, kwargs in (("full", {}), ("no J_f", {"fingerprint": False}),
                              ("no J_f, one parser", {"fingerprint": False, "parser": "one"})):
            rates[label] = training_rate(*compiled_parser(p, **kwargs), min_seconds=args.min_seconds)
            print(f"{name} {label}: {rates[label]:.1f} img/s", flush=True)
        core = core_model(p)
        flops = count_flops(core)["forward"]
        core.compile(optimizer=keras.optimizers.Adam(p.learning_rate), loss="mse", jit_compile=p.jit_compile)
        x = np.random.default_rng(0).integers(0, 256, (p.batch_size, p.image_size, p.image_size, 3)).astype(np.uint8)
        rates["convolutional core"] = training_rate(core, x, np.zeros((p.batch_size, 9), np.float32),
                                                    min_seconds=args.min_seconds)
        rates["data (batch assembly)"] = data_rate(p)
        ms = {k: 1000 / v for k, v in rates.items()}
        parts = {"FFT constraints J_f": ms["full"] - ms["no J_f"],
                 "second parser's heads + fusion": ms["no J_f"] - ms["no J_f, one parser"],
                 "one parser's heads": ms["no J_f, one parser"] - ms["convolutional core"],
                 "convolutional core": ms["convolutional core"],
                 "data (batch assembly, serial)": ms["data (batch assembly)"]}
        total = ms["full"] + ms["data (batch assembly)"]
        out[name] = {"dtype": args.dtype, "xla": args.xla == "on", "fused_batch_norm": p.fused_batch_norm,
                     "img_s": rates, "ms_per_image": ms, "parts_ms_per_image": parts,
                     "core_gflop_per_image": flops / 1e9}
        print(f"\n{name} ({args.dtype}, XLA {args.xla}): step + data {total:.2f} ms/image")
        print("| part | ms / image | share |\n| --- | --- | --- |")
        for k, v in parts.items():
            print(f"| {k} | {v:.3f} | {v / total:.0%} |")
        if args.trace:
            trace = out[name]["trace"] = trace_breakdown(*compiled_parser(p))
            print(f"\nTensorFlow profiler, full step: {trace['wall_ms_per_step']:.1f} ms wall, "
                  f"{trace['op_ms_per_step']:.1f} ms of ops on the compute threads")
            print("| ops of | ms / step | share |\n| --- | --- | --- |")
            for k, v in trace["groups_ms_per_step"].items():
                print(f"| {k} | {v:.2f} | {trace['shares'][k]:.0%} |")
    if args.json:
        write_json(args.json, out, indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
