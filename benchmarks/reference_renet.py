"""The reference implementation's network, for speed comparisons only (``benchmarks/throughput.py``).

The published RE-Net code (Asnani et al., github.com/vishal3477/Reverse_Engineering_GMs) is PyTorch,
float32: a DnCNN-17 x 64 FEN (3x3 convolutions; batch norm in the 15 inner layers) whose residual is
turned to grey and Fourier-transformed for the constraints, and a parsing encoder of five
conv(3x3, padding 2) + ReLU + 2x2 max-pool layers (32 ... 512 filters), FC 4608 -> 512 and three
FC 512 -> 256 -> 64 branches with sigmoid heads (7 architecture, 3 loss-group and 8 loss outputs, all
on the first branch).
Written here from that description (same layer shapes, so the same FLOPs); trained with Adam 1e-4 on
a squared error of every head plus the mean FFT magnitude of the fingerprint, so the backward pass
runs through the FFT as the reference's does.

:func:`torch_reference` needs PyTorch (``pip install torch``); :func:`keras_reference` is the same
network in plain Keras (float32, no XLA) for hosts without it.
"""

from __future__ import annotations

import numpy as np

HEADS = (9, 4, 4, 4, 2, 2, 2) + (2,) * 3 + (2,) * 8   # output widths of the published heads
ENCODER = (32, 64, 128, 256, 512)


def encoder_flat(image_size: int) -> int:
    """Flattened size after the five padding-2 conv + pool stages (4608 at 64 x 64)."""
    s = image_size
    for _ in ENCODER:
        s = (s + 2) // 2
    return ENCODER[-1] * s * s


def torch_reference(image_size: int = 64):
    """The reference network as a ``torch.nn.Module``: image ``[B, 3, H, W]`` -> (FFT magnitude, heads)."""
    import torch
    from torch import nn

    class Reference(nn.Module):
        def __init__(self):
            super().__init__()
            fen = [nn.Conv2d(3, 64, 3, padding=1), nn.ReLU(inplace=True)]
            for _ in range(15):
                fen += [nn.Conv2d(64, 64, 3, padding=1), nn.BatchNorm2d(64), nn.ReLU(inplace=True)]
            self.fen = nn.Sequential(*fen, nn.Conv2d(64, 3, 3, padding=1))
            enc, c = [], 3
            for w in ENCODER:
                enc += [nn.Conv2d(c, w, 3, padding=2), nn.ReLU(), nn.MaxPool2d(2)]
                c = w
            self.encoder = nn.Sequential(*enc, nn.Flatten(), nn.Dropout(), nn.Linear(encoder_flat(image_size), 512),
                                         nn.ReLU())
            self.branches = nn.ModuleList(nn.Sequential(nn.Linear(512, 256), nn.ReLU(), nn.Linear(256, 64), nn.ReLU())
                                          for _ in range(3))
            self.heads = nn.ModuleList(nn.Linear(64, w) for w in HEADS)

        def forward(self, x):
            fp = self.fen(x)
            grey = 0.299 * fp[:, 0] + 0.587 * fp[:, 1] + 0.114 * fp[:, 2]
            spectrum = torch.fft.fftshift(torch.fft.fft2(grey).abs(), dim=(-2, -1))
            h = self.encoder(fp)
            first, *_ = [br(h) for br in self.branches]   # as published: every head reads the first branch
            return spectrum, [torch.sigmoid(head(first)) for head in self.heads]

    return Reference()


def torch_rates(batch: int = 32, image_size: int = 64, steps: int = 3, min_seconds: float = 2.0,
                threads: int | None = None) -> dict:
    """Training and inference images/s of :func:`torch_reference` on the CPU (float32)."""
    import torch

    from reparse_tf.training.throughput import images_per_second

    if threads:
        torch.set_num_threads(threads)
    net = torch_reference(image_size)
    opt = torch.optim.Adam(net.parameters(), lr=1e-4)
    x = torch.rand(batch, 3, image_size, image_size)

    def train_step():
        opt.zero_grad()
        spectrum, heads = net(x)
        loss = spectrum.mean() + sum(((h - 0.5) ** 2).mean() for h in heads)
        loss.backward()
        opt.step()

    def infer_step():
        with torch.no_grad():
            net(x)

    net.train()
    train = images_per_second(train_step, batch, steps, min_seconds)
    net.eval()
    return {"implementation": f"PyTorch {torch.__version__} (float32, eager, {torch.get_num_threads()} threads)",
            "train_img_s": train, "infer_img_s": images_per_second(infer_step, batch, steps, min_seconds)}


