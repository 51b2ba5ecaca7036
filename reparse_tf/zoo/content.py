"""Training content of the zoo, all shipped inside installed packages (no downloads).

``load_content(name, size)`` returns ``(images float32 [N, size, size, 3] in [0, 1], classes int [N])``;
the classes feed the adversarial-attack (AA) victim classifier. numpy / scikit-learn / scikit-image only.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

CONTENTS = ("digits", "face", "natural", "texture")


def _resize(batch: np.ndarray, size: int) -> np.ndarray:
    from skimage.transform import resize

    return np.stack([resize(im, (size, size), order=1, anti_aliasing=True) for im in batch]).astype(np.float32)


def _rgb(x: np.ndarray) -> np.ndarray:
    """Grey ``[..., H, W]`` -> ``[..., H, W, 3]``."""
    return np.repeat(x[..., None], 3, axis=-1)


#: side (px, inclusive range) of the square crops taken from the 512 px texture photos before resizing:
#: 40-128 px keeps a brick, a pebble or a blade of grass several pixels wide at 64 x 64 (96-352 px, the
#: natural-photo range, shrank them to near-noise that no standard-preset GM could learn)
TEXTURE_CROP = (40, 128)


def _crops(sources: list[np.ndarray], n: int, size: int, seed: int,
           side: tuple[int, int] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """``n`` random square crops (side drawn in ``side``, default 96 px to half the source), resized."""
    rng = np.random.default_rng(seed)
    out, cls = [], []
    for i in range(n):
        k = i % len(sources)
        src = sources[k]
        lo, hi = side or (96, min(src.shape[:2]) // 2 + 96)
        c = int(rng.integers(lo, hi + 1))
        y, x = rng.integers(0, src.shape[0] - c + 1), rng.integers(0, src.shape[1] - c + 1)
        out.append(src[y:y + c, x:x + c])
        cls.append(k)
    return np.stack([_resize(o[None], size)[0] for o in out]), np.array(cls)


@lru_cache(maxsize=16)
def load_content(name: str, size: int = 64) -> tuple[np.ndarray, np.ndarray]:
    """Images and class ids of one content type (cached; read-only arrays)."""
    import skimage.data as skd

    if name == "digits":
        from sklearn.datasets import load_digits

        d = load_digits()
        imgs, cls = _rgb(_resize(d.images[:, :, :, None] / 16.0, size)[..., 0]), d.target
    elif name == "face":
        x = skd.lfw_subset()  # 100 faces then 100 non-faces
        imgs, cls = _rgb(_resize(x[:, :, :, None], size)[..., 0]), (np.arange(len(x)) >= 100).astype(int)
        flip = imgs[:, :, ::-1]
        imgs, cls = np.concatenate([imgs, flip]), np.concatenate([cls, cls])
        keep = cls == 0  # train on faces; non-faces only serve the AA classifier
        imgs, cls = np.concatenate([imgs[keep], imgs[~keep]]), np.concatenate([cls[keep], cls[~keep]])
    elif name == "natural":
        from sklearn.datasets import load_sample_images

        srcs = [im / 255.0 for im in load_sample_images().images]
        srcs += [getattr(skd, n)() / 255.0 for n in ("astronaut", "coffee", "chelsea", "rocket")]
        imgs, cls = _crops([s.astype(np.float32) for s in srcs], 600, size, seed=1)
    elif name == "texture":
        srcs = [_rgb((getattr(skd, n)() / 255.0).astype(np.float32)) for n in ("brick", "grass", "gravel")]
        imgs, cls = _crops(srcs, 600, size, seed=2, side=TEXTURE_CROP)
    else:
        raise ValueError(f"unknown zoo content {name!r}; known: {', '.join(CONTENTS)}")
    imgs = np.clip(imgs, 0, 1).astype(np.float32)
    imgs.setflags(write=False)
    return imgs, np.asarray(cls, dtype=np.int64)


def training_images(name: str, size: int) -> np.ndarray:
    """The images a GM of this content is trained on (class 0 only for faces)."""
    imgs, cls = load_content(name, size)
    return imgs[cls == 0] if name == "face" else imgs
