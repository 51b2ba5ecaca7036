"""The packaged default models: a parse, a detect and an attribute network trained on the `standard` zoo by
``reparse defaults build``, shipped inside the package (``reparse_tf/default_models/<task>/``) so that the
user's commands work offline without ``--model``. Each carries the model card of its evaluation on GMs it
never saw."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from reparse_tf.serving.model_card import CARD_FILE

TASKS = ("parse", "detect", "attribute")
PACKAGED_DIR = Path(__file__).resolve().parent.parent / "default_models"
# what a user's command needs from a model dir; checkpoints and the training history stay behind
_SKIP = {"history.json"}
BUILD_COMMAND = "reparse defaults build --out DIR --install"


def packaged_dir(task: str, root: str | Path | None = None) -> Path:
    """Where the default ``task`` model lives (``root``: another package dir, for tests)."""
    if task not in TASKS:
        raise ValueError(f"unknown task {task!r}; known: {', '.join(TASKS)}")
    return Path(root or PACKAGED_DIR) / task


def resolve_model(model: str | Path | None, task: str, root: str | Path | None = None) -> Path:
    """``model`` when given, else the packaged default ``task`` model (a clear error when there is none)."""
    if model:
        return Path(model)
    path = packaged_dir(task, root)
    if not (path / "model.keras").is_file():
        raise FileNotFoundError(f"no packaged default {task} model in {path}: pass --model DIR (a model trained "
                                f"with `reparse train` or `reparse pipeline run`), or build the defaults with "
                                f"`{BUILD_COMMAND}`")
    return path


def install(model_dir: str | Path, task: str, card: str | Path | None = None, root: str | Path | None = None
            ) -> Path:
    """Copy a trained model dir (``model.keras`` and its JSON files) and its model card into the package as the
    default ``task`` model. Written under a temporary name and renamed when complete, so a failed copy
    leaves the previous default in place."""
    src = Path(model_dir)
    if not (src / "model.keras").is_file():
        raise FileNotFoundError(f"{src}: not a trained model dir (no model.keras)")
    dest = packaged_dir(task, root)
    tmp = dest.with_name(f".{dest.name}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    from reparse_tf.model.residual_detector import RESIDUAL_DETECTOR_FILE
    from reparse_tf.model.set_fingerprint import SET_PARSER_FILES
    from reparse_tf.model.spectral_parser import SPECTRAL_PARSER_FILES

    # beside the JSON files (the companions' .json among them): a parse model's set and spectral parsers, a
    # detect model's residual detector
    arrays = [src / n for n in (SET_PARSER_FILES[0], SPECTRAL_PARSER_FILES[0], RESIDUAL_DETECTOR_FILE)
              if (src / n).is_file()]
    for f in [src / "model.keras", *sorted(src.glob("*.json")), *arrays]:
        if f.name not in _SKIP:
            shutil.copy2(f, tmp / f.name)
    if card is not None:
        shutil.copy2(card, tmp / CARD_FILE)
    old = dest.with_name(f".{dest.name}.old")
    shutil.rmtree(old, ignore_errors=True)
    if dest.exists():
        dest.rename(old)
    tmp.rename(dest)
    shutil.rmtree(old, ignore_errors=True)
    return dest


def install_beside_parse(src_dir: str | Path, files: tuple[str, ...], root: str | Path | None = None) -> Path:
    """Copy a saved companion parser of the parse model (``files`` of ``src_dir``: the set parser's
    ``SET_PARSER_FILES``, the spectral parser's ``SPECTRAL_PARSER_FILES``) beside the packaged parse model, each
    file under a temporary name and renamed when complete. The parse model must be there: ``install(...,
    "parse")`` replaces its folder, companions included, so they go in after it."""
    dest = packaged_dir("parse", root)
    if not (dest / "model.keras").is_file():
        raise FileNotFoundError(f"{dest}: no packaged parse model to put {files[0]} beside (build it first)")
    for name in files:
        tmp = dest / f".{name}.tmp"
        shutil.copy2(Path(src_dir) / name, tmp)
        tmp.replace(dest / name)
    return dest


def listing(root: str | Path | None = None) -> list[dict]:
    """Per task: its path, whether it is there, its size in bytes and its model card (None when absent)."""
    rows = []
    for task in TASKS:
        path = packaged_dir(task, root)
        present = (path / "model.keras").is_file()
        card = path / CARD_FILE
        rows.append({"task": task, "path": str(path), "present": present,
                     "bytes": sum(f.stat().st_size for f in path.iterdir()) if present else 0,
                     "card": json.loads(card.read_text()) if card.is_file() else None})
    return rows