def keras_reference(image_size: int = 64):
    """The same network in plain Keras (channels last): image ``[B, H, W, 3]`` -> {spectrum, heads...}."""
    import keras
    from keras import layers, ops

    x_in = keras.Input((image_size, image_size, 3))
    x = layers.Conv2D(64, 3, padding="same", activation="relu")(x_in)
    for _ in range(15):
        x = layers.ReLU()(layers.BatchNormalization()(layers.Conv2D(64, 3, padding="same", use_bias=False)(x)))
    fp = layers.Conv2D(3, 3, padding="same")(x)
    grey = layers.Lambda(lambda f: 0.299 * f[..., 0] + 0.587 * f[..., 1] + 0.114 * f[..., 2])(fp)
    def magnitude(g):
        real, imag = ops.fft2((g, ops.zeros_like(g)))
        return ops.sqrt(ops.square(real) + ops.square(imag))

    spectrum = layers.Lambda(magnitude, name="spectrum")(grey)
    h = fp
    for w in ENCODER:
        h = layers.MaxPooling2D(2)(layers.Conv2D(w, 3, activation="relu")(layers.ZeroPadding2D(2)(h)))
    h = layers.Dense(512, activation="relu")(layers.Dropout(0.5)(layers.Flatten()(h)))
    # as published every head reads the first FC branch (the other two feed no output, so Keras drops them)
    first = layers.Dense(64, activation="relu")(layers.Dense(256, activation="relu")(h))
    heads = {f"head{i}": layers.Dense(w, activation="sigmoid", name=f"head{i}")(first) for i, w in enumerate(HEADS)}
    return keras.Model(x_in, {"spectrum": spectrum, **heads})


def keras_rates(batch: int = 32, image_size: int = 64, steps: int = 3, min_seconds: float = 2.0) -> dict:
    """Training and inference images/s of :func:`keras_reference` (float32, no XLA)."""
    import keras

    from reparse_tf.training.throughput import inference_rate, training_rate

    model = keras_reference(image_size)
    model.compile(optimizer=keras.optimizers.Adam(1e-4),
                  loss={"spectrum": lambda y, p: keras.ops.mean(p), **{n: "mse" for n in model.output_names
                                                                       if n != "spectrum"}},
                  jit_compile=False)
    x = np.random.default_rng(0).random((batch, image_size, image_size, 3)).astype(np.float32)
    y = {n: np.zeros((batch, *tuple(int(d) for d in o.shape[1:])), np.float32)
         for n, o in zip(model.output_names, keras.tree.flatten(model.outputs), strict=True)}
    return {"implementation": f"plain Keras {keras.__version__} on {keras.backend.backend()} (float32, no XLA; "
                              "PyTorch not installed)",
            "train_img_s": training_rate(model, x, y, steps, min_seconds),
            "infer_img_s": inference_rate(model.predict_on_batch, x, steps, min_seconds)}


def reference_rates(batch: int = 32, image_size: int = 64, steps: int = 3, min_seconds: float = 2.0) -> dict:
    """PyTorch reference when importable, else its plain-Keras twin.

    PyTorch runs in a separate interpreter: loaded into one process with TensorFlow, the two
    libraries' bundled runtimes crash it (segmentation fault)."""
    import json
    import os
    import subprocess
    import sys

    cmd = [sys.executable, __file__, "--batch", str(batch), "--image-size", str(image_size), "--steps", str(steps),
           "--min-seconds", str(min_seconds)]
    # Keras on its torch backend there, so TensorFlow stays out of that process
    env = {**os.environ, "KERAS_BACKEND": "torch"}
    done = subprocess.run(cmd, capture_output=True, text=True, check=False, env=env)
    if done.returncode == NO_TORCH:
        return keras_rates(batch, image_size, steps, min_seconds)
    if done.returncode != 0:
        raise RuntimeError(f"the PyTorch reference failed ({done.returncode}): {done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


NO_TORCH = 3


def _main() -> int:
    import argparse
    import json

    ap = argparse.ArgumentParser(description="training / inference img/s of the PyTorch reference (JSON on stdout)")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--image-size", type=int, default=64)
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--min-seconds", type=float, default=2.0)
    args = ap.parse_args()
    try:
        import torch  # noqa: F401
    except ImportError:
        return NO_TORCH
    print(json.dumps(torch_rates(args.batch, args.image_size, args.steps, args.min_seconds)))
    return 0


if __name__ == "__main__":
    raise SystemExit(_main())
