"""``reparse detect`` (P(generated) per image) and ``reparse attribute`` (the most likely source)."""

from __future__ import annotations

import argparse

HELP = {"detect": "deepfake detection: P(generated) of each image (files or folders)",
        "attribute": "image attribution: the most likely source among real and the training GMs, or "
                     "'unknown generator'"}


def add_parser(sub: argparse._SubParsersAction) -> None:
    for task, text in HELP.items():
        p = sub.add_parser(task, help=text)
        p.add_argument("paths", nargs="+", help="image files and / or folders (searched recursively)")
        p.add_argument("--model", default=None,
                       help=f"a {task} MODEL DIR (`reparse train --task {task}`) or its pushed SavedModel; default: "
                            f"the packaged default {task} model (`reparse defaults list`)")
        p.add_argument("--json", action="store_true", help="print JSON instead of a table")
        p.add_argument("--batch-size", type=int, default=64)
        p.set_defaults(func=run, task=task)


#: a detect model's parts (with a residual detector): printed beside the answer, their mean
DETECT_PARTS = {"p_network": "network", "p_residual": "residual detector"}


def _row(task: str, a: dict) -> list[str]:
    if task == "detect":
        parts = [f"{a[k]:.3f}" for k in DETECT_PARTS if k in a]
        return [f"{a['p_generated']:.3f}", *parts, "generated" if a["generated"] else "real"]
    top = ", ".join(f"{c} {p:.2f}" for c, p in a["top"])
    return [a["source"], f"{a['probability']:.3f}", f"{a['unknown_score']:.3f}", top]


def run(args: argparse.Namespace) -> int:
    import json
    import sys

    from reparse_tf.data.user_images import load_user_images
    from reparse_tf.serving.default_models import resolve_model
    from reparse_tf.serving.forensic_inference import load_classifier

    name = f"reparse {args.task}"
    args.model = resolve_model(args.model, args.task)
    clf = load_classifier(args.model, args.task)
    data = load_user_images(args.paths, clf.image_size)
    for path, reason in data.skipped:
        print(f"{name}: skipped {path}: {reason}", file=sys.stderr)
    for path, note in data.notes:
        print(f"{name}: note {path}: {note}", file=sys.stderr)
    if len(data.images) == 0:
        print(f"{name}: error: no image could be read", file=sys.stderr)
        return 1
    answers = clf.answer(data.images, args.batch_size)
    if args.json:
        print(json.dumps({"model": str(args.model), "task": args.task,
                          "results": [{"path": p, **a} for p, a in zip(data.paths, answers, strict=True)],
                          "skipped": [{"path": p, "reason": r} for p, r in data.skipped]}, indent=1))
        return 0
    from rich.console import Console
    from rich.table import Table

    cols = ["image", "P(generated)", *(n for k, n in DETECT_PARTS.items() if k in answers[0]), "decision"] \
        if args.task == "detect" else ["image", "source", "probability", "unknown score", "top 3"]
    table = Table(title_justify="left", title=f"{args.task} ({clf.path})")
    for c in cols:
        table.add_column(c)
    for path, a in zip(data.paths, answers, strict=True):
        table.add_row(path, *_row(args.task, a))
    Console(width=160).print(table)
    thr = answers[0]["threshold"]
    print(f"[{name}] {len(answers)} images, {len(data.skipped)} skipped; threshold {thr:.3f} chosen on validation data"
          if thr is not None else f"[{name}] {len(answers)} images, {len(data.skipped)} skipped; no open-set "
          "threshold (the model had no validation GMs): every image gets a known source")
    return 0
