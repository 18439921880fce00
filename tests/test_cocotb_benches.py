"""One pytest test per cocotb bench × parameter set (Verilator), plus a mutant that must be caught."""
from __future__ import annotations

import pytest

from cocotb_tests.runner import BENCHES, Bench, run_bench

pytestmark = pytest.mark.cocotb


def _report(result) -> str:
    lines = [f"{result.name}: {result.error or 'failed tests: ' + ', '.join(result.failed_tests)}",
             f"log: {result.log}"]
    if result.waveform:
        lines.append(f"waveform: {result.waveform}")
    return "\n".join(lines)


@pytest.mark.parametrize("bench", BENCHES, ids=[b.name for b in BENCHES])
def test_bench_passes(bench):
    result = run_bench(bench, tokens=1000)
    assert result.passed, _report(result)   # names the log and, for a failing bench, the kept waveform
    golden = result.metrics["golden_random"]
    assert golden["tokens_checked"] >= 1000
    thr = result.metrics["throughput"]
    assert thr["cycles_per_token"] == thr["model_cycles_per_token"]


def test_bench_catches_rtl_that_disagrees_with_golden(tmp_path):
    """RTL generated with another JL seed than the golden model uses: the bench must fail and keep a waveform."""
    mutant = Bench("projection-mutant", "projection", "cocotb_tests.test_projection",
                   {"projection": {"kind": "jl", "seed": 1}}, rtl_overrides={"projection": {"seed": 2}})
    result = run_bench(mutant, work_dir=tmp_path, tokens=20)
    assert result.error is None, result.error
    assert result.tests > 0 and result.failures > 0
    assert "test_matches_golden_under_gaps_and_backpressure" in result.failed_tests
    assert "test_flags_bad_framing" not in result.failed_tests   # framing does not depend on the matrix
    assert result.waveform is not None and result.waveform.stat().st_size > 0
