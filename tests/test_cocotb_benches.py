"""One pytest test per cocotb bench × parameter set (Verilator), plus a mutant that must be caught."""
from __future__ import annotations

import pytest

from atis.cocotb_tests.runner import BENCHES, Bench, run_bench
from atis.config import bundled_config, load_config

pytestmark = pytest.mark.cocotb


def _report(result) -> str:
    lines = [f"{result.name}: {result.error or 'failed tests: ' + ', '.join(result.failed_tests)}",
             f"log: {result.log}"]
    if result.waveform:
        lines.append(f"waveform: {result.waveform}")
    return "\n".join(lines)


# The two longest benches come first, so pytest-xdist starts them early.

@pytest.mark.parametrize("name", ["transformer", "transformer-sequenced"])
def test_transformer_logits_bit_exact_and_attention_cycles_scale_with_kept(name):
    """Random models × masks × both semantics bit-exact; same tokens dense vs gated (16 tokens, 4 kept). Both
    engines: the pipelined one and the one-MAC sequenced one of the board builds."""
    (bench,) = [b for b in BENCHES if b.name == name]
    result = run_bench(bench, extra_env={"ATIS_BENCH_MODELS": "2", "ATIS_BENCH_N": "16", "ATIS_BENCH_KEEP": "0.25"})
    assert result.passed, _report(result)
    assert result.metrics["transformer"]["sequences"] == 2 * 15 * 2
    assert result.metrics["transformer"]["logit_mismatches"] == 0
    assert result.metrics["attention"]["logit_mismatches"] == 0
    (att,) = result.metrics["attention"]["runs"]
    assert att["kept"] == 4
    # k² scaling: 2 blocks × 2 heads of dh = 8 over 3 lanes, ≈ n_q·(n_k·(⌈8/3⌉ + 2) + ≈20) per head; sequenced:
    # ≈ k·(2·k·dh + 3k + 70) per head
    assert att["cycle_reduction"] > 8, att


@pytest.mark.parametrize("dac", ["spi", "parallel"])
def test_digits_through_scorer_fpaa_and_transformer_rtl(dac):
    """The 100 test images of `atis bench digits` through scorer RTL + FPAA BFM -> transformer RTL, on the
    AD5628 (6,400 tokens over SPI) and on the parallel bus; every keep bit and every class == golden.
    About 35 s and 25 s on a quiet machine."""
    from atis.cocotb_tests.runner import pipeline_bench
    from atis.sweep import hardware_scorer
    images = 100
    result = run_bench(pipeline_bench(hardware_scorer(0.3), dac), load_config(bundled_config("icebreaker")),
                       extra_env={"ATIS_BENCH_IMAGES": str(images)})
    assert result.passed, _report(result)
    figures = result.metrics["pipeline"]
    assert figures["images"] == images and figures["mask_mismatches"] == 0 and figures["logit_mismatches"] == 0
    assert 0.2 < figures["keep_mean"] < 0.4 and figures["rtl_accuracy"] > 0.8


PROJECTION = [b for b in BENCHES if b.block == "projection"]
SCORER = [b for b in BENCHES if b.block == "scorer"]


@pytest.mark.parametrize("bench", PROJECTION, ids=[b.name for b in PROJECTION])
def test_bench_passes(bench):
    result = run_bench(bench, tokens=1000)
    assert result.passed, _report(result)   # names the log and, for a failing bench, the kept waveform
    golden = result.metrics["golden_random"]
    assert golden["tokens_checked"] >= 1000
    thr = result.metrics["throughput"]
    assert thr["cycles_per_token"] == thr["model_cycles_per_token"]


def test_bench_catches_rtl_that_disagrees_with_golden(tmp_path):
    """RTL generated with another JL seed than the golden model uses: the bench must fail and keep a waveform."""
    mutant = Bench("projection-mutant", "projection", "atis.cocotb_tests.test_projection",
                   {"projection": {"kind": "jl", "seed": 1}}, rtl_overrides={"projection": {"seed": 2}})
    result = run_bench(mutant, work_dir=tmp_path, tokens=20)
    assert result.error is None, result.error
    assert result.tests > 0 and result.failures > 0
    assert "test_matches_golden_under_gaps_and_backpressure" in result.failed_tests
    assert "test_flags_bad_framing" not in result.failed_tests   # framing does not depend on the matrix
    assert result.waveform is not None and result.waveform.stat().st_size > 0


#: Tokens compared per scorer bench. SPI: 1400 here + the virtual board's 768 (tests/test_virtual_board.py, the
#: same AD5628 monitor and FPAA BFM) = 2168 co-simulated over SPI; parallel 2000; the 3-comparator vote 200.
SCORER_TOKENS = {"scorer-spi": 1400, "scorer-parallel": 2000, "scorer-heads": 200}


@pytest.mark.parametrize("bench", SCORER, ids=[b.name for b in SCORER])
def test_scorer_cosim_matches_the_vectorized_fpaa_model(bench):
    """Tokens through RTL + DAC monitor + FPAA BFM: keep mask == vectorized model, nothing lost."""
    tokens = SCORER_TOKENS[bench.name]
    result = run_bench(bench, tokens=tokens)
    assert result.passed, _report(result)
    scorer = result.metrics["scorer"]
    assert scorer["tokens"] == tokens and scorer["mask_mismatches"] == 0 and scorer["capture_mismatches"] == 0
    assert 0.2 < scorer["keep_ratio"] < 0.4                  # the threshold trim works on the real input chain
    assert scorer["cycles_per_token"] == scorer["model_cycles_per_token"]
    if scorer["part"] == "ad5628":
        assert scorer["spi_utilization"] >= 0.95


def test_scorer_bench_catches_rtl_with_another_settle_time(tmp_path):
    """RTL that evaluates after 200 ns instead of the configured 500 ns: the co-sim must notice."""
    mutant = Bench("scorer-mutant", "scorer", "atis.cocotb_tests.test_scorer",
                   {"model": {"d_model": 16}, "projection": {"m": 16}, "dac": {"sclk_divider": 2},
                    "transformer": {"weights": None}},
                   rtl_overrides={"dac": {"settle_ns": 200.0}})
    result = run_bench(mutant, work_dir=tmp_path, tokens=30)
    assert result.error is None, result.error
    assert "test_keep_mask_equals_vectorized_model" in result.failed_tests
    assert "test_backpressure_loses_nothing" not in result.failed_tests    # data flow does not depend on it
    assert result.waveform is not None and result.waveform.stat().st_size > 0

