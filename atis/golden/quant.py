"""Requantization shared by every block: round-half-up by shift, saturate, offset-binary flip."""
from __future__ import annotations

import numpy as np

__all__ = ["requantize", "requantize_signed", "saturate"]


def requantize(acc: np.ndarray, shift: int, bits: int) -> np.ndarray:
    """Map signed accumulators to unsigned ``bits``-wide offset-binary codes.

    ``code = clip(((acc + 2**(shift-1)) >> shift) + 2**(bits-1), 0, 2**bits - 1)`` with ``>>`` an arithmetic
    (floor) shift, so ties round towards +inf ("half up"); ``shift = 0`` adds nothing. Saturation happens after the
    flip, which equals saturating the signed value to ``[-2**(bits-1), 2**(bits-1) - 1]`` first.
    Returns int64 codes in ``[0, 2**bits - 1]``.
    """
    return requantize_signed(acc, shift, bits) + (1 << (bits - 1))


def requantize_signed(acc: np.ndarray, shift: int, bits: int = 8) -> np.ndarray:
    """``clip((acc + 2**(shift-1)) >> shift, -2**(bits-1), 2**(bits-1) - 1)``: round half up, saturate (int64)."""
    if shift < 0 or bits < 1:
        raise ValueError(f"requantize needs shift >= 0 and bits >= 1, not shift={shift}, bits={bits}")
    acc = np.asarray(acc, dtype=np.int64)
    half = (1 << (shift - 1)) if shift > 0 else 0
    return saturate((acc + half) >> shift, bits)


def saturate(x: np.ndarray, bits: int = 8) -> np.ndarray:
    """Clip to the signed ``bits`` range."""
    return np.clip(np.asarray(x, dtype=np.int64), -(1 << (bits - 1)), (1 << (bits - 1)) - 1)
