"""Images read from npz shards on demand: the same arrays as loading them, nothing loaded up front."""

from __future__ import annotations

import numpy as np
import pytest

from reparse_tf.data.npz_shards import ARRAY_KEYS, read_npz_shards, write_npz_shards
from reparse_tf.data.shard_images import ShardImages, select, streamable


def _arrays(n: int = 50, size: int = 8) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    gms = np.array([f"gm{i % 7}" for i in range(n)])
    return {"images": rng.integers(0, 256, (n, size, size, 3)).astype(np.uint8), "gm": gms,
            "gm_type": np.array(["GAN"] * n), "content": np.array(["faces"] * n), "fold": np.arange(n) % 4,
            "labels": rng.random((n, 25)).astype(np.float32),
            "path": np.array([f"gm{i % 7}/{i}.png" for i in range(n)])}


def test_rows_read_from_the_shards_equal_the_loaded_images(tmp_path):
    arrays = _arrays()
    write_npz_shards(arrays, tmp_path, shard_size=16)   # 4 shards, the last one short
    images = ShardImages.open(tmp_path)
    want = arrays["images"]
    assert images.shape == want.shape and len(images) == 50 and images.nbytes == want.nbytes
    rng = np.random.default_rng(1)
    idx = rng.integers(0, 50, 40)                       # across shards, repeated, unsorted
    np.testing.assert_array_equal(images[idx], want[idx])
    np.testing.assert_array_equal(images[10:35], want[10:35])
    np.testing.assert_array_equal(images[17], want[17])
    mask = rng.random(50) < 0.4
    view = images.subset(mask)                          # lazy: nothing read until indexed
    assert isinstance(view, ShardImages) and len(view) == mask.sum()
    np.testing.assert_array_equal(view[np.arange(len(view))[::-1]], want[mask][::-1])
    np.testing.assert_array_equal(np.asarray(view), want[mask])
    assert isinstance(select(want, mask), np.ndarray) and isinstance(select(images, mask), ShardImages)
    with pytest.raises(IndexError):
        images[np.ones(3, bool)]


def test_streamed_shards_keep_the_other_keys_in_memory_and_filter_by_gm(tmp_path):
    arrays = _arrays()
    write_npz_shards(arrays, tmp_path / "npz", shard_size=20)
    out = read_npz_shards(tmp_path, gms=["gm1", "gm3"], stream=True)
    keep = np.isin(arrays["gm"], ["gm1", "gm3"])
    assert isinstance(out["images"], ShardImages) and set(out) == set(ARRAY_KEYS)
    np.testing.assert_array_equal(out["images"][np.arange(keep.sum())], arrays["images"][keep])
    np.testing.assert_array_equal(out["labels"], arrays["labels"][keep])
    loaded = read_npz_shards(tmp_path, gms=["gm1", "gm3"])   # only the selected rows are read, as an array
    assert isinstance(loaded["images"], np.ndarray)
    np.testing.assert_array_equal(loaded["images"], arrays["images"][keep])


def test_compressed_shards_are_named_and_not_streamed(tmp_path):
    write_npz_shards(_arrays(), tmp_path, shard_size=100, compress=True)
    assert not streamable(tmp_path)
    with pytest.raises(ValueError, match="part-00000-of-00001.npz: compressed npz shard"):
        ShardImages.open(tmp_path)
    assert isinstance(read_npz_shards(tmp_path)["images"], np.ndarray)   # loading still works


def test_training_from_streamed_shards_matches_training_in_memory(layout64, tmp_path):
    from reparse_tf.data.ingest import run_ingest
    from reparse_tf.serving.inference import ModelParser
    from reparse_tf.training.parser_training import load_training_data, train

    examples = tmp_path / "ex"
    run_ingest(layout64, examples, image_size=64, n_folds=4, seed=0, output_format="npz")
    arrays, _, _ = load_training_data(examples, stream=None)   # uncompressed shards: streamed by default
    assert isinstance(arrays["images"], ShardImages)
    images = np.random.default_rng(0).integers(0, 256, (4, 64, 64, 3)).astype(np.uint8)
    preds = []
    for stream in (True, False):
        out = train(examples, None, fold=0, preset="tiny", out_dir=tmp_path / f"m{stream}", epochs=1, verbose=0,
                    stream=stream)
        preds.append(ModelParser.load(out).predict(images).continuous)
    np.testing.assert_allclose(preds[0], preds[1], atol=1e-5)
