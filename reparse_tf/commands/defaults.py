"""``reparse defaults``: build the packaged default parse / detect / attribute models, or list them."""

from __future__ import annotations

import argparse
import json

from reparse_tf.commands import at_least, preset_arg

# set / spectral: the parse model's set and spectral parsers (after parse, whose install replaces its folder)
TASKS = ("parse", "detect", "attribute", "set", "spectral")
# the best parser measured on the standard zoo (4 folds, benchmarks/results/standard_4folds_spectral_encoder.md):
# the PN reads the fingerprint's pooled log spectrum, and a linear readout of its embedding answers
BEST_PARSE = "encoder=spectral,readout=linear"


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("defaults", help="the packaged default models: build them (reproducibly) or list them")
    s = p.add_subparsers(dest="defaults_command", required=True)
    b = s.add_parser("build", help="train the default models with the pipeline and (--install) package them")
    b.add_argument("--out", required=True, help="work folder (zoo, one pipeline run per task)")
    b.add_argument("--data", default="", metavar="ROOT",
                   help="RED layout to train on (default: build the zoo of --zoo-preset into OUT/zoo)")
    b.add_argument("--zoo-preset", default="standard", choices=("tiny", "standard"))
    b.add_argument("--preset", default="cpu", type=preset_arg, help="training preset (default cpu)")
    b.add_argument("--parse-changes", default=BEST_PARSE, metavar="FIELD=VALUE,...",
                   help=f"preset changes of the parse model (default {BEST_PARSE}: the best configuration measured "
                        "on the standard zoo; '' for the paper's conv encoder and heads)")
    b.add_argument("--fold", type=int, default=0,
                   help="its GMs are held out and measured in the model card (default 0)")
    b.add_argument("--tasks", default=",".join(TASKS), help=f"comma-separated subset of {','.join(TASKS)}")
    b.add_argument("--seed", type=int, default=0)
    b.add_argument("--epochs", type=at_least(0), default=0, help="0: the preset's number")
    b.add_argument("--workers", type=at_least(1), default=2, help="zoo build workers (default 2)")
    b.add_argument("--no-tfma", dest="tfma", action="store_false", help="skip the TFMA slice evaluation")
    b.add_argument("--install", action="store_true",
                   help="copy the models into the package (reparse_tf/default_models)")
    b.set_defaults(func=build)
    ls = s.add_parser("list", help="the packaged default models and what their model cards measured")
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(func=show)


def build(args: argparse.Namespace) -> int:
    import shlex
    from pathlib import Path

    from reparse_tf.pipeline.configs import PipelineConfig
    from reparse_tf.pipeline.local_runner import run_local
    from reparse_tf.serving.artifacts import write_json
    from reparse_tf.serving.default_models import install
    from reparse_tf.serving.model_card import CARD_FILE

    tasks = [t for t in args.tasks.split(",") if t]
    unknown = sorted(set(tasks) - set(TASKS))
    if unknown:
        raise ValueError(f"unknown tasks {unknown}; known: {', '.join(TASKS)}")
    out = Path(args.out)
    root = args.data
    if not root:  # one zoo for the three tasks (each pipeline run would otherwise build its own)
        from reparse_tf.zoo.build import build_zoo

        root = str(out / "zoo")
        build_zoo(root, preset=args.zoo_preset, seed=args.seed, workers=args.workers)
    # what the card records: every knob, with the zoo the models were trained on
    knobs = {"--data": root, "--zoo-preset": args.zoo_preset, "--preset": args.preset,
             "--parse-changes": args.parse_changes, "--fold": args.fold, "--seed": args.seed, "--epochs": args.epochs}
    command = " ".join(["reparse defaults build", *(f"{k} {shlex.quote(str(v))}" for k, v in knobs.items()),
                        *([] if args.tfma else ["--no-tfma"])])
    for task in [t for t in tasks if t not in COMPANIONS]:
        preset = f"{args.preset}:{args.parse_changes}" if task == "parse" and args.parse_changes else args.preset
        config = PipelineConfig(task=task, preset=preset, zoo_preset=args.zoo_preset, data_root=root,
                                fold=args.fold, seed=args.seed, epochs=args.epochs, tfma=args.tfma, force_push=True,
                                model_name=f"reparse-{task}")
        run = run_local(config, out / task)
        print(run.summary())
        model_dir = run.links["model"].resolve()
        card = json.loads((run.links["blessing"] / CARD_FILE).read_text())
        card["built_with"] = f"{command} --tasks {task}"
        card["preset"], card["zoo_preset"] = preset, args.zoo_preset
        if task == "parse":  # the same-source thresholds, chosen on the fold's validation GMs, ship with it
            card["same_source"] = _same_source(model_dir, run.artifacts["examples"], args.seed)
        card_path = write_json(out / task / CARD_FILE, card, indent=1, strict=False)
        if args.install:
            print(f"[reparse defaults] installed the {task} model: {install(model_dir, task, card_path)}")
    for task in [t for t in tasks if t in COMPANIONS]:
        _companion(task, root, out / task, args)
    return 0


