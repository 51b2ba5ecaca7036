"""The reparse pipeline: wires the components, nothing else (knobs in configs.py, runners beside).

    parse:             zoo | importer(data_root) -> ingest -> cluster_ground_truth -> trainer -> evaluator -> pusher
    detect, attribute: zoo | importer(data_root) -> ingest -> classifier_trainer -> evaluator -> pusher

Two entry points per task share the wiring: :func:`reparse_pipeline` (and
:func:`reparse_classifier_pipeline`) build their data with the GM zoo, the ``_from_data`` variants
import an existing RED layout (a local path or a bucket URI). :func:`pipeline_for` picks one.
"""

# No `from __future__ import annotations`: KFP reads the pipeline signature's annotations as objects.

from typing import NamedTuple

from kfp import dsl

from reparse_tf.components.classifier_trainer.component import classifier_trainer
from reparse_tf.components.cluster_ground_truth.component import cluster_ground_truth
from reparse_tf.components.evaluator.component import evaluator
from reparse_tf.components.ingest.component import ingest
from reparse_tf.components.pusher.component import pusher
from reparse_tf.components.trainer.component import trainer
from reparse_tf.components.zoo.component import zoo
from reparse_tf.pipeline.configs import PIPELINE_NAME


class Outputs(NamedTuple):
    """Pipeline outputs: every artifact downstream of the data, so runners can say where each went."""

    examples: dsl.Dataset
    cluster_gt: dsl.Artifact
    model: dsl.Model
    evaluation: dsl.Artifact
    blessing: dsl.Artifact
    pushed_model: dsl.Model


def _parse_and_push(data, image_size, n_folds, fold, seed, preset, parser, fingerprint, backbone, epochs, tfma,
                    thresholds, force_push, model_name, serving_dir, beam_args) -> Outputs:
    """ingest -> cluster_ground_truth -> trainer -> evaluator -> pusher on the RED layout ``data``."""
    examples = ingest(data=data, image_size=image_size, n_folds=n_folds, seed=seed,
                      beam_args=beam_args).set_display_name("ingest")
    cgt = cluster_ground_truth(examples=examples.outputs["examples"], fold=fold, seed=seed,
                               beam_args=beam_args).set_display_name("cluster-ground-truth")
    model = trainer(examples=examples.outputs["examples"], cluster_gt=cgt.outputs["cluster_gt"], fold=fold,
                    preset=preset, parser=parser, fingerprint=fingerprint, backbone=backbone, epochs=epochs,
                    seed=seed).set_display_name("trainer")
    evaluation = evaluator(model=model.outputs["model"], examples=examples.outputs["examples"], fold=fold, tfma=tfma,
                           thresholds=thresholds).set_display_name("evaluator")
    pushed = pusher(model=model.outputs["model"], blessing=evaluation.outputs["blessing"], serving_dir=serving_dir,
                    model_name=model_name, force=force_push).set_display_name("pusher")
    return Outputs(examples.outputs["examples"], cgt.outputs["cluster_gt"], model.outputs["model"],
                   evaluation.outputs["evaluation"], evaluation.outputs["blessing"], pushed.outputs["pushed_model"])


@dsl.pipeline(name=PIPELINE_NAME, description="Model parsing of generative models: GM zoo to TF Serving.")
def reparse_pipeline(zoo_preset: str = "tiny", image_size: int = 64, n_folds: int = 4, fold: int = 0, seed: int = 0,
                     preset: str = "tiny", parser: str = "two", fingerprint: bool = True, backbone: str = "fen",
                     epochs: int = 0, tfma: bool = True, thresholds: list = [],  # noqa: B006 - KFP defaults
                     force_push: bool = False, model_name: str = "reparse", serving_dir: str = "",
                     beam_args: list = []) -> Outputs:  # noqa: B006
    """Build the GM zoo, then ingest, cluster, train, evaluate and push."""
    data = zoo(zoo_preset=zoo_preset, seed=seed, image_size=image_size).set_display_name("zoo")
    return _parse_and_push(data.outputs["red_layout"], image_size, n_folds, fold, seed, preset, parser, fingerprint,
                           backbone, epochs, tfma, thresholds, force_push, model_name, serving_dir, beam_args)


