"""Image decoding and validation shared by the TFRecord ingest and the numpy (npz) data path.

numpy + Pillow only (no TensorFlow). :func:`load_image` turns an encoded image file into an RGB
``uint8 [size, size, 3]`` array or raises :class:`ImageError` with the reason; conversions and
upscaling are reported as warnings, never silently.

Decompression bombs: this module sets ``PIL.Image.MAX_IMAGE_PIXELS`` to :data:`MAX_IMAGE_PIXELS`
(64 Mpixel, well above any GM output) and refuses any image whose header declares more pixels,
before decoding a single pixel (Pillow's own guard raises ``DecompressionBombError`` beyond twice
the limit and warns beyond the limit; both are turned into :class:`ImageError`).
"""

from __future__ import annotations

import hashlib
import io
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

MAX_IMAGE_PIXELS = 8192 * 8192
Image.MAX_IMAGE_PIXELS = MAX_IMAGE_PIXELS

# modes holding more than 8 bits per channel: rescaled to 8 bits instead of clipped
_WIDE_INT_MODES = ("I;16", "I;16B", "I;16L", "I;16N", "I")


class ImageError(ValueError):
    """An image file cannot be used; ``str(exc)`` is the reason (the caller adds the path)."""


@dataclass
class DecodedImage:
    """A decoded, converted and resized image.

    Attributes:
        array: RGB ``uint8 [size, size, 3]``.
        sha1: hex digest of the file's bytes (duplicate detection).
        source_mode: Pillow mode of the file (``"RGB"``, ``"L"``, ``"P"``, ``"I;16"``, ...).
        source_size: ``(width, height)`` of the file.
        warnings: human-readable notes (e.g. upscaled from a smaller size).
    """

    array: np.ndarray
    sha1: str
    source_mode: str
    source_size: tuple[int, int]
    warnings: list[str] = field(default_factory=list)
    png: bytes | None = None

    def png_bytes(self, compress_level: int = 1) -> bytes:
        """PNG of ``array``: the source file itself when it already was an 8-bit RGB PNG of the
        target size (pixels identical, no re-encoding), else a fresh encoding."""
        return self.png if self.png is not None else encode_png(self.array, compress_level)


def _to_rgb(im: Image.Image) -> Image.Image:
    """Convert any Pillow mode to 8-bit RGB (16-bit rescaled, alpha dropped, palette expanded)."""
    if im.mode == "RGB":
        return im
    if im.mode in _WIDE_INT_MODES:
        arr = np.asarray(im).astype(np.float64)
        top = 65535.0 if arr.max(initial=0) > 255 or im.mode.startswith("I;16") else 255.0
        arr = np.clip(np.rint(arr * (255.0 / top)), 0, 255).astype(np.uint8)
        return Image.fromarray(arr, "L").convert("RGB")
    if im.mode == "F":
        arr = np.asarray(im, dtype=np.float64)
        scale = 255.0 if arr.max(initial=0) <= 1.0 else 1.0
        return Image.fromarray(np.clip(np.rint(arr * scale), 0, 255).astype(np.uint8), "L").convert("RGB")
    if im.mode in ("P", "PA") and "transparency" in im.info:
        im = im.convert("RGBA")
    return im.convert("RGB")


def fit_square(im: Image.Image, size: int) -> tuple[Image.Image, bool]:
    """Center-crop to a square, then resize to ``size`` (no resampling when already ``size``).

    Returns the image and whether it had to be upscaled.
    """
    w, h = im.size
    side = min(w, h)
    if (w, h) != (side, side):
        left, top = (w - side) // 2, (h - side) // 2
        im = im.crop((left, top, left + side, top + side))
    if side == size:
        return im, False
    resample = Image.Resampling.BICUBIC if side < size else Image.Resampling.LANCZOS
    return im.resize((size, size), resample), side < size


def decode_bytes(data: bytes, image_size: int) -> DecodedImage:
    """Decode, validate, convert to RGB and fit to ``image_size``; raise :class:`ImageError`."""
    sha1 = hashlib.sha1(data).hexdigest()
    if not data:
        raise ImageError("empty file")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            im = Image.open(io.BytesIO(data))
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageError(f"refused as a possible decompression bomb: {exc}") from None
    except Image.UnidentifiedImageError:
        raise ImageError("not an image (Pillow cannot identify the format)") from None
    except Exception as exc:  # noqa: BLE001 - any decoder failure is a bad file
        raise ImageError(f"cannot open image: {type(exc).__name__}: {exc}") from None
    w, h = im.size
    if w * h > MAX_IMAGE_PIXELS:  # belt and braces, whatever the global Pillow setting is
        raise ImageError(f"refused as a possible decompression bomb: {w}x{h} exceeds {MAX_IMAGE_PIXELS} pixels")
    if w == 0 or h == 0:
        raise ImageError(f"image has zero size {w}x{h}")
    mode = im.mode
    try:
        im.load()
    except Exception as exc:  # noqa: BLE001 - truncated / corrupt data
        raise ImageError(f"corrupt or truncated image data ({im.format}): {type(exc).__name__}: {exc}") from None
    notes: list[str] = []
    try:
        rgb = _to_rgb(im)
    except Exception as exc:  # noqa: BLE001
        raise ImageError(f"cannot convert mode {mode} to RGB: {exc}") from None
    rgb, upscaled = fit_square(rgb, image_size)
    if upscaled:
        notes.append(f"upscaled from {w}x{h} to {image_size}x{image_size} (smaller than the target size)")
    arr = np.asarray(rgb, dtype=np.uint8)
    passthrough = rgb is im and im.format == "PNG" and _is_plain_rgb8_png(data)
    return DecodedImage(arr, sha1, mode, (w, h), notes, png=data if passthrough else None)


def _is_plain_rgb8_png(data: bytes) -> bool:
    """True for a PNG whose IHDR says 8-bit truecolour without alpha (bit depth 8, colour type 2)."""
    return len(data) > 26 and data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR" \
        and data[24] == 8 and data[25] == 2


def load_image(path: str | Path, image_size: int) -> DecodedImage:
    """Read ``path`` and :func:`decode_bytes` it; raise :class:`ImageError` with the reason."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise ImageError(f"cannot read file: {exc.strerror or exc}") from None
    return decode_bytes(data, image_size)


def encode_png(array: np.ndarray, compress_level: int = 1) -> bytes:
    """PNG-encode an RGB ``uint8`` array (lossless; low zlib level for speed)."""
    buf = io.BytesIO()
    Image.fromarray(np.asarray(array, dtype=np.uint8), "RGB").save(buf, format="PNG", compress_level=compress_level)
    return buf.getvalue()
