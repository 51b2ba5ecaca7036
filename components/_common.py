"""What every pipeline component shares: how it calls the library, reports progress and fails.

A component body (the ``@dsl.component`` function, which KFP serialises and runs in a fresh
interpreter) only imports its executor and calls it; the executor calls one ``reparse_tf`` entry
point through :func:`call`, which

* resolves the entry point by name (``"reparse_tf.data.ingest:run_ingest"``), so the same component
  runs the real library or, in tests, a stand-in module named by ``REPARSE_COMPONENT_STANDINS``
  (the variable travels into the component subprocess; unset in production);
* prints one header line with the step, its inputs and where its output goes, and the time taken;
* turns any exception into :class:`ComponentError` whose message names the step, the library
  function and the original error, so a failed pipeline says which step failed and why.

Only this file imports nothing heavier than the standard library: component specs stay cheap to
import and compile.
"""

from __future__ import annotations

import importlib
import os
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

# Container image the components run in on Kubeflow: python 3.11 + `pip install reparse` (the
# repository's Dockerfile). Read once, at import, because KFP bakes it into the component spec;
# `reparse pipeline compile --image` overrides it in the compiled YAML.
BASE_IMAGE = os.environ.get("REPARSE_BASE_IMAGE", "reparse-python:0.1.0")
STANDINS_ENV = "REPARSE_COMPONENT_STANDINS"
# set by the local runner: failed steps append their one-line error there, so the run's error says why
ERROR_LOG_ENV = "REPARSE_ERROR_LOG"


class ComponentError(RuntimeError):
    """A pipeline step failed; the message names the step and the reason."""


def component_kwargs() -> dict[str, Any]:
    """Keyword arguments of ``dsl.component`` shared by every reparse component.

    ``install_kfp_package=False``: the image (or, locally, the current venv) already has kfp and
    reparse; nothing is pip-installed at run time, so local runs work offline.
    """
    return {"base_image": BASE_IMAGE, "install_kfp_package": False}


def resolve(target: str) -> Callable[..., Any]:
    """The function named ``"package.module:function"``, or its stand-in when tests set one.

    ``REPARSE_COMPONENT_STANDINS=some.module`` makes ``resolve("reparse_tf.x:f")`` return
    ``some.module.f`` when that module defines ``f``.
    """
    module_name, _, func_name = target.partition(":")
    standins = os.environ.get(STANDINS_ENV)
    if standins:
        module = importlib.import_module(standins)
        if hasattr(module, func_name):
            return getattr(module, func_name)
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        raise ComponentError(f"library entry point {target} is not available: {exc}") from exc
    try:
        return getattr(module, func_name)
    except AttributeError:
        raise ComponentError(f"library entry point {target} is not available: {module_name} has no "
                             f"{func_name!r}") from None


def call(step: str, target: str, /, **kwargs: Any) -> Any:
    """Run the library entry point ``target`` for pipeline step ``step`` with ``kwargs``.

    Prints what runs and where its outputs go; re-raises failures as :class:`ComponentError`.
    """
    shown = ", ".join(f"{k}={_short(v)}" for k, v in kwargs.items())
    print(f"[reparse:{step}] {target}({shown})", flush=True)
    func = resolve(target)
    start = time.perf_counter()
    try:
        result = func(**kwargs)
    except Exception as exc:  # noqa: BLE001 - every failure becomes one clear message
        msg = f"[reparse:{step}] step '{step}' failed in {target}: {type(exc).__name__}: {exc}"
        print(msg, file=sys.stderr, flush=True)
        if os.environ.get(ERROR_LOG_ENV):
            with open(os.environ[ERROR_LOG_ENV], "a") as log:
                log.write(msg.replace("\n", " ") + "\n")
        raise ComponentError(msg) from exc
    print(f"[reparse:{step}] done in {time.perf_counter() - start:.1f}s", flush=True)
    return result


def announce(step: str, **outputs: str | Path) -> None:
    """Print where a step wrote each output artifact."""
    for name, path in outputs.items():
        print(f"[reparse:{step}] output {name}: {path}", flush=True)


def scalar_metadata(values: Mapping[str, Any] | None, prefix: str = "") -> dict[str, Any]:
    """The JSON scalars (and short scalar lists) of ``values``, flattened with dotted keys.

    Artifact metadata shows up in the KFP UI; large nested values (per-GM tables) are left to
    the artifact's files.
    """
    out: dict[str, Any] = {}
    for key, value in (values or {}).items():
        name = f"{prefix}{key}"
        if isinstance(value, bool | int | float | str) or value is None:
            out[name] = value
        elif isinstance(value, Mapping) and len(value) <= 50:
            out.update(scalar_metadata(value, prefix=f"{name}."))
        elif isinstance(value, list | tuple) and len(value) <= 20 and all(
                isinstance(v, bool | int | float | str) for v in value):
            out[name] = list(value)
    return out


def _short(value: Any, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
