"""Executor of the `evaluator` component: plain Python (no kfp import) calling reparse_tf."""

from __future__ import annotations

from reparse_tf.components._common import announce, call, scalar_metadata
from reparse_tf.serving.artifacts import write_json


def execute(model: str, examples: str, evaluation: str, blessing: str, fold: int, tfma: bool,
            thresholds: list[str]) -> tuple[dict, dict]:
    """Evaluate ``model`` into ``evaluation``, write ``blessing/blessing.json``.

    Returns (evaluation metadata, blessing metadata).
    """
    from pathlib import Path

    from reparse_tf.evaluation.blessing import check

    if (Path(model) / "task_meta.json").is_file():  # a detector / attribution network
        result = call("evaluator", "reparse_tf.evaluation.forensic_evaluation:evaluate_forensic", model_dir=model,
                      examples_dir=examples, out_dir=evaluation) or {}
    else:
        result = call("evaluator", "reparse_tf.evaluation.parsing_evaluation:evaluate_model", model_dir=model,
                      examples_dir=examples,
                      out_dir=evaluation, fold=fold, tfma=tfma) or {}
    if result and "task" not in result:
        from reparse_tf.evaluation.report import write_model_report

        print(f"[reparse:evaluator] report: {write_model_report(result, evaluation)}", flush=True)
    verdict = check(result, list(thresholds))
    verdict.save(blessing)
    write_json(f"{blessing}/evaluation_summary.json", scalar_metadata(result), strict=False)
    if result:  # the pusher puts it into the SavedModel's assets.extra/
        from reparse_tf.serving.model_card import CARD_FILE, model_card

        write_json(f"{blessing}/{CARD_FILE}", model_card(result), indent=1, strict=False)
    for line in (c["message"] for c in verdict.checks):
        print(f"[reparse:evaluator] threshold {line}", flush=True)
    print(f"[reparse:evaluator] blessed={verdict.blessed}", flush=True)
    announce("evaluator", evaluation=evaluation, blessing=blessing)
    return scalar_metadata(result), {"blessed": verdict.blessed, "thresholds": list(thresholds)}
