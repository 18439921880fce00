"""The small int8 transformer after the scorer: mask gate -> encoder blocks -> pooling over kept -> classifier.

Golden: ``atis.golden.transformer.forward_int``; the load stream: ``atis.golden.transformer.load_bytes``.
"""
from __future__ import annotations

from amaranth.hdl import Cat, Module, Mux, Signal, signed
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out, connect

from atis.design import TransformerSpec

from .common import counter
from .encoder import EncoderBlock
from .layouts import load_layout, result_layout, row_layout, token_row_layout
from .linear import Linear, LinearMode
from .mask_gate import RowMaskGate

__all__ = ["Pool", "Transformer"]


class Pool(wiring.Component):
    """``p = ⌊Σ_key x / k⌋`` per dimension over one sequence's rows (``p = 0`` when no row is a key).

    Members: ``i_rows`` (every row of a sequence, ``last`` on the final one), ``o_rows`` (one row per sequence,
    tag ``last``), ``kept`` (k of the row on ``o_rows``). Cost: one cycle per input row, one to add the last,
    then d signed floor divisions of ``sum_bits + 3`` cycles each (fetch the dimension's sum into a register,
    prepare, ``sum_bits`` cycles of restoring division of |Σ| by k, sign fixed up for the floor).
    """

    def __init__(self, *, d: int, max_len: int):
        self._d, self._n = d, max_len
        self.sum_bits = 8 + max_len.bit_length()            # |Σ| ≤ 128·max_len
        super().__init__({"i_rows": In(stream.Signature(row_layout(d))),
                          "o_rows": Out(stream.Signature(row_layout(d))), "kept": Out(range(max_len + 1))})

    def elaborate(self, platform):
        m = Module()
        d, B = self._d, self.sum_bits
        sums = Signal((B + 1) * d)                           # signed sums, dimension i in bits [(B+1)i, (B+1)(i+1))
        count = Signal(range(self._n + 1))
        p = Signal(8 * d)
        dim, step = counter(d, "dim"), counter(B, "step")
        num, quo, rem = Signal(B), Signal(B), Signal(B + 1)
        cur = Signal(signed(B + 1))                          # the sum of dimension `dim`, registered
        x = self.i_rows.payload.x
        # A taken key row is registered (0 otherwise) and added in the next cycle, so the sums' only control is
        # the registered `clear` (a new sequence): no handshake or state decode reaches their ~(B+1)·d flip-flops.
        row = Signal(8 * d)
        clear = Signal(init=1)
        m.d.sync += [row.eq(0), clear.eq(0),
                     sums.eq(Cat(*((Mux(clear, 0, sums[(B + 1) * i:(B + 1) * (i + 1)].as_signed())
                                    + row[8 * i:8 * (i + 1)].as_signed())[:B + 1] for i in range(d))))]
        with m.If(clear):
            m.d.sync += count.eq(0)
        with m.FSM():
            with m.State("SUM"):
                m.d.comb += self.i_rows.ready.eq(1)
                with m.If(self.i_rows.valid):
                    with m.If(self.i_rows.payload.tag.key):
                        m.d.sync += [row.eq(x), count.eq(Mux(clear, 0, count) + 1)]
                    with m.If(self.i_rows.payload.tag.last):
                        m.d.sync += [dim.eq(0), self.kept.eq(Mux(clear, 0, count) + self.i_rows.payload.tag.key)]
                        m.next = "FLUSH"
            with m.State("FLUSH"):                         # the last row goes into the sums
                m.next = "FETCH"
            with m.State("FETCH"):
                m.d.sync += cur.eq(sums.word_select(dim, B + 1).as_signed())
                m.next = "PREPARE"
            with m.State("PREPARE"):                       # floor(s/k) = −⌈|s|/k⌉ for s < 0: divide |s| + k − 1
                m.d.sync += [num.eq(Mux(cur < 0, -cur + self.kept - 1, cur)), quo.eq(0), rem.eq(0), step.eq(0)]
                m.next = "DIVIDE"
            with m.State("DIVIDE"):                        # restoring division, one quotient bit per cycle
                trial = Signal(B + 1)
                m.d.comb += trial.eq(Cat(num[B - 1], rem[:B]))
                fits = (self.kept != 0) & (trial >= self.kept)
                m.d.sync += [num.eq(num << 1), rem.eq(Mux(fits, trial - self.kept, trial)),
                             quo.eq(Cat(fits, quo[:B - 1])), step.eq(step + 1)]
                with m.If(step == B - 1):
                    m.next = "NEXT"
            with m.State("NEXT"):
                mean = Mux(cur < 0, -quo, quo)
                m.d.sync += [p.eq(Cat(p[8:], mean[:8])), dim.eq(dim + 1)]
                m.next = "FETCH"
                with m.If(dim == d - 1):
                    m.next = "EMIT"
            with m.State("EMIT"):
                m.d.comb += [self.o_rows.valid.eq(1), self.o_rows.payload.x.eq(p), self.o_rows.payload.tag.last.eq(1),
                             self.o_rows.payload.tag.key.eq(self.kept != 0)]
                with m.If(self.o_rows.ready):
                    m.d.sync += clear.eq(1)
                    m.next = "SUM"
        return m


