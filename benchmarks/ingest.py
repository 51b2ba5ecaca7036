"""Benchmark ``reparse ingest`` throughput against a plain single-process Pillow loop.

Usage: ``python benchmarks/ingest.py [--gms 20] [--images-per-gm 150] [--size 64] [--beam-args ...]``

Makes a synthetic RED layout of 64x64 PNGs, then times (1) the baseline: the same per-image work
(read, Pillow decode + validate + RGB + fit, PNG encode, Example serialisation) in a plain loop
without Beam, (2) ``run_ingest`` with Beam's in-process runner (TFRecords), for each requested
set of Beam options, (3) ``run_ingest --format npz``. Prints images/s for each so Beam's overhead is
visible.
"""

from __future__ import annotations

import argparse
import logging
import shlex
import tempfile
import time
from pathlib import Path

from reparse_tf.data.ingest import _ImageWork, run_ingest
from reparse_tf.data.layout import scan_layout
from reparse_tf.data.schema import load_schema
from reparse_tf.data.synthetic import make_synthetic_layout


def baseline(root: Path, image_size: int) -> tuple[int, float]:
    """Single-process loop doing the ingest's per-image work, no Beam, no file writing."""
    layout = scan_layout(root)
    work = _ImageWork(layout, image_size, load_schema())
    start = time.perf_counter()
    n = 0
    for path, gm in layout.items():
        dec, _ = work.decode(path, gm)
        if dec is not None:
            work.example(dec, path, gm)
            n += 1
    return n, time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--gms", type=int, default=20)
    ap.add_argument("--images-per-gm", type=int, default=150)
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--beam-args", action="append", default=None,
                    help="Beam options to time (repeatable, quoted), e.g. '--direct_num_workers 2 "
                    "--direct_running_mode multi_processing'")
    args = ap.parse_args(argv)
    logging.getLogger("apache_beam").setLevel(logging.WARNING)
    variants = [shlex.split(v) for v in (args.beam_args or
                                         ["", "--direct_num_workers 2 --direct_running_mode multi_processing"])]
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "layout"
        t = time.perf_counter()
        make_synthetic_layout(root, n_gms=args.gms, images_per_gm=args.images_per_gm, size=args.size, seed=0)
        print(f"made {args.gms * args.images_per_gm} {args.size}x{args.size} PNGs in {time.perf_counter() - t:.1f} s")
        t = time.perf_counter()
        import apache_beam  # noqa: F401  (timed apart: a one-off cost per process)

        print(f"import apache_beam: {time.perf_counter() - t:.1f} s (not included below)")
        n, dt = baseline(root, args.size)
        print(f"baseline (Pillow decode + PNG encode + Example, 1 process, no Beam): {n / dt:8.0f} images/s")
        for i, beam_args in enumerate(variants):
            t = time.perf_counter()
            m = run_ingest(root, Path(tmp) / f"out{i}", image_size=args.size, beam_args=beam_args)
            dt = time.perf_counter() - t
            print(f"run_ingest tfrecord [{' '.join(beam_args) or 'in-process, 1 worker'}]: "
                  f"{m['n_images'] / dt:8.0f} images/s ({dt:.1f} s end to end)")
        t = time.perf_counter()
        m = run_ingest(root, Path(tmp) / "out_npz", image_size=args.size, output_format="npz")
        dt = time.perf_counter() - t
        print(f"run_ingest npz (in-process, no Beam): {m['n_images'] / dt:8.0f} images/s ({dt:.1f} s end to end)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
