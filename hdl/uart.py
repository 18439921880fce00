"""A minimal 8N1 UART (PyPI has no Amaranth UART library: amaranth-stdio is only a name placeholder)."""
from __future__ import annotations

from amaranth.hdl import Cat, Module, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.cdc import FFSynchronizer
from amaranth.lib.wiring import In, Out

__all__ = ["UartRx", "UartTx"]


class UartRx(wiring.Component):
    """8N1 receiver: ``rx`` pin (asynchronous, 2-flop synchronized) -> byte stream.

    A start bit is accepted when the line is still low half a bit after its falling edge; the 8 data bits (LSB
    first) are sampled mid-bit every ``divisor`` cycles. ``framing_error`` (sticky): a stop bit read low, byte
    dropped. ``overrun`` (sticky): a byte completed while the previous one still waited on ``o_data``, byte
    dropped. Latency: ~9.5 bit times from the start edge; throughput: one byte per 10 bit times.
    """

    def __init__(self, divisor: int):
        if divisor < 4:
            raise ValueError("UART divisor (clock / baud) must be >= 4")
        self._div = divisor
        super().__init__({"rx": In(1, init=1), "o_data": Out(stream.Signature(8)), "framing_error": Out(1),
                          "overrun": Out(1)})

    def elaborate(self, platform):
        m = Module()
        line = Signal(init=1)                           # idle high, also through the synchronizer's flops
        m.submodules.rx_sync = FFSynchronizer(self.rx, line, init=1)
        timer, bit = Signal(range(self._div)), Signal(range(9))
        shift = Signal(8)
        with m.If(self.o_data.ready):
            m.d.sync += self.o_data.valid.eq(0)
        with m.FSM():
            with m.State("IDLE"):
                with m.If(~line):
                    m.d.sync += timer.eq(self._div // 2 - 1)
                    m.next = "START"
            with m.State("START"):
                m.d.sync += timer.eq(timer - 1)
                with m.If(timer == 0):
                    with m.If(line):
                        m.next = "IDLE"       # high again mid-bit: a glitch, not a start bit
                    with m.Else():
                        m.d.sync += [timer.eq(self._div - 1), bit.eq(0)]
                        m.next = "DATA"
            with m.State("DATA"):
                m.d.sync += timer.eq(timer - 1)
                with m.If(timer == 0):
                    m.d.sync += [timer.eq(self._div - 1), shift.eq(Cat(shift[1:], line)), bit.eq(bit + 1)]
                    with m.If(bit == 7):
                        m.next = "STOP"
            with m.State("STOP"):
                m.d.sync += timer.eq(timer - 1)
                with m.If(timer == 0):
                    with m.If(~line):
                        m.d.sync += self.framing_error.eq(1)
                    with m.Elif(self.o_data.valid & ~self.o_data.ready):
                        m.d.sync += self.overrun.eq(1)
                    with m.Else():
                        m.d.sync += [self.o_data.payload.eq(shift), self.o_data.valid.eq(1)]
                    m.next = "IDLE"
        return m


class UartTx(wiring.Component):
    """8N1 transmitter: byte stream -> ``tx`` pin (idle high). One byte per 10·``divisor`` cycles."""

    def __init__(self, divisor: int):
        if divisor < 4:
            raise ValueError("UART divisor (clock / baud) must be >= 4")
        self._div = divisor
        super().__init__({"i_data": In(stream.Signature(8)), "tx": Out(1, init=1)})

    def elaborate(self, platform):
        m = Module()
        busy = Signal()
        frame = Signal(9)            # data[7:0] then the stop bit, shifted out LSB first
        bits, timer = Signal(range(10)), Signal(range(self._div))
        # The next byte is taken in the stop bit's last cycle, so back-to-back bytes come every 10·divisor cycles
        # (taking it only once idle added a cycle per byte, and a stream at exactly the baud rate overran).
        stop_ends = busy & (bits == 0) & (timer == 0)
        m.d.comb += self.i_data.ready.eq(~busy | stop_ends)
        with m.If(self.i_data.ready & self.i_data.valid):
            m.d.sync += [self.tx.eq(0), frame.eq(Cat(self.i_data.payload, 1)), bits.eq(9),
                         timer.eq(self._div - 1), busy.eq(1)]
        with m.Elif(busy):
            m.d.sync += timer.eq(timer - 1)
            with m.If(timer == 0):
                with m.If(bits == 0):
                    m.d.sync += busy.eq(0)            # the stop bit has had its full bit time
                with m.Else():
                    m.d.sync += [self.tx.eq(frame[0]), frame.eq(frame >> 1), bits.eq(bits - 1),
                                 timer.eq(self._div - 1)]
        return m
