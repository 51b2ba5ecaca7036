"""Run the reparse pipeline locally: kfp.local with SubprocessRunner(use_venv=False) and Beam's DirectRunner.

Every component runs as a subprocess of the current interpreter (so it imports the installed
``reparse_tf``; nothing is pip-installed, works offline). Artifacts land under
``<out>/pipeline_root/<run>/<task>/<artifact>``; the final outputs are linked to stable paths:
``<out>/report`` (the evaluation), ``<out>/model`` (the trained model directory) and
``<out>/serving/<model_name>/<version>/`` (the pushed SavedModel, unless ``serving_dir`` says
elsewhere).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from reparse_tf.components._common import ERROR_LOG_ENV
from reparse_tf.pipeline.configs import PipelineConfig

_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_STARTED = re.compile(r"Executing task '([\w-]+)'")
_FINISHED = re.compile(r"Task '([\w-]+)' finished with status (\w+)")
LOG_FILE = "pipeline.log"
_PREFIX = r"\[reparse pipeline]"  # escaped: rich would read "[reparse pipeline]" as markup

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


def run_local(config: PipelineConfig, out: str | Path, progress: bool = True) -> LocalRun:
    """Run the whole pipeline for ``config`` with artifacts under ``out``; return where they went.

    ``config.serving_dir`` empty pushes to ``<out>/serving``. The orchestrator's and the steps' output
    goes to ``<out>/pipeline.log``; the terminal gets one line per finished step with its time
    (``progress``).

    Raises:
        PipelineFailed: a step failed (the message names it; its log is printed above).
    """
    from kfp import local

    from reparse_tf.pipeline.pipeline import pipeline_for

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
        with _logged(out / LOG_FILE, progress):
            task = pipeline_for(config.data_root, config.task)(**args)
    except RuntimeError as exc:
        reasons = error_log.read_text().strip() if error_log.is_file() else f"see {out / LOG_FILE}"
        raise PipelineFailed(f"{_ANSI.sub('', str(exc))} {reasons} (log: {out / LOG_FILE}; artifacts so far: "
                             f"{out / 'pipeline_root'})") from exc
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


@contextlib.contextmanager
def _logged(log_path: Path, progress: bool) -> Iterator[None]:
    """Send the orchestrator's output (it prints every step's subprocess output through ``sys.stdout``)
    and anything written to file descriptors 1 and 2 to ``log_path``; meanwhile print one line per
    finished step, with its time, to the terminal."""
    from rich.console import Console

    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    terminal = os.fdopen(os.dup(saved[0]), "w", buffering=1)
    console = Console(file=terminal, highlight=False)
    stop = threading.Event()
    with log_path.open("a", buffering=1) as log, contextlib.redirect_stdout(log), contextlib.redirect_stderr(log):
        os.dup2(log.fileno(), 1)
        os.dup2(log.fileno(), 2)
        console.print(f"{_PREFIX} full log: {log_path}")
        follower = threading.Thread(target=_follow, args=(log_path, console, stop), daemon=True)
        if progress:
            follower.start()
        try:
            yield
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            stop.set()
            if progress:
                follower.join()
            for fd in saved:
                os.close(fd)
            terminal.close()


def _follow(log_path: Path, console, stop: threading.Event) -> None:
    """Turn the orchestrator's task lines of the growing log into one progress line per step."""
    started: dict[str, float] = {}
    with log_path.open("r", errors="replace") as fh:
        while True:
            line = fh.readline()
            if not line:
                if stop.is_set():
                    return
                time.sleep(0.2)
                continue
            text = _ANSI.sub("", line)
            if m := _STARTED.search(text):
                started[m.group(1)] = time.perf_counter()
            elif m := _FINISHED.search(text):
                step, status = m.groups()
                took = time.perf_counter() - started.get(step, time.perf_counter())
                mark = "[green]done[/green]" if status == "SUCCESS" else f"[red]{status.lower()}[/red]"
                console.print(f"{_PREFIX} {step:<22} {mark} in {took:6.1f} s")


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
