"""Deepfake detection and image attribution over leave-GMs-out folds (TPAMI sec. 4.5 tasks).

    python benchmarks/forensics.py --examples EXAMPLES_DIR --work DIR [--folds 0,1,2,3]
        [--tasks detect,attribute] [--preset cpu] [--fingerprint] [--include EARLIER.json] [--against OTHER.json]
        [--add-residual] [--out PREFIX]

Per fold and task: trains ``reparse train --task`` (skipped when ``DIR/<task>-fold<k>/model.keras``
exists, and the evaluation when its JSON is newer: resumable; ``DIR/<task>-nofp-fold<k>`` with
without J_f, the default; ``DIR/<task>-fold<k>`` with ``--fingerprint``, the paper's recipe), then
evaluates it on the fold's test split
(:func:`reparse_tf.evaluation.forensic_evaluation.evaluate_forensic`), with the spectral peer and chance from the
same run. Prints and writes (PREFIX.md / .json) mean ± std over folds: detection AUC on unseen GMs and
unseen real images, overall and per family; attribution closed-set accuracy over real + every fit GM
on held-out images, and open-set AUROC of the unknown-generator scores on unseen GMs.
``--add-residual`` fits the residual detector of detect models trained before it existed.
``--include`` adds the folds of an earlier run's JSON that this run does not run (each keeps its own
spectral peer and chance; the table names the file and machine they came from). ``--against`` pairs the
detector's per-GM AUCs with another run's (another preset, e.g. ``cpu:synthetic_attacks=64`` against ``cpu``),
per family, with a Wilcoxon test over the test GMs.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
from pathlib import Path

import numpy as np


def _ms(values: list[float | None]) -> str:
    v = [x for x in values if x is not None]
    return "n/a" if not v else f"{np.mean(v):.3f} ± {np.std(v):.3f}" if len(v) > 1 else f"{v[0]:.3f}"


def significance(task: str, runs: list[dict], other: str = "spectral_peer") -> dict:
    """Paired test of the method against ``other`` (the spectral peer; for detect also ``network``, the detect
    model's network alone) over every fold's units: the test GMs' AUCs (detect: each GM's images vs the real
    images) or the known classes' accuracies (attribute)."""
    from reparse_tf.evaluation.significance import paired_test

    key, score = ("per_gm", lambda v: v["auc"]) if task == "detect" else ("per_class", lambda v: v)
    units = [(r, u) for r in runs if other in r for u in r["method"].get(key, {})]  # older evaluations: none
    a = np.array([score(r["method"][key][u]) for r, u in units], float)
    b = np.array([score(r[other][key][u]) for r, u in units], float)
    return {"unit": "test GMs" if task == "detect" else "known classes", "other": other, **paired_test(a, b)}


def _significance_line(sig: dict) -> str:
    other = sig.get("other", "spectral_peer").replace("_", " ")
    if sig["p_value"] is None:
        return f"Method − {other}: too few paired {sig['unit']} ({sig['n']}) for a test."
    return (f"Method − {other} over {sig['n']} {sig['unit']} of all folds: mean {sig['mean_diff']:+.3f} "
            f"(95 % bootstrap CI {sig['ci_low']:+.3f} … {sig['ci_high']:+.3f}), Wilcoxon signed-rank p = "
            f"{sig['p_value']:.2g}.")


#: per-GM detection AUCs: against every unseen real image, and against those of the GM's own content
GM_AUCS = {"auc": "all real", "auc_own_content": "real of its content"}


def against(runs: list[dict], other: list[dict], type_of: dict[str, str]) -> dict:
    """This run's detector against another run's (``--against``: e.g. without synthetic attacks) on the test
    GMs both scored: per family and overall, for each per-GM AUC of ``GM_AUCS`` both runs have, each run's mean
    and the paired test of the difference."""
    from reparse_tf.evaluation.significance import paired_test

    def per_gm(rs: list[dict], key: str) -> dict[str, float]:
        return {f"{r['fold']}/{g}": v[key] for r in rs for g, v in r["method"].get("per_gm", {}).items() if key in v}

    out: dict[str, dict] = {}
    for key in GM_AUCS:
        a, b = per_gm(runs, key), per_gm(other, key)
        common = sorted(set(a) & set(b))
        fam = {u: type_of.get(u.split("/", 1)[1], "?") for u in common}
        for name in ["all", *sorted(set(fam.values()))] if common else []:
            units = [u for u in common if name in ("all", fam[u])]
            x, y = np.array([a[u] for u in units]), np.array([b[u] for u in units])
            out.setdefault(key, {})[name] = {"this": float(x.mean()), "other": float(y.mean()), **paired_test(x, y)}
    return out


def _against_lines(result: dict, label: str) -> list[str]:
    from reparse_tf.evaluation.significance import format_paired

    lines = [f"Against {label}, per test GM (its images vs the unseen real images: all of them, and those of its "
             "own content), paired over the GMs both runs scored:", "",
             "| family | real images | mean AUC, this run | mean AUC, other run | this − other (Wilcoxon p, GMs) |",
             "| --- | --- | --- | --- | --- |"]
    return lines + [f"| {f} | {GM_AUCS[k]} | {v['this']:.3f} | {v['other']:.3f} | {format_paired(v)} |"
                    for k, rows in result.items() for f, v in rows.items()]


