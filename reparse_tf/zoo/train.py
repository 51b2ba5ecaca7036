"""Train a built GM on its content and sample images from it (``keras`` + ``keras.ops`` only).

``train_gm(gm, images, classes, steps, batch, seed, check)`` returns the per-step objective history (dict of
lists); ``check(step) -> bool`` (optional) is called after every step and ends training early when it returns
True; ``sample_gm(gm, n, images, seed)`` returns ``uint8 [n, S, S, 3]``. Objectives follow
:mod:`reparse_tf.zoo.losses`; randomness is drawn with numpy outside the loss closures.
"""

from __future__ import annotations

from collections.abc import Callable

import keras
import numpy as np
from keras import ops

from reparse_tf.zoo import losses as L
from reparse_tf.zoo.backend_train import make_step
from reparse_tf.zoo.models import AR_LEVELS, GM

AA_EPS = 16 / 255  # L-infinity budget of the attacks (a common 16/255 budget)
#: Adam (beta_1 = 0.5) learning rates: GAN generator, VAE / AA generator networks, discriminator, WGAN critic
LR = {"GAN": 1e-3, "VAE": 2e-3, "AA": 2e-3, "d": 4e-4, "wgan_d": 5e-5}
#: weight of the paired reconstruction terms (L1 / L2 / MSE) next to an adversarial term (pix2pix uses 100)
GAN_RECON_WEIGHT = 10.0
#: side of the grid of block means that a conditional GAN's input keeps of its target (4 x 4: a GAN that
#: copied its input would score FD ratio 0.09-0.72 by content, so generating detail is needed to pass)
COND_GRID = 4
#: std of the noise added to the (centred) conditional GAN input
CENTRED_NOISE = 0.2
#: weight of the VAE's KL term (per pixel) next to its reconstruction terms
VAE_KL_WEIGHT = 0.01
#: standard deviation of the NF's base samples (1 = the trained model's own distribution; 0.7 shrank the
#: sampled contrast: nf_058 FD ratio 0.46 at 0.7, 0.26 at 1.0)
NF_TEMPERATURE = 1.0
#: bound of the VAE encoder's log-variance (training and posterior sampling)
LOGVAR_CLIP = 8.0


#: ``check(step) -> bool`` of :func:`train_gm`: True ends training after that step
Check = Callable[[int], bool] | None


def to_model(x, last_act: str):
    """[0, 1] images (numpy or tensor) -> the generator's output range ([-1, 1] for Tanh)."""
    return centred(x) if last_act == "Tanh" else x


def from_model(y: np.ndarray, last_act: str) -> np.ndarray:
    y = (y + 1) / 2 if last_act == "Tanh" else y
    return np.clip(np.asarray(y, dtype=np.float32), 0, 1)


def to_uint8(x: np.ndarray) -> np.ndarray:
    return np.clip(np.round(np.asarray(x) * 255), 0, 255).astype(np.uint8)


def _low(x: np.ndarray, r: int) -> np.ndarray:
    f = x.shape[1] // r
    return x.reshape(len(x), r, f, r, f, 3).mean(axis=(2, 4)) if f > 1 else x


def centred(x):
    """[0, 1] images -> [-1, 1]: the input range of the GMs' encoders (as in pix2pix / DCGAN)."""
    return 2 * x - 1


