"""Simulation time for BFMs, exact on the bench's clock grid.

A later test of a cocotb run starts its clock where the previous test stopped, which need not be a whole ns
(e.g. 1048570.001 ns), and float ns then turn a 20 ns SCLK period into 19.99999999988 ns. Counting integer steps
from the moment the bench's clock starts keeps every clock-edge time an exact whole number of ns.
"""
from __future__ import annotations

import cocotb.simtime
from cocotb.simtime import get_sim_time

__all__ = ["Elapsed"]


class Elapsed:
    """Time since construction (create it when the bench starts its clock), or since ``start_step``."""

    def __init__(self, start_step: int | None = None):
        self._t0 = get_sim_time("step") if start_step is None else start_step

    def ns(self) -> float:
        return self.steps_to_ns(get_sim_time("step") - self._t0)

    @staticmethod
    def ns_to_steps(ns: float) -> int:
        """A duration in ns as whole simulator steps (rounded)."""
        return round(ns * 10 ** -(cocotb.simtime.time_precision + 9))

    @staticmethod
    def steps_to_ns(steps: int) -> float:
        """A duration in simulator steps, in ns (the same arithmetic as :meth:`ns`)."""
        exponent = cocotb.simtime.time_precision + 9
        return steps * 10 ** exponent if exponent >= 0 else steps / 10 ** -exponent
