"""Compile the reparse pipeline for Kubeflow Pipelines (KFP v2 IR YAML).

The compiled parameters carry the defaults of :class:`pipeline.configs.PipelineConfig`, overridden
by the given config; Beam components take ``beam_args`` as a list, so a Dataflow/Flink/Spark run
only changes that parameter (e.g. ``--runner=DataflowRunner --project=P --region=R
--temp_location=gs://B/tmp``). Submit with the KFP client or the Kubeflow UI.
"""

from __future__ import annotations

from pathlib import Path

from pipeline.configs import PipelineConfig

DEFAULT_OUTPUT = "reparse_pipeline.yaml"


def compile_pipeline(out: str | Path = DEFAULT_OUTPUT, config: PipelineConfig | None = None) -> Path:
    """Compile the pipeline (the zoo variant, or the import variant when ``config.data_root`` is set) to ``out``."""
    from kfp import compiler

    from pipeline.pipeline import pipeline_for

    config = config or PipelineConfig(beam_args=[])
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".tmp-{out.name}")
    compiler.Compiler().compile(pipeline_for(config.data_root, config.task), str(tmp),
                                pipeline_parameters=config.arguments())
    tmp.replace(out)
    return out
