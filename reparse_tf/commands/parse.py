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
    p.add_argument("--set", dest="as_set", action="store_true",
                   help="read each folder as a set of images of one generator (the set fingerprint: what every image "
                        "shares; needs a set parser beside the model, as the packaged default has, and at least "
                        "its set size of images per folder); implies --per-folder")
    p.add_argument("--spectral", action="store_true",
                   help="answer per image with the spectral parser (the image's spectral features, 2-D residual "
                        "spectrum included, into linear heads; needs one beside the model, as the packaged default "
                        "has): on the built-in zoo level with the network's best configuration or ahead, and far "
                        "better on the up-sampling type (README, Results)")
    p.add_argument("--json", action="store_true", help="print JSON instead of tables")
    p.add_argument("--batch-size", type=int, default=64)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import json
    import sys

    from reparse_tf.data.user_images import load_user_images
    from reparse_tf.serving.default_models import resolve_model
    from reparse_tf.serving.parse_output import confidence_text, parse_records, value_text

    args.model = resolve_model(args.model, "parse")
    if args.as_set and args.spectral:
        print("reparse parse: error: --set and --spectral are two parsers: choose one", file=sys.stderr)
        return 2
    if args.spectral:   # the spectral parser answers alone: the network is not loaded
        from reparse_tf.data.schema import load_schema
        from reparse_tf.model.spectral_parser import SpectralParser

        parser, set_parser = SpectralParser.load(args.model), None
        schema, image_size = load_schema(), parser.image_size
    elif args.as_set:   # the set parser answers alone: the network is not loaded
        from reparse_tf.data.schema import load_schema
        from reparse_tf.model.set_fingerprint import SetParser

        parser, set_parser = None, SetParser.load(args.model)
        schema, image_size = load_schema(), set_parser.image_size
    else:
        from reparse_tf.serving.inference import load_parser

        parser, set_parser = load_parser(args.model), None
        schema, image_size = parser.schema, parser.image_size
    data = load_user_images(args.paths, image_size)
    for path, reason in data.skipped:
        print(f"reparse parse: skipped {path}: {reason}", file=sys.stderr)
    if data.ignored:
        print(f"reparse parse: {data.ignored} file(s) in the folders ignored (no image suffix)", file=sys.stderr)
    for path, note in data.notes:
        print(f"reparse parse: note {path}: {note}", file=sys.stderr)
    if len(data.images) == 0:
        print("reparse parse: error: no image could be parsed", file=sys.stderr)
        return 1
    if set_parser is not None:
        records = _set_records(set_parser, data, schema)
        if not records:
            return 1
    else:
        pred = parser.predict(data.images, batch_size=args.batch_size)
        records = parse_records(pred, data.paths, parser.normalizer, data.folders if args.per_folder else None,
                                schema)
    if args.json:
        print(json.dumps({"model": str(args.model), "image_size": image_size, "results": records,
                          "skipped": [{"path": p, "reason": r} for p, r in data.skipped]}, indent=1))
        return 0
    from rich.console import Console
    from rich.table import Table

    console = Console()
    for rec in records:
        sets = f", {rec['n_sets']} sets of {rec['set_size']}" if "n_sets" in rec else ""
        table = Table(title=f"{rec['source']} ({rec['n_images']} image{'s' if rec['n_images'] > 1 else ''}{sets})",
                      title_justify="left")
        for col in ("parameter", "value", "confidence"):
            table.add_column(col)
        for prm in rec["parameters"]:
            table.add_row(prm["name"], value_text(prm), confidence_text(prm, "sets" if sets else "images"))
        console.print(table)
    print(f"[reparse parse] {len(data.images)} images parsed, {len(data.skipped)} skipped")
    return 0


def _set_records(set_parser, data, schema) -> list[dict]:
    """One record per folder from the set parser: each folder's images split into disjoint sets, each
    set parsed from its set fingerprint, the sets' answers aggregated as a folder's images are (mean, vote).
    Folders with fewer images than the set size are named on stderr and skipped."""
    import sys

    import numpy as np

    from reparse_tf.serving.parse_output import parse_records

    folders = np.asarray(data.folders, dtype=object)
    records = []
    for folder in dict.fromkeys(data.folders):
        rows = np.flatnonzero(folders == folder)
        if len(rows) < set_parser.set_size:
            print(f"reparse parse: skipped folder {folder}: {len(rows)} images, a set needs {set_parser.set_size}",
                  file=sys.stderr)
            continue
        pred = set_parser.parse_source(data.images[rows])
        n_sets = len(pred.continuous)
        rec = parse_records(pred, [folder] * n_sets, set_parser.normalizer, [folder] * n_sets, schema)[0]
        records.append({**rec, "n_images": int(len(rows)), "n_sets": n_sets, "set_size": set_parser.set_size})
    if not records:
        print(f"reparse parse: error: no folder holds {set_parser.set_size} images", file=sys.stderr)
    return records
