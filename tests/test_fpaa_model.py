"""Behavioral FPAA model: seed figures (§3.4, §4.1, §5.3), threshold modes, calibration, and vectorized == per-token."""
from __future__ import annotations

import numpy as np
import pytest

from atis.analog_models import FpaaModel
from atis.analog_models.comparator import ComparatorBank, hysteresis
from atis.analog_models.fidelity import fidelity, gaussian_codes
from atis.config import config_from_dict

KEEP = 0.3


def make(overrides: dict | None = None, **kw) -> FpaaModel:
    return FpaaModel(config_from_dict(overrides or {}), **kw)


def tokens(n: int, seed: int = 0, m: int = 64, drift: np.ndarray | None = None) -> np.ndarray:
    x = np.random.default_rng(seed).standard_normal((n, m))
    return gaussian_codes(x if drift is None else x + drift, 6)


def test_gm_shifts_30_to_40_percent_for_10C():
    """Measured as the small-signal slope of one ideal OTA's current, not read back from the law."""
    model = make({"fpaa": {"ota": {"gain_mismatch": 0.0, "offset_mV": 0.0}, "comparator": {"threshold": "fixed"}}})
    w = np.zeros((1, 64))
    w[0, 0] = 1.0
    dv = np.zeros((2, 64))
    dv[:, 0] = [-1e-5, 1e-5]

    def slope(temp):
        i = model.ota.currents(dv, w, temp)[:, 0]
        return (i[1] - i[0]) / 2e-5

    ratio = slope(37.0) / slope(27.0)
    assert 1.30 <= ratio <= 1.40, ratio
    assert slope(27.0) == pytest.approx(model.ota.transconductance(27.0), rel=1e-6)
    assert slope(27.0) == pytest.approx(100e-9 / (2 * 1.5 * 0.025865), rel=1e-3)   # I_b / (2 n U_T)


@pytest.mark.parametrize("frac", [0.05, 0.10])
def test_hysteresis_holds_inside_the_band(frac):
    theta, half = 0.05, 0.5 * frac * 0.05
    cfg = config_from_dict({"fpaa": {"comparator": {"hysteresis_frac": frac, "offset_mV": 0.0, "theta_V": theta,
                                                    "threshold": "fixed"}}}).fpaa.comparator
    inside = [theta + 0.9 * half, theta - 0.9 * half, theta]
    v = np.array([theta + 1.1 * half, *inside, theta - 1.1 * half, *inside, theta + 1.1 * half])[:, None]
    expect = [1, 1, 1, 1, 0, 0, 0, 0, 1]
    bank = ComparatorBank(cfg, 1, np.random.default_rng(0))
    fired, _ = bank.run(v)
    assert fired[:, 0].astype(int).tolist() == expect
    assert bank.output[0]      # state kept for the next token
    # From the low state, an input inside the band must not fire (the band is frac · θ wide, centred on θ).
    assert not hysteresis(np.array([[theta + 0.9 * half]]), np.array([theta - half]), np.array([theta + half]),
                          np.array([False]))[0, 0]
    # The adaptive path (scalar loop) with a frozen θ must give the same outputs.
    adaptive = ComparatorBank(config_from_dict({"fpaa": {"comparator": {
        "hysteresis_frac": frac, "offset_mV": 0.0, "theta_V": theta, "threshold": "adaptive",
        "adapt_rate_V": 0.0}}}).fpaa.comparator, 1, np.random.default_rng(0))
    assert adaptive.run(v)[0][:, 0].astype(int).tolist() == expect


def test_adaptive_threshold_tracks_the_target_on_a_drifting_input():
    n, window = 100_000, 5000
    q_sign = np.sign(np.random.default_rng(3).standard_normal(64))        # the default random prototype's signs
    drift = np.linspace(0.0, 0.5, n)[:, None] * q_sign[None, :]             # pushes every score up over time
    codes = tokens(n, seed=1, drift=drift)
    fixed = make({"fpaa": {"comparator": {"threshold": "fixed"}}}, reference_codes=codes[:window])
    adaptive = make({"fpaa": {"comparator": {"threshold": "adaptive"}}})
    fixed_rate = fixed.score(codes).keep.reshape(-1, window).mean(axis=1)
    rates = adaptive.score(codes).keep.reshape(-1, window).mean(axis=1)
    assert fixed_rate[-1] - fixed_rate[0] > 0.3, fixed_rate        # the drift is real: a fixed θ loses the target
    assert np.all(np.abs(rates[2:] - KEEP) <= 0.02), rates


@pytest.mark.parametrize("trim", ["threshold", "gain"])
def test_calibration_restores_keep_ratio_after_10C_step(trim):
    model = make(reference_codes=tokens(5000, seed=2))
    assert abs(model.score(tokens(50_000, seed=3)).keep.mean() - KEEP) <= 0.05 * KEEP
    model.temperature_C += 10.0
    drifted = model.score(tokens(50_000, seed=4)).keep.mean()
    assert abs(drifted - KEEP) > 0.05 * KEEP, drifted                # the step alone breaks the ±5 % band
    model.recalibrate(trim)
    restored = model.score(tokens(50_000, seed=5)).keep.mean()
    assert abs(restored - KEEP) <= 0.05 * KEEP, (drifted, restored)


CO_SIM_CASES = {
    "target": {},
    "adaptive": {"fpaa": {"comparator": {"threshold": "adaptive"}}},
    "slow-dac": {"dac": {"tau_ns": 150.0, "settle_ns": 400.0}},
    "heads-timemux": {"fpaa": {"heads": {"count": 4, "groups": 2, "consensus_k": 2, "multiplex": "time_multiplexed"},
                               "ota": {"noise_factor": 1e4}}},
    "ema": {"fpaa": {"prototype": {"ema_tau_tokens": 20.0}}},
}


