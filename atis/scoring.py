"""The FPAA model as the scorer uses it: reference tokens, the calibrated model, and the vectorized keep mask that
a co-simulation must reproduce (same config, same seed, same write schedule)."""
from __future__ import annotations

import numpy as np

from atis.analog_models import FpaaModel, ScoreResult

from .config import AtisConfig
from .golden.projection import ASSUMED_TOKEN_SIGMA, ProjectionSpec, projection_codes, resolve_projection
from .golden.sequencer import SequencerSpec, resolve_sequencer

__all__ = ["random_tokens", "reference_codes", "scorer_model", "expected_keep", "REFERENCE_SEED"]

#: Seed of the reference token set the comparator threshold is trimmed on (``threshold: target``).
REFERENCE_SEED = 12345


def random_tokens(cfg: AtisConfig, n: int, seed: int) -> np.ndarray:
    """Int8 Gaussian tokens ``[n, d]`` of σ = ASSUMED_TOKEN_SIGMA (the design point of ``shift: auto``)."""
    x = np.random.default_rng(seed).normal(0.0, ASSUMED_TOKEN_SIGMA, size=(n, cfg.model.d_model))
    return np.clip(np.round(x), -128, 127).astype(np.int64)


def reference_codes(cfg: AtisConfig, spec: ProjectionSpec | None = None, n: int = 4096) -> np.ndarray:
    """DAC codes of the reference tokens (projected exactly like real tokens)."""
    return projection_codes(random_tokens(cfg, n, REFERENCE_SEED), spec or resolve_projection(cfg))


def scorer_model(cfg: AtisConfig, spec: ProjectionSpec | None = None,
                 sequencer: SequencerSpec | None = None) -> FpaaModel:
    """A fresh FPAA model, θ trimmed on the reference codes, settling ages set to the sequencer's schedule."""
    model = FpaaModel(cfg, reference_codes=reference_codes(cfg, spec))
    seq = sequencer or resolve_sequencer(cfg)
    model.write_ages_ns = seq.write_ages_ns()
    model.period_ns = seq.token_cycles() * seq.clock_ns
    return model


def expected_keep(cfg: AtisConfig, tokens: np.ndarray) -> ScoreResult:
    """What the scorer must output for ``tokens[N, d]``: vectorized model on the golden projection's codes."""
    spec = resolve_projection(cfg)
    return scorer_model(cfg, spec).score(projection_codes(tokens, spec))