def coarsened(x: np.ndarray) -> np.ndarray:
    """[0, 1] images averaged over the blocks of a ``COND_GRID`` square grid, nearest upsampled back: a GAN's
    condition."""
    f = max(x.shape[1] // COND_GRID, 1)
    return np.repeat(np.repeat(_low(x, x.shape[1] // f), f, 1), f, 2)


def _coarse(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Conditional-GAN input: :func:`coarsened` image, centred, plus noise."""
    c = centred(coarsened(x))
    return (c + CENTRED_NOISE * rng.standard_normal(c.shape)).astype(np.float32)


def _vars(*models) -> list:
    return [v for m in models for v in m.trainable_variables]


def _step(gm: GM, loss_fn, models, optimizer: keras.optimizers.Optimizer):
    """:func:`make_step` training the trainable variables of ``models``, reading every variable of ``gm``
    live (and keeping the loss's updates of non-trainable ones: BatchNorm statistics)."""
    return make_step(loss_fn, _vars(*models), optimizer, [v for net in gm.nets.values() for v in net.variables])


def _clip(model: keras.Model, c: float) -> None:
    for v in model.trainable_variables:
        v.assign(ops.clip(v, -c, c))


def _gan_pair(gm: GM, loss_g, loss_d, g_models, steps, batch, data_fn, check: Check = None):
    """Alternate D and G steps; ``data_fn(step) -> args`` feeds both closures; ``check`` as in
    :func:`train_gm`."""
    g_opt = keras.optimizers.Adam(LR[gm.spec.family], beta_1=0.5)
    g_step = _step(gm, loss_g, g_models, g_opt)
    d_step = None
    if loss_d is not None:
        d = gm["discriminator"]
        d_opt = keras.optimizers.Adam(LR["wgan_d" if "WGAN" in gm.spec.losses else "d"], beta_1=0.5)
        d_step = _step(gm, loss_d, [d], d_opt)
    hist: dict[str, list[float]] = {"g": [], "d": []}
    for t in range(steps):
        args = data_fn(t)
        if d_step is not None:
            hist["d"].append(d_step(*args))
            if "WGAN" in gm.spec.losses:
                _clip(gm["discriminator"], L.WGAN_CLIP)
        hist["g"].append(g_step(*args))
        if check is not None and check(t + 1):
            break
    return hist


def train_gm(gm: GM, images: np.ndarray, classes: np.ndarray | None = None, steps: int = 100, batch: int = 16,
             seed: int = 0, check: Check = None) -> dict[str, list[float]]:
    """Train every network of ``gm`` on ``images`` (float [N, S, S, 3] in [0, 1]) for up to ``steps`` steps
    (fewer when ``check`` ends training; an AA's victim classifier is trained before and is not checked)."""
    spec, fam, losses = gm.spec, gm.spec.family, gm.spec.losses
    rng = np.random.default_rng(seed)
    n = len(images)
    batch = min(batch, n)
    act = spec.last_act
    data = to_model(np.asarray(images, np.float32), act)
    adv = L.adversarial_type(losses) if fam != "AA" else next((k for k in ("LS", "Adversarial") if k in losses),
                                                                None)
    D = gm.nets.get("discriminator")

    if fam == "GAN":
        G = gm["generator"]

        def data_fn(t):
            idx = rng.choice(n, batch, replace=False)
            return data[idx], _coarse(images[idx], rng)

        def loss_g(real, inp):
            fake = G(inp, training=True)
            total = L.g_loss(adv, D(fake, training=True)) + GAN_RECON_WEIGHT * L.recon_terms(losses, fake, real)
            if "MMD" in losses:
                total = total + L.mmd(fake, real)
            return total

        def loss_d(real, inp):
            return L.d_loss(adv, D(real, training=True), D(G(inp, training=True), training=True))

        return _gan_pair(gm, loss_g, loss_d, [G], steps, batch, data_fn, check)

    if fam == "VAE":
        E, Dec = gm["encoder"], gm["decoder"]
        pix = float(np.prod(images.shape[1:]))
        enc_in = centred(np.asarray(images, np.float32))

        def data_fn(t):
            idx = rng.choice(n, batch, replace=False)
            return (data[idx], enc_in[idx], rng.standard_normal((batch, spec.latent_dim)).astype(np.float32),
                    rng.standard_normal((batch, spec.latent_dim)).astype(np.float32))

        def loss_g(real, x_in, eps, zp):
            mu, logvar = ops.split(E(x_in, training=True), 2, axis=-1)
            logvar = ops.clip(logvar, -LOGVAR_CLIP, LOGVAR_CLIP)
            rec = Dec(mu + ops.exp(0.5 * logvar) * eps, training=True)
            total = L.recon_terms(losses, rec, real) + VAE_KL_WEIGHT * L.kl_normal(mu, logvar) / pix
            if "MMD" in losses or adv:
                prior = Dec(zp, training=True)
                if "MMD" in losses:
                    total = total + L.mmd(prior, real)
                if adv:
                    total = total + 0.05 * L.g_loss(adv, D(prior, training=True))
            return total

        def loss_d(real, x_in, eps, zp):
            return L.d_loss(adv, D(real, training=True), D(Dec(zp, training=True), training=True))

        return _gan_pair(gm, loss_g, loss_d if adv else None, [E, Dec], steps, batch, data_fn, check)

    if fam == "AA":
        G, V = gm["generator"], gm["victim"]
        cls = np.asarray(classes)
        all_imgs, all_cls = images, cls
        n_cls = V.output_shape[-1]
        onehot = np.eye(n_cls, dtype=np.float32)

        def v_loss(x, y):
            return ops.mean(keras.losses.categorical_crossentropy(y, V(x, training=True), from_logits=True))

        v_step = _step(gm, v_loss, [V], keras.optimizers.Adam(3e-3))
        hist = {"victim": []}
        for _ in range(max(steps // 2, 10)):
            idx = rng.choice(len(all_imgs), batch, replace=False)
            hist["victim"].append(v_step(all_imgs[idx], onehot[all_cls[idx]]))
        # the GM attacks the images of its training set (class labels of those images)
        own = cls[: n] if len(cls) >= n else np.zeros(n, int)

        def perturb(x01):
            out = G(to_model(x01, act), training=True)
            delta = AA_EPS * ops.clip(out, -1.0, 1.0)
            return ops.clip(x01 + delta, 0.0, 1.0), delta

        def data_fn(t):
            idx = rng.choice(n, batch, replace=False)
            return images[idx].astype(np.float32), onehot[own[idx]]

        def loss_g(x01, y):
            adv_x, delta = perturb(x01)
            logits = V(adv_x)
            if "Hinge" in losses:
                true = ops.sum(logits * y, -1)
                other = ops.max(logits - 1e4 * y, -1)
                total = ops.mean(ops.relu(true - other + 0.5))
            else:
                total = -ops.mean(keras.losses.categorical_crossentropy(y, logits, from_logits=True))
            total = total + L.recon_terms(losses, delta, ops.zeros_like(delta))
            if adv:
                total = total + 0.1 * L.g_loss(adv, D(adv_x, training=True))
            return total

        def loss_d(x01, y):
            return L.d_loss(adv, D(x01, training=True), D(perturb(x01)[0], training=True))

        V.trainable = False
        hist.update(_gan_pair(gm, loss_g, loss_d if adv else None, [G], steps, batch, data_fn, check))
        return hist

    if fam in ("AR", "NF"):
        r = spec.low_res
        low = _low(np.asarray(images, np.float32), r)
        U = gm["upsampler"]

        def up_loss(lo, real):
            return L.recon_terms(losses, U(centred(lo), training=True), real)

        up_step = _step(gm, up_loss, [U], keras.optimizers.Adam(2e-3))
        if fam == "AR":
            P = gm["pixelcnn"]
            q = np.clip(np.floor(low * AR_LEVELS), 0, AR_LEVELS - 1)
            targets = np.eye(AR_LEVELS, dtype=np.float32)[q.astype(int)]  # [n, r, r, 3, K]
            inputs = ((q + 0.5) / AR_LEVELS).astype(np.float32)

            def main_loss(x, t):
                logits = ops.reshape(P(x, training=True), (-1, r, r, 3, AR_LEVELS))
                return ops.mean(keras.losses.categorical_crossentropy(t, logits, from_logits=True))

            main_step = _step(gm, main_loss, [P], keras.optimizers.Adam(3e-3))
            feed = lambda idx: (inputs[idx], targets[idx])
        else:
            F = gm["flow"]
            gm.flow_steps[0].initialize(low - 0.5)  # data-dependent initialisation (whitening)

            def main_loss(x):
                y, logdet = F(x, training=True)
                nll = 0.5 * ops.sum(ops.square(y), axis=(1, 2, 3)) - logdet
                return ops.mean(nll) / float(r * r * 3)

            main_step = _step(gm, main_loss, [F], keras.optimizers.Adam(2e-3))
            feed = lambda idx: ((low[idx] + rng.uniform(0, 1 / 256, low[idx].shape) - 0.5).astype(np.float32),)
        hist = {"main": [], "upsampler": []}
        for t in range(steps):
            idx = rng.choice(n, batch, replace=False)
            hist["main"].append(main_step(*feed(idx)))
            hist["upsampler"].append(up_step(low[idx], data[idx]))
            if check is not None and check(t + 1):
                break
        return hist
    raise ValueError(f"unknown GM family {fam!r}")


def attack(gm: GM, x01: np.ndarray) -> np.ndarray:
    """An AA GM's adversarial versions of [0, 1] images: each plus its bounded perturbation
    (``AA_EPS`` x the generator's clipped output), clipped to [0, 1]."""
    out = _predict(gm["generator"], to_model(np.asarray(x01, np.float32), gm.spec.last_act))
    return np.clip(x01 + AA_EPS * np.clip(out, -1, 1), 0, 1)


def _pick(images: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` random content images (float32; with replacement only when there are fewer than ``n``)."""
    return images[rng.choice(len(images), n, replace=len(images) < n)].astype(np.float32)


def _predict(model: keras.Model, x: np.ndarray, bs: int = 64) -> np.ndarray:
    return np.concatenate([keras.ops.convert_to_numpy(model(x[i:i + bs])) for i in range(0, len(x), bs)])


def sample_gm(gm: GM, n: int, images: np.ndarray, seed: int = 0) -> np.ndarray:
    """``n`` uint8 samples of a trained GM (``images``: its content, used by conditional families)."""
    spec, fam = gm.spec, gm.spec.family
    rng = np.random.default_rng(seed + 7919)
    act = spec.last_act
    if fam == "GAN":
        inp = _coarse(_pick(images, n, rng), rng)
        return to_uint8(from_model(_predict(gm["generator"], inp), act))
    if fam == "VAE":  # posterior sampling: z ~ q(z | x) of random training images, decoded
        mu, logvar = np.split(_predict(gm["encoder"], centred(_pick(images, n, rng))), 2, axis=-1)
        z = mu + np.exp(0.5 * np.clip(logvar, -LOGVAR_CLIP, LOGVAR_CLIP)) * rng.standard_normal(mu.shape)
        return to_uint8(from_model(_predict(gm["decoder"], z.astype(np.float32)), act))
    if fam == "AA":
        return to_uint8(attack(gm, _pick(images, n, rng)))
    r = spec.low_res
    if fam == "AR":
        P = gm["pixelcnn"]
        x = np.zeros((n, r, r, 3), np.float32)
        for i in range(r):
            for j in range(r):
                for c in range(3):  # raster order, then R -> G -> B within a pixel
                    logits = P.predict_on_batch(x)[:, i, j].reshape(n, 3, AR_LEVELS)[:, c]
                    p = np.exp(logits - logits.max(-1, keepdims=True))
                    p /= p.sum(-1, keepdims=True)
                    level = np.minimum((np.cumsum(p, -1) < rng.uniform(size=(n, 1))).sum(-1), AR_LEVELS - 1)
                    x[:, i, j, c] = (level + 0.5) / AR_LEVELS
        low = x
    else:
        y = (NF_TEMPERATURE * rng.standard_normal((n, r, r, 3))).astype(np.float32)
        h = keras.ops.convert_to_tensor(y)
        for step in reversed(gm.flow_steps):
            h = step.inverse(h)
        low = np.clip(keras.ops.convert_to_numpy(h) + 0.5, 0, 1).astype(np.float32)
    return to_uint8(from_model(_predict(gm["upsampler"], centred(low)), act))
