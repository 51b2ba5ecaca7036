"""Rebuild ``schemas/red116_labels.csv`` (RED116 ground truth in the RED layout coding) and
``schemas/red116_test_splits.csv`` from the published reference tables:
``python schemas/make_red116_labels.py [--reference DIR]``.

Sources (``../shared/reference`` or ``--reference DIR``; see its README):
- ``red116_names.csv``: the folder name of every row of the published arrays (rows in the dataset's
  case-insensitive order, not plain ASCII order);
- ``red116_ground_truth_normalized.csv``: the published arrays (continuous columns min-max
  normalised, discrete class codes, 10 loss columns); they are what the published results were
  trained on, so every value here reproduces them;
- ``red100_ground_truth.tsv``: raw units of the 100 GMs of the first dataset version (supplement
  Tables 3 / 6), used only to put the continuous columns back into raw units;
- ``red116_test_splits.csv``: the four official leave-out test sets (copied as shipped).

Steps:
1. Continuous columns: per column fit ``raw = a + b * norm`` on the GMs present in both tables
   (matched by name; the supplement spells three of them differently), refitted on inliers because
   six GMs' counts differ between the printed table and the arrays. A GM whose printed raw value
   reproduces its array value keeps the printed value (exact ``parameters``); every other row gets the
   de-normalised, rounded value, and its ``note`` says so.
2. Discrete codes and the 10 losses are the arrays' own. ``skip_connection`` / ``downsampling`` are
   *not* flipped: the printed legend says 0 = used, but the arrays code 1 = used (every GM without a
   conv layer has downsampling 0), which is the layout's coding.
3. ``gm_type``: AA (6) and VAE by name; the 16 RED116 additions as the paper counts them (11 AR,
   5 NF: the pixel-level autoregressive models plus VAE_FIELD are AR, the flows plus VAE_FLOW and
   VDVAE are NF; each official test set then holds two AR, as the paper says, and three of the four
   one NF); the rest GAN. Only 9 of the paper's 13 VAEs are identifiable by name, so 4 VAEs are
   labelled GAN. ``content`` is ``unknown`` (not published).
"""

from __future__ import annotations

import argparse
import csv
import shutil
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from reparse_tf.data.labels import LabelTable, read_labels  # noqa: E402
from reparse_tf.data.schema import load_schema  # noqa: E402

REFERENCE = HERE.parent.parent / "shared" / "reference"
OUT = HERE / "red116_labels.csv"
SPLITS_OUT = HERE / "red116_test_splits.csv"
# supplement spelling -> dataset folder name
PRINTED = {"STYLEGAN2_ADA": "STYLEGAN_ADA", "VAEGAN": "VAE_GAN", "WGANP": "WGANGP", "DEEPOOL": "DEEPFOOL"}
AA = {"ADV_FACES", "DEEPFOOL", "FGSM", "PGD", "SEMANTIC", "GFLM"}
VAE = {"AAE", "ALAE", "BETA_B", "BETA_H", "BETA_TCVAE", "DFCVAE", "FACTOR_VAE", "STANDARD_VAE", "VAE_GAN"}
AR = {"FASTPIXEL", "FVBN", "GATED_PIXEL_CNN", "IMAGE_GPT", "LMCONV", "MADE", "NADE", "PIXELCNN",
      "PIXELCNN_PP", "PIXELSNAIL", "VAE_FIELD"}
NF = {"SRFLOW", "SURVAE_FLOW_MAXPOOL", "SURVAE_FLOW_NONPOOL", "VAE_FLOW", "VDVAE"}
# a printed raw value "reproduces" the array when it lands within this much of it after min-max
# (the arrays carry ~6 significant digits)
MATCH = 5e-6


def _read(path: Path, delimiter: str = ",") -> list[dict[str, str]]:
    with path.open(newline="") as fh:
        return list(csv.DictReader(fh, delimiter=delimiter))


def family(gm: str) -> str:
    for name, members in (("AA", AA), ("VAE", VAE), ("AR", AR), ("NF", NF)):
        if gm in members:
            return name
    return "GAN"


def build(reference: Path = REFERENCE) -> tuple[LabelTable, list[str], dict]:
    """Return (table in array row order, a note per row, the de-normalisation fits)."""
    schema = load_schema()
    names = [r["gm"] for r in sorted(_read(reference / "red116_names.csv"), key=lambda r: int(r["row"]))]
    norm_rows = sorted(_read(reference / "red116_ground_truth_normalized.csv"), key=lambda r: int(r["row"]))
    if len(names) != len(norm_rows):
        raise ValueError(f"{len(names)} names for {len(norm_rows)} rows of published arrays")
    norm = {c: np.array([float(r[c]) for r in norm_rows]) for c in schema.names}
    printed = {PRINTED.get(r["gm"], r["gm"]): r for r in _read(reference / "red100_ground_truth.tsv", "\t")}
    both = [i for i, g in enumerate(names) if g in printed]
    values = np.zeros((len(names), len(schema)))
    notes = [[] for _ in names]
    fits: dict[str, dict] = {}
    for p in schema.continuous:
        x = norm[p.name][both]
        y = np.array([float(printed[names[i]][p.name]) for i in both])
        design = np.stack([np.ones_like(x), x], axis=1)
        coef, *_ = np.linalg.lstsq(design, y, rcond=None)
        resid = np.abs(design @ coef - y)
        inlier = resid <= max(0.5, float(np.percentile(resid, 75)))
        (a, b), *_ = np.linalg.lstsq(design[inlier], y[inlier], rcond=None)
        raw = np.rint(a + b * norm[p.name]) + 0.0  # + 0.0: no '-0' in the table
        kept = 0
        for i, yi in zip(both, y, strict=True):
            if abs((yi - a) / b - norm[p.name][i]) <= MATCH:
                raw[i] = yi
                kept += 1
            else:
                notes[i].append(f"{p.name}: printed {yi:g}, arrays {raw[i]:g} (arrays kept)")
        values[:, schema.index(p.name)] = raw
        fits[p.name] = {"offset": float(a), "scale": float(b), "n_fit": int(inlier.sum()),
                        "printed_value_kept": kept}
    for p in schema.discrete:
        values[:, schema.index(p.name)] = norm[p.name]
    row_notes = []
    for i, g in enumerate(names):
        source = "printed raw values (supplement)" if g in printed else "de-normalised from the arrays"
        row_notes.append("; ".join([source, *notes[i]]))
    table = LabelTable(names, [family(g) for g in names], ["unknown"] * len(names), values)
    return table, row_notes, fits


def write(table: LabelTable, notes: list[str], path: Path = OUT) -> Path:
    schema = load_schema()
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=["gm", "gm_type", "content", *schema.names, "note"])
        writer.writeheader()
        for row, note in zip(table.to_dicts(schema), notes, strict=True):
            writer.writerow({**row, "note": note})
    tmp.replace(path)
    return path


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reference", type=Path, default=REFERENCE)
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args(argv)
    table, notes, fits = build(args.reference)
    for c, f in fits.items():
        print(f"  {c:22s} raw = {f['offset']:.6g} + {f['scale']:.6g} * norm  (fit on {f['n_fit']} GMs; "
              f"printed value kept for {f['printed_value_kept']})")
    write(table, notes, args.out)
    read_labels(args.out)  # validates every row against the schema
    shutil.copyfile(args.reference / "red116_test_splits.csv", args.out.with_name(SPLITS_OUT.name))
    print(f"wrote {args.out} ({len(table)} GMs) and {SPLITS_OUT.name}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
