"""The UART BFMs under Verilator: UartSource -> UartSink over a wire and through the RTL UartRx -> UartTx
(bench: ``atis.cocotb_tests.test_bfm_uart``), one pytest test per cocotb test on one shared build."""
from __future__ import annotations

import pytest

from atis.cocotb_tests import test_bfm_uart as bench
from atis.cocotb_tests.selftest import SmallDesign, build_small_design

__all__: list[str] = []   # a pytest module: nothing to import

pytestmark = pytest.mark.cocotb

TESTS = ["test_bytes_round_trip_over_a_wire", "test_bytes_round_trip_through_the_rtl_uart",
         "test_sink_tolerates_a_slow_source", "test_corrupted_stop_bit_is_reported",
         "test_reset_flushes_source_and_sinks"]


@pytest.fixture(scope="module")
def design(tmp_path_factory) -> SmallDesign:
    """UartLoop (a wire, and UartRx -> UartTx at DIVISOR cycles per bit) built once."""
    return build_small_design(bench.UartLoop(bench.DIVISOR), bench.TOPLEVEL, bench.__name__,
                              tmp_path_factory.mktemp("bfm_uart"))


@pytest.mark.parametrize("testcase", TESTS)
def test_uart_bfm(design: SmallDesign, testcase: str) -> None:
    tests, failed, log = design.run(testcase)
    assert tests == 1 and not failed, f"{testcase}: {'failed' if failed else 'no result'}; see {log}"
