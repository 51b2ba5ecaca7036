"""``ImageIngest``: a RED layout -> gzipped TFRecord shards of ``tf.train.Example`` (Apache Beam).

Steps: validate the layout before any work (:func:`reparse_tf.layout.scan_layout`), assign GMs to
folds (:func:`reparse_tf.folds.assign_folds`), decode/validate/convert/resize every image with
Pillow in a Beam ``ParDo`` (:mod:`reparse_tf.images`), write ``tfrecords/part-*-of-*.tfrecord.gz``
plus a per-image report, then summarise into ``manifest.json``, ``labels.csv`` and
``feature_schema.json``. Everything is written under ``<out>.tmp-<random>`` and renamed to
``<out>`` only when complete.

Examples are serialised by a small protobuf encoder (:func:`encode_example`, byte-identical
wire format of ``tf.train.Example``), so ingest workers need neither TensorFlow nor its import
time; :mod:`reparse_tf.examples` is the TensorFlow reading side.

``--format npz`` writes numpy shards instead (:mod:`reparse_tf.npz_shards`) for hosts without
TensorFlow; it runs in-process (no Beam) with the same validation, folds and manifest.
"""

from __future__ import annotations

import json
import logging
import math
import os
import secrets
import shutil
import struct
import time
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np

from reparse_tf.images import ImageError, load_image
from reparse_tf.labels import write_labels
from reparse_tf.layout import Layout, scan_layout
from reparse_tf.schema import HyperparameterSchema, load_schema

log = logging.getLogger(__name__)

TFRECORD_DIR = "tfrecords"
NPZ_DIR = "npz"
META_FEATURES = ("image", "gm", "gm_type", "content", "path")
DEFAULT_SHARD_SIZE = 10_000  # images per TFRecord / npz shard

_PROGRESS = None  # tqdm bar updated by in-process Beam workers (None in other processes)


# -- tf.train.Example wire format -------------------------------------------------------------------
def _varint(n: int) -> bytes:
    if 0 <= n < 128:
        return bytes((n,))
    n &= (1 << 64) - 1  # int64 two's complement, as protobuf does
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def _field(number: int, payload: bytes) -> bytes:
    """A length-delimited protobuf field."""
    return _varint((number << 3) | 2) + _varint(len(payload)) + payload


def encode_example(features: dict[str, bytes | str | int | float | list]) -> bytes:
    """Serialise a ``tf.train.Example``: bytes/str -> bytes_list, int -> int64_list, float -> float_list.

    Produces the same wire bytes ``tf.train.Example(...).SerializeToString()`` parses, without
    importing TensorFlow.
    """
    return _field(1, encode_features(features))


def encode_features(features: dict[str, bytes | str | int | float | list]) -> bytes:
    """The body of a ``tf.train.Features`` message (concatenable: map entries in any order)."""
    entries = []
    for key, value in features.items():
        values = value if isinstance(value, list | tuple) else [value]
        first = values[0] if values else b""
        if isinstance(first, bytes | str):
            inner = b"".join(_field(1, v.encode() if isinstance(v, str) else v) for v in values)
            feature = _field(1, inner)
        elif isinstance(first, int | np.integer) and not isinstance(first, bool):
            feature = _field(3, _field(1, b"".join(_varint(int(v)) for v in values)))
        else:
            feature = _field(2, _field(1, struct.pack(f"<{len(values)}f", *map(float, values))))
        entries.append(_field(1, _field(1, key.encode()) + _field(2, feature)))
    return b"".join(entries)


def feature_schema(image_size: int, schema: HyperparameterSchema | None = None) -> dict:
    """The ``feature_schema.json`` of an examples directory, derived from the hyperparameter schema."""
    schema = schema or load_schema()
    feats: dict[str, dict] = {
        "image": {"type": "bytes", "encoding": "png", "shape": [image_size, image_size, 3], "dtype": "uint8"},
        "gm": {"type": "bytes"}, "gm_type": {"type": "bytes"}, "content": {"type": "bytes"},
        "path": {"type": "bytes"}, "fold": {"type": "int64"},
    }
    for p in schema.params:
        feats[p.name] = {"type": "float", "kind": p.kind, "group": p.group, "units": "raw",
                         **({"classes": list(p.classes)} if p.classes else {"range": [p.low, p.high]})}
    return {"schema_version": schema.version, "compression": "GZIP", "files": f"{TFRECORD_DIR}/part-*.tfrecord.gz",
            "features": feats}


