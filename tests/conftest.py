"""Shared fixtures: a synthetic RED layout (plumbing) and the GM zoo's `tiny` preset (science)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def _built_once(tmp_path_factory, name: str, build: Callable[[Path], object]) -> Path:
    """``build(folder)`` once per test run: under pytest-xdist the workers share the run's base temp
    folder and take turns on a file lock, so the first builds and the others reuse its result."""
    if os.environ.get("PYTEST_XDIST_WORKER") is None:
        folder = tmp_path_factory.mktemp(name)
        build(folder)
        return folder
    from filelock import FileLock

    folder = tmp_path_factory.getbasetemp().parent / name
    with FileLock(f"{folder}.lock"):
        if not (folder.parent / f"{name}.done").is_file():
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir()
            build(folder)
            (folder.parent / f"{name}.done").touch()
    return folder


def _synthetic(tmp_path_factory, size: int) -> Path:
    from reparse_tf.data.synthetic import make_synthetic_layout

    return _built_once(tmp_path_factory, f"synthetic{size}",
                       lambda root: make_synthetic_layout(root, n_gms=8, images_per_gm=6, size=size, seed=0))


@pytest.fixture(scope="session")
def synthetic_layout(tmp_path_factory) -> Path:
    """8 GMs x 6 PNGs of 32x32 with random valid labels (read-only: copy before mutating)."""
    return _synthetic(tmp_path_factory, 32)


@pytest.fixture(scope="session")
def layout64(tmp_path_factory) -> Path:
    """The same synthetic GMs at 64x64 (the training presets' image size)."""
    return _synthetic(tmp_path_factory, 64)


@pytest.fixture(scope="session")
def tiny_zoo(tmp_path_factory) -> Path:
    """The zoo's `tiny` preset, built once per test session (read-only)."""
    from reparse_tf.zoo.build import build_zoo

    return _built_once(tmp_path_factory, "zoo_tiny", lambda root: build_zoo(root, preset="tiny", seed=0))


@pytest.fixture(scope="session")
def tiny_examples(tiny_zoo, tmp_path_factory) -> Path:
    """The tiny zoo ingested to TFRecords (4 folds, 64x64)."""
    from reparse_tf.data.ingest import run_ingest

    return _built_once(tmp_path_factory, "examples_tiny",
                       lambda out: run_ingest(tiny_zoo, out, image_size=64, n_folds=4, seed=0))


@pytest.fixture(scope="session")
def trained(layout64, tmp_path_factory) -> Path:
    """A `tiny`-preset model trained 2 epochs on fold 0 of ``layout64`` (read-only)."""
    from reparse_tf.training.parser_training import train

    folder = _built_once(tmp_path_factory, "model",
                         lambda d: train(layout64, None, fold=0, preset="tiny", out_dir=d / "m", epochs=2, verbose=0))
    return folder / "m"


@pytest.fixture
def image_folder(tmp_path) -> Path:
    """Two folders of PNGs (one 80x60 RGBA), a corrupt PNG and a text file."""
    import numpy as np
    from PIL import Image

    from reparse_tf.data.images import encode_png as _png

    rng = np.random.default_rng(0)
    for d in ("a", "b"):
        (tmp_path / d).mkdir()
        for k in range(3):
            (tmp_path / d / f"{k}.png").write_bytes(_png(rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)))
    Image.fromarray(rng.integers(0, 256, (60, 80, 4), dtype=np.uint8), "RGBA").save(tmp_path / "b" / "rgba.png")
    (tmp_path / "a" / "corrupt.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 40)
    (tmp_path / "a" / "notes.txt").write_text("not an image")
    return tmp_path


@pytest.fixture(scope="session")
def benchmark_script() -> Callable[[str], object]:
    """``benchmark_script(name)``: the module of ``benchmarks/<name>.py`` (scripts, not a package)."""
    import importlib.util

    def load(name: str):
        spec = importlib.util.spec_from_file_location(name, Path(__file__).parents[1] / "benchmarks" / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module

    return load
