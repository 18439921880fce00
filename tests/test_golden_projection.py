"""Golden projection: requantization semantics, matrix construction, file loading, widths."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from atis.config import AtisConfig, ConfigError, ModelConfig, ProjectionConfig
from atis.golden.projection import (
    accumulator_bits,
    auto_shift,
    jl_matrix,
    project,
    projection_codes,
    projection_matrix,
    resolve_projection,
    topvar_indices,
)
from atis.golden.quant import requantize


def test_requantize_rounds_half_up_and_saturates():
    # shift 2: 6/4 = 1.5 -> 2, -6/4 = -1.5 -> -1 (half up), 5/4 = 1.25 -> 1; 4-bit offset binary adds 8.
    assert requantize(np.array([6, -6, 5, -5, 0]), 2, 4).tolist() == [10, 7, 9, 7, 8]
    # saturation at both rails after the flip: [-8, 7] signed -> [0, 15]
    assert requantize(np.array([1000, -1000, 28, 29, -32, -34]), 2, 4).tolist() == [15, 0, 15, 15, 0, 0]
    assert requantize(np.array([3, -3]), 0, 3).tolist() == [7, 1]


@given(st.lists(st.integers(-2**24, 2**24), min_size=1, max_size=50), st.integers(0, 12), st.integers(3, 8))
def test_requantize_equals_exact_rational_rounding(values, shift, bits):
    import math
    from fractions import Fraction
    expected = [min(max(math.floor(Fraction(v, 2**shift) + Fraction(1, 2)) if shift else v, -2**(bits-1)),
                    2**(bits-1) - 1) + 2**(bits-1) for v in values]
    assert requantize(np.array(values), shift, bits).tolist() == expected


def test_jl_matrix_is_seeded_sparse_sign_matrix():
    P = jl_matrix(64, 512, seed=7)
    assert set(np.unique(P)) <= {-1, 0, 1}
    assert np.array_equal(P, jl_matrix(64, 512, seed=7))
    assert not np.array_equal(P, jl_matrix(64, 512, seed=8))
    frac = {v: float(np.mean(P == v)) for v in (-1, 0, 1)}
    assert abs(frac[0] - 2 / 3) < 0.01 and abs(frac[1] - 1 / 6) < 0.01 and abs(frac[-1] - 1 / 6) < 0.01


def test_jl_projection_preserves_distances_on_average(rng):
    x = rng.normal(0, 30, size=(40, 512))
    z = x @ jl_matrix(128, 512, seed=3).T.astype(float) * np.sqrt(3 / 128)   # Achlioptas scale
    i, j = np.triu_indices(40, 1)
    ratio = np.linalg.norm(z[i] - z[j], axis=1) / np.linalg.norm(x[i] - x[j], axis=1)
    assert abs(ratio.mean() - 1) < 0.05 and ratio.min() > 0.7 and ratio.max() < 1.3


def test_topvar_picks_highest_variance_dims_in_rank_order(rng):
    sigma = np.array([1, 50, 3, 40, 2, 60], dtype=float)
    tokens = rng.normal(0, sigma, size=(2000, 6))
    assert topvar_indices(tokens, 3).tolist() == [5, 1, 3]


def test_learned_and_topvar_load_from_npz(tmp_path, rng):
    P = rng.integers(-128, 128, size=(4, 8)).astype(np.int8)
    np.savez(tmp_path / "w.npz", P=P)
    cfg = AtisConfig(ModelConfig(d_model=8), ProjectionConfig(kind="learned", m=4, weights=tmp_path / "w.npz"))
    assert np.array_equal(projection_matrix(cfg), P)
    tokens = (rng.normal(0, 1, size=(100, 8)) * np.arange(1, 9)).clip(-128, 127).astype(np.int8)
    np.savez(tmp_path / "c.npz", tokens=tokens)
    cfg = AtisConfig(ModelConfig(d_model=8), ProjectionConfig(kind="topvar", m=2, calibration=tmp_path / "c.npz"))
    P = projection_matrix(cfg)
    assert P.sum(axis=1).tolist() == [1, 1] and P[0, 7] == 1 and P[1, 6] == 1


@pytest.mark.parametrize("arrays, message", [
    ({"Q": np.zeros((4, 8), np.int8)}, "no array named 'P'"),
    ({"P": np.zeros((3, 8), np.int8)}, "P has shape (3, 8), expected (4, 8)"),
    ({"P": np.full((4, 8), 300)}, "P must hold values in -128..127 (has 300..300)"),
    ({"P": np.zeros((4, 8), np.float32)}, "P must be an integer array, not float32"),
    ({"P": np.full((4, 8), np.nan)}, "P holds NaN or infinite values"),
])
def test_bad_weight_files_name_the_problem(tmp_path, arrays, message):
    np.savez(tmp_path / "w.npz", **arrays)
    cfg = AtisConfig(ModelConfig(d_model=8), ProjectionConfig(kind="learned", m=4, weights=tmp_path / "w.npz"))
    with pytest.raises(ConfigError, match="projection.weights") as info:
        projection_matrix(cfg)
    assert message in str(info.value)


def test_accumulator_width_holds_the_extreme_tokens(rng):
    P = rng.integers(-128, 128, size=(16, 64))
    bits = accumulator_bits(P)
    extremes = np.stack([np.where(P[i] < 0, -128, 127) for i in range(16)] +
                        [np.where(P[i] < 0, 127, -128) for i in range(16)])
    acc = project(extremes, P)
    assert acc.max() < 2 ** (bits - 1) and acc.min() >= -2 ** (bits - 1)
    assert accumulator_bits(np.ones((1, 64))) == 15   # 64 * 128 = 8192 -> 14 bits + sign


def test_auto_shift_is_the_smallest_that_fits_three_sigma(rng):
    P = jl_matrix(64, 64, seed=1)
    spec = resolve_projection(AtisConfig())
    assert spec.shift == auto_shift(P, 6)
    spread = 3 * 32 * np.sqrt((P ** 2).sum(axis=1)).max()
    assert spread <= 32 * 2 ** spec.shift and spread > 32 * 2 ** (spec.shift - 1)
    x = rng.normal(0, 32, size=(20000, 64)).round().clip(-128, 127)
    codes = projection_codes(x, spec)
    assert np.mean((codes == 0) | (codes == 63)) < 0.0027     # beyond 3σ of the worst row at most
    assert codes.std() > 63 / 16, "the codes should use a good part of the DAC range"


def test_project_rejects_non_int8_tokens():
    with pytest.raises(ValueError, match="int8"):
        project(np.array([[200, 0]]), np.ones((1, 2), dtype=np.int64))
