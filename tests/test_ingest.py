"""ImageIngest: layout validation, bad images, atomic output, TFRecord + npz round trips."""

from __future__ import annotations

import csv
import io
import json
import shutil
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from reparse_tf.data.images import MAX_IMAGE_PIXELS, ImageError, decode_bytes
from reparse_tf.data.ingest import encode_example, run_ingest
from reparse_tf.data.labels import read_labels
from reparse_tf.data.layout import LayoutError, scan_layout
from reparse_tf.data.npz_shards import read_layout_arrays, read_npz_shards, write_npz_shards
from reparse_tf.data.schema import load_schema


def _copy(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst


def _png(arr: np.ndarray, mode: str | None = None) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(arr, mode).save(buf, format="PNG")
    return buf.getvalue()


def _bomb_png(width: int, height: int) -> bytes:
    """A tiny valid-looking PNG whose header declares ``width x height`` pixels."""
    data = bytearray(_png(np.zeros((8, 8, 3), np.uint8)))
    ihdr = bytes(data[12:17 + 12])  # b"IHDR" + 13 bytes of header fields
    new = b"IHDR" + struct.pack(">II", width, height) + ihdr[12:17]
    data[12:29] = new
    data[29:33] = struct.pack(">I", zlib.crc32(new) & 0xFFFFFFFF)
    return bytes(data)


def _rewrite_labels(root: Path, edit) -> None:
    path = root / "labels.csv"
    with path.open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    rows = edit(rows)
    with path.open("w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)


def _no_leftovers(out: Path) -> bool:
    return not out.exists() and not list(out.parent.glob(out.name + ".tmp-*"))


# -- good layout ------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def ingested(synthetic_layout, tmp_path_factory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("ingest") / "examples"
    return out, run_ingest(synthetic_layout, out, image_size=32, n_folds=4, seed=0)


def test_ingest_counts_and_files(ingested, synthetic_layout):
    out, m = ingested
    assert json.loads((out / "manifest.json").read_text()) == m
    assert m["n_images"] == 48 and m["counts"] == {f"syn{i:03d}": 6 for i in range(8)}
    assert sum(m["fold_counts"].values()) == 48 and set(m["folds"].values()) == {0, 1, 2, 3}
    assert m["skipped"] == [] and m["duplicates"] == [] and m["warnings"] == []
    assert sorted(p.name for p in (out / "tfrecords").iterdir()) == ["part-00000-of-00001.tfrecord.gz"]
    assert read_labels(out / "labels.csv").gms == read_labels(synthetic_layout / "labels.csv").gms
    feats = json.loads((out / "feature_schema.json").read_text())["features"]
    assert [k for k in feats if k in load_schema().names] == load_schema().names
    assert not list(out.parent.glob("examples.tmp-*"))


def test_tfrecords_decode_to_labels_and_pixels(ingested, synthetic_layout):
    from reparse_tf.data.examples import load_arrays, read_examples

    out, m = ingested
    a = load_arrays(out)
    table = read_labels(synthetic_layout / "labels.csv")
    assert a["images"].shape == (48, 32, 32, 3) and a["images"].dtype == np.uint8
    np.testing.assert_allclose(a["labels"], table.values[[table.row(g) for g in a["gm"]]], rtol=1e-6)
    assert [m["folds"][g] for g in a["gm"]] == a["fold"].tolist()
    first = np.asarray(Image.open(synthetic_layout / a["path"][0]).convert("RGB"))
    np.testing.assert_array_equal(a["images"][0], first)  # same size: pixels untouched
    one = load_arrays(out, gms=["syn003"])
    assert set(one["gm"]) == {"syn003"} and len(one["gm"]) == 6
    n_fold0 = sum(1 for _ in read_examples(out, folds=[0]))
    assert n_fold0 == m["fold_counts"]["0"]


def test_encode_example_matches_tensorflow():
    import tensorflow as tf

    feats = {"image": b"\x00\x01png", "gm": "g", "fold": 3, "neg": -2, "x": 1.5, "y": [0.25, 2.0]}
    ex = tf.train.Example.FromString(encode_example(feats)).features.feature
    assert ex["image"].bytes_list.value == [b"\x00\x01png"] and ex["gm"].bytes_list.value == [b"g"]
    assert ex["fold"].int64_list.value == [3] and ex["neg"].int64_list.value == [-2]
    assert list(ex["x"].float_list.value) == [1.5] and list(ex["y"].float_list.value) == [0.25, 2.0]


def test_npz_path_matches_tfrecords(ingested, synthetic_layout, tmp_path):
    from reparse_tf.data.examples import load_arrays

    out, _ = ingested
    direct = read_layout_arrays(synthetic_layout, image_size=32, n_folds=4, seed=0)
    tf_arrays = load_arrays(out)
    for k in ("gm", "gm_type", "content", "path", "fold"):
        assert direct[k].tolist() == tf_arrays[k].tolist(), k
    np.testing.assert_array_equal(direct["images"], tf_arrays["images"])
    np.testing.assert_allclose(direct["labels"], tf_arrays["labels"], rtol=1e-6)
    paths = write_npz_shards(direct, tmp_path / "shards", shard_size=20)
    assert len(paths) == 3
    back = read_npz_shards(tmp_path / "shards")
    assert all(np.array_equal(back[k], direct[k]) for k in direct)
    sub = read_layout_arrays(synthetic_layout, image_size=32, gms=["syn001"])
    assert sub["fold"].tolist() == [direct["fold"][direct["gm"] == "syn001"][0]] * 6


def test_ingest_npz_format(synthetic_layout, tmp_path):
    m = run_ingest(synthetic_layout, tmp_path / "npzout", image_size=32, output_format="npz")
    a = read_npz_shards(tmp_path / "npzout")
    assert m["format"] == "npz" and len(a["images"]) == m["n_images"] == 48
    assert {g: int(f) for g, f in zip(a["gm"], a["fold"], strict=True)} == m["folds"]


# -- bad images ----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def bad_ingest(synthetic_layout, tmp_path_factory) -> tuple[Path, dict]:
    root = _copy(synthetic_layout, tmp_path_factory.mktemp("bad") / "layout")
    good = (root / "syn000" / "0000.png").read_bytes()
    rng = np.random.default_rng(0)
    (root / "syn000" / "corrupt.png").write_bytes(rng.bytes(500))
    (root / "syn000" / "truncated.png").write_bytes(good[: len(good) // 2])
    (root / "syn000" / "notes.txt").write_text("not an image")
    (root / "syn001" / "gray.png").write_bytes(_png(rng.integers(0, 256, (32, 32), dtype=np.uint8), "L"))
    (root / "syn001" / "rgba.png").write_bytes(_png(rng.integers(0, 256, (32, 32, 4), dtype=np.uint8), "RGBA"))
    Image.fromarray(rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)).convert("P").save(root / "syn001" / "pal.png")
    Image.fromarray(np.full((32, 32), 65535, np.uint16)).save(root / "syn001" / "deep16.png")
    (root / "syn002" / "small.png").write_bytes(_png(rng.integers(0, 256, (16, 16, 3), dtype=np.uint8)))
    (root / "syn002" / "bomb.png").write_bytes(_bomb_png(20000, 20000))
    (root / "syn002" / "bomb_warn.png").write_bytes(_bomb_png(9000, 9000))
    (root / "syn003" / "dup.png").write_bytes(good)
    out = tmp_path_factory.mktemp("bad_out") / "examples"
    return out, run_ingest(root, out, image_size=32, n_folds=4, seed=0)


def test_bad_images_skipped_with_reasons(bad_ingest):
    _, m = bad_ingest
    reasons = {s["path"]: s["reason"] for s in m["skipped"]}
    assert set(reasons) == {"syn000/corrupt.png", "syn000/truncated.png", "syn000/notes.txt",
                            "syn002/bomb.png", "syn002/bomb_warn.png"}
    by_name = {Path(p).name: r for p, r in reasons.items()}
    assert "not an image" in by_name["corrupt.png"]
    assert "truncated" in by_name["truncated.png"]
    assert "extension" in by_name["notes.txt"]
    assert "decompression bomb" in by_name["bomb.png"] and "decompression bomb" in by_name["bomb_warn.png"]
    assert m["counts"]["syn000"] == 6 and m["counts"]["syn001"] == 10 and m["counts"]["syn002"] == 7
    assert m["n_images"] == 48 + 4 + 1 + 1


def test_conversions_upscale_and_duplicates_reported(bad_ingest):
    from reparse_tf.data.examples import load_arrays

    out, m = bad_ingest
    assert m["converted_modes"].keys() >= {"L", "RGBA", "P"}
    assert any(k.startswith("I") for k in m["converted_modes"])
    assert [w["path"] for w in m["warnings"]] == ["syn002/small.png"]
    assert "upscaled" in m["warnings"][0]["warning"]
    assert m["duplicates"] == [{"sha1": m["duplicates"][0]["sha1"], "gms": ["syn000", "syn003"],
                                "paths": ["syn000/0000.png", "syn003/dup.png"]}]
    a = load_arrays(out, gms=["syn001"])
    deep = a["images"][list(a["path"]).index("syn001/deep16.png")]
    assert deep.shape == (32, 32, 3) and (deep == 255).all()  # 16-bit white rescaled, not clipped garbage


def test_decode_bytes_guards():
    with pytest.raises(ImageError, match="decompression bomb"):
        decode_bytes(_bomb_png(20000, 20000), 32)
    with pytest.raises(ImageError, match="empty"):
        decode_bytes(b"", 32)
    assert MAX_IMAGE_PIXELS == Image.MAX_IMAGE_PIXELS
    wide = decode_bytes(_png(np.zeros((20, 50, 3), np.uint8)), 16)  # center crop + downscale
    assert wide.array.shape == (16, 16, 3) and wide.warnings == []


# -- layout errors (before any work) -------------------------------------------------------------
def test_missing_folder_and_missing_row_in_one_error(synthetic_layout, tmp_path):
    root = _copy(synthetic_layout, tmp_path / "layout")
    shutil.move(root / "syn007", root / "stray_gm")
    with pytest.raises(LayoutError) as exc:
        scan_layout(root)
    assert "stray_gm" in str(exc.value) and "syn007" in str(exc.value)
    out = tmp_path / "out"
    with pytest.raises(LayoutError):
        run_ingest(root, out)
    assert _no_leftovers(out)


def test_out_of_range_label_names_file_and_line(synthetic_layout, tmp_path):
    root = _copy(synthetic_layout, tmp_path / "layout")

    def edit(rows):
        rows[2]["normalization_type"] = "9"
        return rows

    _rewrite_labels(root, edit)
    with pytest.raises(LayoutError, match=r"labels\.csv:4 \(syn002\): normalization_type"):
        scan_layout(root)


def test_empty_gm_folder_reported(synthetic_layout, tmp_path):
    root = _copy(synthetic_layout, tmp_path / "layout")
    for f in (root / "syn004").iterdir():
        f.unlink()
    (root / "syn004" / "readme.txt").write_text("x")
    with pytest.raises(LayoutError, match="no image files.*syn004"):
        scan_layout(root)


# -- atomic output --------------------------------------------------------------------------------
def test_failure_mid_run_leaves_no_output(synthetic_layout, tmp_path, monkeypatch):
    import reparse_tf.data.ingest as ingest

    def boom(*args, **kwargs):
        raise RuntimeError("simulated crash after the pipeline")

    monkeypatch.setattr(ingest, "summarize", boom)
    out = tmp_path / "out"
    with pytest.raises(RuntimeError, match="simulated"):
        run_ingest(synthetic_layout, out, image_size=32, output_format="npz")
    assert _no_leftovers(out)


def test_refuses_non_empty_out_unless_overwrite(synthetic_layout, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("old")
    with pytest.raises(ValueError, match="not empty"):
        run_ingest(synthetic_layout, out, image_size=32, output_format="npz")
    assert (out / "keep.txt").exists()
    m = run_ingest(synthetic_layout, out, image_size=32, output_format="npz", overwrite=True)
    assert m["n_images"] == 48 and not (out / "keep.txt").exists()
    assert not list(tmp_path.glob("out.*"))


def test_cli_ingest_passes_beam_args(synthetic_layout, tmp_path, capsys):
    from reparse_tf.cli import main

    out = tmp_path / "cli_out"
    rc = main(["ingest", str(synthetic_layout), "--out", str(out), "--image-size", "16", "--folds", "2",
               "--direct_num_workers", "1"])
    assert rc == 0 and str(out) in capsys.readouterr().out
    m = json.loads((out / "manifest.json").read_text())
    assert m["beam_args"] == ["--direct_num_workers", "1"] and m["n_folds"] == 2 and m["image_size"] == 16
    with pytest.raises(SystemExit):  # unknown options are only passed on by commands that accept them
        main(["schema", "--direct_num_workers", "1"])


def test_ingest_with_a_fold_table(synthetic_layout, tmp_path):
    """``--folds FILE``: the table's test sets become the folds; GMs it does not name always train;
    a table naming a GM the dataset lacks is refused with the table's path."""
    from reparse_tf.cli import main
    from reparse_tf.data.folds import TRAIN_ONLY, split

    gms = read_labels(synthetic_layout / "labels.csv").gms
    table = tmp_path / "splits.csv"
    table.write_text(f"split,gm\ntest1,{gms[0]}\ntest2,{gms[1]}\n")
    out = tmp_path / "ex"
    assert main(["ingest", str(synthetic_layout), "--out", str(out), "--image-size", "16", "--folds", str(table),
                 "--format", "npz"]) == 0
    m = json.loads((out / "manifest.json").read_text())
    assert m["n_folds"] == 2 and m["fold_spec"] == str(table)
    assert m["folds"][gms[0]] == 0 and m["folds"][gms[1]] == 1
    assert {m["folds"][g] for g in gms[2:]} == {TRAIN_ONLY}
    arrays = read_npz_shards(out)
    assert set(np.unique(arrays["fold"])) == {0, 1, TRAIN_ONLY}
    assert split(m["folds"], 0) == (sorted(gms[1:]), [gms[0]])
    table.write_text("split,gm\ntest1,NO_SUCH_GM\n")
    with pytest.raises(LayoutError, match=r"splits.csv names GMs that are not in the dataset: NO_SUCH_GM"):
        scan_layout(synthetic_layout, n_folds=str(table))


def test_direct_runner_stays_in_process():
    """The offline default never starts Beam's DirectRunner (which first downloads the Prism runner)."""
    from apache_beam.runners.portability.fn_api_runner import FnApiRunner

    from reparse_tf.data.beam_runner import beam_pipeline, runner_name

    assert runner_name(None) == "DirectRunner"
    assert runner_name(["--runner", "FlinkRunner", "--runner=DataflowRunner"]) == "DataflowRunner"
    for args in (None, ["--runner=DirectRunner", "--direct_num_workers=1"]):
        assert isinstance(beam_pipeline(args).runner, FnApiRunner)
    assert not isinstance(beam_pipeline(["--runner=PortableRunner", "--job_endpoint=localhost:1"]).runner,
                          FnApiRunner)
