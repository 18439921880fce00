"""Comparator capture: the asynchronous keep pin from the FPAA, synchronized and sampled once per evaluation."""
from __future__ import annotations

from amaranth.hdl import Module, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.cdc import FFSynchronizer
from amaranth.lib.fifo import SyncFIFOBuffered
from amaranth.lib.wiring import In, Out

from .layouts import INDEX_BITS, keep_layout

__all__ = ["ComparatorCapture"]


class ComparatorCapture(wiring.Component):
    """One keep bit per ``i_evaluate`` pulse, in order, tagged with the token index.

    Members
    -------
    comparator : In(comparators)
        The FPAA comparator outputs (one per replicated head group), asynchronous to the clock: they only reach
        logic through 2-flop synchronizers, so a pin that toggles near a clock edge yields 0 or 1 (never X) and
        there is one result per evaluation. ``keep`` = at least ``consensus_k`` of them high (seed §5.2).
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

    def __init__(self, *, wait_cycles: int, comparators: int = 1, consensus_k: int = 1):
        if wait_cycles < 1:
            raise ValueError(f"capture wait_cycles = {wait_cycles!r}: must be >= 1")
        if not 1 <= consensus_k <= comparators:
            raise ValueError(f"capture consensus_k = {consensus_k!r}: must be in 1..comparators ({comparators})")
        self._wait, self._k = wait_cycles, consensus_k
        super().__init__({"comparator": In(comparators), "i_evaluate": In(1), "o_ready": Out(1),
                          "o_keep": Out(stream.Signature(keep_layout()))})

    def elaborate(self, platform):
        m = Module()
        m.submodules.results = results = SyncFIFOBuffered(width=keep_layout().size, depth=4)
        n = len(self.comparator)
        synced = Signal(n)
        m.submodules.comparator_sync = FFSynchronizer(self.comparator, synced)   # 2 flops: the pin is asynchronous
        votes = sum((synced[i] for i in range(1, n)), synced[0].as_unsigned())
        busy, count = Signal(), Signal(range(self._wait + 2))
        index = Signal(INDEX_BITS)
        entry = Signal(keep_layout())
        # Not ready in the cycle an evaluation arrives either: busy is set only after it, and an update the
        # sequencer starts then could bring the next evaluation while this one is still being sampled (lost).
        m.d.comb += [self.o_ready.eq(~busy & ~self.i_evaluate & results.w_rdy),
                     entry.keep.eq(votes >= self._k), entry.index.eq(index), results.w_data.eq(entry),
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
