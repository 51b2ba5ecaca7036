"""Cluster ground truth of RE-Net (sec. 3.3.1-3.3.4), fitted on a fold's training GMs only.

1. Continuous parameters are min-max normalised (:class:`MinMaxNormalizer` fitted on the training
   GMs); discrete codes are scaled to [0, 1] by ``code / (classes - 1)`` so every clustering feature
   shares the range; the architecture and loss vectors are concatenated (``y^nl``).
2. k-means (scikit-learn) runs separately per GM type; k is chosen by the elbow method (kneedle:
   the k whose point on the normalised inertia curve lies farthest below the chord from k=1 to
   k=k_max). A type with 1-2 GMs (or identical GMs) gets one cluster.
3. Targets per training GM: cluster targets (mean of the normalised continuous values, majority
   class of each discrete parameter, ties to the smallest code), deviation targets (continuous:
   GM - cluster; discrete: the GM's own class), fusion targets ``p`` (1 where the cluster's class
   equals the GM's, eq. 14).
4. Class weights ``w_m^i = N / N_m^i`` (sec. 3.3.3) counted over training *images* when image counts
   are given (the ingest manifest's counts), otherwise over training GMs. A class absent from
   training gets weight 0 (it is never a target); weights are capped at ``max_class_weight``.

The random ground-truth baseline (:func:`shuffle_labels_across_gms`) permutes each parameter's
values across the training GMs before all of the above; images are untouched.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from reparse_tf.data.labels import LabelTable, read_labels
from reparse_tf.data.manifest import manifest_path, read_manifest
from reparse_tf.data.schema import HyperparameterSchema, MinMaxNormalizer, load_schema

MAX_CLASS_WEIGHT = 100.0
MAX_K = 10


def shuffle_labels_across_gms(labels: LabelTable, train_gms: list[str], seed: int = 0,
                              schema: HyperparameterSchema | None = None) -> LabelTable:
    """Random-ground-truth baseline: permute every parameter's column independently across
    ``train_gms`` (a derangement per column, :func:`reparse_tf.targets.random_gt.shuffle_gm_labels`);
    other GMs keep their rows. Returns a new table."""
    from reparse_tf.targets.random_gt import shuffle_gm_labels

    shuffled = shuffle_gm_labels({g: labels.values[labels.row(g)] for g in train_gms}, seed)
    values = labels.values.copy()
    for g, vec in shuffled.items():
        values[labels.row(g)] = vec
    return LabelTable(list(labels.gms), list(labels.gm_types), list(labels.contents), values)


def elbow_k(inertias: list[float] | np.ndarray) -> int:
    """Elbow of an inertia curve for k = 1..len(inertias) (kneedle: max distance below the chord)."""
    y = np.asarray(inertias, dtype=np.float64)
    if len(y) <= 2 or y[0] <= 1e-12:
        return 1
    x = np.linspace(0.0, 1.0, len(y))
    yn = (y - y.min()) / max(y.max() - y.min(), 1e-12)
    chord = yn[0] + (yn[-1] - yn[0]) * x
    return int(np.argmax(chord - yn)) + 1


def clustering_features(labels: LabelTable, normalizer: MinMaxNormalizer,
                        schema: HyperparameterSchema | None = None) -> np.ndarray:
    """``[n_gms, 25]`` features in [0, 1]: normalised continuous values, scaled discrete codes."""
    schema = schema or load_schema()
    out = np.zeros((len(labels), len(schema)))
    out[:, schema.continuous_index] = normalizer.transform(labels.values[:, schema.continuous_index])
    for j in schema.discrete_index:
        out[:, j] = labels.values[:, j] / max(schema.params[j].num_classes - 1, 1)
    return out


def _kmeans(features: np.ndarray, seed: int, max_k: int) -> tuple[np.ndarray, list[float]]:
    from sklearn.cluster import KMeans

    n = len(features)
    n_distinct = len(np.unique(features.round(12), axis=0))
    if n <= 2 or n_distinct <= 1:
        return np.zeros(n, dtype=int), [0.0]
    ks = range(1, min(n, n_distinct, max_k) + 1)
    fits = [KMeans(n_clusters=k, n_init=10, random_state=seed).fit(features) for k in ks]
    inertias = [float(f.inertia_) for f in fits]
    return fits[elbow_k(inertias) - 1].labels_.astype(int), inertias


@dataclass
class ClusterGroundTruth:
    """Per-training-GM targets and class weights of one fold.

    Arrays are indexed by ``gms`` (training GMs, sorted); discrete arrays follow ``schema.discrete``.
    ``class_weights[m]`` has one weight per class of discrete parameter ``m``.
    """

    gms: list[str]
    gm_types: list[str]
    cluster_of: np.ndarray                # [n_gms] cluster id
    cluster_types: list[str]              # gm type of each cluster
    k_per_type: dict[str, int]
    cluster_continuous: np.ndarray        # [n_clusters, n_cont] normalised means
    cluster_discrete: np.ndarray          # [n_clusters, n_disc] majority codes
    gm_continuous: np.ndarray             # [n_gms, n_cont] normalised GM values
    gm_discrete: np.ndarray               # [n_gms, n_disc] GM codes
    class_weights: list[np.ndarray]
    normalizer: MinMaxNormalizer
    seed: int = 0
    random_gt: bool = False
    class_weight_basis: str = "gms"
    inertias: dict[str, list[float]] = field(default_factory=dict)
    schema_version: int = 1

    # -- derived targets ------------------------------------------------------------------
    @property
    def n_clusters(self) -> int:
        return len(self.cluster_types)

    @property
    def deviation_continuous(self) -> np.ndarray:
        return self.gm_continuous - self.cluster_continuous[self.cluster_of]

    @property
    def fusion(self) -> np.ndarray:
        """``[n_gms, n_disc]`` eq. 14: 1 where the cluster class equals the GM class."""
        return (self.cluster_discrete[self.cluster_of] == self.gm_discrete).astype(np.float32)

    def gm_rows(self, gms) -> np.ndarray:
        """Row index of each GM name; raises ValueError naming GMs that are not training GMs."""
        index = {g: i for i, g in enumerate(self.gms)}
        missing = sorted({str(g) for g in gms} - index.keys())
        if missing:
            raise ValueError(f"GMs not in the cluster ground truth (not training GMs of this fold): "
                             f"{', '.join(missing[:10])}{' ...' if len(missing) > 10 else ''}")
        return np.array([index[str(g)] for g in gms], dtype=int)

    def targets(self, gms, schema: HyperparameterSchema | None = None) -> dict[str, np.ndarray]:
        """Per-example training targets for a sequence of GM names (one per image).

        Keys: ``cluster_continuous``, ``instance_continuous``, ``direct_continuous`` [N, n_cont];
        ``cluster_<p>``, ``instance_<p>``, ``direct_<p>`` [N] int class codes for each discrete ``p``;
        ``fusion`` [N, n_disc] float.
        """
        schema = schema or load_schema()
        rows = self.gm_rows(gms)
        clusters = self.cluster_of[rows]
        out = {"cluster_continuous": self.cluster_continuous[clusters].astype(np.float32),
               "instance_continuous": self.deviation_continuous[rows].astype(np.float32),
               "direct_continuous": self.gm_continuous[rows].astype(np.float32),
               "fusion": self.fusion[rows]}
        for m, p in enumerate(schema.discrete):
            out[f"cluster_{p.name}"] = self.cluster_discrete[clusters, m].astype(np.int32)
            out[f"instance_{p.name}"] = self.gm_discrete[rows, m].astype(np.int32)
            out[f"direct_{p.name}"] = out[f"instance_{p.name}"]
        return out

    # -- persistence ----------------------------------------------------------------------
    def to_json(self) -> dict:
        return {"schema_version": self.schema_version, "seed": self.seed, "random_gt": self.random_gt,
                "class_weight_basis": self.class_weight_basis, "gms": self.gms, "gm_types": self.gm_types,
                "cluster_types": self.cluster_types, "k_per_type": self.k_per_type,
                "n_clusters": self.n_clusters, "inertias": self.inertias,
                "normalizer": self.normalizer.to_json(),
                "clusters": [{"id": c, "gm_type": t,
                              "members": [g for g, k in zip(self.gms, self.cluster_of, strict=True) if k == c]}
                             for c, t in enumerate(self.cluster_types)]}

    def save(self, out_dir: str | Path) -> Path:
        """Write ``cluster_gt.json`` + ``arrays.npz`` into ``out_dir`` atomically (temp dir, then rename)."""
        out_dir = Path(out_dir)
        out_dir.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", dir=out_dir.parent))
        (tmp / "cluster_gt.json").write_text(json.dumps(self.to_json(), indent=2))
        arrays = {"cluster_of": self.cluster_of, "cluster_continuous": self.cluster_continuous,
                  "cluster_discrete": self.cluster_discrete, "gm_continuous": self.gm_continuous,
                  "gm_discrete": self.gm_discrete}
        arrays.update({f"class_weights_{m}": w for m, w in enumerate(self.class_weights)})
        np.savez(tmp / "arrays.npz", **arrays)
        if out_dir.exists():
            for name in ("cluster_gt.json", "arrays.npz"):
                os.replace(tmp / name, out_dir / name)
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            os.replace(tmp, out_dir)
        return out_dir

    @classmethod
    def load(cls, in_dir: str | Path) -> ClusterGroundTruth:
        in_dir = Path(in_dir)
        meta_path, arr_path = in_dir / "cluster_gt.json", in_dir / "arrays.npz"
        missing = "cluster ground truth file missing (run `reparse cluster-gt`)"
        meta = _read_json(meta_path, missing)
        if not arr_path.is_file():
            raise FileNotFoundError(f"{arr_path}: {missing}")
        arr = np.load(arr_path)
        n_disc = len([k for k in arr.files if k.startswith("class_weights_")])
        return cls(gms=list(meta["gms"]), gm_types=list(meta["gm_types"]), cluster_of=arr["cluster_of"],
                   cluster_types=list(meta["cluster_types"]), k_per_type=dict(meta["k_per_type"]),
                   cluster_continuous=arr["cluster_continuous"], cluster_discrete=arr["cluster_discrete"],
                   gm_continuous=arr["gm_continuous"], gm_discrete=arr["gm_discrete"],
                   class_weights=[arr[f"class_weights_{m}"] for m in range(n_disc)],
                   normalizer=MinMaxNormalizer.from_json(meta["normalizer"]), seed=int(meta["seed"]),
                   random_gt=bool(meta["random_gt"]), class_weight_basis=meta["class_weight_basis"],
                   inertias=meta.get("inertias", {}), schema_version=int(meta["schema_version"]))


def class_weights_from_counts(codes: np.ndarray, counts: np.ndarray, num_classes: int,
                              cap: float = MAX_CLASS_WEIGHT) -> np.ndarray:
    """``N / N_i`` per class from per-GM class codes and per-GM example counts; absent classes -> 0."""
    per_class = np.bincount(codes.astype(int), weights=counts, minlength=num_classes)[:num_classes]
    total = per_class.sum()
    with np.errstate(divide="ignore"):
        w = np.where(per_class > 0, total / np.maximum(per_class, 1e-12), 0.0)
    return np.minimum(w, cap).astype(np.float32)


def compute_cluster_ground_truth(labels: LabelTable, train_gms: list[str], seed: int = 0,
                                 image_counts: dict[str, int] | None = None, random_gt: bool = False,
                                 max_k: int = MAX_K, schema: HyperparameterSchema | None = None,
                                 normalizer_gms: list[str] | None = None) -> ClusterGroundTruth:
    """Cluster ground truth of ``train_gms`` (rows of ``labels``; other rows are never read).

    Args:
        labels: label table holding at least the training GMs.
        train_gms: the fold's training GMs.
        seed: k-means seed (and shuffling seed when ``random_gt``).
        image_counts: images per GM; class weights are counted over images when given.
        random_gt: shuffle each parameter across the training GMs first (random-GT baseline).
        max_k: largest k tried by the elbow method per GM type.
        normalizer_gms: training-side GMs whose label ranges fit the min-max normaliser (default
            ``train_gms``; a learning curve fits a subset in the full fit set's units).
    """
    schema = schema or load_schema()
    train_gms = sorted(train_gms)
    if not train_gms:
        raise ValueError("no training GMs to cluster")
    missing = sorted(set(train_gms) - set(labels.gms))
    if missing:
        raise ValueError(f"training GMs missing from the label table: {', '.join(missing)}")
    if random_gt:
        labels = shuffle_labels_across_gms(labels, train_gms, seed, schema)
    table = labels.subset(train_gms)
    cont_raw = table.values[:, schema.continuous_index]
    normalizer = MinMaxNormalizer.fit(cont_raw if normalizer_gms is None else
                                      labels.subset(sorted(normalizer_gms)).values[:, schema.continuous_index],
                                      schema)
    features = clustering_features(table, normalizer, schema)
    gm_cont = normalizer.transform(cont_raw)
    gm_disc = table.values[:, schema.discrete_index].astype(int)

    cluster_of = np.zeros(len(table), dtype=int)
    cluster_types: list[str] = []
    k_per_type: dict[str, int] = {}
    inertias: dict[str, list[float]] = {}
    for t in sorted(set(table.gm_types)):
        rows = np.array([i for i, g in enumerate(table.gm_types) if g == t])
        assign, inertias[t] = _kmeans(features[rows], seed, max_k)
        used = sorted(set(assign.tolist()))
        k_per_type[t] = len(used)
        for c in used:
            cluster_of[rows[assign == c]] = len(cluster_types)
            cluster_types.append(t)

    n_clusters = len(cluster_types)
    cl_cont = np.zeros((n_clusters, len(schema.continuous)))
    cl_disc = np.zeros((n_clusters, len(schema.discrete)), dtype=int)
    for c in range(n_clusters):
        members = cluster_of == c
        cl_cont[c] = gm_cont[members].mean(axis=0)
        for m, p in enumerate(schema.discrete):
            cl_disc[c, m] = int(np.argmax(np.bincount(gm_disc[members, m], minlength=p.num_classes)))

    counts = np.ones(len(table))
    basis = "gms"
    if image_counts is not None:
        counts = np.array([float(image_counts.get(g, 0)) for g in train_gms])
        basis = "images"
    weights = [class_weights_from_counts(gm_disc[:, m], counts, p.num_classes)
               for m, p in enumerate(schema.discrete)]
    return ClusterGroundTruth(gms=train_gms, gm_types=list(table.gm_types), cluster_of=cluster_of,
                              cluster_types=cluster_types, k_per_type=k_per_type, cluster_continuous=cl_cont,
                              cluster_discrete=cl_disc, gm_continuous=gm_cont, gm_discrete=gm_disc,
                              class_weights=weights, normalizer=normalizer, seed=seed, random_gt=random_gt,
                              class_weight_basis=basis, inertias=inertias, schema_version=schema.version)


def _read_json(path: Path, missing: str) -> dict:
    """Parse a JSON artifact; errors name the file and the reason."""
    if not path.is_file():
        raise FileNotFoundError(f"{path}: {missing}")
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: not valid JSON: {exc}") from exc


# -- examples-dir / Beam component ------------------------------------------------------------
def read_fold_info(examples_dir: str | Path) -> tuple[LabelTable, dict[str, int], dict[str, int]]:
    """(labels, folds {gm: fold}, counts {gm: n images}) of an ingested EXAMPLES DIR."""
    examples_dir = Path(examples_dir)
    manifest = read_manifest(examples_dir)
    if "folds" not in manifest:
        raise ValueError(f"{manifest_path(examples_dir)}: no 'folds' entry")
    labels = read_labels(examples_dir / "labels.csv")
    folds = {str(g): int(f) for g, f in manifest["folds"].items()}
    counts = {str(g): int(n) for g, n in manifest.get("counts", {}).items()}
    return labels, folds, counts


def run_cluster_ground_truth(examples_dir: str | Path, out_dir: str | Path, fold: int, seed: int = 0,
                             beam_args: list[str] | None = None, random_gt: bool = False,
                             validation_fraction: float | None = None, max_k: int = MAX_K) -> Path:
    """Beam component: read the ingested labels + manifest folds, keep the fold's fitted training GMs
    (the training GMs less the validation GMs of ``folds.validation_split``, as the trainer carves
    them), combine them globally and compute/save the cluster ground truth into ``out_dir``.

    On hosts without Apache Beam (GPU hosts with JAX only) the same steps run in-process."""
    import importlib.util

    from reparse_tf.data.folds import DEFAULT_VALIDATION_FRACTION, fold_gms

    labels, folds, counts = read_fold_info(examples_dir)
    fraction = DEFAULT_VALIDATION_FRACTION if validation_fraction is None else validation_fraction
    train_gms = fold_gms(folds, fold, labels.type_of, fraction).fit
    schema = load_schema()
    rows = [{"gm": g, "gm_type": t, "content": c, "values": v.tolist(), "fold": folds.get(g, -1),
             "count": counts.get(g, 0)}
            for g, t, c, v in zip(labels.gms, labels.gm_types, labels.contents, labels.values, strict=True)]
    out_dir = Path(out_dir)

    def compute(gm_rows: list[dict]) -> str:
        if not gm_rows:
            raise ValueError(f"{examples_dir}: fold {fold} has no training GMs")
        gm_rows = sorted(gm_rows, key=lambda r: r["gm"])
        table = LabelTable([r["gm"] for r in gm_rows], [r["gm_type"] for r in gm_rows],
                           [r["content"] for r in gm_rows], np.array([r["values"] for r in gm_rows]))
        img_counts = {r["gm"]: r["count"] for r in gm_rows} if all(r["count"] for r in gm_rows) else None
        cgt = compute_cluster_ground_truth(table, table.gms, seed=seed, image_counts=img_counts,
                                           random_gt=random_gt, max_k=max_k, schema=schema)
        return str(cgt.save(out_dir))

    train_set = set(train_gms)
    if importlib.util.find_spec("apache_beam") is None:
        print("note: apache_beam is not installed; computing the cluster ground truth in-process")
        compute([r for r in rows if r["gm"] in train_set])
        return out_dir
    import apache_beam as beam

    from reparse_tf.data.beam_runner import beam_pipeline

    with beam_pipeline(beam_args) as p:
        _ = (p
             | "GMRows" >> beam.Create(rows)
             | "TrainingGMs" >> beam.Filter(lambda r: r["gm"] in train_set)
             | "AllTrainingGMs" >> beam.combiners.ToList()
             | "Compute" >> beam.Map(compute))
    if not (out_dir / "cluster_gt.json").is_file():
        raise RuntimeError(f"cluster ground truth was not written to {out_dir}")
    return out_dir
