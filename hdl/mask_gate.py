"""Mask gates: ``MaskGate`` forwards the elements of kept tokens only, tagged with their position, and counts them;
``RowMaskGate`` applies the drop / keymask semantics to whole token rows in front of the transformer."""
from __future__ import annotations

from amaranth.hdl import Module, Mux, Signal, signed
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from .linear import row_layout
from .projection import _counter
from .scorer import scored_layout

__all__ = ["MaskGate", "RowMaskGate", "gated_layout", "count_layout", "token_layout"]


def gated_layout(seq_len: int) -> data.StructLayout:
    return data.StructLayout({"data": signed(8), "first": 1, "last": 1, "pos": range(max(seq_len, 2))})


def count_layout(seq_len: int) -> data.StructLayout:
    return data.StructLayout({"count": range(seq_len + 1)})


class MaskGate(wiring.Component):
    """Compacts the scorer's output into the attention buffer's input (golden: ``atis.golden.mask_gate``).

    Members
    -------
    i_token : In(stream.Signature(scored_layout()))
        Every token's elements with its keep bit. Pruned tokens are consumed and dropped; sequences are
        ``seq_len`` tokens, counted here from the ``last`` flags.
    o_token : Out(stream.Signature(gated_layout(seq_len)))
        Elements of kept tokens, in order, with ``pos`` = the token's position in its sequence (for positional
        terms). Never drops or reorders a kept element under backpressure.
    o_count : Out(stream.Signature(count_layout(seq_len)))
        The number of kept tokens of each sequence, after its last token (a sequence with none kept gives 0).

    Throughput: one element per cycle; latency: combinational on ``o_token`` (valid/payload pass through),
    one cycle to ``o_count``. A sequence end waits while the previous count is still unread.
    """

    def __init__(self, seq_len: int):
        self._n = seq_len
        super().__init__({"i_token": In(stream.Signature(scored_layout())),
                          "o_token": Out(stream.Signature(gated_layout(seq_len))),
                          "o_count": Out(stream.Signature(count_layout(seq_len)))})

    def elaborate(self, platform):
        m = Module()
        n = self._n
        pos, kept = _counter(n, "pos"), _counter(n + 1, "kept")
        t = self.i_token.payload
        seq_end = t.last & (pos == n - 1)
        count_free = ~self.o_count.valid | self.o_count.ready
        forward = t.keep
        m.d.comb += [self.o_token.payload.data.eq(t.data), self.o_token.payload.first.eq(t.first),
                     self.o_token.payload.last.eq(t.last), self.o_token.payload.pos.eq(pos),
                     self.o_token.valid.eq(self.i_token.valid & forward & (count_free | ~seq_end)),
                     self.i_token.ready.eq(Mux(forward, self.o_token.ready, 1) & (count_free | ~seq_end))]
        with m.If(self.o_count.ready):
            m.d.sync += self.o_count.valid.eq(0)
        with m.If(self.i_token.valid & self.i_token.ready & t.last):
            m.d.sync += [pos.eq(pos + 1), kept.eq(kept + t.keep)]
            with m.If(seq_end):
                m.d.sync += [pos.eq(0), kept.eq(0), self.o_count.valid.eq(1),
                             self.o_count.payload.count.eq(kept + t.keep)]
        return m


def token_layout(d: int) -> data.StructLayout:
    """A whole token row for the transformer: its int8 elements, its keep bit, the sequence's last token."""
    return data.StructLayout({"x": data.ArrayLayout(signed(8), d), "keep": 1, "last": 1})


class RowMaskGate(wiring.Component):
    """Applies the mask semantics to whole token rows in front of the encoder (golden:
    ``atis.golden.transformer._prepare``).

    ``drop`` = 1: only kept tokens go on, with ``key`` = 1; the last of them carries ``last``, so the gate holds
    back one kept row until it knows whether another follows. With nothing kept, the sequence's last token goes on
    alone with ``key`` = 0 (the encoder then attends to nothing and pools nothing). ``drop`` = 0 (keymask): every
    token goes on with ``key`` = its keep bit. ``drop`` is sampled with each token; keep it fixed in a sequence.

    Members: ``i_tokens`` (:func:`token_layout`), ``o_rows`` (``hdl.linear.row_layout(d)``), ``drop``.
    Throughput one row per cycle (one extra cycle when the last token is a kept one in drop mode); registered
    output. Never drops or reorders a kept row under backpressure.
    """

    def __init__(self, d: int):
        self._d = d
        super().__init__({"i_tokens": In(stream.Signature(token_layout(d))),
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
