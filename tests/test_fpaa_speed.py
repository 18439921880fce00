"""The FPAA model's input tables (analog_models.tables) against the model as it was before them, frozen below.

Same seeds, same calls: keep bits, comparator outputs and θ identical; scores within 1e-12 V, and bit-identical
where the tables are exact (the DAC settles within a period, one circuit per array). Speed: benchmarks/.
"""
from __future__ import annotations

import numpy as np
import pytest
from scipy.signal import lfilter

from atis.analog_models import FpaaModel
from atis.analog_models.fidelity import gaussian_codes
from atis.analog_models.scoring import scorer_model
from atis.analog_models.tables import BLOCK_TOKENS, TOLERANCE_V
from atis.config import bundled_config, config_from_dict, load_config

# -- the model before the input tables (its vectorized chain, verbatim in arithmetic) -------------------------


def _ref_hysteresis(v, falling, rising, state):
    decided = np.where(v > rising, 1, np.where(v < falling, 0, -1))
    index = np.where(decided >= 0, np.arange(len(v))[:, None], -1)
    last = np.maximum.accumulate(index, axis=0) if len(v) else index
    verdict = np.take_along_axis(decided, np.maximum(last, 0), axis=0) == 1
    return np.where(last >= 0, verdict, state[None, :])


def _ref_comparators(bank, v):
    cfg = bank.cfg
    if cfg.threshold != "adaptive":
        falling, rising = bank.thresholds(bank.theta)
        fired = _ref_hysteresis(v, falling, rising, bank.output)
        if len(v):
            bank.output = fired[-1].copy()
        return fired, np.broadcast_to(bank.theta, v.shape)
    alpha = 1.0 - float(np.exp(-1.0 / cfg.activity_tau_tokens))
    fired, seen = np.empty(v.shape, dtype=bool), np.empty(v.shape)
    for g in range(v.shape[1]):
        out, theta, act = bool(bank.output[g]), float(bank.theta[g]), float(bank.activity[g])
        offset, frac = float(bank.offset[g]), 0.5 * cfg.hysteresis_frac
        target, rate = cfg.keep_target, cfg.adapt_rate_V
        col_fired, col_theta = [], []
        for x in v[:, g].tolist():
            half = frac * abs(theta)
            out = x >= theta + offset - half if out else x > theta + offset + half
            col_fired.append(out)
            col_theta.append(theta)
            act += alpha * (out - act)
            theta += rate * (act - target)
        fired[:, g], seen[:, g] = col_fired, col_theta
        bank.output[g], bank.theta[g], bank.activity[g] = out, theta, act
    return fired, seen


def _ref_currents(ota, v_in, weights, temp_C):
    scale, v_l = ota.bias(temp_C), ota.linear_range(temp_C)
    out = np.empty((v_in.shape[0], len(ota.array_of)))
    for a in np.unique(ota.array_of):
        circuits = np.flatnonzero(ota.array_of == a)
        x = np.tanh((v_in - ota.offset[a]) / v_l)
        if weights.ndim == 2:
            out[:, circuits] = x @ (weights[circuits] * ota.gain[a]).T
        else:
            out[:, circuits] = np.einsum("nm,ngm->ng", x, weights[:, circuits] * ota.gain[a])
    return out * scale


def reference_score(model: FpaaModel, codes: np.ndarray, queries: np.ndarray | None = None):
    """(score, keep, fired, theta) of ``codes`` by the pre-table chain, on ``model``'s state and noise stream."""
    cfg, f = model.cfg, model.cfg.fpaa
    parts = []
    for start in range(0, max(len(codes), 1), 1 << 15):
        c = codes[start:start + (1 << 15)]
        targets = model.dac.table[np.arange(model.m), c]
        a = float(model.dac.decay(model.period_ns))
        if len(c):
            after, _ = lfilter([1.0 - a], [1.0, -a], targets, axis=0, zi=(a * model._dac_state)[None])
            pre = np.concatenate([model._dac_state[None], after[:-1]], axis=0)
            model._dac_state = after[-1]
        else:
            pre = targets
        volts = targets + (pre - targets) * model.dac.decay(model.write_ages_ns)
        weights = model._weights_for(None if queries is None else queries[start:start + (1 << 15)], len(c))
        noise = model._noise.standard_normal((len(c), model.weights.shape[0]))
        current = _ref_currents(model.ota, f.ota.input_gain * (volts - cfg.dac.v_ref), weights, model.temperature_C)
        current += noise * model.ota.noise_sigma(weights, model.temperature_C, f.token_rate_MHz * 1e6)
        v = f.tia.v_mid + f.tia.gain_Mohm * 1e6 * model.tia_gain_trim * current
        circuits = np.clip(v, f.tia.rail_low, f.tia.rail_high) - f.tia.v_mid
        fired, theta = _ref_comparators(model.comparators, circuits)
        parts.append((circuits.mean(axis=1), fired.sum(axis=1) >= f.heads.consensus_k, fired, np.array(theta)))
    return tuple(np.concatenate(p) for p in zip(*parts))