# -- per-image work (shared by Beam and the npz path) ----------------------------------------------
class _ImageWork:
    """Decode one ``(path, gm)`` into (record or array, report dict)."""

    def __init__(self, layout: Layout, image_size: int, schema: HyperparameterSchema):
        self.image_size = image_size
        self.names = schema.names
        t = layout.labels
        self.meta = {g: (t.gm_types[i], t.contents[i], [float(v) for v in t.values[i]]) for i, g in enumerate(t.gms)}
        self.folds = {g: int(layout.folds[g]) for g in layout.gms}
        self.root = str(layout.root)
        # per-GM features (labels, fold, names) encoded once; each Example adds image + path
        self.static = {g: encode_features({"gm": g, "gm_type": m[0], "content": m[1], "fold": self.folds[g],
                                           **dict(zip(self.names, m[2]))}) for g, m in self.meta.items()}

    def relpath(self, path: str) -> str:
        return os.path.relpath(path, self.root)

    def decode(self, path: str, gm: str):
        """Return ``(DecodedImage | None, report)``."""
        rel = self.relpath(path)
        try:
            dec = load_image(path, self.image_size)
        except ImageError as exc:
            return None, {"path": rel, "gm": gm, "ok": False, "reason": str(exc)}
        return dec, {"path": rel, "gm": gm, "ok": True, "sha1": dec.sha1, "mode": dec.source_mode,
                     "warnings": dec.warnings}

    def example(self, dec, path: str, gm: str) -> bytes:
        own = encode_features({"image": dec.png_bytes(), "path": self.relpath(path)})
        return _field(1, own + self.static[gm])


def _progress_bar():
    # looked up through the module: the DoFn is pickled by value, with a copy of these globals
    import reparse_tf.ingest as module

    return module._PROGRESS


def _make_dofn(work: _ImageWork):
    import apache_beam as beam

    class DecodeImageFn(beam.DoFn):
        """``(path, gm)`` -> serialised Example (main output) + JSON report (``report`` output)."""

        def __init__(self, work: _ImageWork):
            self.work = work
            self.decoded = beam.metrics.Metrics.counter("reparse_ingest", "images_written")
            self.skipped = beam.metrics.Metrics.counter("reparse_ingest", "images_skipped")

        def process(self, item: tuple[str, str]) -> Iterator:
            path, gm = item
            dec, report = self.work.decode(path, gm)
            if dec is not None:
                yield self.work.example(dec, path, gm)
                self.decoded.inc()
            else:
                self.skipped.inc()
            progress = _progress_bar()
            if progress is not None:
                progress.update(1)
            yield beam.pvalue.TaggedOutput("report", json.dumps(report))

    return DecodeImageFn(work)


def _pipeline_options(runner: str, beam_args: list[str] | None):
    from apache_beam.options.pipeline_options import PipelineOptions

    return PipelineOptions(["--runner", runner, *(beam_args or [])])


def _make_runner(runner: str):
    """``DirectRunner`` -> Beam's in-process FnApiRunner (what DirectRunner runs batch pipelines on).

    Beam's DirectRunner first tries to download and start the Go ``PrismRunner``; on hosts without
    internet that fails and falls back. Going straight to the FnApiRunner avoids that, and still
    honours ``--direct_num_workers`` / ``--direct_running_mode``. Other names go to Beam unchanged.
    """
    if runner in ("DirectRunner", "direct"):
        from apache_beam.runners.portability.fn_api_runner import FnApiRunner

        return FnApiRunner()
    return None


