"""``reparse same-source``: were two images made by the same generator? And its evaluation on pairs of
seen and unseen GMs, which chooses the decision thresholds on validation GMs."""

from __future__ import annotations

import argparse

from reparse_tf.commands import at_least


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("same-source", help="same generator? score two images, or evaluate and calibrate on pairs")
    p.add_argument("images", nargs="*", help="two image files (omit with --evaluate)")
    p.add_argument("--model", default=None,
                   help="trained model dir (or a pushed SavedModel: parsed score only); default: the packaged "
                        "default parse model, with its thresholds (`reparse defaults list`)")
    p.add_argument("--evaluate", action="store_true",
                   help="evaluate on pairs of the model's fold (--examples) and write the validation thresholds "
                        "into the model dir")
    p.add_argument("--examples", help="examples dir (npz / TFRecords) or RED layout root, for --evaluate")
    p.add_argument("--out", help="output dir of --evaluate (same_source.json)")
    p.add_argument("--per-gm", type=at_least(2), default=32, help="images per GM and side (default 32)")
    p.add_argument("--pairs", type=at_least(1), default=400, help="pairs per category (default 400)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=run)


def _evaluate(args: argparse.Namespace, parser) -> int:
    from pathlib import Path

    from reparse_tf.evaluation.same_source import THRESHOLDS_FILE, evaluate_same_source, write_thresholds
    from reparse_tf.serving.artifacts import write_json

    if not args.examples or not args.out:
        raise ValueError("--evaluate needs --examples and --out")
    result = evaluate_same_source(parser, args.examples, args.per_gm, args.pairs, args.seed)
    write_json(Path(args.out) / THRESHOLDS_FILE, result, indent=1)
    if (Path(args.model) / "model.keras").is_file():
        write_thresholds(result, Path(args.model) / THRESHOLDS_FILE)
    print(f"{'score':<12} {'threshold':>9} {'val AUC':>8} {'test AUC':>8} {'unseen AUC':>10} {'test acc':>8}")
    for s, m in result["test"].items():
        v = result["validation"][s]
        unseen = float("nan") if m["auc_unseen"] is None else m["auc_unseen"]
        print(f"{s:<12} {m['threshold']:>9.4f} {v['auc']:>8.3f} {m['auc']:>8.3f} {unseen:>10.3f} {m['accuracy']:>8.3f}")
    print(f"(chance: AUC 0.5, accuracy {result['chance']['accuracy']:.2f}; {result['test']['parsed']['n_pairs']} "
          f"test pairs)")
    print(f"[reparse same-source] results in {Path(args.out) / THRESHOLDS_FILE}")
    return 0


def run(args: argparse.Namespace) -> int:
    import json

    from reparse_tf.data.images import ImageError, load_image
    from reparse_tf.evaluation.same_source import decide, load_thresholds
    from reparse_tf.serving.default_models import resolve_model
    from reparse_tf.serving.inference import load_parser

    if args.evaluate == bool(args.images):
        raise ValueError("give two images, or --evaluate (with --examples and --out) without images")
    if args.evaluate and not args.model:
        raise ValueError("--evaluate writes thresholds into the model dir: give --model")
    args.model = resolve_model(args.model, "parse")
    parser = load_parser(args.model)
    if args.evaluate:
        return _evaluate(args, parser)
    if len(args.images) != 2:
        raise ValueError(f"give exactly two images, got {len(args.images)}")
    arrays = []
    for path in args.images:
        try:
            arrays.append(load_image(path, parser.image_size).array)
        except ImageError as exc:
            raise ValueError(f"{path}: {exc}") from None
    calibration = load_thresholds(args.model, getattr(parser, "path", None))
    result = decide(parser, arrays[0], arrays[1], calibration)
    if args.json:
        print(json.dumps({"images": args.images, "scores": result}, indent=1))
        return 0
    for name, r in result.items():
        verdict = "no threshold (run --evaluate)" if r["same"] is None else \
            ("same generator" if r["same"] else "different generators")
        thr = "" if r["threshold"] is None else f" (threshold {r['threshold']:.4f})"
        print(f"{name:<12} {r['score']:.4f}{thr}: {verdict}")
    return 0
