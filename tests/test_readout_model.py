"""Issue 18's golden readout and selection, the SAR readout model (vectorized and pin-level), its config rules and
its cost model; the digits budget runs."""
from __future__ import annotations

import numpy as np
import pytest

from atis.analog_models.readout import SarReadout, expected_readout
from atis.analog_models.readout_cost import decisions_per_token, readout_cost
from atis.analog_models.scoring import scorer_model
from atis.config import ConfigError, load_config, merge, with_overrides
from atis.golden.readout import ideal_codes, resolve_readout, sar_code, sar_trials
from atis.golden.reference import random_tokens
from atis.golden.selection import SelectionSpec, select, select_stream
from atis.golden.sequencer import resolve_sequencer

SAR = {"fpaa": {"readout": {"mode": "sar", "bits": 4}}}
#: An ideal chain: no DAC errors, no settling, no comparator offset, band or noise.
IDEAL = {"dac": {"offset_mV": 0.0, "gain_error": 0.0, "dnl_sigma_lsb": 0.0, "inl_lsb": 0.0, "tau_ns": 0.0},
         "fpaa": {"comparator": {"offset_mV": 0.0, "hysteresis_frac": 0.0}, "readout": {"noise_mV": 0.0}}}


def test_sar_code_is_the_ideal_quantizer_and_trials_follow_from_the_code(rng):
    scores = rng.uniform(-3, 20, size=500)
    for bits in (1, 3, 4, 6):
        codes = [sar_code(lambda t, s=s: s > t, bits) for s in scores]
        assert codes == ideal_codes(scores, 0.0, 1.0, bits).tolist()
        for s, c in zip(scores[:50], codes):
            seen: list[int] = []
            sar_code(lambda t, s=s, seen=seen: seen.append(t) or s > t, bits)
            assert seen == sar_trials(c, bits)


def test_selection_keeps_k_best_ties_by_position_and_caps():
    codes = np.array([3, 5, 5, 1, 5, 7, 0, 5])
    assert select(codes, SelectionSpec("topk", 8, 3, 0.5)).tolist() == [0, 1, 1, 0, 1, 1, 0, 0]   # k = 4
    assert select(codes, SelectionSpec("threshold", 8, 3, 0.5)).tolist() == (codes >= 4).tolist()
    # cap: 5 at or above θ (code 4), at most round(0.4·8) = 3 -> the 7 and the first two 5s
    assert select(codes, SelectionSpec("cap", 8, 3, 0.3, 0.0, 0.4)).tolist() == [0, 1, 1, 0, 0, 1, 0, 0]
    # cap floor: none above θ, at least round(0.25·8) = 2 -> the two best
    low = np.array([1, 3, 0, 3, 2, 1, 3, 0])
    assert select(low, SelectionSpec("cap", 8, 3, 0.3, 0.25, 0.5)).tolist() == [0, 1, 0, 1, 0, 0, 0, 0]
    assert len(select_stream(np.arange(20), SelectionSpec("topk", 8, 5, 0.5))) == 16     # whole sequences only


def test_default_config_is_unchanged_and_sar_reserves_the_last_ad5628_channel():
    cfg = load_config()
    seq = resolve_sequencer(cfg)
    assert seq.readout is None and seq.selection is None and seq.n_dac == 8
    sar = resolve_sequencer(with_overrides(cfg, SAR))
    assert sar.n_dac == 7 and sar.readout.theta_channel == 7 and sar.rounds == 10
    assert sar.token_cycles() == (64 + 4) * seq.write_cycles
    parallel = resolve_sequencer(with_overrides(cfg, {**SAR, "dac": {"part": "parallel"}}))
    assert parallel.n_dac == 8 and parallel.readout.theta_channel is None and parallel.readout.part_bits == 4


