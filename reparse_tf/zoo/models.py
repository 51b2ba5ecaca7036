"""Build a GM's networks from its :class:`GMSpec` (one parameterised builder) and count its labels.

Families (all image tensors are NHWC, generator output range set by the last nonlinearity):

* GAN: image-conditional (pix2pix / super-resolution-like):
  ``coarse noisy image -> [down stages: strided conv / conv+pool] -> flatten -> Dense(64) bottleneck -> fc stack
  -> reshape -> up blocks -> conv -> last act``; without ``downsampling`` the encoder is the flatten (an MLP).
* VAE: encoder ``image -> [down stages] -> flatten -> Dense(2 * latent)``, decoder as the GAN's
  ``fc stack -> up blocks`` part; sampled from the posterior of training images.
* AA: a perturbation generator (AdvGAN-like, image -> encoder -> fc -> up blocks -> delta) attacking a
  small victim classifier trained on the content's classes.
* AR: PixelCNN (masked convs, type A stem + type-B masked blocks) over a ``low_res`` image with 8 intensity
  levels per channel (channel masks order R -> G -> B), sampled pixel by pixel and colour by colour, then an
  upsampler (``[down stages] -> up blocks``) to full size.
* NF: RealNVP at ``low_res``: an invertible fully connected map (LU-parameterised, whitening-initialised) then
  affine couplings with checkerboard / channel masks; then the same upsampler.

Encoders (GAN, VAE, upsamplers) read images centred to [-1, 1]; BatchNorm uses a short moving average
(``BN_MOMENTUM``), and layers followed by a Sigmoid get a 4x larger initial weight scale (``kernel_init``).

Discriminators and victim classifiers are training tools, not part of the GM: labels are counted from
``GM.parsed`` only (:func:`count_labels`).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import keras
import numpy as np
from keras import layers

from reparse_tf.data.schema import HyperparameterSchema, load_schema
from reparse_tf.zoo.layers import (
    AdaIN,
    AffineCoupling,
    CausalInstanceNorm,
    ConvBlock,
    InvertibleLinear,
    MaskedConv2D,
    activation,
    kernel_init,
)
from reparse_tf.zoo.spec import GMSpec

AR_LEVELS = 8
FC_UNITS = 64
#: normalisation layer classes -> the ``normalization_type`` class they count as
NORM_CLASSES = {layers.BatchNormalization: "BatchNorm", layers.GroupNormalization: "InstanceNorm",
                CausalInstanceNorm: "InstanceNorm", AdaIN: "AdaIN"}


@dataclass
class GM:
    """Built networks of one GM: ``parsed`` are the GM's own networks (counted), ``tools`` the rest."""

    spec: GMSpec
    image_size: int
    nets: dict[str, keras.Model]
    parsed: list[str]
    tools: list[str] = field(default_factory=list)
    flow_steps: list[InvertibleLinear | AffineCoupling] = field(default_factory=list)  # NF, data -> base order

    def __getitem__(self, key: str) -> keras.Model:
        return self.nets[key]


def _down(x, spec: GMSpec, prefix: str):
    """Encoder downsampling: the first ``pooled_stages`` stages are conv + pooling, the rest strided convs."""
    init = kernel_init(spec.block_act)
    for i in range(spec.down_stages):
        if i < spec.pooled_stages:
            x = layers.Conv2D(spec.width, 3, padding="same", kernel_initializer=init, name=f"{prefix}_down{i}_conv")(x)
            x = activation(spec.block_act, f"{prefix}_down{i}_act")(x)
            pool = layers.AveragePooling2D if i % 2 == 0 else layers.MaxPooling2D
            x = pool(2, name=f"{prefix}_down{i}_pool")(x)
        else:
            x = layers.Conv2D(spec.width, 3, strides=2, padding="same", kernel_initializer=init,
                              name=f"{prefix}_down{i}_sconv")(x)
            x = activation(spec.block_act, f"{prefix}_down{i}_act")(x)
    return x


def _blocks(h, spec: GMSpec, n: int, prefix: str, style=None, upsample: bool = True, masked: bool = False):
    for b in range(n):
        blk = ConvBlock(spec.width, spec.layers_per_block, spec.normalization, spec.block_act,
                        spec.upsampling if upsample else None, spec.skip, masked, name=f"{prefix}_block{b}")
        h = blk(h, style) if spec.normalization == "AdaIN" and style is not None else blk(h)
    return h


def _to_image(h, spec: GMSpec, prefix: str, image_out: bool = True):
    """Output conv + last nonlinearity. An image output (``image_out``) whose nonlinearity is one-sided
    (ReLU family) starts at mid-grey (bias 0.5), so a unit cannot start dead; perturbation outputs (AA)
    start at zero."""
    mid = image_out and spec.last_act in ("ReLU", "LeakyReLU", "ELU")
    h = layers.Conv2D(3, 3, padding="same", bias_initializer=keras.initializers.Constant(0.5 if mid else 0.0),
                      name=f"{prefix}_out_conv")(h)
    return activation(spec.last_act, f"{prefix}_out_act")(h)


