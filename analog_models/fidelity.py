"""How well the analog score ranks tokens like the ideal float dot product (seed §4.1: ~6 effective bits suffice).

Random Gaussian tokens in the projected space are quantized to DAC codes (±``clip_sigma`` σ spans the code range),
scored by the full model (DAC errors and settling, OTA mismatch/nonlinearity/noise, TIA rails), and rank-correlated
(Spearman) with ``x · q`` in float — and, to separate the two error sources, with the dot product of the quantized
tokens.
"""
from __future__ import annotations

import numpy as np
from scipy.stats import spearmanr

from atis.config import AtisConfig, with_overrides

from .fpaa import FpaaModel

__all__ = ["gaussian_codes", "fidelity"]


def gaussian_codes(x: np.ndarray, bits: int, clip_sigma: float = 3.0) -> np.ndarray:
    """Offset-binary codes of float tokens ``x`` (unit σ): mid-scale at 0, full scale at ±``clip_sigma``."""
    half = 1 << (bits - 1)
    return np.clip(np.round(x / clip_sigma * half) + half, 0, 2 * half - 1).astype(np.int64)


def fidelity(cfg: AtisConfig, bits: tuple[int, ...] = (3, 4, 5, 6, 7, 8), n: int = 20000,
             seed: int = 0) -> dict[int, dict[str, float]]:
    """Per DAC width: Spearman of the model score vs the float dot product, and of the quantized-ideal score."""
    m = cfg.projection.m
    x = np.random.default_rng(seed).standard_normal((n, m))
    out = {}
    part_bits = cfg.dac.part_bits
    for b in bits:
        cfg_b = with_overrides(cfg, {
            "projection": {"dac_bits": b},
            "dac": {"part_bits": None if part_bits is None else max(b, part_bits)},
            "fpaa": {"comparator": {"threshold": "fixed"}}})
        model = FpaaModel(cfg_b)
        w = model.float_weights.mean(axis=0)     # what the consensus score approximates, before FG quantization
        codes = gaussian_codes(x, b)
        score = model.score(codes).score
        quantized = (codes - (1 << (b - 1))) @ w
        out[b] = {"spearman": float(spearmanr(score, x @ w).statistic),
                  "spearman_quantized_ideal": float(spearmanr(quantized, x @ w).statistic)}
    return out

