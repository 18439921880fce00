"""cocotb bench of the stream BFMs (``bfm/stream.py``) on a plain FIFO: :class:`StreamLoop` passes a nested
payload (a struct holding an int8 array and a struct) from ``i_data`` to ``o_data`` through Amaranth's
``SyncFIFOBuffered``. Checked: nothing lost, duplicated, reordered or changed under every pause pattern, dicts and
lists in and out (no hand packing), and reset handling (the source drops ``valid`` and every BFM forgets its queue).
A monitor that follows the source (``StreamMonitor(..., follow=source)``) must see exactly what the independent one
sees.

Built and launched by ``tests/test_bfm_stream.py``.
"""
from __future__ import annotations

import cocotb
from amaranth.hdl import Module
from amaranth.lib import data, fifo, stream, wiring
from amaranth.lib.wiring import In, Out
from cocotb.handle import HierarchyObject
from cocotb.triggers import ClockCycles, ReadOnly, RisingEdge, with_timeout

from atis.cocotb_tests.bfm import StreamBus, StreamMonitor, StreamSink, StreamSource
from atis.cocotb_tests.bfm.pause import make_pause
from atis.cocotb_tests.harness import TbBase
from atis.hdl.layouts import row_layout

__all__ = ["CLOCK_NS", "TOPLEVEL", "WIDTH", "StreamLoop", "TB"]

CLOCK_NS = 10
TOPLEVEL = "stream_loop"
WIDTH = 3                   # int8 elements per row


class StreamLoop(wiring.Component):
    """``i_data`` -> 4-deep ``SyncFIFOBuffered`` -> ``o_data``, payload ``layout``. Latency 2 cycles (the FIFO's
    buffered output); throughput one transfer per cycle; both ports honour backpressure."""

    def __init__(self, layout: data.Layout):
        self._layout = layout
        super().__init__({"i_data": In(stream.Signature(layout)), "o_data": Out(stream.Signature(layout))})

    def elaborate(self, platform) -> Module:
        m = Module()
        m.submodules.fifo = buf = fifo.SyncFIFOBuffered(width=self._layout.size, depth=4)
        m.d.comb += [buf.w_data.eq(self.i_data.payload), buf.w_en.eq(self.i_data.valid),
                     self.i_data.ready.eq(buf.w_rdy),
                     self.o_data.payload.eq(buf.r_data), self.o_data.valid.eq(buf.r_rdy),
                     buf.r_en.eq(self.o_data.ready)]
        return m


class TB(TbBase):
    """Source and input monitor on ``i_data``, sink on ``o_data``, all with the bench's reset."""
    CLOCK_NS = CLOCK_NS

    def __init__(self, dut: HierarchyObject):
        super().__init__(dut)
        layout = row_layout(WIDTH)
        bus = StreamBus.from_prefix(dut, "i_data")
        self.source = StreamSource(bus, dut.clk, dut.rst, layout=layout)
        self.accepted = StreamMonitor(bus, dut.clk, dut.rst, layout=layout)
        self.followed = StreamMonitor(bus, dut.clk, dut.rst, layout=layout, follow=self.source)   # same, cheaper
        self.sink = StreamSink(StreamBus.from_prefix(dut, "o_data"), dut.clk, dut.rst, layout=layout)

    def rows(self, n: int) -> list[dict]:
        """Random rows: full-range int8 elements (the sign bit exercised) and random tag bits."""
        return [{"x": self.rng.integers(-128, 128, size=WIDTH).tolist(),
                 "tag": {"key": int(self.rng.integers(2)), "last": int(i == n - 1)}} for i in range(n)]

    async def recv(self, n: int) -> list[dict]:
        return [await with_timeout(self.sink.recv(), 100 * n * CLOCK_NS, "ns") for _ in range(n)]

    async def round_trip(self, rows: list[dict]) -> None:
        """Send ``rows``; the sink and the input monitor must see exactly them, and every queue end empty."""
        for row in rows:
            self.source.send_nowait(row)
        assert await self.recv(len(rows)) == rows
        await self.source.wait()
        assert [self.accepted.recv_nowait() for _ in range(self.accepted.count())] == rows
        assert [self.followed.recv_nowait() for _ in range(self.followed.count())] == rows
        await ClockCycles(self.dut.clk, 10)
        self.check_clean()

    def check_clean(self) -> None:
        for bfm in (self.source, self.accepted, self.followed, self.sink):
            assert not bfm.protocol_errors, bfm.protocol_errors[:3]
        assert self.sink.empty() and self.accepted.empty() and self.followed.empty() and self.source.idle()


@cocotb.test()
@cocotb.parametrize(source=["none", "cycle", "random"], sink=["none", "cycle", "random"])
async def test_nested_payloads_survive_gaps_and_backpressure(dut: HierarchyObject, source: str,
                                                             sink: str) -> None:
    """200 rows under each source × sink pause pattern: the sink and the input monitor see exactly the rows sent."""
    tb = TB(dut)
    await tb.reset()
    tb.source.set_pause_generator(make_pause(source, tb.seed + 1))
    tb.sink.set_pause_generator(make_pause(sink, tb.seed + 2))
    rows = tb.rows(200)
    await tb.round_trip(rows)
    assert tb.source.transfers == tb.sink.transfers == len(rows)


@cocotb.test()
async def test_reset_flushes_every_bfm(dut: HierarchyObject) -> None:
    """Reset with rows queued, in the FIFO and at the sink: the source drops ``valid`` at once and stays idle,
    the sink and monitor queues empty; after release only the rows sent afterwards arrive."""
    tb = TB(dut)
    await tb.reset()
    tb.sink.set_pause_generator(make_pause("cycle", tb.seed))
    for row in tb.rows(50):
        tb.source.send_nowait(row)
    await ClockCycles(dut.clk, 20)
    assert tb.sink.count() and tb.accepted.count() and tb.followed.count() and not tb.source.idle()
    dut.rst.value = 1
    await RisingEdge(dut.clk)
    await ReadOnly()
    assert dut.i_data__valid.value == 0, "source kept valid up during reset"
    assert tb.source.idle() and tb.sink.empty() and tb.accepted.empty() and tb.followed.empty(), \
        "a BFM kept items through reset"
    await ClockCycles(dut.clk, 3)
    dut.rst.value = 0
    await RisingEdge(dut.clk)
    await tb.round_trip(tb.rows(10))
