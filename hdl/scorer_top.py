"""Board top of the scorer: a UART host link around :class:`hdl.scorer.Scorer`, plus status LEDs.

Host protocol (8N1, ``fpga.uart_baud``): the host sends tokens as d bytes each (int8 elements, two's complement,
element 0 first); for every token the board answers one byte ``(index mod 128) << 1 | keep``. Flow control is the
host's: it may have up to two tokens in flight beyond the one being answered (the projection's double buffer);
more overruns the receiver (``led_error``). The transformer's richer host link comes with the attention issue.
"""
from __future__ import annotations

from amaranth.hdl import Module, Signal
from amaranth.lib import wiring
from amaranth.lib.fifo import SyncFIFOBuffered
from amaranth.lib.wiring import In, Out

from atis.golden.digital_scorer import DigitalScorerSpec
from atis.golden.projection import ProjectionSpec
from atis.golden.sequencer import SequencerSpec

from .common import counter
from .scorer import Scorer, forward_fpaa_pins, fpaa_pins
from .uart import UartRx, UartTx

__all__ = ["ScorerTop"]


class ScorerTop(wiring.Component):
    """UART bytes -> token elements -> Scorer -> one answer byte per token. LEDs: ``led_heartbeat`` (~1.5 Hz at
    24 MHz), ``led_keep`` (last token kept), ``led_error`` (sticky: UART framing/overrun or token framing).
    Latency and throughput are the scorer's plus the UART's 10 bit times per byte."""

    def __init__(self, *, projection: ProjectionSpec, sequencer: SequencerSpec, uart_divisor: int,
                 digital: DigitalScorerSpec | None = None):
        self._proj, self._seq, self._div, self._digital = projection, sequencer, uart_divisor, digital
        super().__init__({
            "uart_rx": In(1, init=1), "uart_tx": Out(1, init=1),
            "led_heartbeat": Out(1), "led_keep": Out(1), "led_error": Out(1),
            **fpaa_pins(None if digital else sequencer),
        })

    def elaborate(self, platform):
        m = Module()
        s, d = self._seq, self._proj.d
        m.submodules.scorer = scorer = Scorer(self._proj, s, self._digital)
        m.submodules.rx = rx = UartRx(self._div)
        m.submodules.tx = tx = UartTx(self._div)
        m.submodules.answers = answers = SyncFIFOBuffered(width=8, depth=4)
        forward_fpaa_pins(m, self, scorer, None if self._digital else s)
        m.d.comb += [rx.rx.eq(self.uart_rx), self.uart_tx.eq(tx.tx)]

        # bytes -> token elements, framed by an element counter
        elem = counter(d, "elem")
        m.d.comb += [scorer.i_token.valid.eq(rx.o_data.valid), rx.o_data.ready.eq(scorer.i_token.ready),
                     scorer.i_token.payload.data.eq(rx.o_data.payload),
                     scorer.i_token.payload.first.eq(elem == 0), scorer.i_token.payload.last.eq(elem == d - 1)]
        with m.If(rx.o_data.valid & scorer.i_token.ready):
            m.d.sync += elem.eq(elem + 1)
            with m.If(elem == d - 1):
                m.d.sync += elem.eq(0)

        # scored elements -> one answer byte per token (at its last element)
        out = scorer.o_token
        is_last = out.payload.last
        m.d.comb += [out.ready.eq(~is_last | answers.w_rdy),
                     answers.w_en.eq(out.valid & is_last),
                     answers.w_data.eq((out.payload.index[:7] << 1) | out.payload.keep)]
        wiring.connect(m, answers.r_stream, tx.i_data)
        with m.If(out.valid & out.ready & is_last):
            m.d.sync += self.led_keep.eq(out.payload.keep)

        beat = Signal(24)
        m.d.sync += beat.eq(beat + 1)
        m.d.comb += self.led_heartbeat.eq(beat[-1])
        with m.If(rx.framing_error | rx.overrun | scorer.framing_error):
            m.d.sync += self.led_error.eq(1)
        return m