def _own_content(r: dict, family: str) -> float | None:
    """A run's mean per-GM AUC against the real images of each GM's own content, over the GMs of ``family``."""
    v = [x["auc_own_content"] for x in r.get("per_gm", {}).values() if x.get("family") == family
         and "auc_own_content" in x]
    return float(np.mean(v)) if v else None


def _table(task: str, runs: list[dict]) -> list[str]:
    folds = ", ".join(str(r["fold"]) for r in runs)
    if task == "detect":
        from reparse_tf.evaluation.forensic_evaluation import DETECTORS

        rows = [(name, key) for name, key in DETECTORS if all(key in r for r in runs)]
        lines = [f"Deepfake detection, folds {folds}: unseen test GMs vs unseen real images; mean ± std over folds.",
                 "", "| | AUC | balanced accuracy at the validation threshold | real accepted |",
                 "| --- | --- | --- | --- |"]
        for name, key in rows:
            alone = key == "residual_detector"   # no threshold of its own
            lines.append(f"| {name} | {_ms([r[key]['auc'] for r in runs])} | "
                         f"{'—' if alone else _ms([r[key]['balanced_accuracy'] for r in runs])} | "
                         f"{'—' if alone else _ms([r[key]['real_accepted_rate'] for r in runs])} |")
        names = " / ".join(key.replace("_", " ") for _, key in rows)
        lines += ["| chance | 0.500 | 0.500 | |", "",
                  f"| family | AUC ({names}) | detection rate (method) | per-GM AUC against real images of its content "
                  f"({names}) |", "| --- | --- | --- | --- |"]
        fams = sorted({f for r in runs for f in r["method"]["per_family"]})
        for f in fams:
            lines.append(f"| {f} | "
                         + " / ".join(_ms([r[k]["per_family"].get(f, {}).get("auc") for r in runs]) for _, k in rows)
                         + f" | {_ms([r['method']['per_family'].get(f, {}).get('detection_rate') for r in runs])} | "
                         + " / ".join(_ms([_own_content(r[k], f) for r in runs]) for _, k in rows) + " |")
        return lines + ["", *(_significance_line(significance(task, runs, k)) for _, k in rows
                              if k in ("network", "spectral_peer"))]
    n_classes = "/".join(sorted({str(r["method"]["n_classes"]) for r in runs}))
    lines = [f"Image attribution, folds {folds}: closed set = real + every fit GM ({n_classes} classes), held-out "
             "images; open set = unseen test GMs vs those held-out images; mean ± std over folds.",
             "", "| | balanced accuracy | per-image accuracy | worst class | real images as real |",
             "| --- | --- | --- | --- | --- |"]
    for name, key in (("FEN + 2 conv + 2 FC", "method"), ("spectral peer (logistic regression)", "spectral_peer")):
        lines.append(f"| {name} | {_ms([r[key]['balanced_accuracy'] for r in runs])} | "
                     f"{_ms([r[key]['accuracy'] for r in runs])} | {_ms([r[key]['per_class_min'] for r in runs])} | "
                     f"{_ms([r[key]['per_class'].get('real') for r in runs])} |")
    lines += [f"| chance | {_ms([r['chance']['accuracy'] for r in runs])} | | | |", "",
              _significance_line(significance(task, runs)), "",
              "| unknown-generator score | AUROC | unseen GMs flagged | known flagged |", "| --- | --- | --- | --- |"]
    for s in ("msp", "energy"):
        lines.append(f"| {s} | {_ms([r['open_set'][s]['auroc'] for r in runs])} | "
                     f"{_ms([r['open_set'][s].get('unknown_flagged_rate') for r in runs])} | "
                     f"{_ms([r['open_set'][s].get('known_flagged_rate') for r in runs])} |")
    return lines + ["| chance | 0.500 | | |"]


