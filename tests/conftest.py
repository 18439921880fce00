"""Shared pytest fixtures."""
from __future__ import annotations

import numpy as np
import pytest

from atis.config import AtisConfig, ModelConfig, ProjectionConfig


@pytest.fixture
def small_cfg() -> AtisConfig:
    """d = 10, m = 5, 3 lanes (3 does not divide 10: exercises word padding)."""
    return AtisConfig(model=ModelConfig(d_model=10), projection=ProjectionConfig(m=5, lanes=3, dac_bits=4))


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(1234)