def _run_beam(layout: Layout, work_dir: Path, image_size: int, schema: HyperparameterSchema, runner: str,
              beam_args: list[str] | None, num_shards: int | None) -> list[dict]:
    import apache_beam as beam
    from apache_beam.io.filesystem import CompressionTypes

    global _PROGRESS
    items = layout.items()
    work = _ImageWork(layout, image_size, schema)
    if num_shards is None:
        num_shards = max(1, math.ceil(len(items) / DEFAULT_SHARD_SIZE))
    (work_dir / TFRECORD_DIR).mkdir(parents=True)
    report_prefix = work_dir / "_reports" / "report"
    options = _pipeline_options(runner, beam_args)
    pipeline = beam.Pipeline(runner=_make_runner(runner), options=options)
    outputs = (pipeline
               | "ListImages" >> beam.Create(items)
               | "DecodeImages" >> beam.ParDo(_make_dofn(work)).with_outputs("report", main="records"))
    _ = outputs.records | "WriteTFRecords" >> beam.io.WriteToTFRecord(
        str(work_dir / TFRECORD_DIR / "part"), file_name_suffix=".tfrecord.gz",
        compression_type=CompressionTypes.GZIP, num_shards=num_shards)
    _ = outputs.report | "WriteReports" >> beam.io.WriteToText(str(report_prefix), file_name_suffix=".jsonl")
    try:
        from tqdm.auto import tqdm

        _PROGRESS = tqdm(total=len(items), desc="ingest", unit="img", mininterval=1.0)
        result = pipeline.run()
        result.wait_until_finish()
    finally:
        if _PROGRESS is not None:
            _PROGRESS.close()
        _PROGRESS = None
    reports = []
    for f in sorted(report_prefix.parent.glob("report*.jsonl")):
        reports += [json.loads(line) for line in f.read_text().splitlines() if line.strip()]
    shutil.rmtree(report_prefix.parent)
    return reports


def _run_npz(layout: Layout, work_dir: Path, image_size: int, schema: HyperparameterSchema,
             shard_size: int) -> list[dict]:
    from reparse_tf.npz_shards import decode_layout, write_npz_shards

    arrays, reports = decode_layout(layout, image_size, schema)
    write_npz_shards(arrays, work_dir / NPZ_DIR, shard_size=shard_size)
    return reports


def summarize(layout: Layout, reports: Iterable[dict]) -> dict:
    """Counts per GM / fold, skipped files, duplicates across GMs, warnings, converted modes."""
    counts: Counter = Counter()
    skipped = list(layout.ignored)
    warnings_: list[dict] = []
    modes: Counter = Counter()
    by_hash: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for r in sorted(reports, key=lambda r: r["path"]):
        if not r["ok"]:
            skipped.append({"path": r["path"], "reason": r["reason"]})
            continue
        counts[r["gm"]] += 1
        if r["mode"] != "RGB":
            modes[r["mode"]] += 1
        warnings_ += [{"path": r["path"], "warning": w} for w in r.get("warnings", [])]
        by_hash[r["sha1"]].append((r["gm"], r["path"]))
    duplicates = [{"sha1": h, "gms": sorted({g for g, _ in v}), "paths": sorted(p for _, p in v)}
                  for h, v in sorted(by_hash.items()) if len({g for g, _ in v}) > 1]
    for gm in layout.gms:
        if counts[gm] == 0:
            warnings_.append({"path": gm, "warning": f"GM {gm} has no usable image (all skipped)"})
    folds = {g: layout.folds[g] for g in layout.gms}
    fold_counts: Counter = Counter()
    fold_gms: dict[int, list[str]] = defaultdict(list)
    for g in layout.gms:
        fold_counts[folds[g]] += counts[g]
        fold_gms[folds[g]].append(g)
    return {
        "n_gms": len(layout.gms), "n_images": int(sum(counts.values())), "n_skipped": len(skipped),
        "folds": folds,
        "counts": {g: int(counts[g]) for g in layout.gms},
        "fold_counts": {str(k): int(fold_counts[k]) for k in sorted(fold_gms)},
        "fold_gms": {str(k): fold_gms[k] for k in sorted(fold_gms)},
        "skipped": sorted(skipped, key=lambda r: r["path"]),
        "duplicates": duplicates,
        "warnings": warnings_,
        "converted_modes": dict(sorted(modes.items())),
    }


def _prepare_out(out_dir: Path, overwrite: bool) -> None:
    if out_dir.exists() and not out_dir.is_dir():
        raise ValueError(f"{out_dir}: exists and is not a directory")
    if out_dir.is_dir() and any(out_dir.iterdir()) and not overwrite:
        raise ValueError(f"{out_dir}: output directory exists and is not empty (use --overwrite to replace it)")


