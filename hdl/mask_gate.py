"""Mask gate: forwards the elements of kept tokens only, tagged with their position, and counts them."""
from __future__ import annotations

from amaranth.hdl import Module, Mux, signed
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from .projection import _counter
from .scorer import scored_layout

__all__ = ["MaskGate", "gated_layout", "count_layout"]


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
