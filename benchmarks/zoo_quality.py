"""Zoo build time and sample quality per family, from a built zoo's ``_specs/<gm>.json`` records.

    python benchmarks/zoo_quality.py ROOT [--json OUT]

Prints, per family: GMs, GMs whose samples resemble their content (:mod:`reparse_tf.zoo.quality`), the
median FD ratio of the worse view, the two baselines of the same run (held-out real images: the floor;
structure-free noise: 1 by construction), the GMs rebuilt from a redrawn architecture, the mean build seconds
per GM (final attempts, one worker process) and the build seconds of every attempt (rejected ones too). Then, per
content, a third baseline for the GANs: the FD ratio of *copying the conditional input* (the training images
averaged over a ``COND_GRID`` square grid of blocks, :func:`reparse_tf.zoo.train.coarsened`), and how many
GANs beat it. ``--json`` also keeps every GM's FD ratio (``fd_ratio_per_gm``).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from reparse_tf.zoo.build import quality_row, quality_summary
from reparse_tf.zoo.content import training_images
from reparse_tf.zoo.quality import RESEMBLES, sample_quality
from reparse_tf.zoo.train import coarsened, to_uint8


def _records(root: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted((root / "_specs").glob("*.json"))]


def summarise(root: Path) -> dict[str, dict[str, float]]:
    """:func:`reparse_tf.zoo.build.quality_summary` of ``root``'s records, plus an ``all`` row."""
    recs = _records(root)
    return {**quality_summary(recs), "all": quality_row(recs)}


def fd_ratio_per_gm(root: Path) -> dict[str, float]:
    """Every screened GM's FD ratio (worse view) by GM name, so recipes can be compared GM by GM."""
    return {r["spec"]["name"]: round(r["quality"]["fd_ratio"], 3) for r in _records(root) if "quality" in r}


def copy_baseline(content: str, image_size: int, n: int = 300, seed: int = 0) -> float:
    """FD ratio (worse view) of a GAN that returns its conditional input without the noise."""
    real = training_images(content, image_size)
    picked = real[np.random.default_rng(seed).choice(len(real), n)]
    return sample_quality(to_uint8(coarsened(picked)), real, seed=seed)["fd_ratio"]


def gans_against_copy(root: Path, image_size: int) -> dict[str, dict]:
    """Per content: the copy baseline, the zoo's GANs, how many resemble their content and how many beat it."""
    gans = [r for r in _records(root) if r["gm_type"] == "GAN" and "quality" in r]
    out = {}
    for content in sorted({r["content"] for r in gans}):
        fd = [r["quality"]["fd_ratio"] for r in gans if r["content"] == content]
        base = copy_baseline(content, image_size)
        out[content] = {"copy_fd_ratio": round(base, 3), "gans": len(fd),
                        "resemble": int(sum(f <= RESEMBLES for f in fd)), "beat_copy": int(sum(f < base for f in fd))}
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("root", type=Path)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    table = summarise(args.root)
    cov = json.loads((args.root / "coverage.json").read_text())
    print(f"zoo {cov.get('preset')} seed {cov.get('seed')}: {cov.get('gms')} GMs, last build call "
          f"{cov.get('wall_seconds_now')} s wall")
    print("| family | GMs | resemble (FD ratio <= 0.5) | median FD ratio | real-image floor | noise baseline "
          "| redrawn | mean s/GM | s, all attempts |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for fam, r in table.items():
        print(f"| {fam} | {r['gms']} | {r['resemble']} | {r['median_fd_ratio']:.2f} | {r['median_real_floor']:.2f} "
              f"| 1.00 | {r['redrawn']} | {r['mean_seconds']:.0f} | {r['total_seconds']:.0f} |")
    copy = gans_against_copy(args.root, cov.get("image_size", 64))
    print("\n| GAN content | GANs | resemble | copy-the-input baseline (FD ratio) | GANs better than the copy |")
    print("| --- | --- | --- | --- | --- |")
    for content, r in copy.items():
        print(f"| {content} | {r['gans']} | {r['resemble']} | {r['copy_fd_ratio']:.2f} | {r['beat_copy']} |")
    if args.json:
        args.json.write_text(json.dumps({**table, "gans_against_copy": copy,
                                         "fd_ratio_per_gm": fd_ratio_per_gm(args.root)}, indent=2))


if __name__ == "__main__":
    main()
