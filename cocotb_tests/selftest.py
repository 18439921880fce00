"""The BFMs' own benches: build a small Amaranth design under Verilator once, then run one cocotb test of a bench
module on it per call (``tests/test_bfm_*.py``). Unlike :mod:`atis.cocotb_tests.runner` there is no block config:
the bench module brings its design, and the bundled default config serves :class:`~.harness.BenchEnv`.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from xml.etree import ElementTree

from amaranth.back import verilog
from amaranth.lib import wiring

from atis.config import DEFAULT_CONFIG
from atis.hdl.export import LINT_WAIVERS
from atis.toolchain import activate_verilator

from .model_cache import PortsOnlyVerilator, cached_model
from .runner import PACKAGE_PARENT, SIM_ENV, SPEED_ARGS
from .tb_wrapper import wrap_for_bench

__all__ = ["SmallDesign", "build_small_design"]


@dataclass
class SmallDesign:
    """A built design (the model in ``model``): ``run(testcase)`` simulates one cocotb test of ``module`` on it."""
    runner: object
    where: Path
    toplevel: str
    module: str
    model: Path

    def run(self, testcase: str, seed: int = 1, extra_env: dict[str, str] | None = None,
            stem: str | None = None) -> tuple[int, list[str], Path]:
        """(tests run, failed test names, log) of one cocotb test of the bench module (``stem``: the name of its
        results and log files, default the test's)."""
        stem = stem or testcase.replace("/", "-").replace("=", "-")   # parametrized names: "test_x/arg=value"
        xml, log = self.where / f"{stem}.xml", self.where / f"{stem}.log"
        env = {**SIM_ENV, "ATIS_BENCH_CONFIG": str(DEFAULT_CONFIG), "ATIS_BENCH_SEED": str(seed),
               "ATIS_BENCH_METRICS": str(self.where / "metrics.json"),
               "PYTHONPATH": os.pathsep.join(filter(None, [str(PACKAGE_PARENT), os.environ.get("PYTHONPATH")])),
               **(extra_env or {})}
        try:
            self.runner.test(test_module=self.module, hdl_toplevel=self.toplevel, hdl_toplevel_lang="verilog",
                             build_dir=self.model, test_dir=self.where, testcase=testcase, extra_env=env,
                             results_xml=str(xml), log_file=log, seed=seed)
        except SystemExit:
            pass        # judged from the results file
        if not xml.is_file():
            return 0, [], log
        cases = list(ElementTree.parse(xml).getroot().iter("testcase"))
        failed = [c.get("name", "?") for c in cases if c.find("failure") is not None or c.find("error") is not None]
        return len(cases), failed, log


def build_small_design(design: wiring.Component, toplevel: str, module: str, where: Path) -> SmallDesign:
    """Write ``design`` as Verilog module ``toplevel`` into ``where`` (in the bench wrapper when it has an AD5628
    port) and build it with Verilator, or reuse the cached model of the same Verilog."""
    activate_verilator()
    where.mkdir(parents=True, exist_ok=True)
    source = where / f"{toplevel}.v"
    source.write_text(verilog.convert(design, name=toplevel))
    sources, top = wrap_for_bench([source], toplevel)
    runner = PortsOnlyVerilator()
    model = cached_model(runner, sources, top, [*LINT_WAIVERS, *SPEED_ARGS], log_file=where / "build.log")
    return SmallDesign(runner, where, top, module, model)