def _companion(task: str, root: str, out, args: argparse.Namespace) -> None:
    """Fit the parse model's ``task`` companion (set or spectral parser) on the fold's fitted GMs of ``root`` (an
    ingested examples dir, or a RED layout ingested here), save it with its card in ``out/parser`` and
    (``--install``) beside the packaged parse model."""
    from pathlib import Path

    from reparse_tf.data.manifest import has_manifest
    from reparse_tf.serving.default_models import install_beside_parse
    from reparse_tf.training.presets import get_preset

    build, files = COMPANIONS[task]()
    examples = Path(root)
    if not has_manifest(examples):
        from reparse_tf.data.ingest import run_ingest

        examples = out / "examples"
        if not has_manifest(examples):
            run_ingest(root, examples, image_size=64, n_folds=4, seed=args.seed, output_format="npz")
    rows = build(examples, args.fold, out / "parser", seed=args.seed,
                 validation_fraction=get_preset(args.preset).validation_fraction).card["rows"]
    print(f"[reparse defaults] {task} parser, fold {args.fold}: " + "; ".join(
        f"{r['label']}: L1 {r['summary']['continuous_l1']:.3f}, discrete F1 {r['summary']['discrete_f1']:.3f}, "
        f"loss F1 {r['summary']['loss_f1']:.3f}" for r in rows.values()))
    if args.install:
        dest = install_beside_parse(out / "parser", files)
        print(f"[reparse defaults] installed the {task} parser beside the parse model: {dest}")


def _set_companion():
    from reparse_tf.evaluation.set_evaluation import build_set_parser
    from reparse_tf.model.set_fingerprint import SET_PARSER_FILES

    return build_set_parser, SET_PARSER_FILES


def _spectral_companion():
    from reparse_tf.evaluation.baseline_evaluation import build_spectral_parser
    from reparse_tf.model.spectral_parser import SPECTRAL_PARSER_FILES

    return build_spectral_parser, SPECTRAL_PARSER_FILES


# companion task -> () -> (builder, files): imported when used, so `reparse defaults list` stays light
COMPANIONS = {"set": _set_companion, "spectral": _spectral_companion}


def _same_source(model_dir, examples, seed: int) -> dict:
    """Evaluate the pair scores on the model's fold and write its thresholds into the model dir; a preset
    without validation GMs (``tiny``) has no data to choose them on, and the card says so."""
    from reparse_tf.evaluation.same_source import THRESHOLDS_FILE, evaluate_same_source, write_thresholds
    from reparse_tf.serving.inference import load_parser

    parser = load_parser(model_dir)
    if not parser.meta.get("validation_gms"):
        return {"skipped": "the model has no validation GMs to choose the thresholds on"}
    result = evaluate_same_source(parser, examples, seed=seed)
    write_thresholds(result, model_dir / THRESHOLDS_FILE)
    return {"test": result["test"], "chance": result["chance"]}


def _headline(card: dict | None) -> str:
    if not card:
        return "no model card"
    m = card.get("metrics") or {}
    keys = ("continuous_l1", "discrete_f1", "loss_f1") if card.get("task") == "parse" else \
        ("auc", "balanced_accuracy")
    figures = ", ".join(f"{k} {m[k]:.3f}" for k in keys if isinstance(m.get(k), float))
    held_out = f", {len(card['test_gms'])} unseen GMs" if card.get("test_gms") else ""  # older cards lack the list
    return f"fold {card.get('fold')}{held_out}: {figures or 'see the card'}"


def show(args: argparse.Namespace) -> int:
    from reparse_tf.model.set_fingerprint import SET_PARSER_FILES
    from reparse_tf.model.spectral_parser import SPECTRAL_PARSER_FILES
    from reparse_tf.serving.default_models import BUILD_COMMAND, listing, packaged_dir

    rows = listing()
    if args.json:
        print(json.dumps(rows, indent=1))
        return 0
    for r in rows:
        state = f"{r['bytes'] / 1e6:.1f} MB; {_headline(r['card'])}" if r["present"] else \
            f"not packaged (build it: {BUILD_COMMAND})"
        print(f"{r['task']:<10} {state}")
    # the companions that ship beside the parse model (`reparse parse --set`, `reparse parse --spectral`)
    for flag, meta_file, row, what in (("--set", SET_PARSER_FILES[1], "set_fingerprint", "sets of {set_size}"),
                                       ("--spectral", SPECTRAL_PARSER_FILES[1], "spectral_peer_2d", "per image")):
        path = packaged_dir("parse") / meta_file
        if path.is_file():
            card = json.loads(path.read_text())["card"]
            s = card["rows"][row]["summary"]
            print(f"{'parse ' + flag:<16} {what.format(**card)}; fold {card['fold']}, {len(card['test_gms'])} unseen "
                  f"GMs: " + ", ".join(f"{k} {s[k]:.3f}" for k in ("continuous_l1", "discrete_f1", "loss_f1")))
    return 0
