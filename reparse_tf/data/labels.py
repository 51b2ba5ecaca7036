"""Label tables of the RED layout: ``ROOT/labels.csv``, one row per GM.

Columns: ``gm, gm_type, content`` then the 25 schema parameters in raw units (discrete parameters
as class codes, binary flags 1 = used). numpy + csv only.
"""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from reparse_tf.data.schema import HyperparameterSchema, load_schema

META_COLUMNS = ("gm", "gm_type", "content")


class LabelError(ValueError):
    """A label table is malformed; the message names the file, row and reason."""


@dataclass
class LabelTable:
    """Ground truth of a set of GMs.

    Attributes:
        gms: GM names (folder names), unique.
        gm_types: family per GM (GAN, VAE, AA, AR, NF, ...).
        contents: content per GM (face, digits, natural, texture, ...).
        values: ``[n_gms, 25]`` raw values in schema order.
    """

    gms: list[str]
    gm_types: list[str]
    contents: list[str]
    values: np.ndarray

    def __post_init__(self) -> None:
        self.values = np.asarray(self.values, dtype=np.float64).reshape(len(self.gms), -1)
        if len(set(self.gms)) != len(self.gms):
            dup = sorted({g for g in self.gms if self.gms.count(g) > 1})
            raise LabelError(f"duplicate GM names in label table: {', '.join(dup)}")

    def __len__(self) -> int:
        return len(self.gms)

    def row(self, gm: str) -> int:
        return self.gms.index(gm)

    @property
    def type_of(self) -> dict[str, str]:
        """GM name -> family."""
        return dict(zip(self.gms, self.gm_types, strict=True))

    def subset(self, gms: list[str]) -> LabelTable:
        idx = [self.row(g) for g in gms]
        return LabelTable([self.gms[i] for i in idx], [self.gm_types[i] for i in idx],
                          [self.contents[i] for i in idx], self.values[idx])

    def column(self, name: str, schema: HyperparameterSchema | None = None) -> np.ndarray:
        return self.values[:, (schema or load_schema()).index(name)]

    def to_dicts(self, schema: HyperparameterSchema | None = None) -> list[dict]:
        schema = schema or load_schema()
        rows = []
        for i, gm in enumerate(self.gms):
            row = {"gm": gm, "gm_type": self.gm_types[i], "content": self.contents[i]}
            row.update({p.name: _fmt(v) for p, v in zip(schema.params, self.values[i], strict=True)})
            rows.append(row)
        return rows


def _fmt(v: float) -> int | float:
    return int(v) if float(v).is_integer() else float(v)


def read_labels(path: str | Path, schema: HyperparameterSchema | None = None) -> LabelTable:
    """Read and validate a ``labels.csv``; every problem is reported in one :class:`LabelError`."""
    schema = schema or load_schema()
    path = Path(path)
    if not path.is_file():
        raise LabelError(f"{path}: label table not found")
    with path.open(newline="") as fh:
        reader = csv.DictReader(fh)
        header = reader.fieldnames or []
        missing = [c for c in (*META_COLUMNS, *schema.names) if c not in header]
        if missing:
            raise LabelError(f"{path}: missing columns: {', '.join(missing)}")
        gms, types, contents, values, problems = [], [], [], [], []
        for lineno, row in enumerate(reader, start=2):
            gm = (row["gm"] or "").strip()
            if not gm:
                problems.append(f"{path}:{lineno}: empty gm name")
                continue
            vec = []
            for p in schema.params:
                text = (row[p.name] or "").strip()
                try:
                    vec.append(float(text))
                except ValueError:
                    vec.append(float("nan"))
            problems += [f"{path}:{lineno} ({gm}): {m}" for m in schema.validate_row(vec)]
            gms.append(gm)
            types.append((row["gm_type"] or "").strip())
            contents.append((row["content"] or "").strip())
            values.append(vec)
    if problems:
        raise LabelError("invalid label table:\n  " + "\n  ".join(problems))
    return LabelTable(gms, types, contents, np.array(values, dtype=np.float64).reshape(len(gms), len(schema)))


def write_labels(table: LabelTable, path: str | Path, schema: HyperparameterSchema | None = None) -> Path:
    """Write ``labels.csv`` atomically (temporary name, then rename)."""
    schema = schema or load_schema()
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=[*META_COLUMNS, *schema.names])
        writer.writeheader()
        writer.writerows(table.to_dicts(schema))
    os.replace(tmp, path)
    return path
