"""Training diagnostics written every epoch: how well the parser fits its training GMs (held-in images),
how it does on validation GMs (training-side GMs it never fits), the four fingerprint-constraint terms
and the fingerprint RMS. Without both fit and validation figures, underfitting and memorising the
training GMs look the same on the test fold. ``keras`` + numpy only.

:class:`ParsingDiagnostics` adds to each epoch's logs (so ``history.json`` records them):
``heldin_<key>`` / ``val_<key>`` for ``continuous_l1``, ``continuous_r2``, ``discrete_f1``,
``loss_f1``; ``val_score``; ``fp_rms`` and ``fp_<term>`` for the fingerprint terms (FEN models).
The trainer selects the epoch (and stops early) on ``val_score`` with :func:`best_epoch`.
"""

from __future__ import annotations

import keras
import numpy as np

from reparse_tf.data.schema import HyperparameterSchema, load_schema
from reparse_tf.evaluation.metrics import parsing_metrics

DIAGNOSTIC_KEYS = ("continuous_l1", "continuous_r2", "discrete_f1", "loss_f1")


def validation_score(summary: dict) -> float:
    """One number to select epochs by (higher is better): mean of discrete F1 and loss F1 minus the
    continuous L1 (all three in [0, 1])."""
    vals = [summary.get("discrete_f1"), summary.get("loss_f1"), summary.get("continuous_l1")]
    if any(v is None for v in vals):
        return float("-inf")
    return 0.5 * (vals[0] + vals[1]) - vals[2]


class ParsingDiagnostics(keras.callbacks.Callback):
    """Per-epoch parsing metrics on held-in and validation images and the fingerprint terms.

    Args:
        heldin, validation: ``(images uint8 [N,S,S,3], normalised continuous [N,n_cont], discrete
            codes [N,n_disc])`` (validation may be None).
    """

    def __init__(self, heldin: tuple, validation: tuple | None, window: int | None = None,
                 schema: HyperparameterSchema | None = None):
        super().__init__()
        self.schema = schema or load_schema()
        self.heldin, self.validation, self.window = heldin, validation, window

    def on_train_begin(self, logs=None):
        names = ["final_continuous", *(f"final_{p.name}" for p in self.schema.discrete)]
        self._predict = keras.Model(self.model.inputs, [self.model.get_layer(n).output for n in names])
        layer_names = {layer.name for layer in self.model.layers}
        self._fen = (keras.Model(self.model.inputs, self.model.get_layer("fingerprint_constraints").output)
                     if "fingerprint_constraints" in layer_names else None)

    def _summary(self, images: np.ndarray, true_cont: np.ndarray, true_disc: np.ndarray) -> dict:
        outs = self._predict.predict(images, batch_size=128, verbose=0)
        disc = np.stack([np.asarray(o).argmax(axis=-1) for o in outs[1:]], axis=1)
        # no RANSAC slope: it took a third of a small training's time, and no diagnostic reads it
        return parsing_metrics(true_cont, np.asarray(outs[0], float), true_disc, disc, self.schema,
                               slope=False)["summary"]

    def on_epoch_end(self, epoch, logs=None):
        from reparse_tf.model.fingerprint_losses import default_window, fingerprint_terms

        logs = logs if logs is not None else {}
        for prefix, data in (("heldin", self.heldin), ("val", self.validation)):
            if data is None or len(data[0]) == 0:
                continue
            summary = self._summary(*data)
            logs.update({f"{prefix}_{k}": float(summary[k]) if summary[k] is not None else float("nan")
                         for k in DIAGNOSTIC_KEYS})
            if prefix == "val":
                logs["val_score"] = validation_score(summary)
        if self._fen is not None:
            fp = np.asarray(self._fen.predict(self.heldin[0][:64], verbose=0), np.float32)
            terms = fingerprint_terms(fp, self.window or default_window(fp.shape[1]))
            logs.update({f"fp_{k}": float(keras.ops.convert_to_numpy(v)) for k, v in terms.items()})
            logs["fp_rms"] = float(np.sqrt(np.mean(fp.astype(np.float64) ** 2)))


def best_epoch(records: list[dict]) -> int | None:
    """The epoch with the highest ``val_score`` in ``history.json`` records (the first on ties;
    None when no epoch has one)."""
    scored = [(r["val_score"], -r["epoch"]) for r in records if np.isfinite(r.get("val_score", np.nan))]
    return -max(scored)[1] if scored else None
