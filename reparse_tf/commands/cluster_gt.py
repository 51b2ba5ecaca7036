"""``reparse cluster-gt``: cluster ground truth of one fold's training GMs (Beam component)."""

from __future__ import annotations

import argparse


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("cluster-gt", aliases=["cluster_gt"],
                       help="k-means cluster ground truth + class weights of a fold's training GMs")
    p.add_argument("--examples", required=True, help="ingested EXAMPLES DIR (labels.csv + manifest.json)")
    p.add_argument("--fold", type=int, required=True, help="test fold (its GMs are left out)")
    p.add_argument("--out", required=True, help="output directory (cluster_gt.json + arrays.npz)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--random-gt", action="store_true", help="shuffle labels across training GMs first")
    p.add_argument("--beam-arg", action="append", default=[], help="Beam pipeline option (repeatable)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from reparse_tf.targets.cluster_ground_truth import ClusterGroundTruth, run_cluster_ground_truth

    out = run_cluster_ground_truth(args.examples, args.out, args.fold, seed=args.seed,
                                   beam_args=args.beam_arg, random_gt=args.random_gt)
    cgt = ClusterGroundTruth.load(out)
    ks = ", ".join(f"{t}={k}" for t, k in cgt.k_per_type.items())
    print(f"{len(cgt.gms)} training GMs -> {cgt.n_clusters} clusters ({ks}); written to {out}")
    return 0
