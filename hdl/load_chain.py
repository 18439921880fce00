"""The weight load chain: one byte stream that fills the memories of every unit on it, in chain order.

A load is one stream of bytes (:func:`atis.hdl.layouts.load_layout`), ``first`` on its first byte. Each unit on
the chain takes the next bytes its segment needs (their order: :func:`atis.golden.transformer.load_bytes`) and
passes the rest on, marking the first byte it passes with ``first`` for the next unit. Weights are therefore not
elaborated into the design: one build runs any model of its shape, shifts included.
"""
from __future__ import annotations

from amaranth.hdl import Module, Mux, Signal

__all__ = ["load_segment"]


def load_segment(m: Module, i_load, o_load, length: int):
    """Claim ``length`` bytes of the load chain; returns (a byte of ours this cycle, its index in our segment).

    A ``first`` byte restarts the segment; after ``length`` bytes the rest pass through to ``o_load``, which is a
    register that takes a byte only while empty (one byte per 2 cycles down the chain): neither ``valid`` nor
    ``ready`` passes through a segment combinationally (the chain through every unit was the d = 64 ECP5 build's
    critical path). Bytes reach the next unit a cycle or two after they leave this one's input.
    """
    count = Signal(range(length + 1), init=length)     # a load starts only with a `first` byte
    handed = Signal(init=1)                            # our successor has had its `first` byte
    first = i_load.payload.first
    mine = first | (count < length)
    index = Signal(range(max(length, 2)))
    take = Signal()
    m.d.comb += [index.eq(Mux(first, 0, count)), take.eq(i_load.valid & mine),
                 i_load.ready.eq(mine | ~o_load.valid)]
    with m.If(o_load.ready):
        m.d.sync += o_load.valid.eq(0)
    with m.If(i_load.valid & ~mine & ~o_load.valid):
        m.d.sync += [o_load.valid.eq(1), o_load.payload.byte.eq(i_load.payload.byte),
                     o_load.payload.first.eq(~handed), handed.eq(1)]
    with m.If(take):
        m.d.sync += [count.eq(index + 1), handed.eq(0)]
    return take, index
