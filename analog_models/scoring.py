"""The FPAA model as the scorer uses it: the calibrated model and the vectorized keep mask that a co-simulation
must reproduce (same config, same seed, same write schedule)."""
from __future__ import annotations

import numpy as np

from atis.config import AtisConfig
from atis.golden.projection import ProjectionSpec, projection_codes, resolve_projection
from atis.golden.reference import reference_codes
from atis.golden.sequencer import SequencerSpec, resolve_sequencer

from .fpaa import FpaaModel, ScoreResult

__all__ = ["scorer_model", "expected_keep"]


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
