"""cocotb bench of the UART BFMs (``bfm/uart.py``), needing no RTL of its own: :class:`UartLoop` carries the
source's line to one sink over a plain wire and to another through the RTL receiver and transmitter
(``atis.hdl.uart``: ``UartRx`` -> ``UartTx``), which proves the BFMs' framing and timing against the real ones.

Built and launched by ``tests/test_bfm_uart.py`` (environment: ``ATIS_BENCH_CONFIG``, ``ATIS_BENCH_SEED``,
``ATIS_BENCH_METRICS``, read by :class:`atis.cocotb_tests.harness.BenchEnv`).
"""
from __future__ import annotations

import cocotb
from amaranth.hdl import Module
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out
from cocotb.handle import HierarchyObject
from cocotb.triggers import Timer, with_timeout

from atis.cocotb_tests.bfm.uart import UartFramingError, UartSink, UartSource
from atis.cocotb_tests.harness import TbBase
from atis.hdl.uart import UartRx, UartTx

__all__ = ["CLOCK_NS", "DIVISOR", "TOPLEVEL", "UartLoop", "TB"]

CLOCK_NS = 10
#: Clock cycles per bit: the smallest even divisor well above UartRx's minimum of 4, so a bench stays short.
DIVISOR = 16
TOPLEVEL = "uart_loop"


class UartLoop(wiring.Component):
    """``line_in`` -> ``line_wire`` (a wire) and ``line_in`` -> UartRx -> UartTx -> ``line_echo``, with the
    receiver's sticky ``framing_error``/``overrun``. Latency of the echo: ~10.5 bit times (receive, retransmit)."""

    def __init__(self, divisor: int):
        self._div = divisor
        super().__init__({"line_in": In(1, init=1), "line_wire": Out(1, init=1), "line_echo": Out(1, init=1),
                          "framing_error": Out(1), "overrun": Out(1)})

    def elaborate(self, platform) -> Module:
        m = Module()
        m.submodules.rx = rx = UartRx(self._div)
        m.submodules.tx = tx = UartTx(self._div)
        wiring.connect(m, rx.o_data, tx.i_data)
        m.d.comb += [rx.rx.eq(self.line_in), self.line_wire.eq(self.line_in), self.line_echo.eq(tx.tx),
                     self.framing_error.eq(rx.framing_error), self.overrun.eq(rx.overrun)]
        return m


class TB(TbBase):
    """A UartSource on ``line_in``; UartSinks on the wire and on the RTL echo; all at DIVISOR cycles per bit."""
    CLOCK_NS = CLOCK_NS

    def __init__(self, dut: HierarchyObject, *, stop_bits: float = 1, source_bit_ns: float | None = None,
                 with_reset: bool = False):
        super().__init__(dut)
        reset = dut.rst if with_reset else None
        timing = {"bit_cycles": DIVISOR, "clock_ns": CLOCK_NS}
        source_timing = {"bit_ns": source_bit_ns} if source_bit_ns is not None else timing
        self.source = UartSource(dut.line_in, stop_bits=stop_bits, reset=reset, **source_timing)
        self.wire = UartSink(dut.line_wire, reset=reset, **timing)
        self.echo = UartSink(dut.line_echo, reset=reset, **timing)
        self.frame_ns = 10 * DIVISOR * CLOCK_NS

    def random_bytes(self, n: int) -> bytes:
        return bytes(self.rng.integers(0, 256, size=n, dtype=int).tolist())

    async def recv_all(self, sink: UartSink, n: int) -> bytes:
        return await with_timeout(sink.recv_bytes(n), (n + 4) * 2 * self.frame_ns, "ns")

    def check_clean(self) -> None:
        for bfm in (self.wire, self.echo):
            assert not bfm.protocol_errors, bfm.protocol_errors[:3]
            assert bfm.empty(), f"{bfm.count()} unexpected bytes on {bfm.name}"
        assert self.dut.framing_error.value == 0 and self.dut.overrun.value == 0


@cocotb.test()
async def test_bytes_round_trip_over_a_wire(dut: HierarchyObject) -> None:
    """256 random bytes back to back (1 stop bit, the line never idles): every one arrives, in order, on time."""
    tb = TB(dut)
    await tb.reset()
    data = tb.random_bytes(256)
    start = tb.elapsed.ns()
    tb.source.send_nowait(data)
    assert await tb.recv_all(tb.wire, len(data)) == data
    await tb.source.wait()
    sent_ns = tb.elapsed.ns() - start
    assert sent_ns == len(data) * tb.frame_ns, f"{sent_ns} ns for {len(data)} frames of {tb.frame_ns} ns"
    assert tb.wire.false_starts == 0
    tb.record_metric("uart_wire", {"bytes": len(data), "ns_per_frame": sent_ns / len(data)})


