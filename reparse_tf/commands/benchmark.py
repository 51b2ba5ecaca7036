"""``reparse benchmark``: train + evaluate the method, baselines and ablations on leave-GMs-out folds."""

from __future__ import annotations

import argparse

from reparse_tf.commands import at_least


def _ints(text: str) -> list[int]:
    try:
        return [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from None


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("benchmark", help="compare full method, random GT, ablations and CNN baseline (Tables 4-5)")
    p.add_argument("--zoo", default="standard", help="GM zoo preset to build (default standard)")
    p.add_argument("--preset", default="cpu", help="training preset (default cpu)")
    p.add_argument("--data", default=None, help="RED layout root or examples dir to use instead of the zoo")
    p.add_argument("--folds", type=_ints, default=None, help="test folds, e.g. 0,1,2,3 (default all)")
    p.add_argument("--variants", default="full,random_gt,no_fingerprint,one_parser,cnn",
                   help="comma-separated variants (default the paper's five; also the recipe ablations "
                        "family_clusters, balanced_loss, family_balanced, spectral_encoder, dropout, "
                        "content_adversary, content_adversary_x10, long_training and the fixed speed settings "
                        "full_float32, full_bf16, full_bf16_xla, full_bf16_batch128, full_keras_bn; '' none)")
    p.add_argument("--baselines", default="constant,label_copy,family_oracle,spectral_peer",
                   help="comma-separated baselines scored on the same folds (default these four; also "
                        "spectral_peer_2d; '' none)")
    p.add_argument("--copy-draws", type=at_least(1), default=20, help="label-copy draws per fold (default 20)")
    p.add_argument("--max-train-gms", type=at_least(1), default=None,
                   help="fit every variant and baseline on at most this many training GMs (learning curve)")
    p.add_argument("--shuffles", type=at_least(1), default=None, help="random-GT shuffles (default 3)")
    p.add_argument("--epochs", type=at_least(1), default=None, help="override the preset's epochs")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-tfma", action="store_true", help="skip TFMA sliced metrics")
    p.add_argument("--workers", type=at_least(1), default=1,
                   help="train/evaluate this many (variant, fold) jobs at once (GPU hosts; default 1)")
    p.add_argument("--out", required=True, help="output dir (cache, tables, report)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from reparse_tf.evaluation.benchmark import run_benchmark

    result = run_benchmark(args.out, zoo=args.zoo, preset=args.preset, data=args.data, folds=args.folds,
                           variants=[v.strip() for v in args.variants.split(",") if v.strip()],
                           baselines=[b.strip() for b in args.baselines.split(",") if b.strip()],
                           copy_draws=args.copy_draws, max_train_gms=args.max_train_gms,
                           n_shuffles=args.shuffles, seed=args.seed, epochs=args.epochs, tfma=not args.no_tfma,
                           workers=args.workers)
    for g in result["goals"]:
        status = "met" if g["met"] else "NOT met" if g["met"] is not None else "not measured"
        print(f"goal {status}: {g['goal']} ({g['detail']})")
    return 0
