"""Keras layers of the zoo's generative models (``keras`` + ``keras.ops`` only; any backend).

Each block-level layer records its structure (``n_layers``, ``upsample``...) in attributes and
``get_config`` so :func:`reparse_tf.zoo.models.count_labels` can count the labels from the built model.
"""

from __future__ import annotations

import keras
import numpy as np
from keras import layers, ops

PKG = "reparse"
#: BatchNorm moving-average momentum: the zoo trains for a few hundred steps, too few for Keras' 0.99 (its
#: moving statistics would stay near their initial values and inference outputs would collapse)
BN_MOMENTUM = 0.9
ACTIVATIONS = {"ELU": "elu", "ReLU": "relu", "LeakyReLU": "leaky_relu", "Sigmoid": "sigmoid", "Tanh": "tanh"}


def activation(name: str, layer_name: str | None = None) -> layers.Layer:
    """Activation layer for a schema class name (activations are not counted as layers)."""
    if name == "LeakyReLU":
        return layers.LeakyReLU(0.2, name=layer_name)
    return layers.Activation(ACTIVATIONS[name], name=layer_name)


def kernel_init(act: str):
    """Initialiser of a layer followed by ``act``: Glorot, with 4x the weight scale before a Sigmoid (whose
    slope at 0 is 1/4), so a stack of sigmoid layers keeps its signal (Glorot & Bengio, 2010)."""
    if act == "Sigmoid":
        return keras.initializers.VarianceScaling(16.0, mode="fan_avg", distribution="uniform")
    return "glorot_uniform"


def instance_moments(x, causal: bool = False):
    """Per-image, per-channel mean and variance of ``x [B, H, W, C]`` over the spatial positions.

    ``causal``: at each position, over the positions up to and including it in raster order (shape
    ``[B, H, W, C]``), so a PixelCNN's normalisation statistics never carry later pixels into earlier
    outputs; a channel's own values only, so the R -> G -> B order inside a pixel is kept too.
    """
    if not causal:
        return ops.mean(x, axis=(1, 2), keepdims=True), ops.var(x, axis=(1, 2), keepdims=True)
    f, n = _raster(x)
    mean = ops.cumsum(f, axis=1) / n
    var = ops.maximum(ops.cumsum(f * f, axis=1) / n - mean * mean, 0.0)
    shape = (-1, *x.shape[1:])
    return ops.reshape(mean, shape), ops.reshape(var, shape)


def _raster(x):
    """``x [B, H, W, C]`` -> (``[B, H * W, C]`` in raster order, 1-based position numbers ``[1, H * W, 1]``)."""
    _, h, w, c = x.shape
    return ops.reshape(x, (-1, h * w, c)), ops.reshape(ops.arange(1, h * w + 1, dtype=x.dtype), (1, -1, 1))


@keras.saving.register_keras_serializable(package=PKG)
class AdaIN(layers.Layer):
    """Adaptive instance normalisation: instance-normalise ``x`` then scale/shift from a style vector.

    ``call(x, style)``; with ``style=None`` the style is the channel mean of ``x`` (self-modulation),
    for models without a latent code. ``causal`` (PixelCNN blocks): statistics as in
    :func:`instance_moments`, and the self-modulating style of a position is the mean of the positions
    before it.
    """

    def __init__(self, epsilon: float = 1e-5, causal: bool = False, **kwargs):
        super().__init__(**kwargs)
        self.epsilon, self.causal = epsilon, bool(causal)

    def build(self, x_shape, style_shape=None):
        c = x_shape[-1]
        s = style_shape[-1] if style_shape is not None else c
        # zero-initialised modulation: the layer starts as plain instance normalisation (a random style map
        # made the outputs of deep AdaIN generators saturate at the start of training)
        self.kernel = self.add_weight(shape=(s, 2 * c), initializer="zeros", name="kernel")
        self.bias = self.add_weight(shape=(2 * c,), initializer="zeros", name="bias")

    def call(self, x, style=None):
        mean, var = instance_moments(x, self.causal)
        xn = (x - mean) / ops.sqrt(var + self.epsilon)
        if style is None and self.causal:
            f, n = _raster(x)
            style = (ops.cumsum(f, axis=1) - f) / ops.maximum(n - 1, 1.0)  # mean of the earlier positions
            gb = ops.reshape(ops.matmul(style, self.kernel) + self.bias, (-1, *x.shape[1:3], 2 * x.shape[-1]))
        else:
            gb = ops.matmul(ops.mean(x, axis=(1, 2)) if style is None else style, self.kernel) + self.bias
            gb = gb[:, None, None, :]
        gamma, beta = ops.split(gb, 2, axis=-1)
        return xn * (1.0 + gamma) + beta

    def compute_output_shape(self, x_shape, style_shape=None):
        return x_shape

    def get_config(self):
        return {**super().get_config(), "epsilon": self.epsilon, "causal": self.causal}


