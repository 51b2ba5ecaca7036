"""``reparse zoo build``: build the offline GM zoo (RED layout) from a preset."""

from __future__ import annotations

import argparse

from reparse_tf.commands import at_least


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("zoo", help="build the offline zoo of trained generative models")
    zsub = p.add_subparsers(dest="zoo_command", required=True)
    b = zsub.add_parser("build", help="draw, train and sample the GMs of a preset")
    b.add_argument("--preset", choices=("tiny", "standard", "large", "untrained"), default="tiny",
                   help="untrained: the standard architectures sampled at initialisation (a control, docs/zoo.md)")
    b.add_argument("--out", required=True, help="output root (RED layout)")
    b.add_argument("--seed", type=int, default=0)
    b.add_argument("--image-size", type=int, default=64)
    b.add_argument("--limit", type=at_least(1), default=None, help="build at most this many unfinished GMs")
    b.add_argument("--workers", type=at_least(1), default=1,
                   help="build GMs in this many processes (GPU hosts / many cores; default 1)")
    b.add_argument("--redraws", type=at_least(0), default=None,
                   help="architectures redrawn for a GM whose samples fail the quality screen (default: the "
                        "preset's; 0 keeps every first draw)")
    b.add_argument("--twins-of", default=None, metavar="ZOO",
                   help="build a twin of every GM of this built zoo instead: the same architecture and losses, "
                        "trained from another seed on another content (the source's preset, no redraws)")
    b.add_argument("--twin", type=at_least(1), default=1, help="which twin (1-3: the content it is trained on)")
    b.set_defaults(func=run_build)


def run_build(args: argparse.Namespace) -> int:
    import json
    import time
    from pathlib import Path

    from rich.console import Console
    from rich.table import Table

    from reparse_tf.zoo.build import build_zoo

    t0 = time.time()
    root = build_zoo(args.out, preset=args.preset, seed=args.seed, image_size=args.image_size, limit=args.limit,
                      workers=args.workers, redraws=args.redraws, twins_of=args.twins_of, twin_index=args.twin)
    cov = json.loads((Path(root) / "coverage.json").read_text())
    console = Console(width=140)
    table = Table(title=f"zoo coverage ({cov['gms']} GMs)")
    table.add_column("parameter")
    table.add_column("GMs per class / loss used")
    table.add_row("family", ", ".join(f"{k}={v}" for k, v in cov.get("family", {}).items()))
    table.add_row("content", ", ".join(f"{k}={v}" for k, v in cov.get("content", {}).items()))
    for name, counts in cov.get("discrete", {}).items():
        table.add_row(name, ", ".join(f"{k}={v}" for k, v in counts.items()))
    for name, r in cov.get("continuous", {}).items():
        table.add_row(name, f"min {r['min']:g}  median {r['median']:g}  max {r['max']:g}")
    for fam, q in cov.get("quality", {}).items():
        table.add_row(f"samples resemble content: {fam}",
                      f"{q['resemble']}/{q['gms']} GMs (median FD ratio {q['median_fd_ratio']:.2f}; "
                      f"0 = real, 1 = noise; {q.get('redrawn', 0)} redrawn)")
    console.print(table)
    state = "complete" if cov.get("complete") else "partial"
    print(f"zoo ({cov.get('preset', args.preset)}, {state}) written to {root} "
          f"in {time.time() - t0:.0f}s: <gm>/*.png, labels.csv, _specs/, coverage.json, sample_sheet.png")
    return 0
