"""The reference token set: seeded int8 Gaussian tokens on which the comparator threshold (``threshold: target``)
and the digital scorer's threshold are trimmed, projected exactly like real tokens."""
from __future__ import annotations

import numpy as np

from ..config import AtisConfig
from .projection import ASSUMED_TOKEN_SIGMA, ProjectionSpec, projection_codes, resolve_projection

__all__ = ["random_tokens", "reference_codes", "REFERENCE_SEED"]

#: Seed of the reference token set the comparator threshold is trimmed on (``threshold: target``).
REFERENCE_SEED = 12345


def random_tokens(cfg: AtisConfig, n: int, seed: int) -> np.ndarray:
    """Int8 Gaussian tokens ``[n, d]`` of σ = ASSUMED_TOKEN_SIGMA (the design point of ``shift: auto``)."""
    x = np.random.default_rng(seed).normal(0.0, ASSUMED_TOKEN_SIGMA, size=(n, cfg.model.d_model))
    return np.clip(np.round(x), -128, 127).astype(np.int64)


def reference_codes(cfg: AtisConfig, spec: ProjectionSpec | None = None, n: int = 4096) -> np.ndarray:
    """DAC codes of the reference tokens (projected exactly like real tokens)."""
    return projection_codes(random_tokens(cfg, n, REFERENCE_SEED), spec or resolve_projection(cfg))