@keras.saving.register_keras_serializable(package=PKG)
class CausalInstanceNorm(layers.Layer):
    """Instance normalisation with causal statistics (:func:`instance_moments`) and a learned per-channel
    scale and shift: the ``InstanceNorm`` class inside PixelCNN blocks."""

    def __init__(self, epsilon: float = 1e-3, **kwargs):
        super().__init__(**kwargs)
        self.epsilon = epsilon

    def build(self, x_shape):
        c = x_shape[-1]
        self.gamma = self.add_weight(shape=(c,), initializer="ones", name="gamma")
        self.beta = self.add_weight(shape=(c,), initializer="zeros", name="beta")

    def call(self, x):
        mean, var = instance_moments(x, causal=True)
        return (x - mean) / ops.sqrt(var + self.epsilon) * self.gamma + self.beta

    def compute_output_shape(self, x_shape):
        return x_shape

    def get_config(self):
        return {**super().get_config(), "epsilon": self.epsilon}


def norm_layer(kind: str, name: str, causal: bool = False) -> layers.Layer | None:
    """Normalisation layer for a schema class (``none`` -> None); ``causal`` for PixelCNN blocks."""
    if kind == "BatchNorm":
        return layers.BatchNormalization(momentum=BN_MOMENTUM, name=name)
    if kind == "InstanceNorm":
        return CausalInstanceNorm(name=name) if causal else layers.GroupNormalization(groups=-1, name=name)
    if kind == "AdaIN":
        return AdaIN(causal=causal, name=name)
    if kind == "none":
        return None
    raise ValueError(f"unknown normalisation {kind!r}")


