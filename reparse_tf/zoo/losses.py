"""The 10 loss types of the schema as training terms of the zoo (``keras.ops`` only).

Images are compared in the generator's output range. ``b`` = batch, ``D`` = pixels x channels.

* **L1**: mean absolute error ``mean|x_hat - x|`` between a generated image and its paired real target
  (GAN: the image generated from the coarse, noisy version of the target, weighted 10 as in pix2pix;
  VAE: reconstruction; AR/NF: upsampler reconstruction
  of the full-size image from its low-resolution version; AA: magnitude penalty ``mean|delta|``).
* **L2**: the (non-squared) Euclidean norm per image ``mean_b ||x_hat - x||_2 / sqrt(D)`` of the same
  pairs (AA: ``||delta||_2``) — gradients of constant magnitude, unlike MSE.
* **MSE**: mean squared error ``mean (x_hat - x)^2`` of the same pairs (AA: ``mean delta^2``).
* **MMD**: squared maximum mean discrepancy with a sum of Gaussian kernels (bandwidths 1, 4, 16 times the
  squared feature count) between generated and real batches, on 16x16 average-pooled images.
* **LS**: least-squares GAN: D minimises ``((D(x)-1)^2 + D(G)^2)/2``, G minimises ``(D(G)-1)^2/2``.
* **WGAN**: Wasserstein critic ``D(G) - D(x)`` with weight clipping to [-0.01, 0.01] (WGAN-WC; a gradient
  penalty would need nested, backend-specific gradients); G minimises ``-D(G)``.
* **Adversarial**: the original saturating minimax game: D minimises binary cross-entropy, G minimises
  ``log(1 - sigmoid(D(G)))``.
* **Hinge**: D minimises ``relu(1-D(x)) + relu(1+D(G))``, G minimises ``-D(G)``; for AA the Carlini-Wagner
  margin ``relu(z_y - max_{j!=y} z_j + kappa)`` on the victim's logits.
* **CE**: cross-entropy: the non-saturating GAN (D: binary cross-entropy, G: ``softplus(-D(G))``); AR: the
  categorical pixel likelihood of the PixelCNN; AA: the untargeted attack ``-CE(victim(x_adv), y)``.
* **KL**: VAE prior term ``KL(q(z|x) || N(0, I))`` per pixel; NF: maximum likelihood (the Gaussian negative
  log-likelihood of the flow, i.e. minimising ``KL(p_data || p_model)`` up to a constant) is flagged as KL.

Valid combinations per family (drawn in :mod:`reparse_tf.zoo.spec`): GAN = one of LS/WGAN/Adversarial/
Hinge/CE + at least one of L1/L2/MSE + optional MMD; VAE = KL + one of L1/L2/MSE + optional MMD + optional LS/Hinge/
Adversarial (VAE-GAN); AA = CE or Hinge attack + optional L1/L2/MSE penalty + optional LS/Adversarial
realism term; AR = CE + one of L1/L2/MSE; NF = KL + one of L1/L2/MSE.
"""

from __future__ import annotations

from keras import ops

RECON_TERMS = ("L1", "L2", "MSE")
ADVERSARIAL_TERMS = ("LS", "WGAN", "Adversarial", "Hinge", "CE")
WGAN_CLIP = 0.01


def _f32(*xs):
    """Losses are computed in float32 (generators may run in a mixed-precision policy)."""
    return [ops.cast(x, "float32") for x in xs]


def recon(kind: str, pred, target):
    """L1 / L2 / MSE between paired batches."""
    pred, target = _f32(pred, target)
    d = ops.reshape(pred - target, (ops.shape(pred)[0], -1))
    if kind == "L1":
        return ops.mean(ops.abs(d))
    if kind == "MSE":
        return ops.mean(ops.square(d))
    if kind == "L2":
        return ops.mean(ops.sqrt(ops.mean(ops.square(d), axis=1) + 1e-8))
    raise ValueError(f"unknown reconstruction term {kind!r}")


def recon_terms(losses, pred, target):
    """Sum of the reconstruction terms present in ``losses`` (0 when none)."""
    total = 0.0
    for k in RECON_TERMS:
        if k in losses:
            total = total + recon(k, pred, target)
    return total


def _pooled(x, size: int = 16):
    s = ops.shape(x)[1]
    if s > size:
        x = ops.average_pool(x, s // size, s // size, padding="valid")
    return ops.reshape(x, (ops.shape(x)[0], -1))


def mmd(fake, real):
    """Gaussian-kernel MMD^2 between two batches (biased estimator)."""
    fake, real = _f32(fake, real)
    a, b = _pooled(fake), _pooled(real)
    dim = ops.cast(ops.shape(a)[1], a.dtype)

    def k(x, y):
        d2 = ops.sum(x**2, 1)[:, None] + ops.sum(y**2, 1)[None, :] - 2 * ops.matmul(x, ops.transpose(y))
        return sum(ops.exp(-d2 / (bw * dim)) for bw in (0.05, 0.2, 1.0))

    return ops.mean(k(a, a)) + ops.mean(k(b, b)) - 2 * ops.mean(k(a, b))


def d_loss(kind: str, d_real, d_fake):
    """Discriminator / critic objective of an adversarial loss type."""
    d_real, d_fake = _f32(d_real, d_fake)
    if kind == "LS":
        return 0.5 * ops.mean(ops.square(d_real - 1)) + 0.5 * ops.mean(ops.square(d_fake))
    if kind == "WGAN":
        return ops.mean(d_fake) - ops.mean(d_real)
    if kind == "Hinge":
        return ops.mean(ops.relu(1 - d_real)) + ops.mean(ops.relu(1 + d_fake))
    if kind in ("Adversarial", "CE"):
        return ops.mean(ops.softplus(-d_real)) + ops.mean(ops.softplus(d_fake))
    raise ValueError(f"unknown adversarial loss {kind!r}")


def g_loss(kind: str, d_fake):
    """Generator objective of an adversarial loss type."""
    (d_fake,) = _f32(d_fake)
    if kind == "LS":
        return 0.5 * ops.mean(ops.square(d_fake - 1))
    if kind in ("WGAN", "Hinge"):
        return -ops.mean(d_fake)
    if kind == "Adversarial":
        return -ops.mean(ops.softplus(d_fake))  # log(1 - sigmoid(l)) = -softplus(l)
    if kind == "CE":
        return ops.mean(ops.softplus(-d_fake))
    raise ValueError(f"unknown adversarial loss {kind!r}")


def adversarial_type(losses) -> str | None:
    """The adversarial loss type among ``losses`` (GAN/VAE-GAN/AA realism), or None."""
    found = [k for k in ADVERSARIAL_TERMS if k in losses]
    return found[0] if found else None


def kl_normal(mu, logvar):
    """KL(N(mu, exp(logvar)) || N(0, I)), summed over latent dims, batch mean."""
    mu, logvar = _f32(mu, logvar)
    return ops.mean(0.5 * ops.sum(ops.exp(logvar) + ops.square(mu) - 1.0 - logvar, axis=-1))