@cocotb.test()
async def test_bytes_round_trip_through_the_rtl_uart(dut: HierarchyObject) -> None:
    """256 random bytes back to back (1 stop bit) through UartRx -> UartTx: the RTL receives and retransmits each
    one at the same pace, the sink decodes it. (UartTx used to take one cycle more than 10 bit times per byte,
    which overran the receiver's one-byte buffer after 10·DIVISOR bytes.)"""
    tb = TB(dut, stop_bits=1)
    await tb.reset()
    data = tb.random_bytes(256)
    tb.source.send_nowait(data)
    assert await tb.recv_all(tb.echo, len(data)) == data
    assert await tb.recv_all(tb.wire, len(data)) == data
    tb.check_clean()
    tb.record_metric("uart_rtl", {"bytes": len(data), "frames_echoed": tb.echo.frames})


@cocotb.test()
async def test_sink_tolerates_a_slow_source(dut: HierarchyObject) -> None:
    """A source 3 % slow (the last sample lands 0.285 bit late): both the BFM and the RTL still read every byte."""
    tb = TB(dut, stop_bits=2, source_bit_ns=DIVISOR * CLOCK_NS * 1.03)
    await tb.reset()
    data = tb.random_bytes(64)
    tb.source.send_nowait(data)
    assert await tb.recv_all(tb.echo, len(data)) == data
    assert await tb.recv_all(tb.wire, len(data)) == data
    tb.check_clean()


@cocotb.test()
async def test_corrupted_stop_bit_is_reported(dut: HierarchyObject) -> None:
    """A frame whose stop bit is 0: the sink raises UartFramingError in its place and records it; the RTL receiver
    agrees (sticky framing_error, byte dropped); the frames around it are unharmed."""
    tb = TB(dut)
    await tb.reset()
    tb.source.send_nowait(b"\x55")
    tb.source.send_nowait(b"\xa5", stop_bit=0)
    tb.source.send_nowait(b"\x5a")
    assert await tb.recv_all(tb.wire, 1) == b"\x55"
    try:
        await with_timeout(tb.wire.recv(), 4 * tb.frame_ns, "ns")
    except UartFramingError as e:
        assert e.byte == 0xA5, f"framing error reported for {e.byte:#04x}"
    else:
        raise AssertionError("a stop bit of 0 was not reported")
    assert await tb.recv_all(tb.wire, 1) == b"\x5a"
    assert len(tb.wire.protocol_errors) == 1 and "framing" in tb.wire.protocol_errors[0], tb.wire.protocol_errors
    assert await tb.recv_all(tb.echo, 2) == b"\x55\x5a", "the RTL receiver should drop the corrupted byte"
    assert dut.framing_error.value == 1, "UartRx did not flag the stop bit of 0"
    assert not tb.echo.protocol_errors and tb.echo.empty()


@cocotb.test()
async def test_reset_flushes_source_and_sinks(dut: HierarchyObject) -> None:
    """Reset in the middle of a frame: the source idles the line and forgets its queue, the sinks forget the cut
    frame; after reset the next bytes arrive alone."""
    tb = TB(dut, with_reset=True)
    await tb.reset()
    tb.source.send_nowait(tb.random_bytes(8))
    await Timer(2.5 * tb.frame_ns, "ns")                 # mid-way through the third frame
    dut.rst.value = 1
    await Timer(2 * CLOCK_NS, "ns")
    assert tb.source.idle() and dut.line_in.value == 1, "source still busy or line not idle during reset"
    assert tb.wire.empty() and tb.echo.empty(), "sinks kept bytes through reset"
    await Timer(tb.frame_ns, "ns")
    dut.rst.value = 0
    await Timer(tb.frame_ns, "ns")
    tb.source.send_nowait(b"\xc3\x3c")
    assert await tb.recv_all(tb.wire, 2) == b"\xc3\x3c"
    assert await tb.recv_all(tb.echo, 2) == b"\xc3\x3c"
    await Timer(tb.frame_ns, "ns")
    tb.check_clean()
