"""Synthetic adversarial attacks: extra "generated" training images for the deepfake detector.

An adversarial-attack (AA) image is a real image plus a perturbation bounded by ``AA_EPS``; its only
trace is the perturbation, whose pattern (a colour cast, a periodic lattice of dots, a smooth field) is
set by the attacking generator. A detector trained on the few AA GMs of a zoo learns those GMs'
patterns, and an unseen AA GM's pattern is new to it. These images teach it the family instead: the
detector's own real training images, each perturbed by one of many *untrained* AA generators drawn
from the zoo's architecture space (other seeds than any zoo's GMs, random weights), so the same image
is seen clean as real and perturbed as generated. Nothing here touches a validation or test GM or a
real image outside the training split. ``keras`` + numpy (the zoo's generator code).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import numpy as np

from reparse_tf.data.real_images import as_ingested

#: images each untrained generator perturbs
IMAGES_PER_GENERATOR = 32
#: AA specs are drawn from the ``standard`` zoo's architecture space with seeds from here on (the zoo's
#: own seeds are small), so no synthetic generator is a GM of a built zoo
SEED_BASE = 900_000
SOURCE_PREFIX = "synthetic_aa_"
#: least mean absolute change (grey levels of 255) of a generator's images to keep it; the weakest AA GM
#: of the standard zoo changes its images by 0.8
MIN_MEAN_CHANGE = 0.5


def attack_specs(image_size: int = 64, seed: int = 0) -> Iterator:
    """AA generator specs of the ``standard`` zoo's architecture space, without end (deterministic for ``seed``)."""
    from reparse_tf.zoo.spec import draw_specs

    for k in itertools.count():
        yield from (s for s in draw_specs("standard", SEED_BASE + 1000 * seed + k, image_size) if s.family == "AA")


def synthetic_attacks(images: np.ndarray, n_generators: int, seed: int = 0,
                      per_generator: int = IMAGES_PER_GENERATOR) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Perturb random rows of ``images`` (``uint8 [N, S, S, 3]``, real training images) by ``n_generators``
    untrained AA generators, ``per_generator`` rows each. A generator whose perturbation changes the
    images by less than ``MIN_MEAN_CHANGE`` grey levels on average is passed over (its images would be
    real images labelled generated).

    Returns ``(uint8 images, source names, rows of images perturbed)``; the images are quantised and
    PNG-decoded as the zoo's samples are.
    """
    import keras

    from reparse_tf.zoo.models import build_gm
    from reparse_tf.zoo.train import attack

    images = np.asarray(images)
    if images.ndim != 4 or images.shape[-1] != 3 or len(images) == 0:
        raise ValueError(f"need uint8 images [N, S, S, 3] with N >= 1, got shape {images.shape}")
    size = images.shape[1]
    rng = np.random.default_rng(SEED_BASE + seed)
    out, sources, rows = [], [], []
    specs = attack_specs(size, seed)
    while len(out) < n_generators:
        spec = next(specs)
        keras.utils.set_random_seed(spec.seed % 2**32)
        gm = build_gm(spec, size, n_classes=2)
        r = rng.choice(len(images), per_generator, replace=len(images) < per_generator)
        adv = as_ingested(attack(gm, images[r].astype(np.float32) / 255), size)
        keras.backend.clear_session()  # each generator is used once
        if np.abs(adv.astype(np.int16) - images[r]).mean() >= MIN_MEAN_CHANGE:
            out.append(adv)
            sources += [SOURCE_PREFIX + spec.name] * len(r)
            rows.append(r)
    return np.concatenate(out), np.array(sources), np.concatenate(rows)