@pytest.mark.parametrize("overrides,message", [
    ({"fpaa": {"readout": {"mode": "sar"}, "heads": {"count": 2, "groups": 2}}}, "fpaa.heads.groups = 2"),
    ({"fpaa": {"readout": {"mode": "sar"}, "comparator": {"threshold": "adaptive"}}}, "threshold = adaptive"),
    ({"fpga": {"selection": {"mode": "cap", "keep_min": 0.5, "keep_max": 0.4}}}, "fpga.selection.keep_min = 0.5"),
    ({"fpga": {"selection": {"mode": "topk"}, "scorer": "digital"}}, "needs fpga.scorer = fpaa"),
    ({"fpaa": {"readout": {"mode": "sar"}}, "dac": {"n_channels": 1}}, "dac.n_channels = 1"),
    ({"fpaa": {"readout": {"bits": 9}}}, "fpaa.readout.bits = 9"),
])
def test_bad_readout_configs_name_the_key(overrides, message):
    with pytest.raises(ConfigError, match=message):
        with_overrides(load_config(), overrides)


def test_ideal_sar_readout_quantizes_and_its_msb_is_the_comparator(rng):
    cfg = with_overrides(load_config(), merge(IDEAL, SAR))
    model = scorer_model(cfg)
    result = model.score(rng.integers(0, 64, size=(400, 64)))
    readout = SarReadout(model)
    codes = readout.codes(result.score)
    assert codes.tolist() == ideal_codes(result.score, readout.theta_lo, readout.lsb_V, 4).tolist()
    assert ((codes >= 8) == result.keep).all()


def test_pin_level_readout_equals_the_vectorized_one(rng):
    cfg = with_overrides(load_config(), SAR)           # INL, settling, offset, band and noise all on
    spec = resolve_readout(cfg)
    scores = scorer_model(cfg).score(rng.integers(0, 64, size=(300, 64))).score
    want = SarReadout(scorer_model(cfg), spec).codes(scores)
    pins, t, got = SarReadout(scorer_model(cfg), spec).pins(), 0.0, []
    for s in scores:
        code = 0
        for i in reversed(range(4)):
            t += 1234.0                                  # the θ write waits for whatever the bus does
            pins.theta_write(code | 1 << i, t)
            t += spec.settle_cycles * spec.clock_ns
            code |= pins.decide(float(s), t) << i
        got.append(code)
    assert got == want.tolist()


def test_expected_readout_keeps_exactly_k_per_sequence():
    cfg = with_overrides(load_config(), {**SAR, "model": {"seq_len": 32}, "fpga": {"selection": {"mode": "topk"}}})
    out = expected_readout(cfg, random_tokens(cfg, 96, 3))
    assert out.keep.reshape(3, 32).sum(axis=1).tolist() == [10, 10, 10]
    assert out.codes.max() < 16 and len(set(out.codes.tolist())) > 4


def test_readout_costs():
    cfg = load_config()
    codes = np.array([0, 3, 7, 15, 8, 4])
    assert decisions_per_token("ramp", 4, codes) == np.mean([1, 4, 8, 15, 9, 5])
    assert decisions_per_token("coarse", 4, codes) == 2 + 2 * 3 / 6          # 7, 8, 4 lie next to θ
    sar = readout_cost(cfg, "sar", 4)
    base = readout_cost(cfg, "comparator", 1)
    assert sar["decisions"] == 4 and sar["theta_pJ"] == 16 and sar["pJ"] == base["pJ"] + 16
    assert sar["cycles_ad5628"] == (64 + 4) * 132 and base["cycles_ad5628"] == 64 * 132


def test_digits_budget_modes():
    from atis.digits import PIXELS
    from atis.sweep import sweep_data
    from atis.sweep_budget import budget_run
    cfg = load_config()
    data = sweep_data(cfg)
    topk = budget_run(data, cfg, 0.3, 4, "topk")
    assert (topk.masks.sum(axis=1) == round(0.3 * PIXELS)).all() and topk.codes.max() < 16
    comparator = budget_run(data, cfg, 0.3, None, "threshold")
    thr = budget_run(data, cfg, 0.3, 4, "threshold")
    assert np.mean(thr.masks == comparator.masks) > 0.98        # the MSB decides at θ (other wiring and noise)
    assert comparator.masks.sum(axis=1).std() > 1                # a global θ does not keep a budget
