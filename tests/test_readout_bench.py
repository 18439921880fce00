"""Issue 18 under Verilator: the scorer with a SAR readout and a per-sequence selection, the FPAA model on its pins
(``cocotb_tests/test_readout.py``), and a selector that keeps one token too many must be caught."""
from __future__ import annotations

import pytest

from atis.cocotb_tests.runner import Bench, run_bench
from atis.config import merge

pytestmark = pytest.mark.cocotb

#: d = m = 16 tokens of 16-token sequences keep these quick (2 AD5628 rounds, SCLK = clk/2).
SMALL = {"model": {"d_model": 16, "seq_len": 16}, "projection": {"m": 16}, "dac": {"sclk_divider": 2},
         "transformer": {"weights": None}}
SAR_TOPK = merge(SMALL, {"fpaa": {"readout": {"mode": "sar", "bits": 4}},
                         "fpga": {"selection": {"mode": "topk", "keep": 0.25}}})


def _failed(result) -> str:
    return f"{result.error or result.causes}; log: {result.log}"


def test_sar_topk_codes_and_kept_sets_equal_model_and_golden(tmp_path):
    result = run_bench(Bench("readout-ad5628-sar4-topk", "scorer", "atis.cocotb_tests.test_readout", SAR_TOPK),
                       work_dir=tmp_path, tokens=48)
    assert result.passed, _failed(result)
    m = result.metrics["readout"]
    assert m["sequences"] == 3 and m["readout_mismatches"] == 0 and m["selection_mismatches"] == 0
    assert m["decisions_per_token"] == 4 and m["trial_mismatches"] == 0
    assert m["keep_fractions"] == [0.25] * 3                         # k = 4 of every 16
    assert m["cycles_per_token"] == m["model_cycles_per_token"]       # (16 + 4) frames: the SPI bus is the limit


def test_bench_catches_a_selector_that_keeps_one_more(tmp_path):
    """The RTL's selector built for k + 1 (5 of 16) while the golden side keeps 4: the bench must fail, on the
    selection alone. This run uses the parallel bus and its own θ DAC pins (3-bit SAR), whose codes must still
    equal the model's."""
    config = merge(SAR_TOPK, {"dac": {"part": "parallel"}, "fpaa": {"readout": {"bits": 3}}})
    mutant = Bench("readout-mutant", "scorer", "atis.cocotb_tests.test_readout", config,
                   rtl_overrides={"fpga": {"selection": {"keep": 5 / 16}}})
    result = run_bench(mutant, work_dir=tmp_path, tokens=32)
    assert result.error is None, result.error
    assert "test_codes_and_kept_sets_equal_the_model" in result.failed_tests
    assert "selection_mismatches" in result.causes["test_codes_and_kept_sets_equal_the_model"]
    m = result.metrics["readout"]
    assert m["readout_mismatches"] == m["trial_mismatches"] == m["theta_schedule_mismatches"] == 0
    assert m["selection_mismatches"] == 2 and m["keep_fractions"] == [5 / 16] * 2
