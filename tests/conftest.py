"""Shared fixtures: a synthetic RED layout (plumbing) and the GM zoo's `tiny` preset (science)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def _synthetic(tmp_path_factory, size: int) -> Path:
    from reparse_tf.synthetic import make_synthetic_layout

    root = tmp_path_factory.mktemp(f"synthetic{size}")
    make_synthetic_layout(root, n_gms=8, images_per_gm=6, size=size, seed=0)
    return root


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

    root = tmp_path_factory.mktemp("zoo_tiny")
    build_zoo(root, preset="tiny", seed=0)
    return root


@pytest.fixture(scope="session")
def tiny_examples(tiny_zoo, tmp_path_factory) -> Path:
    """The tiny zoo ingested to TFRecords (4 folds, 64x64)."""
    from reparse_tf.ingest import run_ingest

    out = tmp_path_factory.mktemp("examples_tiny")
    run_ingest(tiny_zoo, out, image_size=64, n_folds=4, seed=0)
    return out
