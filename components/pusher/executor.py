"""Executor of the `pusher` component: plain Python (no kfp import) calling reparse_tf."""

from __future__ import annotations

from pathlib import Path

from reparse_tf.components._common import announce, call
from reparse_tf.serving.artifacts import write_json


def execute(model: str, blessing: str, pushed_model: str, serving_dir: str, model_name: str, force: bool) -> dict:
    """Push ``model`` if ``blessing`` says so (or ``force``); return artifact metadata."""
    from reparse_tf.evaluation.blessing import Blessing
    from reparse_tf.serving.model_card import load_card

    verdict = Blessing.load(blessing)
    card = load_card(blessing)
    record: dict = {"blessed": verdict.blessed, "forced": bool(force and not verdict.blessed), "pushed": False,
                    "model_name": model_name}
    if not (verdict.blessed or force):
        record["reason"] = "not blessed: " + "; ".join(verdict.reasons)
        print(f"[reparse:pusher] not pushing: {record['reason']} (set force to push anyway)", flush=True)
    else:
        version = call("pusher", "reparse_tf.serving.saved_model:push", model_dir=model, serving_dir=pushed_model,
                       model_name=model_name, card=card)
        record.update(pushed=True, version=int(Path(version).name), artifact_path=str(version))
        if serving_dir:
            dest = call("pusher", "reparse_tf.serving.saved_model:push", model_dir=model, serving_dir=serving_dir,
                        model_name=model_name, card=card)
            record.update(pushed_destination=str(dest))
            announce("pusher", serving_destination=dest)
    write_json(Path(pushed_model) / "push.json", record, strict=False)
    announce("pusher", pushed_model=pushed_model)
    return record
