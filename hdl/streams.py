"""Fan-out and fan-in of ``amaranth.lib.stream`` ports (payloads are wired by the caller), a stream register and
a two-entry stream buffer."""
from __future__ import annotations

from functools import reduce
from operator import and_

from amaranth.hdl import Module, Shape
from amaranth.lib import stream, wiring
from amaranth.lib.fifo import SyncFIFO
from amaranth.lib.wiring import In, Out

__all__ = ["tee", "join", "StreamRegister", "StreamBuffer"]


def _all(values):
    return reduce(and_, values, 1)


def tee(m, src, *sinks) -> None:
    """Each transfer of ``src`` goes to every sink in the same cycle. A sink's ``valid`` waits for the others'
    ``ready``, so the sinks' ``ready`` must not depend on their ``valid`` (true of FIFOs and idle-state units)."""
    for s in sinks:
        m.d.comb += s.valid.eq(src.valid & _all(o.ready for o in sinks if o is not s))
    m.d.comb += src.ready.eq(_all(s.ready for s in sinks))


def join(m, dst, *srcs) -> None:
    """One transfer of ``dst`` takes one transfer of every source, in the same cycle."""
    both = _all(s.valid for s in srcs)
    m.d.comb += dst.valid.eq(both)
    for s in srcs:
        m.d.comb += s.ready.eq(dst.ready & both)


class StreamRegister(wiring.Component):
    """One pipeline register on a stream of ``shape`` payloads: ``o`` is a register, so a block RAM or a long
    path before ``i`` ends here. One transfer per cycle (``i.ready = ~o.valid | o.ready``), one cycle latency."""

    def __init__(self, shape):
        super().__init__({"i": In(stream.Signature(shape)), "o": Out(stream.Signature(shape))})

    def elaborate(self, platform):
        m = Module()
        m.d.comb += self.i.ready.eq(~self.o.valid | self.o.ready)
        with m.If(self.i.ready):
            m.d.sync += self.o.valid.eq(self.i.valid)
            with m.If(self.i.valid):
                m.d.sync += self.o.payload.eq(self.i.payload)
        return m


class StreamBuffer(wiring.Component):
    """A two-entry FIFO on a stream of ``shape`` payloads: unlike :class:`StreamRegister`, ``i.ready`` comes from
    a register too, so neither the payload path nor the ready path crosses it (a far block RAM's output or a
    consumer's long ready chain ends here). One transfer per cycle, one cycle latency; two entries of registers."""

    def __init__(self, shape):
        self._shape = shape
        super().__init__({"i": In(stream.Signature(shape)), "o": Out(stream.Signature(shape))})

    def elaborate(self, platform):
        m = Module()
        m.submodules.fifo = fifo = SyncFIFO(width=Shape.cast(self._shape).width, depth=2)
        m.d.comb += [fifo.w_data.eq(self.i.payload), fifo.w_en.eq(self.i.valid), self.i.ready.eq(fifo.w_rdy),
                     self.o.payload.eq(fifo.r_data), self.o.valid.eq(fifo.r_rdy), fifo.r_en.eq(self.o.ready)]
        return m