def _publish(work_dir: Path, out_dir: Path) -> None:
    """Rename the finished temporary directory to ``out_dir`` (replacing an old one last)."""
    old = None
    if out_dir.is_dir():
        if any(out_dir.iterdir()):
            old = out_dir.with_name(f"{out_dir.name}.old-{secrets.token_hex(4)}")
            os.replace(out_dir, old)
        else:
            out_dir.rmdir()
    os.replace(work_dir, out_dir)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def run_ingest(root: str | Path, out_dir: str | Path, image_size: int = 64, n_folds: int = 4, seed: int = 0,
               labels: str | Path | None = None, beam_args: list[str] | None = None, *,
               runner: str = "DirectRunner", output_format: str = "tfrecord", overwrite: bool = False,
               num_shards: int | None = None, shard_size: int = DEFAULT_SHARD_SIZE,
               gms: list[str] | None = None, schema: HyperparameterSchema | None = None) -> dict:
    """Ingest a RED layout into an examples directory; return the manifest.

    Args:
        root: RED layout root (``root/<gm>/*.png`` + ``root/labels.csv``).
        out_dir: output directory; must not exist or be empty unless ``overwrite``.
        image_size: side of the square RGB images written.
        n_folds, seed: leave-GMs-out fold assignment (balanced by GM type, deterministic).
        labels: label table to use instead of ``root/labels.csv``.
        beam_args: extra Beam pipeline options (``--direct_num_workers 2``, Dataflow flags, ...).
        runner: Beam runner name (``DirectRunner`` runs in-process, see :func:`_make_runner`).
        output_format: ``"tfrecord"`` (Beam) or ``"npz"`` (numpy shards, in-process, no TensorFlow).
        overwrite: replace a non-empty ``out_dir`` (only once the new output is complete).
        num_shards: TFRecord shard count (default: one per ``shard_size`` images).
        gms: ingest only these GMs (folds are still assigned over all GMs of the layout).
    """
    schema = schema or load_schema()
    if output_format not in ("tfrecord", "npz"):
        raise ValueError(f"unknown output format {output_format!r}; use 'tfrecord' or 'npz'")
    if image_size < 1:
        raise ValueError(f"image_size must be positive, got {image_size}")
    out_dir = Path(out_dir)
    _prepare_out(out_dir, overwrite)
    start = time.perf_counter()
    layout = scan_layout(root, labels=labels, n_folds=n_folds, seed=seed, gms=gms, schema=schema)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    work_dir = out_dir.with_name(f"{out_dir.name}.tmp-{secrets.token_hex(4)}")
    work_dir.mkdir()
    try:
        if output_format == "tfrecord":
            reports = _run_beam(layout, work_dir, image_size, schema, runner, beam_args, num_shards)
        else:
            reports = _run_npz(layout, work_dir, image_size, schema, shard_size)
        summary = summarize(layout, reports)
        if summary["n_images"] == 0:
            raise ValueError(f"{root}: no usable image; first problems: "
                             + "; ".join(f"{s['path']}: {s['reason']}" for s in summary["skipped"][:5]))
        if output_format == "tfrecord":
            (work_dir / "feature_schema.json").write_text(json.dumps(feature_schema(image_size, schema), indent=2))
        wall = time.perf_counter() - start
        manifest = {
            "format": output_format, "source": str(Path(root).resolve()), "image_size": image_size,
            "n_folds": n_folds, "seed": seed, "schema_version": schema.version,
            **summary,
            "runner": runner if output_format == "tfrecord" else "in-process",
            "beam_args": list(beam_args or []),
            "wall_time_s": round(wall, 3), "images_per_s": round(summary["n_images"] / max(wall, 1e-9), 1),
        }
        write_labels(layout.labels, work_dir / "labels.csv", schema)
        (work_dir / "manifest.json").write_text(json.dumps(manifest, indent=2))
        _publish(work_dir, out_dir)
    except BaseException:
        shutil.rmtree(work_dir, ignore_errors=True)
        raise
    log.info("ingested %d images of %d GMs into %s", manifest["n_images"], manifest["n_gms"], out_dir)
    return manifest
