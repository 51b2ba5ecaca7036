"""``reparse train``: train FEN + PN on one fold's training GMs."""

from __future__ import annotations

import argparse

from reparse_tf.commands import PRESET_HELP, preset_arg


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help="train the fingerprint estimation + parsing networks (or the detector / "
                                     "attribution network, --task) on one fold")
    p.add_argument("--task", default="parse", choices=("parse", "detect", "attribute"),
                   help="parse: FEN + parsing network (default); detect: FEN + 5 conv + 2 FC, real vs generated; "
                        "attribute: FEN + 2 conv + 2 FC, real + each training GM")
    p.add_argument("--real", action="append", metavar="PATH",
                   help="detect / attribute: real images (files or folders, repeatable; default: the zoo's packaged "
                        "content images, decoded as the ingest decodes the GMs' images)")
    p.add_argument("--examples", required=True, help="EXAMPLES DIR, npz-shard dir or RED layout root")
    p.add_argument("--cluster-gt", default=None, help="cluster GT dir (default: computed in-process)")
    p.add_argument("--fold", type=int, required=True, help="test fold (its GMs are left out)")
    p.add_argument("--preset", default="tiny", type=preset_arg, help=PRESET_HELP)
    p.add_argument("--out", required=True, help="MODEL DIR to write")
    p.add_argument("--parser", default="two", choices=("two", "one"))
    fp = p.add_mutually_exclusive_group()
    fp.add_argument("--no-fingerprint", action="store_true", help="no fingerprint constraints J_f (parse: ablation)")
    fp.add_argument("--fingerprint", action="store_true",
                    help="detect / attribute: train with J_f on generated images, the paper's recipe (default: "
                    "without, which measured better on the standard zoo)")
    p.add_argument("--random-gt", action="store_true", help="random ground-truth baseline")
    p.add_argument("--backbone", default="fen", choices=("fen", "cnn"))
    p.add_argument("--resume", action="store_true", help="continue from the last checkpoint")
    p.add_argument("--epochs", type=int, default=None, help="total epochs (default: the preset's)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--dtype-policy", default=None, choices=("float32", "mixed_bfloat16"),
                   help="default: the preset's; cpu / paper measure float32 / mixed_bfloat16 with and without XLA "
                        "once on this machine and train with the fastest")
    p.add_argument("--in-memory", action="store_true",
                   help="parse: load every training image into memory (default: read uncompressed npz shards per "
                        "batch, so a zoo larger than memory trains)")
    p.add_argument("--readout", default=None, choices=("heads", "linear"),
                   help="final predictions: the PN's heads (the paper) or a linear readout refitted on the frozen "
                        "embedding with GM-grouped cross-validation (default: the preset's, heads)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.task != "parse":
        from reparse_tf.training.forensic_training import train_forensic

        train_forensic(args.task, args.examples, args.fold, preset=args.preset, out_dir=args.out, real=args.real,
                       epochs=args.epochs, seed=args.seed, fingerprint_weight=_classifier_weight(args))
        return 0
    from reparse_tf.training.parser_training import train

    train(args.examples, args.cluster_gt, args.fold, preset=args.preset, out_dir=args.out, parser=args.parser,
          fingerprint=not args.no_fingerprint, random_gt=args.random_gt, backbone=args.backbone,
          resume=args.resume, epochs=args.epochs, seed=args.seed, dtype_policy=args.dtype_policy,
          readout=args.readout, stream=False if args.in_memory else None)
    return 0


def _classifier_weight(args: argparse.Namespace) -> float | None:
    """J_f multiplier of a detector / attributor: the paper's with ``--fingerprint``, 0 with
    ``--no-fingerprint``, else the preset's default (None)."""
    if args.fingerprint:
        from reparse_tf.training.presets import get_preset

        return get_preset(args.preset).fingerprint_weight
    return 0.0 if args.no_fingerprint else None