def _vector_decoder(v, spec: GMSpec, out_res: int, prefix: str, image_out: bool = True):
    """fc stack (``spec.fc_layers`` Dense) -> reshape -> ``blocks`` up blocks -> image."""
    n_up = spec.blocks
    base = out_res // 2**n_up
    style, init = None, kernel_init(spec.block_act)
    for j in range(spec.fc_layers - 1):
        v = layers.Dense(FC_UNITS, kernel_initializer=init, name=f"{prefix}_fc{j}")(v)
        v = activation(spec.block_act, f"{prefix}_fc{j}_act")(v)
        style = v if style is None else style
    v = layers.Dense(base * base * spec.width, kernel_initializer=init, name=f"{prefix}_fc{spec.fc_layers - 1}")(v)
    h = layers.Reshape((base, base, spec.width), name=f"{prefix}_reshape")(v)
    h = activation(spec.block_act, f"{prefix}_reshape_act")(h)
    return _to_image(_blocks(h, spec, n_up, prefix, style if style is not None else v), spec, prefix, image_out)


def _image_to_vector(x, spec: GMSpec, prefix: str):
    return layers.Flatten(name=f"{prefix}_flatten")(_down(x, spec, prefix))


def _upsampler(spec: GMSpec, image_size: int) -> keras.Model:
    """low-res image -> [down stages] -> stem conv -> up blocks to ``image_size`` -> image."""
    x = keras.Input((spec.low_res, spec.low_res, 3), name="low_res")
    h = _down(x, spec, "ups")
    h = layers.Conv2D(spec.width, 3, padding="same", name="ups_stem")(h)
    n_up = int(np.log2(image_size // spec.low_res)) + spec.down_stages
    return keras.Model(x, _to_image(_blocks(h, spec, n_up, "ups"), spec, "ups"), name="upsampler")


def discriminator(image_size: int, name: str = "discriminator") -> keras.Model:
    """Small fixed conv discriminator (training tool)."""
    x = keras.Input((image_size, image_size, 3))
    h = x
    for i, f in enumerate((16, 32, 64)):
        h = layers.LeakyReLU(0.2)(layers.Conv2D(f, 4, strides=2, padding="same", name=f"d_conv{i}")(h))
    return keras.Model(x, layers.Dense(1, name="d_out")(layers.Flatten()(h)), name=name)


def classifier(image_size: int, n_classes: int) -> keras.Model:
    """Small victim classifier of the AA family (training tool)."""
    x = keras.Input((image_size, image_size, 3))
    h = layers.Conv2D(16, 3, strides=2, padding="same", activation="relu")(x)
    h = layers.Conv2D(32, 3, strides=2, padding="same", activation="relu")(h)
    h = layers.Flatten()(layers.AveragePooling2D(2)(h))
    return keras.Model(x, layers.Dense(n_classes)(h), name="victim")


def build_gm(spec: GMSpec, image_size: int = 64, n_classes: int = 2) -> GM:
    """Build every network of ``spec`` (one parameterised builder for all five families)."""
    s = image_size
    fam = spec.family
    needs_d = any(a in spec.losses for a in ("LS", "WGAN", "Adversarial", "Hinge")) or (
        fam == "GAN" and "CE" in spec.losses)
    nets: dict[str, keras.Model] = {}
    if fam in ("GAN", "AA"):
        x = keras.Input((s, s, 3), name="image")
        v = layers.Dense(FC_UNITS, kernel_initializer=kernel_init(spec.block_act), name="enc_fc")(  # bottleneck
            _image_to_vector(x, spec, "enc"))
        v = activation(spec.block_act, "enc_fc_act")(v)
        nets["generator"] = keras.Model(x, _vector_decoder(v, spec, s, "dec", image_out=fam != "AA"),
                                        name="generator")
        parsed = ["generator"]
    elif fam == "VAE":
        x = keras.Input((s, s, 3), name="image")
        stats = layers.Dense(2 * spec.latent_dim, name="enc_stats")(_image_to_vector(x, spec, "enc"))
        nets["encoder"] = keras.Model(x, stats, name="encoder")
        z = keras.Input((spec.latent_dim,), name="z")
        nets["decoder"] = keras.Model(z, _vector_decoder(z, spec, s, "dec"), name="decoder")
        parsed = ["encoder", "decoder"]
    elif fam == "AR":
        r = spec.low_res
        x = keras.Input((r, r, 3), name="low_res")
        h = MaskedConv2D(spec.width, 5, "A", kernel_initializer=kernel_init(spec.block_act), name="pcnn_stem")(x)
        h = activation(spec.block_act, "pcnn_stem_act")(h)
        h = _blocks(h, spec, spec.blocks, "pcnn", upsample=False, masked=True)
        logits = MaskedConv2D(3 * AR_LEVELS, 1, "B", name="pcnn_logits")(h)
        nets["pixelcnn"] = keras.Model(x, logits, name="pixelcnn")
        nets["upsampler"] = _upsampler(spec, s)
        parsed = ["pixelcnn", "upsampler"]
    elif fam == "NF":
        r = spec.low_res
        x = keras.Input((r, r, 3), name="low_res")
        linear = InvertibleLinear(name="flow_linear")
        h, logdet = linear(x)
        flow_steps: list = [linear]
        for i in range(spec.blocks):
            c = AffineCoupling(spec.width, spec.layers_per_block, spec.normalization, spec.block_act, spec.skip,
                               mask="checkerboard" if i % 4 < 2 else "channel", parity=i % 2, name=f"coupling{i}")
            flow_steps.append(c)
            h, ld = c(h)
            logdet = logdet + ld
        nets["flow"] = keras.Model(x, [h, logdet], name="flow")
        nets["upsampler"] = _upsampler(spec, s)
        parsed = ["flow", "upsampler"]
    else:
        raise ValueError(f"unknown GM family {fam!r}")
    tools = []
    if needs_d:
        nets["discriminator"] = discriminator(s)
        tools.append("discriminator")
    if fam == "AA":
        nets["victim"] = classifier(s, n_classes)
        tools.append("victim")
    gm = GM(spec, s, nets, parsed, tools)
    if fam == "NF":
        gm.flow_steps = flow_steps
    return gm


# ---------------------------------------------------------------------------------------------
# label counting
def _walk(model: keras.Model):
    yield from model._flatten_layers(include_self=False, recursive=True)


def _act_class(layer) -> str | None:
    if isinstance(layer, layers.LeakyReLU):
        return "LeakyReLU"
    if isinstance(layer, layers.Activation):
        name = keras.activations.serialize(layer.activation)
        name = name if isinstance(name, str) else name.get("config", name.get("class_name"))
        return {"elu": "ELU", "relu": "ReLU", "leaky_relu": "LeakyReLU", "sigmoid": "Sigmoid",
                "tanh": "Tanh"}.get(str(name))
    return None


def count_labels(gm: GM, schema: HyperparameterSchema | None = None) -> np.ndarray:
    """The raw 25-vector of ``gm``: architecture labels counted from its built networks, loss flags
    from the objective it is trained with (``spec.losses``)."""
    schema = schema or load_schema()
    conv = fc = pool = norm = filters = 0
    norm_kinds: Counter = Counter()
    block_acts: Counter = Counter()
    last_acts: Counter = Counter()
    blocks: list[ConvBlock] = []
    up_kinds: set[str] = set()
    downsampled = False
    params = 0
    for key in gm.parsed:
        model = gm.nets[key]
        params += model.count_params()
        for layer in _walk(model):
            if isinstance(layer, (layers.Conv2D, layers.Conv2DTranspose)):
                conv += 1
                filters += layer.filters
                if isinstance(layer, layers.Conv2DTranspose):
                    up_kinds.add("deconvolution")
                elif max(layer.strides) > 1:
                    downsampled = True
            elif isinstance(layer, (layers.Dense, InvertibleLinear)):
                fc += 1
            elif isinstance(layer, (layers.AveragePooling2D, layers.MaxPooling2D)):
                pool += 1
                downsampled = True
            elif type(layer) in NORM_CLASSES:
                norm += 1
                norm_kinds[NORM_CLASSES[type(layer)]] += 1
            elif isinstance(layer, layers.UpSampling2D):
                up_kinds.add("nearest")
            elif isinstance(layer, ConvBlock):
                blocks.append(layer)
                block_acts.update(_act_class(a) for a in layer.acts)
            if layer.name.endswith("_out_act"):
                last_acts[_act_class(layer)] += 1
    if len(up_kinds) != 1 or len(last_acts) != 1 or len(norm_kinds) > 1 or len(block_acts) != 1:
        raise ValueError(f"{gm.spec.name}: ambiguous architecture (upsampling {up_kinds}, last act {last_acts}, "
                         f"norms {norm_kinds}, block acts {block_acts})")
    arch = {
        "layers": conv + fc + pool + norm,
        "conv_layers": conv,
        "fc_layers": fc,
        "pooling_layers": pool,
        "normalization_layers": norm,
        "filters": filters,
        "blocks": len(blocks),
        "layers_per_block": Counter(b.n_layers for b in blocks).most_common(1)[0][0] if blocks else 0,
        "parameters": params,
        "normalization_type": next(iter(norm_kinds)) if norm_kinds else "none",
        "nonlinearity_last_layer": next(iter(last_acts)),
        "nonlinearity_blocks": next(iter(block_acts)),
        "upsampling_type": next(iter(up_kinds)),
        "skip_connection": "used" if any(b.skip for b in blocks) else "not_used",
        "downsampling": "used" if downsampled else "not_used",
    }
    vec = np.zeros(len(schema), dtype=np.float64)
    for p in schema.params:
        if p.group == "loss":
            vec[schema.index(p.name)] = float(p.name.removeprefix("loss_") in gm.spec.losses)
        elif p.is_continuous:
            vec[schema.index(p.name)] = float(arch[p.name])
        else:
            vec[schema.index(p.name)] = float(p.classes.index(arch[p.name]))
    return vec
