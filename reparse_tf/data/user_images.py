"""A user's own images: files and folders given on the command line, decoded exactly as the ingest
decodes them (:func:`reparse_tf.data.images.decode_bytes`: RGB, centre crop, resize to the model's size).

A file that cannot be used is named with the reason and skipped; the others are still returned.
numpy + Pillow only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from reparse_tf.data.images import ImageError, load_image

IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff"})


@dataclass
class UserImages:
    """Decoded images and what could not be used.

    Attributes:
        images: ``uint8 [N, size, size, 3]``.
        paths: the file of each image.
        folders: the folder of each image (the unit of ``--per-folder`` aggregation).
        skipped: ``(path, reason)`` of every file or argument that gave no image.
        notes: ``(path, note)`` warnings of decoded images (e.g. upscaled).
    """

    images: np.ndarray
    paths: list[str]
    folders: list[str]
    skipped: list[tuple[str, str]] = field(default_factory=list)
    notes: list[tuple[str, str]] = field(default_factory=list)
    ignored: int = 0


def image_files(inputs: list[str | Path]) -> tuple[list[Path], list[tuple[str, str]], int]:
    """(image files, unusable arguments with the reason, files ignored for their suffix) of files and
    folders. Folders are searched recursively for files with an image suffix (hidden files skipped);
    a file named explicitly is always tried, whatever its suffix."""
    files: list[Path] = []
    bad: list[tuple[str, str]] = []
    ignored = 0
    for item in inputs:
        p = Path(item)
        if p.is_dir():
            found = sorted(f for f in p.rglob("*") if f.is_file() and not f.name.startswith("."))
            images = [f for f in found if f.suffix.lower() in IMAGE_SUFFIXES]
            ignored += len(found) - len(images)
            if not images:
                bad.append((str(p), "folder holds no image files (" + ", ".join(sorted(IMAGE_SUFFIXES)) + ")"))
            files += images
        elif p.is_file():
            files.append(p)
        else:
            bad.append((str(p), "no such file or folder"))
    seen: set[Path] = set()
    unique = [f for f in files if not (f.resolve() in seen or seen.add(f.resolve()))]
    return unique, bad, ignored


def load_user_images(inputs: list[str | Path], image_size: int) -> UserImages:
    """Decode every image of ``inputs`` (files or folders) to ``image_size``; bad files are skipped."""
    files, skipped, ignored = image_files(inputs)
    arrays, paths, folders, notes = [], [], [], []
    for f in files:
        try:
            decoded = load_image(f, image_size)
        except ImageError as exc:
            skipped.append((str(f), str(exc)))
            continue
        arrays.append(decoded.array)
        paths.append(str(f))
        folders.append(str(f.parent))
        notes += [(str(f), w) for w in decoded.warnings]
    images = np.stack(arrays) if arrays else np.zeros((0, image_size, image_size, 3), np.uint8)
    return UserImages(images, paths, folders, skipped, notes, ignored)
