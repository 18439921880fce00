"""cocotb's floor on a design: the clock and constant inputs, no BFM, no Python wake-up while it runs.

Every input named in ``ATIS_IDLE_INPUTS`` (JSON: port -> value) is held there, reset is released after 4 cycles,
then one ``Timer`` lets ``ATIS_IDLE_CYCLES`` clock cycles pass. The metrics (``idle``: cycles, wall and CPU
seconds of that stretch, the process's own clock, so it counts the model and cocotb's clock driver) set the
ceiling a bench on this model can reach; ``benchmarks/cosim_speed.py`` puts it next to Verilator without cocotb.
Launched through :func:`atis.cocotb_tests.runner.run_bench` (any block), environment as in
:mod:`atis.cocotb_tests.harness` plus the two above.
"""
from __future__ import annotations

import json
import os
import time

import cocotb
from cocotb.handle import HierarchyObject
from cocotb.triggers import Timer

from atis.cocotb_tests.harness import TbBase

__all__: list[str] = []


@cocotb.test()
async def test_idle_clock(dut: HierarchyObject) -> None:
    tb = TbBase(dut)
    cycles = int(os.environ["ATIS_IDLE_CYCLES"])
    for name, value in json.loads(os.environ.get("ATIS_IDLE_INPUTS", "{}")).items():
        getattr(dut, name).value = value
    await tb.reset()
    wall, cpu = time.perf_counter(), time.process_time()
    await Timer(round(cycles * tb.clock_ns * 1000), "ps")
    tb.record_metric("idle", {"cycles": cycles, "wall_s": time.perf_counter() - wall,
                              "cpu_s": time.process_time() - cpu})
