"""Validation of a RED layout (``ROOT/<gm>/*.png|jpg|...`` + ``ROOT/labels.csv``) before any work.

Shared by the TFRecord ingest and the numpy data path; numpy + stdlib only. Every structural
problem (folder without a labels row, labels row without a folder, empty GM folder, invalid
label values) is collected and raised in ONE :class:`LayoutError`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from reparse_tf.data.folds import resolve_folds
from reparse_tf.data.labels import LabelError, LabelTable, read_labels
from reparse_tf.data.schema import HyperparameterSchema, load_schema


class LayoutError(ValueError):
    """The dataset layout is inconsistent; the message lists every problem found."""


@dataclass
class Layout:
    """A validated RED layout.

    Attributes:
        root: dataset root.
        labels: label table restricted to (and ordered like) ``gms``.
        gms: GM names (sorted).
        files: ``{gm: [image paths, sorted]}`` (files with a declared image extension).
        ignored: ``[{path, reason}]`` files in GM folders that are not images by extension (paths
            relative to ``root``, like every path in the manifest).
        folds: ``{gm: fold}`` from :func:`reparse_tf.data.folds.resolve_folds` over ALL GMs of the layout.
    """

    root: Path
    labels: LabelTable
    gms: list[str]
    files: dict[str, list[Path]]
    ignored: list[dict] = field(default_factory=list)
    folds: dict[str, int] = field(default_factory=dict)

    @property
    def n_images(self) -> int:
        return sum(len(v) for v in self.files.values())

    def items(self) -> list[tuple[str, str]]:
        """``(path, gm)`` of every candidate image, sorted."""
        return [(str(p), gm) for gm in self.gms for p in self.files[gm]]


def scan_layout(root: str | Path, labels: str | Path | None = None, n_folds: int | str = 4, seed: int = 0,
                gms: list[str] | None = None, schema: HyperparameterSchema | None = None) -> Layout:
    """Validate ``root`` and list its images; raise :class:`LayoutError` listing every problem.

    Args:
        root: dataset root with one folder per GM.
        labels: label table (default ``root/labels.csv``).
        n_folds, seed: fold assignment (over all GMs of the layout, before any ``gms`` filter): a number
            of random folds, ``red116`` (the official test sets) or a ``split,gm`` fold-table path.
        gms: optional subset of GMs to keep (unknown names are an error).
    """
    schema = schema or load_schema()
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"{root}: dataset root not found")
    label_path = Path(labels) if labels is not None else root / "labels.csv"
    try:
        table = read_labels(label_path, schema)
    except LabelError as exc:
        raise LayoutError(str(exc)) from None
    exts = {e.lower() for e in schema.image_extensions}
    known = ", ".join(sorted(exts))
    folders = sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith((".", "_")))
    problems: list[str] = []
    no_row = [f for f in folders if f not in set(table.gms)]
    no_folder = [g for g in table.gms if g not in set(folders)]
    if no_row:
        problems.append(f"GM folders without a row in {label_path}: {', '.join(no_row)}")
    if no_folder:
        problems.append(f"rows of {label_path} without a GM folder under {root}: {', '.join(no_folder)}")
    files: dict[str, list[Path]] = {}
    ignored: list[dict] = []
    empty = []
    for gm in sorted(set(folders) & set(table.gms)):
        found = []
        for p in sorted((root / gm).rglob("*")):
            if not p.is_file() or p.name.startswith("."):
                continue
            if p.suffix.lower() in exts:
                found.append(p)
            else:
                reason = f"not an image file extension ({p.suffix or 'none'}); expected one of {known}"
                ignored.append({"path": str(p.relative_to(root)), "reason": reason})
        if not found:
            empty.append(gm)
        files[gm] = found
    if empty:
        problems.append(f"GM folders with no image files: {', '.join(str(root / g) for g in empty)}")
    if problems:
        raise LayoutError(f"invalid dataset layout {root}:\n  " + "\n  ".join(problems))
    all_gms = sorted(files)
    table = table.subset(all_gms)
    try:
        folds = resolve_folds(n_folds, all_gms, table.gm_types, seed=seed)
    except (ValueError, FileNotFoundError) as exc:
        raise LayoutError(f"{root}: {exc}") from None
    if gms is not None:
        unknown = [g for g in gms if g not in files]
        if unknown:
            raise LayoutError(f"unknown GMs requested (not in {root}): {', '.join(unknown)}")
        keep = sorted(set(gms))
        files = {g: files[g] for g in keep}
        ignored = [r for r in ignored if Path(r["path"]).parts[0] in set(keep)]
        table = table.subset(keep)
        all_gms = keep
    return Layout(root, table, all_gms, files, ignored, folds)
