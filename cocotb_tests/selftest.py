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

from .runner import PACKAGE_PARENT

__all__ = ["SmallDesign", "build_small_design"]


@dataclass
class SmallDesign:
    """A built design: ``run(testcase)`` simulates one cocotb test of ``module`` on it."""
    runner: object
    where: Path
    toplevel: str
    module: str

    def run(self, testcase: str, seed: int = 1) -> tuple[int, list[str], Path]:
        """(tests run, failed test names, log) of one cocotb test of the bench module."""
        stem = testcase.replace("/", "-").replace("=", "-")         # parametrized names: "test_x/arg=value"
        xml, log = self.where / f"{stem}.xml", self.where / f"{stem}.log"
        env = {"ATIS_BENCH_CONFIG": str(DEFAULT_CONFIG), "ATIS_BENCH_SEED": str(seed),
               "ATIS_BENCH_METRICS": str(self.where / "metrics.json"),
               "PYTHONPATH": os.pathsep.join(filter(None, [str(PACKAGE_PARENT), os.environ.get("PYTHONPATH")]))}
        try:
            self.runner.test(test_module=self.module, hdl_toplevel=self.toplevel, build_dir=self.where / "obj",
                             test_dir=self.where, testcase=testcase, extra_env=env, results_xml=str(xml),
                             log_file=log, seed=seed)
        except SystemExit:
            pass        # judged from the results file
        if not xml.is_file():
            return 0, [], log
        cases = list(ElementTree.parse(xml).getroot().iter("testcase"))
        failed = [c.get("name", "?") for c in cases if c.find("failure") is not None or c.find("error") is not None]
        return len(cases), failed, log


def build_small_design(design: wiring.Component, toplevel: str, module: str, where: Path) -> SmallDesign:
    """Write ``design`` as Verilog module ``toplevel`` into ``where`` and build it with Verilator."""
    from cocotb_tools.runner import get_runner

    activate_verilator()
    where.mkdir(parents=True, exist_ok=True)
    source = where / f"{toplevel}.v"
    source.write_text(verilog.convert(design, name=toplevel))
    runner = get_runner("verilator")
    runner.build(sources=[source], hdl_toplevel=toplevel, build_dir=where / "obj", build_args=LINT_WAIVERS,
                 log_file=where / "build.log")
    return SmallDesign(runner, where, toplevel, module)
