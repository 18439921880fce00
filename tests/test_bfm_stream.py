"""The stream BFMs under Verilator on a plain FIFO (bench: ``atis.cocotb_tests.test_bfm_stream``): nested payloads
in and out under every pause pattern, and reset handling."""
from __future__ import annotations

import pytest

from atis.cocotb_tests import test_bfm_stream as bench
from atis.cocotb_tests.selftest import SmallDesign, build_small_design
from atis.hdl.layouts import row_layout

__all__: list[str] = []   # a pytest module: nothing to import

pytestmark = pytest.mark.cocotb

PAUSES = ("none", "cycle", "random")
TESTS = [*(f"test_nested_payloads_survive_gaps_and_backpressure/source={a}/sink={b}" for a in PAUSES for b in PAUSES),
         "test_reset_flushes_every_bfm"]


@pytest.fixture(scope="module")
def design(tmp_path_factory) -> SmallDesign:
    return build_small_design(bench.StreamLoop(row_layout(bench.WIDTH)), bench.TOPLEVEL, bench.__name__,
                              tmp_path_factory.mktemp("bfm_stream"))


@pytest.mark.parametrize("testcase", TESTS, ids=[t.partition("/")[2] or t for t in TESTS])
def test_stream_bfm(design: SmallDesign, testcase: str) -> None:
    tests, failed, log = design.run(testcase)
    assert tests == 1 and not failed, f"{testcase}: {'failed' if failed else 'no result'}; see {log}"