def main(argv: list[str] | None = None) -> int:
    from reparse_tf.evaluation.forensic_evaluation import evaluate_forensic
    from reparse_tf.model.residual_detector import RESIDUAL_DETECTOR_FILE
    from reparse_tf.serving.artifacts import write_json
    from reparse_tf.training.forensic_training import add_residual_detector, train_forensic
    from reparse_tf.training.presets import get_preset

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--examples", required=True)
    ap.add_argument("--work", required=True, help="model folders (reused when complete)")
    ap.add_argument("--folds", default="0,1,2,3")
    ap.add_argument("--tasks", default="detect,attribute")
    ap.add_argument("--preset", default="cpu")
    ap.add_argument("--epochs", type=int, default=None)
    fp = ap.add_mutually_exclusive_group()
    fp.add_argument("--fingerprint", action="store_true",
                    help="the paper's recipe: J_f on generated images (default: the preset's, without)")
    fp.add_argument("--no-fingerprint", action="store_true", help="without J_f (the default; kept for old commands)")
    ap.add_argument("--out", default=None, help="output prefix (writes PREFIX.md and PREFIX.json)")
    ap.add_argument("--include", action="append", default=[], metavar="JSON",
                    help="an earlier run's PREFIX.json whose other folds join the table (same preset and ablation)")
    ap.add_argument("--against", default=None, metavar="JSON",
                    help="another run's PREFIX.json (e.g. another preset): paired per-GM detection AUCs against it")
    ap.add_argument("--add-residual", action="store_true",
                    help="fit the residual detector of detect models trained without one (on their own training "
                         "split; thresholds re-chosen on their validation split) before evaluating them")
    args = ap.parse_args(argv)
    work = Path(args.work)
    folds = [int(f) for f in args.folds.split(",")]
    preset = get_preset(args.preset)
    weight = preset.fingerprint_weight if args.fingerprint else preset.classifier_fingerprint_weight
    fingerprint = weight > 0
    results: dict[str, list[dict]] = {}
    for task in args.tasks.split(","):
        for fold in folds:
            d = work / f"{task}{'' if fingerprint else '-nofp'}-fold{fold}"
            if not (d / "model.keras").is_file():
                train_forensic(task, args.examples, fold, args.preset, d, epochs=args.epochs,
                               fingerprint_weight=weight)
            if task == "detect" and args.add_residual and not (d / RESIDUAL_DETECTOR_FILE).is_file():
                add_residual_detector(d, args.examples)
            done = d / "evaluation" / f"{task}.json"
            newest = max(f.stat().st_mtime for f in (d / "model.keras", d / RESIDUAL_DETECTOR_FILE) if f.is_file())
            if done.is_file() and done.stat().st_mtime >= newest:
                r = json.loads(done.read_text())  # evaluated already (resumable)
            else:
                r = evaluate_forensic(d, args.examples, d / "evaluation")
            results.setdefault(task, []).append({**r, "machine": r.get("machine") or _machine()})
            print((d / "evaluation" / f"{task}.md").read_text(), flush=True)
    sources = _include(results, args.include, args.preset, fingerprint)
    lines = [f"Preset `{args.preset}`, examples `{os.path.basename(os.path.normpath(args.examples))}`"
             f"{', with the fingerprint constraints J_f (the paper)' if fingerprint else ', without J_f'}; folds run "
             f"here on "
             f"{_machine()}{'; ' + '; '.join(sources) if sources else ''}.", ""]
    for task, runs in results.items():
        runs.sort(key=lambda r: r["fold"])
        lines += _table(task, runs) + [""]
    compared = None
    if args.against and "detect" in results:
        from reparse_tf.targets.cluster_ground_truth import read_fold_info

        other = json.loads(Path(args.against).read_text())
        compared = against(results["detect"], other["results"].get("detect", []),
                           read_fold_info(args.examples)[0].type_of)
        lines += _against_lines(compared, f"`{os.path.basename(args.against)}` (preset `{other['preset']}`)") + [""]
    text = "\n".join(lines)
    print(text)
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(f"{args.out}.md").write_text(text)
        write_json(Path(f"{args.out}.json"), {"preset": args.preset, "folds": folds, "included": sources,
                                              "fingerprint": fingerprint, "fingerprint_weight": weight,
                                              "results": results,
                                              "significance": {t: significance(t, r) for t, r in results.items()},
                                              "significance_network": {t: significance(t, r, "network")
                                                                       for t, r in results.items() if t == "detect"},
                                              "against": {"file": args.against, "detect": compared}})
    return 0


def _machine() -> str:
    """The CPU model and core count, and the date: where and when a fold's figures were measured."""
    from reparse_tf.training.hardware import processor_name

    return f"{os.cpu_count()}-core {processor_name()} ({datetime.date.today().isoformat()})"


def _include(results: dict[str, list[dict]], paths: list[str], preset: str, fingerprint: bool) -> list[str]:
    """Add the runs of earlier result files for the (task, fold)s not run here; describe each source."""
    sources = []
    for path in paths:
        earlier = json.loads(Path(path).read_text())
        if earlier.get("preset") != preset or earlier.get("fingerprint") != fingerprint:
            raise SystemExit(f"{path}: preset {earlier.get('preset')} / fingerprint {earlier.get('fingerprint')} "
                             f"differ from this run's {preset} / {fingerprint}")
        for task, runs in earlier["results"].items():
            have = {r["fold"] for r in results.get(task, [])}
            added = [r for r in runs if r["fold"] not in have]
            for r in added:
                r.setdefault("machine", earlier.get("machine", "an earlier run's machine"))
            results.setdefault(task, []).extend(added)
            if added:
                sources.append(f"{task} fold(s) {', '.join(str(r['fold']) for r in added)} from "
                               f"`{os.path.basename(path)}` ({added[0]['machine']})")
    return sources


if __name__ == "__main__":
    raise SystemExit(main())
