"""GM specifications: seeded recipes drawn from the schema, one per zoo GM.

A :class:`GMSpec` is a *recipe*; the labels written to ``labels.csv`` are counted from the network
built from it (:func:`reparse_tf.zoo.models.count_labels`). Discrete classes, families, contents
and loss combinations are assigned by stratified (balanced, shuffled) cycles, so every class of a
preset with n GMs is used by at least ``floor(n / n_classes)`` GMs by construction. Architecture classes
and contents are balanced within each family too (a family of m GMs uses each class ``floor(m / k)`` or
``ceil(m / k)`` times), so no class is tied to a family, and they are shuffled independently of each other,
so content is not tied to the architecture (a GM's late redraw may change its content: :func:`redrawn`).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, replace

import numpy as np

from reparse_tf.data.schema import load_schema
from reparse_tf.zoo.content import CONTENTS

FAMILIES = ("GAN", "VAE", "AA", "AR", "NF")
ADVERSARIAL = ("LS", "WGAN", "Adversarial", "Hinge", "CE")
RECON = ("L1", "L2", "MSE")


@dataclass(frozen=True)
class Preset:
    """Size and per-GM training budget of a zoo preset."""

    family_counts: dict[str, int]
    images_per_gm: int
    steps: int  # training steps of a GM whose family has no entry in ``family_steps``
    batch: int
    widths: tuple[int, ...] = (8, 12, 16, 24, 32, 48)  # block width choices (the ``filters`` label spread)
    low_res: int = 16  # AR / NF resolution before their upsampler
    family_steps: dict[str, int] = field(default_factory=dict)  # per-family budgets that replace ``steps``
    redraws: int = 0  # architectures redrawn for a GM whose samples fail the quality screen (:func:`redrawn`)
    checks: tuple[float, ...] = ()  # fractions of a GM's steps after which its samples are screened (build.py)

    def train_steps(self, family: str) -> int:
        """Training steps of a GM of ``family``."""
        return self.family_steps.get(family, self.steps)


PRESETS: dict[str, Preset] = {
    "tiny": Preset({"GAN": 3, "VAE": 2, "AA": 2, "AR": 2, "NF": 2}, 32, 30, 8, (8, 12, 16), 8),
    # more steps helped GANs, PixelCNNs and flows in same-spec trials, not VAEs (README, recipes v7 / v8)
    "standard": Preset({"GAN": 24, "VAE": 10, "AA": 10, "AR": 8, "NF": 8}, 300, 300, 16, (8, 12, 16, 24), 8,
                       family_steps={"GAN": 400, "AR": 600, "NF": 1200}, redraws=3, checks=(0.5, 0.75)),
    "large": Preset({"GAN": 60, "VAE": 25, "AA": 25, "AR": 20, "NF": 20}, 1000, 3000, 64, redraws=3,
                    checks=(0.5, 0.75)),
}
# A control, not a dataset of generators: the `standard` zoo's first-drawn architectures sampled at initialisation
# (no training step, no screen), so the images carry each architecture's traces and no training run. Parsing these
# bounds what a parser can read from the architecture alone once content and training stop masking it.
PRESETS["untrained"] = replace(PRESETS["standard"], steps=0, family_steps={}, redraws=0, checks=())


@dataclass
class GMSpec:
    """Recipe of one GM (architecture choices use schema class names; ``losses`` are schema loss
    suffixes, e.g. ``("KL", "L1")``)."""

    name: str
    family: str
    content: str
    seed: int
    fc_layers: int
    blocks: int
    layers_per_block: int
    width: int
    normalization: str
    block_act: str
    last_act: str
    upsampling: str
    skip: bool
    downsampling: bool
    down_stages: int
    pooled_stages: int
    losses: tuple[str, ...] = field(default_factory=tuple)
    latent_dim: int = 32
    low_res: int = 16

    def to_json(self) -> dict:
        d = asdict(self)
        d["losses"] = list(self.losses)
        return d

    @classmethod
    def from_json(cls, d: dict) -> GMSpec:
        d = dict(d)
        d["losses"] = tuple(d.get("losses", ()))
        return cls(**d)

    def dumps(self) -> str:
        return json.dumps(self.to_json(), indent=2, sort_keys=True)


def _balanced(n: int, options: list, rng: np.random.Generator, groups: list[int] | None = None) -> list:
    """``n`` draws from ``options``, each used ``floor(n/k)`` or ``ceil(n/k)`` times, shuffled.

    ``groups`` (sizes of consecutive runs of the ``n`` slots, e.g. the GMs of each family): the draws are
    shuffled within each run only, and each run is a stretch of one cycle through ``options``, so every
    run of ``m`` slots also uses each option ``floor(m/k)`` or ``ceil(m/k)`` times.
    """
    if n == 0:
        return []
    offset = int(rng.integers(len(options)))
    pool = [options[(i + offset) % len(options)] for i in range(n)]
    out, start = [], 0
    for m in groups or [n]:
        out += [pool[start + i] for i in rng.permutation(m)]
        start += m
    return out


def _losses(family: str, n: int, rng: np.random.Generator) -> list[tuple[str, ...]]:
    out: list[set[str]] = [set() for _ in range(n)]
    if family == "GAN":  # pix2pix-like: an adversarial type + at least one paired reconstruction term
        for s, a, r in zip(out, _balanced(n, list(ADVERSARIAL), rng), _balanced(n, list(RECON), rng), strict=False):
            s.update({a, r})
        for extra in (*RECON, "MMD"):
            for s, use in zip(out, _balanced(n, [False, False, True], rng), strict=False):
                if use:
                    s.add(extra)
    elif family == "VAE":
        for s, r, m, a in zip(out, _balanced(n, list(RECON), rng), _balanced(n, [False, True], rng),
                              _balanced(n, [None, "LS", "Hinge", "Adversarial"], rng), strict=False):
            s.update({"KL", r} | ({"MMD"} if m else set()) | ({a} if a else set()))
    elif family == "AA":
        for s, atk, pen, real in zip(out, _balanced(n, ["CE", "Hinge"], rng), _balanced(n, [*RECON, None], rng),
                                     _balanced(n, [None, "LS", "Adversarial"], rng), strict=False):
            s.update({atk} | ({pen} if pen else set()) | ({real} if real else set()))
    elif family in ("AR", "NF"):
        main = "CE" if family == "AR" else "KL"
        for s, r in zip(out, _balanced(n, list(RECON), rng), strict=False):
            s.update({main, r})
    order = [p.name.removeprefix("loss_") for p in load_schema().losses]
    return [tuple(x for x in order if x in s) for s in out]


def draw_specs(preset: str = "tiny", seed: int = 0, image_size: int = 64) -> list[GMSpec]:
    """Draw the GM specs of a preset (deterministic for ``seed``; cheap: nothing is built)."""
    if preset not in PRESETS:
        raise ValueError(f"unknown zoo preset {preset!r}; known: {', '.join(PRESETS)}")
    if image_size < 16 or image_size & (image_size - 1):
        raise ValueError(f"image size must be a power of two >= 16, got {image_size}")
    schema = load_schema()
    rng = np.random.default_rng(seed)
    fams = [f for f, k in PRESETS[preset].family_counts.items() for _ in range(k)]
    n = len(fams)
    sizes = list(PRESETS[preset].family_counts.values())  # ``fams`` runs family by family
    arch = {p.name: _balanced(n, list(p.classes), rng, sizes) for p in schema.discrete_architecture}
    contents = _balanced(n, list(CONTENTS), rng, sizes)
    loss_by_family = {f: iter(_losses(f, fams.count(f), rng)) for f in FAMILIES}
    # seed 0 keeps its plain names; other seeds prefix theirs, so zoos of several seeds can be pooled in one layout
    prefix = "" if seed == 0 else f"s{seed}_"
    specs = []
    for i, fam in enumerate(fams):
        down = arch["downsampling"][i] == "used"
        specs.append(GMSpec(
            name=f"{prefix}{fam.lower()}_{i:03d}",
            family=fam,
            content=contents[i],
            seed=int(seed * 100003 + i),
            **_shape(fam, down, PRESETS[preset], image_size, rng),
            normalization=arch["normalization_type"][i],
            block_act=arch["nonlinearity_blocks"][i],
            last_act=arch["nonlinearity_last_layer"][i],
            upsampling=arch["upsampling_type"][i],
            skip=arch["skip_connection"][i] == "used",
            downsampling=down,
            losses=next(loss_by_family[fam]),
            low_res=min(PRESETS[preset].low_res, image_size // 2),
        ))
    return specs


def _shape(family: str, down: bool, preset: Preset, image_size: int, rng: np.random.Generator) -> dict:
    """The continuous architecture choices of a spec (depths, width, down / pooled stages)."""
    d_stages = int(rng.integers(1, 4)) if down else 0
    latent_family = family in ("GAN", "VAE", "AA")
    max_up = int(np.log2(image_size)) - 2  # decoder base resolution >= 4
    return {
        "fc_layers": int(rng.integers(1, 4)) if latent_family else 0,
        "blocks": int(rng.integers(1, max_up + 1)) if latent_family else int(rng.integers(1, 5)),
        "layers_per_block": int(rng.integers(1, 4)),
        "width": int(rng.choice(preset.widths)),
        "down_stages": d_stages,
        "pooled_stages": int(rng.integers(0, d_stages + 1)),
    }


#: from this attempt on, a redraw also draws the GM's content anew, among the other contents (:func:`redrawn`)
CONTENT_REDRAW_FROM = 2


def redrawn(spec: GMSpec, attempt: int, preset: str, image_size: int = 64) -> GMSpec:
    """Attempt ``attempt`` of the GM first drawn as ``spec`` (attempt 0 is ``spec`` itself).

    A redraw keeps the GM's name, family, every discrete class and its losses, so a preset's stratified label
    coverage is unchanged, and draws new continuous choices (:func:`_shape`) and a new seed, deterministically
    from ``spec.seed`` and ``attempt``. Attempts from :data:`CONTENT_REDRAW_FROM` on also draw the training content
    among the other contents: content is not a label, and a class combination that twice failed to learn its
    content (in the ``standard`` zoo: texture, where the condition of a GAN carries almost nothing) gets a content
    it can learn. The zoo builder uses it for GMs whose samples fail the quality screen: like the published GMs of
    the paper's dataset, a zoo GM is one whose training worked.
    """
    if attempt == 0:
        return spec
    rng = np.random.default_rng([spec.seed, attempt])
    seed = int(rng.integers(2**31))
    shape = _shape(spec.family, spec.downsampling, PRESETS[preset], image_size, rng)
    content = (str(rng.choice([c for c in CONTENTS if c != spec.content])) if attempt >= CONTENT_REDRAW_FROM
               else spec.content)
    return replace(spec, seed=seed, content=content, **shape)


def twin(spec: GMSpec, k: int = 1) -> GMSpec:
    """Twin ``k`` of a GM: the same architecture and losses (so the same labels), trained from another seed on
    another content, the ``k``-th after the GM's own in :data:`CONTENTS` order (so twins keep the source's content
    balance). RED116 holds such groups (one architecture on several datasets); a parser that reads the
    architecture must give twins the same answer, and twins tell content effects from architecture effects."""
    if not 1 <= k < len(CONTENTS):
        raise ValueError(f"twin index must be 1..{len(CONTENTS) - 1}, got {k}")
    content = CONTENTS[(CONTENTS.index(spec.content) + k) % len(CONTENTS)]
    seed = int(np.random.default_rng([spec.seed, 104729, k]).integers(2**31))
    return replace(spec, name=f"{spec.name}_twin{k}", seed=seed, content=content)
