"""The ingest's ``manifest.json``: the one reader of an examples directory's summary (image size,
folds, counts per GM, skipped files) for every module that needs it."""

from __future__ import annotations

import json
from pathlib import Path

MANIFEST = "manifest.json"


def manifest_path(examples_dir: str | Path) -> Path:
    return Path(examples_dir) / MANIFEST


def has_manifest(examples_dir: str | Path) -> bool:
    return manifest_path(examples_dir).is_file()


def read_manifest(examples_dir: str | Path) -> dict:
    """The manifest as a dict; a missing or unreadable file is an error naming it."""
    path = manifest_path(examples_dir)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: not an examples directory (no {MANIFEST}; run `reparse ingest`)")
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise ValueError(f"{path}: unreadable manifest: {exc}") from exc


def manifest_folds(examples_dir: str | Path) -> dict[str, int] | None:
    """``{gm: fold}`` of an examples directory, None when it has no manifest or no folds."""
    if not has_manifest(examples_dir):
        return None
    folds = read_manifest(examples_dir).get("folds", {})
    try:
        return {str(g): int(f) for g, f in folds.items()} or None
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{manifest_path(examples_dir)}: bad 'folds' entry: {exc}") from exc
