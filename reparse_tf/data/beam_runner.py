"""The Beam pipeline every Beam step (ingest, cluster ground truth) runs on.

``DirectRunner`` (the default) goes straight to Beam's in-process FnApiRunner, which is what the
DirectRunner runs batch pipelines on: Beam's own DirectRunner first tries to download and start the Go
Prism runner, which on an offline host fails before it falls back. ``--direct_num_workers`` /
``--direct_running_mode`` still apply. Any other runner (Dataflow, Flink, Spark, Portable) and every
other option go to Beam unchanged.
"""

from __future__ import annotations

DIRECT = ("DirectRunner", "direct")


def runner_name(beam_args: list[str] | None, default: str = "DirectRunner") -> str:
    """The runner ``beam_args`` ask for (the last ``--runner``), else ``default``."""
    name, args = default, list(beam_args or [])
    for i, arg in enumerate(args):
        if arg.startswith("--runner="):
            name = arg.split("=", 1)[1]
        elif arg == "--runner" and i + 1 < len(args):
            name = args[i + 1]
    return name


def beam_pipeline(beam_args: list[str] | None, runner: str = "DirectRunner"):
    """A ``beam.Pipeline`` for ``beam_args`` (``runner`` when they name none)."""
    import apache_beam as beam
    from apache_beam.options.pipeline_options import PipelineOptions

    name = runner_name(beam_args, runner)
    options = PipelineOptions(["--runner", name, *(beam_args or [])])
    if name in DIRECT:
        from apache_beam.runners.portability.fn_api_runner import FnApiRunner

        return beam.Pipeline(runner=FnApiRunner(), options=options)
    return beam.Pipeline(options=options)
