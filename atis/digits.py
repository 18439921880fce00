"""The end-to-end task: scikit-learn's bundled 8×8 digits (1797 images, offline), one token per pixel.

Tokens: pixel p of intensity v (0..16) becomes the int8 vector ``clip(round(v/16·e + pos[p]), −128, 127)`` with a
learned value embedding ``e[d]`` and positional embedding ``pos[64, d]`` (``embed_value``, ``embed_pos`` in the
weights .npz, next to the transformer's arrays). So a sequence is 64 tokens, in raster order; the embedding runs on
the host, the FPGA sees int8 tokens like any other stream. Split: a fixed seeded permutation, 70 % train / 30 % test.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .config import ConfigError

__all__ = ["Split", "load_split", "Embedding", "load_embedding", "PIXELS", "SPLIT_SEED"]

PIXELS = 64
SPLIT_SEED = 2026
TEST_FRACTION = 0.3


@dataclass(frozen=True)
class Split:
    x_train: np.ndarray      # int [N, 64], 0..16
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray


def load_split(seed: int = SPLIT_SEED) -> Split:
    """The digits, split by a seeded permutation (the same split for training, sweep and benches)."""
    try:
        from sklearn.datasets import load_digits
    except ImportError:
        raise ConfigError("the digits task needs scikit-learn: pip install scikit-learn") from None
    data = load_digits()
    x, y = data.data.astype(np.int64), data.target.astype(np.int64)
    order = np.random.default_rng(seed).permutation(len(x))
    n_test = int(round(TEST_FRACTION * len(x)))
    test, train = order[:n_test], order[n_test:]
    return Split(x[train], y[train], x[test], y[test])


@dataclass(frozen=True)
class Embedding:
    value: np.ndarray        # [d] float
    pos: np.ndarray          # [64, d] float

    def tokens(self, images: np.ndarray) -> np.ndarray:
        """Int8 tokens ``[N, 64, d]`` of images ``[N, 64]`` (intensities 0..16)."""
        x = np.asarray(images, dtype=np.float64)[..., None] / 16.0 * self.value + self.pos
        return np.clip(np.floor(x + 0.5), -128, 127).astype(np.int64)


def load_embedding(path: Path, d: int, npz=None) -> Embedding:
    """The embedding stored with trained weights (``atis train`` writes both into one .npz; ``npz``: that file
    already read by :func:`atis.npz.read_npz`)."""
    from .npz import read_npz
    z = npz or read_npz(path, "transformer.weights")
    if "embed_value" not in z:
        raise ConfigError(f"transformer.weights = '{path}': no digits embedding in it (embed_value, embed_pos); "
                          "train one with `atis train`")
    e = Embedding(z.floats("embed_value", (d,)), z.floats("embed_pos", (PIXELS, d)))
    return e
