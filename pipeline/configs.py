"""Pipeline knobs: one dataclass with every parameter of :func:`reparse_tf.pipeline.pipeline.reparse_pipeline`.

Runners build a :class:`PipelineConfig` (CLI flags override the defaults) and pass
``config.arguments()`` to the pipeline; nothing else in ``pipeline/`` holds a default.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

PIPELINE_NAME = "reparse-pipeline"

# Blessing rules (see reparse_tf.evaluation.blessing) over evaluate_model's headline metrics (normalised units):
# sanity gates a model that learned nothing fails (uniform guessing on [0, 1] has L1 ~ 0.33).
# Stricter: pass rules comparing with a random-GT evaluation, e.g. "discrete.f1 > 0.4".
DEFAULT_THRESHOLDS: tuple[str, ...] = ("continuous.l1 <= 0.5", "discrete.accuracy >= 0.2")
# the same kind of gate for the detector (AUC on unseen GMs) and the attribution network (closed set)
TASK_THRESHOLDS: dict[str, tuple[str, ...]] = {"parse": DEFAULT_THRESHOLDS, "detect": ("method.auc >= 0.6",),
                                               "attribute": ("method.balanced_accuracy >= 0.5",)}
# knobs of the parsing pipeline only
PARSE_ONLY = ("parser", "fingerprint", "backbone", "tfma")

# Beam pipeline options used by the Beam components (ingest, cluster ground truth).
LOCAL_BEAM_ARGS: tuple[str, ...] = ("--runner=DirectRunner", "--direct_num_workers=1",
                                    "--direct_running_mode=in_memory")


@dataclass
class PipelineConfig:
    """Every knob of the pipeline.

    Attributes:
        task: ``parse`` (FEN + parsing network) | ``detect`` | ``attribute`` (FEN + shallow classifier).
        preset: training preset (``tiny`` | ``cpu`` | ``paper``).
        zoo_preset: GM zoo preset when the pipeline builds its data (``tiny`` | ``standard``).
        data_root: a RED layout to ingest instead of building the zoo (local path or URI).
        image_size, n_folds, fold, seed: data and split knobs; ``fold`` is the one trained and evaluated.
        parser, fingerprint, backbone, epochs: trainer variant (``epochs=0``: the preset's number).
        tfma: also run the TFMA slice evaluation.
        thresholds: blessing rules the evaluation must pass before the model is pushed.
        force_push: push even when the model is not blessed.
        model_name: TF Serving model name.
        serving_dir: push destination (``<serving_dir>/<model_name>/<version>/``); empty: artifact only.
        beam_args: Beam pipeline options (DirectRunner locally; Dataflow/Flink/Spark flags pass through).
    """

    task: str = "parse"
    preset: str = "tiny"
    zoo_preset: str = "tiny"
    data_root: str = ""
    image_size: int = 64
    n_folds: int = 4
    fold: int = 0
    seed: int = 0
    parser: str = "two"
    fingerprint: bool = True
    backbone: str = "fen"
    epochs: int = 0
    tfma: bool = True
    thresholds: list[str] | None = None  # None: the task's TASK_THRESHOLDS
    force_push: bool = False
    model_name: str = "reparse"
    serving_dir: str = ""
    beam_args: list[str] = field(default_factory=lambda: list(LOCAL_BEAM_ARGS))

    def __post_init__(self) -> None:
        if not 0 <= self.fold < self.n_folds:
            raise ValueError(f"fold {self.fold} is outside 0..{self.n_folds - 1} (n_folds={self.n_folds})")
        if self.image_size <= 0:
            raise ValueError(f"image_size must be positive, got {self.image_size}")
        if self.task not in TASK_THRESHOLDS:
            raise ValueError(f"task must be one of {', '.join(TASK_THRESHOLDS)}, got {self.task!r}")
        if self.thresholds is None:
            self.thresholds = list(TASK_THRESHOLDS[self.task])
        if self.epochs < 0:
            raise ValueError(f"epochs must be >= 0 (0 = preset default), got {self.epochs}")

    def arguments(self) -> dict:
        """Keyword arguments of the pipeline function (``data_root`` picks the pipeline, it is not one)."""
        args = asdict(self)
        if args["task"] == "parse":
            args.pop("task")
        else:
            for k in PARSE_ONLY:
                args.pop(k)
        data_root = args.pop("data_root")
        if data_root:
            args.pop("zoo_preset")
            args["data_root"] = data_root
        return args
