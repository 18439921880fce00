"""One encoder block of the small int8 transformer; golden: ``atis.golden.transformer._block_int``.

Dataflow (one token row per transfer, every arrow a stream)::

    x ─┬─> Linear[Wq|Wk|Wv] ─> MultiHeadAttention ─> Linear Wo ─> AddNorm ─> y
       └─────────────── skip FIFO (a whole sequence) ─────────────────┘
    y ─┬─> Linear W1 relu ─> Linear W2 ─> AddNorm ─> x'
       └──────── skip FIFO ─────────────────┘

Load chain order: [Wq|Wk|Wv] (shifts q, k, v), score shift s, Wo (o), W1 (f1), W2 (f2).
"""
from __future__ import annotations

from amaranth.hdl import Cat, Module, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.fifo import SyncFIFOBuffered
from amaranth.lib.wiring import In, Out, connect

from atis.design import TransformerSpec

from .attention import AttentionHead
from .common import SHIFT_BITS, sat
from .layouts import TAG, load_layout, row_layout
from .linear import Linear, LinearMode
from .load_chain import load_segment
from .streams import StreamRegister, join, tee

__all__ = ["AddNorm", "MultiHeadAttention", "EncoderBlock"]


def _stream_ports(d_in: int, d_out: int) -> dict:
    return {"i_rows": In(stream.Signature(row_layout(d_in))), "o_rows": Out(stream.Signature(row_layout(d_out))),
            "i_load": In(stream.Signature(load_layout())), "o_load": Out(stream.Signature(load_layout()))}


