"""Images of npz shards read from disk on demand, so a zoo larger than memory trains.

``reparse ingest --format npz`` writes uncompressed shards: each ``images.npy`` member of a
``part-*.npz`` is stored as is inside the zip, so the bytes of image ``i`` sit at a fixed offset.
:class:`ShardImages` finds those offsets once (zip local header + npy header) and reads the rows a
batch asks for with ``os.pread``: nothing is memory-mapped, so the process holds only the batches
it is working on (the operating system's page cache does the rest and gives the memory back when
it is needed). It behaves like the ``[N, H, W, 3]`` uint8 array for what training does with it:
``len``, ``shape``, indexing by integer arrays / slices / boolean masks (a copy of those rows), and
:meth:`ShardImages.subset` (a lazy view of some rows).
"""

from __future__ import annotations

import os
import struct
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

MEMBER = "images.npy"


@dataclass(frozen=True)
class _Shard:
    path: Path
    data_offset: int
    rows: int


def _images_member(path: Path) -> tuple[int, int, tuple[int, ...], np.dtype]:
    """(offset of the first image byte, rows, image shape, dtype) of a shard's stored ``images.npy``."""
    with zipfile.ZipFile(path) as z:
        try:
            info = z.getinfo(MEMBER)
        except KeyError:
            raise ValueError(f"{path}: npz shard has no {MEMBER}") from None
        if info.compress_type != zipfile.ZIP_STORED:
            raise ValueError(f"{path}: compressed npz shard; its images cannot be read in place (re-ingest without "
                             f"compression, or train with stream=False to load them into memory)")
    with open(path, "rb") as fh:
        fh.seek(info.header_offset)
        local = fh.read(30)
        if local[:4] != b"PK\x03\x04":
            raise ValueError(f"{path}: not a zip local file header at {info.header_offset}")
        name_len, extra_len = struct.unpack("<HH", local[26:30])
        start = info.header_offset + 30 + name_len + extra_len
        fh.seek(start)
        version = np.lib.format.read_magic(fh)
        read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) else \
            np.lib.format.read_array_header_2_0
        shape, fortran, dtype = read_header(fh)
        if fortran or len(shape) != 4:
            raise ValueError(f"{path}: {MEMBER} is not a C-ordered [N, H, W, C] array (shape {shape})")
        return fh.tell(), int(shape[0]), tuple(int(d) for d in shape[1:]), np.dtype(dtype)


class ShardImages:
    """The ``images`` of a directory's ``part-*.npz`` shards, read on demand (module docstring)."""

    def __init__(self, shards: list[_Shard], image_shape: tuple[int, ...], dtype: np.dtype,
                 rows: np.ndarray | None = None):
        self._shards, self.image_shape, self.dtype = shards, tuple(image_shape), np.dtype(dtype)
        self._starts = np.cumsum([0] + [s.rows for s in shards])
        total = int(self._starts[-1])
        self._rows = np.arange(total) if rows is None else np.asarray(rows, np.int64)
        self._row_bytes = int(np.prod(self.image_shape)) * self.dtype.itemsize
        self._fds: dict[int, int] = {}
        self._pid = os.getpid()

    @classmethod
    def open(cls, source: str | Path | list[Path]) -> ShardImages:
        """The images of a directory's shards (``part-*.npz``, also under ``npz/``) or of a list of shard files."""
        from reparse_tf.data.npz_shards import shard_files

        files = source if isinstance(source, list) else shard_files(source)
        shards, first = [], None
        for f in files:
            offset, rows, shape, dtype = _images_member(f)
            if first is None:
                first = (shape, dtype)
            elif (shape, dtype) != first:
                raise ValueError(f"{f}: images are {shape} {dtype}, the first shard's {first[0]} {first[1]}")
            shards.append(_Shard(f, offset, rows))
        return cls(shards, *first)

    # -- array-like -------------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self._rows)

    @property
    def shape(self) -> tuple[int, ...]:
        return (len(self), *self.image_shape)

    @property
    def ndim(self) -> int:
        return 1 + len(self.image_shape)

    @property
    def nbytes(self) -> int:
        return len(self) * self._row_bytes

    def _positions(self, index) -> np.ndarray:
        if isinstance(index, slice):
            return self._rows[index]
        index = np.asarray(index)
        if index.dtype == bool:
            if index.shape != (len(self),):
                raise IndexError(f"boolean index of shape {index.shape} for {len(self)} images")
            return self._rows[index]
        return self._rows[index.astype(np.int64)]

    def subset(self, index) -> ShardImages:
        """A lazy view of some rows (nothing read)."""
        return ShardImages(self._shards, self.image_shape, self.dtype, self._positions(index))

    def __getitem__(self, index) -> np.ndarray:
        if isinstance(index, (int, np.integer)):
            return self[np.array([index])][0]
        rows = self._positions(index)
        out = np.empty((len(rows), *self.image_shape), self.dtype)
        shard_of = np.searchsorted(self._starts, rows, side="right") - 1
        buf = memoryview(out).cast("B")
        for k in np.argsort(rows, kind="stable"):   # in file order
            s = int(shard_of[k])
            fd = self._fd(s)
            at = self._shards[s].data_offset + int(rows[k] - self._starts[s]) * self._row_bytes
            got = os.preadv(fd, [buf[k * self._row_bytes:(k + 1) * self._row_bytes]], at)
            if got != self._row_bytes:
                raise OSError(f"{self._shards[s].path}: short read of image {rows[k] - self._starts[s]}")
        return out

    def __array__(self, dtype=None, copy=None):
        out = self[slice(None)]
        return out if dtype is None else out.astype(dtype)

    def _fd(self, shard: int) -> int:
        if os.getpid() != self._pid:   # a forked data worker opens its own descriptors
            self._fds, self._pid = {}, os.getpid()
        if shard not in self._fds:
            self._fds[shard] = os.open(self._shards[shard].path, os.O_RDONLY)
        return self._fds[shard]

    def close(self) -> None:
        for fd in self._fds.values():
            os.close(fd)
        self._fds = {}

    def __del__(self):
        try:
            self.close()
        except Exception:  # noqa: BLE001, S110 - interpreter shutdown
            pass

    def __getstate__(self) -> dict:
        return {**self.__dict__, "_fds": {}}


def streamable(directory: str | Path) -> bool:
    """Whether every npz shard of ``directory`` stores its images uncompressed."""
    try:
        ShardImages.open(directory)
    except (ValueError, FileNotFoundError):
        return False
    return True


def select(images, index):
    """Rows of an image array: a lazy view for :class:`ShardImages`, a copy for an ndarray."""
    return images.subset(index) if isinstance(images, ShardImages) else images[index]