@dsl.pipeline(name=f"{PIPELINE_NAME}-from-data", description="Model parsing of GMs from an existing RED layout.")
def reparse_pipeline_from_data(data_root: str, image_size: int = 64, n_folds: int = 4, fold: int = 0, seed: int = 0,
                               preset: str = "tiny", parser: str = "two", fingerprint: bool = True,
                               backbone: str = "fen", epochs: int = 0, tfma: bool = True,
                               thresholds: list = [],  # noqa: B006
                               force_push: bool = False, model_name: str = "reparse", serving_dir: str = "",
                               beam_args: list = []) -> Outputs:  # noqa: B006
    """Import the RED layout at ``data_root``, then ingest, cluster, train, evaluate and push."""
    data = dsl.importer(artifact_uri=data_root, artifact_class=dsl.Dataset, reimport=False)
    data.set_display_name("import-data")
    return _parse_and_push(data.output, image_size, n_folds, fold, seed, preset, parser, fingerprint, backbone,
                           epochs, tfma, thresholds, force_push, model_name, serving_dir, beam_args)


class ClassifierOutputs(NamedTuple):
    """Outputs of the detection / attribution pipelines."""

    examples: dsl.Dataset
    model: dsl.Model
    evaluation: dsl.Artifact
    blessing: dsl.Artifact
    pushed_model: dsl.Model


def _classify_and_push(data, task, image_size, n_folds, fold, seed, preset, epochs, thresholds, force_push,
                       model_name, serving_dir, beam_args) -> ClassifierOutputs:
    """ingest -> classifier_trainer -> evaluator -> pusher on the RED layout ``data``."""
    examples = ingest(data=data, image_size=image_size, n_folds=n_folds, seed=seed,
                      beam_args=beam_args).set_display_name("ingest")
    model = classifier_trainer(examples=examples.outputs["examples"], task=task, fold=fold, preset=preset,
                               epochs=epochs, seed=seed).set_display_name("classifier-trainer")
    evaluation = evaluator(model=model.outputs["model"], examples=examples.outputs["examples"], fold=fold,
                           tfma=False, thresholds=thresholds).set_display_name("evaluator")
    pushed = pusher(model=model.outputs["model"], blessing=evaluation.outputs["blessing"], serving_dir=serving_dir,
                    model_name=model_name, force=force_push).set_display_name("pusher")
    return ClassifierOutputs(examples.outputs["examples"], model.outputs["model"], evaluation.outputs["evaluation"],
                             evaluation.outputs["blessing"], pushed.outputs["pushed_model"])


@dsl.pipeline(name=f"{PIPELINE_NAME}-classifier",
              description="Deepfake detection or image attribution with the FEN: GM zoo to TF Serving.")
def reparse_classifier_pipeline(task: str = "detect", zoo_preset: str = "tiny", image_size: int = 64,
                                n_folds: int = 4, fold: int = 0, seed: int = 0, preset: str = "tiny",
                                epochs: int = 0, thresholds: list = [],  # noqa: B006 - KFP defaults
                                force_push: bool = False, model_name: str = "reparse", serving_dir: str = "",
                                beam_args: list = []) -> ClassifierOutputs:  # noqa: B006
    """Build the GM zoo, then ingest, train the detector / attribution network, evaluate and push."""
    data = zoo(zoo_preset=zoo_preset, seed=seed, image_size=image_size).set_display_name("zoo")
    return _classify_and_push(data.outputs["red_layout"], task, image_size, n_folds, fold, seed, preset, epochs,
                              thresholds, force_push, model_name, serving_dir, beam_args)


@dsl.pipeline(name=f"{PIPELINE_NAME}-classifier-from-data",
              description="Deepfake detection or image attribution on an existing RED layout.")
def reparse_classifier_pipeline_from_data(data_root: str, task: str = "detect", image_size: int = 64,
                                          n_folds: int = 4, fold: int = 0, seed: int = 0, preset: str = "tiny",
                                          epochs: int = 0, thresholds: list = [],  # noqa: B006
                                          force_push: bool = False, model_name: str = "reparse",
                                          serving_dir: str = "", beam_args: list = []  # noqa: B006
                                          ) -> ClassifierOutputs:
    """Import the RED layout at ``data_root``, then ingest, train, evaluate and push."""
    data = dsl.importer(artifact_uri=data_root, artifact_class=dsl.Dataset, reimport=False)
    data.set_display_name("import-data")
    return _classify_and_push(data.output, task, image_size, n_folds, fold, seed, preset, epochs, thresholds,
                              force_push, model_name, serving_dir, beam_args)


def pipeline_for(data_root: str, task: str = "parse"):
    """The pipeline function to run for ``data_root`` (empty: build the zoo) and ``task``."""
    if task == "parse":
        return reparse_pipeline_from_data if data_root else reparse_pipeline
    return reparse_classifier_pipeline_from_data if data_root else reparse_classifier_pipeline