@pytest.mark.parametrize("case", CO_SIM_CASES)
def test_vectorized_equals_per_token_pins(case):
    """Same seed, same schedule: DAC channel j written (j mod 8)·40 ns apart (8 time-multiplexed DACs)."""
    cfg = config_from_dict(CO_SIM_CASES[case])
    codes = tokens(600, seed=6)
    queries = np.random.default_rng(7).standard_normal((600, 64)) if case == "ema" else None
    refs = tokens(2000, seed=8)
    vec, tok = FpaaModel(cfg, reference_codes=refs), FpaaModel(cfg, reference_codes=refs)
    step = 40.0
    write_at = (np.arange(64) // 8) * step              # round r of 8 channels at r·40 ns
    settle = write_at[-1] + cfg.dac.settle_ns - 7 * step
    vec.write_ages_ns = settle - write_at
    expected = vec.score(codes, queries=queries)
    pins, keep, score = tok.pins(), [], []
    for n, row in enumerate(codes):
        t0 = pins.now_ns
        for j in np.argsort(write_at, kind="stable"):
            pins.advance(t0 + write_at[j] - pins.now_ns)
            pins.apply(int(j), int(row[j]))
        pins.advance(t0 + settle - pins.now_ns)
        result = pins.evaluate(None if queries is None else queries[n])
        delay = cfg.fpaa.comparator.delay_ns
        pins.advance(delay * 0.5)
        assert pins.output == (keep[-1] if keep else False)       # the pin still shows the previous decision
        pins.advance(delay * 0.5)
        keep.append(pins.output)
        score.append(result.score[0])
        pins.advance(t0 + vec.period_ns - pins.now_ns)
    assert np.array_equal(expected.keep, keep)
    np.testing.assert_allclose(expected.score, score, rtol=0, atol=1e-12)
    assert 0 < expected.keep.mean() < 1


def test_batches_continue_where_the_last_call_stopped():
    codes = tokens(40_000, seed=9)                 # > one internal chunk
    whole = make({"dac": {"tau_ns": 150.0}}, reference_codes=codes[:2000]).score(codes)
    split = make({"dac": {"tau_ns": 150.0}}, reference_codes=codes[:2000])
    parts = [split.score(codes[:123]), split.score(codes[123:35_000]), split.score(codes[35_000:])]
    assert np.array_equal(whole.keep, np.concatenate([p.keep for p in parts]))
    # BLAS may sum in another order for another batch size: equal to rounding, and the keep bits exactly.
    np.testing.assert_allclose(whole.score, np.concatenate([p.score for p in parts]), rtol=0, atol=1e-12)


def test_consensus_is_k_of_g():
    codes = tokens(3000, seed=10)
    for k in (1, 2, 3):
        r = make({"fpaa": {"heads": {"count": 3, "groups": 3, "consensus_k": k}}}, reference_codes=codes).score(codes)
        assert np.array_equal(r.keep, r.fired.sum(axis=1) >= k)
        assert abs(r.keep.mean() - KEEP) < 0.03        # θ was trimmed for the consensus, not per comparator


def test_noise_matches_the_shot_noise_law():
    model = make({"fpaa": {"ota": {"noise_factor": 1e4}, "comparator": {"threshold": "fixed"}}})
    same = np.repeat(tokens(1, seed=11), 20_000, axis=0)
    measured = model.score(same).score.std()
    sigma_a = model.ota.noise_sigma(model.weights, 27.0, 1e6)[0]
    assert measured == pytest.approx(sigma_a * 1e6, rel=0.03)     # 1 MΩ TIA


def test_time_multiplexed_heads_share_one_array_and_pay_reprogramming():
    mux = make({"fpaa": {"heads": {"count": 4, "groups": 2, "multiplex": "time_multiplexed"}}},
               reference_codes=tokens(500))
    rep = make({"fpaa": {"heads": {"count": 4, "groups": 2}}}, reference_codes=tokens(500))
    assert mux.ota.gain.shape[0] == 1 and rep.ota.gain.shape[0] == 2
    assert mux.token_time_ns() == 2 * (1000.0 + 10_000.0) and rep.token_time_ns() == 1000.0


def test_fidelity_per_dac_width(record_property):
    result = fidelity(config_from_dict({}), n=20_000)
    for bits, r in result.items():
        record_property(f"spearman_{bits}bit", round(r["spearman"], 4))
        print(f"{bits}-bit DAC: Spearman {r['spearman']:.4f} (quantized ideal {r['spearman_quantized_ideal']:.4f})")
    assert result[6]["spearman"] >= 0.9
    assert result[3]["spearman"] < result[6]["spearman"]       # quantization is visible at 3 bits


def test_target_mode_needs_reference_tokens():
    with pytest.raises(ValueError, match="needs reference tokens"):
        make()


def test_out_of_range_codes_are_refused():
    model = make({"fpaa": {"comparator": {"threshold": "fixed"}}})
    with pytest.raises(ValueError, match="0..63"):
        model.score(np.full((2, 64), 64))
    with pytest.raises(ValueError, match=r"shape \[N, 64\]"):
        model.score(np.zeros((2, 63), dtype=int))


def test_reference_tokens_do_not_move_a_fixed_threshold():
    """threshold: fixed means θ = theta_V, even when reference tokens are given (they still set the spread)."""
    from atis.golden.reference import reference_codes
    cfg = config_from_dict({"fpaa": {"comparator": {"threshold": "fixed", "theta_V": 0.0123}}})
    model = FpaaModel(cfg, reference_codes=reference_codes(cfg))
    assert model.comparators.theta.tolist() == [0.0123]
    assert model.reference_codes is not None