@keras.saving.register_keras_serializable(package=PKG)
class MaskedConv2D(layers.Conv2D):
    """PixelCNN masked convolution over raster order and the R -> G -> B channel order.

    Pixels after the centre are hidden. At the centre, channels are split into three colour groups (channel
    ``i`` of ``c`` is in group ``3 i // c``): an output of group ``g`` sees input groups ``< g`` (type ``A``)
    or ``<= g`` (type ``B``), as in van den Oord et al. (2016), so a pixel's G is conditioned on its R.
    """

    def __init__(self, filters: int, kernel_size: int = 3, mask_type: str = "B", **kwargs):
        kwargs.setdefault("padding", "same")
        super().__init__(filters, kernel_size, **kwargs)
        self.mask_type = mask_type

    def build(self, input_shape):
        super().build(input_shape)
        kh, kw = self.kernel_size
        cin = input_shape[-1]
        m = np.ones((kh, kw, cin, self.filters), dtype="float32")
        m[kh // 2, kw // 2 + 1:] = 0
        m[kh // 2 + 1:] = 0
        g_in = (3 * np.arange(cin)) // cin
        g_out = (3 * np.arange(self.filters)) // self.filters
        seen = g_in[:, None] < g_out[None, :] if self.mask_type == "A" else g_in[:, None] <= g_out[None, :]
        m[kh // 2, kw // 2] = seen
        self._mask = m  # numpy: converted per call (safe inside compiled functions)

    def convolution_op(self, inputs, kernel):
        return super().convolution_op(inputs, kernel * ops.convert_to_tensor(self._mask, kernel.dtype))

    def get_config(self):
        return {**super().get_config(), "mask_type": self.mask_type}


@keras.saving.register_keras_serializable(package=PKG)
class ConvBlock(layers.Layer):
    """One repeated block: [upsample] -> n x (conv -> norm -> act) -> [+ residual skip].

    Args:
        filters: width (every conv of the block, and the deconvolution, have ``filters`` filters;
            the block input must have ``filters`` channels when ``skip`` is set).
        n_layers: convolutions in the block (the ``layers_per_block`` label).
        norm: ``BatchNorm | InstanceNorm | AdaIN | none``.
        act: block nonlinearity class name.
        upsample: ``None``, ``"nearest"`` (UpSampling2D) or ``"deconvolution"`` (Conv2DTranspose).
        skip: add the (upsampled) block input to its output.
        masked: type-B masked convolutions and causal normalisation (PixelCNN blocks).
    """

    def __init__(self, filters: int, n_layers: int, norm: str = "none", act: str = "ReLU",
                 upsample: str | None = None, skip: bool = False, masked: bool = False, **kwargs):
        super().__init__(**kwargs)
        self.filters, self.n_layers, self.norm, self.act = int(filters), int(n_layers), norm, act
        self.upsample, self.skip, self.masked = upsample, bool(skip), bool(masked)
        n = self.name
        if upsample == "nearest":
            self.up = layers.UpSampling2D(2, interpolation="nearest", name=f"{n}_up")
        elif upsample == "deconvolution":
            self.up = layers.Conv2DTranspose(filters, 4, strides=2, padding="same", name=f"{n}_deconv")
        else:
            self.up = None
        init = kernel_init(act)
        conv = (lambda i: MaskedConv2D(filters, 3, "B", kernel_initializer=init, name=f"{n}_mconv{i}")) if masked \
            else (lambda i: layers.Conv2D(filters, 3, padding="same", kernel_initializer=init, name=f"{n}_conv{i}"))
        self.convs = [conv(i) for i in range(self.n_layers)]
        self.norms = [norm_layer(norm, f"{n}_norm{i}", causal=masked) for i in range(self.n_layers)]
        self.acts = [activation(act, f"{n}_act{i}") for i in range(self.n_layers)]

    def call(self, x, style=None, training=None):
        if self.up is not None:
            x = self.up(x)
        h = x
        for conv, nl, act in zip(self.convs, self.norms, self.acts, strict=False):
            h = conv(h)
            if isinstance(nl, AdaIN):
                h = nl(h, style)
            elif nl is not None:
                h = nl(h, training=training)
            h = act(h)
        return h + x if self.skip else h

    def compute_output_shape(self, x_shape, style_shape=None):
        b, h, w, _ = x_shape
        if self.up is not None:
            h, w = (None if h is None else 2 * h), (None if w is None else 2 * w)
        return (b, h, w, self.filters)

    def get_config(self):
        return {**super().get_config(), "filters": self.filters, "n_layers": self.n_layers, "norm": self.norm,
                "act": self.act, "upsample": self.upsample, "skip": self.skip, "masked": self.masked}


@keras.saving.register_keras_serializable(package=PKG)
class AffineCoupling(layers.Layer):
    """RealNVP affine coupling: ``y = x_a + (1-m) * (x * exp(s(x_a)) + t(x_a))`` with a fixed mask ``m``.

    ``mask`` is ``checkerboard`` or ``channel``; ``parity`` flips it. The s/t network is a conv ->
    :class:`ConvBlock` -> conv stack. ``call(x)`` returns ``(y, logdet)``; ``inverse(y)`` returns ``x``.
    """

    def __init__(self, filters: int, n_layers: int, norm: str = "none", act: str = "ReLU", skip: bool = False,
                 mask: str = "checkerboard", parity: int = 0, **kwargs):
        super().__init__(**kwargs)
        self.filters, self.n_layers, self.norm, self.act, self.skip = int(filters), int(n_layers), norm, act, skip
        self.mask_kind, self.parity = mask, int(parity)
        n = self.name
        self.conv_in = layers.Conv2D(filters, 3, padding="same", name=f"{n}_in")
        self.block = ConvBlock(filters, n_layers, norm, act, None, skip, name=f"{n}_block")
        self.conv_out = layers.Conv2D(6, 3, padding="same", kernel_initializer="zeros", name=f"{n}_out")

    def build(self, input_shape):
        _, h, w, c = input_shape
        if self.mask_kind == "checkerboard":
            m = ((np.arange(h)[:, None] + np.arange(w)[None, :]) % 2).astype("float32")[:, :, None]
            m = np.repeat(m, c, axis=-1)
        else:
            m = np.zeros((h, w, c), "float32")
            m[..., : c // 2 + 1] = 1
        if self.parity:
            m = 1 - m
        self._mask = m[None]

    @property
    def m(self):
        return ops.convert_to_tensor(self._mask, self.compute_dtype)

    def _st(self, xa):
        h = self.conv_out(self.block(self.conv_in(xa)))
        s, t = ops.split(h, 2, axis=-1)
        return ops.tanh(s) * (1 - self.m), t * (1 - self.m)

    def call(self, x):
        s, t = self._st(x * self.m)
        y = x * self.m + (1 - self.m) * (x * ops.exp(s) + t)
        return y, ops.sum(s, axis=(1, 2, 3))

    def inverse(self, y):
        s, t = self._st(y * self.m)
        return y * self.m + (1 - self.m) * (y - t) * ops.exp(-s)

    def get_config(self):
        return {**super().get_config(), "filters": self.filters, "n_layers": self.n_layers, "norm": self.norm,
                "act": self.act, "skip": self.skip, "mask": self.mask_kind, "parity": self.parity}


@keras.saving.register_keras_serializable(package=PKG)
class InvertibleLinear(layers.Layer):
    """Invertible fully connected map of a flattened image (Glow's LU-parameterised invertible 1x1
    convolution, applied over all pixels): ``y = (x - shift) W`` with ``W = P L (U + diag(sign * exp(s)))``.

    ``lu`` packs the strict lower part of ``L`` (unit diagonal), the strict upper part of ``U`` and ``s`` on
    its diagonal, so the log-determinant is ``sum(s)``. ``P`` (a permutation) and ``sign`` are fixed.
    :meth:`initialize` sets ``W`` to the data's whitening map (data-dependent initialisation, as Glow's
    ActNorm). ``call(x)`` returns ``(y, logdet)``; ``inverse(y)`` returns ``x``.
    """

    def build(self, input_shape):
        d = int(np.prod(input_shape[1:]))
        self.dim = d
        self.lu = self.add_weight(shape=(d, d), initializer="zeros", name="lu")
        self.shift = self.add_weight(shape=(d,), initializer="zeros", name="shift")
        self.perm = self.add_weight(shape=(d,), initializer="zeros", trainable=False, name="perm")
        self.sign = self.add_weight(shape=(d,), initializer="ones", trainable=False, name="sign")
        self.perm.assign(np.arange(d, dtype="float32"))

    def initialize(self, x: np.ndarray, eps: float = 1e-4) -> None:
        """Set ``shift`` to the mean of ``x`` and ``W`` to its ZCA whitening map (eigenvalues + ``eps``)."""
        from scipy import linalg

        flat = np.asarray(x, np.float64).reshape(len(x), -1)
        mean = flat.mean(0)
        lam, vec = np.linalg.eigh(np.cov(flat - mean, rowvar=False) + eps * np.eye(self.dim))
        p, lower, upper = linalg.lu((vec / np.sqrt(lam)) @ vec.T)
        diag = np.diag(upper)
        packed = np.tril(lower, -1) + np.triu(upper, 1) + np.diag(np.log(np.abs(diag)))
        self.lu.assign(packed.astype("float32"))
        self.shift.assign(mean.astype("float32"))
        self.perm.assign(np.argmax(p, axis=0).astype("float32"))  # W = P[perm rows] ...
        self.sign.assign(np.sign(diag).astype("float32"))

    def _weight(self):
        d = self.dim
        eye = ops.eye(d, dtype=self.lu.dtype)
        lower = ops.tril(self.lu, -1) + eye
        upper = ops.triu(self.lu, 1) + eye * (self.sign * ops.exp(ops.diagonal(self.lu)))[None, :]
        return ops.take(ops.matmul(lower, upper), ops.argsort(ops.cast(self.perm, "int32")), axis=0)

    def call(self, x):
        shape = ops.shape(x)
        y = ops.matmul(ops.reshape(x, (-1, self.dim)) - self.shift, self._weight())
        logdet = ops.sum(ops.diagonal(self.lu)) * ops.ones((shape[0],), dtype=y.dtype)
        return ops.reshape(y, shape), logdet

    def inverse(self, y):
        shape = ops.shape(y)
        w_inv = np.linalg.inv(ops.convert_to_numpy(self._weight()).astype(np.float64)).astype("float32")
        x = ops.matmul(ops.reshape(y, (-1, self.dim)), ops.convert_to_tensor(w_inv)) + self.shift
        return ops.reshape(x, shape)
