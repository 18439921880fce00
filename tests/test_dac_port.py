"""The AD5628 port under Verilator with the AD5628 monitor on its pins (bench: ``atis.cocotb_tests.test_dac_port``):
the design's port meets every data-sheet timing minimum at 100 MHz, SCLK = clk/2, and mutant ports with a short
SYNC setup (t4) or a short SYNC high time (t8) make the monitor fail, naming the parameter and both times."""
from __future__ import annotations

import json

import pytest

from atis.cocotb_tests import test_dac_port as bench
from atis.cocotb_tests.selftest import SmallDesign, build_small_design

__all__: list[str] = []   # a pytest module: nothing to import

pytestmark = pytest.mark.cocotb

#: What the monitor must report for each mutant (and nothing else).
MUTANT_ERRORS = {"setup_t4": "t4 (SYNC to SCLK falling edge setup time): 10 ns measured, minimum 13 ns",
                 "high_t8": "t8 (minimum SYNC high time): 10 ns measured, minimum 15 ns"}


@pytest.fixture(scope="module")
def design(tmp_path_factory) -> SmallDesign:
    return build_small_design(bench.PortsUnderTest(), bench.TOPLEVEL, bench.__name__,
                              tmp_path_factory.mktemp("dac_port"))


@pytest.mark.parametrize("port", list(bench.PORTS))
def test_port_timing_is_checked_on_every_frame(design: SmallDesign, port: str) -> None:
    case = f"test_back_to_back_writes_meet_the_part_timing/port={port}"
    tests, failed, log = design.run(case)
    assert tests == 1, f"{case}: no result; see {log}"
    metrics = json.loads((design.where / "metrics.json").read_text())[f"port_{port}"]
    if port == "design":
        assert not failed and metrics["protocol_errors"] == 0, f"{case} failed: {metrics}; see {log}"
        assert metrics["frames"] == 25
    else:
        assert failed, f"mutant {port} passed; see {log}"
        assert metrics["first_errors"] == [MUTANT_ERRORS[port]], metrics
        assert metrics["protocol_errors"] >= 24          # every frame after the reference frame
