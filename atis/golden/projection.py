"""Golden projection z = P·x (d -> m, seed §5.1) and its requantization to DAC codes.

Integer semantics, shared with ``hdl.projection``:

* ``x``: int8 token elements, ``x[j] in [-128, 127]``.
* ``P``: integer matrix ``[m, d]``; ``jl``: entries in {-1, 0, +1}; ``learned``: int8; ``topvar``: one-hot rows.
* ``acc = P @ x`` exactly, in a signed accumulator of ``acc_bits`` = enough for ``128 * max_i sum_j |P[i, j]|``
  (never overflows, for any int8 token).
* ``code = requantize(acc, shift, dac_bits)``: round-half-up by ``shift``, saturate, offset-binary (golden.quant).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..config import AtisConfig, ConfigError
from .quant import requantize

__all__ = ["ProjectionSpec", "jl_matrix", "topvar_indices", "projection_matrix", "auto_shift", "accumulator_bits",
           "resolve_projection", "project", "projection_codes", "ASSUMED_TOKEN_SIGMA"]

#: Token σ (int8 LSBs) that ``shift: auto`` designs for: a quarter of the int8 half range, so a 3σ token still
#: leaves headroom in int8 and the DAC sees its full swing at 3σ.
ASSUMED_TOKEN_SIGMA = 32


@dataclass(frozen=True)
class ProjectionSpec:
    """Everything the RTL and the golden model must agree on, resolved from a config once."""
    matrix: np.ndarray      # int64 [m, d]
    shift: int
    dac_bits: int
    lanes: int
    acc_bits: int           # signed accumulator width that cannot overflow

    def __post_init__(self):
        if not 1 <= self.lanes <= self.d:
            raise ValueError(f"projection lanes must be in 1..d ({self.d}), not {self.lanes!r}")

    @property
    def m(self) -> int:
        return self.matrix.shape[0]

    @property
    def d(self) -> int:
        return self.matrix.shape[1]


def jl_matrix(m: int, d: int, seed: int) -> np.ndarray:
    """Achlioptas sparse JL matrix: +1 w.p. 1/6, −1 w.p. 1/6, 0 w.p. 2/3 (its √3 scale is left to ``shift``)."""
    draw = np.random.default_rng(seed).integers(0, 6, size=(m, d))
    return np.where(draw == 0, 1, np.where(draw == 1, -1, 0)).astype(np.int64)


def topvar_indices(tokens: np.ndarray, m: int) -> np.ndarray:
    """The ``m`` dims of highest variance over calibration ``tokens[N, d]``, highest first (ties: lower index)."""
    var = np.asarray(tokens, dtype=np.float64).var(axis=0)
    return np.argsort(-var, kind="stable")[:m]


def _load_npz_array(path: Path, key: str, what: str) -> np.ndarray:
    from ..npz import read_npz
    return read_npz(path, what).ints(key, lo=-128, hi=127)


def projection_matrix(cfg: AtisConfig) -> np.ndarray:
    """The integer matrix ``P[m, d]`` for ``cfg.projection.kind``; bad weight/calibration files raise ConfigError."""
    p, d = cfg.projection, cfg.model.d_model
    if p.kind == "jl":
        return jl_matrix(p.m, d, p.seed)
    if p.kind == "learned":
        P = _load_npz_array(p.weights, "P", "projection.weights")
        if P.shape != (p.m, d):
            raise ConfigError(f"projection.weights = '{p.weights}': P has shape {P.shape}, expected ({p.m}, {d})")
        return P
    tokens = _load_npz_array(p.calibration, "tokens", "projection.calibration")
    if tokens.ndim != 2 or tokens.shape[1] != d or tokens.shape[0] < 2:
        raise ConfigError(f"projection.calibration = '{p.calibration}': tokens has shape {tokens.shape}, "
                          f"expected (N >= 2, {d})")
    P = np.zeros((p.m, d), dtype=np.int64)
    P[np.arange(p.m), topvar_indices(tokens, p.m)] = 1
    return P


def auto_shift(matrix: np.ndarray, dac_bits: int) -> int:
    """Smallest shift that maps ±3σ of ``P_i·x`` (x i.i.d. with σ = ASSUMED_TOKEN_SIGMA) into the DAC's half range,
    taking the row of largest L2 norm."""
    row_norm = float(np.sqrt((matrix.astype(np.float64) ** 2).sum(axis=1)).max())
    spread = 3 * ASSUMED_TOKEN_SIGMA * max(row_norm, 1.0)
    return max(0, math.ceil(math.log2(spread / (1 << (dac_bits - 1)))))


def accumulator_bits(matrix: np.ndarray) -> int:
    """Signed width holding ``P_i·x`` for every int8 ``x``: |acc| <= 128·max_i Σ_j |P_ij|."""
    bound = 128 * int(np.abs(matrix).sum(axis=1).max())
    return max(bound.bit_length() + 1, 2)


def resolve_projection(cfg: AtisConfig) -> ProjectionSpec:
    """Resolve the config into the concrete numbers (matrix, shift, widths) used by golden and RTL alike."""
    P = projection_matrix(cfg)
    p = cfg.projection
    shift = auto_shift(P, p.dac_bits) if p.shift == "auto" else p.shift
    return ProjectionSpec(matrix=P, shift=shift, dac_bits=p.dac_bits, lanes=p.lanes, acc_bits=accumulator_bits(P))


def project(tokens: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """Exact ``acc[N, m] = tokens[N, d] @ P.T`` in int64; tokens must be int8-valued."""
    tokens = np.asarray(tokens)
    if tokens.min(initial=0) < -128 or tokens.max(initial=0) > 127:
        raise ValueError("tokens must be int8 values in -128..127")
    if accumulator_bits(matrix) <= 53:      # every partial sum is an integer below 2^53: float64 BLAS is exact
        return (tokens.astype(np.float64) @ matrix.T.astype(np.float64)).astype(np.int64)
    return tokens.astype(np.int64) @ matrix.T


def projection_codes(tokens: np.ndarray, spec: ProjectionSpec) -> np.ndarray:
    """DAC codes ``[N, m]`` for int8 ``tokens[N, d]``: requantize(P·x)."""
    return requantize(project(tokens, spec.matrix), spec.shift, spec.dac_bits)
