"""Paired comparison of two benchmark rows pooled over repeated runs (seeds) of ``reparse benchmark``.

    python benchmarks/pooled_runs.py RUN1/benchmark.json RUN2/benchmark.json ... --pairs full:full_keras_bn \
        [--pairs full+readout:full_keras_bn+readout] [--json OUT.json]

One run's paired test cannot tell a real difference from the spread between two trainings of the same method. Here
each row's score per test GM is the mean over the runs (the unit stays the test GM, so repeated runs do not count
as more GMs), and the paired Wilcoxon test / bootstrap CI of ``reparse_tf.evaluation.significance`` compares them.
"""

from __future__ import annotations

import argparse
import json

import numpy as np

from reparse_tf.evaluation.significance import GM_SCORES, compare_per_gm, paired_table


def mean_over_runs(runs: list[dict], row: str) -> dict[str, dict[str, float]]:
    """``{"<fold>/<gm>": {score: mean over runs}}`` of ``row`` on the GMs every run scored."""
    tables = [run["per_gm"][row] for run in runs]
    common = sorted(set.intersection(*(set(t) for t in tables)))
    return {g: {k: float(np.mean([t[g][k] for t in tables])) for k in GM_SCORES} for g in common}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("runs", nargs="+", help="benchmark.json files of repeated runs")
    ap.add_argument("--pairs", action="append", required=True, help="METHOD:OTHER rows to compare (repeatable)")
    ap.add_argument("--json", default=None)
    args = ap.parse_args(argv)
    runs = [json.loads(open(path).read()) for path in args.runs]
    tests = {}
    for pair in args.pairs:
        method, _, other = pair.partition(":")
        tests[f"{method} - {other}"] = compare_per_gm(mean_over_runs(runs, method), mean_over_runs(runs, other))
    print(f"per-GM means over {len(runs)} runs; difference = method - other, Wilcoxon p, n test GMs\n")
    print("\n".join(paired_table(tests, first="method - other")))
    if args.json:
        from reparse_tf.serving.artifacts import write_json

        write_json(args.json, {"runs": args.runs, "tests": tests}, indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