# -- the comparisons ---------------------------------------------------------------------------------------


def codes_for(model: FpaaModel, n: int, seed: int) -> np.ndarray:
    x = np.random.default_rng(seed).standard_normal((n, model.m))
    return gaussian_codes(x, model.dac.bits).astype(np.uint8)


def assert_same(model: FpaaModel, result, ref, exact: bool) -> float:
    score, keep, fired, theta = ref
    assert np.array_equal(result.keep, keep), f"{int(np.sum(result.keep != keep))} keep bits differ"
    assert np.array_equal(result.fired, fired) and np.array_equal(result.theta, theta)
    diff = float(np.max(np.abs(result.score - score), initial=0.0))
    assert diff <= (0.0 if exact else TOLERANCE_V), diff
    return diff


CASES = {
    "default": ({}, None),
    "seed-3": ({"fpaa": {"seed": 3}}, None),
    "seed-11-fixed": ({"fpaa": {"seed": 11, "comparator": {"threshold": "fixed"}}}, None),
    "adaptive": ({"fpaa": {"comparator": {"threshold": "adaptive"}}}, None),
    "noise-off": ({"fpaa": {"ota": {"noise_factor": 0.0}}}, None),
    "noise-1e4": ({"fpaa": {"ota": {"noise_factor": 1e4}}}, None),
    "icebreaker": (None, "icebreaker"),
    "ulx3s-85f": (None, "ulx3s-85f"),
    "heads-timemux": ({"fpaa": {"heads": {"count": 4, "groups": 2, "consensus_k": 2,
                                          "multiplex": "time_multiplexed"}}}, None),
    "heads-replicated": ({"fpaa": {"heads": {"count": 3, "groups": 3, "consensus_k": 2}}}, None),
    "ema": ({"fpaa": {"prototype": {"ema_tau_tokens": 20.0}}}, None),
    "ideal-dac": ({"dac": {"tau_ns": 0.0}}, None),
    "slow-dac": ({"dac": {"tau_ns": 150.0, "settle_ns": 400.0}}, None),
}


def build(case: str, scorer: bool = False) -> FpaaModel:
    overrides, bundled = CASES[case]
    cfg = load_config(bundled_config(bundled)) if bundled else config_from_dict(overrides)
    if scorer:
        return scorer_model(cfg)
    m = cfg.projection.m
    refs = gaussian_codes(np.random.default_rng(99).standard_normal((3000, m)), cfg.projection.dac_bits)
    return FpaaModel(cfg, reference_codes=refs)


