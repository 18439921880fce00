"""DAC pin drivers behind one write stream: AD5628 SPI (PmodDA4) and a parallel channel/code/strobe bus.

Both take ``{channel, code, update}`` writes (``code`` already left-aligned to the part's width) and pulse
``updated`` in the cycle the DAC outputs change — the AD5628's 32nd falling SCLK edge of a "write input register
and update all" frame, or the parallel bus's ``update`` cycle. Frame facts: ``docs/reference/ad5628-spi.md``;
timing minima: ``docs/reference/ad5628-timing.md``.
"""
from __future__ import annotations

from amaranth.hdl import Const, Module, Mux, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from atis.golden.ad5628 import Ad5628Schedule
from atis.golden.readout import AD5628_THETA_COMMAND
from atis.golden.sequencer import AD5628_CMD, ad5628_word

from .layouts import write_layout

__all__ = ["Ad5628Port", "ParallelDacPort", "dac_pins"]


def dac_pins(part: str, n_dac: int, part_bits: int) -> dict:
    """Pin members of a component that drives the DAC (the board boundary)."""
    if part == "ad5628":
        return {"dac_sync_n": Out(1, init=1), "dac_sclk": Out(1, init=1), "dac_din": Out(1)}
    return {"dac_channel": Out(range(max(n_dac, 2))), "dac_code": Out(part_bits), "dac_strobe": Out(1),
            "dac_update": Out(1)}


