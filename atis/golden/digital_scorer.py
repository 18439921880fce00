"""Golden model of the digital scorer: the FPAA's job done with m MACs per token (the seed §4.2 baseline), for a
board with no FPAA attached. Integer semantics, shared with ``hdl.digital_scorer``:

* ``q``: int8 prototype, ``round(127 · w)`` of the FPAA's normalized weights of circuit-average prototype.
* ``S = Σ_j q_j · (code_j − 2^(bits−1))`` exactly (signed, ``acc_bits`` wide: never overflows).
* ``keep = S > T``; ``T`` is the integer for which ``keep_target`` of the reference tokens' scores exceed it.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..config import AtisConfig
from .prototype import group_weights, load_prototypes
from .reference import reference_codes

__all__ = ["DigitalScorerSpec", "resolve_digital_scorer", "digital_scores", "digital_keep"]


@dataclass(frozen=True)
class DigitalScorerSpec:
    weights: np.ndarray     # int64 [m], int8 values
    threshold: int
    dac_bits: int

    @property
    def m(self) -> int:
        return len(self.weights)

    @property
    def acc_bits(self) -> int:
        bound = int(np.abs(self.weights).sum()) * (1 << (self.dac_bits - 1))
        return max(bound.bit_length() + 1, 2)


def digital_scores(codes: np.ndarray, spec: DigitalScorerSpec) -> np.ndarray:
    return (np.asarray(codes, dtype=np.int64) - (1 << (spec.dac_bits - 1))) @ spec.weights


def digital_keep(codes: np.ndarray, spec: DigitalScorerSpec) -> np.ndarray:
    return digital_scores(codes, spec) > spec.threshold


def resolve_digital_scorer(cfg: AtisConfig) -> DigitalScorerSpec:
    f, m = cfg.fpaa, cfg.projection.m
    w = group_weights(load_prototypes(f.prototype, m, f.heads.count), 1)[0]
    q = np.round(w * 127).astype(np.int64)
    partial = DigitalScorerSpec(q, 0, cfg.projection.dac_bits)
    scores = digital_scores(reference_codes(cfg), partial)
    threshold = int(np.floor(np.quantile(scores, 1.0 - f.comparator.keep_target)))
    return DigitalScorerSpec(q, threshold, cfg.projection.dac_bits)
