"""Zoo build time and sample quality per family, from a built zoo's ``_specs/<gm>.json`` records.

    python benchmarks/zoo_quality.py ROOT [--json OUT]

Prints, per family: GMs, GMs whose samples resemble their content (:mod:`reparse_tf.zoo.quality`), the
median FD ratio of the worse view, the two baselines of the same run (held-out real images: the floor;
structure-free noise: 1 by construction) and the mean build seconds per GM (one worker process).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from reparse_tf.zoo.build import quality_row, quality_summary


def summarise(root: Path) -> dict[str, dict[str, float]]:
    """:func:`reparse_tf.zoo.build.quality_summary` of ``root``'s records, plus an ``all`` row."""
    recs = [json.loads(p.read_text()) for p in sorted((root / "_specs").glob("*.json"))]
    return {**quality_summary(recs), "all": quality_row(recs)}


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
          "| mean s/GM |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for fam, r in table.items():
        print(f"| {fam} | {r['gms']} | {r['resemble']} | {r['median_fd_ratio']:.2f} | {r['median_real_floor']:.2f} "
              f"| 1.00 | {r['mean_seconds']:.0f} |")
    if args.json:
        args.json.write_text(json.dumps(table, indent=2))


if __name__ == "__main__":
    main()
