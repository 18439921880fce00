"""Comparator capture: the asynchronous keep pin from the FPAA, synchronized and sampled once per evaluation."""
from __future__ import annotations

from amaranth.hdl import Module, Signal
from amaranth.lib import data, stream, wiring
from amaranth.lib.fifo import SyncFIFOBuffered
from amaranth.lib.wiring import In, Out

__all__ = ["ComparatorCapture", "keep_layout", "INDEX_BITS"]

#: Token index width on the keep stream (wraps modulo 2**16).
INDEX_BITS = 16


def keep_layout() -> data.StructLayout:
    return data.StructLayout({"keep": 1, "index": INDEX_BITS})


class ComparatorCapture(wiring.Component):
    """One keep bit per ``i_evaluate`` pulse, in order, tagged with the token index.

    Members
    -------
    comparator : In(1)
        The FPAA comparator output, asynchronous to the clock: it only ever reaches logic through a 2-flop
        synchronizer, so a pin that toggles near a clock edge yields 0 or 1 (never X) and one bit per evaluation.
    i_evaluate : In(1)
        One-cycle pulse from the sequencer.
    o_ready : Out(1)
        Idle with room for a result: the sequencer may start the update that leads to the next evaluation.
    o_keep : Out(stream.Signature(keep_layout()))
        ``{keep, index}``; buffered (4 deep), honours ``ready``.

    Latency: the synchronized pin is sampled ``wait_cycles + 2`` cycles after the cycle ``i_evaluate`` is high,
    i.e. it reflects the pin as it was ``wait_cycles + 1`` cycles after evaluation (``wait_cycles`` covers the
    comparator's delay); the result is on ``o_keep`` two cycles after that.
    """

    def __init__(self, wait_cycles: int):
        if wait_cycles < 1:
            raise ValueError("wait_cycles must be >= 1")
        self._wait = wait_cycles
        super().__init__({"comparator": In(1), "i_evaluate": In(1), "o_ready": Out(1),
                          "o_keep": Out(stream.Signature(keep_layout()))})

    def elaborate(self, platform):
        m = Module()
        m.submodules.results = results = SyncFIFOBuffered(width=keep_layout().size, depth=4)
        meta, synced = Signal(), Signal()
        m.d.sync += [meta.eq(self.comparator), synced.eq(meta)]
        busy, count = Signal(), Signal(range(self._wait + 2))
        index = Signal(INDEX_BITS)
        entry = Signal(keep_layout())
        m.d.comb += [self.o_ready.eq(~busy & results.w_rdy),
                     entry.keep.eq(synced), entry.index.eq(index), results.w_data.eq(entry),
                     self.o_keep.valid.eq(results.r_rdy), self.o_keep.payload.eq(results.r_data),
                     results.r_en.eq(self.o_keep.ready)]
        with m.If(self.i_evaluate & ~busy):
            m.d.sync += [busy.eq(1), count.eq(self._wait + 1)]
        with m.Elif(busy):
            m.d.sync += count.eq(count - 1)
            with m.If(count == 0):
                m.d.comb += results.w_en.eq(1)
                m.d.sync += [busy.eq(0), index.eq(index + 1)]
        return m
