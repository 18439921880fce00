"""DAC model (transfer, left alignment, INL, rails, settling) and the prototype sources."""
from __future__ import annotations

import numpy as np
import pytest

from atis.analog_models.dac import DacModel
from atis.config import ConfigError, config_from_dict
from atis.golden.prototype import group_weights, least_squares_prototype, load_prototypes, mean_query

IDEAL = {"offset_mV": 0.0, "gain_error": 0.0, "dnl_sigma_lsb": 0.0, "inl_lsb": 0.0}


def dac(bits: int = 6, m: int = 16, **fields) -> DacModel:
    cfg = config_from_dict({"dac": fields, "projection": {"dac_bits": bits, "m": m}})
    return DacModel(cfg.dac, bits, m, np.random.default_rng(0))


def test_ideal_dac_is_linear_and_left_aligned():
    six = dac(**IDEAL).table[0]
    twelve = dac(part_bits=12, **IDEAL).table[0]
    np.testing.assert_allclose(six, 2.5 * np.arange(64) / 64)
    np.testing.assert_allclose(twelve, six)        # a 6-bit code in the top bits of a 12-bit part: same volts
    assert six[32] == pytest.approx(1.25)          # mid code = the OTA reference = zero


def test_inl_is_endpoint_corrected_and_errors_are_seeded():
    model = dac(part_bits=12)
    assert np.allclose(model.inl_lsb[:, [0, -1]], 0.0)
    assert 1.0 < np.abs(model.inl_lsb).max() < 1.5                      # 1 LSB peak curve + small jitter
    dnl = np.diff(model.inl_lsb, axis=1)
    assert np.std(dnl) == pytest.approx(0.1, rel=0.1)
    again = dac(part_bits=12)
    np.testing.assert_array_equal(model.table, again.table)
    assert not np.array_equal(model.table[0], model.table[1])           # channels differ (mismatch)
    np.testing.assert_array_equal(model.table[0], model.table[8])       # input 8 reuses physical channel 0


def test_outputs_saturate_at_the_rails():
    model = dac(offset_mV=300.0, rail_low=0.1, rail_high=2.4)
    assert model.table.min() >= 0.1 and model.table.max() <= 2.4
    assert np.isclose(model.table, 0.1).any() or np.isclose(model.table, 2.4).any()


def test_settling_is_first_order():
    model = dac(tau_ns=100.0, **IDEAL)
    targets = model.static_voltages(np.array([[63] * 16, [0] * 16]))
    before = model.midscale
    v, last = model.settle_periodic(targets, before, period_ns=1000.0, age_ns=np.full(16, 100.0))
    step = targets[0, 0] - before[0]
    assert v[0, 0] == pytest.approx(targets[0, 0] - step * np.exp(-1.0))
    at_second_write = targets[0, 0] + (before[0] - targets[0, 0]) * np.exp(-10.0)
    assert v[1, 0] == pytest.approx(targets[1, 0] + (at_second_write - targets[1, 0]) * np.exp(-1.0))
    assert last[0] == pytest.approx(targets[1, 0] + (at_second_write - targets[1, 0]) * np.exp(-10.0))


def test_least_squares_prototype_recovers_a_planted_query(rng):
    keys = rng.standard_normal((4000, 16))
    q = rng.standard_normal((2, 16))
    attention = keys @ q.T + 0.01 * rng.standard_normal((4000, 2))
    np.testing.assert_allclose(least_squares_prototype(keys, attention), q, atol=0.01)
    np.testing.assert_allclose(mean_query(np.stack([q[0], q[1]])), q.mean(axis=0, keepdims=True))


def test_groups_average_heads_and_normalize():
    w = group_weights(np.array([[1.0, -2.0], [3.0, 0.0], [0.0, 0.0], [0.0, 0.0]]), 2)
    np.testing.assert_allclose(w, [[1.0, -0.5], [0.0, 0.0]])


def test_prototype_files_are_checked(tmp_path):
    path = tmp_path / "proto.npz"
    np.savez(path, queries=np.ones((10, 8)))
    cfg = config_from_dict({"fpaa": {"prototype": {"source": "mean", "file": str(path)}},
                            "projection": {"m": 8}})
    np.testing.assert_allclose(load_prototypes(cfg.fpaa.prototype, 8, 1), np.ones((1, 8)))
    with pytest.raises(ConfigError, match="expected \\[fpaa.heads.count, projection.m\\] = \\[1, 16\\]"):
        load_prototypes(cfg.fpaa.prototype, 16, 1)
    with pytest.raises(ConfigError, match="no array named 'keys'"):      # checked when the config loads
        config_from_dict({"fpaa": {"prototype": {"source": "lsq", "file": str(path)}}})
