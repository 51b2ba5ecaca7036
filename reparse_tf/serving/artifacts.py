"""Writing artifacts: JSON under a temporary name, renamed when complete (numpy only)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np


def _json_default(o: Any) -> Any:
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def _lenient_default(o: Any) -> Any:
    try:
        return _json_default(o)
    except TypeError:
        return str(o)


def write_json(path: str | Path, payload: Any, indent: int = 2, strict: bool = True) -> Path:
    """Write ``payload`` as JSON to ``path`` atomically (``.<name>.tmp``, then rename); creates the
    parent folder. numpy scalars/arrays and paths are converted; other unknown objects raise
    ``TypeError`` unless ``strict=False``, which writes their ``str()``."""
    default = _json_default if strict else _lenient_default
    return write_text(path, json.dumps(payload, indent=indent, default=default))


def write_text(path: str | Path, text: str) -> Path:
    """Write ``text`` to ``path`` atomically (``.<name>.tmp``, then rename); creates the parent folder."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)
    return path


def versions(model_root: str | Path) -> list[int]:
    """The integer version folders of a TF Serving model root, ascending (``[]`` when there is none)."""
    return sorted(int(v.name) for v in Path(model_root).glob("*") if v.is_dir() and v.name.isdigit())


def saved_model_dir(path: str | Path) -> Path:
    """``path`` when it is a SavedModel, else its highest version folder (``path`` when it has none)."""
    p = Path(path)
    if (p / "saved_model.pb").is_file():
        return p
    found = versions(p)
    return p / str(found[-1]) if found else p
