"""SAR readout BFM (issue 18): the θ DAC and the comparator's decide strobes at the pin boundary.

It rides on an :class:`~.fpaa.FpaaBfm`, whose ``evaluate`` then only holds the token's score. θ DAC updates come
from the AD5628 monitor (the θ channel's frames, through the FPAA BFM) or from the parallel θ DAC's own pins
(``theta_dac_code``/``theta_dac_strobe``); each ``o_decide`` rising edge asks the readout model
(:class:`atis.analog_models.readout.SarPins`) for a decision on the held score against θ as it is at that instant,
and drives the comparator pin after the modelled delay. It re-implements nothing of the model.
"""
from __future__ import annotations

import cocotb
from cocotb.handle import HierarchyObject
from cocotb.triggers import ReadOnly, RisingEdge

from atis.analog_models.readout import SarReadout
from atis.golden.readout import ReadoutSpec

from .fpaa import FpaaBfm

__all__ = ["SarBfm"]


class SarBfm:
    """``trials``: every θ trial code the DAC took, in order; ``decisions``: every decision; ``theta_ages_ns``: the
    time θ had settled at each decision (the schedule says ``settle_cycles`` clocks); ``protocol_errors``: θ
    codes with bits below the trial's alignment."""

    def __init__(self, fpaa: FpaaBfm, spec: ReadoutSpec, decide, theta_pins: tuple | None = None):
        self.fpaa, self.spec, self.elapsed = fpaa, spec, fpaa.elapsed
        self.readout = SarReadout(fpaa.model, spec)
        self.pins = self.readout.pins()
        self.trials: list[int] = []
        self.decisions: list[bool] = []
        self.theta_ages_ns: list[float] = []
        self.protocol_errors: list[str] = []
        self._trial = 0                         # the θ DAC powers up at code 0
        fpaa.drive_on_evaluate = False
        if spec.theta_channel is not None:
            fpaa.theta_channel, fpaa.on_theta = spec.theta_channel, self.on_theta
        else:
            cocotb.start_soon(self._watch_theta_pins(*theta_pins))
        self._decide = decide
        cocotb.start_soon(self._watch_decide())

    @classmethod
    def attach(cls, dut: HierarchyObject, fpaa: FpaaBfm, spec: ReadoutSpec) -> SarBfm:
        """On a scorer DUT with a SAR readout: ``o_decide``, and for a parallel θ DAC its two pins."""
        pins = None if spec.theta_channel is not None else (dut.theta_dac_code, dut.theta_dac_strobe)
        return cls(fpaa, spec, dut.o_decide, pins)

    def on_theta(self, data: int, t_ns: float) -> None:
        """The θ DAC output now carries part code ``data``; an update that leaves it unchanged (the AD5628's
        update-all frames of the input rounds) changes nothing."""
        shift = self.spec.part_bits - self.spec.bits
        if data & ((1 << shift) - 1):
            self.protocol_errors.append(f"θ DAC data {data:#x} has bits below the {shift}-bit alignment")
        trial = data >> shift
        if trial == self._trial:
            return
        self._trial = trial
        self.trials.append(trial)
        self.pins.theta_write(trial, t_ns)

    async def _watch_theta_pins(self, code, strobe) -> None:
        while True:
            await RisingEdge(strobe)
            await ReadOnly()
            self.on_theta(int(code.value), self.elapsed.ns())

    async def _watch_decide(self) -> None:
        while True:
            await RisingEdge(self._decide)
            t = self.elapsed.ns()
            self.theta_ages_ns.append(self.pins.theta_age_ns(t))
            fired = self.pins.decide(self.fpaa.held_score, t)
            self.decisions.append(fired)
            cocotb.start_soon(self.fpaa._drive(int(fired), t))

    def codes(self) -> list[int]:
        """The codes the decisions make, b per token (what the RTL must have assembled)."""
        b, out = self.spec.bits, []
        for n in range(len(self.decisions) // b):
            bits = self.decisions[n * b:(n + 1) * b]
            out.append(sum(int(d) << (b - 1 - i) for i, d in enumerate(bits)))
        return out
