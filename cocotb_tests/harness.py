"""The bench harness: :class:`BenchEnv` (what ``cocotb_tests.runner`` passes in the environment, read once) and
:class:`TbBase` (clock, reset, metrics), from which every bench's ``TB`` class derives.

Environment (all but the config optional, defaults as shown):

=======================  ===============================================================================
``ATIS_BENCH_CONFIG``    YAML the Verilog was generated from (loaded with :func:`atis.config.load_config`)
``ATIS_BENCH_TOKENS``    random tokens of the golden/mask comparisons (1000)
``ATIS_BENCH_SEED``      seed of every random draw of the bench (1)
``ATIS_BENCH_METRICS``   JSON file the bench writes its measurements into (none: nothing is written)
``ATIS_BENCH_FPAA``      ``constant``: the scorer bench replaces the FPAA model by a constant comparator
``ATIS_BENCH_N``         comma-separated sequence lengths of the attention-cycle test (``model.seq_len``)
``ATIS_BENCH_KEEP``      comma-separated keep ratios of the attention-cycle test (0.3)
``ATIS_BENCH_IMAGES``    digits test images of the pipeline bench (100)
``ATIS_BENCH_MODELS``    random transformer models of the logits test (3)
=======================  ===============================================================================
"""
from __future__ import annotations

import json
import logging
import math
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from cocotb.clock import Clock
from cocotb.handle import HierarchyObject
from cocotb.simtime import get_sim_time
from cocotb.triggers import ClockCycles, RisingEdge

from atis.config import AtisConfig, load_config
from atis.design import DesignSpec, resolve_design

from .bfm.simtime import Elapsed

__all__ = ["BenchEnv", "TbBase", "write_metric", "sim_clock_ns", "check_scored_elements"]


def sim_clock_ns(clock_ns: float) -> float:
    """The simulated clock period: ``clock_ns`` rounded *up* to whole even picoseconds (the simulator's step is
    1 ps), so a period such as 24 MHz's 41.667 ns runs as 41.668 ns and every settle or wait the RTL counts in
    cycles lasts at least as long as on the board. Representable periods (10 ns) are unchanged."""
    ps = math.ceil(clock_ns * 1000 - 1e-6)
    return (ps + ps % 2) / 1000


def _parse_list(env: Mapping[str, str], name: str, default: str, kind: type) -> tuple:
    raw = env.get(name, default)
    try:
        return tuple(kind(v) for v in raw.split(","))
    except ValueError:
        raise ValueError(f"{name} = {raw!r}: expected comma-separated {kind.__name__} values") from None


def _parse_int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name, str(default))
    try:
        return int(raw)
    except ValueError:
        raise ValueError(f"{name} = {raw!r}: expected an integer") from None


@dataclass(frozen=True)
class BenchEnv:
    """Everything a bench takes from its environment (see the module docstring), parsed and validated once;
    ``design`` is the config's resolved specs (:func:`atis.design.resolve_design`), the same the Verilog was made
    from."""
    cfg: AtisConfig
    design: DesignSpec
    config_path: Path
    tokens: int = 1000
    seed: int = 1
    metrics: Path | None = None
    fpaa: str | None = None
    n: tuple[int, ...] = ()
    keep: tuple[float, ...] = (0.3,)
    images: int = 100
    models: int = 3

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> BenchEnv:
        env = os.environ if environ is None else environ
        if not env.get("ATIS_BENCH_CONFIG"):
            raise RuntimeError("ATIS_BENCH_CONFIG is not set: launch benches through atis.cocotb_tests.runner")
        path = Path(env["ATIS_BENCH_CONFIG"])
        cfg = load_config(path)
        metrics = env.get("ATIS_BENCH_METRICS")
        return cls(cfg=cfg, design=resolve_design(cfg), config_path=path,
                   tokens=_parse_int(env, "ATIS_BENCH_TOKENS", 1000),
                   seed=_parse_int(env, "ATIS_BENCH_SEED", 1),
                   metrics=Path(metrics) if metrics else None,
                   fpaa=env.get("ATIS_BENCH_FPAA"),
                   n=_parse_list(env, "ATIS_BENCH_N", str(cfg.model.seq_len), int),
                   keep=_parse_list(env, "ATIS_BENCH_KEEP", "0.3", float),
                   images=_parse_int(env, "ATIS_BENCH_IMAGES", 100),
                   models=_parse_int(env, "ATIS_BENCH_MODELS", 3))

    @property
    def constant_fpaa(self) -> bool:
        """``ATIS_BENCH_FPAA=constant``: a constant comparator instead of the FPAA model (overhead measurement)."""
        return self.fpaa == "constant"


