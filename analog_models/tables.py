"""Lookup tables for the vectorized FPAA model: each OTA input stage's output per (channel, previous code, code).

DAC codes are discrete, so everything between a code and the OTA's tanh is a function of a few codes. Input ``j``
of token ``n`` is evaluated ``age_j`` after its write, ``V = T + (pre - T)·d_j`` (``T`` the target, ``d_j =
exp(-age_j/tau)``), where ``pre`` is the output just before the write. The pre-write outputs follow the DAC's
period recurrence ``y[n] = (1 - a)·T[n] + a·y[n-1]``, ``a = exp(-period/tau)``, so

    pre[n] = y[n-1] = (1 - a)·T[c[n-1]] + a·y[n-2]

depends on the whole code history, through ``a``. Two cases:

* ``a == 0`` in float64 (the DAC settles fully within a period: ``period > 745·tau``, or an ideal DAC; the
  scorer's sequencer schedules are so): ``pre = T[c[n-1]]`` exactly and the table over (previous code, code) is
  *exact*. Every table entry is computed by the same numpy operations, in the same order, as the direct path, so
  the OTA inputs are bit-identical to it (tested).
* ``a > 0``: the table takes ``y[n-2]`` as the channel's mid-scale output. The true one lies between the rails, so
  the table's OTA input is off by at most ``|dx/dV|·d_j·a·max|rail - mid|`` per input, and the score by
  :meth:`InputTable.error_bound_V`. The model uses the table only while that bound is at most
  :data:`TOLERANCE_V` (1e-12 V: about 1e-9 of the OTA shot noise at the defaults), else the direct recurrence.
  (At the defaults, 1 MHz tokens and tau = 50 ns: a = 2e-9, bound 2.3e-13 V.)
"""
from __future__ import annotations

from collections.abc import Callable

import numpy as np

__all__ = ["InputTable", "TOLERANCE_V", "MAX_ENTRIES", "BLOCK_TOKENS"]

TOLERANCE_V = 1e-12      # largest score error the table may make (a > 0); beyond it the direct path runs
MAX_ENTRIES = 1 << 23    # 64 MiB of float64 (indices fit int32): a larger table (8-bit codes, many inputs) is not built
BLOCK_TOKENS = 1024      # tokens per lookup block: its index and input buffers (512 KiB each at m = 64) stay in L2


class InputTable:
    """Tanh outputs ``x[array][j, prev, code]`` of every OTA input, for one settling schedule and temperature.

    ``key`` is what the table was built for: (``period_ns``, ``write_ages_ns``, temperature). ``activation(v, a)``
    is the model's own DAC-voltage -> tanh-output function for array ``a`` (the same one its direct path uses).
    """

    def __init__(self, table_V: np.ndarray, midscale_V: np.ndarray, span_V: np.ndarray, a: float, d: np.ndarray,
                 activation: Callable[[np.ndarray, int], np.ndarray], arrays: np.ndarray, key: tuple):
        m, levels = table_V.shape
        self.key, self.a, self.d, self.levels, self.m = key, a, d, levels, m
        self._span = span_V         # how far y[n-2] can be from the mid-scale guess, per channel (V)
        self.bits = levels.bit_length() - 1
        # The output just before a write that follows code ``prev`` (y[n-2] taken as mid-scale), [m, prev].
        pre = (1.0 - a) * table_V + a * midscale_V[:, None]
        # [prev, code, m], channels last as the direct path has them: T + (pre - T)·d, in the direct path's order.
        target = table_V.T[None, :, :]
        volts = target + (pre.T[:, None, :] - target) * d
        # Flat layout: channel j's block starts at j·L·(L + 1), so the index of (j, prev, code) is
        # K[n-1]·L + K[n] with K = code + j·L: one add per code, one shift and one add per lookup.
        self._stride = levels * (levels + 1)
        self._channel = (np.arange(m) * levels).astype(np.int32)
        self._buffers = None
        self.tables = {}
        for arr in arrays:
            x = activation(volts.reshape(levels * levels, m), int(arr))
            flat = np.zeros((m, self._stride))
            flat[:, :levels * levels] = x.T
            self.tables[int(arr)] = flat.reshape(-1)

    @staticmethod
    def fits(n_arrays: int, m: int, bits: int) -> bool:
        levels = 1 << bits
        return n_arrays * m * levels * (levels + 1) <= MAX_ENTRIES

    def error_bound_V(self, slope_per_V: float, weight_gain_abs: np.ndarray, amps_to_V: float) -> float:
        """Worst-case score error (V) of the table against the direct recurrence, ``a > 0``; 0 when exact.

        ``slope_per_V``: max |dx/dV| over all V (input gain / V_L, as tanh' <= 1), so by the mean value theorem
        |Δx| <= slope·|ΔV| with no higher-order term; ``weight_gain_abs[G, m]``: |w·(1 + ε)|, or its upper bound;
        ``amps_to_V``: I_b times the TIA transresistance. The mid-scale guess is off by at most ``span_V`` (from the
        rails, the DAC's limits). Rounding (a few ulp of the score) comes on top."""
        if self.a == 0.0:
            return 0.0
        dx = slope_per_V * self.d * self.a * self._span
        return float(np.max(weight_gain_abs @ dx) * amps_to_V)

    def inputs(self, codes: np.ndarray, prev: np.ndarray, arrays: np.ndarray):
        """Yield ``(rows, {array: x[k, m]})`` blocks of about :data:`BLOCK_TOKENS` tokens for ``codes[N, m]`` (valid
        integer codes) that follow the codes ``prev[m]``. The buffers are reused (also by the next call): consume
        each block before the next."""
        n, m = codes.shape
        starts = list(range(0, n, BLOCK_TOKENS))
        if len(starts) > 1 and n - starts[-1] == 1:
            starts.pop()      # no lone last token: BLAS multiplies one row on another path (other rounding)
        ends = starts[1:] + [n]
        size = max(e - s for s, e in zip(starts, ends))
        if self._buffers is None or len(self._buffers[2]) < size:
            # int32 arithmetic, one cast to the index type take() wants: ~25 % cheaper than computing in intp.
            # Kept between calls: fresh megabytes cost page faults on every call.
            self._buffers = (np.empty((size + 1, m), np.int32), np.empty((size, m), np.int32),
                             np.empty((size, m), np.intp), {a: np.empty((size, m)) for a in self.tables})
        keys, pairs, index, buffers = self._buffers
        out = {int(a): buffers[int(a)] for a in arrays}
        for start, end in zip(starts, ends):
            k = end - start
            np.add(prev if start == 0 else codes[start - 1], self._channel, out=keys[0], casting="unsafe")
            np.add(codes[start:end], self._channel, out=keys[1:k + 1], casting="unsafe")
            np.left_shift(keys[:k], self.bits, out=pairs[:k])
            np.add(pairs[:k], keys[1:k + 1], out=pairs[:k])
            np.copyto(index[:k], pairs[:k])
            yield slice(start, end), {a: self.tables[a].take(index[:k], out=x[:k], mode="wrap") for a, x in out.items()}
