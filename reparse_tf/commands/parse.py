"""``reparse parse``: the 25 hyperparameters of the generator behind a user's images."""

from __future__ import annotations

import argparse


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("parse", help="parse the generator's hyperparameters from your images (files or folders)")
    p.add_argument("paths", nargs="+", help="image files and / or folders (searched recursively)")
    p.add_argument("--model", default=None,
                   help="trained model dir (model.keras + parser_meta.json) or a pushed SavedModel (version dir or "
                        "model root); default: the packaged default parse model (`reparse defaults list`)")
    p.add_argument("--per-folder", action="store_true",
                   help="one answer per folder: mean of continuous, majority vote of discrete parameters")
    p.add_argument("--json", action="store_true", help="print JSON instead of tables")
    p.add_argument("--batch-size", type=int, default=64)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import json
    import sys

    from reparse_tf.data.user_images import load_user_images
    from reparse_tf.serving.default_models import resolve_model
    from reparse_tf.serving.inference import load_parser
    from reparse_tf.serving.parse_output import confidence_text, parse_records, value_text

    args.model = resolve_model(args.model, "parse")
    parser = load_parser(args.model)
    data = load_user_images(args.paths, parser.image_size)
    for path, reason in data.skipped:
        print(f"reparse parse: skipped {path}: {reason}", file=sys.stderr)
    if data.ignored:
        print(f"reparse parse: {data.ignored} file(s) in the folders ignored (no image suffix)", file=sys.stderr)
    for path, note in data.notes:
        print(f"reparse parse: note {path}: {note}", file=sys.stderr)
    if len(data.images) == 0:
        print("reparse parse: error: no image could be parsed", file=sys.stderr)
        return 1
    pred = parser.predict(data.images, batch_size=args.batch_size)
    records = parse_records(pred, data.paths, parser.normalizer, data.folders if args.per_folder else None,
                            parser.schema)
    if args.json:
        print(json.dumps({"model": str(args.model), "image_size": parser.image_size, "results": records,
                          "skipped": [{"path": p, "reason": r} for p, r in data.skipped]}, indent=1))
        return 0
    from rich.console import Console
    from rich.table import Table

    console = Console()
    for rec in records:
        table = Table(title=f"{rec['source']} ({rec['n_images']} image{'s' if rec['n_images'] > 1 else ''})",
                      title_justify="left")
        for col in ("parameter", "value", "confidence"):
            table.add_column(col)
        for prm in rec["parameters"]:
            table.add_row(prm["name"], value_text(prm), confidence_text(prm))
        console.print(table)
    print(f"[reparse parse] {len(data.images)} images parsed, {len(data.skipped)} skipped")
    return 0
