"""The hyperparameter schema: one declaration (``schemas/hyperparameters.json``) of the 25
model-parsing hyperparameters, loaded into a typed spec.

Everything that lists parameters (heads, losses, class weights, metrics, TFMA configs, reports,
label tables) iterates over :class:`HyperparameterSchema`; nothing names the 25 by hand.
This module imports numpy only, so it works on hosts without TensorFlow.
"""

from __future__ import annotations

import importlib.resources
import json
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Literal

import numpy as np

try:  # the repository's schemas/ folder is installed as the package reparse_tf.schemas (setup.py)
    SCHEMA_DIR = Path(str(importlib.resources.files("reparse_tf.schemas")))
except ModuleNotFoundError:  # a source tree on sys.path without the install
    SCHEMA_DIR = Path(__file__).resolve().parents[2] / "schemas"
SCHEMA_PATH = SCHEMA_DIR / "hyperparameters.json"

Kind = Literal["continuous", "discrete"]
Group = Literal["architecture", "loss"]


@dataclass(frozen=True)
class Hyperparameter:
    """One parsed hyperparameter.

    Attributes:
        name: column name in label tables and TFRecords (e.g. ``"layers"``, ``"loss_KL"``).
        kind: ``"continuous"`` (regression) or ``"discrete"`` (classification).
        group: ``"architecture"`` or ``"loss"``.
        classes: class names of a discrete parameter; codes are their indices.
        low, high: validity domain of a continuous parameter in raw units.
        doc: one-line meaning.
    """

    name: str
    kind: Kind
    group: Group
    classes: tuple[str, ...] = ()
    low: float = 0.0
    high: float = 1.0
    doc: str = ""

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    @property
    def is_continuous(self) -> bool:
        return self.kind == "continuous"

    def validate(self, value: float) -> str | None:
        """Return why ``value`` is invalid for this parameter, or None when it is valid."""
        if value is None or not np.isfinite(value):
            return f"{self.name}: {value!r} is not a finite number"
        if self.is_continuous:
            if not self.low <= value <= self.high:
                return f"{self.name}: {value:g} is outside the declared range [{self.low:g}, {self.high:g}]"
            return None
        if float(value) != int(value) or not 0 <= int(value) < self.num_classes:
            codes = ", ".join(f"{i}={c}" for i, c in enumerate(self.classes))
            return f"{self.name}: {value:g} is not a declared class code ({codes})"
        return None


@dataclass(frozen=True)
class HyperparameterSchema:
    """The ordered 25 hyperparameters plus dataset-level declarations."""

    params: tuple[Hyperparameter, ...]
    gm_types: tuple[str, ...] = ()
    image_extensions: tuple[str, ...] = ()
    version: int = 1
    _index: dict[str, int] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        self._index.update({p.name: i for i, p in enumerate(self.params)})
        if len(self._index) != len(self.params):
            raise ValueError("hyperparameter names must be unique")

    # -- views -----------------------------------------------------------------------------
    @property
    def names(self) -> list[str]:
        return [p.name for p in self.params]

    @property
    def continuous(self) -> list[Hyperparameter]:
        """Continuous architecture parameters (9 in the paper)."""
        return [p for p in self.params if p.is_continuous]

    @property
    def discrete(self) -> list[Hyperparameter]:
        """Every classification target: 6 discrete architecture parameters + 10 loss flags."""
        return [p for p in self.params if not p.is_continuous]

    @property
    def architecture(self) -> list[Hyperparameter]:
        return [p for p in self.params if p.group == "architecture"]

    @property
    def discrete_architecture(self) -> list[Hyperparameter]:
        return [p for p in self.discrete if p.group == "architecture"]

    @property
    def losses(self) -> list[Hyperparameter]:
        return [p for p in self.params if p.group == "loss"]

    @property
    def continuous_index(self) -> np.ndarray:
        """Column indices (into the 25-vector) of the continuous parameters."""
        return np.array([self._index[p.name] for p in self.continuous], dtype=int)

    @property
    def discrete_index(self) -> np.ndarray:
        return np.array([self._index[p.name] for p in self.discrete], dtype=int)

    def index(self, name: str) -> int:
        try:
            return self._index[name]
        except KeyError:
            raise KeyError(f"unknown hyperparameter {name!r}; known: {', '.join(self.names)}") from None

    def __getitem__(self, name: str) -> Hyperparameter:
        return self.params[self.index(name)]

    def __len__(self) -> int:
        return len(self.params)

    def validate_row(self, values: np.ndarray | list[float]) -> list[str]:
        """All reasons why a raw 25-vector is invalid (empty when valid)."""
        values = list(values)
        if len(values) != len(self.params):
            return [f"expected {len(self.params)} values, got {len(values)}"]
        return [msg for p, v in zip(self.params, values, strict=True) if (msg := p.validate(v))]

    def table(self) -> list[dict[str, str]]:
        """Rows describing the schema, for ``reparse schema`` and reports."""
        rows = []
        for i, p in enumerate(self.params):
            domain = (
                f"[{p.low:g}, {p.high:g}]"
                if p.is_continuous
                else ", ".join(f"{k}={c}" for k, c in enumerate(p.classes))
            )
            rows.append({"#": str(i + 1), "name": p.name, "group": p.group, "kind": p.kind,
                         "domain": domain, "doc": p.doc})
        return rows


