"""Build the GM zoo: draw specs, build + train + sample every GM, write the RED layout.

``build_zoo(out_root, preset="tiny", seed=0, image_size=64)`` writes ``ROOT/<gm>/*.png``,
``ROOT/labels.csv``, ``ROOT/_specs/<gm>.json``, ``ROOT/coverage.json`` and ``ROOT/sample_sheet.png``.
Each GM is written to ``ROOT/.<gm>.tmp`` and renamed when complete; a rerun skips finished GMs (their
labels are re-read from ``_specs/<gm>.json``), so an interrupted build resumes. A GM whose samples fail the
quality screen (:mod:`reparse_tf.zoo.quality`) is rebuilt from a redrawn architecture (and, from the second
redraw on, content: :func:`reparse_tf.zoo.spec.redrawn`), up to the preset's ``redraws`` times; the last attempt
stays, and its record lists the rejected ones. Presets with ``checks`` also screen a GM's samples during
training: it stops early once they are ``SETTLED`` (then those samples are its samples), and an attempt on the
GM's first content that can still be redrawn is given up once they are ``HOPELESS`` (attempts on a redrawn
content train in full: gan_010's recovered from FD ratio 1.83 at half its steps to 0.34).
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import time
from collections import Counter
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from reparse_tf.data.labels import LabelTable, read_labels, write_labels
from reparse_tf.data.schema import load_schema
from reparse_tf.serving.artifacts import write_json
from reparse_tf.zoo.spec import CONTENT_REDRAW_FROM, PRESETS, GMSpec, draw_specs, redrawn, twin

log = logging.getLogger(__name__)

#: version of the training recipes: GMs built by another version are rebuilt, not resumed
RECIPE_VERSION = 10


def build_one(spec: GMSpec, out_root: Path, preset: str, image_size: int, extra: dict | None = None,
              give_up: bool = False) -> dict:
    """Build, train and sample one GM into ``out_root/<gm>`` (atomic); returns its spec record (``extra``
    added to it). ``give_up``: a ``HOPELESS`` check ends training (module docstring)."""
    import keras
    from PIL import Image

    from reparse_tf.zoo.content import load_content, training_images
    from reparse_tf.zoo.models import build_gm, count_labels
    from reparse_tf.zoo.quality import HOPELESS, SETTLED, sample_quality
    from reparse_tf.zoo.train import sample_gm, train_gm

    p = PRESETS[preset]
    keras.utils.set_random_seed(spec.seed)
    t0 = time.time()
    _, classes = load_content(spec.content, image_size)
    images = training_images(spec.content, image_size)
    gm = build_gm(spec, image_size, n_classes=int(classes.max()) + 1)
    labels = count_labels(gm)
    steps = p.train_steps(spec.family)
    at = {max(1, round(f * steps)) for f in p.checks}
    checks: list[list] = []  # [step, FD ratio, verdict] of each screening during training
    stop: dict = {}  # samples and quality of the screening that ended training, if one did

    def screen() -> tuple[np.ndarray, dict]:
        samples = sample_gm(gm, p.images_per_gm, images, seed=spec.seed)
        return samples, sample_quality(samples, images, seed=spec.seed)

    def check(step: int) -> bool:
        if step not in at:
            return False
        result = screen()
        ratio = result[1]["fd_ratio"]
        verdict = "settled" if ratio <= SETTLED else "hopeless" if give_up and ratio > HOPELESS else "continue"
        checks.append([step, ratio, verdict])
        if verdict != "continue":
            stop["result"] = result
        return "result" in stop

    history = train_gm(gm, images, classes, steps=steps, batch=p.batch, seed=spec.seed, check=check if at else None)
    samples, quality = stop.get("result") or screen()
    tmp = out_root / f".{spec.name}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    for i, im in enumerate(samples):
        Image.fromarray(im).save(tmp / f"{i:05d}.png")
    record = {
        "spec": spec.to_json(), "recipe_version": RECIPE_VERSION, "gm_type": spec.family, "content": spec.content,
        "labels": labels.tolist(),
        "preset": preset, "image_size": image_size, "train_steps": steps, "batch": p.batch,
        "trained_steps": checks[-1][0] if stop else steps, "checks": checks,
        "history_first_last": {k: [float(np.mean(v[:5])), float(np.mean(v[-5:]))] for k, v in history.items() if v},
        "quality": quality,
        "seconds": round(time.time() - t0, 2),
        "summary": {k: gm.nets[k].count_params() for k in gm.parsed},
        **(extra or {}),
    }
    write_json(out_root / "_specs" / f"{spec.name}.json", record)
    shutil.rmtree(out_root / spec.name, ignore_errors=True)
    os.replace(tmp, out_root / spec.name)
    keras.backend.clear_session()
    return record


def coverage(records: list[dict]) -> dict:
    """GMs per family / content / discrete class / loss type, and ranges of the continuous labels."""
    schema = load_schema()
    vals = np.array([r["labels"] for r in records]).reshape(len(records), len(schema))
    cov: dict = {"gms": len(records), "family": dict(Counter(r["gm_type"] for r in records)),
                 "content": dict(Counter(r["content"] for r in records)), "discrete": {}, "continuous": {}}
    for p in schema.discrete:
        col = vals[:, schema.index(p.name)].astype(int)
        cov["discrete"][p.name] = {c: int((col == k).sum()) for k, c in enumerate(p.classes)}
    for p in schema.continuous:
        col = vals[:, schema.index(p.name)]
        cov["continuous"][p.name] = {"min": float(col.min()), "median": float(np.median(col)),
                                     "max": float(col.max())}
    cov["quality"] = quality_summary(records)
    return cov


def quality_row(records: list[dict]) -> dict:
    """Sample quality of a group of GM records (:mod:`reparse_tf.zoo.quality`): GMs, GMs whose samples
    resemble their content, GMs rebuilt from a redrawn architecture, median FD ratio, median real-image floor
    (held-out real vs real, worse view), mean build seconds of the final attempts and total build seconds of
    every attempt (rejected ones too); records built before the quality screen existed are left out."""
    rs = [r for r in records if "quality" in r]
    q = [r["quality"] for r in rs]
    floor = [max(v["fd_real"] / v["fd_noise"] for v in (x["global"], x["local"])) for x in q]
    return {"gms": len(q), "resemble": int(sum(x["resembles"] for x in q)),
            "redrawn": sum(r.get("attempt", 0) > 0 for r in rs),
            "median_fd_ratio": round(float(np.median([x["fd_ratio"] for x in q])), 3),
            "median_real_floor": float(np.median(floor)), "mean_seconds": float(np.mean([r["seconds"] for r in rs])),
            "total_seconds": float(sum(r["seconds"] + sum(x["seconds"] for x in r.get("rejected", [])) for r in rs))}


def quality_summary(records: list[dict]) -> dict:
    """:func:`quality_row` per family (families without screened records are left out)."""
    rows = {fam: [r for r in records if r["gm_type"] == fam and "quality" in r]
            for fam in sorted({r["gm_type"] for r in records})}
    return {fam: quality_row(rs) for fam, rs in rows.items() if rs}


def sample_sheet(out_root: Path, gms: list[str], path: Path, notes: dict[str, str] | None = None) -> Path:
    """One image per GM with its name (and ``notes[gm]``, e.g. its FD ratio), as a grid PNG (matplotlib)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from PIL import Image

    cols = min(10, len(gms))
    rows = -(-len(gms) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(1.6 * cols, 1.8 * rows), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, gm in zip(axes.flat, gms, strict=False):
        first = sorted((out_root / gm).glob("*.png"))[0]
        ax.imshow(np.asarray(Image.open(first)))
        ax.set_title(f"{gm} {(notes or {}).get(gm, '')}".strip(), fontsize=7)
    fig.tight_layout()
    tmp = path.with_name(path.stem + ".tmp.png")
    fig.savefig(tmp, dpi=100)
    plt.close(fig)
    os.replace(tmp, path)
    return path


def _stored(spec: GMSpec, out_root: Path, preset: str, image_size: int) -> dict | None:
    """The stored record of the GM first drawn as ``spec``, if it was built (any attempt) with this recipe; an
    unreadable record is reported (file and reason) and its GM rebuilt."""
    spec_file = out_root / "_specs" / f"{spec.name}.json"
    if (out_root / spec.name).is_dir() and spec_file.is_file():
        try:
            rec = json.loads(spec_file.read_text())
            if (rec["spec"] == redrawn(spec, rec.get("attempt", 0), preset, image_size).to_json()
                    and rec["image_size"] == image_size and rec.get("recipe_version") == RECIPE_VERSION):
                return rec
        except (ValueError, KeyError, TypeError) as err:
            log.warning("%s: unreadable GM record (%s: %s); rebuilding %s", spec_file, type(err).__name__, err,
                        spec.name)
    return None


def _final(rec: dict, redraws: int) -> bool:
    """Is a stored GM done: its samples pass the screen, or its last allowed attempt is built?"""
    return rec["quality"]["resembles"] or rec.get("attempt", 0) >= redraws


def build_screened(spec: GMSpec, out_root: Path, preset: str, image_size: int, redraws: int,
                   rec: dict | None) -> dict:
    """Build the GM first drawn as ``spec``, continuing from its stored record ``rec`` (:func:`_stored`; None:
    from its first draw), until an attempt passes the quality screen or ``redraws`` redraws are spent (module
    docstring); returns the final record."""
    while rec is None or not _final(rec, redraws):
        attempt = 0 if rec is None else rec.get("attempt", 0) + 1
        rejected = [] if rec is None else [*rec.get("rejected", []), {
            "attempt": rec.get("attempt", 0), "spec": rec["spec"], "fd_ratio": rec["quality"]["fd_ratio"],
            "trained_steps": rec["trained_steps"], "seconds": rec["seconds"]}]
        rec = build_one(redrawn(spec, attempt, preset, image_size), out_root, preset, image_size,
                        {"attempt": attempt, "rejected": rejected}, give_up=attempt < min(redraws, CONTENT_REDRAW_FROM))
    return rec


def _caption(rec: dict) -> str:
    """Sample-sheet note of a GM: its FD ratio, and ``rK`` when attempt K (a redraw) stays."""
    return f"FD {rec['quality']['fd_ratio']:.2f}" + (f" r{rec['attempt']}" if rec.get("attempt") else "")


#: environment of the worker processes: TensorFlow with one thread each (two-thread processes on as many cores
#: as workers trained 11 % slower: 40.2 s vs 35.6 s for 100 steps of gan_001, two at a time on 2 cores)
WORKER_ENV = {"TF_NUM_INTRAOP_THREADS": "1", "TF_NUM_INTEROP_THREADS": "1"}


@contextmanager
def _single_threaded():
    """Set :data:`WORKER_ENV` (where the user has not) while worker processes are started."""
    saved = {k: os.environ.get(k) for k in WORKER_ENV}
    for k, v in WORKER_ENV.items():
        os.environ.setdefault(k, v)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _build_task(args: tuple[GMSpec, Path, str, int, int, dict | None]) -> tuple[str, dict]:
    return args[0].name, build_screened(*args)


def twin_specs(source: str | Path, k: int = 1) -> tuple[list[GMSpec], dict]:
    """Twin ``k`` (:func:`reparse_tf.zoo.spec.twin`) of every GM in the built zoo ``source``'s ``labels.csv`` (the
    attempt that stayed), and the source's ``coverage.json``."""
    source = Path(source)
    cov_file = source / "coverage.json"
    if not cov_file.is_file():
        raise FileNotFoundError(f"{cov_file}: not found; --twins-of needs a zoo built by `reparse zoo build`")
    cov = json.loads(cov_file.read_text())
    specs = [twin(GMSpec.from_json(json.loads((source / "_specs" / f"{g}.json").read_text())["spec"]), k)
             for g in sorted(read_labels(source / "labels.csv").gms)]
    if not specs:
        raise ValueError(f"{source}: no built GMs to twin")
    return specs, cov


def build_zoo(out_root: str | Path, preset: str = "tiny", seed: int = 0, image_size: int = 64,
              limit: int | None = None, progress: bool = True, workers: int = 1, redraws: int | None = None,
              twins_of: str | Path | None = None, twin_index: int = 1) -> Path:
    """Build (or resume) a zoo preset into ``out_root`` (RED layout); ``limit`` builds only the first
    ``limit`` unfinished GMs (labels/sheet are then written for the finished ones). ``workers > 1``
    builds GMs in that many spawned processes with one TensorFlow thread each (:data:`WORKER_ENV`); each GM is
    seeded by its spec, so builds with the same seed and ``workers`` setting agree, but a one-process build
    (TensorFlow's default threads) can differ from a multi-process one in the samples and in which attempt of a
    GM stays (float sums in another order). ``redraws``
    overrides the preset's number of redrawn architectures for a GM that fails the quality screen. ``twins_of``
    builds twin ``twin_index`` of every GM of that built zoo instead (:func:`twin_specs`; its preset, seed and
    image size; no redraws, which would change the architecture)."""
    from tqdm import tqdm

    if twins_of is not None:
        specs, source_cov = twin_specs(twins_of, twin_index)
        preset, seed, image_size, redraws = source_cov["preset"], source_cov["seed"], source_cov["image_size"], 0
    else:
        specs = draw_specs(preset, seed, image_size)
    redraws = PRESETS[preset].redraws if redraws is None else redraws
    if redraws < 0:
        raise ValueError(f"redraws must be at least 0, got {redraws}")
    out_root = Path(out_root)
    out_root.mkdir(parents=True, exist_ok=True)
    # each record is read once; a GM built now replaces it with the final record of its build
    stored = {spec.name: _stored(spec, out_root, preset, image_size) for spec in specs}
    todo = [spec for spec in specs if stored[spec.name] is None or not _final(stored[spec.name], redraws)][:limit]
    t0 = time.time()
    bar = tqdm(total=len(todo), desc=f"zoo {preset}", unit="gm", disable=not progress)
    if workers > 1 and len(todo) > 1:
        import multiprocessing

        # longest training budgets first, so no long GM is left running alone at the end
        tasks = [(s, out_root, preset, image_size, redraws, stored[s.name])
                 for s in sorted(todo, key=lambda s: -PRESETS[preset].train_steps(s.family))]
        with _single_threaded(), multiprocessing.get_context("spawn").Pool(min(workers, len(todo))) as pool:
            for name, rec in pool.imap_unordered(_build_task, tasks):
                stored[name] = rec
                bar.set_postfix_str(name)
                bar.update()
    else:
        for spec in todo:
            bar.set_postfix_str(f"{spec.name} ({spec.family}, {spec.content})")
            stored[spec.name] = build_screened(spec, out_root, preset, image_size, redraws, stored[spec.name])
            bar.update()
    bar.close()
    built = len(todo)
    records = [rec for spec in specs if (rec := stored[spec.name]) is not None and _final(rec, redraws)]
    schema = load_schema()
    table = LabelTable([r["spec"]["name"] for r in records], [r["gm_type"] for r in records],
                       [r["content"] for r in records], np.array([r["labels"] for r in records]))
    write_labels(table, out_root / "labels.csv", schema)
    cov = coverage(records) if records else {"gms": 0}
    cov.update({"preset": preset, "seed": seed, "image_size": image_size, "redraws": redraws,
                **({"twins_of": str(twins_of), "twin_index": twin_index} if twins_of is not None else {}),
                "complete": len(records) == len(specs),
                "built_now": built, "wall_seconds_now": round(time.time() - t0, 1)})
    write_json(out_root / "coverage.json", cov)
    if records:
        notes = {r["spec"]["name"]: _caption(r) for r in records if "quality" in r}
        sample_sheet(out_root, table.gms, out_root / "sample_sheet.png", notes)
    return out_root