class Transformer(wiring.Component):
    """Logits of sequences of token rows, bit-exact with ``forward_int``; weights come over the load chain.

    Members
    -------
    i_tokens : In(stream.Signature(token_row_layout(d)))
        Every token of a sequence with its keep bit (``last`` on the final one; up to ``max_len`` tokens). A new
        sequence is taken only after the previous result has left, so the cycle counts belong to one sequence.
    drop : In(1)
        Mask semantics: 1 = drop, 0 = keymask (see ``RowMaskGate``).
    i_load : In(stream.Signature(load_layout()))
        The weight bytes of :func:`atis.golden.transformer.load_bytes`, ``first`` on the first; bytes past the
        end are ignored. Load between sequences.
    o_result : Out(stream.Signature(result_layout(classes, max_len)))
        One per sequence: logits, kept count, ``attention_cycles`` (busy cycles of every block's attention
        core: the quantity pruning shrinks) and ``total_cycles`` (first token taken to result ready).

    Cost per sequence: the attention cores ≈ n_q·n_k·(⌈dh/lanes⌉ + 2) per head (heads in parallel), the
    linear layers n_q·(3d·⌈d/P⌉ + d·⌈d/P⌉ + f·⌈d/P⌉ + d·⌈f/P⌉) MAC cycles per block (each Linear adds about 9
    per row: the take, its 7-cycle pipeline drain, the output), pooling ≈ d·(12 + log2 n).
    """

    def __init__(self, spec: TransformerSpec):
        self.spec = spec
        super().__init__({"i_tokens": In(stream.Signature(token_row_layout(spec.d))), "drop": In(1),
                          "i_load": In(stream.Signature(load_layout())),
                          "o_result": Out(stream.Signature(result_layout(spec.classes, spec.max_len)))})

    def elaborate(self, platform):
        m = Module()
        s = self.spec
        d = s.d
        m.submodules.gate = gate = RowMaskGate(d)
        blocks = [EncoderBlock(s) for _ in range(s.layers)]
        for i, b in enumerate(blocks):
            m.submodules[f"block{i}"] = b
        m.submodules.pool = pool = Pool(d=d, max_len=s.max_len)
        m.submodules.classifier = classifier = Linear(fan_in=d, fan_out=s.classes, lanes=min(s.lanes, d),
                                                      mode=LinearMode.RAW)

        # One sequence at a time: after its last token is taken, the input waits for the result.
        in_flight, counting = Signal(), Signal()
        total = Signal(32)
        tok = self.i_tokens
        m.d.comb += [gate.drop.eq(self.drop), gate.i_tokens.payload.eq(tok.payload),
                     gate.i_tokens.valid.eq(tok.valid & ~in_flight), tok.ready.eq(gate.i_tokens.ready & ~in_flight)]
        taken = tok.valid & tok.ready
        with m.If(taken & tok.payload.last):
            m.d.sync += in_flight.eq(1)
        with m.If(taken & ~counting):
            m.d.sync += [counting.eq(1), total.eq(1)]
        with m.Elif(counting & ~classifier.o_rows.valid):
            m.d.sync += total.eq(total + 1)

        src = gate.o_rows
        for b in blocks:
            connect(m, src, b.i_rows)
            src = b.o_rows
        connect(m, src, pool.i_rows)
        connect(m, pool.o_rows, classifier.i_rows)

        chain = [*blocks, classifier]
        connect(m, wiring.flipped(self.i_load), chain[0].i_load)
        for a, b in zip(chain, chain[1:]):
            connect(m, a.o_load, b.i_load)
        m.d.comb += chain[-1].o_load.ready.eq(1)

        res, out = self.o_result, classifier.o_rows
        m.d.comb += [res.valid.eq(out.valid), out.ready.eq(res.ready), res.payload.logits.eq(out.payload.x),
                     res.payload.kept.eq(pool.kept), res.payload.total_cycles.eq(total),
                     res.payload.attention_cycles.eq(sum(b.attention_cycles for b in blocks))]
        with m.If(res.valid & res.ready):
            m.d.sync += [in_flight.eq(0), counting.eq(0)]
        return m