@pytest.mark.parametrize("scorer", [False, True], ids=["1MHz-tokens", "scorer-schedule"])
@pytest.mark.parametrize("case", CASES)
def test_tables_keep_todays_keep_bits(case, scorer):
    """A stream in uneven calls (1 token, a block + 1, ...), then a +10 °C step with a gain re-trim, then −15 °C."""
    model, ref = build(case, scorer), build(case, scorer)
    codes = codes_for(model, 4000, seed=len(case))
    queries = (np.random.default_rng(5).standard_normal((4000, model.cfg.fpaa.heads.count * model.m))
               if case == "ema" else None)
    table = model._input_table(codes)
    assert (table is None) == (case == "slow-dac" and not scorer)      # the slow DAC's table would be off
    # exact: the DAC settles within the period (the scorer's schedule, an ideal DAC), one circuit per array
    exact = (table is None or table.a == 0.0) and case != "heads-timemux"
    cuts = [0, 1, 2, BLOCK_TOKENS + 3, 2 * BLOCK_TOKENS + 4, 2800, 3400, 4000]
    for i, (lo, hi) in enumerate(zip(cuts, cuts[1:])):
        if i == 5:
            for m in (model, ref):
                m.temperature_C += 10.0
                m.recalibrate("gain")
        if i == 6:
            model.temperature_C = ref.temperature_C = model.cfg.fpaa.temperature_C - 15.0
        q = None if queries is None else queries[lo:hi]
        assert_same(model, model.score(codes[lo:hi], queries=q), reference_score(ref, codes[lo:hi], q), exact)
    assert np.array_equal(model._dac_state, ref._dac_state) or not exact


@pytest.mark.parametrize("noise", [False, True])
def test_sequences_from_power_on_match(noise):
    """score_sequences resets before each sequence (DAC, comparators, noise unless ``noise``)."""
    model, ref = build("default"), build("default")
    codes = codes_for(model, 4000, seed=21)
    lengths = [1, 2, 129, BLOCK_TOKENS + 1, 700, 1]
    sequences = np.split(codes[:sum(lengths)], np.cumsum(lengths)[:-1])
    got = model.score_sequences(sequences, noise=noise)
    for seq, result in zip(sequences, got):
        ref.reset(noise=noise)
        assert_same(model, result, reference_score(ref, seq), exact=False)


def test_chunks_and_the_error_bound():
    """Past one internal chunk (32768 tokens); the measured score error stays under the table's own bound."""
    model, ref = build("default"), build("default")
    codes = codes_for(model, 33_000, seed=4)
    table = model._input_table(codes)
    f = model.cfg.fpaa
    gain = np.abs(model.ota.gain[model.ota.array_of])
    bound = table.error_bound_V(f.ota.input_gain / model.ota.linear_range(model.temperature_C),
                                np.abs(model.weights) * gain,
                                model.ota.bias(model.temperature_C) * f.tia.gain_Mohm * 1e6)
    assert 0.0 < table.a < 1e-8 and 0.0 < bound <= TOLERANCE_V
    diff = assert_same(model, model.score(codes), reference_score(ref, codes), exact=False)
    assert diff <= bound + 1e-15, (diff, bound)     # + rounding: the reference itself rounds differently


def test_direct_path_is_todays_chain_bit_for_bit():
    """use_tables = False (the benchmark's "before") is the settling recurrence, bit-identical to the reference."""
    model, ref = build("adaptive"), build("adaptive")
    model.use_tables = False
    codes = codes_for(model, 3000, seed=8)
    assert_same(model, model.score(codes), reference_score(ref, codes), exact=True)


@pytest.mark.parametrize("scorer", [False, True], ids=["1MHz-tokens", "scorer-schedule"])
def test_pins_agree_with_the_tables(scorer):
    """The co-simulation view (per-token DAC writes on the model's schedule) against the table path."""
    vec, tok = build("default", scorer), build("default", scorer)
    codes = codes_for(vec, 300, seed=13)
    assert vec._input_table(codes) is not None
    ages = np.asarray(vec.write_ages_ns, dtype=float)
    write_at = ages.max() - ages                  # every input written once per period, evaluated together
    expected = vec.score(codes)
    pins, keep, score = tok.pins(), [], []
    for row in codes:
        t0 = pins.now_ns
        for j in np.argsort(write_at, kind="stable"):
            pins.advance(t0 + write_at[j] - pins.now_ns)
            pins.apply(int(j), int(row[j]))
        pins.advance(t0 + ages.max() - pins.now_ns)
        result = pins.evaluate()
        keep.append(bool(result.keep[0]))
        score.append(result.score[0])
        pins.advance(t0 + vec.period_ns - pins.now_ns)
    assert np.array_equal(expected.keep, keep)
    np.testing.assert_allclose(expected.score, score, rtol=0, atol=TOLERANCE_V)
    assert 0 < expected.keep.mean() < 1