def check_scored_elements(tokens: np.ndarray, items: list[dict], index_bits: int) -> tuple[list[int], list[str]]:
    """Check a scorer's output elements (``items``, in order) against the ``tokens`` sent: data, first/last
    framing and token index (mod 2**``index_bits``) of every element, and one keep bit per token.
    Returns (keep bit per token, problems found)."""
    d = tokens.shape[1]
    keep, problems = [], []
    for n, token in enumerate(tokens):
        for j, x in enumerate(token):
            item = items[n * d + j]
            want = {"data": int(x), "first": int(j == 0), "last": int(j == d - 1), "index": n % (1 << index_bits)}
            got = {k: item[k] for k in want}
            if got != want:
                problems.append(f"token {n} element {j}: got {got}, expected {want}")
            if j == 0:
                keep.append(item["keep"])
            elif item["keep"] != keep[-1]:
                problems.append(f"token {n}: keep changed within the token at element {j}")
    return keep, problems


def write_metric(path: Path | str | None, name: str, value: Any, **more: Any) -> None:
    """Set ``name`` (and any ``more`` names) in the metrics JSON at ``path``, keeping what is there, in one read
    and one write; no path: do nothing."""
    if not path:
        return
    p = Path(path)
    metrics = json.loads(p.read_text()) if p.exists() else {}
    metrics.update({name: value, **more})
    p.write_text(json.dumps(metrics, indent=2))


class TbBase:
    """A bench's clock (``dut.clk``, ``clock_ns`` or the class's ``CLOCK_NS``, run at :func:`sim_clock_ns`), its
    :class:`Elapsed` time base
    (started with the clock: hand it to every timed BFM), the seeded ``rng``, :meth:`reset` and
    :meth:`record_metric`. Subclasses build their BFMs after ``super().__init__`` and drive static inputs during
    reset in :meth:`on_reset`."""

    CLOCK_NS: float = 10
    RESET_CYCLES = 3

    def __init__(self, dut: HierarchyObject, env: BenchEnv | None = None, *, clock_ns: float | None = None):
        self.dut = dut
        self.env = env if env is not None else BenchEnv.from_env()
        self.cfg, self.seed = self.env.cfg, self.env.seed
        self.rng = np.random.default_rng(self.seed)
        self.clock_ns = sim_clock_ns(clock_ns if clock_ns is not None else self.CLOCK_NS)
        self.log = logging.getLogger(f"cocotb.{dut._name}.tb")
        self.clock: Clock | None = None
        if hasattr(dut, "tb_clock_half"):
            self.elapsed = self._start_wrapper_clock()
        else:
            self.clock = Clock(dut.clk, self.clock_ns, unit="ns")
            self.clock.start()
            self.elapsed = Elapsed()
        self._cpu_started = time.process_time()
        self.record_metric("clock_ns", self.clock_ns)    # simulated cycles = results.xml's sim time / this

    def _start_wrapper_clock(self) -> Elapsed:
        """Start the bench wrapper's clock (:mod:`.tb_wrapper`) at this instant, or, when an earlier test of this
        simulation started it at the same period, keep it: the time base then starts at its last rising edge, so
        edges stay whole periods apart from it as with a clock started now."""
        half = Elapsed.ns_to_steps(self.clock_ns / 2)
        running = self.dut.tb_clock_half.value.to_unsigned()
        if running == 0:
            self.dut.tb_clock_half.value = half
            return Elapsed()
        if running != half:
            raise RuntimeError(f"the bench wrapper's clock runs at a half period of {running} steps; a test asked for "
                               f"{half} (one clock period per simulation)")
        now, first = get_sim_time("step"), self.dut.tb_clock_t0.value.to_unsigned()
        return Elapsed(start_step=now - (now - first) % (2 * half))

    def on_reset(self) -> None:
        """Drive the DUT's static inputs; called as reset is asserted (nothing by default)."""

    async def reset(self) -> None:
        """Assert ``rst`` for ``RESET_CYCLES`` clock edges, release it, and return one edge later."""
        self.dut.rst.value = 1
        self.on_reset()
        await ClockCycles(self.dut.clk, self.RESET_CYCLES)
        self.dut.rst.value = 0
        await RisingEdge(self.dut.clk)

    def record_metric(self, name: str, value: Any) -> None:
        """Write one measurement (a JSON-able value) into the bench's metrics file, if it has one; with it
        ``tb_cpu_s``, the simulator process's CPU time (model and Python) since this TB was built, so a bench's
        speed can be judged on a shared machine (``benchmarks/cosim_speed.py``)."""
        write_metric(self.env.metrics, name, value, tb_cpu_s=time.process_time() - self._cpu_started)
