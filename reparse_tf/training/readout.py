"""Linear readout: the parsing heads refitted on the frozen embedding, with penalties that cannot memorise GMs.

The end-to-end heads of the PN memorise the few training GMs (held-in discrete F1 near 1, unseen GMs
far below; see ``diagnostics``). After training, the readout fits the spectral peer's heads (ridge for
the continuous parameters, class-balanced logistic regression per discrete parameter, one penalty
each, chosen by cross-validation *grouped by GM*) on the shared embedding of the fitted GMs' images
against the targets the network was trained on, and appends them to the model as plain Dense layers
(``readout_continuous``, ``readout_<param>``) with the standardisation folded into their weights. The
model then serves them as its final predictions (:class:`reparse_tf.serving.inference.ModelParser`). ``keras``
+ numpy; the fit uses scikit-learn.
"""

from __future__ import annotations

import keras
import numpy as np
from keras import layers

from reparse_tf.data.schema import HyperparameterSchema, load_schema
from reparse_tf.evaluation.spectral_peer import SpectralPeer

READOUT_PREFIX = "readout_"
ABSENT_LOGIT = -30.0   # classes never seen in training: probability ~1e-13


def fit_readout(embeddings: np.ndarray, gms: np.ndarray, continuous: np.ndarray, discrete: np.ndarray,
                schema: HyperparameterSchema | None = None, seed: int = 0) -> SpectralPeer:
    """Ridge / logistic heads on ``[N, D]`` embeddings of training images (GM per image, normalised
    continuous targets, class codes)."""
    return SpectralPeer.fit(None, gms, continuous, discrete, schema, seed,
                            features=np.asarray(embeddings, np.float64))


def dense_weights(heads: SpectralPeer, schema: HyperparameterSchema | None = None
                  ) -> tuple[tuple[np.ndarray, np.ndarray], list[tuple[np.ndarray, np.ndarray]]]:
    """``((W [D, n_cont], b), [(W [D, K_m], b [K_m]) per discrete parameter])`` such that
    ``x @ W + b`` equals the fitted heads' output on unstandardised features ``x`` (logits for the
    discrete parameters; absent classes get :data:`ABSENT_LOGIT`)."""
    schema = schema or load_schema()
    mu, sigma = heads.scaler.mean_, heads.scaler.scale_

    def fold(coef: np.ndarray, intercept: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        w = (np.atleast_2d(coef) / sigma).T
        return w.astype(np.float32), (np.atleast_1d(intercept) - mu @ w).astype(np.float32)

    cont = fold(heads.ridge.coef_, heads.ridge.intercept_)
    disc = []
    d = len(mu)
    for clf, p in zip(heads.classifiers, schema.discrete, strict=True):
        w = np.zeros((d, p.num_classes), np.float32)
        b = np.full(p.num_classes, ABSENT_LOGIT, np.float32)
        if isinstance(clf, int):  # one class in training: predict it
            b[clf] = 0.0
        else:
            cw, cb = fold(clf.coef_, clf.intercept_)
            classes = clf.classes_.astype(int)
            if len(classes) == 2:  # sklearn's binary model: one logit, for classes_[1] against classes_[0]
                b[classes[0]], w[:, classes[1]], b[classes[1]] = 0.0, cw[:, 0], cb[0]
            else:
                w[:, classes], b[classes] = cw, cb
        disc.append((w, b))
    return cont, disc


def attach_readout(model: keras.Model, heads: SpectralPeer, schema: HyperparameterSchema | None = None
                   ) -> keras.Model:
    """``model`` with the readout layers added to its outputs (its other outputs unchanged)."""
    schema = schema or load_schema()
    emb = model.get_layer("embedding").output
    (wc, bc), disc = dense_weights(heads, schema)
    outputs = {n: model.get_layer(n).output for n in model.output_names}  # output keys are layer names
    dense = layers.Dense(wc.shape[1], name=f"{READOUT_PREFIX}continuous", dtype="float32")
    outputs[dense.name] = dense(emb)
    dense.set_weights([wc, bc])
    for (w, b), p in zip(disc, schema.discrete, strict=True):
        dense = layers.Dense(w.shape[1], name=f"{READOUT_PREFIX}{p.name}_logits", dtype="float32")
        logits = dense(emb)
        dense.set_weights([w, b])
        outputs[f"{READOUT_PREFIX}{p.name}"] = layers.Softmax(name=f"{READOUT_PREFIX}{p.name}",
                                                              dtype="float32")(logits)
    return keras.Model(model.inputs, outputs, name=model.name)


def has_readout(model: keras.Model) -> bool:
    return f"{READOUT_PREFIX}continuous" in {layer.name for layer in model.layers}
