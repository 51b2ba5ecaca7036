"""Executor of the `ingest` component: plain Python (no kfp import) calling reparse_tf."""

from __future__ import annotations

from reparse_tf.components._common import announce, call, scalar_metadata


def execute(data: str, examples: str, image_size: int, n_folds: int, seed: int, beam_args: list[str]) -> dict:
    """Ingest the RED layout ``data`` into ``examples``; return artifact metadata."""
    manifest = call("ingest", "reparse_tf.data.ingest:run_ingest", root=data, out_dir=examples, image_size=image_size,
                    n_folds=n_folds, seed=seed, beam_args=list(beam_args) or None) or {}
    announce("ingest", examples=examples)
    counts = manifest.get("counts", {})
    return scalar_metadata({"image_size": image_size, "n_folds": n_folds, "seed": seed, "n_gms": len(counts),
                            "n_images": sum(counts.values()), "n_skipped": len(manifest.get("skipped", [])),
                            "fold_counts": manifest.get("fold_counts", {})})
