"""``reparse ingest ROOT --out DIR``: a RED layout -> TFRecord (or npz) examples directory (Apache Beam)."""

from __future__ import annotations

import argparse


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "ingest", help="validate a RED layout and write TFRecord shards (Apache Beam)",
        description="Validate ROOT/<gm>/*.png + ROOT/labels.csv, assign GMs to folds, decode and resize every "
        "image and write gzipped TFRecord shards of tf.train.Example (or npz shards with --format npz). "
        "Unknown arguments are passed to Beam's PipelineOptions (e.g. --direct_num_workers 2, Dataflow flags).")
    p.add_argument("root", help="dataset root (one folder per GM + labels.csv)")
    p.add_argument("--out", required=True, help="examples directory to create")
    p.add_argument("--image-size", type=int, default=64, help="side of the square RGB images (default 64)")
    p.add_argument("--folds", default="4",
                   help="leave-GMs-out folds: a number of random folds stratified by GM type (default 4), "
                   "'red116' (the four official RED116 test sets) or a split,gm CSV of test sets")
    p.add_argument("--seed", type=int, default=0, help="fold assignment seed (default 0)")
    p.add_argument("--labels", default=None, help="label table (default ROOT/labels.csv)")
    p.add_argument("--runner", default="DirectRunner", help="Beam runner (default DirectRunner, in-process)")
    p.add_argument("--format", dest="output_format", choices=("tfrecord", "npz"), default="tfrecord",
                   help="tfrecord (Beam, default) or npz shards for hosts without TensorFlow")
    p.add_argument("--shard-size", type=int, default=10_000, help="max images per shard (default 10000)")
    p.add_argument("--gzip-level", type=int, default=0, choices=range(10), metavar="0-9",
                   help="zlib level of the GZIP TFRecords (default 0: PNG payload is already compressed)")
    p.add_argument("--overwrite", action="store_true", help="replace a non-empty --out once the new one is complete")
    p.set_defaults(func=run, accepts_unknown=True)


def run(args: argparse.Namespace) -> int:
    import logging

    from rich.console import Console

    from reparse_tf.data.ingest import run_ingest

    logging.getLogger("apache_beam").setLevel(logging.WARNING)
    m = run_ingest(args.root, args.out, image_size=args.image_size, n_folds=args.folds, seed=args.seed,
                   labels=args.labels, beam_args=list(getattr(args, "beam_args", []) or []), runner=args.runner,
                   output_format=args.output_format, overwrite=args.overwrite, shard_size=args.shard_size,
                   gzip_level=args.gzip_level)
    con = Console(stderr=False)
    con.print(f"ingested {m['n_images']} images of {m['n_gms']} GMs in {m['wall_time_s']:.1f} s "
              f"({m['images_per_s']:.0f} images/s); fold sizes (images): {m['fold_counts']}")
    if m["skipped"]:
        con.print(f"[yellow]skipped {len(m['skipped'])} files[/yellow] (first: {m['skipped'][0]['path']}: "
                  f"{m['skipped'][0]['reason']})")
    if m["duplicates"]:
        con.print(f"[yellow]{len(m['duplicates'])} identical images under several GMs[/yellow]")
    if m["warnings"]:
        con.print(f"[yellow]{len(m['warnings'])} warnings[/yellow] (first: {m['warnings'][0]['path']}: "
                  f"{m['warnings'][0]['warning']})")
    con.print(f"wrote {args.out} (manifest.json, labels.csv, "
              f"{'tfrecords/, feature_schema.json' if args.output_format == 'tfrecord' else 'npz/'})")
    return 0
