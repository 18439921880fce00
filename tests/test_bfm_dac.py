"""The DAC monitors under Verilator on bare pins (bench: ``atis.cocotb_tests.test_bfm_dac``): AD5628 frames and
parallel strobes decode into queued updates, and every protocol/timing violation is reported."""
from __future__ import annotations

import pytest

from atis.cocotb_tests import test_bfm_dac as bench
from atis.cocotb_tests.selftest import SmallDesign, build_small_design

__all__: list[str] = []   # a pytest module: nothing to import

pytestmark = pytest.mark.cocotb

TESTS = ["test_ad5628_frames_decode_to_updates", "test_parallel_dac_decodes_strobes_and_updates",
         "test_parallel_dac_reports_a_strobe_to_a_missing_channel",
         *(f"test_ad5628_reports_every_violation/violation={v}" for v in bench.VIOLATIONS)]


@pytest.fixture(scope="module")
def design(tmp_path_factory) -> SmallDesign:
    return build_small_design(bench.DacPins(), bench.TOPLEVEL, bench.__name__, tmp_path_factory.mktemp("bfm_dac"))


@pytest.mark.parametrize("testcase", TESTS, ids=[t.rpartition("=")[2] if "=" in t else t for t in TESTS])
def test_dac_monitor(design: SmallDesign, testcase: str) -> None:
    tests, failed, log = design.run(testcase)
    assert tests == 1 and not failed, f"{testcase}: {'failed' if failed else 'no result'}; see {log}"
