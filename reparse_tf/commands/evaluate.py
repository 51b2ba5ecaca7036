"""``reparse evaluate``: metrics of a trained model parser on its fold's unseen test GMs."""

from __future__ import annotations

import argparse


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("evaluate", help="evaluate a trained model on its fold's test GMs (metrics, TFMA, report)")
    p.add_argument("--model", required=True,
                   help="trained model dir (model.keras + parser_meta.json, or a detect / attribute model)")
    p.add_argument("--examples", required=True, help="examples dir (TFRecords or npz) or RED layout root")
    p.add_argument("--fold", type=int, default=None, help="test fold (default: the model's fold)")
    p.add_argument("--out", required=True, help="output dir")
    p.add_argument("--no-tfma", action="store_true", help="skip the TFMA sliced metrics")
    p.add_argument("--no-report", action="store_true", help="skip the HTML report")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from reparse_tf.evaluation.parsing_evaluation import evaluate_model
    from reparse_tf.serving.forensic_inference import is_forensic_model

    if is_forensic_model(args.model):
        from reparse_tf.evaluation.forensic_evaluation import evaluate_forensic

        result = evaluate_forensic(args.model, args.examples, args.out)
        print((Path(args.out) / f"{result['task']}.md").read_text())
        print(f"[reparse evaluate] outputs in {args.out}")
        return 0

    result = evaluate_model(args.model, args.examples, args.out, fold=args.fold, tfma=not args.no_tfma)
    s = result["summary"]
    print(f"continuous L1 {s['continuous_l1']:.4f}  discrete F1 {s['discrete_f1']:.4f}  "
          f"loss F1 {s['loss_f1']:.4f}  (fold {result['fold']}, {result['n_test_images']} images)")
    if not args.no_report:
        from reparse_tf.evaluation.report import write_model_report

        print(f"[reparse evaluate] report: {write_model_report(result, Path(args.out))}")
    print(f"[reparse evaluate] outputs in {args.out}")
    return 0
