"""Small HDL helpers shared by the blocks: counters, saturation and the requantizers' RTL twins."""
from __future__ import annotations

from amaranth.hdl import Const, Mux, Signal

__all__ = ["SHIFT_BITS", "counter", "sat", "rq_var", "requantize_expr"]

#: Width of a run-time requantization shift (0..31), as loaded over the load chain.
SHIFT_BITS = 5


def counter(n: int, name: str) -> Signal:
    """A counter over 0..n-1, at least one bit wide (a zero-width signal would emit a [-1:0] vector)."""
    return Signal(range(max(n, 2)), name=name)


def sat(value, bits: int = 8):
    """Saturate a signed value to ``bits`` bits."""
    lo, hi = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    return Mux(value < lo, lo, Mux(value > hi, hi, value))


def rq_var(value, shift):
    """``atis.golden.quant.requantize_signed`` with a run-time shift: round half up, saturate to int8."""
    half = (Const(1, 33) << shift) >> 1
    return sat((value + half) >> shift)


def requantize_expr(value, shift: int, bits: int):
    """RTL twin of ``atis.golden.quant.requantize``: round-half-up by ``shift``, saturate, offset-binary flip."""
    rounded = ((value + (1 << (shift - 1))) if shift else value) >> shift
    saturated = sat(rounded, bits)
    return (saturated + (1 << (bits - 1)))[:bits]
