"""SAR readout: b comparator decisions per token against a DAC-driven θ -> one b-bit code (issue 18).

Schedule and codes: ``atis.golden.readout`` (the one spec the RTL, the FPAA BFM and the vectorized model share).
"""
from __future__ import annotations

from amaranth.hdl import Const, Module, Mux, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.cdc import FFSynchronizer
from amaranth.lib.fifo import SyncFIFOBuffered
from amaranth.lib.wiring import In, Out

from atis.golden.readout import ReadoutSpec

from .layouts import INDEX_BITS, readout_layout, theta_layout

__all__ = ["SarReadout", "ParallelThetaPort"]


class SarReadout(wiring.Component):
    """Successive approximation of each token's held score, MSB first.

    Parameters:  spec : ``atis.golden.readout.ReadoutSpec`` (bits b, θ part width, settle and wait cycles).

    Members
    -------
    i_start : In(1)
        One-cycle pulse: the score is held (the sequencer's ``evaluate``); a conversion starts.
    o_ready : Out(1)
        Idle with room for a result: the sequencer may start the update leading to the next ``evaluate``.
    o_theta : Out(stream.Signature(theta_layout(part_bits)))
        θ DAC writes: the trial ``code | 2^i`` left-aligned to the θ DAC (one per step).
    i_theta_updated : In(1)
        The θ DAC output took the write (the AD5628's 32nd SCLK fall of its 0011 frame, or the θ port's strobe).
    o_decide : Out(1)
        Comparator strobe, one cycle, exactly ``settle_cycles`` after ``i_theta_updated``.
    comparator : In(1)
        The comparator pin, asynchronous: through a 2-flop synchronizer, sampled ``wait_cycles + 2`` cycles after
        the cycle ``o_decide`` is high (as ``ComparatorCapture`` samples after ``evaluate``).
    o_code : Out(stream.Signature(readout_layout(b)))
        ``{code, index}`` per token, in order; buffered (4 deep), honours ``ready``.

    Latency: ``i_start`` -> code: b steps of (θ write accepted + its frame to the update + ``settle_cycles`` +
    ``wait_cycles`` + 3); throughput one token per conversion. Golden: ``atis.golden.readout.sar_code``.
    """

    def __init__(self, spec: ReadoutSpec):
        if spec.settle_cycles < 2 or spec.wait_cycles < 1:
            raise ValueError(f"SAR readout: settle_cycles = {spec.settle_cycles} (>= 2), wait_cycles = "
                             f"{spec.wait_cycles} (>= 1)")
        self._spec = spec
        super().__init__({"i_start": In(1), "o_ready": Out(1),
                          "o_theta": Out(stream.Signature(theta_layout(spec.part_bits))), "i_theta_updated": In(1),
                          "o_decide": Out(1), "comparator": In(1),
                          "o_code": Out(stream.Signature(readout_layout(spec.bits)))})

    def elaborate(self, platform):
        m = Module()
        s = self._spec
        b = s.bits
        m.submodules.results = results = SyncFIFOBuffered(width=readout_layout(b).size, depth=4)
        synced = Signal()
        m.submodules.comparator_sync = FFSynchronizer(self.comparator, synced)   # the pin is asynchronous
        code, bit = Signal(b), Signal(range(max(b, 2)))
        trial = code | (Const(1, b) << bit)[:b]
        count = Signal(range(max(s.settle_cycles, s.wait_cycles + 3)))
        index = Signal(INDEX_BITS)
        entry = Signal(readout_layout(b))
        idle = Signal()
        m.d.comb += [self.o_ready.eq(idle & ~self.i_start & results.w_rdy),
                     self.o_theta.payload.code.eq(trial << (s.part_bits - b)),
                     entry.code.eq(Mux(synced, trial, code)), entry.index.eq(index), results.w_data.eq(entry),
                     self.o_code.valid.eq(results.r_rdy), self.o_code.payload.eq(results.r_data),
                     results.r_en.eq(self.o_code.ready)]
        m.d.sync += self.o_decide.eq(0)
        with m.FSM():
            with m.State("Idle"):
                m.d.comb += idle.eq(1)
                with m.If(self.i_start):
                    m.d.sync += [code.eq(0), bit.eq(b - 1)]
                    m.next = "Write"
            with m.State("Write"):
                m.d.comb += self.o_theta.valid.eq(1)
                with m.If(self.o_theta.ready):
                    m.next = "Update"
            with m.State("Update"):
                with m.If(self.i_theta_updated):
                    m.d.sync += count.eq(s.settle_cycles - 2)
                    m.next = "Settle"
            with m.State("Settle"):             # decide rises settle_cycles after the update cycle began
                m.d.sync += count.eq(count - 1)
                with m.If(count == 0):
                    m.d.sync += [self.o_decide.eq(1), count.eq(s.wait_cycles + 2)]
                    m.next = "Sample"
            with m.State("Sample"):             # the synchronized pin, wait_cycles + 2 cycles after decide
                m.d.sync += count.eq(count - 1)
                with m.If(count == 0):
                    m.d.sync += [code.eq(entry.code), bit.eq(bit - 1)]
                    with m.If(bit == 0):
                        m.d.comb += results.w_en.eq(1)
                        m.d.sync += index.eq(index + 1)
                        m.next = "Idle"
                    with m.Else():
                        m.next = "Write"
        return m


class ParallelThetaPort(wiring.Component):
    """A parallel θ DAC on its own pins: a θ write puts its code on ``theta_dac_code`` and strobes
    ``theta_dac_strobe`` for one cycle, in which the output changes (``updated``, the same cycle). One write per
    cycle."""

    def __init__(self, part_bits: int):
        super().__init__({"i_theta": In(stream.Signature(theta_layout(part_bits))), "updated": Out(1),
                          "theta_dac_code": Out(part_bits), "theta_dac_strobe": Out(1)})

    def elaborate(self, platform):
        m = Module()
        m.d.comb += [self.i_theta.ready.eq(1), self.updated.eq(self.theta_dac_strobe)]
        m.d.sync += self.theta_dac_strobe.eq(self.i_theta.valid)
        with m.If(self.i_theta.valid):
            m.d.sync += self.theta_dac_code.eq(self.i_theta.payload.code)
        return m
