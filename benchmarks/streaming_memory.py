"""Peak memory of a training run as the zoo grows: images streamed from the shards vs loaded.

    python benchmarks/streaming_memory.py --examples EXAMPLES_DIR [--copies 1 8] [--json OUT.json]

Makes bigger zoos by repeating the examples' npz shards ``copies`` times under new GM names (the
same labels and folds), then trains the ``tiny`` preset for one epoch of at most ``--per-gm``
images per GM on each, in a fresh process, once reading the images per batch (``stream``) and once
loading them (the baseline), and prints each run's peak resident memory (``ru_maxrss``) beside the
size of the images on disk. Streaming holds memory flat while the zoo grows; loading grows with it.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

CHILD = """
import json, resource, sys, time
from reparse_tf.training.parser_training import train
from reparse_tf.training.presets import get_preset
t0 = time.perf_counter()
p = get_preset("tiny").with_overrides(images_per_gm={per_gm}, epochs=1)
train({examples!r}, None, fold=0, preset=p, out_dir={out!r}, verbose=0, stream={stream})
print(json.dumps({{"peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "seconds": time.perf_counter() - t0}}))
"""


def replicate(examples: Path, out: Path, copies: int) -> int:
    """Write ``copies`` renamed copies of the examples' npz shards to ``out/npz``; bytes of images."""
    from reparse_tf.data.npz_shards import read_npz_shards, write_npz_shards

    arrays = read_npz_shards(examples)
    (out / "npz").mkdir(parents=True, exist_ok=True)
    for c in range(copies):
        part = dict(arrays, gm=np.char.add(arrays["gm"].astype(str), f"~{c}"))
        for i, f in enumerate(write_npz_shards(part, out / "tmp")):
            os.replace(f, out / "npz" / f"part-{c:03d}{i:02d}-of-99999.npz")
    return copies * arrays["images"].nbytes


def run(examples: Path, stream: bool, per_gm: int, work: Path) -> dict:
    code = CHILD.format(examples=str(examples), out=str(work / f"model-{stream}"), stream=stream, per_gm=per_gm)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"training on {examples} (stream={stream}) failed: {done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--examples", required=True, help="an npz examples dir (reparse ingest --format npz)")
    ap.add_argument("--copies", type=int, nargs="+", default=[1, 8])
    ap.add_argument("--per-gm", type=int, default=20, help="images per GM and epoch")
    ap.add_argument("--work", default=None, help="where the bigger zoos go (default: a temporary dir)")
    ap.add_argument("--json", default=None)
    args = ap.parse_args(argv)
    rows = []
    with tempfile.TemporaryDirectory(dir=args.work) as tmp:
        for copies in args.copies:
            zoo = Path(tmp) / f"x{copies}"
            size = replicate(Path(args.examples), zoo, copies)
            for stream in (True, False):
                r = {"copies": copies, "images_gb": size / 1e9, "stream": stream,
                     **run(zoo, stream, args.per_gm, Path(tmp))}
                rows.append(r)
                print(json.dumps(r), flush=True)
    print("\n| zoo | images on disk | peak RSS, streamed | peak RSS, loaded (baseline) |\n| --- | --- | --- | --- |")
    for copies in args.copies:
        s, m = (next(r for r in rows if r["copies"] == copies and r["stream"] == v) for v in (True, False))
        print(f"| x{copies} | {s['images_gb']:.2f} GB | {s['peak_rss_mb']:.0f} MB | {m['peak_rss_mb']:.0f} MB |")
    if args.json:
        from reparse_tf.serving.artifacts import write_json

        write_json(args.json, {"examples": args.examples, "per_gm": args.per_gm, "rows": rows}, indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
