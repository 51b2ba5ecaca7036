"""Do the trained network's features transfer to unseen GMs when the heads cannot overfit?

    python benchmarks/linear_heads.py --examples EXAMPLES_DIR MODEL_DIR... [--out FILE.json]

For each trained model (e.g. ``OUT/cache/full-fold0/model`` of a benchmark), fits the spectral peer's
regularised linear heads (ridge / class-balanced logistic, penalty by GM-grouped CV) on the same 16
images per training GM from three representations: the image spectrum (the peer's own features),
the model's frozen embedding and its fingerprint's spectrum; scores each on the fold's unseen test
GMs beside the model's own heads. The evaluation writes the same rows for every new training
(``linear_heads`` in ``evaluation.json``); this script fills them in for models trained before.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

COLUMNS = ("continuous_l1", "continuous_r2", "discrete_f1", "loss_f1")


def main(argv: list[str] | None = None) -> int:
    from reparse_tf.data.schema import load_schema
    from reparse_tf.evaluation.metrics import parsing_metrics
    from reparse_tf.evaluation.parsing_evaluation import evaluation_arrays, representation_heads
    from reparse_tf.serving.artifacts import write_json
    from reparse_tf.serving.inference import ModelParser

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--examples", required=True)
    ap.add_argument("models", nargs="+")
    ap.add_argument("--out", default=None, help="write the summary rows as JSON here")
    ap.add_argument("--update", action="store_true",
                    help="add the rows to the benchmark's cached result.json beside each model dir")
    args = ap.parse_args(argv)
    schema = load_schema()
    rows: dict[str, dict] = {}
    for d in args.models:
        parser = ModelParser.load(d)
        _, _, test, train = evaluation_arrays(parser, args.examples)
        pred = parser.predict(test["images"])
        true_cont = parser.normalizer.transform(test["labels"][:, schema.continuous_index])
        true_disc = test["labels"][:, schema.discrete_index].astype(int)
        heads = representation_heads(parser, train, test, schema)
        own = parsing_metrics(true_cont, pred.continuous, true_disc, pred.discrete, schema)["summary"]
        rows[d] = {"own heads": own, **{k: v["summary"] for k, v in heads.items()}}
        if args.update:  # the benchmark's cached result of this model (OUT/cache/<variant>-fold<k>/result.json)
            cached = Path(d).parent / "result.json"
            if cached.is_file():
                res = json.loads(cached.read_text())
                res["linear_heads"] = heads
                write_json(cached, res, indent=1, strict=False)
    lines = ["| model | heads on | " + " | ".join(COLUMNS) + " |", "| --- " * (len(COLUMNS) + 2) + "|"]
    for d, r in rows.items():
        for name, s in r.items():
            if isinstance(s, dict):
                lines.append(f"| {Path(d).parent.name} | {name} | " + " | ".join(f"{s[c]:.3f}" for c in COLUMNS) + " |")
    print("\n".join(lines))
    if args.out:
        tmp = Path(args.out).with_suffix(".tmp")
        tmp.write_text(json.dumps(rows, indent=1))
        os.replace(tmp, args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
