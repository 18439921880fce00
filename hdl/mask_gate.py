"""The row mask gate: applies the drop / keymask semantics to whole token rows in front of the transformer."""
from __future__ import annotations

from amaranth.hdl import Module, Signal, signed
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from .layouts import row_layout, token_row_layout

__all__ = ["RowMaskGate"]


class RowMaskGate(wiring.Component):
    """Applies the mask semantics to whole token rows in front of the encoder (golden:
    ``atis.golden.transformer._prepare``).

    ``drop`` = 1: only kept tokens go on, with ``key`` = 1; the last of them carries ``last``, so the gate holds
    back one kept row until it knows whether another follows. With nothing kept, the sequence's last token goes on
    alone with ``key`` = 0 (the encoder then attends to nothing and pools nothing). ``drop`` = 0 (keymask): every
    token goes on with ``key`` = its keep bit. ``drop`` is sampled with each token; keep it fixed in a sequence.

    Members: ``i_tokens`` (``token_row_layout(d)``), ``o_rows`` (``row_layout(d)``), ``drop``.
    Throughput one row per cycle (one extra cycle when the last token is a kept one in drop mode); registered
    output. Never drops or reorders a kept row under backpressure.
    """

    def __init__(self, d: int):
        self._d = d
        super().__init__({"i_tokens": In(stream.Signature(token_row_layout(d))),
                          "o_rows": Out(stream.Signature(row_layout(d))), "drop": In(1)})

    def elaborate(self, platform):
        m = Module()
        t, out = self.i_tokens.payload, self.o_rows
        held = Signal(data.ArrayLayout(signed(8), self._d))
        held_valid, held_final = Signal(), Signal()      # a kept row waits; it is known to be the last one
        out_free = ~out.valid | out.ready
        with m.If(out.ready):
            m.d.sync += out.valid.eq(0)

        def emit(x, key, last):
            m.d.sync += [out.valid.eq(1), out.payload.x.eq(x), out.payload.tag.key.eq(key),
                         out.payload.tag.last.eq(last)]

        with m.If(held_final):
            with m.If(out_free):
                emit(held, 1, 1)
                m.d.sync += [held_valid.eq(0), held_final.eq(0)]
        with m.Else():
            m.d.comb += self.i_tokens.ready.eq(out_free)
            with m.If(self.i_tokens.valid & out_free):
                with m.If(~self.drop):
                    emit(t.x, t.keep, t.last)
                with m.Elif(t.keep & t.last & ~held_valid):
                    emit(t.x, 1, 1)
                with m.Elif(t.keep):
                    with m.If(held_valid):
                        emit(held, 1, 0)
                    m.d.sync += [held.eq(t.x), held_valid.eq(1), held_final.eq(t.last)]
                with m.Elif(t.last):
                    with m.If(held_valid):
                        emit(held, 1, 1)
                        m.d.sync += held_valid.eq(0)
                    with m.Else():
                        emit(t.x, 0, 1)
        return m
