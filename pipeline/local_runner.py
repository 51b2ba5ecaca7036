"""Run the reparse pipeline locally: kfp.local with SubprocessRunner(use_venv=False) and Beam's DirectRunner.

Every component runs as a subprocess of the current interpreter (so it imports the installed
``reparse_tf``; nothing is pip-installed, works offline). Artifacts land under
``<out>/pipeline_root/<run>/<task>/<artifact>``; the final outputs are linked to stable paths:
``<out>/report`` (the evaluation), ``<out>/model`` (the trained model directory) and
``<out>/serving/<model_name>/<version>/`` (the pushed SavedModel, unless ``serving_dir`` says
elsewhere).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from components._common import ERROR_LOG_ENV
from pipeline.configs import PipelineConfig

_ANSI = re.compile(r"\x1b\[[0-9;]*m")

# stable names under --out for the artifacts a user looks for first
STABLE_LINKS = {"evaluation": "report", "model": "model", "blessing": "blessing"}


class PipelineFailed(RuntimeError):
    """A local pipeline run failed; the message names the failed step."""


@dataclass
class LocalRun:
    """Where a local run put everything."""

    out: Path
    artifacts: dict[str, Path]
    links: dict[str, Path]
    serving_dir: Path
    pushed: dict
    seconds: float

    def summary(self) -> str:
        lines = [f"pipeline finished in {self.seconds:.0f}s; outputs under {self.out}"]
        lines += [f"  artifact {name:<13} {path}" for name, path in self.artifacts.items()]
        lines += [f"  {name:<22} -> {path}" for name, path in self.links.items()]
        if self.pushed.get("pushed"):
            lines.append(f"  pushed SavedModel       {self.pushed.get('pushed_destination')}")
        else:
            lines.append(f"  not pushed: {self.pushed.get('reason', 'see push.json')}")
        return "\n".join(lines)


def run_local(config: PipelineConfig, out: str | Path) -> LocalRun:
    """Run the whole pipeline for ``config`` with artifacts under ``out``; return where they went.

    ``config.serving_dir`` empty pushes to ``<out>/serving``.

    Raises:
        PipelineFailed: a step failed (the message names it; its log is printed above).
    """
    from kfp import local

    from pipeline.pipeline import pipeline_for

    out = Path(out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    serving_dir = Path(config.serving_dir).resolve() if config.serving_dir else out / "serving"
    args = config.arguments() | {"serving_dir": str(serving_dir)}
    if "data_root" in args:
        args["data_root"] = str(Path(args["data_root"]).resolve())
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    workspace = out / "workspace"
    workspace.mkdir(exist_ok=True)
    local.init(runner=local.SubprocessRunner(use_venv=False), pipeline_root=str(out / "pipeline_root"),
               workspace_root=str(workspace), raise_on_error=True)
    error_log = out / "errors.log"
    error_log.unlink(missing_ok=True)
    os.environ[ERROR_LOG_ENV] = str(error_log)
    start = time.perf_counter()
    try:
        task = pipeline_for(config.data_root, config.task)(**args)
    except RuntimeError as exc:
        reasons = error_log.read_text().strip() if error_log.is_file() else "see the step's log above"
        raise PipelineFailed(f"{_ANSI.sub('', str(exc))} {reasons} (artifacts so far: {out / 'pipeline_root'})") \
            from exc
    finally:
        os.environ.pop(ERROR_LOG_ENV, None)
    seconds = time.perf_counter() - start
    artifacts = {name: Path(artifact.path) for name, artifact in task.outputs.items()}
    links = {stable: _link(artifacts[name], out / stable) for name, stable in STABLE_LINKS.items()}
    pushed = json.loads((artifacts["pushed_model"] / "push.json").read_text())
    run = LocalRun(out, artifacts, links, serving_dir, pushed, seconds)
    (out / "run.json").write_text(json.dumps({
        "config": config.arguments(), "seconds": round(seconds, 1), "pushed": pushed,
        "artifacts": {k: str(v) for k, v in artifacts.items()}, "links": {k: str(v) for k, v in links.items()},
    }, indent=2))
    return run


def _link(target: Path, link: Path) -> Path:
    """Point ``link`` at ``target`` (a symlink; a copy where symlinks are not allowed)."""
    if link.is_symlink() or link.is_file():
        link.unlink()
    elif link.is_dir():
        shutil.rmtree(link)
    try:
        link.symlink_to(target, target_is_directory=target.is_dir())
    except OSError:
        (shutil.copytree if target.is_dir() else shutil.copy2)(target, link)
    return link
