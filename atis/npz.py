"""Safe, checked reads of the ``.npz`` files a config references (weights, prototypes, calibration, scorer specs).

Never with ``allow_pickle``: an object array is refused, not executed. Every problem is one :class:`ConfigError`
that names the config key, the file and the array: unreadable or truncated files, missing arrays, wrong dtype,
shape or range, NaN or infinite values.
"""
from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np

from .config import ConfigError

__all__ = ["NpzFile", "read_npz"]


class NpzFile:
    """The arrays of one file, with checked getters; ``where`` (e.g. "transformer.weights = 'w.npz'") prefixes
    every message."""

    def __init__(self, arrays: dict[str, np.ndarray], where: str):
        self.arrays, self.where = arrays, where

    def __contains__(self, key: str) -> bool:
        return key in self.arrays

    def _get(self, key: str) -> np.ndarray:
        if key not in self.arrays:
            raise ConfigError(f"{self.where}: no array named {key!r} (has: {', '.join(sorted(self.arrays)) or 'none'})")
        return self.arrays[key]

    def _fail(self, key: str, why: str):
        raise ConfigError(f"{self.where}: {key} {why}")

    def ints(self, key: str, shape: tuple | None = None, lo: int | None = None, hi: int | None = None) -> np.ndarray:
        """An integer array (a float one is refused, even with whole values: it was not written by atis)."""
        a = self._get(key)
        if a.dtype.kind == "f" and not np.all(np.isfinite(a)):
            self._fail(key, "holds NaN or infinite values")
        if a.dtype.kind not in "iu":
            self._fail(key, f"must be an integer array, not {a.dtype}")
        self._shape(key, a, shape)
        a = a.astype(np.int64)
        if a.size and ((lo is not None and a.min() < lo) or (hi is not None and a.max() > hi)):
            self._fail(key, f"must hold values in {lo}..{hi} (has {a.min()}..{a.max()})")
        return a

    def floats(self, key: str, shape: tuple | None = None, ndims: tuple[int, ...] | None = None) -> np.ndarray:
        a = self._get(key)
        if a.dtype.kind not in "iuf":
            self._fail(key, f"must be a numeric array, not {a.dtype}")
        a = a.astype(np.float64)
        if not np.all(np.isfinite(a)):
            self._fail(key, "holds NaN or infinite values")
        if ndims is not None and a.ndim not in ndims:
            self._fail(key, f"must have {' or '.join(map(str, ndims))} dims, not shape {list(a.shape)}")
        self._shape(key, a, shape)
        return a

    def _shape(self, key: str, a: np.ndarray, shape: tuple | None) -> None:
        if shape is not None and a.shape != tuple(shape):
            self._fail(key, f"has shape {list(a.shape)}, expected {list(shape)}")


def read_npz(path: Path | str, key: str) -> NpzFile:
    """All arrays of ``path`` (config key ``key``, for the messages)."""
    where = f"{key} = '{path}'"
    try:
        with open(path, "rb") as f:
            head = f.read(6)
    except OSError as e:
        raise ConfigError(f"{where}: cannot read ({e.strerror})") from None
    if not head:
        raise ConfigError(f"{where}: the file is empty")
    if head.startswith(b"\x93NUMPY"):
        raise ConfigError(f"{where}: a single .npy array, not an .npz archive of named arrays")
    if not head.startswith(b"PK"):
        raise ConfigError(f"{where}: not an .npz archive (no zip header: a text or other file?)")
    try:
        with np.load(path, allow_pickle=False) as z:
            return NpzFile({k: z[k] for k in z.files}, where)
    except ValueError as e:
        reason = "an array holds Python objects (pickled), which atis never loads" if "pickle" in str(e) else str(e)
        raise ConfigError(f"{where}: not a readable .npz ({reason})") from None
    except (OSError, EOFError, zipfile.BadZipFile) as e:
        raise ConfigError(f"{where}: not a readable .npz (truncated or damaged: {e})") from None