class AddNorm(wiring.Component):
    """``meannorm(sat8(branch + skip))`` per row, ``meannorm(y) = sat8(y − ⌊Σy/d⌋)`` (d a power of two, so the
    mean is an arithmetic shift). The row leaves with the skip row's tag. One row per cycle, three cycles latency:
    y and partial sums of 8 of its elements are registered, then Σy, then the output, so no cycle holds more than
    the d adds and one 8-input sum, the 8-input sum of the partial sums, or the d subtracts (at d = 64 the
    one-cycle version was a 75 MHz critical path, and Yosys 0.70's ABC9 mapping of it for the ECP5 failed an
    assertion, as it also did for a four-stage version and a version without clock enables). The stages advance
    together whenever the output is free."""

    def __init__(self, d: int):
        if d & (d - 1):
            raise ValueError(f"AddNorm needs a power-of-two width, not {d}")
        self._d = d
        super().__init__({"i_branch": In(stream.Signature(row_layout(d))),
                          "i_skip": In(stream.Signature(row_layout(d))),
                          "o_rows": Out(stream.Signature(row_layout(d)))})

    def elaborate(self, platform):
        m = Module()
        d = self._d
        b, s = self.i_branch.payload.x, self.i_skip.payload.x
        out = self.o_rows
        advance = ~out.valid | out.ready
        take = self.i_branch.valid & self.i_skip.valid & advance
        m.d.comb += [self.i_branch.ready.eq(take), self.i_skip.ready.eq(take)]
        y0 = [Signal(range(-128, 128), name=f"y0_{i}") for i in range(d)]
        y1 = [Signal(range(-128, 128), name=f"y1_{i}") for i in range(d)]
        y2 = [Signal(range(-128, 128), name=f"y2_{i}") for i in range(d)]
        m.d.comb += [y0[i].eq(sat(b[i] + s[i])) for i in range(d)]
        g = min(8, d)
        parts = [Signal(range(-128 * g, 128 * g), name=f"part{k}") for k in range(d // g)]
        valid1, valid2 = Signal(), Signal()
        tag1, tag2 = Signal(TAG), Signal(TAG)
        total = Signal(range(-128 * d, 128 * d))
        with m.If(advance):
            m.d.sync += [valid1.eq(take), valid2.eq(valid1), out.valid.eq(valid2),
                         tag1.eq(self.i_skip.payload.tag), tag2.eq(tag1), out.payload.tag.eq(tag2),
                         total.eq(sum(parts))]
            m.d.sync += [y1[i].eq(y0[i]) for i in range(d)]
            m.d.sync += [p.eq(sum(y0[k * g:(k + 1) * g])) for k, p in enumerate(parts)]
            m.d.sync += [y2[i].eq(y1[i]) for i in range(d)]
            mean = total >> (d.bit_length() - 1)        # floor division by d
            m.d.sync += [out.payload.x[i].eq(sat(y2[i] - mean)) for i in range(d)]
        return m


class MultiHeadAttention(wiring.Component):
    """``heads`` AttentionHeads side by side on the [Q|K|V] rows of a sequence (each takes its dh columns).

    ``i_rows`` carries [Q|K|V] (3d) with the token's tag; ``o_rows`` the concatenated head outputs (tag ``last``
    only: the encoder takes ``key`` from its skip path). The heads see the same n_q, n_k, so they run in lock
    step. ``busy`` = any head computing; ``cycles`` = busy cycles of the latest sequence. Load segment: 1 byte,
    the score shift.
    """

    def __init__(self, spec: TransformerSpec):
        self._spec = spec
        super().__init__({**_stream_ports(3 * spec.d, spec.d), "busy": Out(1), "cycles": Out(32)})

    def elaborate(self, platform):
        m = Module()
        s = self._spec
        d, H, dh = s.d, s.heads, s.dh
        heads = [AttentionHead(max_len=s.max_len, dh=dh, lanes=min(s.lanes, dh)) for _ in range(H)]
        for h, head in enumerate(heads):
            m.submodules[f"head{h}"] = head
        take, _ = load_segment(m, self.i_load, self.o_load, 1)
        shift = Signal(SHIFT_BITS)
        with m.If(take):
            m.d.sync += shift.eq(self.i_load.payload.byte)

        x, tag = self.i_rows.payload.x, self.i_rows.payload.tag
        tee(m, self.i_rows, *(head.i_qkv for head in heads))
        join(m, self.o_rows, *(head.o_rows for head in heads))
        for h, head in enumerate(heads):
            p = head.i_qkv.payload
            cols = range(h * dh, (h + 1) * dh)
            m.d.comb += [head.shift.eq(shift), p.key.eq(tag.key), p.last.eq(tag.last)]
            for part, base in (("q", 0), ("k", d), ("v", 2 * d)):
                m.d.comb += [getattr(p, part)[i].eq(x[base + c]) for i, c in enumerate(cols)]
        m.d.comb += [self.o_rows.payload.x.eq(Cat(head.o_rows.payload.a for head in heads)),
                     self.o_rows.payload.tag.last.eq(heads[0].o_rows.payload.last),
                     self.o_rows.payload.tag.key.eq(0)]

        busy = Signal()
        m.d.comb += [busy.eq(Cat(head.busy for head in heads).any()), self.busy.eq(busy)]
        running = Signal(32)
        with m.If(busy):
            m.d.sync += running.eq(running + 1)
        with m.If(self.o_rows.valid & self.o_rows.ready & self.o_rows.payload.tag.last):
            m.d.sync += [self.cycles.eq(running + busy), running.eq(0)]
        return m


class EncoderBlock(wiring.Component):
    """One encoder block over sequences of up to ``spec.max_len`` rows of width ``spec.d`` (see the module
    docstring).

    Members: ``i_rows``/``o_rows`` token rows with tags (same count out as in, same order); ``i_load``/``o_load``
    the load chain; ``attention_busy``, ``attention_cycles`` from the attention core. One sequence is in the
    attention at a time; the skip FIFO holds ``max_len + 2`` rows, so a whole sequence fits while it waits.
    """

    def __init__(self, spec: TransformerSpec):
        self._spec = spec
        super().__init__({**_stream_ports(spec.d, spec.d), "attention_busy": Out(1), "attention_cycles": Out(32)})

    def elaborate(self, platform):
        m = Module()
        d, f, L = self._spec.d, self._spec.ffn, self._spec.lanes
        row = row_layout(d)
        m.submodules.skip1 = skip1 = SyncFIFOBuffered(width=row.size, depth=self._spec.max_len + 2)
        m.submodules.skip2 = skip2 = SyncFIFOBuffered(width=row.size, depth=4)
        m.submodules.qkv = qkv = Linear(fan_in=d, fan_out=3 * d, lanes=min(L, d), groups=3)
        m.submodules.mha = mha = MultiHeadAttention(self._spec)
        m.submodules.wo = wo = Linear(fan_in=d, fan_out=d, lanes=min(L, d))
        m.submodules.norm1 = norm1 = AddNorm(d)
        m.submodules.w1 = w1 = Linear(fan_in=d, fan_out=f, lanes=min(L, d), mode=LinearMode.RELU)
        m.submodules.w2 = w2 = Linear(fan_in=f, fan_out=d, lanes=min(L, f))
        m.submodules.norm2 = norm2 = AddNorm(d)

        tee(m, self.i_rows, skip1.w_stream, qkv.i_rows)
        m.d.comb += [skip1.w_stream.payload.eq(self.i_rows.payload), qkv.i_rows.payload.eq(self.i_rows.payload)]
        connect(m, qkv.o_rows, mha.i_rows)
        connect(m, mha.o_rows, wo.i_rows)
        connect(m, wo.o_rows, norm1.i_branch)
        # The skip FIFOs' block RAM data (5.6 ns clock-to-output on the ECP5) is registered before AddNorm's adds.
        m.submodules.skip1_reg = skip1_reg = StreamRegister(row)
        m.submodules.skip2_reg = skip2_reg = StreamRegister(row)
        m.d.comb += [skip1_reg.i.valid.eq(skip1.r_stream.valid), skip1_reg.i.payload.eq(skip1.r_stream.payload),
                     skip1.r_stream.ready.eq(skip1_reg.i.ready)]
        connect(m, skip1_reg.o, norm1.i_skip)

        tee(m, norm1.o_rows, skip2.w_stream, w1.i_rows)
        m.d.comb += [skip2.w_stream.payload.eq(norm1.o_rows.payload), w1.i_rows.payload.eq(norm1.o_rows.payload)]
        connect(m, w1.o_rows, w2.i_rows)
        connect(m, w2.o_rows, norm2.i_branch)
        m.d.comb += [skip2_reg.i.valid.eq(skip2.r_stream.valid), skip2_reg.i.payload.eq(skip2.r_stream.payload),
                     skip2.r_stream.ready.eq(skip2_reg.i.ready)]
        connect(m, skip2_reg.o, norm2.i_skip)
        connect(m, norm2.o_rows, wiring.flipped(self.o_rows))

        chain = [qkv, mha, wo, w1, w2]
        connect(m, wiring.flipped(self.i_load), chain[0].i_load)
        for a, b in zip(chain, chain[1:]):
            connect(m, a.o_load, b.i_load)
        connect(m, chain[-1].o_load, wiring.flipped(self.o_load))
        m.d.comb += [self.attention_busy.eq(mha.busy), self.attention_cycles.eq(mha.cycles)]
        return m
