"""``reparse push``: export a trained model directory as a TF Serving SavedModel (optionally gated by a blessing)."""

from __future__ import annotations

import argparse


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("push", help="export a trained model to TF Serving layout <serving_dir>/<name>/<version>/")
    p.add_argument("model_dir", help="trained model directory (model.keras + parser_meta.json)")
    p.add_argument("--serving-dir", required=True, help="TF Serving model base folder")
    p.add_argument("--model-name", default="reparse")
    p.add_argument("--version", type=int, default=None, help="default: next integer")
    p.add_argument("--evaluation", default=None,
                   help="evaluation JSON (or a blessing dir/file) that must pass --threshold before pushing; "
                   "its figures and baselines go into the model card (assets.extra/model_card.json)")
    p.add_argument("--threshold", action="append", dest="thresholds", metavar="RULE",
                   help="blessing rule '<metric> <op> <metric|number>' (repeatable; default: beat random GT)")
    p.add_argument("--force", action="store_true", help="push even when the evaluation does not pass")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import json
    from pathlib import Path

    from reparse_tf.evaluation.blessing import BLESSING_FILE, Blessing, check
    from reparse_tf.serving.model_card import CARD_FILE, load_card, model_card

    card = None
    if args.evaluation:
        path = Path(args.evaluation)
        if path.is_dir() or path.name == BLESSING_FILE:
            verdict = Blessing.load(path)
            card = load_card(path if path.is_dir() else path.parent)
        else:
            from reparse_tf.pipeline.configs import DEFAULT_THRESHOLDS

            if not path.is_file():
                raise FileNotFoundError(f"{path}: evaluation file not found")
            evaluation = json.loads(path.read_text())
            verdict = check(evaluation, args.thresholds or list(DEFAULT_THRESHOLDS))
            card = model_card(evaluation)
        for c in verdict.checks:
            print(f"threshold {c['message']}")
        if not verdict.blessed and not args.force:
            print(f"reparse push: not blessed, nothing pushed ({'; '.join(verdict.reasons)}); use --force to push")
            return 1
    from reparse_tf.serving.saved_model import push

    out = push(args.model_dir, args.serving_dir, model_name=args.model_name, version=args.version, card=card)
    print(f"pushed SavedModel to {out} (signatures serving_default, serve_bytes"
          f"{'; model card in assets.extra/' + CARD_FILE if card else ''})")
    return 0