def _parse(raw: dict) -> HyperparameterSchema:
    params: list[Hyperparameter] = []
    for item in raw["architecture"]:
        if item["kind"] == "continuous":
            low, high = item["range"]
            params.append(Hyperparameter(item["name"], "continuous", "architecture",
                                         low=float(low), high=float(high), doc=item.get("doc", "")))
        else:
            params.append(Hyperparameter(item["name"], "discrete", "architecture",
                                         classes=tuple(item["classes"]), doc=item.get("doc", "")))
    for item in raw["loss"]:
        params.append(Hyperparameter(item["name"], "discrete", "loss",
                                     classes=tuple(raw["loss_classes"]), doc=item.get("doc", "")))
    return HyperparameterSchema(tuple(params), tuple(raw.get("gm_types", ())),
                                tuple(raw.get("image_extensions", ())), int(raw.get("version", 1)))


@cache
def load_schema(path: str | Path = SCHEMA_PATH) -> HyperparameterSchema:
    """Load the hyperparameter schema (cached)."""
    path = Path(path)
    try:
        raw = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise ValueError(f"{path}: cannot read hyperparameter schema: {exc}") from exc
    return _parse(raw)


@dataclass
class MinMaxNormalizer:
    """Min-max normalisation of the continuous parameters, fitted on a set of (training) GMs.

    ``transform`` maps raw continuous values to [0, 1] on the fitted GMs; ``inverse_transform``
    maps back. A constant column maps to 0.
    """

    names: list[str]
    minimum: np.ndarray
    maximum: np.ndarray

    @classmethod
    def fit(cls, continuous_raw: np.ndarray, schema: HyperparameterSchema | None = None) -> MinMaxNormalizer:
        """Fit on a ``[n_gms, n_continuous]`` array of raw values (one row per training GM)."""
        schema = schema or load_schema()
        x = np.asarray(continuous_raw, dtype=np.float64)
        if x.ndim != 2 or x.shape[1] != len(schema.continuous) or len(x) == 0:
            raise ValueError(f"expected [n_gms>0, {len(schema.continuous)}] raw values, got {x.shape}")
        return cls([p.name for p in schema.continuous], x.min(axis=0), x.max(axis=0))

    @property
    def span(self) -> np.ndarray:
        span = self.maximum - self.minimum
        return np.where(span > 0, span, 1.0)

    def transform(self, raw: np.ndarray) -> np.ndarray:
        return (np.asarray(raw, dtype=np.float64) - self.minimum) / self.span

    def inverse_transform(self, normalized: np.ndarray) -> np.ndarray:
        return np.asarray(normalized, dtype=np.float64) * self.span + self.minimum

    def to_json(self) -> dict:
        return {"names": list(self.names), "minimum": self.minimum.tolist(), "maximum": self.maximum.tolist()}

    @classmethod
    def from_json(cls, data: dict) -> MinMaxNormalizer:
        return cls(list(data["names"]), np.asarray(data["minimum"], float), np.asarray(data["maximum"], float))


def split_labels(values: np.ndarray, normalizer: MinMaxNormalizer, schema: HyperparameterSchema
                 ) -> tuple[np.ndarray, np.ndarray]:
    """``[N, 25]`` raw label rows -> (normalised continuous ``[N, 9]``, discrete codes ``[N, 16]``)."""
    values = np.asarray(values)
    return normalizer.transform(values[:, schema.continuous_index]), values[:, schema.discrete_index].astype(int)
