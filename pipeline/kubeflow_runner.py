"""Compile the reparse pipeline for Kubeflow Pipelines (KFP v2 IR YAML).

The compiled parameters carry the defaults of :class:`reparse_tf.pipeline.configs.PipelineConfig`, overridden
by the given config; Beam components take ``beam_args`` as a list, so a Dataflow/Flink/Spark run
only changes that parameter (e.g. ``--runner=DataflowRunner --project=P --region=R
--temp_location=gs://B/tmp``). Every component runs in one container image: the repository's
``Dockerfile`` builds it, ``image`` names it. Submit with the KFP client or the Kubeflow UI.
"""

from __future__ import annotations

from pathlib import Path

from reparse_tf.pipeline.configs import PipelineConfig

DEFAULT_OUTPUT = "reparse_pipeline.yaml"


def compile_pipeline(out: str | Path = DEFAULT_OUTPUT, config: PipelineConfig | None = None,
                     image: str | None = None) -> Path:
    """Compile the pipeline (the zoo variant, or the import variant when ``config.data_root`` is set) to
    ``out``; ``image``: the container image of every component (default ``$REPARSE_BASE_IMAGE`` or
    ``reparse-python:0.1.0``)."""
    import yaml
    from kfp import compiler

    from reparse_tf.pipeline.pipeline import pipeline_for

    config = config or PipelineConfig(beam_args=[])
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".tmp-{out.name}")
    compiler.Compiler().compile(pipeline_for(config.data_root, config.task), str(tmp),
                                pipeline_parameters=config.arguments())
    if image:  # set after compiling: the component specs took their image when first imported
        docs = list(yaml.safe_load_all(tmp.read_text()))
        for doc in docs:
            for executor in ((doc or {}).get("deploymentSpec") or {}).get("executors", {}).values():
                if "container" in executor:
                    executor["container"]["image"] = image
        tmp.write_text(yaml.safe_dump_all(docs, sort_keys=False))
    tmp.replace(out)
    return out
