"""The DAC monitors under Verilator on bare pins (bench: ``atis.cocotb_tests.test_bfm_dac``): AD5628 frames and
parallel strobes decode into queued updates, and every protocol violation and every AD5628 data-sheet timing
minimum broken on purpose (t1-t6, t8, t9; t7 and t10 are 0 ns) is reported, naming the parameter — through the
wrapper's pin recorder (cross-checked by the pin-level decoder on every frame) and through the pin-level decoder
alone."""
from __future__ import annotations

import pytest

from atis.cocotb_tests import test_bfm_dac as bench
from atis.cocotb_tests.selftest import SmallDesign, build_small_design

__all__: list[str] = []   # a pytest module: nothing to import

pytestmark = pytest.mark.cocotb

TESTS = ["test_ad5628_frames_decode_to_updates", "test_ad5628_reports_every_timing_violation",
         "test_ad5628_monitor_ignores_a_frame_in_flight_when_it_starts",
         "test_parallel_dac_decodes_strobes_and_updates", "test_parallel_dac_reports_a_strobe_to_a_missing_channel",
         *(f"test_ad5628_reports_every_violation/violation={v}" for v in bench.VIOLATIONS)]
#: The AD5628 monitor's two paths (the design is in the bench wrapper, so it has the pin recorder): the recorder,
#: with the pin-level decoder comparing every frame; the pin-level decoder alone (a DUT without the wrapper).
PATHS = {"recorder": {"ATIS_BENCH_AD5628_SHADOW": "1"}, "pins": {"ATIS_BENCH_AD5628": "pins"}}
CASES = [*((t, "recorder") for t in TESTS),
         *((t, "pins") for t in ("test_ad5628_frames_decode_to_updates", "test_ad5628_reports_every_timing_violation"))]


@pytest.fixture(scope="module")
def design(tmp_path_factory) -> SmallDesign:
    return build_small_design(bench.DacPins(), bench.TOPLEVEL, bench.__name__, tmp_path_factory.mktemp("bfm_dac"))


@pytest.mark.parametrize(("testcase", "path"), CASES,
                         ids=[f"{t.rpartition('=')[2] if '=' in t else t}-{p}" for t, p in CASES])
def test_dac_monitor(design: SmallDesign, testcase: str, path: str) -> None:
    stem = f"{testcase.replace('/', '-').replace('=', '-')}-{path}"
    tests, failed, log = design.run(testcase, extra_env=PATHS[path], stem=stem)
    assert tests == 1 and not failed, f"{testcase} ({path}): {'failed' if failed else 'no result'}; see {log}"
