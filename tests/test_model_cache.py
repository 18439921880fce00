"""The bench model cache (cocotb_tests/model_cache.py) and the bench wrapper's text (cocotb_tests/tb_wrapper.py),
without Verilator: a stand-in runner counts builds."""
from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from atis.cocotb_tests.model_cache import cached_model
from atis.cocotb_tests.tb_wrapper import public_ports_vlt, recorder_prefixes, top_ports, wrap_for_bench

__all__: list[str] = []   # a pytest module: nothing to import

VERILOG = """\
module atis_x(clk, rst, dac_sync_n, dac_sclk, dac_din, i_a__payload, o_b);
  input clk;
  wire clk;
  input rst;
  output dac_sync_n;
  output dac_sclk;
  output dac_din;
  input [9:0] i_a__payload;
  output [26:0] o_b;
endmodule
"""


class CountingRunner:
    """Stands in for cocotb's Verilator runner: a build takes ``delay_s`` and writes the model's executable."""

    def __init__(self, delay_s: float = 0.0, fail: bool = False, fail_seeded: bool = False):
        self.builds, self.delay_s, self.fail, self.fail_seeded = 0, delay_s, fail, fail_seeded
        self.seeded: list[bool] = []          # per build: Verilator's runtime objects were there before it
        self._lock = threading.Lock()

    def build(self, *, sources, hdl_toplevel, build_dir, waves, build_args, log_file, always):
        with self._lock:
            self.builds += 1
        build_dir = Path(build_dir)
        self.seeded.append((build_dir / "verilated.o").is_file())
        time.sleep(self.delay_s)
        build_dir.mkdir(parents=True, exist_ok=True)
        Path(log_file).write_text("built\n")
        if self.fail or (self.fail_seeded and self.seeded[-1]):
            raise RuntimeError("Command failed with return code: 1")
        for name in ("verilated.o", "verilated.d", "Vtop__ALL.o"):
            (build_dir / name).write_text(name)
        (build_dir / hdl_toplevel).write_text("model")


@pytest.fixture()
def source(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("ATIS_MODEL_CACHE", str(tmp_path / "models"))
    path = tmp_path / "atis_x.v"
    path.write_text(VERILOG)
    return path


def test_concurrent_builds_of_one_model_build_it_once(source, tmp_path):
    runner, got = CountingRunner(delay_s=0.5), []

    def worker(i: int) -> None:
        got.append(cached_model(runner, [source], "atis_x", ["-O3"], log_file=tmp_path / f"log{i}"))

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert runner.builds == 1 and len(set(got)) == 1 and (got[0] / "atis_x").is_file()
    assert not list((tmp_path / "models").glob("*.tmp*")), "a scratch build folder was left behind"


def test_other_verilog_or_options_build_another_model(source, tmp_path):
    runner = CountingRunner()
    first = cached_model(runner, [source], "atis_x", ["-O3"], log_file=tmp_path / "log")
    assert cached_model(runner, [source], "atis_x", ["-O3"], log_file=tmp_path / "log") == first
    assert "reused" in (tmp_path / "log").read_text()
    assert cached_model(runner, [source], "atis_x", ["-O2"], log_file=tmp_path / "log") != first
    source.write_text(VERILOG.replace("[26:0]", "[25:0]"))
    assert cached_model(runner, [source], "atis_x", ["-O3"], log_file=tmp_path / "log") != first
    assert runner.builds == 3


def test_a_failed_build_leaves_nothing_cached(source, tmp_path):
    with pytest.raises(RuntimeError):
        cached_model(CountingRunner(fail=True), [source], "atis_x", [], log_file=tmp_path / "log")
    assert not [p for p in (tmp_path / "models").iterdir() if p.is_dir()]
    runner = CountingRunner()
    cached_model(runner, [source], "atis_x", [], log_file=tmp_path / "log")
    assert runner.builds == 1


def test_wrapper_keeps_the_ports_makes_the_clock_and_records_the_dac(source):
    ports = top_ports(VERILOG, "atis_x")
    assert [(p.name, p.direction, p.width) for p in ports][-2:] == [("i_a__payload", "input", 10),
                                                                     ("o_b", "output", 27)]
    assert recorder_prefixes(ports) == ["dac"]
    sources, top = wrap_for_bench([source], "atis_x")
    wrapper = (source.parent / "atis_x_tb.v").read_text()
    assert top == "atis_x_tb" and sources[0].suffix == ".vlt" and sources[-1].name == "atis_x_tb.v"
    assert "module atis_x_tb(rst, dac_sync_n," in wrapper and ".clk(clk)" in wrapper and "#(tb_clock_half)" in wrapper
    assert "atis_ad5628_recorder dac_recorder (.sync_n(dac_sync_n), .sclk(dac_sclk), .din(dac_din));" in wrapper
    vlt = sources[0].read_text()
    assert vlt == public_ports_vlt("atis_x_tb", [p for p in ports if p.name != "clk"]) and '"clk"' not in vlt
    with pytest.raises(ValueError, match="no module"):
        top_ports(VERILOG, "atis_y")


def test_later_builds_start_from_the_saved_runtime_and_keep_only_the_executable(source, tmp_path):
    runner = CountingRunner()
    first = cached_model(runner, [source], "atis_x", ["-O3"], log_file=tmp_path / "log")
    source.write_text(VERILOG.replace("[26:0]", "[25:0]"))
    cached_model(runner, [source], "atis_x", ["-O3"], log_file=tmp_path / "log")
    assert runner.seeded == [False, True]
    assert sorted(p.name for p in first.iterdir()) == ["atis_x", "build.log"]
    source.write_text(VERILOG.replace("[26:0]", "[24:0]"))
    stale = CountingRunner(fail_seeded=True)          # a build the saved runtime breaks is redone without it
    assert (cached_model(stale, [source], "atis_x", ["-O3"], log_file=tmp_path / "log") / "atis_x").is_file()
    assert stale.seeded == [True, False]
