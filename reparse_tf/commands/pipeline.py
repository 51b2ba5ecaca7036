"""``reparse pipeline run|compile``: run the whole pipeline locally (kfp.local) or compile it for Kubeflow."""

from __future__ import annotations

import argparse

from reparse_tf.commands import PRESET_HELP, preset_arg


def _knobs(p: argparse.ArgumentParser) -> None:
    p.add_argument("--task", default="parse", choices=("parse", "detect", "attribute"),
                   help="parse: FEN + parsing network (default); detect: deepfake detector; attribute: image "
                        "attribution (FEN + shallow classifier; real images: the zoo's packaged content)")
    p.add_argument("--preset", default="tiny", type=preset_arg, help=PRESET_HELP)
    p.add_argument("--zoo-preset", default="tiny", choices=("tiny", "standard"), help="GM zoo preset")
    p.add_argument("--data", default="", metavar="ROOT", help="ingest this RED layout instead of building the zoo")
    p.add_argument("--image-size", type=int, default=64)
    p.add_argument("--folds", type=int, default=4, dest="n_folds", help="number of GM folds")
    p.add_argument("--fold", type=int, default=0, help="the fold to train and evaluate")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--epochs", type=int, default=0, help="0: the preset's number")
    p.add_argument("--no-tfma", dest="tfma", action="store_false", help="skip the TFMA slice evaluation")
    p.add_argument("--threshold", action="append", dest="thresholds", metavar="RULE",
                   help="blessing rule '<metric> <op> <metric|number>' (repeatable; "
                        "default: the task's sanity gates in pipeline/configs.py)")
    p.add_argument("--force", action="store_true", help="push even when the model is not blessed")
    p.add_argument("--model-name", default="reparse")
    p.add_argument("--serving-dir", default="", help="push destination (run: default OUT/serving)")
    p.add_argument("--beam-arg", action="append", dest="beam_args", metavar="FLAG",
                   help="Beam pipeline option, repeatable (e.g. --beam-arg=--runner=FlinkRunner)")


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("pipeline", help="run the pipeline locally or compile it for Kubeflow")
    actions = p.add_subparsers(dest="action", required=True)
    run = actions.add_parser("run", help="run zoo/ingest -> cluster GT -> train -> evaluate -> push locally")
    _knobs(run)
    run.add_argument("--out", required=True, help="output folder (artifacts, report, model, serving)")
    run.set_defaults(func=run_command)
    comp = actions.add_parser("compile", help="compile to KFP v2 YAML for Kubeflow Pipelines")
    _knobs(comp)
    comp.add_argument("--out", default="reparse_pipeline.yaml", help="YAML file to write")
    comp.add_argument("--image", default=None,
                      help="container image every component runs in (build it from the repository's Dockerfile; "
                      "default $REPARSE_BASE_IMAGE or reparse-python:0.1.0)")
    comp.set_defaults(func=compile_command)


def _config(args: argparse.Namespace, local: bool):
    from reparse_tf.pipeline.configs import LOCAL_BEAM_ARGS, PipelineConfig

    beam_args = args.beam_args if args.beam_args is not None else (list(LOCAL_BEAM_ARGS) if local else [])
    return PipelineConfig(task=args.task, preset=args.preset, zoo_preset=args.zoo_preset, data_root=args.data,
                          image_size=args.image_size, n_folds=args.n_folds, fold=args.fold, seed=args.seed,
                          epochs=args.epochs, tfma=args.tfma, thresholds=args.thresholds,
                          force_push=args.force, model_name=args.model_name, serving_dir=args.serving_dir,
                          beam_args=beam_args)


def run_command(args: argparse.Namespace) -> int:
    from reparse_tf.pipeline.local_runner import PipelineFailed, run_local

    try:
        result = run_local(_config(args, local=True), args.out)
    except PipelineFailed as exc:
        print(f"reparse pipeline: error: {exc}")
        return 1
    print(result.summary())
    return 0


def compile_command(args: argparse.Namespace) -> int:
    from reparse_tf.pipeline.kubeflow_runner import compile_pipeline

    out = compile_pipeline(args.out, _config(args, local=False), image=args.image)
    print(f"compiled pipeline to {out}")
    return 0