class Ad5628Port(wiring.Component):
    """AD5628 SPI master. SCLK = clk / ``divider``, idle high; DIN changes with SCLK's rising edge and is sampled
    by the DAC on the falling edge; MSB first. SYNC falls (with DB31 on DIN) ``setup_cycles`` before the first
    falling SCLK edge, rises with the SCLK rise after the 32nd, and stays high ``high_cycles`` between frames.

    Parameters:  n_dac, part_bits (12), schedule : ``atis.golden.ad5628.Ad5628Schedule`` (divider, SYNC setup
    and high cycles, chosen from the data sheet's minima at the clock: every allowed setting meets all of them,
    ``docs/reference/ad5628-timing.md``).

    After reset it sends the internal-reference enable frame (command 1000, DB0 = 1) before any write. A write of
    ``update = 1`` is sent as command 0010 (write input register, update all); otherwise 0000 (input register only,
    outputs hold: the double buffering that lets token i+1 load while token i is compared). With ``theta_channel``
    (a SAR readout's θ), a write to that channel is sent as command 0011 (write and update that channel only) and
    pulses ``updated`` too.

    Throughput: one write per ``schedule.frame_cycles`` = setup + 31.5·divider + high cycles (33·divider when
    setup = divider/2 and high = divider, e.g. every shipped config; clk/2 at 100 MHz needs a 2-cycle setup: 67).
    Latency: ``i_write`` is taken in the cycle the port is idle; SYNC falls at the next clock edge. ``updated`` is
    high in the cycle SCLK falls for the 32nd time in an update frame (the DAC outputs change then).
    """

    def __init__(self, n_dac: int, part_bits: int, schedule: Ad5628Schedule, theta_channel: int | None = None):
        if part_bits != 12:
            raise ValueError(f"AD5628: 12-bit codes, not {part_bits}")
        self._frame, self._theta = schedule, theta_channel
        super().__init__({"i_write": In(stream.Signature(write_layout(n_dac, part_bits))), "updated": Out(1),
                          **dac_pins("ad5628", n_dac, part_bits)})

    def elaborate(self, platform):
        m = Module()
        f = self._frame
        div, extra_setup = f.divider, f.setup_cycles - f.divider // 2   # SETUP, then half a period to the fall
        shift, bit, phase = Signal(32), Signal(range(32)), Signal(range(div))
        wait = Signal(range(max(extra_setup, f.high_cycles - 1, 2)))
        started, is_update = Signal(), Signal()
        w = self.i_write.payload
        after_load = "SETUP" if extra_setup else "FRAME"

        def load(word, update):
            return [shift.eq(word), self.dac_din.eq(word[31]), self.dac_sync_n.eq(0), self.dac_sclk.eq(1),
                    bit.eq(0), phase.eq(0), wait.eq(0), is_update.eq(update)]

        m.d.sync += self.updated.eq(0)
        with m.FSM():
            with m.State("IDLE"):                             # the last cycle of SYNC high (or idle)
                with m.If(~started):
                    ref_on = ad5628_word(AD5628_CMD["internal_reference"], 0, 0) | 1
                    m.d.sync += [*load(Const(ref_on, 32), 0), started.eq(1)]
                    m.next = after_load
                with m.Else():
                    m.d.comb += self.i_write.ready.eq(1)
                    with m.If(self.i_write.valid):
                        cmd = AD5628_CMD["write_input"] | (w.update << 1)   # 0000 or 0010
                        update = w.update
                        if self._theta is not None:      # a SAR's θ channel: 0011, its output alone moves
                            is_theta = w.channel == self._theta
                            cmd, update = Mux(is_theta, AD5628_THETA_COMMAND, cmd), update | is_theta
                        word = (cmd << 24) | (w.channel << 20) | (w.code << 8)
                        m.d.sync += load(word, update)
                        m.next = after_load
            if extra_setup:
                with m.State("SETUP"):                        # SYNC low, SCLK high: t4 beyond half a period
                    m.d.sync += wait.eq(wait + 1)
                    with m.If(wait == extra_setup - 1):
                        m.next = "FRAME"
            with m.State("FRAME"):
                m.d.sync += phase.eq(phase + 1)
                with m.If(phase == div // 2 - 1):
                    m.d.sync += self.dac_sclk.eq(0)          # falling edge: the DAC samples DIN
                    with m.If((bit == 31) & is_update):
                        m.d.sync += self.updated.eq(1)
                with m.If(phase == div - 1):
                    m.d.sync += [phase.eq(0), self.dac_sclk.eq(1)]
                    with m.If(bit == 31):
                        m.d.sync += [self.dac_sync_n.eq(1), wait.eq(0)]
                        m.next = "GAP" if f.high_cycles > 1 else "IDLE"
                    with m.Else():
                        m.d.sync += [bit.eq(bit + 1), shift.eq(shift << 1), self.dac_din.eq(shift[30])]
            if f.high_cycles > 1:
                with m.State("GAP"):                          # SYNC high: high_cycles - 1 here + the IDLE cycle
                    m.d.sync += wait.eq(wait + 1)
                    with m.If(wait == f.high_cycles - 2):
                        m.next = "IDLE"
        return m


class ParallelDacPort(wiring.Component):
    """Parallel DAC bus: ``dac_strobe`` for one cycle with ``dac_channel``/``dac_code`` writes an input register;
    a write with ``update = 1`` is followed by one ``dac_update`` cycle (all outputs change; ``updated`` too).
    Throughput: one write per cycle, plus one cycle per update."""

    def __init__(self, n_dac: int, part_bits: int):
        super().__init__({"i_write": In(stream.Signature(write_layout(n_dac, part_bits))), "updated": Out(1),
                          **dac_pins("parallel", n_dac, part_bits)})

    def elaborate(self, platform):
        m = Module()
        pending = Signal()
        w = self.i_write.payload
        m.d.comb += [self.i_write.ready.eq(~pending), self.updated.eq(self.dac_update)]
        m.d.sync += [self.dac_strobe.eq(0), self.dac_update.eq(pending), pending.eq(0)]
        with m.If(self.i_write.valid & ~pending):
            m.d.sync += [self.dac_strobe.eq(1), self.dac_channel.eq(w.channel), self.dac_code.eq(w.code),
                         pending.eq(w.update)]
        return m
